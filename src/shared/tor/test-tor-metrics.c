/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tests.h"
#include "tor-metrics.h"

/* What tor 0.4.9.15 answers (captured from a relay in a network namespace with loopback only, trimmed), with
 * some values set. */
static const char answer[] =
        "# HELP tor_relay_exit_dns_error_total Total number of DNS errors encountered by this relay\n"
        "# TYPE tor_relay_exit_dns_error_total counter\n"
        "tor_relay_exit_dns_error_total{reason=\"success\"} 0\n"
        "tor_relay_exit_dns_error_total{reason=\"notexist\"} 17\n"
        "tor_relay_exit_dns_error_total{reason=\"tor_timeout\"} 5\n"
        "tor_relay_exit_dns_error_total{reason=\"newfangled\"} 99\n"
        "# HELP tor_relay_flag Relay flags from consensus\n"
        "# TYPE tor_relay_flag gauge\n"
        "tor_relay_flag{type=\"Fast\"} 1\n"
        "tor_relay_flag{type=\"Exit\"} 1\n"
        "tor_relay_flag{type=\"Guard\"} 0\n"
        "tor_relay_flag{type=\"Running\"} 1\n"
        "tor_relay_load_tcp_exhaustion_total 3\n"
        "tor_relay_load_oom_bytes_total{subsys=\"cell\"} 1000\n"
        "tor_relay_load_oom_bytes_total{subsys=\"dns\"} 24\n"
        "tor_relay_load_global_rate_limit_reached_total{side=\"read\"} 2\n"
        "tor_relay_load_global_rate_limit_reached_total{side=\"write\"} 1\n"
        "tor_relay_load_onionskins_total{type=\"tap\",action=\"processed\"} 500\n"
        "tor_relay_load_onionskins_total{type=\"ntor\",action=\"dropped\"} 7\n"
        "tor_relay_load_onionskins_total{type=\"ntor_v3\",action=\"dropped\"} 4\n"
        "tor_relay_traffic_bytes{direction=\"read\"} 123456789012\n"
        "tor_relay_traffic_bytes{direction=\"written\"} 98765\n"
        "tor_relay_exit_dns_query_total 1000\n"
        "tor_relay_connections{type=\"OR\",direction=\"initiated\",state=\"opened\",family=\"ipv4\"} 0\n";

TEST(parse_answer) {
        TorRelayMetrics m;

        ASSERT_OK(tor_metrics_parse(answer, strlen(answer), &m));
        ASSERT_EQ(m.onionskins_dropped, 11U);
        ASSERT_EQ(m.oom_bytes, 1024U);
        ASSERT_EQ(m.tcp_exhaustion, 3U);
        ASSERT_EQ(m.rate_limit_reached, 3U);
        ASSERT_EQ(m.dns_queries, 1000U);
        ASSERT_EQ(m.dns_errors[TOR_DNS_NOTEXIST], 17U);
        ASSERT_EQ(m.dns_errors[TOR_DNS_TOR_TIMEOUT], 5U);
        ASSERT_EQ(m.dns_errors[TOR_DNS_SUCCESS], 0U);
        ASSERT_EQ(m.flags, (1U << TOR_FLAG_FAST) | (1U << TOR_FLAG_EXIT) | (1U << TOR_FLAG_RUNNING));
        ASSERT_EQ(m.read_bytes, 123456789012ULL);
        ASSERT_EQ(m.written_bytes, 98765U);
}

TEST(values_clamped_and_odd_lines_skipped) {
        static const char text[] =
                "tor_relay_load_tcp_exhaustion_total 99999999999999999999999\n"     /* past 2^64: clamped */
                "tor_relay_load_oom_bytes_total{subsys=\"cell\"} -5\n"              /* negative: 0 */
                "tor_relay_exit_dns_query_total 1.5e3 1700000000000\n"             /* a float, a timestamp */
                "tor_relay_traffic_bytes{direction=\"read\"} NaN\r\n"
                "tor_relay_flag{type=\"Fast\",x=\"a\\\"b\\\\c\\n\"} 1\n"            /* escapes in a label */
                "tor_relay_flag{type=\"Stable\"\n"                                  /* broken: skipped */
                "tor_relay_flag{type=Guard} 1\n"                                    /* unquoted: skipped */
                "tor_relay_load_onionskins_total{action=\"dropped\"} twelve\n"      /* not a number: skipped */
                "{} 5\n"
                "\n";
        TorRelayMetrics m;

        ASSERT_OK(tor_metrics_parse(text, strlen(text), &m));
        ASSERT_EQ(m.tcp_exhaustion, UINT64_MAX);
        ASSERT_EQ(m.oom_bytes, 0U);
        ASSERT_EQ(m.dns_queries, 1500U);
        ASSERT_EQ(m.read_bytes, 0U);
        ASSERT_EQ(m.flags, 1U << TOR_FLAG_FAST);
        ASSERT_EQ(m.onionskins_dropped, 0U);
}

TEST(refused) {
        static const char nul[] = "tor_relay_flag{type=\"Fast\"} 1\n\0x";
        char *long_line;
        TorRelayMetrics m;

        ASSERT_ERROR(tor_metrics_parse(nul, sizeof(nul) - 1, &m), EBADMSG);
        /* Not a relay's MetricsPort. */
        ASSERT_ERROR(tor_metrics_parse("node_cpu_seconds_total 5\n", 25, &m), EBADMSG);
        ASSERT_ERROR(tor_metrics_parse("", 0, &m), EBADMSG);
        long_line = malloc(TOR_METRICS_LINE_MAX + 10);
        ASSERT_NOT_NULL(long_line);
        memset(long_line, 'a', TOR_METRICS_LINE_MAX + 10);
        ASSERT_ERROR(tor_metrics_parse(long_line, TOR_METRICS_LINE_MAX + 10, &m), EBADMSG);
        ASSERT_ERROR(tor_metrics_parse(long_line, TOR_METRICS_MAX + 1, &m), E2BIG);
        free(long_line);
}

TEST(names) {
        for (TorDnsReason r = 0; r < _TOR_DNS_REASON_MAX; r++)
                ASSERT_EQ(tor_dns_reason_from_string(tor_dns_reason_to_string(r)), r);
        for (TorRelayFlag f = 0; f < _TOR_RELAY_FLAG_MAX; f++)
                ASSERT_EQ(tor_relay_flag_from_string(tor_relay_flag_to_string(f)), f);
        ASSERT_EQ(tor_dns_reason_from_string("timeout"), _TOR_DNS_REASON_INVALID);
}

DEFINE_TEST_MAIN
