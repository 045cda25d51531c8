/* ca.c: see ca.h.  EC P-256 throughout: small keys, fast handshakes, accepted by every TLS
 * stack the gateways use (Node, Java, Python, Go, curl). */
#include "ca.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tls_hello.h"
#include "util.h"

#define CA_SERIAL_BYTES 16

struct ca_leaf {
	char name[MW_TLS_SNI_MAX + 1];
	X509 *cert;
	EVP_PKEY *key;
	time_t not_after;
	uint64_t used; /* LRU clock */
};

struct mw_ca {
	X509 *cert;
	EVP_PKEY *key;
	char source[PATH_MAX];
	pthread_mutex_t lock;
	struct ca_leaf *leaves; /* MW_CA_CACHE_MAX slots */
	size_t n_leaves;
	uint64_t clock;
	size_t hits;
};

static struct mw_ca *ca_new(void)
{
	struct mw_ca *ca = calloc(1, sizeof(*ca));

	if (!ca)
		return NULL;
	ca->leaves = calloc(MW_CA_CACHE_MAX, sizeof(*ca->leaves));
	if (!ca->leaves) {
		free(ca);
		return NULL;
	}
	pthread_mutex_init(&ca->lock, NULL);
	return ca;
}

struct mw_ca *ca_free(struct mw_ca *ca)
{
	if (!ca)
		return NULL;
	for (size_t i = 0; i < ca->n_leaves; i++) {
		X509_free(ca->leaves[i].cert);
		EVP_PKEY_free(ca->leaves[i].key);
	}
	free(ca->leaves);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	pthread_mutex_destroy(&ca->lock);
	free(ca);
	return NULL;
}

X509 *ca_cert(const struct mw_ca *ca)
{
	return ca->cert;
}

const char *ca_source(const struct mw_ca *ca)
{
	return ca->source;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

static int set_serial(X509 *cert)
{
	uint8_t raw[CA_SERIAL_BYTES];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -EIO;
	raw[0] &= 0x7f; /* positive */
	raw[0] |= 0x40; /* and a full 128-bit-wide value */
	bn = BN_bin2bn(raw, sizeof(raw), NULL);
	if (!bn)
		return -ENOMEM;
	ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
	BN_free(bn);
	return ok ? 0 : -ENOMEM;
}

static EVP_PKEY *key_new(void)
{
	return EVP_EC_gen("P-256");
}

static int cert_new(EVP_PKEY *key, const char *cn, long not_before, long not_after,
		    X509 **ret)
{
	X509 *cert = X509_new();
	X509_NAME *subj;
	int r = -ENOMEM;

	if (!cert)
		return -ENOMEM;
	if (!X509_set_version(cert, 2) || set_serial(cert) < 0 ||
	    !X509_gmtime_adj(X509_getm_notBefore(cert), not_before) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), not_after) || !X509_set_pubkey(cert, key))
		goto fail;
	subj = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0))
		goto fail;
	*ret = cert;
	return 0;
fail:
	X509_free(cert);
	return r;
}

