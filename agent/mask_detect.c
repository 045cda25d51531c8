/* mask_detect.c: the built-in detectors, one pass over the text.  The loop skips bytes that
 * cannot start anything, skips whole words that matched nothing, and dispatches on the first
 * character of a token: digits (card, SSN, phone, IPv4, IPv6), '+' and '(' (phones), '@'
 * (email, whose local part is found backwards), letters (IBAN, IPv6, secrets), '-' (PEM).
 * Every candidate is validated (Luhn and issuer ranges, SSN ranges, IBAN mod-97, octet
 * values, inet_pton, JWT header) before it counts.  No regex, no allocation but the match
 * list.  All matches are ASCII and begin and end on ASCII bytes. */
#include <arpa/inet.h>
#include <string.h>

#include "jwk.h"
#include "mask_internal.h"

enum {
	C_DIGIT = 1,
	C_UPPER = 2,
	C_LOWER = 4,
	C_UNDER = 8,
	C_HEX = 16,
	C_SPECIAL = 32, /* '@' '+' '(' '-' ':' */
	C_B64 = 64,	/* base64 and base64url alphabet beyond alnum: '+' '/' '=' '-' '_' */
};
#define C_ALNUM (C_DIGIT | C_UPPER | C_LOWER)
#define C_WORD (C_ALNUM | C_UNDER)

static const uint8_t cls[256] = {
	['0' ... '9'] = C_DIGIT | C_HEX,
	['A' ... 'F'] = C_UPPER | C_HEX,
	['G' ... 'Z'] = C_UPPER,
	['a' ... 'f'] = C_LOWER | C_HEX,
	['g' ... 'z'] = C_LOWER,
	['_'] = C_UNDER | C_B64,
	['@'] = C_SPECIAL,
	['+'] = C_SPECIAL | C_B64,
	['('] = C_SPECIAL,
	['-'] = C_SPECIAL | C_B64,
	[':'] = C_SPECIAL,
	['/'] = C_B64,
	['='] = C_B64,
};

struct scan {
	const unsigned char *s;
	size_t n;
	unsigned det;
	size_t floor; /* end of the last match: nothing may start before it */
};

static inline bool is_(const struct scan *sc, size_t i, uint8_t c)
{
	return i < sc->n && (cls[sc->s[i]] & c);
}

static inline bool is_digit_at(const struct scan *sc, size_t i)
{
	return is_(sc, i, C_DIGIT);
}

static inline int at(const struct scan *sc, size_t i)
{
	return i < sc->n ? sc->s[i] : -1;
}

/* After a number ending at j: no letter, digit or '_' glued to it, and no "-5" or ".5"
 * continuing it. */
static bool num_end_ok(const struct scan *sc, size_t j)
{
	if (is_(sc, j, C_WORD))
		return false;
	if ((at(sc, j) == '-' || at(sc, j) == '.' || at(sc, j) == '/') && is_digit_at(sc, j + 1))
		return false;
	return true;
}

/* Before a number starting at i: not glued to a word, and not the tail of "x-5", "1.5". */
static bool num_start_ok(const struct scan *sc, size_t i)
{
	int c;

	if (i == 0)
		return true;
	c = sc->s[i - 1];
	return !(cls[c] & C_WORD) && c != '.' && c != '-' && c != '+';
}

static bool prefix(const struct scan *sc, size_t i, const char *p)
{
	size_t l = strlen(p);

	return i + l <= sc->n && memcmp(sc->s + i, p, l) == 0;
}

static bool prefix_ci(const struct scan *sc, size_t i, const char *p)
{
	size_t l = strlen(p);

	if (i + l > sc->n)
		return false;
	for (size_t k = 0; k < l; k++) {
		unsigned char c = sc->s[i + k];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)p[k])
			return false;
	}
	return true;
}

/* --- payment cards ------------------------------------------------------------------------ */

