/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server-metrics.h"
#include "server-relay-metrics.h"
#include "server-status.h"
#include "test-server-util.h"
#include "tests.h"

static char *render(const Metrics *m, Db *db, const char *path, int *ret_r) {
        MetricsContext c = { .metrics = m, .database_path = path, .tls_not_after = 1900000000, .ca_not_after = 2000000000,
                             .session_lifetime_usec = 3600000000ULL, .check_interval_usec = 30000000ULL,
                             .relay_metrics_interval_usec = 300000000ULL };
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        ASSERT_NOT_NULL(f);
        *ret_r = metrics_render(&c, db, f);
        ASSERT_EQ(fclose(f), 0);
        return buf;
}

/* /metrics/relays as the metrics thread renders it, NUL-terminated. */
static char *render_relays(Db *db, RelayMetricsStore *store, int *ret_r) {
        MetricsRelayScratch scratch = {};
        MetricsBuf out = {};

        *ret_r = metrics_render_relays(db, store, &scratch, &out);
        metrics_relay_scratch_done(&scratch);
        ASSERT_FALSE(out.oom);
        out.data = realloc(out.data, out.size + 1);
        ASSERT_NOT_NULL(out.data);
        out.data[out.size] = '\0';
        return out.data;
}

/* Relay r2 (node 1) reported: flags 37 = Fast, Authority, Running. */
static void report_r2(RelayMetricsStore *store) {
        TorRelayMetrics m = {
                .onionskins_dropped = 7, .oom_bytes = 1024, .tcp_exhaustion = 1, .rate_limit_reached = 2,
                .dns_queries = 1000, .flags = 37, .read_bytes = 11, .written_bytes = UINT64_MAX,
        };

        m.dns_errors[TOR_DNS_NOTEXIST] = 17;
        m.dns_errors[TOR_DNS_TOR_TIMEOUT] = 5;
        ASSERT_OK(relay_metrics_store_put(store, (const int64_t[]) { 2 }, &m, 1, 300));
}

static void fleet(Db *db) {
        ASSERT_OK(db_exec(db,
                          "INSERT INTO images (id, name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, pcr11_sysinit, "
                          "pcr11_ready, reference_version, reference, added_at) VALUES (1, 'img-1', printf('%064d', 1), "
                          "printf('%064d', 2), printf('%064d', 3), printf('%064d', 4), printf('%064d', 5), printf('%064d', 6), "
                          "1, '{}', 10)"));
        ASSERT_OK(db_exec(db, "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, state, "
                              "first_seen, last_seen, image_id, last_verdict, last_verdict_reason, last_verdict_at, "
                              "last_trusted_at) VALUES "
                              "(1, x'01', 'rsa2048', x'00', x'00', x'00', 'N1', 'enabled', 1, 2, 1, 'Trusted', 'ok', 100, 100), "
                              "(2, x'02', 'rsa2048', x'00', x'00', x'00', 'N2', 'enabled', 1, 3, NULL, 'UnknownImage', "
                              "'PCR 4 is no image', 200, NULL), "
                              "(3, x'03', 'rsa2048', x'00', x'00', x'00', 'N3', 'pending', 1, 4, NULL, NULL, NULL, NULL, NULL)"));
        ASSERT_OK(db_exec(db, "INSERT INTO relays (id, node_id, slot, name, ipv4, or_port) VALUES "
                              "(1, 1, 0, 'r1', '192.0.2.1', 9001), (2, 1, 1, 'r2', '192.0.2.1', 9002), "
                              "(3, 2, 0, 'r3', '192.0.2.2', 9001)"));
        ASSERT_OK(db_exec(db, "INSERT INTO relay_fingerprints (relay_id, rsa_fingerprint, reported_at) VALUES "
                              "(1, printf('%040d', 7), 50)"));
        /* Migration 15 dropped the table: the reports live in the server's memory. */
        ASSERT_TRUE(db_exec(db, "SELECT 1 FROM relay_metrics") < 0);
        ASSERT_OK(db_exec(db, "INSERT INTO sessions (token_hash, node_id, created_at, expires_at) VALUES "
                              "(randomblob(32), 1, 0, 9000000000000000), (randomblob(32), 2, 0, 1)"));
}

static void expect_line(const char *text, const char *line) {
        const char *p = text;
        size_t n = strlen(line);

        while ((p = strstr(p, line)))
                if ((p == text || p[-1] == '\n') && p[n] == '\n')
                        return;
                else
                        p++;
        TEST_FAIL("missing line '%s' in:\n%s", line, text);
}

