/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tor-metrics.h"

/* Each relay's last MetricsPort summary, as its node reported it (POST /v1/node/relay-metrics), in the server's
 * memory: gauges and tor's own counters for Prometheus, not state. A restart forgets them until each node's next
 * report (at most RelayMetricsInterval= later); docs/observability.md says why that is acceptable and what it
 * saves (a write transaction per report under the request threads' lock). */
typedef struct RelayMetricsEntry {
        int64_t relay_id;     /* relays.id */
        int64_t reported_at;  /* seconds since the epoch */
        uint64_t stored_usec; /* CLOCK_MONOTONIC: when it was stored */
        TorRelayMetrics m;
} RelayMetricsEntry;

/* The entries in one dense array (a copy for a scrape is one memcpy()), found through an open-addressing index of
 * relay id → position; behind a mutex of its own (never the database's): the request threads store into it, the
 * metrics thread copies it out. */
typedef struct RelayMetricsStore {
        pthread_mutex_t lock;
        RelayMetricsEntry *entries;
        size_t n_entries, n_entries_allocated;
        int32_t *index;  /* RELAY_METRICS_EMPTY, RELAY_METRICS_REMOVED, or a position in entries */
        size_t n_index; /* 0 or a power of two, at least twice the positions and removed slots */
        size_t n_removed;
} RelayMetricsStore;

#define RELAY_METRICS_EMPTY (-1)
#define RELAY_METRICS_REMOVED (-2)

/* The slot of a relay id in a table of n_slots (a power of two), for the store and the render's index. */
uint64_t relay_metrics_hash(int64_t relay_id, size_t n_slots);

void relay_metrics_store_init(RelayMetricsStore *s);
void relay_metrics_store_done(RelayMetricsStore *s);

/* Stores n relays' summaries (replacing earlier ones), all or nothing: -ENOMEM leaves the store as it was. */
int relay_metrics_store_put(RelayMetricsStore *s, const int64_t *relay_ids, const TorRelayMetrics *metrics, size_t n,
                            int64_t reported_at);
/* A copy of one relay's entry: false if none. */
bool relay_metrics_store_get(RelayMetricsStore *s, int64_t relay_id, RelayMetricsEntry *ret);
/* Every entry, in no particular order, copied into *buf (grown as needed, kept by the caller for the next call):
 * the mutex is held for the copy alone (some 7 MB with 40,000 relays: 1–3 ms). */
int relay_metrics_store_snapshot(RelayMetricsStore *s, RelayMetricsEntry **buf, size_t *allocated, size_t *ret_n);
/* Removes the entries of these relays that were stored before before_usec (CLOCK_MONOTONIC): relays a reader
 * found gone from the database in a read that began at before_usec. One stored later is of a relay that existed
 * then, and stays. */
void relay_metrics_store_remove(RelayMetricsStore *s, const int64_t *relay_ids, size_t n, uint64_t before_usec);
