/* journal_codec.c: see journal_codec.h and docs/journal.md. */
#include "journal_codec.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

static const char *const type_names[] = {
	[MW_JREC_OPEN] = "open",	   [MW_JREC_REQUEST] = "request",
	[MW_JREC_RESPONSE] = "response",   [MW_JREC_DECISION] = "decision",
	[MW_JREC_APPROVAL] = "approval",   [MW_JREC_MASK] = "mask",
	[MW_JREC_GAP] = "gap",		   [MW_JREC_CLOSE] = "close",
	[MW_JREC_ABANDONED] = "abandoned", [MW_JREC_SEAL] = "seal",
};

const char *journal_type_name(unsigned type)
{
	return type >= 1 && type <= MW_JREC_TYPE_MAX ? type_names[type] : "?";
}

int journal_type_from_name(const char *name)
{
	for (unsigned i = 1; i <= MW_JREC_TYPE_MAX; i++)
		if (strcmp(type_names[i], name) == 0)
			return (int)i;
	return -EINVAL;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void journal_header_encode(const struct mw_jheader *h, uint8_t out[MW_JOURNAL_HEADER_SIZE])
{
	memset(out, 0, MW_JOURNAL_HEADER_SIZE);
	memcpy(out, MW_JOURNAL_MAGIC, 8);
	put32(out + 8, MW_JOURNAL_VERSION);
	put32(out + 12, MW_JOURNAL_HEADER_SIZE);
	put64(out + 16, h->file_seq);
	put64(out + 24, h->created_wall);
	put64(out + 32, h->first_jseq);
	put64(out + 40, h->seal_epoch);
	memcpy(out + 48, h->boot_id, 16);
	memcpy(out + 64, h->host, strnlen(h->host, MW_JOURNAL_HOST_MAX));
	memcpy(out + 128, h->prev_hash, MW_JOURNAL_HASH);
}

int journal_header_decode(const uint8_t *buf, size_t len, struct mw_jheader *ret, char *errbuf,
			  size_t errlen)
{
	struct mw_jheader h = {};

	if (len < 8 || memcmp(buf, MW_JOURNAL_MAGIC, 8) != 0) {
		snprintf(errbuf, errlen, "not an mcpwarden journal file (bad magic at offset 0)");
		return -EBADMSG;
	}
	if (len < MW_JOURNAL_HEADER_SIZE) {
		snprintf(errbuf, errlen, "file header cut short: %zu of %d bytes", len,
			 MW_JOURNAL_HEADER_SIZE);
		return -EBADMSG;
	}
	if (get32(buf + 8) != MW_JOURNAL_VERSION) {
		snprintf(errbuf, errlen, "journal format version %u, this reader knows %d",
			 get32(buf + 8), MW_JOURNAL_VERSION);
		return -EBADMSG;
	}
	if (get32(buf + 12) != MW_JOURNAL_HEADER_SIZE) {
		snprintf(errbuf, errlen, "file header size %u, expected %d", get32(buf + 12),
			 MW_JOURNAL_HEADER_SIZE);
		return -EBADMSG;
	}
	h.file_seq = get64(buf + 16);
	h.created_wall = get64(buf + 24);
	h.first_jseq = get64(buf + 32);
	h.seal_epoch = get64(buf + 40);
	memcpy(h.boot_id, buf + 48, 16);
	memcpy(h.host, buf + 64, MW_JOURNAL_HOST_MAX);
	h.host[MW_JOURNAL_HOST_MAX] = 0;
	for (size_t i = strlen(h.host); i < MW_JOURNAL_HOST_MAX; i++)
		if (buf[64 + i]) {
			snprintf(errbuf, errlen, "file header: host field not NUL-padded");
			return -EBADMSG;
		}
	memcpy(h.prev_hash, buf + 128, MW_JOURNAL_HASH);
	*ret = h;
	return 0;
}

/* SHA-256(a || b) */
static void sha256_two(const void *a, size_t alen, const void *b, size_t blen, uint8_t ret[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 32;

	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, a, alen) != 1 || EVP_DigestUpdate(c, b, blen) != 1 ||
	    EVP_DigestFinal_ex(c, ret, &n) != 1)
		memset(ret, 0, 32); /* out of memory: a hash no chain will match */
	EVP_MD_CTX_free(c);
}

void journal_chain_start(const uint8_t header[MW_JOURNAL_HEADER_SIZE], uint8_t ret[MW_JOURNAL_HASH])
{
	static const char tag[] = "mcpwarden-journal-v1";

	sha256_two(tag, sizeof(tag) - 1, header, MW_JOURNAL_HEADER_SIZE, ret);
}

void journal_record_hash(const uint8_t prev[MW_JOURNAL_HASH], const uint8_t *body, size_t len,
			 uint8_t ret[MW_JOURNAL_HASH])
{
	sha256_two(prev, MW_JOURNAL_HASH, body, len, ret);
}

