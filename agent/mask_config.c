/* mask_config.c: the "masking" section and "journal"."mask" compiled into a struct
 * mw_masker, with errors naming file:line:column and the key; the host key file. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "jsonpos.h"
#include "mask_internal.h"

struct cfg {
	const char *file, *text;
	size_t len;
	struct mw_diag *diag;
	bool have_key;
};

/* "/masking/profiles/pii/detectors/2" -> "masking.profiles.pii.detectors[2]" */
static void ptr_to_key(const char *ptr, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	while (*ptr == '/') {
		const char *seg = ++ptr, *end = strchrnul(seg, '/');
		bool num = end > seg;

		for (const char *c = seg; c < end; c++)
			num &= *c >= '0' && *c <= '9';
		if (num) {
			mw_str_append(buf, size, &len, "[", 1);
			mw_str_append(buf, size, &len, seg, end - seg);
			mw_str_append(buf, size, &len, "]", 1);
		} else {
			if (len)
				mw_str_append(buf, size, &len, ".", 1);
			for (const char *c = seg; c < end; c++) {
				char ch = *c;

				if (ch == '~' && c + 1 < end && (c[1] == '0' || c[1] == '1'))
					ch = *++c == '0' ? '~' : '/';
				mw_str_append(buf, size, &len, &ch, 1);
			}
		}
		ptr = end;
	}
}

static _printf_(4, 5) int cfg_err(const struct cfg *x, const char *ptr, bool at_key,
				  const char *fmt, ...)
{
	char key[256], msg[sizeof(x->diag->text)];
	struct mw_jsonpos pos;
	int line = 0, column = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ptr_to_key(ptr, key, sizeof(key));
	if (x->text && jsonpos_find(x->text, x->len, ptr, &pos) >= 0) {
		line = at_key && pos.key_line > 0 ? pos.key_line : pos.line;
		column = at_key && pos.key_line > 0 ? pos.key_column : pos.column;
	}
	return mw_diag_set(x->diag, -EINVAL, x->file, line, column, key, "%s", msg);
}

static int cfg_oom(const struct cfg *x)
{
	return mw_diag_set(x->diag, -ENOMEM, x->file, 0, 0, NULL, "out of memory");
}

/* ptr + "/" + escaped key */
static void ptr_join(char *buf, size_t size, const char *base, const char *k)
{
	size_t len = 0;

	buf[0] = '\0';
	mw_str_append(buf, size, &len, base, strlen(base));
	mw_str_append(buf, size, &len, "/", 1);
	for (; *k; k++) {
		if (*k == '~' || *k == '/')
			mw_str_append(buf, size, &len, *k == '~' ? "~0" : "~1", 2);
		else
			mw_str_append(buf, size, &len, k, 1);
	}
}

static void ptr_index(char *buf, size_t size, const char *base, size_t i)
{
	snprintf(buf, size, "%s/%zu", base, i);
}

static int kind_from_str(const char *s, bool builtin_only)
{
	for (int k = 0; k < MW_MASK__MAX; k++)
		if (strcmp(s, mask_kind_str(k)) == 0)
			return builtin_only && !(MASK_BUILTIN_ALL & (1u << k)) ? -1 : k;
	return -1;
}

static int style_from_str(const char *s)
{
	for (int i = 0; i < MW_MASK_STYLE__MAX; i++)
		if (strcmp(s, mask_style_str(i)) == 0)
			return i;
	return -1;
}

static bool name_ok(const char *s, size_t n, bool strict)
{
	if (n == 0 || n >= MW_MASK_MAX_NAME || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
			continue;
		if (!strict && ((c >= 'A' && c <= 'Z') || c == '-' || c == '.'))
			continue;
		return false;
	}
	return true;
}

#define KNOWN_KINDS "credit_card, email, phone, us_ssn, iban, ipv4, ipv6, secret"

static int parse_style(const struct cfg *x, const char *ptr, json_t *v, enum mw_mask_style *ret)
{
	int s = json_is_string(v) ? style_from_str(json_string_value(v)) : -1;

	if (s < 0)
		return cfg_err(x, ptr, false, "expected \"full\", \"partial\" or \"hash\"");
	if (s == MW_MASK_STYLE_HASH && !x->have_key)
		return cfg_err(x, ptr, false, "style \"hash\" needs the host key (masking.key_file)");
	*ret = s;
	return 0;
}

