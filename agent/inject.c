/* inject.c: see inject.h. */
#include "inject.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define CRED_FIELD_ROOM (MW_CRED_HEADER_MAX + 16 + MW_CRED_SECRET_MAX) /* "H: Bearer v\r\n" */
#define CRED_CSECRET_ROOM (MW_CRED_SECRET_MAX + 2) /* an oauth client secret, NUL-terminated */
#define CRED_MAP_SIZE (CRED_FIELD_ROOM + CRED_CSECRET_ROOM)

struct mw_cred {
	struct mw_cred_spec spec;
	pthread_mutex_t lock;
	char *field; /* the whole field line "Header: value\r\n", locked memory */
	char *csecret; /* oauth: the client secret, NUL-terminated, in the same mapping */
	size_t field_len;
	uint64_t expires_usec; /* CLOCK_MONOTONIC; 0: the value does not expire */
	bool locked;
};

static int read_secret(const char *path, char *buf, size_t size, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size > MW_CRED_SECRET_MAX || (size_t)st.st_size >= size)
		return -EFBIG;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
		if (n >= size - 1)
			return -EFBIG;
	}
	/* one trailing newline, as editors and echo leave it, is not part of the secret */
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	*ret_len = n;
	return 0;
}

/* A field value may not end a line or the head early. */
static bool secret_valid(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
			return false;
	return true;
}

int cred_set_secret(struct mw_cred *c, const char *value, size_t len)
{
	return cred_set_token(c, value, len, 0);
}

int cred_set_token(struct mw_cred *c, const char *value, size_t len, uint64_t expires_usec)
{
	const char *prefix = c->spec.bearer ? "Bearer " : "";
	size_t n;

	if (!secret_valid(value, len) || len > MW_CRED_SECRET_MAX)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	explicit_bzero(c->field, CRED_FIELD_ROOM);
	n = (size_t)snprintf(c->field, CRED_FIELD_ROOM, "%s: %s", c->spec.header, prefix);
	memcpy(c->field + n, value, len);
	memcpy(c->field + n + len, "\r\n", 2);
	c->field_len = n + len + 2;
	c->expires_usec = expires_usec;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Under c->lock. */
static bool held_usable(const struct mw_cred *c)
{
	return c->field_len > 0 && (!c->expires_usec || mw_now_mono_usec() < c->expires_usec);
}

int cred_load(const struct mw_cred_spec *spec, struct mw_cred **ret)
{
	_cleanup_(cred_freep) struct mw_cred *c = NULL;
	char path[4096 + 256];
	char *secret = NULL;
	size_t len = 0;
	int r = 0;

	if (spec->kind == MW_CRED_NONE)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->spec = *spec;
	if (!c->spec.header[0])
		snprintf(c->spec.header, sizeof(c->spec.header), "Authorization");
	pthread_mutex_init(&c->lock, NULL);
	c->field = mmap(NULL, CRED_MAP_SIZE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->field == MAP_FAILED) {
		c->field = NULL;
		return -ENOMEM;
	}
	/* kept out of swap and core dumps where the limits allow; a failure is not fatal */
	c->locked = mlock(c->field, CRED_MAP_SIZE) == 0;
	madvise(c->field, CRED_MAP_SIZE, MADV_DONTDUMP);
	if (spec->kind == MW_CRED_OAUTH) {
		/* read now (as root, at start or reload), like the static kinds' secrets */
		c->csecret = c->field + CRED_FIELD_ROOM;
		r = read_secret(spec->oauth.client_secret_file, c->csecret, CRED_CSECRET_ROOM, &len);
		if (r == 0 && !secret_valid(c->csecret, len))
			r = -EINVAL;
		if (r < 0)
			return r;
		c->csecret[len] = '\0';
		*ret = TAKE_PTR(c);
		return 0;
	}
	if (spec->kind == MW_CRED_SYSTEMD) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir || !*dir)
			return -ENOENT;
		snprintf(path, sizeof(path), "%s/%s", dir, spec->path);
	} else {
		snprintf(path, sizeof(path), "%s", spec->path);
	}
	/* read into the tail of the locked page set, then move it into place */
	secret = c->field + CRED_FIELD_ROOM - (MW_CRED_SECRET_MAX + 2);
	r = read_secret(path, secret, MW_CRED_SECRET_MAX + 2, &len);
	if (r == 0) {
		char copy[MW_CRED_SECRET_MAX];

		memcpy(copy, secret, len);
		explicit_bzero(secret, MW_CRED_SECRET_MAX + 2);
		r = cred_set_secret(c, copy, len);
		explicit_bzero(copy, sizeof(copy));
	}
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

