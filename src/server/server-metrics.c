/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /metrics: the Prometheus text exposition format, version 0.0.4 (what `promtool check metrics` checks). Names
 * carry the patela_ prefix, counters end in _total, times are seconds and sizes bytes; timestamps are exported
 * as such (…_timestamp_seconds), never as an age: an age computed at scrape time is stale when it is read, and
 * Prometheus computes time() - x itself. */
#include <assert.h>
#include <stdio_ext.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "server-metrics.h"
#include "server-relay-metrics.h"

const uint64_t metrics_latency_bounds_usec[METRICS_LATENCY_BUCKETS] = {
        1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
};

static const ProtoEndpoint latency_endpoints[2] = { PROTO_ENROLL, PROTO_ATTEST };

void metrics_init(Metrics *m) {
        memset(m, 0, sizeof(*m));
        m->start_usec = now_usec();
}

void metrics_count_request(Metrics *m, unsigned endpoint, unsigned result, uint64_t usec) {
        assert(endpoint <= METRICS_ENDPOINT_OTHER);
        assert(result <= METRICS_RESULT_OK);

        atomic_fetch_add_explicit(&m->requests[endpoint][result], 1, memory_order_relaxed);
        for (unsigned h = 0; h < ELEMENTSOF(latency_endpoints); h++) {
                MetricsHistogram *hist = &m->latency[h];
                unsigned b = 0;

                if (endpoint != (unsigned) latency_endpoints[h])
                        continue;
                while (b < METRICS_LATENCY_BUCKETS && usec > metrics_latency_bounds_usec[b])
                        b++;
                if (b < METRICS_LATENCY_BUCKETS)
                        atomic_fetch_add_explicit(&hist->buckets[b], 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&hist->sum_usec, usec, memory_order_relaxed);
                atomic_fetch_add_explicit(&hist->count, 1, memory_order_relaxed);
        }
}

void metrics_count_enrolment(Metrics *m, ProtoEnrollState state) {
        if (state >= 0 && state < _PROTO_ENROLL_STATE_MAX)
                atomic_fetch_add_explicit(&m->enrolments[state], 1, memory_order_relaxed);
}

void metrics_count_verdict(Metrics *m, ProtoVerdict v, bool refused) {
        if (v >= 0 && v < _PROTO_VERDICT_MAX)
                atomic_fetch_add_explicit(&m->verdicts[v][refused], 1, memory_order_relaxed);
}

void metrics_count_unlogged_refusal(Metrics *m) {
        atomic_fetch_add_explicit(&m->unlogged_refusals, 1, memory_order_relaxed);
}

void metrics_count_handshake(Metrics *m, bool resumed) {
        atomic_fetch_add_explicit(&m->tls_handshakes[resumed], 1, memory_order_relaxed);
}

void metrics_count_handshake_timeout(Metrics *m) {
        atomic_fetch_add_explicit(&m->tls_handshake_timeouts, 1, memory_order_relaxed);
}

void metrics_count_challenge(Metrics *m, bool quote_only) {
        atomic_fetch_add_explicit(&m->challenges[quote_only], 1, memory_order_relaxed);
}

void metrics_count_log_cache(Metrics *m, bool hit) {
        atomic_fetch_add_explicit(&m->log_cache[hit], 1, memory_order_relaxed);
}

static uint64_t load(const _Atomic uint64_t *p) {
        return atomic_load_explicit(p, memory_order_relaxed);
}

void metrics_write_label_value(FILE *f, const char *s) {
        size_t n = strcspn(s, "\\\"\n");

        /* Most values (fingerprints, states, image names) have nothing to escape: one copy. */
        fwrite_unlocked(s, 1, n, f);
        for (s += n; *s; s++)
                switch (*s) {
                case '\\':
                        fputs_unlocked("\\\\", f);
                        break;
                case '"':
                        fputs_unlocked("\\\"", f);
                        break;
                case '\n':
                        fputs_unlocked("\\n", f);
                        break;
                default:
                        fputc_unlocked(*s, f);
                }
}

/* The per-node and per-relay lines are most of a scrape (some 600,000 of them with 40,000 relays reporting):
 * written with the unlocked stdio calls and integers formatted here, not with fprintf(). Every stream here
 * belongs to one thread (FSETLOCKING_BYCALLER). */
static void put(FILE *f, const char *s) {
        fputs_unlocked(s, f);
}

static void put_i64(FILE *f, int64_t v) {
        char buf[24], *p = buf + sizeof(buf) - 1;
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        *p = '\0';
        do {
                *--p = (char) ('0' + u % 10);
                u /= 10;
        } while (u > 0);
        if (v < 0)
                *--p = '-';
        fputs_unlocked(p, f);
}


/* The per-relay and per-node lines go to buffers whose appends are a memcpy() of a known length. */
typedef MetricsBuf Buf;

