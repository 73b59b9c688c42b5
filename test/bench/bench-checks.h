/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "bench-boot.h"
#include "bench-identity.h"

/* What GET /v1/node/check costs the server: every running node checks every CheckInterval= (30 s), so 10,000
 * nodes make 333 checks/s. Each node authenticates once first; its session token stays in this process's
 * memory only (wiped, not in core dumps). Then four paced loads at the same rate, each with warm-up and a
 * measured window:
 *   GET /v1/health over fresh connections: the floor, TLS and HTTP with no authentication and no database,
 *   GET /v1/node/check over fresh connections, round-robin over the nodes: the realistic case (the server
 *     closes a connection after 30 s idle, the check interval, and holds at most 4,096),
 *   the same two over connections kept alive by the client threads.
 * Every check must answer 200 {reattest: false}, every health check 200. */
typedef struct BenchChecks {
        const char *url;
        const char *cacert;
        const BenchIdentities *ids; /* the nodes, enrolled and enabled */
        const BenchBoot *boot;      /* the boot they attest, NULL for none */
        unsigned threads;           /* client threads of the kept-alive loads; more for fresh ones */
        unsigned rate;              /* requests per second */
        unsigned warmup_sec;
        unsigned duration_sec;
        unsigned handshake_delay_msec; /* fresh loads: a round trip emulated in each handshake, 0 for none */
        pid_t server_pid;           /* 0: the server's CPU and RSS are not accounted */
} BenchChecks;

/* Logs each load and prints one JSON line. -EIO if any request failed, other -errno if the loads could not
 * run. */
int bench_checks_run(const BenchChecks *c);
