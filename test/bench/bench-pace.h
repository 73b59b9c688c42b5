/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench-http.h"

/* A paced load: request k is due at start + k / rate, whatever the replies' speed (an open loop: nodes
 * check on their own clocks and do not wait for each other). T client threads, each with its own BenchHttp,
 * take the due requests in turn; a request none of them is free for starts late and is counted so. The
 * server's CPU (utime + stime of /proc/PID/stat) and the machine's are sampled at the edges of the measured
 * window, the server's RSS every 100 ms within it; its RSS and open file descriptors also before the first
 * request and at the window's start (what the connections opened in the warm-up hold). */

/* One request, slot k of the run (k counts from 0 at the start of the warm-up): 0 for the expected reply;
 * a negative errno otherwise, counted as an error (the function reports its own failures). */
typedef int (*BenchPaceRequest)(BenchHttp *h, uint64_t k, void *userdata);

typedef struct BenchPace {
        const char *url;
        const char *cacert;
        bool fresh_connections; /* a new TLS connection and full handshake per request; else kept alive */
        unsigned handshake_delay_msec; /* see bench_http_set_handshake_delay() */
        unsigned threads;
        unsigned rate;          /* requests per second */
        unsigned warmup_sec;    /* paced, not measured */
        unsigned duration_sec;  /* measured */
        pid_t server_pid;
        BenchPaceRequest request;
        void *userdata;
} BenchPace;

typedef struct BenchPaceResult {
        unsigned long long slots;    /* requests due over warm-up and window: the next run's first k */
        unsigned long long requests; /* due in the measured window, all of them answered */
        unsigned long long errors;   /* over warm-up and window, a thread that could not start included */
        unsigned long long late;     /* in the window, started more than BENCH_PACE_LATE_MSEC after due */
        double seconds;           /* the window's length */
        double per_s;             /* requests ÷ seconds */
        double p50_ms, p90_ms, p99_ms, max_ms; /* from the request's start to its whole reply */
        double server_cores;      /* the server's CPU time in the window ÷ its length: 1 = one core */
        double server_us_per_request;
        double client_cores, other_cores, steal_cores;
        unsigned long long server_rss_max_kb;    /* in the window */
        unsigned long long server_rss_start_kb;  /* before the first request */
        unsigned long long server_rss_window_kb; /* at the window's start */
        unsigned long long server_fds_start;     /* open file descriptors, before the first request */
        unsigned long long server_fds_window;    /* … and at the window's start */
} BenchPaceResult;

#define BENCH_PACE_LATE_MSEC 10U

/* -errno if the load could not run or not be measured; errors of single requests are in ret->errors. */
int bench_pace_run(const BenchPace *p, BenchPaceResult *ret);