static bool buf_grow(Buf *b, size_t n) {
        if (b->oom)
                return false;
        if (n > b->allocated - b->size) {
                size_t a = MAX(b->allocated * 2, b->size + n + 65536);
                char *p = realloc(b->data, a);

                if (!p) {
                        b->oom = true;
                        return false;
                }
                b->data = p;
                b->allocated = a;
        }
        return true;
}

static void buf_add(Buf *b, const char *s, size_t n) {
        if (!buf_grow(b, n))
                return;
        memcpy(b->data + b->size, s, n);
        b->size += n;
}

static void buf_str(Buf *b, const char *s) {
        buf_add(b, s, strlen(s));
}

static void buf_i64(Buf *b, int64_t v) {
        char tmp[24], *p = tmp + sizeof(tmp);
        uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

        do {
                *--p = (char) ('0' + u % 10);
                u /= 10;
        } while (u > 0);
        if (v < 0)
                *--p = '-';
        buf_add(b, p, (size_t) (tmp + sizeof(tmp) - p));
}

static void buf_header(Buf *b, const char *name, const char *type, const char *help) {
        buf_str(b, "# HELP ");
        buf_str(b, name);
        buf_add(b, " ", 1);
        buf_str(b, help);
        buf_str(b, "\n# TYPE ");
        buf_str(b, name);
        buf_add(b, " ", 1);
        buf_str(b, type);
        buf_add(b, "\n", 1);
}

