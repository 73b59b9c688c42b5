/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-stats.h"

uint64_t now_monotonic_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int latency_log_reserve(LatencyLog *l, size_t extra) {
        size_t want = l->n + extra, a;
        uint64_t *p;

        if (want <= l->allocated)
                return 0;
        a = MAX(want, MAX(l->allocated * 2, (size_t) 4096));
        p = reallocarray(l->nsec, a, sizeof(uint64_t));
        if (!p)
                return -ENOMEM;
        l->nsec = p;
        l->allocated = a;
        return 0;
}

int latency_log_add(LatencyLog *l, uint64_t nsec) {
        int r = latency_log_reserve(l, 1);
        if (r < 0)
                return r;
        l->nsec[l->n++] = nsec;
        return 0;
}

int latency_log_merge(LatencyLog *into, const LatencyLog *from) {
        int r = latency_log_reserve(into, from->n);
        if (r < 0)
                return r;
        if (from->n > 0)
                memcpy(into->nsec + into->n, from->nsec, from->n * sizeof(uint64_t));
        into->n += from->n;
        return 0;
}

void latency_log_done(LatencyLog *l) {
        free(l->nsec);
        *l = (LatencyLog) {};
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

void latency_log_sort(LatencyLog *l) {
        if (l->n > 1)
                qsort(l->nsec, l->n, sizeof(uint64_t), cmp_u64);
}

uint64_t latency_log_percentile(const LatencyLog *l, double p) {
        size_t rank;

        if (l->n == 0)
                return 0;
        /* Nearest rank: the smallest value with at least p% of the values at or below it. */
        rank = (size_t) ceil(p / 100.0 * (double) l->n);
        return l->nsec[MIN(MAX(rank, (size_t) 1), l->n) - 1];
}
