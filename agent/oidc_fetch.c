/* oidc_fetch.c: getting an issuer's key bytes: OIDC discovery and the JWKS over libcurl
 * (https, or http to loopback; same-origin redirects only; size caps; Cache-Control max-age),
 * or a local JWKS/PEM file; then parsed into a key set. See oidc.h for the transport contract
 * and oidc_internal.h for what oidc.c calls here. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "jwk.h" /* mw_json_check_depth: the discovery document's nesting bound */
#include "jwt.h"
#include "oidc.h"
#include "oidc_internal.h"

#define DISCOVERY_SUFFIX "/.well-known/openid-configuration"

/* --- URLs --------------------------------------------------------------------------------- */

static bool host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[64];
	size_t n = strlen(host);

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n > 2 && n < sizeof(buf) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = '\0';
		return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return false;
}

int oidc_url_check(const char *url, bool issuer, const char **ret_why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
	int r = -EINVAL;

	*ret_why = "not an absolute http(s) URL";
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (issuer && (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
		       curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK)) {
		*ret_why = "an issuer has no query or fragment";
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		r = 0;
	else if (strcasecmp(scheme, "http") == 0 && host_is_loopback(host))
		r = 0;
	else if (strcasecmp(scheme, "http") == 0)
		*ret_why =
		    "plain http is allowed only to a loopback host (127.0.0.0/8, ::1, localhost); "
		    "use https";
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return r;
}

/* --- fetching ----------------------------------------------------------------------------- */

uint32_t oidc_parse_max_age(const char *cc)
{
	unsigned long long v = 0;
	uint32_t max_age = 0;

	for (const char *p = cc; p && *p; p += strcspn(p, ",")) {
		size_t n;
		int end = 0;

		p += strspn(p, " \t,");
		n = strcspn(p, ", \t");
		if (n == 8 &&
		    (strncasecmp(p, "no-store", 8) == 0 || strncasecmp(p, "no-cache", 8) == 0))
			return 0;
		if (n <= 8 || strncasecmp(p, "max-age=", 8) != 0)
			continue;
		if (p[8] < '0' || p[8] > '9' || sscanf(p + 8, "%llu%n", &v, &end) != 1 ||
		    (size_t)end != n - 8)
			return 0; /* malformed: ignore the header */
		max_age = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	}
	return max_age;
}

struct fetch {
	char *buf;
	size_t len, max;
	bool too_big;
	uint32_t max_age;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char *nb;

	if (n > f->max - f->len) {
		f->too_big = true;
		return 0;
	}
	nb = realloc(f->buf, f->len + n + 1);
	if (!nb)
		return 0;
	f->buf = nb;
	memcpy(f->buf + f->len, p, n);
	f->len += n;
	f->buf[f->len] = '\0';
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct fetch *f = arg;
	size_t n = size * nmemb;
	char line[512];

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0)
		f->max_age = 0; /* a new response (after a redirect or 100) */
	else if (n > 14 && n < sizeof(line) && strncasecmp(p, "cache-control:", 14) == 0) {
		memcpy(line, p + 14, n - 14);
		line[n - 14] = '\0';
		line[strcspn(line, "\r\n")] = '\0';
		f->max_age = oidc_parse_max_age(line);
	}
	return n;
}