static void header(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Seconds with µs precision, as Prometheus reads them: "0.0025", "1" (no trailing zeros: the bucket bounds read
 * as their client libraries write them). */
static void write_seconds(FILE *f, uint64_t usec) {
        char frac[8];
        size_t n;

        fprintf(f, "%" PRIu64, usec / 1000000U);
        snprintf(frac, sizeof(frac), "%06" PRIu64, usec % 1000000U);
        for (n = strlen(frac); n > 0 && frac[n - 1] == '0'; n--)
                frac[n - 1] = '\0';
        if (n > 0)
                fprintf(f, ".%s", frac);
}

static const char *enroll_state_name(ProtoEnrollState s) {
        static const char *const names[_PROTO_ENROLL_STATE_MAX] = {
                [PROTO_ENROLL_PENDING] = "pending",
                [PROTO_ENROLL_PROVE] = "prove",
                [PROTO_ENROLL_ENABLED] = "enabled",
        };
        return names[s];
}

static const char *endpoint_label(unsigned e) {
        return e == METRICS_ENDPOINT_OTHER ? "other" : proto_endpoint_path((ProtoEndpoint) e);
}

static void render_counters(const MetricsContext *c, FILE *f) {
        const Metrics *m = c->metrics;

        header(f, "patela_server_start_time_seconds", "gauge", "When this patela-server process started, seconds since the epoch.");
        fprintf(f, "patela_server_start_time_seconds %" PRIu64 "\n", m->start_usec / 1000000U);
        header(f, "patela_build_info", "gauge", "The version of patela-server.");
        fputs("patela_build_info{version=\"", f);
        metrics_write_label_value(f, PROJECT_VERSION);
        fputs("\"} 1\n", f);

        /* Every endpoint's "ok" series exists from the start, so that increase() sees its first request; an error
         * code's series appears with its first occurrence (most pairs never occur). */
        header(f, "patela_requests_total", "counter",
               "API requests answered, by endpoint and by result: ok, or the error code of the answer.");
        for (unsigned e = 0; e <= METRICS_ENDPOINT_OTHER; e++)
                for (unsigned r = 0; r <= METRICS_RESULT_OK; r++) {
                        uint64_t v = load(&m->requests[e][r]);

                        if (v == 0 && (r != METRICS_RESULT_OK || e == METRICS_ENDPOINT_OTHER))
                                continue;
                        fprintf(f, "patela_requests_total{endpoint=\"%s\",result=\"%s\"} %" PRIu64 "\n", endpoint_label(e),
                                r == METRICS_RESULT_OK ? "ok" : proto_error_to_string((ProtoErrorCode) r), v);
                }

        header(f, "patela_enrolments_total", "counter",
               "Enrolments answered, by state: prove (a new identity's proof challenge), pending (not enabled yet), "
               "enabled (an attestation challenge).");
        for (ProtoEnrollState s = 0; s < _PROTO_ENROLL_STATE_MAX; s++)
                fprintf(f, "patela_enrolments_total{state=\"%s\"} %" PRIu64 "\n", enroll_state_name(s),
                        load(&m->enrolments[s]));

        header(f, "patela_attestation_verdicts_total", "counter",
               "Attestations whose quote verified, by measured-boot verdict and by outcome (refused: MeasuredBoot= "
               "enforces it).");
        for (ProtoVerdict v = 0; v < _PROTO_VERDICT_MAX; v++)
                for (unsigned refused = 0; refused < 2; refused++)
                        fprintf(f, "patela_attestation_verdicts_total{verdict=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                                proto_verdict_to_string(v), refused ? "refused" : "accepted", load(&m->verdicts[v][refused]));

        header(f, "patela_attestation_refusals_unlogged_total", "counter",
               "Refused attestation answers that did not prove the credential's secret, left out of the attestation "
               "log because their node had 4 refusals logged within ChallengeLifetime= (anyone who knows a challenge "
               "id can send one).");
        fprintf(f, "patela_attestation_refusals_unlogged_total %" PRIu64 "\n", load(&m->unlogged_refusals));

        header(f, "patela_request_duration_seconds", "histogram",
               "Time from a request's headers to its answer: POST /v1/enroll (a challenge) and POST /v1/attest "
               "(the proof, the quote and the verdict).");
        for (unsigned h = 0; h < ELEMENTSOF(latency_endpoints); h++) {
                const MetricsHistogram *hist = &m->latency[h];
                const char *path = proto_endpoint_path(latency_endpoints[h]);
                uint64_t cumulative = 0, count = load(&hist->count);

                for (unsigned b = 0; b < METRICS_LATENCY_BUCKETS; b++) {
                        cumulative += load(&hist->buckets[b]);
                        fprintf(f, "patela_request_duration_seconds_bucket{endpoint=\"%s\",le=\"", path);
                        write_seconds(f, metrics_latency_bounds_usec[b]);
                        fprintf(f, "\"} %" PRIu64 "\n", cumulative);
                }
                /* Counted after the buckets: a request counted meanwhile must not leave +Inf below a bucket. */
                fprintf(f, "patela_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", path,
                        MAX(count, cumulative));
                fprintf(f, "patela_request_duration_seconds_sum{endpoint=\"%s\"} ", path);
                write_seconds(f, load(&hist->sum_usec));
                fprintf(f, "\npatela_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n", path,
                        MAX(count, cumulative));
        }

        header(f, "patela_metrics_render_duration_seconds", "gauge",
               "How long the previous /metrics took to render (reading the database and formatting, not sending).");
        put(f, "patela_metrics_render_duration_seconds ");
        write_seconds(f, load(&m->last_render_usec));
        fputc_unlocked('\n', f);
        header(f, "patela_metrics_relays_render_duration_seconds", "gauge",
               "How long the previous /metrics/relays took to render (copying the reports, reading the relays and "
               "formatting, not sending).");
        put(f, "patela_metrics_relays_render_duration_seconds ");
        write_seconds(f, load(&m->last_relays_render_usec));
        fputc_unlocked('\n', f);
        header(f, "patela_metrics_refused_total", "counter",
               "Requests to the metrics listener refused for a missing or wrong bearer token.");
        fprintf(f, "patela_metrics_refused_total %" PRIu64 "\n", load(&m->scrapes_refused));
        header(f, "patela_tls_handshakes_total", "counter",
               "TLS handshakes completed on the nodes' listeners: full, or resumed from a session ticket "
               "(TLSTicketLifetime=).");
        fprintf(f, "patela_tls_handshakes_total{resumed=\"false\"} %" PRIu64 "\n", load(&m->tls_handshakes[0]));
        fprintf(f, "patela_tls_handshakes_total{resumed=\"true\"} %" PRIu64 "\n", load(&m->tls_handshakes[1]));
        header(f, "patela_tls_handshake_timeouts_total", "counter",
               "TLS handshakes on the nodes' listeners ended unfinished: the client had not completed it within "
               "IdleTimeout= (at most 30 s) of its TCP connection.");
        fprintf(f, "patela_tls_handshake_timeouts_total %" PRIu64 "\n", load(&m->tls_handshake_timeouts));
        header(f, "patela_verdict_log_cache_total", "counter",
               "Attestations whose event logs the verifier judged: found in its cache of logs that explained their "
               "quote (the same logs and PCR values as before: not parsed again), or parsed and replayed.");
        fprintf(f, "patela_verdict_log_cache_total{result=\"hit\"} %" PRIu64 "\n", load(&m->log_cache[1]));
        fprintf(f, "patela_verdict_log_cache_total{result=\"miss\"} %" PRIu64 "\n", load(&m->log_cache[0]));
        header(f, "patela_attestation_challenges_total", "counter",
               "Challenges given to enabled nodes: with a credential to activate, or quote-only (the node asked "
               "for it, and its TPM proved its EK and AK to this server before).");
        fprintf(f, "patela_attestation_challenges_total{kind=\"credential\"} %" PRIu64 "\n", load(&m->challenges[0]));
        fprintf(f, "patela_attestation_challenges_total{kind=\"quote-only\"} %" PRIu64 "\n", load(&m->challenges[1]));
}

static void render_settings(const MetricsContext *c, FILE *f) {
        header(f, "patela_session_lifetime_seconds", "gauge",
               "SessionLifetime=: a node re-attests at least this often to keep a session.");
        fprintf(f, "patela_session_lifetime_seconds %" PRIu64 "\n", c->session_lifetime_usec / 1000000U);
        header(f, "patela_check_interval_seconds", "gauge", "CheckInterval=: how often a running node checks in.");
        fprintf(f, "patela_check_interval_seconds %" PRIu64 "\n", c->check_interval_usec / 1000000U);
        header(f, "patela_relay_metrics_interval_seconds", "gauge",
               "RelayMetricsInterval=: how often a node reports its relays' MetricsPort.");
        fprintf(f, "patela_relay_metrics_interval_seconds %" PRIu64 "\n", c->relay_metrics_interval_usec / 1000000U);

        header(f, "patela_certificate_expiry_timestamp_seconds", "gauge",
               "When a certificate's validity ends (notAfter), seconds since the epoch: tls is Certificate=, ca is "
               "CACertificate=.");
        if (c->tls_not_after > 0)
                fprintf(f, "patela_certificate_expiry_timestamp_seconds{certificate=\"tls\"} %" PRIi64 "\n", c->tls_not_after);
        if (c->ca_not_after > 0)
                fprintf(f, "patela_certificate_expiry_timestamp_seconds{certificate=\"ca\"} %" PRIi64 "\n", c->ca_not_after);
}

static const char *column_text(DbStmt *s, int i) {
        const unsigned char *t = (const unsigned char *) db_column_text(s, i);
        return t ? (const char *) t : "";
}

/* One SELECT of a few numbers: sets ret[0…n-1]. */
static int query_numbers(Db *db, const char *sql, int64_t bind, int64_t *ret, unsigned n) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        if (db_bind_parameter_count(s) > 0)
                db_bind_int64(s, 1, bind);
        rc = db_step(s);
        if (rc != DB_ROW)
                return rc == DB_DONE ? -ENOENT : db_result(rc);
        for (unsigned i = 0; i < n; i++)
                ret[i] = db_column_int64(s, (int) i);
        return 0;
}

/* SQLite: the database file and its write-ahead log. PostgreSQL: the database as pg_database_size() counts it (its
 * files in the cluster); the WAL is the cluster's, shared by its databases, and not shown. */
static void render_database_size(const MetricsContext *c, Db *db, FILE *f) {
        struct stat st;
        int64_t size;
        int r;

        header(f, "patela_database_size_bytes", "gauge",
               "Size of the database: db is the database (SQLite's file, or PostgreSQL's pg_database_size()), wal "
               "SQLite's write-ahead log.");
        if (db->pg) {
                r = query_numbers(db, "SELECT pg_database_size(current_database())", 0, &size, 1);
                if (r < 0)
                        log_debug_errno(r, "Failed to read the database's size: %s", db_error(db));
                else
                        fprintf(f, "patela_database_size_bytes{file=\"db\"} %" PRIi64 "\n", size);
                return;
        }
        if (stat(c->database_path, &st) >= 0)
                fprintf(f, "patela_database_size_bytes{file=\"db\"} %lld\n", (long long) st.st_size);
        char wal[4096];
        if (snprintf(wal, sizeof(wal), "%s-wal", c->database_path) < (int) sizeof(wal))
                fprintf(f, "patela_database_size_bytes{file=\"wal\"} %lld\n",
                        stat(wal, &st) >= 0 ? (long long) st.st_size : 0LL);
}

static int render_fleet(Db *db, FILE *f) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int64_t v[3] = {};
        int r, rc;

        header(f, "patela_nodes", "gauge", "Nodes by state and by the image they booted last (empty: none known).");
        r = db_stmt_prepare_cached(db,
                              "SELECT n.state, ifnull(i.name, ''), count(*) FROM nodes n LEFT JOIN images i ON i.id = n.image_id "
                              "GROUP BY 1, 2 ORDER BY 1, 2",
                              &s);
        if (r < 0)
                return r;
        while ((rc = db_step(s)) == DB_ROW) {
                fprintf(f, "patela_nodes{state=\"%s\",image=\"", column_text(s, 0));
                metrics_write_label_value(f, column_text(s, 1));
                fprintf(f, "\"} %" PRIi64 "\n", (int64_t) db_column_int64(s, 2));
        }
        if (rc != DB_DONE)
                return db_result(rc);

        r = query_numbers(db, "SELECT count(*) FROM sessions WHERE expires_at > ?", (int64_t) now_usec(), v, 1);
        if (r < 0)
                return r;
        header(f, "patela_sessions_open", "gauge", "Session tokens issued and not expired (one per attested node).");
        fprintf(f, "patela_sessions_open %" PRIi64 "\n", v[0]);

        /* Two counts, not a join of 40,000 relays with their fingerprints: every fingerprint is of a relay that
         * exists (a foreign key, ON DELETE CASCADE). */
        r = query_numbers(db, "SELECT (SELECT count(*) FROM relays), (SELECT count(*) FROM relay_fingerprints)", 0, v, 2);
        if (r < 0)
                return r;
        header(f, "patela_relays", "gauge",
               "Relays allocated, by whether their node reported their identity (fingerprints) yet.");
        fprintf(f, "patela_relays{identity=\"reported\"} %" PRIi64 "\npatela_relays{identity=\"unreported\"} %" PRIi64 "\n",
                v[1], v[0] - v[1]);

        r = query_numbers(db, "SELECT count(*), count(retired_at) FROM images", 0, v, 2);
        if (r < 0)
                return r;
        header(f, "patela_images", "gauge", "Registered images, by state.");
        fprintf(f, "patela_images{state=\"active\"} %" PRIi64 "\npatela_images{state=\"retired\"} %" PRIi64 "\n",
                v[0] - v[1], v[1]);

        /* Both logs are append-only with dense ids: their largest id is their size, from one b-tree lookup. */
        r = query_numbers(db,
                          "SELECT (SELECT ifnull(max(id), 0) FROM attestations), (SELECT ifnull(max(idx) + 1, 0) FROM tlog_entries)",
                          0, v, 2);
        if (r < 0)
                return r;
        header(f, "patela_attestation_log_entries", "gauge", "Entries of the attestation log.");
        fprintf(f, "patela_attestation_log_entries %" PRIi64 "\n", v[0]);
        header(f, "patela_transparency_log_entries", "gauge", "Entries of the transparency log (its tree size).");
        fprintf(f, "patela_transparency_log_entries %" PRIi64 "\n", v[1]);
        return 0;
}

