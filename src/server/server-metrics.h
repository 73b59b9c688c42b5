/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "protocol.h"
#include "server-db.h"
#include "server-relay-metrics.h"

/* The server's own counters, since the process started (Prometheus counters: a restart resets them, and rate()
 * and increase() see the reset; patela_server_start_time_seconds dates them). What the database knows (nodes,
 * sessions, verdicts per node) is read from it at each scrape instead: it survives restarts by itself. Every
 * field is atomic: the request threads count, the metrics thread reads. docs/observability.md says why these. */

/* Upper bounds of the latency histogram's buckets, in µs (Prometheus "le", in seconds); +Inf is the count. */
#define METRICS_LATENCY_BUCKETS 14U
extern const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS];

/* Outcome of a request as counted: the error code it was answered with, or METRICS_RESULT_OK. */
#define METRICS_RESULT_OK ((unsigned) _PROTO_ERROR_MAX)
/* An endpoint as counted: a ProtoEndpoint, or METRICS_ENDPOINT_OTHER for a path that is none. */
#define METRICS_ENDPOINT_OTHER ((unsigned) _PROTO_ENDPOINT_MAX)

typedef struct MetricsHistogram {
        _Atomic uint64_t buckets[METRICS_LATENCY_BUCKETS]; /* not cumulative: each request in its first bucket */
        _Atomic uint64_t count;
        _Atomic uint64_t sum_usec;
} MetricsHistogram;

typedef struct Metrics {
        uint64_t start_usec; /* CLOCK_REALTIME at start */
        _Atomic uint64_t requests[_PROTO_ENDPOINT_MAX + 1][_PROTO_ERROR_MAX + 1];
        _Atomic uint64_t enrolments[_PROTO_ENROLL_STATE_MAX];
        _Atomic uint64_t verdicts[_PROTO_VERDICT_MAX][2]; /* [verdict][refused] */
        MetricsHistogram latency[2];                       /* POST /v1/enroll, POST /v1/attest */
        _Atomic uint64_t scrapes_refused;                  /* /metrics and /v1/status without the token */
        _Atomic uint64_t last_render_usec;                 /* how long the previous /metrics took to render */
        _Atomic uint64_t last_relays_render_usec;          /* and the previous /metrics/relays */
        _Atomic uint64_t tls_handshakes[2];                /* nodes' listeners, [resumed] */
        _Atomic uint64_t tls_handshake_timeouts;           /* nodes' listeners: handshakes ended for their time */
        _Atomic uint64_t log_cache[2];                     /* attestations' event logs judged, [found in cache] */
        _Atomic uint64_t challenges[2];                    /* enabled nodes' challenges, [quote-only] */
        _Atomic uint64_t unlogged_refusals;                /* refused answers past the per-node logging bound */
} Metrics;

void metrics_init(Metrics *m);

/* A finished API request: its endpoint (ProtoEndpoint, or METRICS_ENDPOINT_OTHER), its result (a ProtoErrorCode,
 * or METRICS_RESULT_OK) and how long it took, from its headers to its answer. */
void metrics_count_request(Metrics *m, unsigned endpoint, unsigned result, uint64_t usec);
/* An enrolment answered with this state. */
void metrics_count_enrolment(Metrics *m, ProtoEnrollState state);
/* A judged attestation (its quote verified): its measured-boot verdict, and whether MeasuredBoot= refused it. */
void metrics_count_verdict(Metrics *m, ProtoVerdict v, bool refused);

/* A refused attestation answer left out of the attestation log: its node had CHALLENGES_PER_NODE_MAX refusals
 * logged within the challenge lifetime (server-challenge.h). */
void metrics_count_unlogged_refusal(Metrics *m);

/* A completed TLS handshake on a nodes' listener: full, or resumed from a session ticket. */
void metrics_count_handshake(Metrics *m, bool resumed);
/* A TLS handshake on a nodes' listener ended because it took longer than server_handshake_timeout_usec(). */
void metrics_count_handshake_timeout(Metrics *m);
void metrics_count_log_cache(Metrics *m, bool hit);
/* An enabled node's challenge: with a credential, or quote-only. */
void metrics_count_challenge(Metrics *m, bool quote_only);

/* What a scrape shows besides the counters: the server's settings and files. */
typedef struct MetricsContext {
        const Metrics *metrics;
        const char *database_path;
        int64_t tls_not_after;  /* seconds since the epoch; 0: unknown */
        int64_t ca_not_after;   /* 0: no CACertificate= */
        uint64_t session_lifetime_usec;
        uint64_t check_interval_usec;
        uint64_t relay_metrics_interval_usec;
} MetricsContext;

/* Writes the Prometheus text exposition (version 0.0.4) to f: the counters, then what db says, read in one read
 * transaction on db (a connection of the metrics thread's own: on WAL it never waits for the request threads'
 * writes, nor they for it). */
int metrics_render(const MetricsContext *c, Db *db, FILE *f);
/* A growing buffer of known-length appends; oom set once an append failed (the rest are dropped). */
typedef struct MetricsBuf {
        char *data;
        size_t size, allocated;
        bool oom;
} MetricsBuf;

/* What one render of /metrics/relays needs besides its output, kept for the next: the store's entries and the
 * relays they are joined with. */
typedef struct MetricsRelayRow MetricsRelayRow;
typedef struct MetricsRelayScratch {
        RelayMetricsEntry *entries;
        size_t n_entries_allocated;
        int32_t *index; /* open addressing: relay id → entries[i], -1 empty */
        size_t n_index_allocated;
        uint8_t *matched; /* per entry: its relay is in the database */
        size_t n_matched_allocated;
        MetricsRelayRow *rows;
        size_t n_rows_allocated;
        int64_t *gone;
        size_t n_gone_allocated;
} MetricsRelayScratch;
void metrics_relay_scratch_done(MetricsRelayScratch *s);

/* /metrics/relays: each relay's series from its node's last MetricsPort report (the store, in memory), for the
 * relays the database has (read in one read transaction on db, the metrics thread's connection): a relay removed
 * from the database loses its series, and its entry. Appended to out (whose allocation is reused). A path of its
 * own: with 40,000 relays they are some 560,000 lines, fifteen times the rest, and Prometheus can scrape them less
 * often (docs/observability.md). */
int metrics_render_relays(Db *db, RelayMetricsStore *store, MetricsRelayScratch *scratch, MetricsBuf *out);

/* Writes s as a label value: backslash, double quote and newline escaped. */
void metrics_write_label_value(FILE *f, const char *s);
