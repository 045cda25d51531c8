/* tls_hello.c: see tls_hello.h.  Two passes: the handshake message is first gathered out of
 * its records into a bounded stack buffer, then read field by field with a cursor that never
 * passes the end of the vector it is in. */
#include "tls_hello.h"

#include <errno.h>
#include <string.h>

#define TLS_CT_HANDSHAKE 22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_HEADER 4

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SESSION_TICKET 35
#define EXT_PRE_SHARED_KEY 41
#define EXT_SUPPORTED_VERSIONS 43
#define EXT_SEEN_MAX 64 /* distinct extension types remembered for the duplicate check */

struct cur {
	const uint8_t *p;
	size_t left;
};

static bool cur_u8(struct cur *c, uint8_t *v)
{
	if (c->left < 1)
		return false;
	*v = c->p[0];
	c->p++;
	c->left--;
	return true;
}

static bool cur_u16(struct cur *c, uint16_t *v)
{
	if (c->left < 2)
		return false;
	*v = (uint16_t)(c->p[0] << 8 | c->p[1]);
	c->p += 2;
	c->left -= 2;
	return true;
}

static bool cur_bytes(struct cur *c, size_t n, const uint8_t **ret)
{
	if (c->left < n)
		return false;
	if (ret)
		*ret = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

/* A sub-cursor over a vector with an n-byte length prefix (1 or 2). */
static bool cur_vec(struct cur *c, unsigned prefix, struct cur *ret)
{
	uint16_t n16 = 0;
	uint8_t n8 = 0;
	size_t n;

	if (prefix == 1) {
		if (!cur_u8(c, &n8))
			return false;
		n = n8;
	} else {
		if (!cur_u16(c, &n16))
			return false;
		n = n16;
	}
	ret->p = c->p;
	ret->left = n;
	return cur_bytes(c, n, NULL);
}

bool tls_dns_name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > MW_TLS_SNI_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char ch = s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (ch == '-' && label == 0)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
		label++;
	}
	return true;
}

/* Gather the handshake message from the records at the start of buf into msg. */
static int gather(const uint8_t *buf, size_t len, uint8_t *msg, size_t *ret_len,
		  size_t *ret_wire)
{
	size_t pos = 0, have = 0, want = 0;
	bool first = true;

	for (;;) {
		size_t rec, take;
		uint8_t major, minor;

		if (len - pos < MW_TLS_RECORD_HEADER) {
			/* judge what is there of the first header already */
			if (pos < len && buf[pos] != TLS_CT_HANDSHAKE)
				return first ? -EPROTONOSUPPORT : -EBADMSG;
			if (len - pos >= 2 && buf[pos + 1] != 3)
				return -EPROTONOSUPPORT;
			return -EAGAIN;
		}
		major = buf[pos + 1];
		minor = buf[pos + 2];
		if (buf[pos] != TLS_CT_HANDSHAKE)
			return first ? -EPROTONOSUPPORT : -EBADMSG;
		if (major != 3 || minor > 4)
			return -EPROTONOSUPPORT;
		rec = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (rec == 0 || rec > MW_TLS_RECORD_MAX)
			return -EBADMSG;
		pos += MW_TLS_RECORD_HEADER;
		if (first) {
			/* the message header must be in the first record */
			if (rec < TLS_HS_HEADER)
				return -EBADMSG;
			if (len - pos >= 1 && buf[pos] != TLS_HS_CLIENT_HELLO)
				return -EPROTONOSUPPORT;
			if (len - pos < TLS_HS_HEADER)
				return -EAGAIN;
			want = (size_t)buf[pos + 1] << 16 | (size_t)buf[pos + 2] << 8 | buf[pos + 3];
			if (want > MW_TLS_HELLO_MAX)
				return -E2BIG;
			want += TLS_HS_HEADER;
			first = false;
		}
		take = rec;
		if (have + take > want)
			return -EBADMSG; /* nothing may share the ClientHello's records */
		if (len - pos < take) {
			/* copy nothing yet: the record is re-read whole when more bytes come */
			return -EAGAIN;
		}
		memcpy(msg + have, buf + pos, take);
		have += take;
		pos += take;
		if (have == want) {
			*ret_len = have;
			*ret_wire = pos;
			return 0;
		}
	}
}

static bool name_into(char *dst, size_t size, const uint8_t *p, size_t n)
{
	if (n >= size)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = p[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (uint8_t)(ch - 'A' + 'a');
		dst[i] = (char)ch;
	}
	dst[n] = '\0';
	return true;
}

static int ext_server_name(struct cur *e, struct mw_tls_hello *h)
{
	struct cur list;
	bool seen = false;

	if (!cur_vec(e, 2, &list) || e->left != 0 || list.left == 0)
		return -EBADMSG;
	while (list.left) {
		uint8_t type;
		struct cur name;

		if (!cur_u8(&list, &type) || !cur_vec(&list, 2, &name))
			return -EBADMSG;
		if (type != 0)
			continue; /* unknown name types are skipped (RFC 6066 3) */
		if (seen)
			return -EBADMSG;
		seen = true;
		if (memchr(name.p, '\0', name.left) ||
		    !name_into(h->sni, sizeof(h->sni), name.p, name.left) ||
		    !tls_dns_name_valid(h->sni))
			return -EBADMSG;
		h->has_sni = true;
	}
	return 0;
}

