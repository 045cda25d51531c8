/* loader.h: the capture programs in the kernel: load, settings, rules, enrollment, pins.
 *
 * Owns the BPF skeleton (bpf/capture.bpf.c) and the links that attach it to cgroups.
 * Maps are pinned under <pin_dir>/maps, each enrolled cgroup's links under
 * <pin_dir>/links/<cgroup id>/<program>: capture outlives the agent, and a restarted agent
 * adopts the pinned links (swapping in its own programs) without re-enrolling.  Deleting a
 * cgroup's pins detaches it.  Returns negative errno; never logs. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mcpwarden/abi.h"

struct mw_loader;

#define MW_ENROLLED_MAX 256

/* Mount bpffs under pin_dir's parent when it is not mounted, load the programs, reuse
 * pinned maps when present. */
int loader_open(const char *pin_dir, struct mw_loader **ret);
struct mw_loader *loader_free(struct mw_loader *l);

int loader_settings_get(struct mw_loader *l, struct mw_settings *ret);
int loader_settings_set(struct mw_loader *l, const struct mw_settings *s);
/* Replace the rules: write them all, then publish the count. */
int loader_rules_set(struct mw_loader *l, const struct mw_capture_entry *rules, unsigned n);
/* Replace the inbound table (port -> backend port); bound bits survive for kept ports. */
int loader_inbound_set(struct mw_loader *l, const uint16_t *ports, const uint16_t *backends,
		       unsigned n);
int loader_inbound_get(struct mw_loader *l, uint16_t port, struct mw_inbound *ret);

/* getsockopt (SO_ORIGINAL_DST) on the agent's own cgroup; the link dies with the agent. */
int loader_attach_self(struct mw_loader *l, const char *cgroup_abs);

/* The optional bypass (bpf/splice.bpf.c): sk_msg on the shared sockhash, sockops on the
 * agent's cgroup.  Whether the gateway side joins is mw_settings.bypass. */
int loader_enable_bypass(struct mw_loader *l, const char *cgroup_abs);

/* Attach the gateway programs to a cgroup (an open directory fd) and pin the links.
 * -EEXIST if enrolled. */
int loader_enroll(struct mw_loader *l, int cgroup_fd, uint64_t id);
/* Unpin and detach. -ENOENT if not enrolled. */
int loader_unenroll(struct mw_loader *l, uint64_t id);
/* Take over the links a previous agent pinned, updating them to this agent's programs.
 * Pins of cgroups that are gone are removed; pins that cannot be adopted are left in
 * place (they keep capturing with the programs they hold). Returns the number adopted,
 * or minus the number that could not be. */
int loader_adopt_pinned(struct mw_loader *l);
/* Close this process's handles on the enrolled links without unpinning them (after
 * handing them to the privileged helper): a link stays attached while a pin or any fd
 * holds it, so only the helper's handles and the pins must count. */
void loader_forget_links(struct mw_loader *l);
/* The enrolled cgroup ids. */
unsigned loader_enrolled(struct mw_loader *l, uint64_t *ret_ids, unsigned max);

/* Mark one of the agent's listening sockets so capture treats the agent as alive. */
int loader_mark_listener(struct mw_loader *l, int fd, uint32_t generation);
/* Look up and remove the origin of a flow. */
int loader_origin_take(struct mw_loader *l, const struct mw_flow_key *key, struct mw_origin *ret);
/* Counters summed over CPUs. */
int loader_stats(struct mw_loader *l, uint64_t ret[MW_STAT_MAX]);

/* Remove every pin under pin_dir (maps and links): capture stops everywhere. */
int loader_remove_pins(const char *pin_dir);
