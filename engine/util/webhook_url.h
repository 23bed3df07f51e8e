/*
 * Webhook URLs: what the plan checker accepts (http or https with a host,
 * parsed by curl as the notifier will) and what logs may show of one
 * (scheme, host and port: paths and queries hold tokens).
 */
#ifndef PGSHIFT_UTIL_WEBHOOK_URL_H
#define PGSHIFT_UTIL_WEBHOOK_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether url is an http(s) URL with a host; *why says what is wrong when not. */
bool webhook_url_check(const char *url, const char **why);

/* "scheme://host[:port]" of url into out. */
void webhook_url_origin(const char *url, char *out, size_t size);

#endif