int journal_record_encode(const struct mw_jrec *r, const uint8_t prev[MW_JOURNAL_HASH],
			  struct mw_bytes *out, uint8_t ret_hash[MW_JOURNAL_HASH])
{
	uint8_t fixed[4 + MW_JOURNAL_REC_FIXED];
	size_t body_len, start;
	uint8_t *b;
	int r2;

	if (r->meta_len > MW_JOURNAL_MAX_META || r->payload_len > MW_JOURNAL_MAX_PAYLOAD ||
	    r->type < 1 || r->type > MW_JREC_TYPE_MAX)
		return -EINVAL;
	body_len = MW_JOURNAL_REC_FIXED + r->meta_len + r->payload_len;
	put32(fixed, (uint32_t)(body_len + MW_JOURNAL_HASH));
	b = fixed + 4;
	b[0] = r->type;
	b[1] = r->dir;
	b[2] = (uint8_t)r->flags;
	b[3] = (uint8_t)(r->flags >> 8);
	put32(b + 4, r->meta_len);
	put64(b + 8, r->jseq);
	put64(b + 16, r->seq);
	put64(b + 24, r->wall);
	put64(b + 32, r->mono);
	put64(b + 40, r->session);
	put64(b + 48, r->flow);
	put32(b + 56, r->payload_len);
	start = out->len + 4;
	r2 = bytes_append(out, fixed, sizeof(fixed));
	if (r2 == 0 && r->meta_len)
		r2 = bytes_append(out, r->meta, r->meta_len);
	if (r2 == 0 && r->payload_len)
		r2 = bytes_append(out, r->payload, r->payload_len);
	if (r2 < 0)
		return r2;
	journal_record_hash(prev, out->data + start, body_len, ret_hash);
	return bytes_append(out, ret_hash, MW_JOURNAL_HASH);
}

int journal_frame_encode(const uint8_t *raw, size_t len, int level, struct mw_bytes *out)
{
	return journal_frame_encode_ctx(NULL, raw, len, level, out);
}

int journal_frame_encode_ctx(void *cctx, const uint8_t *raw, size_t len, int level,
			     struct mw_bytes *out)
{
	size_t bound = ZSTD_compressBound(len), n, at;
	uint8_t hdr[MW_JOURNAL_FRAME_HEADER];
	int r;