static bool luhn(const uint8_t *d, size_t n)
{
	unsigned sum = 0;

	for (size_t k = 0; k < n; k++) {
		unsigned v = d[n - 1 - k];

		if (k & 1) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	return sum % 10 == 0;
}

static unsigned lead(const uint8_t *d, size_t k)
{
	unsigned v = 0;

	for (size_t i = 0; i < k; i++)
		v = v * 10 + d[i];
	return v;
}

static bool card_issuer(const uint8_t *d, size_t n)
{
	unsigned p2 = lead(d, 2), p3 = lead(d, 3), p4 = lead(d, 4);

	if (d[0] == 4)
		return n == 13 || n == 16 || n == 19;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return n == 16;
	if (p2 == 34 || p2 == 37)
		return n == 15;
	if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649))
		return n >= 16 && n <= 19;
	if (p4 >= 3528 && p4 <= 3589)
		return n >= 16 && n <= 19;
	if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305))
		return n >= 14 && n <= 19;
	if (p2 == 62)
		return n >= 16 && n <= 19;
	return false;
}

#define CARD_MAX_DIGITS 19
#define CARD_MIN_DIGITS 13

static size_t scan_card(const struct scan *sc, size_t i)
{
	uint8_t d[CARD_MAX_DIGITS];
	size_t nd = 0, j = i, best = 0;
	int sep = 0;

	for (;;) {
		size_t g = 0;

		while (is_digit_at(sc, j)) {
			if (nd == CARD_MAX_DIGITS)
				return best; /* a longer number: only earlier group ends count */
			d[nd++] = sc->s[j++] - '0';
			g++;
		}
		if (sep && (g < 3 || g > 6))
			return best;
		if (!sep && nd > CARD_MAX_DIGITS)
			return 0;
		/* a group end: a candidate if what follows is not more of the same number */
		if (nd >= CARD_MIN_DIGITS && !is_(sc, j, C_WORD) && card_issuer(d, nd) &&
		    luhn(d, nd))
			best = j;
		if ((at(sc, j) == ' ' || at(sc, j) == '-') && is_digit_at(sc, j + 1) &&
		    (!sep || sep == at(sc, j))) {
			if (!sep) {
				if (nd < 3 || nd > 6)
					return best;
				sep = at(sc, j);
			}
			j++;
			continue;
		}
		if (!sep && !num_end_ok(sc, j))
			return 0;
		return best;
	}
}

/* --- US SSN, North-American and E.164 phone numbers --------------------------------------- */

static bool digits_at(const struct scan *sc, size_t i, size_t k)
{
	for (size_t x = 0; x < k; x++)
		if (!is_digit_at(sc, i + x))
			return false;
	return true;
}

static unsigned num_at(const struct scan *sc, size_t i, size_t k)
{
	unsigned v = 0;

	for (size_t x = 0; x < k; x++)
		v = v * 10 + (sc->s[i + x] - '0');
	return v;
}

/* ddd-dd-dddd, dashes required; area not 000, 666 or 9xx, group not 00, serial not 0000. */
static size_t scan_ssn(const struct scan *sc, size_t i)
{
	unsigned area, group, serial;

	if (!digits_at(sc, i, 3) || at(sc, i + 3) != '-' || !digits_at(sc, i + 4, 2) ||
	    at(sc, i + 6) != '-' || !digits_at(sc, i + 7, 4) || !num_end_ok(sc, i + 11))
		return 0;
	area = num_at(sc, i, 3);
	group = num_at(sc, i + 4, 2);
	serial = num_at(sc, i + 7, 4);
	if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
		return 0;
	return i + 11;
}

/* NANP: area and exchange codes start with 2-9. */
static bool nanp_ok(unsigned area, unsigned exchange)
{
	return area >= 200 && exchange >= 200;
}

/* (ddd) ddd-dddd, (ddd)ddd-dddd, ddd-ddd-dddd, ddd.ddd.dddd, each optionally after "1-",
 * "1 " or "1.". */
