/* tls_server.c: see tls_server.h.  Handshake messages are gathered out of their records
 * into a bounded buffer, as tls_hello.c does, then read with a bounds-checked cursor. */
#include "tls_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CT_CHANGE_CIPHER_SPEC 20
#define CT_HANDSHAKE 22
#define HS_SERVER_HELLO 2
#define HS_CERTIFICATE 11
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

/* RFC 8446 4.1.3: the random of a HelloRetryRequest */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

struct cur {
	const uint8_t *p;
	size_t left;
};

static bool take(struct cur *c, size_t n, const uint8_t **ret)
{
	if (c->left < n)
		return false;
	if (ret)
		*ret = c->p;
	c->p += n;
	c->left -= n;
	return true;
}

static bool u8(struct cur *c, size_t *v)
{
	const uint8_t *p;

	if (!take(c, 1, &p))
		return false;
	*v = p[0];
	return true;
}

static bool u16(struct cur *c, size_t *v)
{
	const uint8_t *p;

	if (!take(c, 2, &p))
		return false;
	*v = (size_t)p[0] << 8 | p[1];
	return true;
}

static bool u24(struct cur *c, size_t *v)
{
	const uint8_t *p;

	if (!take(c, 3, &p))
		return false;
	*v = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
	return true;
}

static bool vec(struct cur *c, size_t n, struct cur *ret)
{
	ret->p = c->p;
	ret->left = n;
	return take(c, n, NULL);
}

/* Gather handshake bytes from the records at the start of buf (change_cipher_spec records
 * are skipped; anything else ends the gathering). */
static int gather(const uint8_t *buf, size_t len, uint8_t *out, size_t *ret_len,
		  size_t *ret_wire, bool *ret_more)
{
	size_t pos = 0, have = 0;

	*ret_more = true;
	while (len - pos >= MW_TLS_RECORD_HEADER) {
		uint8_t type = buf[pos];
		size_t rec = (size_t)buf[pos + 3] << 8 | buf[pos + 4];

		if (buf[pos + 1] != 3)
			return pos == 0 ? -EPROTONOSUPPORT : -EBADMSG;
		if (type != CT_HANDSHAKE && type != CT_CHANGE_CIPHER_SPEC) {
			if (pos == 0)
				return -EPROTONOSUPPORT;
			*ret_more = false; /* encrypted or application data follows */
			break;
		}
		if (rec == 0 || rec > MW_TLS_RECORD_MAX + 256)
			return -EBADMSG;
		if (len - pos - MW_TLS_RECORD_HEADER < rec)
			break;
		pos += MW_TLS_RECORD_HEADER;
		if (type == CT_HANDSHAKE) {
			if (have + rec > MW_TLS_SERVER_FLIGHT_MAX)
				return -E2BIG;
			memcpy(out + have, buf + pos, rec);
			have += rec;
		} else {
			*ret_more = false; /* after ChangeCipherSpec the rest is encrypted */
		}
		pos += rec;
		if (!*ret_more)
			break;
	}
	if (pos == 0 && len >= 1 && buf[0] != CT_HANDSHAKE)
		return -EPROTONOSUPPORT;
	*ret_len = have;
	*ret_wire = pos;
	return 0;
}

