/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-bench: a load generator for patela-server. It emulates many nodes in software (OpenSSL EK and AK
 * keys, TPM2_ActivateCredential and TPM2_Quote in software) and authenticates them against the real server
 * over TLS, on loopback only.
 *
 *   populate  make N identities, enrol each once (proof, then 202 pending), save them
 *   run       T threads of full authentications (enroll → challenge → activate + quote → attest → token)
 *   floor     the server's crypto per authentication alone, in this process
 *   checks    authenticate every node once, then GET /v1/node/check at a paced rate, against GET /v1/health,
 *             over fresh connections, a few kept alive, and one per node
 *
 * Each verb ends with one JSON line for tooling. test/bench/run-bench.sh drives the whole benchmark. */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-boot.h"
#include "bench-checks.h"
#include "bench-floor.h"
#include "bench-http.h"
#include "bench-identity.h"
#include "bench-node.h"
#include "bench-proc.h"
#include "bench-stats.h"
#include "bench-threads.h"
#include "log.h"
#include "string-util.h"

static const char *arg_url = NULL;
static const char *arg_cacert = NULL;
static const char *arg_identities = NULL;
static const char *arg_event_logs = NULL;
static BenchBoot *arg_boot = NULL; /* loaded from arg_event_logs */
static unsigned long long arg_nodes = 0;
static BenchEkMix arg_ek_type = BENCH_EK_ECC_P256;
static unsigned long long arg_threads = 0;
static unsigned long long arg_duration = 20;
static unsigned long long arg_warmup = 1;
static unsigned long long arg_max_auths = 10000000;
static unsigned long long arg_iterations = 2000;
static unsigned long long arg_cores = 2;
static unsigned long long arg_rate = 333; /* 10,000 nodes checking every 30 s */
static unsigned long long arg_handshake_delay = 0;
static bool arg_fresh_connections = false;
static bool arg_connection_per_auth = false;
static bool arg_resume = false;
static bool arg_credential_each_time = false;
static BenchCheckLoads arg_check_loads = _BENCH_CHECKS_ALL;
static pid_t arg_server_pid = 0;

static double sec(uint64_t nsec) {
        return (double) nsec / 1e9;
}

static double msec(uint64_t nsec) {
        return (double) nsec / 1e6;
}

static unsigned threads_or(unsigned dflt) {
        return arg_threads > 0 ? (unsigned) arg_threads : dflt;
}

static unsigned n_cpus(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned) n : 1;
}

static const char *ek_type_name(void) {
        return arg_ek_type == BENCH_EK_MIX ? "mix" : tpm2_key_type_to_string(bench_ek_mix_type(arg_ek_type, 0));
}

/* ---- populate ------------------------------------------------------------------------------------------ */

typedef struct PopulateShared {
        BenchIdentities *ids;
        atomic_size_t next;
        atomic_uint errors;
} PopulateShared;

typedef struct PopulateWorker {
        PopulateShared *shared;
} PopulateWorker;

static void *generate_thread(void *p) {
        PopulateShared *s = ((PopulateWorker *) p)->shared;
        size_t i;

        while ((i = atomic_fetch_add(&s->next, 1)) < s->ids->n) {
                int r = bench_identity_generate(bench_ek_mix_type(arg_ek_type, i), &s->ids->items[i]);
                if (r < 0) {
                        atomic_fetch_add(&s->errors, 1);
                        bench_report_failure("Generating identity %zu failed: %s", i, strerror(-r));
                }
        }
        return NULL;
}

static void *enrol_thread(void *p) {
        PopulateShared *s = ((PopulateWorker *) p)->shared;
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        size_t i;
        int r;

        r = bench_http_new(arg_url, arg_cacert, /* fresh_connections= */ false, &h);
        if (r < 0) {
                atomic_fetch_add(&s->errors, 1);
                bench_report_failure("Failed to set up an HTTPS client: %s", strerror(-r));
                return NULL;
        }
        while ((i = atomic_fetch_add(&s->next, 1)) < s->ids->n)
                if (bench_enrol(h, &s->ids->items[i]) < 0)
                        atomic_fetch_add(&s->errors, 1);
        return NULL;
}