static size_t scan_phone_na(const struct scan *sc, size_t i)
{
	size_t j = i;
	unsigned area, exch;

	if (at(sc, j) == '1' && (at(sc, j + 1) == '-' || at(sc, j + 1) == ' ' ||
				 at(sc, j + 1) == '.')) {
		size_t r = scan_phone_na(sc, j + 2);

		if (r)
			return r;
	}
	if (at(sc, j) == '(') {
		if (!digits_at(sc, j + 1, 3) || at(sc, j + 4) != ')')
			return 0;
		area = num_at(sc, j + 1, 3);
		j += 5;
		if (at(sc, j) == ' ')
			j++;
		if (!digits_at(sc, j, 3) || (at(sc, j + 3) != '-' && at(sc, j + 3) != ' ' &&
					     at(sc, j + 3) != '.') ||
		    !digits_at(sc, j + 4, 4))
			return 0;
		exch = num_at(sc, j, 3);
		j += 8;
	} else {
		int sep = at(sc, j + 3);

		if (!digits_at(sc, j, 3) || (sep != '-' && sep != '.') || !digits_at(sc, j + 4, 3) ||
		    at(sc, j + 7) != sep || !digits_at(sc, j + 8, 4))
			return 0;
		area = num_at(sc, j, 3);
		exch = num_at(sc, j + 4, 3);
		j += 12;
	}
	if (!nanp_ok(area, exch) || !num_end_ok(sc, j))
		return 0;
	return j;
}

#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS 15

/* +[1-9] then 7-15 digits in all, single ' ', '-' or '.' between groups, one group may be in
 * parentheses; "+1" numbers must be NANP (11 digits). */
static size_t scan_phone_e164(const struct scan *sc, size_t i)
{
	uint8_t d[PHONE_MAX_DIGITS];
	size_t nd = 0, j = i + 1, best = 0, best_nd = 0;
	int paren = 0; /* 0: none yet, 1: open, 2: closed */

	if (i > 0 && (cls[sc->s[i - 1]] & C_WORD))
		return 0;
	if (!is_digit_at(sc, j) || sc->s[j] == '0')
		return 0;
	for (;;) {
		while (is_digit_at(sc, j)) {
			if (nd == PHONE_MAX_DIGITS)
				goto done;
			d[nd++] = sc->s[j++] - '0';
		}
		if (at(sc, j) == ')' && paren == 1) {
			j++;
			paren = 2;
			if (is_digit_at(sc, j))
				continue; /* "+44 (0)20 7946 0958" */
		}
		if (nd >= PHONE_MIN_DIGITS && paren != 1 && !is_(sc, j, C_WORD)) {
			best = j;
			best_nd = nd;
		}
		if (paren == 1)
			break;
		if (at(sc, j) == ' ' || at(sc, j) == '-' || at(sc, j) == '.') {
			if (is_digit_at(sc, j + 1)) {
				j++;
				continue;
			}
			if (at(sc, j + 1) == '(' && !paren && is_digit_at(sc, j + 2)) {
				paren = 1;
				j += 2;
				continue;
			}
		} else if (at(sc, j) == '(' && !paren && is_digit_at(sc, j + 1)) {
			paren = 1;
			j++;
			continue;
		}
		break;
	}
done:
	if (!best)
		return 0;
	if (d[0] == 1) {
		if (best_nd != 11 || !nanp_ok(d[1] * 100 + d[2] * 10 + d[3],
					      d[4] * 100 + d[5] * 10 + d[6]))
			return 0;
	}
	if ((at(sc, best) == '-' || at(sc, best) == '.') && is_digit_at(sc, best + 1))
		return 0;
	return best;
}

/* --- IP addresses ------------------------------------------------------------------------- */

/* "version 1.2.3.4", "build: 1.2.3.4": a dotted quad named as a version is not an address. */
static bool version_before(const struct scan *sc, size_t i)
{
	static const char *const words[] = { "version", "ver", "build", "release", "firmware" };
	size_t j = i, k = 0;

	while (j > 0 && k < 3 && (sc->s[j - 1] == ' ' || sc->s[j - 1] == ':' ||
				  sc->s[j - 1] == '=' || sc->s[j - 1] == '"')) {
		j--;
		k++;
	}
	for (size_t w = 0; w < ARRAY_SIZE(words); w++) {
		size_t l = strlen(words[w]);

		if (j >= l && prefix_ci(sc, j - l, words[w]) &&
		    (j == l || !(cls[sc->s[j - l - 1]] & C_WORD)))
			return true;
	}
	return false;
}