TEST(relay_metrics_store) {
        RelayMetricsStore store;
        RelayMetricsEntry e, *snap = NULL;
        TorRelayMetrics m = { .dns_queries = 1 };
        size_t allocated = 0, n;
        int64_t ids[1000];
        TorRelayMetrics ms[1000];

        relay_metrics_store_init(&store);
        ASSERT_FALSE(relay_metrics_store_get(&store, 1, &e));
        ASSERT_OK(relay_metrics_store_snapshot(&store, &snap, &allocated, &n));
        ASSERT_EQ(n, 0U);
        /* 1000 relays in one put (the table grows and rehashes), in descending order. */
        for (size_t i = 0; i < 1000; i++) {
                ids[i] = (int64_t) (1000 - i);
                ms[i] = (TorRelayMetrics) { .dns_queries = 1000 - i };
        }
        ASSERT_OK(relay_metrics_store_put(&store, ids, ms, 1000, 50));
        ASSERT_TRUE(relay_metrics_store_get(&store, 777, &e));
        ASSERT_EQ(e.m.dns_queries, 777U);
        ASSERT_EQ(e.reported_at, 50);
        /* A new report replaces the old one. */
        ASSERT_OK(relay_metrics_store_put(&store, (const int64_t[]) { 777 }, &m, 1, 60));
        ASSERT_TRUE(relay_metrics_store_get(&store, 777, &e));
        ASSERT_EQ(e.m.dns_queries, 1U);
        ASSERT_EQ(e.reported_at, 60);
        ASSERT_OK(relay_metrics_store_snapshot(&store, &snap, &allocated, &n));
        ASSERT_EQ(n, 1000U);
        int64_t sum = 0;
        for (size_t i = 0; i < n; i++) {
                sum += snap[i].relay_id; /* each of 1…1000 once */
                ASSERT_EQ(snap[i].m.dns_queries, snap[i].relay_id == 777 ? 1U : (uint64_t) snap[i].relay_id);
        }
        ASSERT_EQ(sum, 1000 * 1001 / 2);
        /* Removed only if stored before the given time: 5 is, 6 was stored again after it. */
        uint64_t t = now_monotonic_usec() + 1;
        usleep(10);
        ASSERT_OK(relay_metrics_store_put(&store, (const int64_t[]) { 6 }, &m, 1, 70));
        relay_metrics_store_remove(&store, (const int64_t[]) { 5, 6, 5000 }, 3, t);
        ASSERT_FALSE(relay_metrics_store_get(&store, 5, &e));
        /* The last entry moved into the hole: every other one is still found, with its own values. */
        for (int64_t id = 1; id <= 1000; id++)
                if (id != 5) {
                        ASSERT_TRUE(relay_metrics_store_get(&store, id, &e));
                        ASSERT_EQ(e.relay_id, id);
                        ASSERT_EQ(e.m.dns_queries, id == 777 || id == 6 ? 1U : (uint64_t) id);
                }
        /* Removed slots are reused and dropped at the next growth: 999 entries left, then 5000 more. */
        ASSERT_OK(relay_metrics_store_snapshot(&store, &snap, &allocated, &n));
        ASSERT_EQ(n, 999U);
        for (int64_t base = 2000; base < 7000; base += 1000) {
                for (size_t i = 0; i < 1000; i++)
                        ids[i] = base + (int64_t) i;
                ASSERT_OK(relay_metrics_store_put(&store, ids, ms, 1000, 80));
        }
        ASSERT_OK(relay_metrics_store_snapshot(&store, &snap, &allocated, &n));
        ASSERT_EQ(n, 5999U);
        ASSERT_TRUE(relay_metrics_store_get(&store, 6999, &e));
        ASSERT_FALSE(relay_metrics_store_get(&store, 1999, &e));
        free(snap);
        relay_metrics_store_done(&store);
}

TEST(label_values_escaped) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        metrics_write_label_value(f, "a\\b\"c\nd");
        ASSERT_EQ(fclose(f), 0);
        ASSERT_STREQ(buf, "a\\\\b\\\"c\\nd");
        free(buf);
}

