/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "bench-checks.h"
#include "bench-node.h"
#include "bench-pace.h"
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

static int check_one(BenchHttp *h, uint64_t k, void *userdata) {
        const CheckLoad *l = userdata;
        size_t node = (size_t) ((l->first + k) % l->n);
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

/* {"health": …, "check": …, "cpu_ratio": check's server CPU ÷ health's} of one kind of connection. */
static void print_pair(const char *name, const Load *health, const Load *check) {
        printf("\"%s\":{", name);
        print_load(health);
        putchar(',');
        print_load(check);
        if (health->result.server_cores > 0)
                printf(",\"cpu_ratio\":%.3f}", check->result.server_cores / health->result.server_cores);
        else
                printf(",\"cpu_ratio\":null}");
}

int bench_checks_run(const BenchChecks *c) {
        _cleanup_(secret_buffer_freep) SecretBuffer *tokens = NULL;
        Load loads[] = {
                { .fresh_connections = true, .check = false },
                { .fresh_connections = true, .check = true },
                { .fresh_connections = false, .check = false },
                { .fresh_connections = false, .check = true },
        };
        CheckLoad checks = { .n = c->ids->n };
        unsigned long long errors = 0;
        double auth_seconds = 0.0;
        int r;

        assert(c->ids->n > 0 && c->threads > 0 && c->rate > 0 && c->duration_sec > 0);

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
                r = run_load(c, &checks, &loads[i]);
                if (r < 0)
                        return r;
                errors += loads[i].result.errors;
        }

        printf("{\"verb\":\"checks\",\"nodes\":%zu,\"rate\":%u,\"threads\":%u,\"fresh_threads\":%u,"
               "\"handshake_delay_ms\":%u,\"warmup_s\":%u,\"duration_s\":%u,\"auth_s\":%.3f,"
               "\"errors\":%llu,",
               c->ids->n, c->rate, c->threads, fresh_threads(c), c->handshake_delay_msec, c->warmup_sec,
               c->duration_sec, auth_seconds, errors);
        print_pair("fresh", &loads[0], &loads[1]);
        putchar(',');
        print_pair("kept_alive", &loads[2], &loads[3]);
        printf("}\n");
        return errors > 0 ? -EIO : 0;
}