/* Per node: one info series with its labels, and its times. node is the node's id, as the CLI shows it. */
static const struct {
        const char *name, *help;
        int column;
} node_times[] = {
        { "patela_node_last_verdict_timestamp_seconds",
          "When the node's last attestation was judged, seconds since the epoch (0: never).", 6 },
        { "patela_node_last_trusted_timestamp_seconds",
          "When the node last attested with the verdict Trusted, seconds since the epoch (0: never).", 7 },
        { "patela_node_last_seen_timestamp_seconds",
          "When the server last heard from the node, seconds since the epoch: its last attestation once enabled (an "
          "enrolment of an enabled node proves nothing), its last enrolment while pending or disabled.", 8 },
};

static int render_nodes(Db *db, FILE *f) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        /* Each metric's lines go together (the format requires it): the times go to buffers of their own. */
        Buf times[ELEMENTSOF(node_times)] = {};
        int r, rc = DB_DONE;

        r = db_stmt_prepare_cached(db,
                              "SELECT n.id, n.fingerprint, n.state, ifnull(i.name, ''), "
                              "CASE WHEN i.id IS NULL THEN 'none' WHEN i.retired_at IS NULL THEN 'active' ELSE 'retired' END, "
                              "ifnull(n.last_verdict, ''), ifnull(n.last_verdict_at, 0), ifnull(n.last_trusted_at, 0), "
                              "n.last_seen FROM nodes n LEFT JOIN images i ON i.id = n.image_id ORDER BY n.id",
                              &s);
        if (r >= 0) {
                for (size_t k = 0; k < ELEMENTSOF(node_times); k++)
                        buf_header(&times[k], node_times[k].name, "gauge", node_times[k].help);
                header(f, "patela_node_info", "gauge",
                       "One series per node, its identity and state as labels: fingerprint, state, image (empty: none "
                       "known), image_state (active, retired, none), verdict (its last measured-boot verdict; empty: none).");
                while ((rc = db_step(s)) == DB_ROW) {
                        int64_t id = db_column_int64(s, 0);

                        put(f, "patela_node_info{node=\"");
                        put_i64(f, id);
                        put(f, "\",fingerprint=\"");
                        metrics_write_label_value(f, column_text(s, 1));
                        put(f, "\",state=\"");
                        metrics_write_label_value(f, column_text(s, 2));
                        put(f, "\",image=\"");
                        metrics_write_label_value(f, column_text(s, 3));
                        put(f, "\",image_state=\"");
                        put(f, column_text(s, 4));
                        put(f, "\",verdict=\"");
                        metrics_write_label_value(f, column_text(s, 5));
                        put(f, "\"} 1\n");
                        for (size_t k = 0; k < ELEMENTSOF(node_times); k++) {
                                buf_str(&times[k], node_times[k].name);
                                buf_add(&times[k], "{node=\"", 7);
                                buf_i64(&times[k], id);
                                buf_add(&times[k], "\"} ", 3);
                                buf_i64(&times[k], db_column_int64(s, node_times[k].column));
                                buf_add(&times[k], "\n", 1);
                        }
                }
                if (rc != DB_DONE)
                        r = db_result(rc);
        }
        for (size_t k = 0; k < ELEMENTSOF(node_times); k++) {
                if (times[k].oom && r >= 0)
                        r = -ENOMEM;
                if (r >= 0)
                        fwrite_unlocked(times[k].data, 1, times[k].size, f);
                free(times[k].data);
        }
        return r;
}