/* Same scheme, host and port? */
static bool same_origin(const char *a, const char *b)
{
	static const CURLUPart parts[] = { CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT };
	CURLU *ua = curl_url(), *ub = curl_url();
	bool same = ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
		    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK;

	for (size_t i = 0; same && i < ARRAY_SIZE(parts); i++) {
		char *x = NULL, *y = NULL;

		same = curl_url_get(ua, parts[i], &x, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		       curl_url_get(ub, parts[i], &y, CURLU_DEFAULT_PORT) == CURLUE_OK &&
		       strcasecmp(x, y) == 0;
		curl_free(x);
		curl_free(y);
	}
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static int curl_errno(CURLcode c)
{
	if (c == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	if (c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CONNECT_ERROR ||
	    c == CURLE_SSL_CACERT_BADFILE)
		return -EPROTO;
	return c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* GET url (following same-origin redirects only) into a new NUL-terminated buffer. */
static int http_get(const struct oidc_source *src, const char *url, size_t max, char **ret_body,
		    size_t *ret_len, uint32_t *ret_max_age, char *err, size_t errlen)
{
	char cur[MW_OIDC_MAX_URL + 1], cerr[CURL_ERROR_SIZE];
	struct fetch f = { .max = max };
	CURL *c;
	int r = 0;

	pthread_once(&curl_once, curl_init_once);
	if (strlen(url) > MW_OIDC_MAX_URL)
		return oidc_fail(err, errlen, -ENAMETOOLONG, "URL longer than %d bytes",
				 MW_OIDC_MAX_URL);
	snprintf(cur, sizeof(cur), "%s", url);
	c = curl_easy_init();
	if (!c)
		return oidc_fail(err, errlen, -ENOMEM, "cannot create a curl handle");
	for (unsigned hops = 0;; hops++) {
		const char *why;
		char *loc = NULL;
		long status = 0;
		CURLcode cc;

		if (oidc_url_check(cur, false, &why) < 0) {
			r = oidc_fail(err, errlen, -EPERM, "GET '%s' refused: %s", SHOW(cur), why);
			break;
		}
		oidc_wipe_free(f.buf, f.len);
		f.buf = NULL;
		f.len = 0;
		f.too_big = false;
		f.max_age = 0;
		cerr[0] = '\0';
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, cur);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_PROXY, ""); /* no proxy from the environment */
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)MW_OIDC_CONNECT_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)MW_OIDC_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (src->ca_file)
			curl_easy_setopt(c, CURLOPT_CAINFO, src->ca_file);
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &f);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "mcpwarden");
		cc = curl_easy_perform(c);
		if (f.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			r = oidc_fail(err, errlen, -EFBIG,
				      "GET '%s': response larger than %zu bytes", SHOW(cur), max);
			break;
		}
		if (cc != CURLE_OK) {
			r = oidc_fail(err, errlen, curl_errno(cc), "GET '%s': %s%s%s", SHOW(cur),
				      curl_easy_strerror(cc), cerr[0] ? ": " : "", cerr);
			break;
		}
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 300 && status < 400 &&
		    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
			if (hops >= MW_OIDC_MAX_REDIRECTS) {
				r = oidc_fail(err, errlen, -ELOOP,
					      "GET '%s': more than %d redirects", SHOW(url),
					      MW_OIDC_MAX_REDIRECTS);
				break;
			}
			if (strlen(loc) > MW_OIDC_MAX_URL || !same_origin(cur, loc)) {
				r = oidc_fail(err, errlen, -EPERM,
					      "GET '%s': redirect to another host refused",
					      SHOW(cur));
				break;
			}
			snprintf(cur, sizeof(cur), "%s", loc);
			continue;
		}
		if (status != 200)
			r = oidc_fail(err, errlen, -EIO, "GET '%s': HTTP status %ld", SHOW(cur),
				      status);
		break;
	}
	curl_easy_cleanup(c);
	if (r < 0) {
		oidc_wipe_free(f.buf, f.len);
		return r;
	}
	if (!f.buf && !(f.buf = calloc(1, 1)))
		return oidc_fail(err, errlen, -ENOMEM, "out of memory");
	*ret_body = f.buf;
	*ret_len = f.len;
	*ret_max_age = f.max_age;
	return 0;
}

/* Discovery: the JWKS URL, after checking the document names exactly our issuer. */
static int discover(const struct oidc_source *src, char **ret_jwks_uri, char *err, size_t errlen)
{
	size_t n = strlen(src->issuer), len;
	char url[MW_OIDC_MAX_URL + sizeof(DISCOVERY_SUFFIX)], *body = NULL;
	const char *why, *iss, *uri;
	uint32_t max_age;
	json_t *doc;
	int r;

	if (n > 0 && src->issuer[n - 1] == '/') /* OIDC Discovery 1.0, 4 */
		n--;
	snprintf(url, sizeof(url), "%.*s%s", (int)n, src->issuer, DISCOVERY_SUFFIX);
	r = http_get(src, url, MW_OIDC_DISCOVERY_MAX_BYTES, &body, &len, &max_age, err, errlen);
	if (r < 0)
		return r;
	doc = mw_json_check_depth(body, len, MW_JWT_MAX_JSON_DEPTH) < 0
		  ? NULL
		  : json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	free(body);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return oidc_fail(err, errlen, -EBADMSG, "discovery '%s': not a JSON object",
				 SHOW(url));
	}
	iss = json_string_value(json_object_get(doc, "issuer"));
	uri = json_string_value(json_object_get(doc, "jwks_uri"));
	if (!iss || strcmp(iss, src->issuer) != 0)
		r = oidc_fail(err, errlen, -EACCES,
			      "discovery names issuer '%s', not the configured one",
			      iss ? SHOW(iss) : "");
	else if (!uri || strlen(uri) > MW_OIDC_MAX_URL)
		r = oidc_fail(err, errlen, -EBADMSG, "discovery has no usable 'jwks_uri'");
	else if (oidc_url_check(uri, false, &why) < 0)
		r = oidc_fail(err, errlen, -EPERM, "discovery's jwks_uri '%s': %s", SHOW(uri), why);
	else if (!(*ret_jwks_uri = strdup(uri)))
		r = oidc_fail(err, errlen, -ENOMEM, "out of memory");
	json_decref(doc);
	return r;
}