static int parse_patterns(const struct cfg *x, const char *base, json_t *v,
			  struct mw_mask_profile *p)
{
	char ptr[512], sub[512];
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return cfg_err(x, base, false, "expected an array of {\"name\", \"regex\"}");
	if (json_array_size(v) > MW_MASK_MAX_PATTERNS)
		return cfg_err(x, base, false, "more than %d patterns", MW_MASK_MAX_PATTERNS);
	p->patterns = calloc(json_array_size(v) + 1, sizeof(*p->patterns));
	if (!p->patterns)
		return cfg_oom(x);
	json_array_foreach(v, i, e) {
		struct mask_pattern *pat = &p->patterns[i];
		json_t *name, *re, *m;
		const char *k;
		PCRE2_SIZE off;
		int code;

		ptr_index(ptr, sizeof(ptr), base, i);
		if (!json_is_object(e))
			return cfg_err(x, ptr, false, "expected {\"name\": ..., \"regex\": ...}");
		json_object_foreach(e, k, m)
			if (strcmp(k, "name") && strcmp(k, "regex")) {
				ptr_join(sub, sizeof(sub), ptr, k);
				return cfg_err(x, sub, true, "unknown key '%s'", k);
			}
		name = json_object_get(e, "name");
		re = json_object_get(e, "regex");
		ptr_join(sub, sizeof(sub), ptr, "name");
		if (!json_is_string(name) ||
		    !name_ok(json_string_value(name), json_string_length(name), true))
			return cfg_err(x, json_is_string(name) ? sub : ptr, false,
				       "expected a name of 1-%d characters [a-z0-9_]",
				       MW_MASK_MAX_NAME - 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->patterns[j].name, json_string_value(name)) == 0)
				return cfg_err(x, sub, false, "pattern '%s' defined twice",
					       json_string_value(name));
		snprintf(pat->name, sizeof(pat->name), "%s", json_string_value(name));
		ptr_join(sub, sizeof(sub), ptr, "regex");
		if (!json_is_string(re) || json_string_length(re) == 0 ||
		    json_string_length(re) > MW_MASK_MAX_REGEX)
			return cfg_err(x, json_is_string(re) ? sub : ptr, false,
				       "expected a regex of 1-%d bytes", MW_MASK_MAX_REGEX);
		pat->re = pcre2_compile((PCRE2_SPTR)json_string_value(re), json_string_length(re),
					0, &code, &off, NULL);
		if (!pat->re) {
			PCRE2_UCHAR msg[256];

			if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
				snprintf((char *)msg, sizeof(msg), "error %d", code);
			return cfg_err(x, sub, false, "bad regex at offset %zu: %s", (size_t)off,
				       (char *)msg);
		}
		(void)pcre2_jit_compile(pat->re, PCRE2_JIT_COMPLETE); /* else the interpreter */
		p->n_patterns++;
	}
	return 0;
}

static int parse_profile(const struct cfg *x, const char *base, const char *name, json_t *v,
			 struct mw_mask_profile *p)
{
	enum mw_mask_style style = MW_MASK_STYLE_FULL;
	char ptr[512], sub[512];
	const char *k;
	json_t *m, *e;
	size_t i;
	int r;