static int ext_alpn(struct cur *e, struct mw_tls_hello *h)
{
	struct cur list;

	if (!cur_vec(e, 2, &list) || e->left != 0 || list.left == 0)
		return -EBADMSG;
	while (list.left) {
		struct cur name;

		if (!cur_vec(&list, 1, &name) || name.left == 0)
			return -EBADMSG;
		if (h->n_alpn < MW_TLS_ALPN_MAX && !memchr(name.p, '\0', name.left) &&
		    name.left <= MW_TLS_ALPN_NAME_MAX) {
			memcpy(h->alpn[h->n_alpn], name.p, name.left);
			h->alpn[h->n_alpn][name.left] = '\0';
			h->n_alpn++;
		} else {
			h->n_alpn_dropped++;
		}
	}
	return 0;
}

static int ext_supported_versions(struct cur *e, struct mw_tls_hello *h)
{
	struct cur list;

	if (!cur_vec(e, 1, &list) || e->left != 0 || list.left < 2 || list.left % 2)
		return -EBADMSG;
	while (list.left) {
		uint16_t v = 0;

		cur_u16(&list, &v);
		if (h->n_versions < MW_TLS_VERSIONS_MAX)
			h->versions[h->n_versions++] = v;
	}
	return 0;
}

static int parse_body(const uint8_t *msg, size_t len, struct mw_tls_hello *h)
{
	struct cur c = { msg + TLS_HS_HEADER, len - TLS_HS_HEADER }, v, exts;
	uint16_t seen[EXT_SEEN_MAX];
	unsigned n_seen = 0;
	const uint8_t *random;
	bool null_comp = false;

	if (!cur_u16(&c, &h->legacy_version) || !cur_bytes(&c, 32, &random))
		return -EBADMSG;
	if (h->legacy_version < 0x0300 || h->legacy_version > 0x03ff)
		return -EPROTONOSUPPORT;
	memcpy(h->random, random, 32);
	if (!cur_vec(&c, 1, &v) || v.left > 32)
		return -EBADMSG;
	h->session_id_len = (uint8_t)v.left;
	if (!cur_vec(&c, 2, &v) || v.left < 2 || v.left % 2)
		return -EBADMSG;
	h->n_cipher_suites = (uint16_t)(v.left / 2);
	if (!cur_vec(&c, 1, &v) || v.left < 1)
		return -EBADMSG;
	for (size_t i = 0; i < v.left; i++)
		null_comp |= v.p[i] == 0;
	if (!null_comp)
		return -EBADMSG;
	if (c.left == 0)
		return 0; /* no extensions: legal before TLS 1.3 */
	if (!cur_vec(&c, 2, &exts) || c.left != 0)
		return -EBADMSG;
	while (exts.left) {
		uint16_t type;
		struct cur e;
		int r = 0;

		if (!cur_u16(&exts, &type) || !cur_vec(&exts, 2, &e))
			return -EBADMSG;
		for (unsigned i = 0; i < n_seen; i++)
			if (seen[i] == type)
				return -EBADMSG;
		if (n_seen >= EXT_SEEN_MAX)
			return -E2BIG;
		seen[n_seen++] = type;
		h->n_extensions++;
		switch (type) {
		case EXT_SERVER_NAME:
			r = ext_server_name(&e, h);
			break;
		case EXT_ALPN:
			r = ext_alpn(&e, h);
			break;
		case EXT_SUPPORTED_VERSIONS:
			r = ext_supported_versions(&e, h);
			break;
		case EXT_SESSION_TICKET:
			h->has_session_ticket = true;
			break;
		case EXT_PRE_SHARED_KEY:
			/* RFC 8446 4.2.11: it must be the last extension */
			if (exts.left != 0)
				return -EBADMSG;
			h->has_psk = true;
			break;
		default:
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

int tls_hello_parse(const uint8_t *buf, size_t len, struct mw_tls_hello *ret)
{
	uint8_t msg[TLS_HS_HEADER + MW_TLS_HELLO_MAX];
	struct mw_tls_hello h;
	size_t msg_len = 0, wire = 0;
	int r;

	if (!buf && len)
		return -EINVAL;
	r = gather(buf, len, msg, &msg_len, &wire);
	if (r < 0)
		return r;
	memset(&h, 0, sizeof(h));
	r = parse_body(msg, msg_len, &h);
	if (r < 0)
		return r;
	h.wire_bytes = wire;
	*ret = h;
	return 0;
}

bool tls_hello_offers_alpn(const struct mw_tls_hello *h, const char *name)
{
	for (unsigned i = 0; i < h->n_alpn; i++)
		if (strcmp(h->alpn[i], name) == 0)
			return true;
	return false;
}

uint16_t tls_hello_max_version(const struct mw_tls_hello *h)
{
	uint16_t best = 0;

	if (h->n_versions == 0)
		return h->legacy_version;
	for (unsigned i = 0; i < h->n_versions; i++) {
		uint16_t v = h->versions[i];

		if ((v & 0x0f0f) == 0x0a0a)
			continue; /* GREASE */
		if (v > best)
			best = v;
	}
	return best;
}