static int parse_server_hello(struct cur m, struct mw_tls_server_hello *h)
{
	const uint8_t *random;
	size_t v, n;
	struct cur exts;

	if (!u16(&m, &v) || !take(&m, 32, &random))
		return -EBADMSG;
	h->version = (uint16_t)v;
	h->hello_retry = memcmp(random, hrr_random, 32) == 0;
	if (!u8(&m, &n) || n > 32 || !take(&m, n, NULL) || !u16(&m, &v) || !u8(&m, &n))
		return -EBADMSG;
	h->cipher_suite = (uint16_t)v;
	if (m.left == 0)
		return 0;
	if (!u16(&m, &n) || !vec(&m, n, &exts) || m.left != 0)
		return -EBADMSG;
	while (exts.left) {
		size_t type, elen;
		struct cur e;

		if (!u16(&exts, &type) || !u16(&exts, &elen) || !vec(&exts, elen, &e))
			return -EBADMSG;
		if (type == EXT_SUPPORTED_VERSIONS) {
			if (!u16(&e, &v) || e.left)
				return -EBADMSG;
			h->version = (uint16_t)v;
		} else if (type == EXT_ALPN) {
			struct cur list;
			size_t ln;

			if (!u16(&e, &ln) || !vec(&e, ln, &list) || e.left || !u8(&list, &n) ||
			    n == 0 || list.left != n)
				return -EBADMSG;
			if (n <= MW_TLS_ALPN_NAME_MAX && !memchr(list.p, '\0', n)) {
				memcpy(h->alpn, list.p, n);
				h->alpn[n] = '\0';
			}
		}
	}
	return 0;
}

static int parse_certificate(struct cur m, struct mw_tls_server_hello *h)
{
	struct cur list;
	size_t n, clen;
	const uint8_t *der, *p;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t off = 0;
	X509 *x;

	if (!u24(&m, &n) || !vec(&m, n, &list) || m.left)
		return -EBADMSG;
	if (list.left == 0)
		return 0; /* an empty chain: nothing to record */
	if (!u24(&list, &clen) || clen == 0 || !take(&list, clen, &der))
		return -EBADMSG;
	p = der;
	x = d2i_X509(NULL, &p, (long)clen);
	if (!x || p != der + clen) {
		X509_free(x);
		return -EBADMSG;
	}
	X509_NAME_oneline(X509_get_subject_name(x), h->subject, sizeof(h->subject));
	X509_free(x);
	if (!EVP_Digest(der, clen, md, &mdlen, EVP_sha256(), NULL))
		return -EBADMSG;
	for (unsigned int i = 0; i < mdlen; i++)
		off += (size_t)snprintf(h->fingerprint + off, sizeof(h->fingerprint) - off,
					i ? ":%02X" : "%02X", md[i]);
	h->has_cert = true;
	return 0;
}

int tls_server_parse(const uint8_t *buf, size_t len, struct mw_tls_server_hello *ret)
{
	uint8_t msg[MW_TLS_SERVER_FLIGHT_MAX];
	struct mw_tls_server_hello h;
	size_t have = 0, wire = 0;
	bool more;
	struct cur c;
	bool seen_hello = false;
	int r;

	if (!buf && len)
		return -EINVAL;
	r = gather(buf, len, msg, &have, &wire, &more);
	if (r < 0)
		return r;
	memset(&h, 0, sizeof(h));
	c.p = msg;
	c.left = have;
	for (;;) {
		size_t type, mlen;
		struct cur m;

		if (c.left < 4)
			return more ? -EAGAIN : -EBADMSG;
		u8(&c, &type);
		u24(&c, &mlen);
		if (mlen > MW_TLS_SERVER_FLIGHT_MAX)
			return -E2BIG;
		if (!vec(&c, mlen, &m))
			return more ? -EAGAIN : -EBADMSG;
		if (!seen_hello) {
			if (type != HS_SERVER_HELLO)
				return -EPROTONOSUPPORT;
			r = parse_server_hello(m, &h);
			if (r < 0)
				return r;
			seen_hello = true;
			/* TLS 1.3 and HelloRetryRequest: the rest is encrypted or a new hello */
			if (h.version >= MW_TLS_VERSION_1_3 || h.hello_retry)
				break;
			continue;
		}
		if (type == HS_CERTIFICATE) {
			r = parse_certificate(m, &h);
			if (r < 0)
				return r;
		}
		break; /* a resumed 1.2 handshake has no Certificate: Finished follows */
	}
	h.wire_bytes = wire;
	*ret = h;
	return 0;
}
