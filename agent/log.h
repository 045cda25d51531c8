/* log.h: the agent's one voice, to journald with structured fields, or to stderr.
 *
 * Every event kind has a MESSAGE_ID (below; explained in agent/mcpwarden.catalog) and the
 * DESIGN.md fields (MCPW_SESSION, MCPW_FLOW, MCPW_SUB, ...).  Without a journald socket,
 * or when a send fails, the same fields go to stderr as one line.  Callers log once, at
 * the dispatch layer; library code returns errors instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include "util.h"

#define MW_MID_AGENT_START "af61818bdfc24a909e6df626514fbc5f"
#define MW_MID_AGENT_STOP "36152c583a424f73b289ae869a81abc6"
#define MW_MID_CONFIG "ea45d643f9f7489b807eff34936c6d39"
#define MW_MID_ENROLL "addaa5dca36c4d3880c6554a9e005a69"
#define MW_MID_UNENROLL "9d6ed896925b4df785b256f6f77752e3"
#define MW_MID_FLOW_OPEN "7f79e34d0d8e46ac9e3a1ead548a0516"
#define MW_MID_FLOW_CLOSE "773ab805631c4b0aae0f054612d698cf"
#define MW_MID_FLOW_REFUSED "87e875a79ff04ed9bcfaa51b30215956"
#define MW_MID_ALERT "3567ca63f05d41d9a3d9ff8ba75b26eb"
#define MW_MID_DECISION "e1a3a3adf17a42b18446d08360cb81e3"
#define MW_MID_MASKED "5b0c2e8f7d3a4c1e9a6f0b2d4e8c7a13"
#define MW_MID_APPROVAL_NEW "bed530a4761440c2a7379938d3e1d813"
#define MW_MID_APPROVAL_APPROVED "661c3018476f4e178cd00f063526361d"
#define MW_MID_APPROVAL_DENIED "2890562ae2b54268b13ab522b78cab22"
#define MW_MID_APPROVAL_EXPIRED "cad32ed05d51462eac67432b08dcfc01"
#define MW_MID_APPROVAL_GRANT "97b7a9b5fdfb49b49e02498730e6c709"
#define MW_MID_SESSION_OPEN "22ebd84bad0e4201af5d58ab7e371e89"
#define MW_MID_SESSION_CLOSE "3a0ff77def6645a9a37d8da9a81c4ff8"
#define MW_MID_JOURNAL_FAILED "a9c84884d07744de90c923f178de78e6"
#define MW_MID_JOURNAL_GAP "fbde2fb431084c93b97023314710a735"
#define MW_MID_JOURNAL_RECOVERED "6f3782a340934a93b656d7f29ca447da"
#define MW_MID_CREDENTIAL "c5e0b7d4a3f24f1e8b6d2a9c7e1f4b30"

#define MW_LOG_MAX_FIELDS 32

struct mw_log_field {
	const char *name; /* e.g. "MCPW_FLOW" */
	char value[256];
};

/* A small builder so call sites read as a list of fields. */
struct mw_log_fields {
	struct mw_log_field f[MW_LOG_MAX_FIELDS];
	size_t n;
};

void log_fields_add(struct mw_log_fields *lf, const char *name, const char *fmt, ...)
	_printf_(3, 4);

/* Choose the sink: journald when its socket exists (unless force_stderr), else stderr.
 * level: messages above it are dropped (LOG_DEBUG shows everything). */
void log_setup(bool force_stderr, int level);
bool log_to_journal(void);

/* A structured event: message_id may be NULL for plain messages. */
void log_event(int prio, const char *message_id, const struct mw_log_fields *lf, const char *fmt,
	       ...) _printf_(4, 5);

void log_msg(int prio, const char *fmt, ...) _printf_(2, 3);

/* Log with strerror(-err) appended and return err, for `return log_error_errno(r, ...)`. */
int log_errno(int prio, int err, const char *fmt, ...) _printf_(3, 4);
#define log_error_errno(err, ...) log_errno(LOG_ERR, (err), __VA_ARGS__)
#define log_warning_errno(err, ...) log_errno(LOG_WARNING, (err), __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
