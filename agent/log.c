/* log.c: see log.h. */
#include "log.h"

#include <stdio.h>
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

/* One line on stderr: message, then FIELD=value pairs (values escaped, quoted if needed). */
static void emit_stderr(int prio, const char *message_id, const struct mw_log_fields *lf,
			const char *msg)
{
	char line[4096];
	size_t n;

	char m[2 * LOG_LINE_MAX];

	escape_value(msg, m, sizeof(m));
	n = (size_t)snprintf(line, sizeof(line), "mcpwarden[%d]: <%d> %s", (int)getpid(), prio, m);
	if (message_id && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " MESSAGE_ID=%s", message_id);
	for (size_t i = 0; lf && i < lf->n && n < sizeof(line); i++) {
		char v[2 * sizeof(lf->f[i].value)];
		bool quote = escape_value(lf->f[i].value, v, sizeof(v));

		n += (size_t)snprintf(line + n, sizeof(line) - n, quote ? " %s=\"%s\"" : " %s=%s",
				      lf->f[i].name, v);
	}
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n] = 0;
	fprintf(stderr, "%s\n", line);
}

static int emit_journal(int prio, const char *message_id, const struct mw_log_fields *lf,
			const char *msg)
{
	char bufs[MW_LOG_MAX_FIELDS + 4][LOG_LINE_MAX];
	struct iovec iov[MW_LOG_MAX_FIELDS + 4];
	size_t n = 0;

	snprintf(bufs[n], LOG_LINE_MAX, "MESSAGE=%s", msg);
	n++;
	snprintf(bufs[n], LOG_LINE_MAX, "PRIORITY=%d", prio);
	n++;
	snprintf(bufs[n], LOG_LINE_MAX, "SYSLOG_IDENTIFIER=mcpwarden");
	n++;
	if (message_id) {
		snprintf(bufs[n], LOG_LINE_MAX, "MESSAGE_ID=%s", message_id);
		n++;
	}
	for (size_t i = 0; lf && i < lf->n; i++, n++)
		snprintf(bufs[n], LOG_LINE_MAX, "%s=%s", lf->f[i].name, lf->f[i].value);
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = strlen(bufs[i]);
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
