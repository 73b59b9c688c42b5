/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc-util.h"
#include "bench-checks.h"
#include "bench-node.h"
#include "bench-pace.h"
#include "bench-proc.h"
#include "bench-stats.h"
#include "bench-threads.h"
#include "log.h"
#include "protocol.h"

/* Kept-alive connections, as the run verb's default: enough to keep the server's threads busy. */
#define AUTH_THREADS 4U
/* Over fresh connections a client thread holds no connection between its requests: more threads only let
 * more requests be in flight at once, which the open loop needs when the shared machine stalls the client,
 * and twice as many again as an emulated round trip keeps waiting. */
#define FRESH_THREADS_FACTOR 4U
#define FRESH_THREADS_MAX 1024U
/* The per-node load's file descriptors besides the nodes' connections: the threads' own, the files'. */
#define NOFILE_RESERVE 256U
/* Node i's connection comes from 127.1.0.1 + i: an address of its own, as a node has (the server counts
 * connections per address, MaxConnectionsPerSource=), all of them in 127.0.0.0/8 below its broadcast. */
#define NODE_SOURCE_FIRST 0x7F010001U
#define NODE_SOURCES (0x7FFFFFFFU - NODE_SOURCE_FIRST)
/* After the per-node load has closed its connections: how long the server may take to close its ends. */
#define CLOSE_WAIT_MSEC 5000U

static unsigned fresh_threads(const BenchChecks *c) {
        uint64_t n = (uint64_t) c->threads * FRESH_THREADS_FACTOR +
                     (uint64_t) c->rate * c->handshake_delay_msec * 2U / 1000U;

        return (unsigned) MIN(n, (uint64_t) FRESH_THREADS_MAX);
}

static char *token_at(const SecretBuffer *tokens, size_t i) {
        return (char *) tokens->data + i * BENCH_TOKEN_B64_SIZE;
}

/* ---- one authentication per node ---------------------------------------------------------------------- */

typedef struct AuthShared {
        const BenchChecks *c;
        SecretBuffer *tokens;
        atomic_size_t next;
        atomic_uint errors;
} AuthShared;

static void *auth_thread(void *arg) {
        AuthShared *s = arg;
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        size_t i;
        int r;

        r = bench_http_new(s->c->url, s->c->cacert, /* fresh_connections= */ false, &h);
        if (r < 0) {
                atomic_fetch_add(&s->errors, 1);
                bench_report_failure("Failed to set up an HTTPS client: %s", strerror(-r));
                return NULL;
        }
        while ((i = atomic_fetch_add(&s->next, 1)) < s->c->ids->n)
                if (bench_authenticate(h, &s->c->ids->items[i], s->c->boot, token_at(s->tokens, i)) < 0)
                        atomic_fetch_add(&s->errors, 1);
        return NULL;
}

static int authenticate_all(const BenchChecks *c, SecretBuffer *tokens, double *ret_seconds) {
        pthread_t threads[AUTH_THREADS];
        AuthShared s = { .c = c, .tokens = tokens };
        uint64_t t0 = now_monotonic_nsec();
        double seconds;
        int r;

        /* Every thread gets the same shared state: an argument size of 0. */
        r = bench_threads_start(AUTH_THREADS, auth_thread, &s, 0, threads);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < AUTH_THREADS; i++)
                pthread_join(threads[i], NULL);
        if (atomic_load(&s.errors) > 0)
                return log_error_errno(EIO, "%u of %zu nodes could not authenticate.",
                                       atomic_load(&s.errors), c->ids->n);
        seconds = (double) (now_monotonic_nsec() - t0) / 1e9;
        log_info("Authenticated %zu nodes once each in %.1f s (%.0f/s, %u threads); their tokens are kept "
                 "in memory.", c->ids->n, seconds, (double) c->ids->n / seconds, AUTH_THREADS);
        *ret_seconds = seconds;
        return 0;
}

/* ---- the paced requests ------------------------------------------------------------------------------- */

typedef struct CheckLoad {
        const SecretBuffer *tokens;
        size_t n;
        uint64_t first; /* the node of request 0: where the previous check load stopped */
} CheckLoad;