/* Per relay, from its node's last report (POST /v1/node/relay-metrics, kept in memory): labels node (the node's
 * id) and relay (its name). tor's counters restart with tor: Prometheus sees a counter reset, as for any restarted
 * target. */
enum {
        RELAY_TIMESTAMP,
        RELAY_ONIONSKINS,
        RELAY_OOM,
        RELAY_TCP,
        RELAY_RATE_LIMIT,
        RELAY_DNS_QUERIES,
        RELAY_DNS_ERRORS,
        RELAY_FLAG,
        RELAY_TRAFFIC,
        _RELAY_SERIES_MAX,
};

static const struct {
        const char *name, *type, *help;
} relay_series[_RELAY_SERIES_MAX] = {
        [RELAY_TIMESTAMP] = { "patela_relay_metrics_timestamp_seconds", "gauge",
                              "When the relay's node last reported its MetricsPort, seconds since the epoch." },
        [RELAY_ONIONSKINS] = { "patela_relay_onionskins_dropped_total", "counter",
                               "Onionskins (circuit creations) the relay dropped, all handshake types (tor's counter)." },
        [RELAY_OOM] = { "patela_relay_oom_bytes_total", "counter",
                        "Bytes tor's out-of-memory handler freed, all subsystems (tor's counter)." },
        [RELAY_TCP] = { "patela_relay_tcp_exhaustion_total", "counter",
                        "Times the relay ran out of TCP ports (tor's counter)." },
        [RELAY_RATE_LIMIT] = { "patela_relay_rate_limit_reached_total", "counter",
                               "Times the relay's global bandwidth limit was reached, both directions (tor's counter)." },
        [RELAY_DNS_QUERIES] = { "patela_relay_exit_dns_queries_total", "counter",
                                "DNS queries the exit made (tor's counter)." },
        [RELAY_DNS_ERRORS] = { "patela_relay_exit_dns_errors_total", "counter",
                               "DNS errors of the exit by reason (tor_timeout: a timeout; tor's counter). tor_timeout "
                               "always, other reasons once non-zero." },
        [RELAY_FLAG] = { "patela_relay_flag", "gauge", "The consensus flags the relay has (1), by flag." },
        [RELAY_TRAFFIC] = { "patela_relay_traffic_bytes_total", "counter",
                            "Bytes the relay read and wrote, by direction (tor's counter)." },
};