static size_t scan_ipv4(const struct scan *sc, size_t i)
{
	size_t j = i;

	for (int o = 0; o < 4; o++) {
		size_t k = 0;
		unsigned v = 0;

		if (o > 0) {
			if (at(sc, j) != '.')
				return 0;
			j++;
		}
		while (k < 3 && is_digit_at(sc, j + k)) {
			v = v * 10 + (sc->s[j + k] - '0');
			k++;
		}
		if (k == 0 || v > 255 || (k > 1 && sc->s[j] == '0') || is_digit_at(sc, j + k))
			return 0;
		j += k;
	}
	if (is_(sc, j, C_WORD) || ((at(sc, j) == '.' || at(sc, j) == '-') && is_(sc, j + 1, C_ALNUM)))
		return 0; /* "1.2.3.4.5", "1.2.3.4-beta" */
	if (version_before(sc, i))
		return 0;
	return j;
}

#define IPV6_MAX_TEXT 45

static size_t scan_ipv6(const struct scan *sc, size_t i)
{
	char buf[IPV6_MAX_TEXT + 1];
	struct in6_addr a;
	size_t j = i, colons = 0, hex = 0;

	if (i > 0 && (sc->s[i - 1] == ':' || sc->s[i - 1] == '.'))
		return 0; /* the tail of something longer ("1:2:3:4:5:6:7:8:9") */
	while (j < sc->n && j - i < 4 && (cls[sc->s[j]] & C_HEX))
		j++;
	if (at(sc, j) != ':')
		return 0; /* the first group ends within four hex digits, on a colon */
	j = i;
	while (j < sc->n && j - i <= IPV6_MAX_TEXT &&
	       ((cls[sc->s[j]] & C_HEX) || sc->s[j] == ':' || sc->s[j] == '.')) {
		colons += sc->s[j] == ':';
		hex += (cls[sc->s[j]] & C_HEX) != 0;
		j++;
	}
	if (colons < 2 || hex == 0 || j - i > IPV6_MAX_TEXT || is_(sc, j, C_WORD))
		return 0;
	for (int tries = 0; tries < 2; tries++) {
		memcpy(buf, sc->s + i, j - i);
		buf[j - i] = '\0';
		if (inet_pton(AF_INET6, buf, &a) == 1)
			return j;
		if (j - i < 3 || (sc->s[j - 1] != '.' && sc->s[j - 1] != ':'))
			return 0;
		j--; /* "at fe80::1." */
	}
	return 0;
}

/* --- IBAN --------------------------------------------------------------------------------- */

static const struct {
	char cc[3];
	uint8_t len;
} iban_lengths[] = {
	{ "AD", 24 }, { "AE", 23 }, { "AL", 28 }, { "AT", 20 }, { "AZ", 28 }, { "BA", 20 },
	{ "BE", 16 }, { "BG", 22 }, { "BH", 22 }, { "BR", 29 }, { "CH", 21 }, { "CR", 22 },
	{ "CY", 28 }, { "CZ", 24 }, { "DE", 22 }, { "DK", 18 }, { "DO", 28 }, { "EE", 20 },
	{ "EG", 29 }, { "ES", 24 }, { "FI", 18 }, { "FO", 18 }, { "FR", 27 }, { "GB", 22 },
	{ "GE", 22 }, { "GI", 23 }, { "GL", 18 }, { "GR", 27 }, { "GT", 28 }, { "HR", 21 },
	{ "HU", 28 }, { "IE", 22 }, { "IL", 23 }, { "IS", 26 }, { "IT", 27 }, { "JO", 30 },
	{ "KW", 30 }, { "KZ", 20 }, { "LB", 28 }, { "LI", 21 }, { "LT", 20 }, { "LU", 20 },
	{ "LV", 21 }, { "MC", 27 }, { "MD", 24 }, { "ME", 22 }, { "MK", 19 }, { "MR", 27 },
	{ "MT", 31 }, { "MU", 30 }, { "NL", 18 }, { "NO", 15 }, { "PK", 24 }, { "PL", 28 },
	{ "PS", 29 }, { "PT", 25 }, { "QA", 29 }, { "RO", 24 }, { "RS", 22 }, { "SA", 24 },
	{ "SE", 24 }, { "SI", 19 }, { "SK", 24 }, { "SM", 27 }, { "TN", 24 }, { "TR", 26 },
	{ "UA", 29 }, { "VG", 24 }, { "XK", 20 },
};

