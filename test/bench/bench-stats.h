/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* Latencies of the benchmark's authentications, in nanoseconds of CLOCK_MONOTONIC. Each worker thread
 * owns one log; they are merged after the run. */
typedef struct LatencyLog {
        uint64_t *nsec;
        size_t n;
        size_t allocated;
} LatencyLog;

int latency_log_add(LatencyLog *l, uint64_t nsec);
int latency_log_merge(LatencyLog *into, const LatencyLog *from);
void latency_log_done(LatencyLog *l);

/* Sorts the log; the percentile of a sorted log (p in [0, 100], nearest rank), 0 for an empty one. */
void latency_log_sort(LatencyLog *l);
uint64_t latency_log_percentile(const LatencyLog *l, double p);

uint64_t now_monotonic_nsec(void);