/* A relay with a report: a copy of its entry (the passes below read the rows in order: following a pointer into the
 * store's copy, in hash order, missed the cache at every line and was half of the render), and its labels, written
 * once per render and copied into each of its lines. */
struct MetricsRelayRow {
        RelayMetricsEntry e;
        uint8_t labels_len;
        char labels[64]; /* {node="N",relay="NAME" */
};

void metrics_relay_scratch_done(MetricsRelayScratch *s) {
        free(s->entries);
        free(s->index);
        free(s->matched);
        free(s->rows);
        free(s->gone);
        *s = (MetricsRelayScratch) {};
}

static int grow(void **p, size_t *allocated, size_t want, size_t size) {
        void *q;

        if (*p && want <= *allocated)
                return 0; /* allocated even for 0: the callers write through it */
        want += want / 8 + 16;
        q = reallocarray(*p, want, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = want;
        return 0;
}

/* Writes v in decimal at p (at most 20 characters); returns the end. */
static char *put_digits(char *p, uint64_t v) {
        char tmp[20], *t = tmp + sizeof(tmp);
        size_t n;

        do {
                *--t = (char) ('0' + v % 10);
                v /= 10;
        } while (v > 0);
        n = (size_t) (tmp + sizeof(tmp) - t);
        memcpy(p, t, n);
        return p + n;
}

/* name{node="N",relay="R"[,key="value"]} value: one reservation, then copies (560,000 of them with 40,000
 * relays: what the render costs, with the join). */
static void relay_line(Buf *b, const char *name, size_t name_len, const MetricsRelayRow *row, const char *extra,
                       size_t extra_len, uint64_t v) {
        char *p;

        if (!buf_grow(b, name_len + row->labels_len + extra_len + 2 + 20 + 1))
                return;
        p = b->data + b->size;
        memcpy(p, name, name_len);
        p += name_len;
        memcpy(p, row->labels, row->labels_len);
        p += row->labels_len;
        memcpy(p, extra, extra_len);
        p += extra_len;
        *p++ = '}';
        *p++ = ' ';
        p = put_digits(p, v);
        *p++ = '\n';
        b->size = (size_t) (p - b->data);
}

/* scratch->index over the snapshot's entries: relay id → position, in O(n) (no sort). */
static int index_entries(MetricsRelayScratch *sc, size_t n_entries, size_t *ret_mask) {
        size_t n_slots = 64;

        while (n_slots < n_entries * 2)
                n_slots *= 2;
        if (grow((void **) &sc->index, &sc->n_index_allocated, n_slots, sizeof(int32_t)) < 0 ||
            grow((void **) &sc->matched, &sc->n_matched_allocated, n_entries, 1) < 0)
                return -ENOMEM;
        memset(sc->index, 0xff, n_slots * sizeof(int32_t));
        memset(sc->matched, 0, n_entries);
        for (size_t i = 0; i < n_entries; i++) {
                size_t j = (size_t) relay_metrics_hash(sc->entries[i].relay_id, n_slots);

                while (sc->index[j] >= 0)
                        j = (j + 1) & (n_slots - 1);
                sc->index[j] = (int32_t) i;
        }
        *ret_mask = n_slots - 1;
        return 0;
}

/* The relays of the database that have a report, into scratch->rows (relay id order); the store's entries of relays
 * the database does not have any more into scratch->gone. */
static int join_relays(Db *db, MetricsRelayScratch *sc, size_t n_entries, size_t *ret_rows, size_t *ret_gone) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        size_t n_rows = 0, n_gone = 0, mask;
        int r, rc;

        r = db_stmt_prepare_cached(db, "SELECT id, node_id, name FROM relays ORDER BY id", &s);
        if (r < 0)
                return r;
        if (grow((void **) &sc->rows, &sc->n_rows_allocated, n_entries, sizeof(MetricsRelayRow)) < 0 ||
            grow((void **) &sc->gone, &sc->n_gone_allocated, n_entries, sizeof(int64_t)) < 0 ||
            index_entries(sc, n_entries, &mask) < 0)
                return -ENOMEM;
        while ((rc = db_step(s)) == DB_ROW) {
                int64_t id = db_column_int64(s, 0), node = db_column_int64(s, 1);
                const char *name = column_text(s, 2);
                size_t name_len = strlen(name), j;
                MetricsRelayRow *row;
                char *p;

                for (j = (size_t) relay_metrics_hash(id, mask + 1); sc->index[j] >= 0; j = (j + 1) & mask)
                        if (sc->entries[sc->index[j]].relay_id == id)
                                break;
                if (sc->index[j] < 0)
                        continue; /* no report */
                sc->matched[sc->index[j]] = 1;
                /* The name is a tor nickname (letters and digits, relays.name as the pool gave it): nothing to
                 * escape; a longer one than fits is left out rather than cut. {node="N",relay="NAME" */
                if (name_len > TOR_NICKNAME_MAX || node < 0)
                        continue;
                row = &sc->rows[n_rows++];
                row->e = sc->entries[sc->index[j]];
                p = mempcpy(row->labels, "{node=\"", 7);
                p = put_digits(p, (uint64_t) node);
                p = mempcpy(p, "\",relay=\"", 9);
                p = mempcpy(p, name, name_len);
                *p++ = '"';
                row->labels_len = (uint8_t) (p - row->labels);
        }
        if (rc != DB_DONE)
                return db_result(rc);
        for (size_t i = 0; i < n_entries; i++)
                if (!sc->matched[i])
                        sc->gone[n_gone++] = sc->entries[i].relay_id;
        *ret_rows = n_rows;
        *ret_gone = n_gone;
        return 0;
}