#define IBAN_MAX 34

static size_t scan_iban(const struct scan *sc, size_t i)
{
	char v[IBAN_MAX];
	size_t want = 0, nv = 0, j = i;
	unsigned rem = 0;

	if (!is_(sc, i + 1, C_UPPER) || !digits_at(sc, i + 2, 2))
		return 0;
	if (i > 0 && (sc->s[i - 1] == '-' || sc->s[i - 1] == '.' || sc->s[i - 1] == '/'))
		return 0; /* "SKU-DE89…": part of an identifier */
	for (size_t k = 0; k < ARRAY_SIZE(iban_lengths); k++)
		if (iban_lengths[k].cc[0] == sc->s[i] && iban_lengths[k].cc[1] == sc->s[i + 1]) {
			want = iban_lengths[k].len;
			break;
		}
	if (!want)
		return 0;
	while (nv < want) {
		if (nv > 0 && nv % 4 == 0 && at(sc, j) == ' ' && is_(sc, j + 1, C_DIGIT | C_UPPER))
			j++;
		if (!is_(sc, j, C_DIGIT | C_UPPER))
			return 0;
		v[nv++] = sc->s[j++];
	}
	if (is_(sc, j, C_WORD))
		return 0;
	for (size_t k = 0; k < want; k++) {
		char c = v[(k + 4) % want];

		if (c >= '0' && c <= '9')
			rem = (rem * 10 + (c - '0')) % 97;
		else
			rem = (rem * 100 + (c - 'A' + 10)) % 97;
	}
	return rem == 1 ? j : 0;
}

/* --- secrets ------------------------------------------------------------------------------ */

static size_t run_of(const struct scan *sc, size_t j, uint8_t c, size_t max)
{
	size_t k = 0;

	while (k < max && is_(sc, j + k, c))
		k++;
	return k;
}

/* AKIA / ASIA + 16 upper-case letters and digits. */
static size_t scan_aws_id(const struct scan *sc, size_t i)
{
	if (!prefix(sc, i, "AKIA") && !prefix(sc, i, "ASIA"))
		return 0;
	if (run_of(sc, i + 4, C_DIGIT | C_UPPER, 17) != 16 || is_(sc, i + 20, C_WORD))
		return 0;
	return i + 20;
}

/* aws_secret…[ "'=:]* then 40 base64 characters: the match is the 40 characters. */
static size_t scan_aws_secret(const struct scan *sc, size_t i, size_t *ret_start)
{
	size_t j = i + 10, k = 0, l;

	if (!prefix_ci(sc, i, "aws_secret"))
		return 0;
	while (j < sc->n && j - i < 40 && (cls[sc->s[j]] & (C_ALNUM | C_UNDER)))
		j++;
	while (k < 8 && j < sc->n && strchr(" \t\"'=:", sc->s[j]) && sc->s[j]) {
		j++;
		k++;
	}
	l = run_of(sc, j, C_ALNUM | C_B64, 41);
	if (l != 40)
		return 0;
	*ret_start = j;
	return j + 40;
}

/* ghp_/gho_/ghu_/ghs_/ghr_ + 36 or more alphanumerics; github_pat_ + 22 or more. */
static size_t scan_github(const struct scan *sc, size_t i)
{
	size_t l;

	if (prefix(sc, i, "github_pat_")) {
		l = run_of(sc, i + 11, C_WORD, 256);
		return l >= 22 && l < 256 ? i + 11 + l : 0;
	}
	if (!prefix(sc, i, "gh") || !strchr("pousr", at(sc, i + 2)) || at(sc, i + 2) <= 0 ||
	    at(sc, i + 3) != '_')
		return 0;
	l = run_of(sc, i + 4, C_ALNUM, 256);
	if (l < 36 || l >= 256 || at(sc, i + 4 + l) == '_')
		return 0;
	return i + 4 + l;
}

