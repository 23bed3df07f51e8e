/*
 * The metrics endpoint's HTTP/1.1 server: one thread, one connection at a
 * time (Prometheus scrapes every few seconds), every response closed after
 * it is sent. A scraper that does not send its request within a second is
 * dropped, so nobody can hold the thread and delay the stop.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define POLL_MS 200
#define REQUEST_TIMEOUT_MS 1000

struct metrics_server {
	int fd;
	char addr[300];             /* as given, for messages */
	struct run *run;
	double started_at;
	pthread_t thread;
	bool serving;
	atomic_bool stop;
};

/* "host:port", "[v6]:port" or ":port" into host (empty: any) and port. */
static bool
split_addr(const char *addr, char *host, size_t hsize, char *port, size_t psize)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hlen;

	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return false;
	hlen = (size_t) (colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen >= hsize || strlen(colon + 1) >= psize)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	snprintf(port, psize, "%s", colon + 1);
	return true;
}

static int
bind_first(const struct addrinfo *ai, struct pgs_error *err, const char *addr)
{
	int fd = -1, one = 1, saved = 0;

	for (; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
			return fd;
		saved = errno;
		close(fd);
		fd = -1;
	}
	errno = saved;
	pgs_fail(err, "could not listen on %s for --metrics-listen: %m", addr);
	pgs_error_hint(err, "choose a free port, or an address of this machine");
	return -1;
}

struct metrics_server *
metrics_listen(const char *addr, struct pgs_error *err)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
							 .ai_flags = AI_PASSIVE};
	struct addrinfo *ai = NULL;
	struct metrics_server *ms;
	char host[256], port[16];
	int rc, fd;

	if (!split_addr(addr, host, sizeof(host), port, sizeof(port))) {
		pgs_fail(err, "invalid --metrics-listen \"%s\": expected ADDR:PORT", addr);
		pgs_error_hint(err, "for example --metrics-listen 127.0.0.1:9187");
		return NULL;
	}
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		pgs_fail(err, "invalid --metrics-listen \"%s\": %s", addr, gai_strerror(rc));
		return NULL;
	}
	fd = bind_first(ai, err, addr);
	freeaddrinfo(ai);
	if (fd < 0)
		return NULL;
	ms = xcalloc(1, sizeof(*ms));
	ms->fd = fd;
	snprintf(ms->addr, sizeof(ms->addr), "%s", addr);
	return ms;
}

/* Reads until the end of the request's head; false on timeout, error or a head too large. */
static bool
read_request(int fd, char *req, size_t size)
{
	size_t len = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};

	while (len + 1 < size) {
		ssize_t n;

		if (poll(&p, 1, REQUEST_TIMEOUT_MS) <= 0)
			return false;
		n = recv(fd, req + len, size - 1 - len, 0);
		if (n <= 0)
			return false;
		len += (size_t) n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			return true;
	}
	return false;
}

static void
send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t) n;
	}
}

static void
respond(int fd, const char *status, const char *type, const struct buf *body)
{
	struct buf head;

	buf_init(&head);
	buf_printf(&head, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			   "Connection: close\r\n\r\n", status, type, body->len);
	send_all(fd, head.data, head.len);
	send_all(fd, body->data ? body->data : "", body->len);
	buf_free(&head);
}

static void
serve_one(struct metrics_server *ms, int fd)
{
	char req[4096];
	struct buf body;
	struct metrics_snapshot snap;

	buf_init(&body);
	if (!read_request(fd, req, sizeof(req))) {
		buf_free(&body);
		return;
	}
	if (strncmp(req, "GET /metrics ", 13) == 0 || strncmp(req, "GET / ", 6) == 0) {
		metrics_collect(ms->run, &snap);
		snap.started_at = ms->started_at;
		metrics_text(&snap, &body);
		respond(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", &body);
	} else if (strncmp(req, "GET ", 4) == 0) {
		buf_puts(&body, "not found: the metrics are at /metrics\n");
		respond(fd, "404 Not Found", "text/plain; charset=utf-8", &body);
	} else {
		buf_puts(&body, "only GET is served\n");
		respond(fd, "405 Method Not Allowed", "text/plain; charset=utf-8", &body);
	}
	buf_free(&body);
}

static void *
serve_main(void *arg)
{
	struct metrics_server *ms = arg;
	struct pollfd p = {.fd = ms->fd, .events = POLLIN};

	while (!atomic_load(&ms->stop)) {
		int fd;

		if (poll(&p, 1, POLL_MS) <= 0)
			continue;
		fd = accept4(ms->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_one(ms, fd);
		close(fd);
	}
	return NULL;
}

bool
metrics_serve(struct metrics_server *ms, struct run *run, struct pgs_error *err)
{
	int rc;

	ms->run = run;
	ms->started_at = clock_wall_s();
	atomic_store(&ms->stop, false);
	rc = pthread_create(&ms->thread, NULL, serve_main, ms);
	if (rc != 0) {
		errno = rc;
		return pgs_fail(err, "could not start the metrics thread for %s: %m", ms->addr);
	}
	ms->serving = true;
	return true;
}

void
metrics_stop(struct metrics_server *ms)
{
	if (!ms || !ms->serving)
		return;
	atomic_store(&ms->stop, true);
	pthread_join(ms->thread, NULL);
	ms->serving = false;
}

void
metrics_close(struct metrics_server *ms)
{
	if (!ms)
		return;
	metrics_stop(ms);
	close(ms->fd);
	free(ms);
}
