/* bench_stats.h: latency percentiles shared by the benchmark programs (mcpload, mwbench).
 * Header only, static inline: each .c in tests/bench is a program of its own.  Percentiles are
 * nearest rank over samples sorted in place. */
#ifndef MW_BENCH_STATS_H
#define MW_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int bench_cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Ascending, in place. */
static inline void bench_sort_u64(uint64_t *samples, size_t n)
{
	qsort(samples, n, sizeof(*samples), bench_cmp_u64);
}

/* Nearest rank: the smallest of n (> 0) sorted samples with at least permille/1000 of the
 * samples at or below it (1000: the largest). */
static inline uint64_t bench_rank(const uint64_t *sorted, size_t n, uint64_t permille)
{
	uint64_t rank = (permille * n + 999) / 1000;

	if (rank == 0)
		rank = 1;
	return sorted[rank - 1];
}

#endif