/* xox[abprs]- + 10 or more of [A-Za-z0-9-]. */
static size_t scan_slack(const struct scan *sc, size_t i)
{
	size_t j = i + 5, l = 0;

	if (!prefix(sc, i, "xox") || at(sc, i + 3) <= 0 || !strchr("abprs", at(sc, i + 3)) ||
	    at(sc, i + 4) != '-')
		return 0;
	while (j + l < sc->n && l < 512 && ((cls[sc->s[j + l]] & C_ALNUM) || sc->s[j + l] == '-'))
		l++;
	return l >= 10 && l < 512 && !is_(sc, j + l, C_UNDER) ? j + l : 0;
}

#define JWT_MAX_HEADER 1024
#define JWT_MAX_PART 16384

static size_t b64url_run(const struct scan *sc, size_t j, size_t max)
{
	size_t l = 0;

	while (j + l < sc->n && l < max && mw_b64url_value(sc->s[j + l]) >= 0)
		l++;
	return l;
}

/* Three base64url parts, the first decoding to a JSON object with "alg". */
static size_t scan_jwt(const struct scan *sc, size_t i)
{
	char hdr[JWT_MAX_HEADER * 3 / 4 + 4];
	size_t h, p, g, nh = 0, j;

	if (!prefix(sc, i, "eyJ"))
		return 0;
	h = b64url_run(sc, i, JWT_MAX_HEADER + 1);
	if (h < 10 || h > JWT_MAX_HEADER || at(sc, i + h) != '.')
		return 0;
	p = b64url_run(sc, i + h + 1, JWT_MAX_PART + 1);
	if (p < 2 || p > JWT_MAX_PART || at(sc, i + h + 1 + p) != '.')
		return 0;
	j = i + h + 1 + p + 1;
	g = b64url_run(sc, j, JWT_MAX_PART + 1);
	if (g > JWT_MAX_PART || at(sc, j + g) == '.' || is_(sc, j + g, C_WORD))
		return 0;
	if (mw_b64url_decode((const char *)sc->s + i, h, (unsigned char *)hdr, sizeof(hdr),
			     &nh) < 0)
		return 0;
	if (hdr[0] != '{' || !memmem(hdr, nh, "\"alg\"", 5))
		return 0;
	return j + g;
}

#define BEARER_MIN_TOKEN 16
#define BEARER_MAX_TOKEN 8192

/* "Bearer <token>" (any case): the token, when it looks like one (16 or more token
 * characters, at least one of them not a letter). */
static size_t scan_bearer(const struct scan *sc, size_t i, size_t *ret_start)
{
	size_t j = i + 6, l = 0;
	bool nonalpha = false;

	if (!prefix_ci(sc, i, "bearer") || at(sc, j) != ' ')
		return 0;
	while (at(sc, j) == ' ' && j - i < 10)
		j++;
	while (j + l < sc->n && l <= BEARER_MAX_TOKEN &&
	       ((cls[sc->s[j + l]] & (C_ALNUM | C_B64)) || sc->s[j + l] == '.' ||
		sc->s[j + l] == '~')) {
		if (!(cls[sc->s[j + l]] & (C_UPPER | C_LOWER)))
			nonalpha = true;
		l++;
	}
	if (l < BEARER_MIN_TOKEN || l > BEARER_MAX_TOKEN || !nonalpha)
		return 0;
	*ret_start = j;
	return j + l;
}

#define PEM_MAX_LABEL 64