static int run_parallel(unsigned n_threads, void *(*fn)(void *), PopulateShared *s) {
        _cleanup_free_ pthread_t *threads = calloc(n_threads, sizeof(pthread_t));
        _cleanup_free_ PopulateWorker *workers = calloc(n_threads, sizeof(PopulateWorker));
        int r;

        if (!threads || !workers)
                return log_oom();
        for (unsigned i = 0; i < n_threads; i++)
                workers[i].shared = s;
        atomic_store(&s->next, 0);
        r = bench_threads_start(n_threads, fn, workers, sizeof(PopulateWorker), threads);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        return 0;
}

static int verb_populate(void) {
        _cleanup_(bench_identities_freep) BenchIdentities *ids = NULL;
        PopulateShared s = {};
        unsigned n_threads = threads_or(n_cpus());
        uint64_t t0, t_gen, t_enrol;
        int r;

        if (!arg_url || !arg_cacert || !arg_identities || arg_nodes == 0)
                return log_error_errno(EINVAL, "populate needs --url, --cacert, --identities and --nodes.");
        r = bench_identities_new(arg_nodes, &ids);
        if (r < 0)
                return log_oom();
        s.ids = ids;

        t0 = now_monotonic_nsec();
        r = run_parallel(n_threads, generate_thread, &s);
        if (r < 0)
                return r;
        t_gen = now_monotonic_nsec() - t0;
        if (atomic_load(&s.errors) > 0)
                return log_error_errno(EIO, "%u identities could not be generated.", atomic_load(&s.errors));
        log_info("Generated %zu identities (EK %s, AK ecc-p256) in %.2f s on %u threads: %.3f ms per node "
                 "and thread.",
                 ids->n, ek_type_name(),
                 sec(t_gen), n_threads, msec(t_gen) * n_threads / (double) ids->n);

        r = bench_identities_save(ids, arg_identities);
        if (r < 0)
                return log_error_errno(r, "Failed to save the identities to %s: %m", arg_identities);

        t0 = now_monotonic_nsec();
        r = run_parallel(n_threads, enrol_thread, &s);
        if (r < 0)
                return r;
        t_enrol = now_monotonic_nsec() - t0;
        log_info("Enrolled %zu identities in %.2f s (%.0f/s), %u errors.", ids->n, sec(t_enrol),
                 (double) ids->n / sec(t_enrol), atomic_load(&s.errors));
        printf("{\"verb\":\"populate\",\"nodes\":%zu,\"ek_type\":\"%s\",\"threads\":%u,\"generate_s\":%.3f,"
               "\"enrol_s\":%.3f,\"errors\":%u}\n",
               ids->n, ek_type_name(),
               n_threads, sec(t_gen), sec(t_enrol), atomic_load(&s.errors));
        return atomic_load(&s.errors) > 0 ? -EIO : 0;
}

/* ---- run ----------------------------------------------------------------------------------------------- */

/* Nodes' source addresses for new connections: 127.2.0.1 on, one per node (bench-checks.c uses 127.1.x.y). */
#define RUN_SOURCE_FIRST 0x7F020001U
#define RUN_SOURCES_MAX (0x7FFFFFFEU - RUN_SOURCE_FIRST)

typedef struct RunShared {
        BenchIdentities *ids;
        unsigned n_threads;
        uint64_t window_start; /* authentications started before this are warm-up */
        uint64_t deadline;
        atomic_ullong started;
} RunShared;

typedef struct RunWorker {
        RunShared *shared;
        unsigned index;
        LatencyLog latencies;
        unsigned long long errors;
        unsigned long long handshakes_full, handshakes_resumed; /* warm-up included */
        int failed; /* could not even start */
} RunWorker;