static int read_file(const char *path, size_t max, char **ret_buf, size_t *ret_len, char *err,
		     size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	char *buf;
	size_t len = 0;

	if (fd < 0)
		return oidc_fail(err, errlen, -errno, "cannot open '%s': %s", SHOW(path),
				 strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return oidc_fail(err, errlen, -EINVAL, "'%s' is not a regular file", SHOW(path));
	if ((uint64_t)st.st_size > max)
		return oidc_fail(err, errlen, -EFBIG, "'%s' is larger than %zu bytes", SHOW(path),
				 max);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return oidc_fail(err, errlen, -ENOMEM, "out of memory");
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + len, (size_t)st.st_size - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			oidc_wipe_free(buf, (size_t)st.st_size + 1);
			return oidc_fail(err, errlen, k < 0 ? -errno : -EIO, "cannot read '%s'",
					 SHOW(path));
		}
		len += (size_t)k;
	}
	buf[len] = '\0';
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/* A local JWKS document or one PEM public key. */
static int load_file(const struct oidc_source *src, char *buf, size_t len, struct mw_jwks **ret,
		     char *err, size_t errlen)
{
	static const enum mw_jwt_alg try[] = { MW_JWT_RS256, MW_JWT_ES256, MW_JWT_ES384,
					       MW_JWT_EDDSA };
	size_t skip = strspn(buf, " \t\r\n");

	if (buf[skip] == '{')
		return jwks_parse(buf, len, NULL, ret, err, errlen);
	if (!strstr(buf, "-----BEGIN PUBLIC KEY-----"))
		return oidc_fail(err, errlen, -EBADMSG,
				 "'%s' is neither a JWKS document nor a PEM public key",
				 SHOW(src->jwks_file));
	if (src->pem_alg >= 0)
		return jwks_parse_pem(buf, len, (enum mw_jwt_alg)src->pem_alg, NULL, ret, err,
				      errlen);
	for (size_t i = 0; i < ARRAY_SIZE(try); i++)
		if (jwks_parse_pem(buf, len, try[i], NULL, ret, NULL, 0) == 0)
			return 0;
	return oidc_fail(err, errlen, -EBADMSG, "'%s': no usable PEM public key (set 'alg'?)",
			 SHOW(src->jwks_file));
}

int oidc_fetch_keys(const struct oidc_source *src, struct mw_jwks **ret_jwks,
		    unsigned char ret_md[32], uint32_t *ret_max_age, char *err, size_t errlen)
{
	_cleanup_free_ char *uri = NULL;
	char *body = NULL, e[200] = "";
	unsigned char md[32];
	uint32_t max_age = 0;
	size_t len = 0;
	int r;

	if (src->jwks_file) {
		r = read_file(src->jwks_file, MW_JWKS_MAX_BYTES, &body, &len, err, errlen);
	} else {
		if (!src->jwks_uri) {
			r = discover(src, &uri, err, errlen);
			if (r < 0)
				return r;
		}
		r = http_get(src, src->jwks_uri ? src->jwks_uri : uri, MW_JWKS_MAX_BYTES, &body,
			     &len, &max_age, err, errlen);
	}
	if (r < 0)
		return r;
	if (EVP_Digest(body, len, md, NULL, EVP_sha256(), NULL) != 1)
		memset(md, 0xff, sizeof(md)); /* counts as changed */
	if (src->jwks_file)
		r = load_file(src, body, len, ret_jwks, e, sizeof(e));
	else
		r = jwks_parse(body, len, NULL, ret_jwks, e, sizeof(e));
	oidc_wipe_free(body, len);
	if (r < 0)
		return oidc_fail(err, errlen, r, "JWKS from '%s': %s",
				 SHOW(src->jwks_file  ? src->jwks_file
				      : src->jwks_uri ? src->jwks_uri
						      : uri),
				 e);
	memcpy(ret_md, md, sizeof(md));
	*ret_max_age = max_age;
	return 0;
}
