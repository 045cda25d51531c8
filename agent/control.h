/* control.h: the control socket (DESIGN.md: runtime_dir/control.sock).
 *
 * Protocol: a client connects to the Unix stream socket, writes one JSON object terminated
 * by '\n' ({"command": "status", ...}) and reads one JSON object terminated by '\n'
 * ({"ok": true, ...} or {"ok": false, "error": "text", "usage": true|false}).  Then the
 * server closes.  Requests are at most MW_CONTROL_MAX_REQUEST bytes and must arrive
 * within MW_CONTROL_TIMEOUT_USEC; a peer is admitted by SO_PEERCRED: uid 0, or a member
 * of the configured group.  The socket file is 0600 (0660 with a group).
 *
 * Owns the listening socket and its connections; the daemon supplies one handler that
 * turns a request into a reply.  Never logs: problems with a peer are answered to that
 * peer and counted. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#define MW_CONTROL_MAX_REQUEST (64 * 1024)
#define MW_CONTROL_MAX_CLIENTS 32
#define MW_CONTROL_TIMEOUT_USEC (5 * 1000000ULL)

struct mw_control;

/* Handle one request. Return 0 with *ret_reply set to a new object (the control module
 * adds "ok": true unless the handler set "ok" itself), or a negative errno with errbuf
 * filled with a message for the peer; -EINVAL means a usage error ("usage": true). */
typedef int (*mw_control_handler_t)(void *userdata, const struct ucred *peer, json_t *request,
				    json_t **ret_reply, char *errbuf, size_t errlen);

/* Create the socket at path (replacing a stale one), owned by group (gid_t)-1 for root
 * only. */
int control_new(sd_event *event, const char *path, gid_t group, mw_control_handler_t handler,
		void *userdata, struct mw_control **ret);
struct mw_control *control_free(struct mw_control *c);
/* Change the per-connection timeout (tests use a short one). */
int control_set_timeout(struct mw_control *c, uint64_t timeout_usec);

/* Client side, for the tools: send request, wait for the reply (timeout_usec). */
int control_call(const char *path, json_t *request, uint64_t timeout_usec, json_t **ret_reply,
		 char *errbuf, size_t errlen);
