/* ca.h: mcpwarden's local certificate authority, which mints the leaf certificates the agent
 * shows an intercepted client.
 *
 * Owns: the CA key and certificate (an EC P-256 key, self-signed, kept in state_dir/ca/ as
 * ca.key 0600 and ca.crt 0644, or read from systemd credentials mcpwarden-ca.key and
 * mcpwarden-ca.crt under $CREDENTIALS_DIRECTORY), and a bounded LRU cache of minted leaves
 * keyed by name.  Promises: ca_init() never overwrites a key; a minted leaf has one SAN
 * (dNSName, or iPAddress for an IP literal), CN, keyUsage digitalSignature, extendedKeyUsage
 * serverAuth, basicConstraints CA:FALSE, AKI/SKI, a random 128-bit serial and a validity of
 * now - MW_CA_LEAF_BACKDATE_SEC .. now + MW_CA_LEAF_LIFETIME_SEC; the cache is thread-safe and
 * hands out a leaf until MW_CA_LEAF_RENEW_SEC before its expiry.  Never logs; the key never
 * leaves this module except to OpenSSL. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define MW_CA_DIR_NAME "ca"
#define MW_CA_KEY_FILE "ca.key"
#define MW_CA_CERT_FILE "ca.crt"
#define MW_CA_CRED_KEY "mcpwarden-ca.key"
#define MW_CA_CRED_CERT "mcpwarden-ca.crt"
#define MW_CA_SUBJECT_CN "mcpwarden local CA"
#define MW_CA_LIFETIME_DAYS 3650
#define MW_CA_LEAF_BACKDATE_SEC 3600	     /* clocks a little behind still accept the leaf */
#define MW_CA_LEAF_LIFETIME_SEC (24 * 3600)
#define MW_CA_LEAF_RENEW_SEC 3600	     /* a cached leaf closer to expiry is reminted */
#define MW_CA_CACHE_MAX 1024		     /* minted leaves kept */
#define MW_CA_FILE_MAX (64 * 1024)	     /* a CA key or certificate file larger is refused */
#define MW_CA_FINGERPRINT_MAX 96	     /* "AB:CD:..." of a SHA-256, NUL included */

struct mw_ca;

/* Create a CA in dir (made 0700 if missing): -EEXIST when a key is already there. */
int ca_init(const char *dir, struct mw_ca **ret_ca);
/* Load the CA: from $CREDENTIALS_DIRECTORY when both credentials are there, else from dir.
 * -ENOENT when there is none. */
int ca_load(const char *dir, struct mw_ca **ret_ca);
struct mw_ca *ca_free(struct mw_ca *ca);
static inline void ca_freep(struct mw_ca **ca)
{
	ca_free(*ca);
}

/* The CA certificate (a borrowed pointer). */
X509 *ca_cert(const struct mw_ca *ca);
/* Where the CA came from: "credential" or the directory. */
const char *ca_source(const struct mw_ca *ca);

/* A leaf for name (a DNS name or an IP literal): a cached one if still fresh, else newly
 * minted.  The caller owns one reference to each of *ret_cert and *ret_key.  -EINVAL for a
 * name that is neither. */
int ca_mint(struct mw_ca *ca, const char *name, X509 **ret_cert, EVP_PKEY **ret_key);
/* Whether ca_mint() would answer name from the cache now (a fresh leaf is there). */
bool ca_cached(struct mw_ca *ca, const char *name);
/* Leaves in the cache, and how many mints were answered from it. */
size_t ca_cache_size(struct mw_ca *ca);
size_t ca_cache_hits(struct mw_ca *ca);

/* "AB:CD:..." SHA-256 of the certificate's DER into buf (MW_CA_FINGERPRINT_MAX bytes). */
int ca_fingerprint(X509 *cert, char *buf, size_t size);