TEST(render_counters_and_fleet) {
        _cleanup_free_ char *path = temp_db();
        RelayMetricsStore store;
        Db *db = NULL;
        Metrics m;
        char *text;
        int r;

        ASSERT_OK(db_open(path, &db));
        fleet(db);
        metrics_init(&m);
        metrics_count_request(&m, PROTO_ATTEST, METRICS_RESULT_OK, 3000);         /* 0.003 s */
        metrics_count_request(&m, PROTO_ATTEST, PROTO_ERROR_SECRET_MISMATCH, 40); /* 0.00004 s */
        metrics_count_request(&m, METRICS_ENDPOINT_OTHER, PROTO_ERROR_NOT_FOUND, 10);
        metrics_count_enrolment(&m, PROTO_ENROLL_PROVE);
        metrics_count_verdict(&m, PROTO_VERDICT_TRUSTED, false);
        metrics_count_verdict(&m, PROTO_VERDICT_RETIRED_IMAGE, true);

        text = render(&m, db, path, &r);
        ASSERT_OK(r);
        expect_line(text, "patela_requests_total{endpoint=\"/v1/attest\",result=\"ok\"} 1");
        expect_line(text, "patela_requests_total{endpoint=\"/v1/attest\",result=\"SecretMismatch\"} 1");
        expect_line(text, "patela_requests_total{endpoint=\"other\",result=\"NotFound\"} 1");
        expect_line(text, "patela_requests_total{endpoint=\"/v1/enroll\",result=\"ok\"} 0");
        expect_line(text, "patela_enrolments_total{state=\"prove\"} 1");
        expect_line(text, "patela_attestation_verdicts_total{verdict=\"Trusted\",outcome=\"accepted\"} 1");
        expect_line(text, "patela_attestation_verdicts_total{verdict=\"RetiredImage\",outcome=\"refused\"} 1");
        expect_line(text, "patela_attestation_verdicts_total{verdict=\"RetiredImage\",outcome=\"accepted\"} 0");
        /* Cumulative buckets: the 40 µs one in every bucket, the 3 ms one from 0.005 on. */
        expect_line(text, "patela_request_duration_seconds_bucket{endpoint=\"/v1/attest\",le=\"0.001\"} 1");
        expect_line(text, "patela_request_duration_seconds_bucket{endpoint=\"/v1/attest\",le=\"0.0025\"} 1");
        expect_line(text, "patela_request_duration_seconds_bucket{endpoint=\"/v1/attest\",le=\"0.005\"} 2");
        expect_line(text, "patela_request_duration_seconds_bucket{endpoint=\"/v1/attest\",le=\"+Inf\"} 2");
        expect_line(text, "patela_request_duration_seconds_sum{endpoint=\"/v1/attest\"} 0.00304");
        expect_line(text, "patela_request_duration_seconds_count{endpoint=\"/v1/enroll\"} 0");
        expect_line(text, "patela_certificate_expiry_timestamp_seconds{certificate=\"tls\"} 1900000000");
        expect_line(text, "patela_certificate_expiry_timestamp_seconds{certificate=\"ca\"} 2000000000");
        expect_line(text, "patela_session_lifetime_seconds 3600");
        expect_line(text, "patela_nodes{state=\"enabled\",image=\"img-1\"} 1");
        expect_line(text, "patela_nodes{state=\"enabled\",image=\"\"} 1");
        expect_line(text, "patela_nodes{state=\"pending\",image=\"\"} 1");
        expect_line(text, "patela_sessions_open 1");
        expect_line(text, "patela_relays{identity=\"reported\"} 1");
        expect_line(text, "patela_relays{identity=\"unreported\"} 2");
        expect_line(text, "patela_images{state=\"active\"} 1");
        expect_line(text, "patela_node_info{node=\"1\",fingerprint=\"N1\",state=\"enabled\",image=\"img-1\","
                          "image_state=\"active\",verdict=\"Trusted\"} 1");
        expect_line(text, "patela_node_info{node=\"2\",fingerprint=\"N2\",state=\"enabled\",image=\"\","
                          "image_state=\"none\",verdict=\"UnknownImage\"} 1");
        expect_line(text, "patela_node_last_trusted_timestamp_seconds{node=\"1\"} 100");
        expect_line(text, "patela_node_last_trusted_timestamp_seconds{node=\"2\"} 0");
        expect_line(text, "patela_node_last_verdict_timestamp_seconds{node=\"2\"} 200");
        expect_line(text, "patela_relay_metrics_interval_seconds 300");
        ASSERT_NULL(strstr(text, "relay=\"")); /* the relays' series are on /metrics/relays */
        free(text);
        relay_metrics_store_init(&store);
        text = render_relays(db, &store, &r);
        ASSERT_OK(r);
        ASSERT_NULL(strstr(text, "relay=")); /* no report yet: no relay series, the headers alone */
        expect_line(text, "# TYPE patela_relay_flag gauge");
        free(text);
        report_r2(&store);
        text = render_relays(db, &store, &r);
        ASSERT_OK(r);
        /* Relay r2 (node 1) reported; flags 37 = Fast, Authority, Running. */
        expect_line(text, "patela_relay_metrics_timestamp_seconds{node=\"1\",relay=\"r2\"} 300");
        expect_line(text, "patela_relay_onionskins_dropped_total{node=\"1\",relay=\"r2\"} 7");
        expect_line(text, "patela_relay_oom_bytes_total{node=\"1\",relay=\"r2\"} 1024");
        expect_line(text, "patela_relay_tcp_exhaustion_total{node=\"1\",relay=\"r2\"} 1");
        expect_line(text, "patela_relay_rate_limit_reached_total{node=\"1\",relay=\"r2\"} 2");
        expect_line(text, "patela_relay_exit_dns_queries_total{node=\"1\",relay=\"r2\"} 1000");
        expect_line(text, "patela_relay_exit_dns_errors_total{node=\"1\",relay=\"r2\",reason=\"tor_timeout\"} 5");
        expect_line(text, "patela_relay_exit_dns_errors_total{node=\"1\",relay=\"r2\",reason=\"notexist\"} 17");
        expect_line(text, "patela_relay_flag{node=\"1\",relay=\"r2\",flag=\"Running\"} 1");
        expect_line(text, "patela_relay_flag{node=\"1\",relay=\"r2\",flag=\"Fast\"} 1");
        expect_line(text, "patela_relay_traffic_bytes_total{node=\"1\",relay=\"r2\",direction=\"read\"} 11");
        expect_line(text, "patela_relay_traffic_bytes_total{node=\"1\",relay=\"r2\",direction=\"written\"} "
                          "18446744073709551615");
        ASSERT_NULL(strstr(text, "relay=\"r1\"")); /* not reported: no series */
        ASSERT_NULL(strstr(text, "flag=\"Exit\""));
        ASSERT_NULL(strstr(text, "reason=\"nodata\"")); /* a zero reason other than tor_timeout */
        /* Each metric's samples together: the flags after their TYPE line, before the next metric's. */
        const char *flag_type = strstr(text, "# TYPE patela_relay_flag gauge\n");
        ASSERT_NOT_NULL(flag_type);
        ASSERT_TRUE(strstr(text, "patela_relay_flag{node=\"1\",relay=\"r2\",flag=\"Fast\"} 1") > flag_type);
        ASSERT_TRUE(strstr(text, "# TYPE patela_relay_traffic_bytes_total counter\n") >
                    strstr(text, "patela_relay_flag{node=\"1\",relay=\"r2\",flag=\"Running\"} 1"));
        free(text);
        /* A relay the database lost (its node's relays freed) loses its series and its entry. */
        RelayMetricsEntry e;
        ASSERT_OK(relay_metrics_store_put(&store, (const int64_t[]) { 3 }, &(TorRelayMetrics) { .dns_queries = 9 }, 1,
                                          400));
        text = render_relays(db, &store, &r);
        ASSERT_OK(r);
        expect_line(text, "patela_relay_exit_dns_queries_total{node=\"2\",relay=\"r3\"} 9");
        free(text);
        ASSERT_OK(db_exec(db, "DELETE FROM relays WHERE id = 3"));
        text = render_relays(db, &store, &r);
        ASSERT_OK(r);
        ASSERT_NULL(strstr(text, "relay=\"r3\""));
        expect_line(text, "patela_relay_exit_dns_queries_total{node=\"1\",relay=\"r2\"} 1000");
        free(text);
        ASSERT_FALSE(relay_metrics_store_get(&store, 3, &e));
        ASSERT_TRUE(relay_metrics_store_get(&store, 2, &e));
        text = render(&m, db, path, &r);
        ASSERT_OK(r);
        /* Each metric's samples together, after its TYPE line. */
        const char *type = strstr(text, "# TYPE patela_node_last_trusted_timestamp_seconds gauge\n");
        ASSERT_NOT_NULL(type);
        ASSERT_TRUE(strstr(text, "patela_node_last_trusted_timestamp_seconds{node=\"1\"}") > type);
        ASSERT_NULL(strstr(type, "patela_node_last_verdict_timestamp_seconds{"));
        free(text);
        relay_metrics_store_done(&store);
        db_close(db);
        cleanup_db(path);
}

