/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "bench-boot.h"
#include "bench-identity.h"

/* What GET /v1/node/check costs the server: every running node checks every CheckInterval= (30 s), so 10,000
 * nodes make 333 checks/s. Each node authenticates once first; its session token stays in this process's
 * memory only (wiped, not in core dumps). Then paced loads at the same rate, each with warm-up and a
 * measured window:
 *   fresh: GET /v1/health over fresh connections, the floor (TLS and HTTP with no authentication and no
 *     database), then GET /v1/node/check, round-robin over the nodes: the worst case, every node
 *     reconnecting (after a server restart, or with an IdleTimeout= below the interval),
 *   kept-alive: the same two over the few connections the client threads keep (4 by default): the server's
 *     cost per request with no handshake, but not its cost of holding the fleet's connections,
 *   per-node: GET /v1/node/check over one connection per node, each from an address of its own (127.1.0.1
 *     on) and idle one interval (nodes ÷ rate) between its node's checks: a running fleet's pattern. The
 *     warm-up is one interval (each connection opened with its node's first check), the window at least
 *     one; the server's RSS and descriptors before and with every connection held.
 * Every check must answer 200 {reattest: false}, every health check 200. */
typedef enum BenchCheckLoads {
        BENCH_CHECKS_FRESH = 1U << 0,
        BENCH_CHECKS_KEPT_ALIVE = 1U << 1,
        BENCH_CHECKS_PER_NODE = 1U << 2,
        _BENCH_CHECKS_ALL = BENCH_CHECKS_FRESH | BENCH_CHECKS_KEPT_ALIVE | BENCH_CHECKS_PER_NODE,
} BenchCheckLoads;

typedef struct BenchChecks {
        const char *url;
        const char *cacert;
        BenchIdentities *ids; /* the nodes, enrolled and enabled (their logs_accepted kept up to date) */
        const BenchBoot *boot;      /* the boot they attest, NULL for none */
        unsigned threads;           /* client threads of the kept-alive loads; more for fresh ones */
        unsigned rate;              /* requests per second */
        unsigned warmup_sec;
        unsigned duration_sec;
        unsigned handshake_delay_msec; /* fresh loads: a round trip emulated in each handshake, 0 for none */
        pid_t server_pid;           /* 0: the server's CPU and RSS are not accounted */
        BenchCheckLoads loads;      /* which of them run, in the order above */
} BenchChecks;

/* Logs each load and prints one JSON line ({"fresh": …, "kept_alive": …, "per_node": …}, null for a load not
 * run). -EIO if any request failed, other -errno if the loads could not run. */
int bench_checks_run(const BenchChecks *c);
