/* journal_mask.c: the journal's own masking profile ("journal.mask", mask.h) applied to
 * every payload before it is encoded, whatever the client-facing rule masked.
 *
 * - A JSON-RPC payload (a body or an SSE event's data from the checkpoint's recorder) is
 *   parsed and masked with mask_message(), then re-serialised compactly when it changed.
 * - Anything else (raw bytes of flows the checkpoint does not read: HTTP heads and bodies,
 *   the agent's own text replies) is masked as text with mask_text().  Up to 3 bytes of a
 *   UTF-8 character cut by the relay's read at either end are kept as they are (they cannot
 *   hold a value); a payload that is otherwise not valid UTF-8 (compressed bodies, TLS the
 *   agent does not terminate, binary) is not recorded: its place holds
 *   "[unmasked binary payload: N bytes, sha256 HEX]", so the archive can still say how much
 *   went and match a copy, never the bytes.
 * - When masking fails (too large, too deep, a custom pattern over its limit), the payload is
 *   replaced the same way ("[payload not masked (reason): N bytes, sha256 HEX]").
 * Pure: no logging. */
#include <openssl/evp.h>
#include <stdio.h>

#include "journal_internal.h"
#include "mask.h"

/* Length of a valid UTF-8 sequence at p (n bytes left), 0 when invalid or cut short. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* The valid UTF-8 middle of p: [*ret_from, *ret_to), allowing a character cut at either
 * end (at most 3 bytes each).  False when anything else is invalid. */
static bool utf8_middle(const uint8_t *p, size_t n, size_t *ret_from, size_t *ret_to)
{
	size_t i = 0;

	while (i < n && i < 3 && (p[i] & 0xc0) == 0x80)
		i++;
	*ret_from = i;
	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);

		if (!l) {
			/* a cut last character: a lead byte whose continuation bytes are all
			 * there so far */
			size_t want = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : p[i] >= 0xc2 ? 2 : 0;
			bool cut = want && n - i < want;

			for (size_t k = i + 1; cut && k < n; k++)
				cut = (p[k] & 0xc0) == 0x80;
			if (!cut)
				return false;
			break;
		}
		i += l;
	}
	*ret_to = i;
	return true;
}

/* "[<what>: N bytes, sha256 HEX]" in place of the payload. */
static int placeholder(const char *what, const uint8_t *p, size_t n, uint8_t **ret,
		       size_t *ret_len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	char hex[65];
	char *s;
	int len;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1)
		return -ENOMEM;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	len = asprintf(&s, "[%s: %zu bytes, sha256 %s]", what, n, hex);
	if (len < 0)
		return -ENOMEM;
	*ret = (uint8_t *)s;
	*ret_len = (size_t)len;
	return 1;
}

static int mask_as_text(const struct mw_mask_profile *prof, const uint8_t *p, size_t n,
			uint8_t **ret, size_t *ret_len, struct mw_mask_summary *sum)
{
	_cleanup_free_ char *mid = NULL;
	size_t from, to, mlen = 0;
	uint8_t *out;
	int r;

	if (!utf8_middle(p, n, &from, &to))
		return placeholder("unmasked binary payload", p, n, ret, ret_len);
	r = mask_text(prof, (const char *)p + from, to - from, &mid, &mlen, sum);
	if (r < 0)
		return placeholder("payload not masked (masking failed)", p, n, ret, ret_len);
	if (r == 0)
		return 0;
	out = malloc(from + mlen + (n - to));
	if (!out)
		return -ENOMEM;
	memcpy(out, p, from);
	memcpy(out + from, mid, mlen);
	memcpy(out + from + mlen, p + to, n - to);
	*ret = out;
	*ret_len = from + mlen + (n - to);
	return 1;
}

int journal_mask_payload(const struct mw_mask_profile *prof, bool raw, const uint8_t *p, size_t n,
			 uint8_t **ret, size_t *ret_len, struct mw_mask_summary *sum)
{
	_cleanup_(json_decrefp) json_t *root = NULL;
	char *out;
	size_t len;
	int r;

	*ret = NULL;
	if (!n)
		return 0;
	if (!raw && (p[0] == '{' || p[0] == '['))
		root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return mask_as_text(prof, p, n, ret, ret_len, sum);
	r = mask_message(prof, root, sum);
	if (r < 0)
		return placeholder("payload not masked (masking failed)", p, n, ret, ret_len);
	if (r == 0)
		return 0;
	out = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!out)
		return -ENOMEM;
	len = strlen(out);
	*ret = (uint8_t *)out;
	*ret_len = len;
	return 1;
}