static void *run_thread(void *p) {
        RunWorker *w = p;
        RunShared *s = w->shared;
        _cleanup_(bench_http_freep) BenchHttp *h = NULL;
        /* The nodes are split between the threads (index ≡ thread mod T): two threads never authenticate
         * the same node at once, where the second enrolment would replace the first one's challenge. */
        size_t n_own = (s->ids->n - w->index + s->n_threads - 1) / s->n_threads;
        unsigned seed = 0x9e3779b9U * (w->index + 1);
        int r;

        r = bench_http_new(arg_url, arg_cacert, arg_fresh_connections, &h);
        if (r < 0) {
                w->failed = r;
                return NULL;
        }
        bench_http_set_resume(h, arg_resume);
        for (;;) {
                size_t pick = w->index + (size_t) (rand_r(&seed) % n_own) * s->n_threads;
                BenchIdentity *id = &s->ids->items[pick];
                uint64_t t0 = now_monotonic_nsec(), t1;

                if (t0 >= s->deadline || atomic_fetch_add(&s->started, 1) >= arg_max_auths)
                        break;
                /* New connections come from the node's own address, as a fleet's do: from one address, a
                 * thousand connections a second would run through the ephemeral ports (each closed one held
                 * in TIME_WAIT for 60 s), and a connect() reusing one collided with the server's TIME_WAIT
                 * and waited for SYN retransmissions (a run stalled for a minute). */
                if (arg_fresh_connections || arg_connection_per_auth)
                        bench_http_set_source(h, (struct in_addr) { htonl(RUN_SOURCE_FIRST + (uint32_t) pick) });
                r = bench_authenticate(h, id, arg_boot, /* ret_token= */ NULL);
                /* A node's pattern: challenge and answer over one connection, closed after the answer. */
                if (arg_connection_per_auth)
                        bench_http_disconnect(h);
                t1 = now_monotonic_nsec();
                if (r < 0)
                        w->errors++;
                else if (t0 >= s->window_start && latency_log_add(&w->latencies, t1 - t0) < 0) {
                        w->failed = -ENOMEM;
                        break;
                }
        }
        bench_http_handshakes(h, &w->handshakes_full, &w->handshakes_resumed);
        return NULL;
}

static const char *connection_pattern(void) {
        return arg_fresh_connections ? "per-request" : arg_connection_per_auth ? "per-auth" : "kept-alive";
}