/* Each metric's samples together, as the format wants them: one pass over the rows per metric (a relay's DNS reasons
 * and flags in one go: within a metric the order is free). */
static void write_relays(Buf *out, const MetricsRelayRow *rows, size_t n) {
        static const size_t fields[] = {
                [RELAY_ONIONSKINS] = offsetof(TorRelayMetrics, onionskins_dropped),
                [RELAY_OOM] = offsetof(TorRelayMetrics, oom_bytes),
                [RELAY_TCP] = offsetof(TorRelayMetrics, tcp_exhaustion),
                [RELAY_RATE_LIMIT] = offsetof(TorRelayMetrics, rate_limit_reached),
                [RELAY_DNS_QUERIES] = offsetof(TorRelayMetrics, dns_queries),
        };
        char reasons[_TOR_DNS_REASON_MAX][48], flags[_TOR_RELAY_FLAG_MAX][48];
        size_t reasons_len[_TOR_DNS_REASON_MAX], flags_len[_TOR_RELAY_FLAG_MAX];

        for (TorDnsReason d = 0; d < _TOR_DNS_REASON_MAX; d++)
                reasons_len[d] = (size_t) snprintf(reasons[d], sizeof(reasons[d]), ",reason=\"%s\"",
                                                   tor_dns_reason_to_string(d));
        for (TorRelayFlag fl = 0; fl < _TOR_RELAY_FLAG_MAX; fl++)
                flags_len[fl] = (size_t) snprintf(flags[fl], sizeof(flags[fl]), ",flag=\"%s\"",
                                                  tor_relay_flag_to_string(fl));

        for (unsigned k = 0; k < _RELAY_SERIES_MAX; k++) {
                const char *name = relay_series[k].name;
                size_t name_len = strlen(name);

                buf_header(out, name, relay_series[k].type, relay_series[k].help);
                switch (k) {
                case RELAY_TIMESTAMP:
                        for (size_t i = 0; i < n; i++)
                                relay_line(out, name, name_len, &rows[i], "", 0, (uint64_t) MAX(rows[i].e.reported_at, 0));
                        break;
                case RELAY_DNS_ERRORS:
                        for (size_t i = 0; i < n; i++)
                                for (TorDnsReason d = 0; d < _TOR_DNS_REASON_MAX; d++)
                                        if (rows[i].e.m.dns_errors[d] > 0 || d == TOR_DNS_TOR_TIMEOUT)
                                                relay_line(out, name, name_len, &rows[i], reasons[d], reasons_len[d],
                                                           rows[i].e.m.dns_errors[d]);
                        break;
                case RELAY_FLAG:
                        for (size_t i = 0; i < n; i++)
                                for (TorRelayFlag fl = 0; fl < _TOR_RELAY_FLAG_MAX; fl++)
                                        if (rows[i].e.m.flags & (1U << fl))
                                                relay_line(out, name, name_len, &rows[i], flags[fl], flags_len[fl], 1);
                        break;
                case RELAY_TRAFFIC:
                        for (size_t i = 0; i < n; i++) {
                                relay_line(out, name, name_len, &rows[i], ",direction=\"read\"", 17,
                                           rows[i].e.m.read_bytes);
                                relay_line(out, name, name_len, &rows[i], ",direction=\"written\"", 20,
                                           rows[i].e.m.written_bytes);
                        }
                        break;
                default:
                        for (size_t i = 0; i < n; i++)
                                relay_line(out, name, name_len, &rows[i], "", 0,
                                           *(const uint64_t *) ((const uint8_t *) &rows[i].e.m + fields[k]));
                }
        }
}