struct mw_cred *cred_free(struct mw_cred *c)
{
	if (!c)
		return NULL;
	if (c->field) {
		explicit_bzero(c->field, CRED_MAP_SIZE);
		if (c->locked)
			munlock(c->field, CRED_MAP_SIZE);
		munmap(c->field, CRED_MAP_SIZE);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

const char *cred_name(const struct mw_cred *c)
{
	return c->spec.name;
}

const char *cred_client_secret(const struct mw_cred *c)
{
	return c->csecret;
}

const struct mw_cred_spec *cred_spec(const struct mw_cred *c)
{
	return &c->spec;
}

bool cred_ready(struct mw_cred *c)
{
	bool ready;

	pthread_mutex_lock(&c->lock);
	ready = held_usable(c);
	pthread_mutex_unlock(&c->lock);
	return ready;
}

static bool is_credential_field(const struct mw_cred *c, struct http1_str name)
{
	if (http1_str_eq_ci(name, "Proxy-Authorization"))
		return true;
	if (http1_str_eq_ci(name, "Authorization"))
		return !c->spec.keep_caller_token;
	return http1_str_eq_ci(name, c->spec.header);
}

static int rewrite_head(struct mw_cred *c, const struct http1_head *head, struct mw_bytes *out)
{
	bool add = !(c->spec.keep_caller_token && strcasecmp(c->spec.header, "Authorization") == 0);
	char line[32];
	int r;

	if (head->kind != HTTP1_REQUEST)
		return -EINVAL;
	if ((r = bytes_append(out, head->method.p, head->method.len)) < 0 ||
	    (r = bytes_append(out, " ", 1)) < 0 ||
	    (r = bytes_append(out, head->target.p, head->target.len)) < 0)
		return r;
	snprintf(line, sizeof(line), " HTTP/1.%d\r\n", head->version_minor);
	if ((r = bytes_append(out, line, strlen(line))) < 0)
		return r;
	for (size_t i = 0; i < head->n_headers; i++) {
		const struct http1_header *h = &head->headers[i];

		if (is_credential_field(c, h->name))
			continue;
		if ((r = bytes_append(out, h->name.p, h->name.len)) < 0 ||
		    (r = bytes_append(out, ": ", 2)) < 0 ||
		    (r = bytes_append(out, h->value.p, h->value.len)) < 0 ||
		    (r = bytes_append(out, "\r\n", 2)) < 0)
			return r;
	}
	if (add) {
		pthread_mutex_lock(&c->lock);
		if (!held_usable(c))
			r = -EAGAIN;
		else
			r = bytes_append(out, c->field, c->field_len);
		pthread_mutex_unlock(&c->lock);
		if (r < 0)
			return r;
	}
	return bytes_append(out, "\r\n", 2);
}

int inject_rewrite_head(struct mw_cred *c, const struct http1_head *head, struct mw_bytes *out)
{
	size_t start = out->len;
	int r = rewrite_head(c, head, out);

	if (r < 0 && out->len > start) { /* nothing of a head that cannot go out stays queued */
		explicit_bzero(out->data + start, out->len - start);
		out->len = start;
	}
	return r;
}
