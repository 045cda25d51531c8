/* fuzz_tls_server.c: the server-flight reader on arbitrary bytes.  Invariants: only the
 * documented results; a complete parse reads at most len bytes, and gives the same result on
 * an exactly-sized copy; subject and fingerprint are NUL-terminated. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_tls_server_hello h, h2;
	uint8_t *copy;
	int r = tls_server_parse(data, size, &h);

	assert(r == 0 || r == -EAGAIN || r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT);
	if (r != 0)
		return 0;
	assert(h.wire_bytes <= size);
	assert(memchr(h.subject, '\0', sizeof(h.subject)));
	assert(memchr(h.fingerprint, '\0', sizeof(h.fingerprint)));
	assert(memchr(h.alpn, '\0', sizeof(h.alpn)));
	copy = malloc(size ? size : 1);
	assert(copy);
	memcpy(copy, data, size);
	assert(tls_server_parse(copy, size, &h2) == 0);
	assert(memcmp(&h, &h2, sizeof(h)) == 0);
	free(copy);
	return 0;
}