/* -----BEGIN … PRIVATE KEY----- to its END line; to the end of the text when cut off. */
static size_t scan_pem(const struct scan *sc, size_t i)
{
	const unsigned char *e, *lim;
	size_t j = i + 11;

	if (!prefix(sc, i, "-----BEGIN "))
		return 0;
	lim = sc->s + (sc->n - j < PEM_MAX_LABEL + 16 ? sc->n : j + PEM_MAX_LABEL + 16);
	e = memmem(sc->s + j, lim - (sc->s + j), "PRIVATE KEY-----", 16);
	if (!e || memchr(sc->s + j, '\n', e - (sc->s + j)))
		return 0;
	j = e - sc->s + 16;
	e = memmem(sc->s + j, sc->n - j, "-----END ", 9);
	if (!e)
		return sc->n;
	j = e - sc->s + 9;
	lim = sc->s + (sc->n - j < PEM_MAX_LABEL + 16 ? sc->n : j + PEM_MAX_LABEL + 16);
	e = memmem(sc->s + j, lim - (sc->s + j), "-----", 5);
	return e ? (size_t)(e - sc->s) + 5 : sc->n;
}

/* --- email -------------------------------------------------------------------------------- */

#define EMAIL_MAX_LOCAL 64
#define EMAIL_MAX_DOMAIN 253
#define EMAIL_MAX_LABEL 63

/* Letters of any script (RFC 6531): UTF-8 bytes count as local-part characters. */
static bool email_local_char(unsigned char c)
{
	return (cls[c] & C_WORD) || c >= 0x80 || c == '.' || c == '%' || c == '+' || c == '-';
}

/* At '@' (i): the local part backwards, the domain forwards. */
static size_t scan_email(const struct scan *sc, size_t i, size_t *ret_start)
{
	size_t a = i, j = i + 1, labels = 0, last = 0, lastlen = 0, end = 0;
	bool last_alpha = true;

	while (a > sc->floor && i - a < EMAIL_MAX_LOCAL && email_local_char(sc->s[a - 1]))
		a--;
	while (a < i && (sc->s[a] == '.' || sc->s[a] == '-' || sc->s[a] == '+' ||
			 (sc->s[a] & 0xc0) == 0x80))
		a++; /* and never start inside a UTF-8 sequence */
	if (a == i || sc->s[i - 1] == '.')
		return 0;
	for (;;) {
		size_t l = 0;

		last_alpha = true;
		while (j + l < sc->n && l <= EMAIL_MAX_LABEL &&
		       ((cls[sc->s[j + l]] & C_ALNUM) || sc->s[j + l] == '-')) {
			if (!(cls[sc->s[j + l]] & (C_UPPER | C_LOWER)))
				last_alpha = false;
			l++;
		}
		if (l == 0 || l > EMAIL_MAX_LABEL || sc->s[j] == '-' || sc->s[j + l - 1] == '-')
			break;
		labels++;
		last = j;
		lastlen = l;
		end = j + l;
		if (end - (i + 1) > EMAIL_MAX_DOMAIN)
			return 0;
		if (at(sc, end) == '.' && is_(sc, end + 1, C_ALNUM)) {
			j = end + 1;
			continue;
		}
		break;
	}
	(void)last;
	if (labels < 2 || !last_alpha || lastlen < 2 || end == 0)
		return 0;
	if (is_(sc, end, C_WORD) || at(sc, end) == '@' || at(sc, end) == '-')
		return 0;
	*ret_start = a;
	return end;
}

/* --- the loop ----------------------------------------------------------------------------- */

#define ON(k) (sc->det & (1u << (k)))

/* An IPv6 address's first group ends within four hex digits, on a colon: most words are
 * turned away here without a call. */
static inline bool ipv6_maybe(const struct scan *sc, size_t i)
{
	for (size_t k = 0; k < 5; k++) {
		int c = at(sc, i + k);

		if (c == ':')
			return true;
		if (c < 0 || !(cls[c] & C_HEX))
			return false;
	}
	return false;
}

/* A token starting with a letter, digit or '_' at i: the end of a match (and its start and
 * kind), or 0. */
static size_t scan_word(const struct scan *sc, size_t i, size_t *ret_start,
			enum mw_mask_kind *ret_kind)
{
	unsigned char c = sc->s[i];
	size_t e;