int metrics_render_relays(Db *db, RelayMetricsStore *store, MetricsRelayScratch *scratch, MetricsBuf *out) {
        size_t n_entries = 0, n_rows = 0, n_gone = 0;
        uint64_t start = now_monotonic_usec();
        int r;

        /* The store's copy first, then the database's relays: an entry stored before the read began, of a relay
         * the read does not see, is of a relay removed meanwhile (relay_metrics_store_remove()). */
        r = relay_metrics_store_snapshot(store, &scratch->entries, &scratch->n_entries_allocated, &n_entries);
        if (r < 0)
                return r;
        r = db_begin_read(db);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the database for /metrics/relays: %s", db_error(db));
        r = join_relays(db, scratch, n_entries, &n_rows, &n_gone);
        if (r < 0)
                log_warning_errno(r, "Failed to read the database for /metrics/relays: %s", db_error(db));
        (void) db_commit(db);
        if (r < 0)
                return r;
        if (n_gone > 0)
                relay_metrics_store_remove(store, scratch->gone, n_gone, start);

        /* Some 14 lines of ~70 bytes per relay: one allocation, grown only if the fleet's labels are longer. */
        if (!buf_grow(out, n_rows * 1024 + 8192))
                return -ENOMEM;
        write_relays(out, scratch->rows, n_rows);
        return out->oom ? -ENOMEM : 0;
}

int metrics_render(const MetricsContext *c, Db *db, FILE *f) {
        int r;

        render_counters(c, f);
        render_settings(c, f);
        render_database_size(c, db, f);

        /* One snapshot for all of it; on WAL a reader takes no lock that a writer waits for. */
        r = db_begin_read(db);
        if (r < 0)
                return log_warning_errno(r, "Failed to read the database for /metrics: %s", db_error(db));
        r = render_fleet(db, f);
        if (r >= 0)
                r = render_nodes(db, f);
        if (r < 0)
                log_warning_errno(r, "Failed to read the database for /metrics: %s", db_error(db));
        (void) db_commit(db);
        return r;
}
