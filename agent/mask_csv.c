/* mask_csv.c: key-name rules for CSV carried as text.  When a text's first line is a header
 * (comma-separated names, at most MASK_CSV_MAX_COLUMNS, the line at most
 * MASK_CSV_MAX_HEADER bytes) and a column's name matches a key-name rule, every cell of that
 * column below becomes a match (kind field or secret) for mask_span() to merge with the
 * detectors' matches.  Cells follow RFC 4180: quoted cells may hold commas, newlines and ""
 * escapes; a quoted cell's content is masked between its quotes, so the CSV stays CSV. */
#include "mask_internal.h"

#define MASK_CSV_MAX_COLUMNS 64
#define MASK_CSV_MAX_HEADER 4096

/* The header's cells: trimmed of spaces and of one pair of quotes. */
static int header_rules(const struct mw_mask_profile *p, const char *s, size_t n,
			enum mw_mask_kind rules[MASK_CSV_MAX_COLUMNS], size_t *ret_end)
{
	const char *nl = memchr(s, '\n', n < MASK_CSV_MAX_HEADER ? n : MASK_CSV_MAX_HEADER);
	size_t end, start = 0, col = 0;
	bool any = false;

	if (!nl || !memchr(s, ',', nl - s))
		return 0;
	end = nl - s;
	if (end > 0 && s[end - 1] == '\r')
		end--;
	for (size_t i = 0; i <= end; i++) {
		size_t a = start, b = i;

		if (i < end && s[i] != ',')
			continue;
		while (a < b && s[a] == ' ')
			a++;
		while (b > a && s[b - 1] == ' ')
			b--;
		if (b - a >= 2 && s[a] == '"' && s[b - 1] == '"')
			a++, b--;
		for (size_t k = a; k < b; k++)
			if ((unsigned char)s[k] < 0x20 || s[k] == '"' || s[k] == '{' || s[k] == '[')
				return 0; /* not a header */
		if (col == MASK_CSV_MAX_COLUMNS)
			return 0;
		rules[col] = mask_key_rule(p, s + a, b - a);
		any |= rules[col] != MW_MASK__MAX;
		col++;
		start = i + 1;
	}
	*ret_end = nl - s + 1;
	return any ? (int)col : 0;
}

int mask_csv_matches(const struct mw_mask_profile *p, const char *s, size_t n,
		     struct mask_matches *m)
{
	enum mw_mask_kind rules[MASK_CSV_MAX_COLUMNS];
	size_t i, col = 0, cell = 0;
	bool quoted = false, in_quotes = false;
	int ncols, r;

	if (!(p->n_fields || (p->detectors & (1u << MW_MASK_SECRET))))
		return 0;
	ncols = header_rules(p, s, n, rules, &i);
	if (ncols <= 0)
		return 0;
	cell = i;
	for (; i <= n; i++) {
		char c = i < n ? s[i] : '\n';

		if (in_quotes) {
			if (c == '"' && i + 1 < n && s[i + 1] == '"')
				i++;
			else if (c == '"')
				in_quotes = false;
			if (i < n)
				continue;
		}
		if (c == '"' && i == cell) {
			quoted = in_quotes = true;
			continue;
		}
		if (c != ',' && c != '\n')
			continue;
		if (col < (size_t)ncols && rules[col] != MW_MASK__MAX) {
			size_t a = cell, b = i;

			if (c == '\n' && b > a && s[b - 1] == '\r')
				b--;
			if (quoted && b - a >= 2 && s[a] == '"' && s[b - 1] == '"')
				a++, b--;
			if (b > a) {
				r = mask_matches_add(m, a, b, rules[col], MASK_PATTERN_CSV);
				if (r < 0)
					return r;
			}
		}
		col = c == '\n' ? 0 : col + 1;
		cell = i + 1;
		quoted = false;
	}
	return 0;
}