	*ret_start = i;
	if (cls[c] & C_DIGIT) {
		if (!num_start_ok(sc, i))
			return 0;
		if (ON(MW_MASK_US_SSN) && (e = scan_ssn(sc, i)))
			return *ret_kind = MW_MASK_US_SSN, e;
		if (ON(MW_MASK_PHONE) && (e = scan_phone_na(sc, i)))
			return *ret_kind = MW_MASK_PHONE, e;
		if (ON(MW_MASK_CREDIT_CARD) && (e = scan_card(sc, i)))
			return *ret_kind = MW_MASK_CREDIT_CARD, e;
		if (ON(MW_MASK_IPV4) && (e = scan_ipv4(sc, i)))
			return *ret_kind = MW_MASK_IPV4, e;
		if (ON(MW_MASK_IPV6) && ipv6_maybe(sc, i) && (e = scan_ipv6(sc, i)))
			return *ret_kind = MW_MASK_IPV6, e;
		return 0;
	}
	*ret_kind = MW_MASK_SECRET;
	if (ON(MW_MASK_SECRET)) {
		switch (c) {
		case 'A':
			if ((e = scan_aws_id(sc, i)))
				return e;
			/* fall through */
		case 'a':
			if ((e = scan_aws_secret(sc, i, ret_start)))
				return e;
			break;
		case 'B':
		case 'b':
			if ((e = scan_bearer(sc, i, ret_start)))
				return e;
			break;
		case 'e':
			if ((e = scan_jwt(sc, i)))
				return e;
			break;
		case 'g':
			if ((e = scan_github(sc, i)))
				return e;
			break;
		case 'x':
			if ((e = scan_slack(sc, i)))
				return e;
			break;
		}
	}
	if (ON(MW_MASK_IBAN) && (cls[c] & C_UPPER) && (e = scan_iban(sc, i)))
		return *ret_kind = MW_MASK_IBAN, e;
	if (ON(MW_MASK_IPV6) && (cls[c] & C_HEX) && ipv6_maybe(sc, i) && (e = scan_ipv6(sc, i)))
		return *ret_kind = MW_MASK_IPV6, e;
	return 0;
}

int mask_detect(unsigned detectors, const char *s, size_t n, struct mask_matches *m)
{
	struct scan sc = { .s = (const unsigned char *)s, .n = n, .det = detectors };
	size_t i = 0;
	int r;

	if (!(detectors & MASK_BUILTIN_ALL))
		return 0;
	while (i < n) {
		unsigned char c = sc.s[i];
		uint8_t k = cls[c];
		size_t start = i, e = 0;
		enum mw_mask_kind kind = MW_MASK_SECRET;

		if (!(k & (C_WORD | C_SPECIAL))) {
			i++;
			continue;
		}
		if (k & C_WORD) {
			e = scan_word(&sc, i, &start, &kind);
			if (!e) {
				i++;
				while (i < n && (cls[sc.s[i]] & C_WORD))
					i++;
				continue;
			}
		} else if (c == '@') {
			if (detectors & (1u << MW_MASK_EMAIL)) {
				e = scan_email(&sc, i, &start);
				kind = MW_MASK_EMAIL;
			}
		} else if (c == '+') {
			if (detectors & (1u << MW_MASK_PHONE)) {
				e = scan_phone_e164(&sc, i);
				kind = MW_MASK_PHONE;
			}
		} else if (c == '(') {
			if ((detectors & (1u << MW_MASK_PHONE)) &&
			    (i == 0 || !(cls[sc.s[i - 1]] & C_WORD))) {
				e = scan_phone_na(&sc, i);
				kind = MW_MASK_PHONE;
			}
		} else if (c == '-') {
			if (detectors & (1u << MW_MASK_SECRET)) {
				e = scan_pem(&sc, i);
				kind = MW_MASK_SECRET;
			}
		} else if (c == ':') {
			if ((detectors & (1u << MW_MASK_IPV6)) && at(&sc, i + 1) == ':' &&
			    (i == 0 || (!(cls[sc.s[i - 1]] & C_WORD) && sc.s[i - 1] != ':'))) {
				e = scan_ipv6(&sc, i);
				kind = MW_MASK_IPV6;
			}
		}
		if (!e) {
			i++;
			continue;
		}
		r = mask_matches_add(m, start, e, kind, -1);
		if (r < 0)
			return r;
		sc.floor = e;
		i = e;
	}
	return 0;
}
