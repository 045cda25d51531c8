/* log.c: see log.h. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"
#define LOG_LINE_MAX 512

static bool use_journal;
static int max_level = LOG_INFO;

void log_setup(bool force_stderr, int level)
{
	struct stat st;

	use_journal = !force_stderr && stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
	max_level = level;
}

bool log_to_journal(void)
{
	return use_journal;
}

void log_fields_add(struct mw_log_fields *lf, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (lf->n >= MW_LOG_MAX_FIELDS)
		return;
	lf->f[lf->n].name = name;
	if (fmt[0] == '%' && fmt[1] == 's' && !fmt[2]) { /* the common case, without vsnprintf */
		const char *v;
		size_t n;

		va_start(ap, fmt);
		v = va_arg(ap, const char *);
		va_end(ap);
		v = v ? v : "(null)";
		n = strnlen(v, sizeof(lf->f[lf->n].value) - 1);
		memcpy(lf->f[lf->n].value, v, n);
		lf->f[lf->n].value[n] = 0;
		lf->n++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(lf->f[lf->n].value, sizeof(lf->f[lf->n].value), fmt, ap);
	va_end(ap);
	lf->n++;
}

/* A value as it appears on a stderr line: backslash, quote and control bytes escaped, so a
 * value chosen by a gateway (its comm, say) cannot forge a field or a line.  Returns
 * whether the value needs quotes. */
static bool escape_value(const char *in, char *out, size_t size)
{
	bool quote = !*in;
	size_t o = 0;

	for (; *in && o + 5 < size; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == '\\' || c == '"') {
			out[o++] = '\\';
			out[o++] = (char)c;
			quote = true;
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
			quote = true;
		} else {
			quote |= c == ' ';
			out[o++] = (char)c;
		}
	}
	out[o] = 0;
	return quote;
}

/* Append n bytes of s at *pos in buf (size), cut at size - 1. */
static void put(char *buf, size_t size, size_t *pos, const char *s, size_t n)
{
	if (*pos + 1 >= size)
		return;
	if (n > size - 1 - *pos)
		n = size - 1 - *pos;
	memcpy(buf + *pos, s, n);
	*pos += n;
}

static void put_str(char *buf, size_t size, size_t *pos, const char *s)
{
	put(buf, size, pos, s, strlen(s));
}

/* Decimal of a non-negative int. */
static void put_uint(char *buf, size_t size, size_t *pos, unsigned v)
{
	char d[16];
	size_t i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(buf, size, pos, d + i, sizeof(d) - i);
}

static pid_t cached_pid;

static void pid_forget(void)
{
	cached_pid = 0;
}

static pid_t log_pid(void)
{
	static bool registered;

	if (!registered) {
		registered = true;
		pthread_atfork(NULL, NULL, pid_forget); /* a child logs with its own pid */
	}
	if (!cached_pid)
		cached_pid = getpid();
	return cached_pid;
}

/* One line on stderr, written at once: message, then FIELD=value pairs (values escaped,
 * quoted if needed); fields with empty values are left out. */
static void emit_stderr(int prio, const char *message_id, const struct mw_log_fields *lf,
			const char *msg)
{
	char line[4096];
	char m[2 * LOG_LINE_MAX];
	size_t n = 0;

	escape_value(msg, m, sizeof(m));
	put_str(line, sizeof(line), &n, "mcpwarden[");
	put_uint(line, sizeof(line), &n, (unsigned)log_pid());
	put_str(line, sizeof(line), &n, "]: <");
	put_uint(line, sizeof(line), &n, (unsigned)prio);
	put_str(line, sizeof(line), &n, "> ");
	put_str(line, sizeof(line), &n, m);
	if (message_id) {
		put_str(line, sizeof(line), &n, " MESSAGE_ID=");
		put_str(line, sizeof(line), &n, message_id);
	}
	for (size_t i = 0; lf && i < lf->n; i++) {
		char v[2 * sizeof(lf->f[i].value)];
		bool quote;

		if (!lf->f[i].value[0])
			continue;
		quote = escape_value(lf->f[i].value, v, sizeof(v));
		put_str(line, sizeof(line), &n, " ");
		put_str(line, sizeof(line), &n, lf->f[i].name);
		put_str(line, sizeof(line), &n, quote ? "=\"" : "=");
		put_str(line, sizeof(line), &n, v);
		if (quote)
			put_str(line, sizeof(line), &n, "\"");
	}
	line[n++] = '\n'; /* put() left room for it */
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* "NAME=value" into buf (LOG_LINE_MAX), cut at LOG_LINE_MAX - 1 bytes; its length. */
static size_t journal_field(char *buf, const char *name, const char *value)
{
	size_t n = 0;

	put_str(buf, LOG_LINE_MAX, &n, name);
	put(buf, LOG_LINE_MAX, &n, "=", 1);
	put_str(buf, LOG_LINE_MAX, &n, value);
	return n;
}

static int emit_journal(int prio, const char *message_id, const struct mw_log_fields *lf,
			const char *msg)
{
	char bufs[MW_LOG_MAX_FIELDS + 2][LOG_LINE_MAX];
	char pbuf[16] = "PRIORITY=";
	struct iovec iov[MW_LOG_MAX_FIELDS + 4];
	size_t n = 0, b = 0, pl = 9;

	iov[n].iov_base = bufs[b];
	iov[n++].iov_len = journal_field(bufs[b++], "MESSAGE", msg);
	put_uint(pbuf, sizeof(pbuf), &pl, (unsigned)prio);
	iov[n].iov_base = pbuf;
	iov[n++].iov_len = pl;
	iov[n].iov_base = (void *)"SYSLOG_IDENTIFIER=mcpwarden";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=mcpwarden");
	if (message_id) {
		iov[n].iov_base = bufs[b];
		iov[n++].iov_len = journal_field(bufs[b++], "MESSAGE_ID", message_id);
	}
	for (size_t i = 0; lf && i < lf->n; i++) {
		iov[n].iov_base = bufs[b];
		iov[n++].iov_len = journal_field(bufs[b++], lf->f[i].name, lf->f[i].value);
	}
	return sd_journal_sendv(iov, (int)n);
}

static void log_vemit(int prio, const char *message_id, const struct mw_log_fields *lf,
		      const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];

	if (prio > max_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (use_journal && emit_journal(prio, message_id, lf, msg) >= 0)
		return;
	emit_stderr(prio, message_id, lf, msg);
}

void log_event(int prio, const char *message_id, const struct mw_log_fields *lf, const char *fmt,
	       ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(prio, message_id, lf, fmt, ap);
	va_end(ap);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(prio, NULL, NULL, fmt, ap);
	va_end(ap);
}

int log_errno(int prio, int err, const char *fmt, ...)
{
	char msg[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(prio, "%s: %s", msg, strerror(err < 0 ? -err : err));
	return err;
}
