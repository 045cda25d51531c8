/* mcpwarden_replay.h: mcpwarden-replay's shared pieces (the archive of segments, record
 * iteration, printing helpers) for mcpwarden_replay.c (commands),
 * mcpwarden_replay_show.c (the timeline) and mcpwarden_replay_verify.c (verify). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal_codec.h"

#define REPLAY_EXIT_OK 0
#define REPLAY_EXIT_FAIL 1
#define REPLAY_EXIT_USAGE 2

struct replay_seg {
	char path[4096];
	char name[256];
	uint8_t *data; /* mmap'd */
	size_t size;
};

struct replay_archive {
	char dir[4096];
	struct replay_seg *segs;
	size_t n;
};

/* Map every segment of dir (sorted).  -errno with a message on stderr. */
int replay_archive_open(const char *dir, struct replay_archive *ret);
/* Map the named files (verify PATH...). */
int replay_archive_files(char **paths, int n, struct replay_archive *ret);
void replay_archive_close(struct replay_archive *a);

/* Iterate records from segment i at offset (0: its first frame) onwards, across the
 * following segments; cb returns 0 to go on, 1 to stop, <0 on error.  A damaged segment
 * is reported on stderr and iteration goes on with the next. */
typedef int (*replay_rec_fn)(void *ud, const struct replay_seg *seg, size_t frame_off,
			     const struct mw_jrec *r);
int replay_foreach(struct replay_archive *a, size_t seg, size_t offset, replay_rec_fn cb,
		   void *ud);

/* One record as a JSON object (export, --json): meta parsed, payload as text or base64. */
json_t *replay_record_json(const struct replay_seg *seg, size_t frame_off,
			   const struct mw_jrec *r);
void replay_time(uint64_t wall_usec, char *buf, size_t size);

/* The timeline (show, play): one record as text.  flows: several flows are shown together
 * (an MCP session), each line names its flow.  Raw records of HTTP flows are read with the
 * agent's HTTP/1.1 and SSE parsers, one pair of streams per flow (struct raw_stream). */
struct raw_stream;
struct replay_timeline {
	uint64_t first_wall;
	bool flows;
	struct raw_stream *streams;
	size_t n_streams;
};
void replay_print_record(struct replay_timeline *t, const struct mw_jrec *r);
void replay_timeline_done(struct replay_timeline *t);

int replay_cmd_verify(struct replay_archive *a, const char *key_path, bool json);
