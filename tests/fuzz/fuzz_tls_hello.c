/* fuzz_tls_hello.c: the ClientHello reader on arbitrary bytes, whole and at every prefix.
 * Invariants: a complete parse reports wire_bytes <= len and the same result on the exact
 * wire_bytes prefix; a shorter prefix of a complete hello says -EAGAIN; the SNI, when there
 * is one, is a valid DNS name; each prefix is parsed from an exactly-sized heap copy so ASan
 * sees a read past len. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tls_hello.h"

#define PREFIX_STEP_MAX 64 /* prefixes checked per input, spread over its length */

static int parse_copy(const uint8_t *data, size_t len, struct mw_tls_hello *h)
{
	uint8_t *copy = malloc(len ? len : 1);
	int r;

	assert(copy);
	if (len)
		memcpy(copy, data, len);
	r = tls_hello_parse(copy, len, h);
	free(copy);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_tls_hello h, h2;
	size_t step;
	int r;

	r = parse_copy(data, size, &h);
	assert(r == 0 || r == -EAGAIN || r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT);
	if (r != 0)
		return 0;
	assert(h.wire_bytes <= size);
	assert(!h.has_sni || tls_dns_name_valid(h.sni));
	assert(h.n_alpn <= MW_TLS_ALPN_MAX && h.n_versions <= MW_TLS_VERSIONS_MAX);
	assert(parse_copy(data, h.wire_bytes, &h2) == 0);
	assert(memcmp(&h, &h2, sizeof(h)) == 0);
	step = h.wire_bytes / PREFIX_STEP_MAX + 1;
	for (size_t i = 0; i < h.wire_bytes; i += step)
		assert(parse_copy(data, i, &h2) == -EAGAIN);
	return 0;
}
