/* Environment expansion of plan strings; see expand.h. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "plan/expand.h"
#include "util/buf.h"
#include "util/xalloc.h"

static bool
valid_var_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char) s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!(isalnum((unsigned char) s[i]) || s[i] == '_'))
			return false;
	return true;
}

/* Expands one ${...} whose body is body[0..len); appends to out. */
static bool
expand_ref(const char *body, size_t len, struct buf *out, char **err)
{
	const char *sep = NULL;
	size_t name_len = len;
	char *name;
	const char *value;

	for (size_t i = 0; i + 1 < len; i++) {
		if (body[i] == ':' && body[i + 1] == '-') {
			sep = body + i;
			name_len = i;
			break;
		}
	}
	if (!valid_var_name(body, name_len)) {
		/*
		 * Quote only the name's characters and the first one that breaks it:
		 * the rest may be a password, as in the shell's ${PW-secret}.
		 */
		size_t shown = strspn(body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

		if (shown < len)
			*err = xasprintf("invalid variable reference \"${%.*s...}\": names are letters, "
							 "digits and _; a default is written ${NAME:-default}",
							 (int) (shown + 1), body);
		else
			*err = xasprintf("invalid variable reference \"${%.*s}\": names are letters, digits "
							 "and _, not starting with a digit", (int) len, body);
		return false;
	}
	name = xstrndup(body, name_len);
	value = getenv(name);
	if (value && (*value || !sep)) {
		buf_puts(out, value);
	} else if (sep) {
		buf_append(out, sep + 2, len - name_len - 2);
	} else {
		*err = xasprintf("environment variable \"%s\" is not set; export it or write ${%s:-default}",
						 name, name);
		free(name);
		return false;
	}
	free(name);
	return true;
}

bool
expand_env(const char *in, char **out, char **err)
{
	struct buf b;

	*out = NULL;
	*err = NULL;
	buf_init(&b);
	for (const char *p = in; *p; p++) {
		const char *close;

		if (p[0] == '$' && p[1] == '$') {
			buf_putc(&b, '$');
			p++;
			continue;
		}
		if (p[0] != '$' || p[1] != '{') {
			buf_putc(&b, *p);
			continue;
		}
		close = strchr(p + 2, '}');
		if (!close) {
			*err = xstrdup("unterminated \"${\": close the reference with \"}\"");
			buf_free(&b);
			return false;
		}
		if (!expand_ref(p + 2, (size_t) (close - p - 2), &b, err)) {
			buf_free(&b);
			return false;
		}
		p = close;
	}
	*out = buf_steal(&b);
	return true;
}