static int check_node(BenchHttp *h, const CheckLoad *l, size_t node) {
        const char *path = proto_endpoint_path(PROTO_NODE_CHECK), *body;
        ProtoCheckReply reply;
        ProtoDiag diag = {};
        size_t size;
        long status;
        int r;

        r = bench_http_get(h, path, token_at(l->tokens, node), &status, &body, &size);
        if (r < 0) {
                bench_report_failure("GET %s (node %zu): %s", path, node,
                                     r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 200) {
                bench_report_failure("GET %s (node %zu): HTTP %ld, expected 200: %.200s", path, node, status,
                                     body);
                return -EPROTO;
        }
        r = proto_check_reply_decode(body, size, &reply, &diag);
        if (r < 0) {
                bench_report_failure("GET %s (node %zu): %s: %.200s", path, node, diag.message, body);
                return r;
        }
        if (reply.reattest) {
                bench_report_failure("GET %s (node %zu): reattest, expected none: %.200s", path, node, body);
                return -EPROTO;
        }
        return 0;
}

static int check_one(BenchHttp *h, uint64_t k, void *userdata) {
        const CheckLoad *l = userdata;

        return check_node(h, l, (size_t) ((l->first + k) % l->n));
}

static int health_one(BenchHttp *h, uint64_t k, void *userdata) {
        const char *path = proto_endpoint_path(PROTO_HEALTH), *body;
        size_t size;
        long status;
        int r;

        r = bench_http_get(h, path, /* bearer= */ NULL, &status, &body, &size);
        if (r < 0) {
                bench_report_failure("GET %s: %s", path, r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 200) {
                bench_report_failure("GET %s: HTTP %ld, expected 200: %.200s", path, status, body);
                return -EPROTO;
        }
        return 0;
}

/* ---- the four loads ----------------------------------------------------------------------------------- */

typedef struct Load {
        bool fresh_connections;
        bool check; /* GET /v1/node/check; GET /v1/health if not */
        BenchPaceResult result;
} Load;

static const char *load_name(const Load *l) {
        return l->check ? "checks" : "health";
}

static const char *connections_name(const Load *l) {
        return l->fresh_connections ? "fresh" : "kept-alive";
}

static int run_load(const BenchChecks *c, CheckLoad *checks, Load *l) {
        BenchPace p = {
                .url = c->url,
                .cacert = c->cacert,
                .fresh_connections = l->fresh_connections,
                .handshake_delay_msec = l->fresh_connections ? c->handshake_delay_msec : 0,
                .threads = l->fresh_connections ? fresh_threads(c) : c->threads,
                .rate = c->rate,
                .warmup_sec = c->warmup_sec,
                .duration_sec = c->duration_sec,
                .server_pid = c->server_pid,
                .request = l->check ? check_one : health_one,
                .userdata = checks,
        };
        const BenchPaceResult *res = &l->result;
        int r;

        r = bench_pace_run(&p, &l->result);
        if (r < 0)
                return log_error_errno(r, "The paced %s load over %s connections could not be measured: %m",
                                       load_name(l), connections_name(l));
        if (l->check)
                checks->first = (checks->first + res->slots) % checks->n;
        log_info("%s, %s connections: %.1f/s for %.1f s, %llu errors, %llu late; p50 %.3f ms, p99 %.3f ms, "
                 "max %.3f ms; server %.2f %% of one core (%.1f µs per request), RSS ≤ %llu kB; client %.3f "
                 "cores, others %.3f, stolen %.3f.",
                 load_name(l), connections_name(l), res->per_s, res->seconds, res->errors, res->late,
                 res->p50_ms, res->p99_ms, res->max_ms, 100.0 * res->server_cores,
                 res->server_us_per_request, res->server_rss_max_kb, res->client_cores, res->other_cores,
                 res->steal_cores);
        if (res->late * 100 > res->requests)
                log_warning("%llu of %llu requests started more than %u ms late: the client threads did not "
                            "keep the pace, the rate is lower than asked.",
                            res->late, res->requests, BENCH_PACE_LATE_MSEC);
        return 0;
}

/* ---- one connection per node -------------------------------------------------------------------------- */

typedef struct NodeConnection {
        BenchHttpConnection c;
        atomic_bool busy; /* a client thread carries its check */
} NodeConnection;

typedef struct PerNodeLoad {
        CheckLoad *checks;
        NodeConnection *conns; /* one per node */
        uint64_t warmup_slots; /* the requests before the window */
        atomic_ullong handshakes_warmup;
        atomic_ullong handshakes_window;
} PerNodeLoad;

/* Node (first + k) mod n's check over its own connection, whichever client thread takes slot k. */
static int check_per_node(BenchHttp *h, uint64_t k, void *userdata) {
        PerNodeLoad *l = userdata;
        size_t node = (size_t) ((l->checks->first + k) % l->checks->n);
        NodeConnection *nc = &l->conns[node];
        unsigned before;
        int r;

        /* Its previous check, one interval ago, still running: the client stalled for a whole interval. */
        if (atomic_exchange(&nc->busy, true)) {
                bench_report_failure("Node %zu: its previous check is still running.", node);
                return -EBUSY;
        }
        before = nc->c.handshakes;
        bench_http_use_connection(h, &nc->c);
        r = check_node(h, l->checks, node);
        bench_http_use_connection(h, /* c= */ NULL);
        atomic_fetch_add(k < l->warmup_slots ? &l->handshakes_warmup : &l->handshakes_window,
                         nc->c.handshakes - before);
        atomic_store(&nc->busy, false);
        return r;
}

/* One descriptor per node's connection: more than the usual soft limit of 1,024. Raised for this process
 * only; a hard limit below needs privileges (or ulimit -n first). */
static int raise_nofile_limit(size_t n) {
        rlim_t want = (rlim_t) n + NOFILE_RESERVE;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return log_error_errno(errno, "Failed to read RLIMIT_NOFILE: %m");
        if (rl.rlim_cur >= want)
                return 0;
        rl.rlim_cur = want;
        rl.rlim_max = MAX(rl.rlim_max, want);
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return log_error_errno(errno, "Failed to raise RLIMIT_NOFILE to %llu for %zu connections "
                                       "(ulimit -n): %m", (unsigned long long) want, n);
        return 0;
}

static void sleep_msec(unsigned msec) {
        struct timespec ts = { .tv_sec = msec / 1000U, .tv_nsec = (long) (msec % 1000U) * 1000000L };

        (void) nanosleep(&ts, NULL);
}

typedef struct PerNode {
        Load load;
        double interval_sec;         /* between two checks of one node: n ÷ rate */
        unsigned long long handshakes_warmup, handshakes_window;
        unsigned long long held;     /* the connections the server held at the window's start */
        double bytes_per_connection; /* the server's RSS growth over held */
        unsigned long long server_rss_closed_kb, server_fds_closed; /* once the connections are closed */
} PerNode;

/* Every node keeps one connection and checks over it once per interval, as a running node does with
 * IdleTimeout= above CheckInterval=: the warm-up (one interval) opens every connection with its node's first
 * check, the window (at least one interval) measures the steady state, the server holding them all. */
static int run_per_node(const BenchChecks *c, CheckLoad *checks, PerNode *ret) {
        _cleanup_free_ NodeConnection *conns = NULL;
        size_t n = checks->n;
        /* Whole seconds for the pace, rounded up: the warm-up reaches every node. */
        unsigned interval = (unsigned) MIN((n + c->rate - 1) / c->rate, (size_t) UINT_MAX);
        PerNodeLoad l = { .checks = checks };
        PerNode res = { .load = { .check = true }, .interval_sec = (double) n / c->rate };
        BenchPace p = {
                .url = c->url,
                .cacert = c->cacert,
                /* Handshakes over the warm-up, at the rate of a fresh load: as many threads as one. */
                .threads = fresh_threads(c),
                .rate = c->rate,
                .warmup_sec = interval,
                .duration_sec = MAX(c->duration_sec, interval),
                .server_pid = c->server_pid,
                .request = check_per_node,
                .userdata = &l,
        };
        const BenchPaceResult *r_ = &res.load.result;
        uint64_t closed_fds = 0, closed_kb = 0, baseline_fds;
        int r;

        if (n > NODE_SOURCES)
                return log_error_errno(E2BIG, "Too many nodes for a source address each: %zu.", n);
        r = raise_nofile_limit(n);
        if (r < 0)
                return r;
        conns = calloc(n, sizeof(NodeConnection));
        if (!conns)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                conns[i].c = BENCH_HTTP_CONNECTION_INIT;
                conns[i].c.source.s_addr = htonl(NODE_SOURCE_FIRST + (uint32_t) i);
                atomic_init(&conns[i].busy, false);
        }
        l.conns = conns;
        l.warmup_slots = (uint64_t) p.warmup_sec * p.rate;

        r = bench_pace_run(&p, &res.load.result);
        for (size_t i = 0; i < n; i++)
                bench_http_connection_close(&conns[i].c);
        if (r < 0)
                return log_error_errno(r, "The checks over a connection per node could not be measured: %m");
        checks->first = (checks->first + r_->slots) % checks->n;
        res.handshakes_warmup = atomic_load(&l.handshakes_warmup);
        res.handshakes_window = atomic_load(&l.handshakes_window);

        /* What the server keeps once every node has gone: its ends closed, its memory not necessarily
         * returned. */
        if (c->server_pid > 0) {
                for (unsigned waited = 0; waited < CLOSE_WAIT_MSEC; waited += 100) {
                        r = fd_count(c->server_pid, &closed_fds);
                        if (r < 0 || closed_fds <= r_->server_fds_start)
                                break;
                        sleep_msec(100);
                }
                if (r >= 0)
                        r = rss_sample(c->server_pid, &closed_kb);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the server's footprint: %m");
        }
        res.server_rss_closed_kb = closed_kb;
        res.server_fds_closed = closed_fds;
        /* The connections held: the server's descriptors at the window's start over those it has without
         * them, before the load or after it (either may count a connection of the authentications' still
         * closing, or a file the database has open for a moment). */
        baseline_fds = MIN(r_->server_fds_start, closed_fds);
        if (r_->server_fds_window > baseline_fds)
                res.held = r_->server_fds_window - baseline_fds;
        if (res.held > 0 && r_->server_rss_window_kb > r_->server_rss_start_kb)
                res.bytes_per_connection = (double) (r_->server_rss_window_kb - r_->server_rss_start_kb) *
                                           1024.0 / (double) res.held;

        log_info("checks, one connection per node (%zu, each idle %.1f s between checks): %.1f/s for %.1f s, "
                 "%llu errors, %llu late, %llu handshakes in the window (%llu in the warm-up); p50 %.3f ms, "
                 "p99 %.3f ms, max %.3f ms; server %.2f %% of one core (%.1f µs per check); server RSS "
                 "%llu kB before, %llu kB holding %llu connections (%.0f bytes each), ≤ %llu kB in the "
                 "window, %llu kB once closed; client %.3f cores, others %.3f, stolen %.3f.",
                 n, res.interval_sec, r_->per_s, r_->seconds, r_->errors, r_->late, res.handshakes_window,
                 res.handshakes_warmup, r_->p50_ms, r_->p99_ms, r_->max_ms, 100.0 * r_->server_cores,
                 r_->server_us_per_request, r_->server_rss_start_kb, r_->server_rss_window_kb, res.held,
                 res.bytes_per_connection, r_->server_rss_max_kb, res.server_rss_closed_kb, r_->client_cores,
                 r_->other_cores, r_->steal_cores);
        if (res.held < n)
                log_warning("The server held %llu connections at the window's start, not %zu: some were "
                            "refused or closed (MaxConnections=, MaxConnectionsPerSource=, LimitNOFILE=).",
                            res.held, n);
        if (res.handshakes_window > 0)
                log_warning("%llu checks in the window opened a new connection: the server closed theirs "
                            "(IdleTimeout= below the interval of %.1f s?).", res.handshakes_window,
                            res.interval_sec);
        if (r_->late * 100 > r_->requests)
                log_warning("%llu of %llu requests started more than %u ms late: the client threads did not "
                            "keep the pace, the rate is lower than asked.",
                            r_->late, r_->requests, BENCH_PACE_LATE_MSEC);
        *ret = res;
        return 0;
}

/* ---- the results -------------------------------------------------------------------------------------- */

static void print_load(const Load *l) {
        const BenchPaceResult *res = &l->result;

        printf("\"%s\":{\"requests\":%llu,\"errors\":%llu,\"late\":%llu,\"seconds\":%.3f,\"per_s\":%.1f,"
               "\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"server_cpu_pct\":%.3f,"
               "\"server_cpu_us_per_request\":%.1f,\"server_rss_max_kb\":%llu,\"client_cores\":%.3f,"
               "\"other_cores\":%.3f,\"steal_cores\":%.3f}",
               l->check ? "check" : "health", res->requests, res->errors, res->late, res->seconds,
               res->per_s, res->p50_ms, res->p90_ms, res->p99_ms, res->max_ms, 100.0 * res->server_cores,
               res->server_us_per_request, res->server_rss_max_kb, res->client_cores, res->other_cores,
               res->steal_cores);
}

/* {"health": …, "check": …, "cpu_ratio": check's server CPU ÷ health's} of one kind of connection; null if
 * not run. */
static void print_pair(const char *name, bool run, const Load *health, const Load *check) {
        printf("\"%s\":", name);
        if (!run) {
                printf("null");
                return;
        }
        putchar('{');
        print_load(health);
        putchar(',');
        print_load(check);
        if (health->result.server_cores > 0)
                printf(",\"cpu_ratio\":%.3f}", check->result.server_cores / health->result.server_cores);
        else
                printf(",\"cpu_ratio\":null}");
}

/* {"check": …, the connections' figures} of the per-node load; null if not run. */
static void print_per_node(bool run, const PerNode *p) {
        const BenchPaceResult *res = &p->load.result;

        printf("\"per_node\":");
        if (!run) {
                printf("null");
                return;
        }
        putchar('{');
        print_load(&p->load);
        printf(",\"interval_s\":%.3f,\"handshakes_warmup\":%llu,\"handshakes_window\":%llu,"
               "\"connections_held\":%llu,\"server_rss_before_kb\":%llu,\"server_rss_held_kb\":%llu,"
               "\"server_rss_closed_kb\":%llu,\"server_fds_before\":%llu,\"server_fds_held\":%llu,"
               "\"server_fds_closed\":%llu,\"bytes_per_connection\":%.0f}",
               p->interval_sec, p->handshakes_warmup, p->handshakes_window, p->held,
               res->server_rss_start_kb, res->server_rss_window_kb, p->server_rss_closed_kb,
               res->server_fds_start, res->server_fds_window, p->server_fds_closed, p->bytes_per_connection);
}

int bench_checks_run(const BenchChecks *c) {
        _cleanup_(secret_buffer_freep) SecretBuffer *tokens = NULL;
        Load loads[] = {
                { .fresh_connections = true, .check = false },
                { .fresh_connections = true, .check = true },
                { .fresh_connections = false, .check = false },
                { .fresh_connections = false, .check = true },
        };
        bool fresh = c->loads & BENCH_CHECKS_FRESH, kept_alive = c->loads & BENCH_CHECKS_KEPT_ALIVE,
             per_node = c->loads & BENCH_CHECKS_PER_NODE;
        CheckLoad checks = { .n = c->ids->n };
        PerNode pn = {};
        unsigned long long errors = 0;
        double auth_seconds = 0.0;
        int r;

        assert(c->ids->n > 0 && c->threads > 0 && c->rate > 0 && c->duration_sec > 0);
        assert(c->loads != 0 && (c->loads & ~_BENCH_CHECKS_ALL) == 0);

        if (c->ids->n > SIZE_MAX / BENCH_TOKEN_B64_SIZE)
                return log_error_errno(E2BIG, "Too many nodes for their tokens: %zu.", c->ids->n);
        r = secret_buffer_new(c->ids->n * BENCH_TOKEN_B64_SIZE, &tokens);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate %zu tokens: %m", c->ids->n);
        checks.tokens = tokens;
        r = authenticate_all(c, tokens, &auth_seconds);
        if (r < 0)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(loads); i++) {
                if (!(loads[i].fresh_connections ? fresh : kept_alive))
                        continue;
                r = run_load(c, &checks, &loads[i]);
                if (r < 0)
                        return r;
                errors += loads[i].result.errors;
        }
        if (per_node) {
                r = run_per_node(c, &checks, &pn);
                if (r < 0)
                        return r;
                errors += pn.load.result.errors;
        }

        printf("{\"verb\":\"checks\",\"nodes\":%zu,\"rate\":%u,\"threads\":%u,\"fresh_threads\":%u,"
               "\"handshake_delay_ms\":%u,\"warmup_s\":%u,\"duration_s\":%u,\"auth_s\":%.3f,"
               "\"errors\":%llu,",
               c->ids->n, c->rate, c->threads, fresh_threads(c), c->handshake_delay_msec, c->warmup_sec,
               c->duration_sec, auth_seconds, errors);
        print_pair("fresh", fresh, &loads[0], &loads[1]);
        putchar(',');
        print_pair("kept_alive", kept_alive, &loads[2], &loads[3]);
        putchar(',');
        print_per_node(per_node, &pn);
        printf("}\n");
        return errors > 0 ? -EIO : 0;
}
