/* util.c: see util.h. */
#include "util.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

int mw_diag_set(struct mw_diag *d, int err, const char *file, int line, int column,
		const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return err;
	memset(d, 0, sizeof(*d));
	if (file)
		snprintf(d->file, sizeof(d->file), "%s", file);
	d->line = line;
	d->column = column;
	if (key)
		snprintf(d->key, sizeof(d->key), "%s", key);
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
	return err;
}

const char *mw_diag_format(const struct mw_diag *d, char *buf, size_t size)
{
	int n = 0;

	if (d->file[0])
		n = snprintf(buf, size, "%s:%d:%d: ", d->file, d->line, d->column);
	if (n < 0 || (size_t)n >= size)
		return buf;
	if (d->key[0])
		snprintf(buf + n, size - n, "key '%s': %s", d->key, d->text);
	else
		snprintf(buf + n, size - n, "%s", d->text);
	return buf;
}

void mw_str_append(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + 1 >= size)
		return;
	if (n > size - 1 - *len)
		n = size - 1 - *len;
	memcpy(buf + *len, s, n);
	*len += n;
	buf[*len] = '\0';
}

static int parse_number_suffix(const char *s, uint64_t *ret_num, const char **ret_suffix)
{
	uint64_t v = 0;
	const char *p = s;

	if (!s || !isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		uint64_t d = (uint64_t)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	while (*p == ' ')
		p++;
	*ret_num = v;
	*ret_suffix = p;
	return 0;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* A number and one of n units' suffixes: the number times the unit's multiplier. */
static int parse_with_units(const char *s, const struct unit *units, size_t n, uint64_t *ret)
{
	const char *suffix;
	uint64_t v;
	int r;

	r = parse_number_suffix(s, &v, &suffix);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(suffix, units[i].suffix) != 0)
			continue;
		if (units[i].mult && v > UINT64_MAX / units[i].mult)
			return -ERANGE;
		*ret = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

int mw_parse_duration(const char *s, uint64_t *ret_usec)
{
	static const struct unit units[] = {
		{ "", 1000000ULL },	   { "us", 1ULL },	    { "ms", 1000ULL },
		{ "s", 1000000ULL },	   { "sec", 1000000ULL },   { "m", 60000000ULL },
		{ "min", 60000000ULL },	   { "h", 3600000000ULL },  { "d", 86400000000ULL },
		{ "w", 604800000000ULL },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret_usec);
}

int mw_parse_size(const char *s, uint64_t *ret_bytes)
{
	static const struct unit units[] = {
		{ "", 1ULL },		{ "B", 1ULL },		 { "k", 1ULL << 10 },
		{ "K", 1ULL << 10 },	{ "KiB", 1ULL << 10 },	 { "M", 1ULL << 20 },
		{ "MiB", 1ULL << 20 },	{ "G", 1ULL << 30 },	 { "GiB", 1ULL << 30 },
		{ "T", 1ULL << 40 },	{ "TiB", 1ULL << 40 },
	};

	return parse_with_units(s, units, ARRAY_SIZE(units), ret_bytes);
}

static uint64_t clock_usec(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000ULL;
}

uint64_t mw_now_mono_usec(void)
{
	return clock_usec(CLOCK_MONOTONIC);
}

uint64_t mw_now_wall_usec(void)
{
	return clock_usec(CLOCK_REALTIME);
}

void mw_timespec_in(clockid_t clock, uint64_t usec, struct timespec *ret)
{
	clock_gettime(clock, ret);
	ret->tv_sec += (time_t)(usec / 1000000ULL);
	ret->tv_nsec += (long)(usec % 1000000ULL) * 1000L;
	if (ret->tv_nsec >= 1000000000L) {
		ret->tv_sec++;
		ret->tv_nsec -= 1000000000L;
	}
}
