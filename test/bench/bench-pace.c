/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "bench-pace.h"
#include "bench-proc.h"
#include "bench-stats.h"
#include "bench-threads.h"
#include "log.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_MSEC 1000000ULL
#define RSS_PERIOD_NSEC (100ULL * NSEC_PER_MSEC)
/* Between the threads' start and the first due request: each sets up its TLS context first. */
#define START_DELAY_NSEC (200ULL * NSEC_PER_MSEC)

typedef struct PaceShared {
        const BenchPace *p;
        uint64_t start; /* request k is due at start + k / rate */
        uint64_t window_start;
        uint64_t deadline;
        atomic_ullong next;
} PaceShared;

typedef struct PaceWorker {
        PaceShared *shared;
        LatencyLog latencies;
        uint64_t requests;
        uint64_t errors;
        uint64_t late;
        int failed;
} PaceWorker;

static uint64_t due(const PaceShared *s, uint64_t k) {
        return s->start + k * NSEC_PER_SEC / s->p->rate;
}

static void sleep_until(uint64_t t) {
        struct timespec ts = { .tv_sec = (time_t) (t / NSEC_PER_SEC), .tv_nsec = (long) (t % NSEC_PER_SEC) };

        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                ;
}

static void *pace_thread(void *arg) {
        PaceWorker *w = arg;
        PaceShared *s = w->shared;
        const BenchPace *p = s->p;
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        int r;

        r = bench_http_new(p->url, p->cacert, p->fresh_connections, &h);
        if (r < 0) {
                w->failed = r;
                return NULL;
        }
        bench_http_set_handshake_delay(h, p->handshake_delay_msec);
        for (;;) {
                uint64_t k = atomic_fetch_add(&s->next, 1), t_due = due(s, k), t0, t1;

                if (t_due >= s->deadline)
                        break;
                sleep_until(t_due);
                t0 = now_monotonic_nsec();
                r = p->request(h, k, p->userdata);
                t1 = now_monotonic_nsec();
                if (r < 0) {
                        w->errors++;
                        continue;
                }
                if (t_due < s->window_start)
                        continue;
                w->requests++;
                w->late += t0 > t_due + BENCH_PACE_LATE_MSEC * NSEC_PER_MSEC;
                r = latency_log_add(&w->latencies, t1 - t0);
                if (r < 0) {
                        w->failed = r;
                        break;
                }
        }
        return NULL;
}

/* The server's RSS and open file descriptors now; zeros without a server to look at. */
static int server_footprint(pid_t pid, unsigned long long *ret_rss_kb, unsigned long long *ret_fds) {
        uint64_t kb = 0, fds = 0;
        int r;

        if (pid > 0) {
                r = rss_sample(pid, &kb);
                if (r < 0)
                        return r;
                r = fd_count(pid, &fds);
                if (r < 0)
                        return r;
        }
        *ret_rss_kb = kb;
        *ret_fds = fds;
        return 0;
}

static double cores(uint64_t usec, uint64_t window_usec) {
        return window_usec > 0 ? (double) usec / (double) window_usec : 0.0;
}

int bench_pace_run(const BenchPace *p, BenchPaceResult *ret) {
        _cleanup_free_ pthread_t *threads = NULL;
        _cleanup_free_ PaceWorker *workers = NULL;
        BenchPaceResult res = {};
        LatencyLog all = {};
        PaceShared s;
        CpuSample c0 = {}, c1 = {};
        uint64_t t0 = 0, t1 = 0, window_usec;
        double busy;
        int r;

        assert(p && p->request && p->threads > 0 && p->rate > 0 && p->duration_sec > 0);

        threads = calloc(p->threads, sizeof(pthread_t));
        workers = calloc(p->threads, sizeof(PaceWorker));
        if (!threads || !workers)
                return -ENOMEM;
        r = server_footprint(p->server_pid, &res.server_rss_start_kb, &res.server_fds_start);
        if (r < 0)
                return r;
        s = (PaceShared) { .p = p, .start = now_monotonic_nsec() + START_DELAY_NSEC };
        s.window_start = s.start + p->warmup_sec * NSEC_PER_SEC;
        s.deadline = s.window_start + p->duration_sec * NSEC_PER_SEC;
        for (unsigned i = 0; i < p->threads; i++)
                workers[i] = (PaceWorker) { .shared = &s };
        r = bench_threads_start(p->threads, pace_thread, workers, sizeof(PaceWorker), threads);
        if (r < 0) {
                /* The threads that did start ran to the deadline and were joined. */
                for (unsigned i = 0; i < p->threads; i++)
                        latency_log_done(&workers[i].latencies);
                return r;
        }

        /* The server's and the machine's CPU at the window's edges: the requests in flight at its start and
         * at its end are about as many, whatever the latency. */
        sleep_until(s.window_start);
        r = server_footprint(p->server_pid, &res.server_rss_window_kb, &res.server_fds_window);
        if (r >= 0)
                r = cpu_sample(p->server_pid, &c0);
        t0 = now_monotonic_nsec();
        while (r >= 0) {
                uint64_t now = now_monotonic_nsec(), kb;

                if (now >= s.deadline)
                        break;
                if (p->server_pid > 0) {
                        r = rss_sample(p->server_pid, &kb);
                        if (r < 0)
                                break;
                        res.server_rss_max_kb = MAX(res.server_rss_max_kb, (unsigned long long) kb);
                }
                sleep_until(MIN(now + RSS_PERIOD_NSEC, s.deadline));
        }
        if (r >= 0) {
                r = cpu_sample(p->server_pid, &c1);
                t1 = now_monotonic_nsec();
        }
        for (unsigned i = 0; i < p->threads; i++)
                pthread_join(threads[i], NULL);

        for (unsigned i = 0; i < p->threads; i++) {
                PaceWorker *w = &workers[i];

                if (w->failed < 0) {
                        log_error_errno(w->failed, "Client thread %u failed: %m", i);
                        res.errors++;
                }
                res.requests += w->requests;
                res.errors += w->errors;
                res.late += w->late;
                if (r >= 0)
                        r = latency_log_merge(&all, &w->latencies);
                latency_log_done(&w->latencies);
        }
        if (r < 0) {
                latency_log_done(&all);
                return r;
        }

        latency_log_sort(&all);
        window_usec = (t1 - t0) / 1000;
        res.slots = (unsigned long long) (p->warmup_sec + p->duration_sec) * p->rate;
        res.seconds = (double) (t1 - t0) / 1e9;
        res.per_s = res.seconds > 0 ? (double) res.requests / res.seconds : 0.0;
        res.p50_ms = (double) latency_log_percentile(&all, 50) / 1e6;
        res.p90_ms = (double) latency_log_percentile(&all, 90) / 1e6;
        res.p99_ms = (double) latency_log_percentile(&all, 99) / 1e6;
        res.max_ms = (double) latency_log_percentile(&all, 100) / 1e6;
        res.server_cores = cores(c1.server_usec - c0.server_usec, window_usec);
        res.server_us_per_request = res.requests > 0 ?
                (double) (c1.server_usec - c0.server_usec) / (double) res.requests : 0.0;
        res.client_cores = cores(c1.self_usec - c0.self_usec, window_usec);
        busy = cores(c1.busy_usec - c0.busy_usec, window_usec);
        res.other_cores = MAX(busy - res.client_cores - res.server_cores, 0.0);
        res.steal_cores = cores(c1.steal_usec - c0.steal_usec, window_usec);
        latency_log_done(&all);
        *ret = res;
        return 0;
}