static int verb_run(void) {
        _cleanup_(bench_identities_freep) BenchIdentities *ids = NULL;
        _cleanup_free_ pthread_t *threads = NULL;
        _cleanup_free_ RunWorker *workers = NULL;
        unsigned n_threads = threads_or(4);
        unsigned long long errors = 0, full = 0, resumed = 0;
        LatencyLog all = {};
        RunShared s = {};
        CpuSample c0, c1;
        uint64_t start, now, elapsed;
        double rate, client_us, server_us, busy, steal, server_cores, client_cores;
        int r;

        if (!arg_url || !arg_cacert || !arg_identities)
                return log_error_errno(EINVAL, "run needs --url, --cacert and --identities.");
        if (arg_duration == 0)
                return log_error_errno(EINVAL, "--duration must be at least 1 second.");
        r = bench_url_check_loopback(arg_url);
        if (r < 0)
                return log_error_errno(r, "Refusing %s: the benchmark only talks to https:// on loopback.",
                                       arg_url);
        r = bench_identities_load(arg_identities, &ids);
        if (r < 0)
                return log_error_errno(r, "Failed to load identities from %s: %m", arg_identities);
        if (n_threads > ids->n)
                return log_error_errno(EINVAL, "More threads (%u) than nodes (%zu).", n_threads, ids->n);
        if (arg_fresh_connections && arg_connection_per_auth)
                return log_error_errno(EINVAL, "--fresh-connections and --connection-per-auth exclude each other.");
        if (ids->n > RUN_SOURCES_MAX)
                return log_error_errno(E2BIG, "Too many nodes for a source address each: %zu.", ids->n);

        threads = calloc(n_threads, sizeof(pthread_t));
        workers = calloc(n_threads, sizeof(RunWorker));
        if (!threads || !workers)
                return log_oom();
        start = now_monotonic_nsec();
        s = (RunShared) {
                .ids = ids,
                .n_threads = n_threads,
                .window_start = start + arg_warmup * 1000000000ULL,
                .deadline = start + (arg_warmup + arg_duration) * 1000000000ULL,
        };
        for (unsigned i = 0; i < n_threads; i++)
                workers[i] = (RunWorker) { .shared = &s, .index = i };
        r = bench_threads_start(n_threads, run_thread, workers, sizeof(RunWorker), threads);
        if (r < 0)
                return r;

        now = now_monotonic_nsec();
        if (now < s.window_start)
                usleep((useconds_t) ((s.window_start - now) / 1000));
        r = cpu_sample(arg_server_pid, &c0);
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        elapsed = now_monotonic_nsec() - s.window_start;
        if (r >= 0)
                r = cpu_sample(arg_server_pid, &c1);
        if (r < 0)
                return log_error_errno(r, "Failed to read the CPU accounting from /proc: %m");

        for (unsigned i = 0; i < n_threads; i++) {
                if (workers[i].failed < 0)
                        log_error_errno(workers[i].failed, "Worker %u failed: %m", i);
                else if (r >= 0)
                        r = latency_log_merge(&all, &workers[i].latencies);
                errors += workers[i].errors + (workers[i].failed < 0);
                full += workers[i].handshakes_full;
                resumed += workers[i].handshakes_resumed;
                latency_log_done(&workers[i].latencies);
        }
        if (r < 0) {
                latency_log_done(&all);
                return log_oom();
        }
        latency_log_sort(&all);
        rate = (double) all.n / sec(elapsed);
        /* CPU in the measured window, in µs per authentication and in cores busy on average. */
        client_us = all.n > 0 ? (double) (c1.self_usec - c0.self_usec) / (double) all.n : 0.0;
        server_us = all.n > 0 ? (double) (c1.server_usec - c0.server_usec) / (double) all.n : 0.0;
        client_cores = (double) (c1.self_usec - c0.self_usec) / 1e3 / msec(elapsed);
        server_cores = (double) (c1.server_usec - c0.server_usec) / 1e3 / msec(elapsed);
        busy = (double) (c1.busy_usec - c0.busy_usec) / 1e3 / msec(elapsed);
        steal = (double) (c1.steal_usec - c0.steal_usec) / 1e3 / msec(elapsed);
        log_info("%zu authentications in %.2f s with %u threads (connections %s%s): %.0f auth/s, %llu errors.",
                 all.n, sec(elapsed), n_threads, connection_pattern(), arg_resume ? ", resumed" : "", rate, errors);
        log_info("TLS handshakes (warm-up included): %llu full, %llu resumed.", full, resumed);
        log_info("Latency: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms.",
                 msec(latency_log_percentile(&all, 50)), msec(latency_log_percentile(&all, 90)),
                 msec(latency_log_percentile(&all, 99)), msec(latency_log_percentile(&all, 100)));
        log_info("CPU per auth: client %.0f µs%s%.0f µs. Cores busy: client %.2f, server %.2f, other processes "
                 "%.2f (all %.2f), stolen %.2f.",
                 client_us, arg_server_pid > 0 ? ", server " : " (server not accounted: --server-pid)",
                 arg_server_pid > 0 ? server_us : 0.0, client_cores, server_cores,
                 MAX(busy - client_cores - server_cores, 0.0), busy, steal);
        printf("{\"verb\":\"run\",\"threads\":%u,\"nodes\":%zu,\"fresh_connections\":%s,"
               "\"connections\":\"%s\",\"resume\":%s,\"handshakes_full\":%llu,\"handshakes_resumed\":%llu,"
               "\"seconds\":%.3f,"
               "\"credential_each_time\":%s,\"auths\":%zu,\"errors\":%llu,\"auth_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu_us_per_auth\":%.1f,"
               "\"server_cpu_us_per_auth\":%.1f,"
               "\"client_cores\":%.3f,\"server_cores\":%.3f,\"other_cores\":%.3f,\"steal_cores\":%.3f}\n",
               n_threads, ids->n, arg_fresh_connections ? "true" : "false", connection_pattern(),
               arg_resume ? "true" : "false", full, resumed, sec(elapsed), arg_credential_each_time ? "true" : "false",
               all.n, errors, rate,
               msec(latency_log_percentile(&all, 50)), msec(latency_log_percentile(&all, 90)),
               msec(latency_log_percentile(&all, 99)), msec(latency_log_percentile(&all, 100)), client_us,
               server_us, client_cores, server_cores, MAX(busy - client_cores - server_cores, 0.0), steal);
        latency_log_done(&all);
        return errors > 0 ? -EIO : 0;
}

/* ---- floor --------------------------------------------------------------------------------------------- */

typedef struct FloorWorker {
        BenchIdentities slice; /* a view of the loaded identities: each thread its own nodes */
        unsigned iterations;
        BenchFloor result;
        int r;
} FloorWorker;

static void *floor_thread(void *p) {
        FloorWorker *w = p;

        w->r = bench_floor_measure(&w->slice, arg_boot, w->iterations, !arg_credential_each_time, &w->result);
        return NULL;
}

/* The same work on every core at once: what the machine's cores together deliver, which is less than cores ×
 * one core's rate when they share caches, memory bandwidth or a host's physical cores. */
