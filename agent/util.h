/* util.h: small helpers every module shares: cleanup attributes, diagnostics, numbers.
 * Pure: no I/O, no logging. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Take ownership of a pointer or fd out of a _cleanup_ variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* A diagnostic for the caller to report once: where (file:line:column), which key, what. */
struct mw_diag {
	char file[256];
	int line;
	int column;
	char key[256];
	char text[512];
};

/* Fill a diagnostic (any pointer may be NULL) and return err (a negative errno). */
int mw_diag_set(struct mw_diag *d, int err, const char *file, int line, int column,
		const char *key, const char *fmt, ...) _printf_(7, 8);

/* Format "file:line:column: key 'k': text" into buf. */
const char *mw_diag_format(const struct mw_diag *d, char *buf, size_t size);

/* Append n bytes of s to the NUL-terminated buf (length *len, capacity size), cutting what
 * does not fit. */
void mw_str_append(char *buf, size_t size, size_t *len, const char *s, size_t n);

/* "90s", "10m", "2h", "30d", "250ms", plain "15" (seconds) -> microseconds. */
int mw_parse_duration(const char *s, uint64_t *ret_usec);
/* "256MiB", "1G", "4096", "64k" -> bytes (binary multiples). */
int mw_parse_size(const char *s, uint64_t *ret_bytes);

/* Monotonic and wall clocks in microseconds. */
uint64_t mw_now_mono_usec(void);
uint64_t mw_now_wall_usec(void);
/* The time usec from now on clock, as pthread_cond_timedwait() wants it. */
void mw_timespec_in(clockid_t clock, uint64_t usec, struct timespec *ret);

/* One hex digit's value (either case), -1 for any other byte.  Inline: the masking scanner
 * calls it per byte of a \u escape. */
static inline int mw_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