	snprintf(p->name, sizeof(p->name), "%s", name);
	if (!json_is_object(v))
		return cfg_err(x, base, false, "expected a profile object");
	json_object_foreach(v, k, m) {
		if (strcmp(k, "detectors") && strcmp(k, "style") && strcmp(k, "styles") &&
		    strcmp(k, "fields") && strcmp(k, "patterns")) {
			ptr_join(ptr, sizeof(ptr), base, k);
			return cfg_err(x, ptr, true,
				       "unknown key '%s' (expected detectors, style, styles, "
				       "fields, patterns)", k);
		}
	}
	p->detectors = MASK_BUILTIN_ALL;
	m = json_object_get(v, "detectors");
	ptr_join(ptr, sizeof(ptr), base, "detectors");
	if (m) {
		if (!json_is_array(m))
			return cfg_err(x, ptr, false, "expected an array of detector names");
		p->detectors = 0;
		json_array_foreach(m, i, e) {
			int kind = json_is_string(e) ? kind_from_str(json_string_value(e), true) : -1;

			ptr_index(sub, sizeof(sub), ptr, i);
			if (kind < 0)
				return cfg_err(x, sub, false, "unknown detector (expected %s)",
					       KNOWN_KINDS);
			p->detectors |= 1u << kind;
		}
	}
	m = json_object_get(v, "style");
	if (m) {
		ptr_join(ptr, sizeof(ptr), base, "style");
		r = parse_style(x, ptr, m, &style);
		if (r < 0)
			return r;
	}
	for (int kk = 0; kk < MW_MASK__MAX; kk++)
		p->style[kk] = style;
	m = json_object_get(v, "styles");
	if (m) {
		ptr_join(ptr, sizeof(ptr), base, "styles");
		if (!json_is_object(m))
			return cfg_err(x, ptr, false, "expected {\"detector\": \"style\"}");
		json_object_foreach(m, k, e) {
			int kind = kind_from_str(k, false);

			ptr_join(sub, sizeof(sub), ptr, k);
			if (kind < 0)
				return cfg_err(x, sub, true,
					       "unknown detector '%s' (expected %s, field, custom)",
					       k, KNOWN_KINDS);
			r = parse_style(x, sub, e, &p->style[kind]);
			if (r < 0)
				return r;
		}
	}
	m = json_object_get(v, "fields");
	if (m) {
		ptr_join(ptr, sizeof(ptr), base, "fields");
		if (!json_is_array(m))
			return cfg_err(x, ptr, false, "expected an array of key names");
		if (json_array_size(m) > MW_MASK_MAX_FIELDS)
			return cfg_err(x, ptr, false, "more than %d fields", MW_MASK_MAX_FIELDS);
		p->fields = calloc(json_array_size(m) + 1, sizeof(*p->fields));
		if (!p->fields)
			return cfg_oom(x);
		json_array_foreach(m, i, e) {
			const char *s = json_string_value(e);
			size_t l = 0;

			ptr_index(sub, sizeof(sub), ptr, i);
			if (s && strlen(s) == json_string_length(e))
				for (const char *c = s; *c && l < MW_MASK_MAX_NAME - 1; c++)
					if (*c != '_' && *c != '-')
						p->fields[i][l++] =
							*c >= 'A' && *c <= 'Z' ? *c + 32 : *c;
			if (!s || l == 0 || json_string_length(e) >= MW_MASK_MAX_NAME)
				return cfg_err(x, sub, false,
					       "expected a key name of 1-%d bytes",
					       MW_MASK_MAX_NAME - 1);
			p->n_fields++;
		}
	}
	m = json_object_get(v, "patterns");
	if (m) {
		ptr_join(ptr, sizeof(ptr), base, "patterns");
		r = parse_patterns(x, ptr, m, p);
		if (r < 0)
			return r;
	}
	mask_profile_index_rules(p);
	return 0;
}

static void profile_clear(struct mw_mask_profile *p)
{
	for (size_t i = 0; p->patterns && i < p->n_patterns; i++)
		pcre2_code_free(p->patterns[i].re);
	free(p->patterns);
	free(p->fields);
	p->patterns = NULL;
	p->fields = NULL;
}

struct mw_masker *mask_free(struct mw_masker *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_profiles; i++)
		profile_clear(&m->profiles[i]);
	free(m->profiles);
	if (m->has_journal_own)
		profile_clear(&m->journal_own);
	pcre2_match_context_free(m->mctx);
	explicit_bzero(m->key, sizeof(m->key));
	free(m);
	return NULL;
}

static void profile_bind(struct mw_masker *m, struct mw_mask_profile *p)
{
	p->masker = m;
	p->mctx = m->mctx;
}

const char *mask_key_file(json_t *masking)
{
	return json_string_value(json_object_get(masking, "key_file"));
}

int mask_from_json(json_t *masking, json_t *journal_mask, const char *file, const char *text,
		   size_t len, const uint8_t *key, size_t key_len, struct mw_masker **ret,
		   struct mw_diag *diag)
{
	struct cfg x = { .file = file, .text = text, .len = len, .diag = diag };
	_cleanup_(mask_freep) struct mw_masker *m = NULL;
	json_t *profiles = NULL, *v;
	char ptr[512];
	const char *k;
	int r;