static int floor_parallel(const BenchIdentities *ids, unsigned n_threads, unsigned iterations,
                          double *ret_auth_per_s, double *ret_us_per_auth) {
        _cleanup_free_ pthread_t *threads = calloc(n_threads, sizeof(pthread_t));
        _cleanup_free_ FloorWorker *workers = calloc(n_threads, sizeof(FloorWorker));
        size_t chunk = ids->n / n_threads;
        uint64_t t0, wall, busy = 0;
        int r;

        if (!threads || !workers)
                return -ENOMEM;
        if (chunk == 0)
                return -EINVAL;
        for (unsigned i = 0; i < n_threads; i++)
                workers[i] = (FloorWorker) {
                        .slice = { .items = ids->items + i * chunk, .n = chunk },
                        .iterations = iterations,
                };
        t0 = now_monotonic_nsec();
        r = bench_threads_start(n_threads, floor_thread, workers, sizeof(FloorWorker), threads);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n_threads; i++)
                pthread_join(threads[i], NULL);
        wall = now_monotonic_nsec() - t0;
        for (unsigned i = 0; i < n_threads; i++) {
                if (workers[i].r < 0)
                        return workers[i].r;
                busy += workers[i].result.total_nsec;
        }
        /* The node's half runs untimed in between, on the same threads: the rate is the timed work's. */
        *ret_us_per_auth = (double) busy / 1e3 / ((double) n_threads * iterations);
        *ret_auth_per_s = (double) n_threads * 1e6 / *ret_us_per_auth;
        log_debug("Floor on %u threads: %.2f s of wall clock.", n_threads, sec(wall));
        return 0;
}

static int verb_floor(void) {
        _cleanup_(bench_identities_freep) BenchIdentities *ids = NULL;
        size_t n_rsa = 0;
        BenchFloor f;
        double us, mc, qv, el, par_rate, par_us;
        int r;

        if (!arg_identities || arg_iterations == 0)
                return log_error_errno(EINVAL, "floor needs --identities and --iterations ≥ 1.");
        r = bench_identities_load(arg_identities, &ids);
        if (r < 0)
                return log_error_errno(r, "Failed to load identities from %s: %m", arg_identities);
        for (size_t i = 0; i < ids->n; i++)
                n_rsa += ids->items[i].ek->type == TPM2_KEY_RSA2048;

        /* A first pass warms caches and OpenSSL's lazily loaded providers, then the measured one. */
        r = bench_floor_measure(ids, arg_boot, (unsigned) MIN(arg_iterations, 100ULL), !arg_credential_each_time, &f);
        if (r >= 0)
                r = bench_floor_measure(ids, arg_boot, (unsigned) arg_iterations, !arg_credential_each_time, &f);
        if (r < 0)
                return log_error_errno(r, "The crypto floor could not be measured: %m");
        r = floor_parallel(ids, (unsigned) arg_cores, (unsigned) arg_iterations, &par_rate, &par_us);
        if (r < 0)
                return log_error_errno(r, "The crypto floor on %llu threads could not be measured: %m", arg_cores);

        us = (double) f.total_nsec / 1e3 / f.iterations;
        mc = (double) f.make_credential_nsec / 1e3 / f.iterations;
        qv = (double) f.quote_verify_nsec / 1e3 / f.iterations;
        el = (double) f.event_logs_nsec / 1e3 / f.iterations;
        log_info("Floor over %u %sauthentications (%zu of %zu EKs RSA-2048): %.1f µs per authentication "
                 "(make_credential %.1f µs%s, quote verification %.1f µs, event logs %.1f µs, names, hashes and "
                 "randomness %.1f µs).",
                 f.iterations, f.quote_only ? "quote-only " : "", n_rsa, ids->n, us, mc,
                 f.quote_only ? " not in it" : "", qv, el, us - (f.quote_only ? 0 : mc) - qv - el);
        log_info("Implied maximum: %.0f auth/s per core, %.0f auth/s on %llu cores; measured on %llu threads at once: "
                 "%.0f auth/s (%.1f µs per authentication and thread).",
                 1e6 / us, 1e6 / us * (double) arg_cores, arg_cores, arg_cores, par_rate, par_us);
        printf("{\"verb\":\"floor\",\"iterations\":%u,\"quote_only\":%s,\"nodes\":%zu,\"rsa_nodes\":%zu,"
               "\"us_per_auth\":%.2f,"
               "\"make_credential_us\":%.2f,\"quote_verify_us\":%.2f,\"event_logs_us\":%.2f,\"other_us\":%.2f,"
               "\"auth_per_s_per_core\":%.1f,\"cores\":%llu,\"auth_per_s_cores\":%.1f,"
               "\"parallel_auth_per_s\":%.1f,\"parallel_us_per_auth\":%.2f}\n",
               f.iterations, f.quote_only ? "true" : "false", ids->n, n_rsa, us, mc, qv, el,
               us - (f.quote_only ? 0 : mc) - qv - el, 1e6 / us, arg_cores,
               1e6 / us * (double) arg_cores, par_rate, par_us);
        return 0;
}

