/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* What patela reads of a relay's MetricsPort (tor ≥ 0.4.7, Prometheus text): the series an operator of exits
 * watches (docs/observability.md). Counters are tor's own: they restart at 0 when the relay restarts. */

/* The exit DNS error reasons tor 0.4.9 reports (tor_relay_exit_dns_error_total{reason}); a DNS timeout is
 * "tor_timeout". Other reasons a later tor adds are not read. */
typedef enum TorDnsReason {
        TOR_DNS_SUCCESS,
        TOR_DNS_FORMAT,
        TOR_DNS_SERVERFAILED,
        TOR_DNS_NOTEXIST,
        TOR_DNS_NOTIMPL,
        TOR_DNS_REFUSED,
        TOR_DNS_TRUNCATED,
        TOR_DNS_UNKNOWN,
        TOR_DNS_TOR_TIMEOUT,
        TOR_DNS_SHUTDOWN,
        TOR_DNS_CANCEL,
        TOR_DNS_NODATA,
        _TOR_DNS_REASON_MAX,
        _TOR_DNS_REASON_INVALID = -EINVAL,
} TorDnsReason;

/* The consensus flags tor reports (tor_relay_flag{type}). */
typedef enum TorRelayFlag {
        TOR_FLAG_FAST,
        TOR_FLAG_EXIT,
        TOR_FLAG_AUTHORITY,
        TOR_FLAG_STABLE,
        TOR_FLAG_HSDIR,
        TOR_FLAG_RUNNING,
        TOR_FLAG_V2DIR,
        TOR_FLAG_SYBIL,
        TOR_FLAG_GUARD,
        TOR_FLAG_BADEXIT,
        TOR_FLAG_VALID,
        _TOR_RELAY_FLAG_MAX,
        _TOR_RELAY_FLAG_INVALID = -EINVAL,
} TorRelayFlag;

const char *tor_dns_reason_to_string(TorDnsReason r) _const_;
TorDnsReason tor_dns_reason_from_string(const char *s) _pure_;
const char *tor_relay_flag_to_string(TorRelayFlag f) _const_;
TorRelayFlag tor_relay_flag_from_string(const char *s) _pure_;

typedef struct TorRelayMetrics {
        uint64_t onionskins_dropped; /* tor_relay_load_onionskins_total{action="dropped"}, all types */
        uint64_t oom_bytes;          /* tor_relay_load_oom_bytes_total, all subsystems */
        uint64_t tcp_exhaustion;     /* tor_relay_load_tcp_exhaustion_total */
        uint64_t rate_limit_reached; /* tor_relay_load_global_rate_limit_reached_total, both sides */
        uint64_t dns_queries;        /* tor_relay_exit_dns_query_total */
        uint64_t dns_errors[_TOR_DNS_REASON_MAX];
        uint32_t flags;              /* 1 << TorRelayFlag for each flag tor reports set */
        uint64_t read_bytes;         /* tor_relay_traffic_bytes{direction="read"} */
        uint64_t written_bytes;      /* {direction="written"} */
} TorRelayMetrics;

/* The most of a MetricsPort answer that is read, and of one line: tor's whole answer is some 40 kB. */
#define TOR_METRICS_MAX (1024U * 1024U)
#define TOR_METRICS_LINE_MAX 1024U

/* Reads the series above from a MetricsPort answer (size bytes, no NUL needed). Lines it does not know, and
 * samples it cannot read (a value that is not a number), are skipped: a newer tor's additions do not fail it.
 * -E2BIG past TOR_METRICS_MAX, -EBADMSG for a NUL byte, a line past TOR_METRICS_LINE_MAX, or no tor_relay_
 * series at all (not a relay's MetricsPort). A value past 2^64 - 1, or a negative or fractional one, is
 * clamped to what a counter can be. */
int tor_metrics_parse(const char *text, size_t size, TorRelayMetrics *ret);