	if (!ret || key_len > MW_MASK_KEY_SIZE || (key_len && !key))
		return mw_diag_set(diag, -EINVAL, file, 0, 0, NULL, "invalid arguments");
	x.have_key = key_len > 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return cfg_oom(&x);
	if (key_len)
		memcpy(m->key, key, key_len);
	m->key_len = key_len;
	m->mctx = pcre2_match_context_create(NULL);
	if (!m->mctx)
		return cfg_oom(&x);
	pcre2_set_match_limit(m->mctx, MW_MASK_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(m->mctx, MW_MASK_REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(m->mctx, MW_MASK_REGEX_HEAP_LIMIT);

	if (masking && !json_is_object(masking))
		return cfg_err(&x, "/masking", false, "expected an object");
	json_object_foreach(masking, k, v) {
		ptr_join(ptr, sizeof(ptr), "/masking", k);
		if (strcmp(k, "profiles") == 0) {
			profiles = v;
		} else if (strcmp(k, "key_file") == 0) {
			if (!json_is_string(v) || json_string_value(v)[0] != '/' ||
			    strlen(json_string_value(v)) != json_string_length(v) ||
			    json_string_length(v) >= 4096)
				return cfg_err(&x, ptr, false, "expected an absolute path");
		} else {
			return cfg_err(&x, ptr, true,
				       "unknown key '%s' (expected profiles, key_file)", k);
		}
	}
	if (profiles) {
		size_t i = 0;

		if (!json_is_object(profiles))
			return cfg_err(&x, "/masking/profiles", false,
				       "expected {\"name\": {profile}}");
		if (json_object_size(profiles) > MW_MASK_MAX_PROFILES)
			return cfg_err(&x, "/masking/profiles", false, "more than %d profiles",
				       MW_MASK_MAX_PROFILES);
		m->profiles = calloc(json_object_size(profiles) + 1, sizeof(*m->profiles));
		if (!m->profiles)
			return cfg_oom(&x);
		json_object_foreach(profiles, k, v) {
			ptr_join(ptr, sizeof(ptr), "/masking/profiles", k);
			if (!name_ok(k, strlen(k), false))
				return cfg_err(&x, ptr, true,
					       "a profile name has 1-%d characters [A-Za-z0-9_.-]",
					       MW_MASK_MAX_NAME - 1);
			m->n_profiles = ++i;
			r = parse_profile(&x, ptr, k, v, &m->profiles[i - 1]);
			if (r < 0)
				return r;
			profile_bind(m, &m->profiles[i - 1]);
		}
	}
	if (!journal_mask) {
		m->has_journal_own = true;
		snprintf(m->journal_own.name, sizeof(m->journal_own.name), "journal");
		m->journal_own.detectors = MASK_BUILTIN_ALL;
		for (int kk = 0; kk < MW_MASK__MAX; kk++)
			m->journal_own.style[kk] = key_len ? MW_MASK_STYLE_HASH : MW_MASK_STYLE_FULL;
		m->journal_own.style[MW_MASK_SECRET] = MW_MASK_STYLE_FULL;
		mask_profile_index_rules(&m->journal_own);
		m->journal = &m->journal_own;
	} else if (json_is_string(journal_mask)) {
		m->journal = (struct mw_mask_profile *)mask_profile(m,
								    json_string_value(journal_mask));
		if (!m->journal)
			return cfg_err(&x, "/journal/mask", false,
				       "no masking profile '%s' in masking.profiles",
				       json_string_value(journal_mask));
	} else {
		m->has_journal_own = true;
		r = parse_profile(&x, "/journal/mask", "journal", journal_mask, &m->journal_own);
		if (r < 0)
			return r;
		m->journal = &m->journal_own;
	}
	profile_bind(m, &m->journal_own);
	*ret = TAKE_PTR(m);
	return 0;
}

const struct mw_mask_profile *mask_profile(const struct mw_masker *m, const char *name)
{
	for (size_t i = 0; m && name && i < m->n_profiles; i++)
		if (strcmp(m->profiles[i].name, name) == 0)
			return &m->profiles[i];
	return NULL;
}

const struct mw_mask_profile *mask_journal_profile(const struct mw_masker *m)
{
	return m ? m->journal : NULL;
}

const char *mask_profile_name(const struct mw_mask_profile *p)
{
	return p ? p->name : NULL;
}

/* --- the host key ------------------------------------------------------------------------- */

static int read_key(int fd, uint8_t key[MW_MASK_KEY_SIZE])
{
	uint8_t buf[MW_MASK_KEY_SIZE + 1];
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADMSG;
	if (st.st_mode & 077)
		return -EPERM;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += n;
	}
	if (got != MW_MASK_KEY_SIZE) {
		explicit_bzero(buf, sizeof(buf));
		return -EBADMSG;
	}
	memcpy(key, buf, MW_MASK_KEY_SIZE);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int mask_key_load(const char *path, uint8_t key[MW_MASK_KEY_SIZE])
{
	uint8_t fresh[MW_MASK_KEY_SIZE];
	_cleanup_close_ int fd = -1;
	size_t off = 0;
	int r;

	if (!path || !key)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		return read_key(fd, key);
	if (errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno != EEXIST)
			return -errno;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW); /* lost a race: read theirs */
		return fd < 0 ? -errno : read_key(fd, key);
	}
	if (getrandom(fresh, sizeof(fresh), 0) != sizeof(fresh)) {
		r = -EIO;
		goto fail;
	}
	while (off < sizeof(fresh)) {
		ssize_t n = write(fd, fresh + off, sizeof(fresh) - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			goto fail;
		}
		off += n;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	memcpy(key, fresh, sizeof(fresh));
	explicit_bzero(fresh, sizeof(fresh));
	return 0;
fail:
	explicit_bzero(fresh, sizeof(fresh));
	(void)unlink(path);
	return r;
}