/* ---- checks -------------------------------------------------------------------------------------------- */

static int verb_checks(void) {
        _cleanup_(bench_identities_freep) BenchIdentities *ids = NULL;
        BenchIdentities view;
        BenchChecks c;
        int r;

        if (!arg_url || !arg_cacert || !arg_identities)
                return log_error_errno(EINVAL, "checks needs --url, --cacert and --identities.");
        if (arg_duration == 0 || arg_rate == 0)
                return log_error_errno(EINVAL, "--duration and --rate must be at least 1.");
        r = bench_identities_load(arg_identities, &ids);
        if (r < 0)
                return log_error_errno(r, "Failed to load identities from %s: %m", arg_identities);
        /* --nodes: a view of the first N of the file only. */
        view = (BenchIdentities) {
                .items = ids->items,
                .n = arg_nodes > 0 ? MIN((size_t) arg_nodes, ids->n) : ids->n,
        };
        if (view.n == 0)
                return log_error_errno(EINVAL, "No nodes in %s.", arg_identities);

        c = (BenchChecks) {
                .url = arg_url,
                .cacert = arg_cacert,
                .ids = &view,
                .boot = arg_boot,
                .threads = threads_or(4),
                .rate = (unsigned) arg_rate,
                .warmup_sec = (unsigned) arg_warmup,
                .duration_sec = (unsigned) arg_duration,
                .handshake_delay_msec = (unsigned) arg_handshake_delay,
                .server_pid = arg_server_pid,
                .loads = arg_check_loads,
        };
        return bench_checks_run(&c);
}

/* ---- main ---------------------------------------------------------------------------------------------- */

static void help(void) {
        printf("%s VERB [OPTIONS...]\n\n"
               "Load generator for patela-server: software nodes authenticating over TLS (loopback only).\n\n"
               "Verbs:\n"
               "  populate --url URL --cacert CA --nodes N --identities FILE [--ek-type TYPE] [--threads T]\n"
               "      Make N software identities, enrol each (proof, then 202 pending), save them to FILE\n"
               "  run --url URL --cacert CA --identities FILE [--threads T] [--duration S] [--max-auths N]\n"
               "      [--warmup S] [--fresh-connections|--connection-per-auth] [--resume] [--server-pid PID]\n"
               "      [--event-logs DIR] [--credential-each-time]\n"
               "      Full authentications from T threads for S seconds (after S of warm-up)\n"
               "  floor --identities FILE [--iterations N] [--cores C] [--event-logs DIR] [--credential-each-time]\n"
               "      The server's crypto per authentication alone, on one thread, then on C threads at once\n"
               "  checks --url URL --cacert CA --identities FILE [--nodes N] [--rate R] [--threads T]\n"
               "      [--duration S] [--warmup S] [--handshake-delay MS] [--loads LIST] [--server-pid PID]\n"
               "      [--event-logs DIR]\n"
               "      Authenticate each node once (tokens in memory only), then R requests/s of\n"
               "      GET /v1/health and of GET /v1/node/check round-robin over the nodes, over fresh\n"
               "      and kept-alive connections; then GET /v1/node/check over one connection per node,\n"
               "      each idle N/R s between its checks (warm-up and window: N/R s at least)\n\n"
               "Options:\n"
               "     --ek-type=TYPE      ecc-p256 (default), rsa2048, or mix (alternating)\n"
               "     --threads=T         populate: one per CPU; run, checks: 4\n"
               "     --rate=R            checks: requests per second (default 333: 10,000 nodes\n"
               "                         every 30 s)\n"
               "     --handshake-delay=MS\n"
               "                         checks: over fresh connections, wait MS after the ServerHello,\n"
               "                         as a node a round trip away would (default 0)\n"
               "     --loads=LIST        checks: fresh, kept-alive, per-node, comma-separated (default:\n"
               "                         all three)\n"
               "     --duration=S        Measured seconds (default 20)\n"
               "     --warmup=S          Unmeasured seconds first (default 1)\n"
               "     --max-auths=N       Stop after N authentications (default 10000000)\n"
               "     --fresh-connections A new TLS connection for each request (two per authentication)\n"
               "     --connection-per-auth\n"
               "                         run: a new TLS connection for each authentication, its challenge and\n"
               "                         answer over it, as patela-configd makes them\n"
               "     --resume            run: new connections resume the session of the server's last ticket\n"
               "                         (TLS 1.3 psk_dhe_ke, as libcurl does) instead of a full handshake\n"
               "     --server-pid=PID    run, checks: account the server's CPU during the measurement\n"
               "     --event-logs=DIR    Quote the PCRs of the boot in DIR and send its event logs (run), judge\n"
               "                         them as the server does (floor): binary_bios_measurements,\n"
               "                         tpm2-measure.log, pcrs.sha256\n"
               "     --credential-each-time\n"
               "                         run, floor: a credential in every challenge, as for a node of the\n"
               "                         previous version (default: quote-only challenges, as patela-configd\n"
               "                         asks for them)\n"
               "     --iterations=N      floor: authentications (default 2000)\n"
               "     --cores=C           floor: cores for the implied maximum and the parallel pass (default 2)\n",
               program_invocation_short_name);
}