static int ca_generate(struct mw_ca *ca)
{
	X509 *cert = NULL;
	EVP_PKEY *key = key_new();
	int r;

	if (!key)
		return -ENOMEM;
	r = cert_new(key, MW_CA_SUBJECT_CN, -MW_CA_LEAF_BACKDATE_SEC,
		     (long)MW_CA_LIFETIME_DAYS * 86400, &cert);
	if (r < 0)
		goto fail;
	r = -EINVAL;
	if (!X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "O", MBSTRING_UTF8,
					(const unsigned char *)"mcpwarden", -1, -1, 0) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(cert)))
		goto fail;
	if (add_ext(cert, cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(cert, cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, cert, NID_authority_key_identifier, "keyid:always") < 0)
		goto fail;
	if (!X509_sign(cert, key, EVP_sha256()))
		goto fail;
	ca->cert = cert;
	ca->key = key;
	return 0;
fail:
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

/* Write data to dir/name, created exclusively with mode. */
static int write_excl(int dirfd, const char *name, mode_t mode, BIO *data)
{
	_cleanup_close_ int fd = -1;
	char *p;
	long n = BIO_get_mem_data(data, &p);

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	while (n > 0) {
		ssize_t w = write(fd, p, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= w;
	}
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

int ca_init(const char *dir, struct mw_ca **ret_ca)
{
	struct mw_ca *ca;
	_cleanup_close_ int dirfd = -1;
	BIO *kb = NULL, *cb = NULL;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	if (faccessat(dirfd, MW_CA_KEY_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(dirfd, MW_CA_CERT_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	ca = ca_new();
	if (!ca)
		return -ENOMEM;
	r = ca_generate(ca);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	kb = BIO_new(BIO_s_mem());
	cb = BIO_new(BIO_s_mem());
	if (!kb || !cb || !PEM_write_bio_PrivateKey(kb, ca->key, NULL, NULL, 0, NULL, NULL) ||
	    !PEM_write_bio_X509(cb, ca->cert))
		goto fail;
	r = write_excl(dirfd, MW_CA_KEY_FILE, 0600, kb);
	if (r < 0)
		goto fail;
	r = write_excl(dirfd, MW_CA_CERT_FILE, 0644, cb);
	if (r < 0) {
		unlinkat(dirfd, MW_CA_KEY_FILE, 0);
		goto fail;
	}
	snprintf(ca->source, sizeof(ca->source), "%s", dir);
	BIO_free(kb); /* BIO_s_mem frees its buffer; the key bytes go with it */
	BIO_free(cb);
	*ret_ca = ca;
	return 0;
fail:
	BIO_free(kb);
	BIO_free(cb);
	ca_free(ca);
	return r;
}

static int read_small(const char *path, BIO **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	BIO *b;
	char buf[4096];

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_size > MW_CA_FILE_MAX)
		return -EFBIG;
	b = BIO_new(BIO_s_secmem());
	if (!b)
		b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			BIO_free(b);
			return -errno;
		}
		if (n == 0)
			break;
		BIO_write(b, buf, (int)n);
	}
	explicit_bzero(buf, sizeof(buf));
	*ret = b;
	return 0;
}

static int load_pair(const char *key_path, const char *cert_path, struct mw_ca *ca)
{
	BIO *kb = NULL, *cb = NULL;
	int r;

	r = read_small(key_path, &kb);
	if (r < 0)
		return r;
	r = read_small(cert_path, &cb);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	ca->key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	ca->cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (!ca->key || !ca->cert)
		goto out;
	r = -EKEYREJECTED;
	if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) < 1)
		goto out;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(kb);
	BIO_free(cb);
	return r;
}

int ca_load(const char *dir, struct mw_ca **ret_ca)
{
	const char *creds = getenv("CREDENTIALS_DIRECTORY");
	char kp[PATH_MAX], cp[PATH_MAX];
	struct mw_ca *ca = ca_new();
	int r = -ENOENT;

	if (!ca)
		return -ENOMEM;
	if (creds && *creds) {
		snprintf(kp, sizeof(kp), "%s/%s", creds, MW_CA_CRED_KEY);
		snprintf(cp, sizeof(cp), "%s/%s", creds, MW_CA_CRED_CERT);
		if (access(kp, F_OK) == 0 && access(cp, F_OK) == 0) {
			r = load_pair(kp, cp, ca);
			snprintf(ca->source, sizeof(ca->source), "credential");
		}
	}
	if (r == -ENOENT) {
		snprintf(kp, sizeof(kp), "%s/%s", dir, MW_CA_KEY_FILE);
		snprintf(cp, sizeof(cp), "%s/%s", dir, MW_CA_CERT_FILE);
		r = load_pair(kp, cp, ca);
		snprintf(ca->source, sizeof(ca->source), "%s", dir);
	}
	if (r < 0) {
		ca_free(ca);
		return r;
	}
	*ret_ca = ca;
	return 0;
}

static int leaf_mint(struct mw_ca *ca, const char *name, X509 **ret_cert, EVP_PKEY **ret_key)
{
	char san[MW_TLS_SNI_MAX + 16];
	uint8_t ip[16];
	bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
	EVP_PKEY *key;
	X509 *cert = NULL;
	int r;

	if (!is_ip && !tls_dns_name_valid(name))
		return -EINVAL;
	key = key_new();
	if (!key)
		return -ENOMEM;
	r = cert_new(key, name, -MW_CA_LEAF_BACKDATE_SEC, MW_CA_LEAF_LIFETIME_SEC, &cert);
	if (r < 0)
		goto fail;
	snprintf(san, sizeof(san), "%s:%s", is_ip ? "IP" : "DNS", name);
	r = -EINVAL;
	if (!X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) ||
	    add_ext(cert, ca->cert, NID_subject_alt_name, san) < 0 ||
	    add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(cert, ca->cert, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(cert, ca->key, EVP_sha256()))
		goto fail;
	*ret_cert = cert;
	*ret_key = key;
	return 0;
fail:
	ERR_clear_error();
	X509_free(cert);
	EVP_PKEY_free(key);
	return r;
}

int ca_mint(struct mw_ca *ca, const char *name, X509 **ret_cert, EVP_PKEY **ret_key)
{
	time_t now = time(NULL);
	struct ca_leaf *slot = NULL;
	X509 *cert;
	EVP_PKEY *key;
	int r;

	if (strlen(name) > MW_TLS_SNI_MAX)
		return -EINVAL;
	pthread_mutex_lock(&ca->lock);
	for (size_t i = 0; i < ca->n_leaves; i++) {
		struct ca_leaf *l = &ca->leaves[i];

		if (strcmp(l->name, name) != 0)
			continue;
		if (l->not_after - now > MW_CA_LEAF_RENEW_SEC) {
			l->used = ++ca->clock;
			ca->hits++;
			X509_up_ref(l->cert);
			EVP_PKEY_up_ref(l->key);
			*ret_cert = l->cert;
			*ret_key = l->key;
			pthread_mutex_unlock(&ca->lock);
			return 0;
		}
		slot = l; /* stale: replaced below */
		break;
	}
	pthread_mutex_unlock(&ca->lock);

	/* minting (a key generation and a signature) happens outside the lock */
	r = leaf_mint(ca, name, &cert, &key);
	if (r < 0)
		return r;

	pthread_mutex_lock(&ca->lock);
	slot = NULL;
	for (size_t i = 0; i < ca->n_leaves && !slot; i++)
		if (strcmp(ca->leaves[i].name, name) == 0)
			slot = &ca->leaves[i];
	if (!slot && ca->n_leaves < MW_CA_CACHE_MAX)
		slot = &ca->leaves[ca->n_leaves++];
	if (!slot) {
		slot = &ca->leaves[0];
		for (size_t i = 1; i < ca->n_leaves; i++)
			if (ca->leaves[i].used < slot->used)
				slot = &ca->leaves[i];
	}
	X509_free(slot->cert);
	EVP_PKEY_free(slot->key);
	snprintf(slot->name, sizeof(slot->name), "%s", name);
	slot->cert = cert;
	slot->key = key;
	slot->not_after = now + MW_CA_LEAF_LIFETIME_SEC;
	slot->used = ++ca->clock;
	X509_up_ref(cert);
	EVP_PKEY_up_ref(key);
	pthread_mutex_unlock(&ca->lock);
	*ret_cert = cert;
	*ret_key = key;
	return 0;
}

bool ca_cached(struct mw_ca *ca, const char *name)
{
	time_t now = time(NULL);
	bool fresh = false;

	pthread_mutex_lock(&ca->lock);
	for (size_t i = 0; i < ca->n_leaves; i++)
		if (strcmp(ca->leaves[i].name, name) == 0) {
			fresh = ca->leaves[i].not_after - now > MW_CA_LEAF_RENEW_SEC;
			break;
		}
	pthread_mutex_unlock(&ca->lock);
	return fresh;
}

size_t ca_cache_size(struct mw_ca *ca)
{
	size_t n;

	pthread_mutex_lock(&ca->lock);
	n = ca->n_leaves;
	pthread_mutex_unlock(&ca->lock);
	return n;
}

size_t ca_cache_hits(struct mw_ca *ca)
{
	size_t n;

	pthread_mutex_lock(&ca->lock);
	n = ca->hits;
	pthread_mutex_unlock(&ca->lock);
	return n;
}

int ca_fingerprint(X509 *cert, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t off = 0;

	if (size < MW_CA_FINGERPRINT_MAX)
		return -ENOBUFS;
	if (!X509_digest(cert, EVP_sha256(), md, &n))
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, size - off, i ? ":%02X" : "%02X", md[i]);
	return 0;
}
