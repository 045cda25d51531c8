/* bench_http.h: the one HTTP/1.1 header the benchmark's client (mcpload) and stub (mcpstub)
 * read, Content-Length.  Header only, static inline: each .c in tests/bench is a program of
 * its own. */
#ifndef MW_BENCH_HTTP_H
#define MW_BENCH_HTTP_H

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

/* The first Content-Length of a head (head_len bytes of CRLF-ended lines): 0 with *ret_len
 * set, -ENOENT when there is none, -EBADMSG when its value does not start with a digit or
 * passes max. */
static inline int bench_content_length(const char *head, size_t head_len, size_t max,
				       size_t *ret_len)
{
	const char *p = head, *end = head + head_len;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2), *q;
		size_t v = 0;

		if (!eol)
			break;
		if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			for (q = p + 15; q < eol && *q == ' '; q++)
				;
			if (q == eol || !isdigit((unsigned char)*q))
				return -EBADMSG;
			for (; q < eol && isdigit((unsigned char)*q); q++) {
				v = v * 10 + (size_t)(*q - '0');
				if (v > max)
					return -EBADMSG;
			}
			*ret_len = v;
			return 0;
		}
		p = eol + 2;
	}
	return -ENOENT;
}

#endif
