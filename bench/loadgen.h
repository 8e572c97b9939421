/* loadgen.h - what bench/sseload.c and bench/wampload.c share: clocks,
 * allocation that dies on failure, a log-linear latency histogram and a
 * growable bitmap of event counters.  Header-only (static inline), since
 * each load generator is built from one .c file by bench/run.sh. */
#ifndef SB_BENCH_LOADGEN_H
#define SB_BENCH_LOADGEN_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- small helpers --------------------------------------------------------- */

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

__attribute__((format(printf, 1, 2), noreturn))
static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", program_invocation_short_name);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

static inline void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		die("out of memory");
	return p;
}

static inline void *xrealloc(void *p, size_t sz)
{
	p = realloc(p, sz ? sz : 1);
	if (!p)
		die("out of memory");
	return p;
}

static inline double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

/* ---- latency histogram (microseconds, log-linear, < 1% error) ------------- */

#define H_SUB 128
#define H_BUCKETS (256 + 48 * H_SUB)

struct hist {
	uint64_t b[H_BUCKETS];
	uint64_t n;
	uint64_t max;
};

static inline int hist_index(uint64_t v)
{
	int e;

	if (v < 256)
		return (int)v;
	e = 63 - __builtin_clzll(v);
	if (e > 55)
		e = 55;
	return 256 + (e - 8) * H_SUB + (int)((v >> (e - 7)) & (H_SUB - 1));
}

static inline uint64_t hist_value(int i)
{
	int e, sub;

	if (i < 256)
		return (uint64_t)i;
	e = (i - 256) / H_SUB + 8;
	sub = (i - 256) % H_SUB;
	/* middle of the bucket */
	return ((uint64_t)(H_SUB + sub) << (e - 7)) + ((1ULL << (e - 7)) >> 1);
}

static inline void hist_add(struct hist *h, int64_t us)
{
	uint64_t v = us < 0 ? 0 : (uint64_t)us;

	h->b[hist_index(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* Percentile p (0..100) in microseconds; 0 when empty. */
static inline uint64_t hist_pct(const struct hist *h, double p)
{
	uint64_t want, acc = 0;
	int i;

	if (!h->n)
		return 0;
	want = (uint64_t)((double)h->n * p / 100.0 + 0.5);
	if (want < 1)
		want = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		acc += h->b[i];
		if (acc >= want)
			return hist_value(i) > h->max ? h->max : hist_value(i);
	}
	return h->max;
}

/* ---- bitmap of counters ----------------------------------------------------- */

struct bits {
	uint64_t *w;
	size_t nw;		/* words allocated */
};

/* Sets bit n; returns 1 if it was already set. */
static inline int bits_set(struct bits *b, uint64_t n)
{
	size_t wi = n >> 6;
	uint64_t m = 1ULL << (n & 63);
	int was;

	if (wi >= b->nw) {
		size_t nw = b->nw ? b->nw : 4;

		while (nw <= wi)
			nw *= 2;
		b->w = xrealloc(b->w, nw * sizeof(uint64_t));
		memset(b->w + b->nw, 0, (nw - b->nw) * sizeof(uint64_t));
		b->nw = nw;
	}
	was = (b->w[wi] & m) != 0;
	b->w[wi] |= m;
	return was;
}

static inline int bits_get(const struct bits *b, uint64_t n)
{
	size_t wi = n >> 6;

	return wi < b->nw && (b->w[wi] >> (n & 63)) & 1;
}

#endif