	if (len > MW_JOURNAL_MAX_FRAME_RAW)
		return -E2BIG;
	at = out->len;
	memset(hdr, 0, sizeof(hdr));
	r = bytes_append(out, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	if (out->cap - out->len < bound) {
		uint8_t *p = realloc(out->data, out->len + bound);

		if (!p)
			return -ENOMEM;
		out->data = p;
		out->cap = out->len + bound;
	}
	n = cctx ? ZSTD_compressCCtx(cctx, out->data + out->len, bound, raw, len, level)
		 : ZSTD_compress(out->data + out->len, bound, raw, len, level);
	if (ZSTD_isError(n)) {
		out->len = at;
		return -EIO;
	}
	put32(out->data + at, MW_JOURNAL_FRAME_MAGIC);
	put32(out->data + at + 4, (uint32_t)n);
	put32(out->data + at + 8, (uint32_t)len);
	put32(out->data + at + 12, (uint32_t)crc32(0, out->data + out->len, (uInt)n));
	out->len += n;
	return 0;
}

void journal_seal_mac(const uint8_t key[32], const uint8_t head[MW_JOURNAL_HASH], uint8_t ret[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, 32, head, MW_JOURNAL_HASH, ret, &n);
}

void journal_key_evolve(uint8_t key[32])
{
	static const char tag[] = "mcpwarden-evolve";
	uint8_t next[32];

	sha256_two(tag, sizeof(tag) - 1, key, 32, next);
	memcpy(key, next, 32);
	explicit_bzero(next, sizeof(next));
}

void journal_key_encode(uint64_t epoch, const uint8_t key[32], uint8_t out[MW_JOURNAL_KEY_FILE_SIZE])
{
	memcpy(out, MW_JOURNAL_KEY_MAGIC, 8);
	put64(out + 8, epoch);
	memcpy(out + 16, key, 32);
}

int journal_key_decode(const uint8_t *buf, size_t len, uint64_t *ret_epoch, uint8_t ret_key[32])
{
	if (len != MW_JOURNAL_KEY_FILE_SIZE || memcmp(buf, MW_JOURNAL_KEY_MAGIC, 8) != 0)
		return -EBADMSG;
	*ret_epoch = get64(buf + 8);
	memcpy(ret_key, buf + 16, 32);
	return 0;
}

static int reader_fail(struct mw_jreader *r, size_t off, bool torn, const char *fmt, ...)
	_printf_(4, 5);

static int reader_fail(struct mw_jreader *r, size_t off, bool torn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->err_off = off;
	r->torn = torn;
	return -EBADMSG;
}

int journal_reader_init(struct mw_jreader *r, const uint8_t *data, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->size = size;
	if (journal_header_decode(data, size, &r->header, r->err, sizeof(r->err)) < 0)
		return -EBADMSG;
	r->off = r->good_end = MW_JOURNAL_HEADER_SIZE;
	return 0;
}

/* Read and decompress the frame at r->off. 1: a frame, 0: clean end. */
static int reader_frame(struct mw_jreader *r)
{
	const uint8_t *p = r->data + r->off;
	size_t left = r->size - r->off;
	uint32_t clen, rlen;
	unsigned long long fsz;
	size_t n;

	if (left == 0)
		return 0;
	if (left < MW_JOURNAL_FRAME_HEADER)
		return reader_fail(r, r->off, true, "frame header cut short (%zu bytes)", left);
	if (get32(p) != MW_JOURNAL_FRAME_MAGIC)
		return reader_fail(r, r->off, false, "no frame magic");
	clen = get32(p + 4);
	rlen = get32(p + 8);
	if (rlen > MW_JOURNAL_MAX_FRAME_RAW || rlen == 0)
		return reader_fail(r, r->off, false, "frame size %u out of bounds", rlen);
	if (clen > left - MW_JOURNAL_FRAME_HEADER)
		return reader_fail(r, r->off, true, "frame cut short: %zu of %u bytes",
				   left - MW_JOURNAL_FRAME_HEADER, clen);
	if ((uint32_t)crc32(0, p + MW_JOURNAL_FRAME_HEADER, clen) != get32(p + 12))
		return reader_fail(r, r->off, false, "frame checksum mismatch");
	fsz = ZSTD_getFrameContentSize(p + MW_JOURNAL_FRAME_HEADER, clen);
	if (fsz != rlen)
		return reader_fail(r, r->off, false, "zstd frame content size mismatch");
	if (r->raw_cap < rlen) {
		uint8_t *np = realloc(r->raw, rlen);

		if (!np)
			return reader_fail(r, r->off, false, "out of memory");
		r->raw = np;
		r->raw_cap = rlen;
	}
	n = ZSTD_decompress(r->raw, rlen, p + MW_JOURNAL_FRAME_HEADER, clen);
	if (ZSTD_isError(n) || n != rlen)
		return reader_fail(r, r->off, false, "zstd frame does not decode");
	r->frame_off = r->off;
	r->off += MW_JOURNAL_FRAME_HEADER + clen;
	r->raw_len = rlen;
	r->raw_pos = 0;
	return 1;
}

int journal_reader_next(struct mw_jreader *r, struct mw_jrec *ret)
{
	const uint8_t *b;
	uint32_t len, meta_len, payload_len;
	int k;

	if (r->err[0])
		return -EBADMSG;
	if (r->raw_pos >= r->raw_len) {
		k = reader_frame(r);
		if (k <= 0)
			return k;
	}
	if (r->raw_len - r->raw_pos < 4 + MW_JOURNAL_REC_FIXED + MW_JOURNAL_HASH)
		return reader_fail(r, r->frame_off, false, "record %llu: frame ends inside it",
				   (unsigned long long)r->index);
	b = r->raw + r->raw_pos;
	len = get32(b);
	if (len < MW_JOURNAL_REC_FIXED + MW_JOURNAL_HASH || len > r->raw_len - r->raw_pos - 4)
		return reader_fail(r, r->frame_off, false, "record %llu: length %u out of bounds",
				   (unsigned long long)r->index, len);
	b += 4;
	meta_len = get32(b + 4);
	payload_len = get32(b + 56);
	if (meta_len > MW_JOURNAL_MAX_META || payload_len > MW_JOURNAL_MAX_PAYLOAD ||
	    (uint64_t)MW_JOURNAL_REC_FIXED + meta_len + payload_len + MW_JOURNAL_HASH != len)
		return reader_fail(r, r->frame_off, false, "record %llu: inconsistent lengths",
				   (unsigned long long)r->index);
	if (b[0] < 1 || b[0] > MW_JREC_TYPE_MAX)
		return reader_fail(r, r->frame_off, false, "record %llu: unknown type %u",
				   (unsigned long long)r->index, b[0]);
	memset(ret, 0, sizeof(*ret));
	ret->type = b[0];
	ret->dir = b[1];
	ret->flags = (uint16_t)(b[2] | b[3] << 8);
	ret->meta_len = meta_len;
	ret->jseq = get64(b + 8);
	ret->seq = get64(b + 16);
	ret->wall = get64(b + 24);
	ret->mono = get64(b + 32);
	ret->session = get64(b + 40);
	ret->flow = get64(b + 48);
	ret->payload_len = payload_len;
	ret->meta = (const char *)b + MW_JOURNAL_REC_FIXED;
	ret->payload = b + MW_JOURNAL_REC_FIXED + meta_len;
	ret->body = b;
	ret->body_len = len - MW_JOURNAL_HASH;
	memcpy(ret->hash, b + ret->body_len, MW_JOURNAL_HASH);
	r->raw_pos += 4 + len;
	r->index++;
	if (r->raw_pos >= r->raw_len)
		r->good_end = r->off;
	return 1;
}

void journal_reader_done(struct mw_jreader *r)
{
	free(r->raw);
	r->raw = NULL;
	r->raw_cap = 0;
}

void journal_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

int journal_unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (uint8_t)v;
	}
	return s[2 * n] == 0 ? 0 : -EINVAL;
}