/* The scrape's connection reads while another connection holds the write lock (as the request threads do for an
 * authentication): on WAL it neither waits nor fails, and it sees the last committed state. */
TEST(render_does_not_wait_for_a_writer) {
        _cleanup_free_ char *path = temp_db();
        Db *writer = NULL, *reader = NULL;
        Metrics m;
        uint64_t t;
        char *text;
        int r;

        ASSERT_OK(db_open(path, &writer));
        fleet(writer);
        ASSERT_OK(db_open(path, &reader));
        ASSERT_OK(db_exec(reader, "PRAGMA query_only = 1"));
        metrics_init(&m);
        ASSERT_OK(db_begin(writer));
        ASSERT_OK(db_exec(writer, "UPDATE nodes SET state = 'disabled' WHERE id = 1"));
        t = now_monotonic_usec();
        text = render(&m, reader, path, &r);
        t = now_monotonic_usec() - t;
        ASSERT_OK(r);
        ASSERT_TRUE(t < 1000000); /* the busy handler would wait 5 s */
        expect_line(text, "patela_nodes{state=\"enabled\",image=\"img-1\"} 1");
        free(text);
        /* And the writer commits while the reader's statements were used. */
        ASSERT_OK(db_commit(writer));
        text = render(&m, reader, path, &r);
        ASSERT_OK(r);
        expect_line(text, "patela_nodes{state=\"disabled\",image=\"img-1\"} 1");
        free(text);
        /* The metrics connection cannot write. */
        ASSERT_TRUE(db_exec(reader, "DELETE FROM sessions") < 0);
        db_close(reader);
        db_close(writer);
        cleanup_db(path);
}