static int parse_number(const char *name, const char *value, unsigned long long max, unsigned long long *ret) {
        int r = safe_atou64(value, max, ret);
        if (r < 0)
                return log_error_errno(r, "Invalid --%s=%s.", name, value);
        return 0;
}

static int parse_check_loads(const char *value, BenchCheckLoads *ret) {
        static const struct {
                const char *name;
                BenchCheckLoads load;
        } table[] = {
                { "fresh", BENCH_CHECKS_FRESH },
                { "kept-alive", BENCH_CHECKS_KEPT_ALIVE },
                { "per-node", BENCH_CHECKS_PER_NODE },
        };
        BenchCheckLoads loads = 0;

        for (const char *p = value; *p;) {
                size_t n = strcspn(p, ","), i;

                for (i = 0; i < ELEMENTSOF(table); i++)
                        if (strlen(table[i].name) == n && strncmp(p, table[i].name, n) == 0)
                                break;
                if (i >= ELEMENTSOF(table))
                        return log_error_errno(EINVAL, "Invalid --loads=%s (fresh, kept-alive, per-node).",
                                               value);
                loads |= table[i].load;
                p += n + (p[n] == ',');
        }
        if (loads == 0)
                return log_error_errno(EINVAL, "--loads needs at least one of fresh, kept-alive, per-node.");
        *ret = loads;
        return 0;
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_URL = 0x100, ARG_CACERT, ARG_IDENTITIES, ARG_NODES, ARG_EK_TYPE, ARG_THREADS, ARG_DURATION,
                ARG_WARMUP, ARG_MAX_AUTHS, ARG_ITERATIONS, ARG_CORES, ARG_FRESH,
                ARG_SERVER_PID, ARG_EVENT_LOGS, ARG_RATE, ARG_HANDSHAKE_DELAY, ARG_LOADS, ARG_PER_AUTH, ARG_RESUME,
                ARG_CREDENTIAL_EACH_TIME,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "url", required_argument, NULL, ARG_URL },
                { "cacert", required_argument, NULL, ARG_CACERT },
                { "identities", required_argument, NULL, ARG_IDENTITIES },
                { "nodes", required_argument, NULL, ARG_NODES },
                { "ek-type", required_argument, NULL, ARG_EK_TYPE },
                { "threads", required_argument, NULL, ARG_THREADS },
                { "duration", required_argument, NULL, ARG_DURATION },
                { "warmup", required_argument, NULL, ARG_WARMUP },
                { "max-auths", required_argument, NULL, ARG_MAX_AUTHS },
                { "iterations", required_argument, NULL, ARG_ITERATIONS },
                { "cores", required_argument, NULL, ARG_CORES },
                { "fresh-connections", no_argument, NULL, ARG_FRESH },
                { "connection-per-auth", no_argument, NULL, ARG_PER_AUTH },
                { "resume", no_argument, NULL, ARG_RESUME },
                { "credential-each-time", no_argument, NULL, ARG_CREDENTIAL_EACH_TIME },
                { "server-pid", required_argument, NULL, ARG_SERVER_PID },
                { "event-logs", required_argument, NULL, ARG_EVENT_LOGS },
                { "rate", required_argument, NULL, ARG_RATE },
                { "handshake-delay", required_argument, NULL, ARG_HANDSHAKE_DELAY },
                { "loads", required_argument, NULL, ARG_LOADS },
                {},
        };
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        exit(EXIT_SUCCESS);
                case ARG_URL:
                        arg_url = optarg;
                        break;
                case ARG_CACERT:
                        arg_cacert = optarg;
                        break;
                case ARG_IDENTITIES:
                        arg_identities = optarg;
                        break;
                case ARG_NODES:
                        r = parse_number("nodes", optarg, 10000000, &arg_nodes);
                        break;
                case ARG_EK_TYPE:
                        arg_ek_type = bench_ek_mix_from_string(optarg);
                        if (arg_ek_type < 0)
                                return log_error_errno(EINVAL, "Invalid --ek-type=%s (ecc-p256, rsa2048, mix).",
                                                       optarg);
                        break;
                case ARG_THREADS:
                        r = parse_number("threads", optarg, 1024, &arg_threads);
                        break;
                case ARG_DURATION:
                        r = parse_number("duration", optarg, 3600, &arg_duration);
                        break;
                case ARG_WARMUP:
                        r = parse_number("warmup", optarg, 600, &arg_warmup);
                        break;
                case ARG_MAX_AUTHS:
                        r = parse_number("max-auths", optarg, UINT64_MAX, &arg_max_auths);
                        break;
                case ARG_ITERATIONS:
                        r = parse_number("iterations", optarg, 100000000, &arg_iterations);
                        break;
                case ARG_CORES:
                        r = parse_number("cores", optarg, 1024, &arg_cores);
                        break;
                case ARG_FRESH:
                        arg_fresh_connections = true;
                        break;
                case ARG_PER_AUTH:
                        arg_connection_per_auth = true;
                        break;
                case ARG_RESUME:
                        arg_resume = true;
                        break;
                case ARG_CREDENTIAL_EACH_TIME:
                        arg_credential_each_time = true;
                        break;
                case ARG_EVENT_LOGS:
                        arg_event_logs = optarg;
                        break;
                case ARG_RATE:
                        r = parse_number("rate", optarg, 100000, &arg_rate);
                        break;
                case ARG_HANDSHAKE_DELAY:
                        r = parse_number("handshake-delay", optarg, 10000, &arg_handshake_delay);
                        break;
                case ARG_LOADS:
                        r = parse_check_loads(optarg, &arg_check_loads);
                        break;
                case ARG_SERVER_PID: {
                        unsigned long long pid;

                        r = parse_number("server-pid", optarg, INT32_MAX, &pid);
                        arg_server_pid = (pid_t) pid;
                        break;
                }
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*func)(void);
        } verbs[] = {
                { "populate", verb_populate },
                { "run", verb_run },
                { "floor", verb_floor },
                { "checks", verb_checks },
        };
        const char *verb;
        int r;

        log_parse_environment();
        if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help")) {
                help();
                return argc < 2 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        verb = argv[1];
        r = parse_argv(argc - 1, argv + 1);
        if (r < 0)
                return EXIT_FAILURE;
        if (optind < argc - 1)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind + 1]), EXIT_FAILURE;
        bench_set_quote_only(!arg_credential_each_time);
        if (arg_url && bench_url_check_loopback(arg_url) < 0)
                return log_error_errno(EADDRNOTAVAIL, "Refusing %s: the benchmark only talks to https:// on "
                                       "127.0.0.1, [::1] or localhost.", arg_url), EXIT_FAILURE;

        if (arg_event_logs) {
                r = bench_boot_load(arg_event_logs, &arg_boot);
                if (r < 0)
                        return log_error_errno(r, "Failed to load the boot of %s: %m", arg_event_logs), EXIT_FAILURE;
                r = bench_boot_explain(arg_boot, BENCH_DEFAULT_PCR_MASK);
                if (r < 0)
                        return log_error_errno(r, "The logs of %s do not explain its PCRs: %m", arg_event_logs),
                               EXIT_FAILURE;
        }

        /* A write to a connection the server closed fails with EPIPE instead of killing the process. */
        (void) signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verb, verbs[i].name)) {
                        r = verbs[i].func();
                        arg_boot = bench_boot_free(arg_boot);
                        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
                }
        return log_error_errno(EINVAL, "Unknown verb '%s'.", verb), EXIT_FAILURE;
}