TEST(status_pages) {
        _cleanup_free_ char *path = temp_db();
        json_object *o = NULL, *nodes, *next, *n, *relays, *v;
        RelayMetricsStore store;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        fleet(db);
        relay_metrics_store_init(&store);
        report_r2(&store);
        ASSERT_OK(server_status_json(db, &store, 0, 2, &o));
        ASSERT_TRUE(json_object_object_get_ex(o, "nodes", &nodes));
        ASSERT_EQ(json_object_array_length(nodes), 2U);
        ASSERT_TRUE(json_object_object_get_ex(o, "next", &next));
        ASSERT_EQ(json_object_get_int64(next), 2);
        n = json_object_array_get_idx(nodes, 0);
        ASSERT_TRUE(json_object_object_get_ex(n, "relays", &relays));
        ASSERT_EQ(json_object_array_length(relays), 2U);
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 0), "rsaFingerprint", &v));
        ASSERT_STREQ(json_object_get_string(v), "0000000000000000000000000000000000000007");
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 1), "rsaFingerprint", &v));
        ASSERT_NULL(v);
        /* r2 reported its MetricsPort: flags 37 = Fast, Authority, Running; r1 did not. */
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 1), "flags", &v));
        ASSERT_STREQ(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "[\"Fast\",\"Authority\",\"Running\"]");
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 1), "metricsReportedAt", &v));
        ASSERT_EQ(json_object_get_int64(v), 300);
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 0), "flags", &v));
        ASSERT_NULL(v);
        n = json_object_array_get_idx(nodes, 1);
        ASSERT_TRUE(json_object_object_get_ex(n, "reason", &v));
        ASSERT_STREQ(json_object_get_string(v), "PCR 4 is no image");
        ASSERT_TRUE(json_object_object_get_ex(n, "relays", &relays));
        ASSERT_EQ(json_object_array_length(relays), 1U);
        json_object_put(o);

        /* The last page: node 3 without relays, no next. */
        ASSERT_OK(server_status_json(db, &store, 2, 2, &o));
        ASSERT_TRUE(json_object_object_get_ex(o, "nodes", &nodes));
        ASSERT_EQ(json_object_array_length(nodes), 1U);
        ASSERT_TRUE(json_object_object_get_ex(o, "next", &next));
        ASSERT_NULL(next);
        json_object_put(o);

        /* The CLI (no store): the relays' reports are the running server's, null here. */
        ASSERT_OK(server_status_json(db, NULL, 0, 1, &o));
        ASSERT_TRUE(json_object_object_get_ex(o, "nodes", &nodes));
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(nodes, 0), "relays", &relays));
        ASSERT_TRUE(json_object_object_get_ex(json_object_array_get_idx(relays, 1), "metricsReportedAt", &v));
        ASSERT_NULL(v);
        json_object_put(o);
        relay_metrics_store_done(&store);
        db_close(db);
        cleanup_db(path);
}

DEFINE_TEST_MAIN
