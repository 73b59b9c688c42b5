/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "server-config.h"
#include "tests.h"

TEST(defaults) {
        ServerConfig c;

        server_config_init(&c);
        ASSERT_EQ(c.session_lifetime_usec, 3600ULL * 1000000ULL);
        ASSERT_EQ(c.challenge_lifetime_usec, 60ULL * 1000000ULL);
        ASSERT_FALSE(c.quote_pcr_mask & (1U << 15)); /* machine-id: random on every stateless boot */
        ASSERT_TRUE(c.quote_pcr_mask & (1U << 11));
        server_config_done(&c);
}

TEST(parse_file) {
        static const char text[] =
                "# comment\n"
                "; another\n"
                "[Server]\n"
                "Database = /tmp/x.db\n"
                "Listen=127.0.0.1:8443\n"
                "Listen=[::1]:8443\n"
                "SessionLifetime=30min\n"
                "QuotePCRs=0-3,7,11\n"
                "MaxPendingNodes=5\n";
        ServerConfig c;
        unsigned line = 0;

        server_config_init(&c);
        ASSERT_OK(server_config_parse(&c, text, &line));
        ASSERT_STREQ(c.database, "/tmp/x.db");
        ASSERT_EQ(c.n_listen, 2);
        ASSERT_STREQ(c.listen[1], "[::1]:8443");
        ASSERT_EQ(c.session_lifetime_usec, 1800ULL * 1000000ULL);
        ASSERT_EQ(c.quote_pcr_mask, 0x88FU);
        ASSERT_EQ(c.max_pending_nodes, 5);
        /* An empty assignment resets a list. */
        ASSERT_OK(server_config_set(&c, "Listen", ""));
        ASSERT_EQ(c.n_listen, 0);
        server_config_done(&c);
}

TEST(parse_errors_name_the_line) {
        ServerConfig c;
        unsigned line = 0;

        server_config_init(&c);
        ASSERT_ERROR(server_config_parse(&c, "[Server]\nDatabase=/x\nNoSuchKey=1\n", &line), ENOENT);
        ASSERT_EQ(line, 3);
        ASSERT_ERROR(server_config_parse(&c, "[Other]\n", &line), EBADMSG);
        ASSERT_EQ(line, 1);
        ASSERT_ERROR(server_config_parse(&c, "Database=/x\n", &line), EBADMSG); /* outside [Server] */
        ASSERT_ERROR(server_config_parse(&c, "[Server]\njunk\n", &line), EBADMSG);
        ASSERT_ERROR(server_config_parse(&c, "[Server]\nSessionLifetime=0\n", &line), EINVAL);
        ASSERT_ERROR(server_config_parse(&c, "[Server]\nSessionLifetime=1year\n", &line), EINVAL);
        ASSERT_ERROR(server_config_parse(&c, "[Server]\nQuoteBank=md5\n", &line), EINVAL);
        ASSERT_ERROR(server_config_parse(&c, "[Server]\nThreads=-1\n", &line), EINVAL);
        server_config_done(&c);
}

TEST(new_keys) {
        /* The session check (issue 10), proofs before pending and held connections (issue 11). */
        ServerConfig c;

        server_config_init(&c);
        ASSERT_EQ(c.measured_boot, MEASURED_BOOT_DEFAULT);
        ASSERT_EQ(c.check_interval_usec, 30ULL * 1000000ULL);
        ASSERT_EQ(c.pending_lifetime_usec, 24ULL * 3600ULL * 1000000ULL);
        ASSERT_EQ(c.idle_timeout_usec, 90ULL * 1000000ULL);
        ASSERT_EQ(c.max_connections, 16384U);
        /* The idle timeout outlasts a check interval with its jitter and configd's 60 s reuse. */
        ASSERT_TRUE(c.idle_timeout_usec > c.check_interval_usec * 11 / 10 && c.idle_timeout_usec > 60ULL * 1000000ULL);

        ASSERT_OK(server_config_set(&c, "MeasuredBoot", "enforce"));
        ASSERT_EQ(c.measured_boot, MEASURED_BOOT_ENFORCE);
        ASSERT_OK(server_config_set(&c, "MeasuredBoot", "warn"));
        ASSERT_EQ(c.measured_boot, MEASURED_BOOT_WARN);
        ASSERT_OK(server_config_set(&c, "MeasuredBoot", ""));
        ASSERT_EQ(c.measured_boot, MEASURED_BOOT_DEFAULT);
        ASSERT_ERROR(server_config_set(&c, "MeasuredBoot", "auto"), EINVAL);

        ASSERT_OK(server_config_set(&c, "CheckInterval", "5s"));
        ASSERT_EQ(c.check_interval_usec, 5ULL * 1000000ULL);
        ASSERT_ERROR(server_config_set(&c, "CheckInterval", "500ms"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "CheckInterval", "2h"), EINVAL);
        ASSERT_EQ(c.relay_metrics_interval_usec, 300ULL * 1000000ULL);
        ASSERT_OK(server_config_set(&c, "RelayMetricsInterval", "2min"));
        ASSERT_EQ(c.relay_metrics_interval_usec, 120ULL * 1000000ULL);
        ASSERT_ERROR(server_config_set(&c, "RelayMetricsInterval", "0"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "RelayMetricsInterval", "2h"), EINVAL);

        ASSERT_OK(server_config_set(&c, "PendingLifetime", "7d"));
        ASSERT_EQ(c.pending_lifetime_usec, 7ULL * 24 * 3600 * 1000000ULL);
        ASSERT_ERROR(server_config_set(&c, "PendingLifetime", "0"), EINVAL);

        ASSERT_OK(server_config_set(&c, "IdleTimeout", "2min"));
        ASSERT_EQ(c.idle_timeout_usec, 120ULL * 1000000ULL);
        ASSERT_ERROR(server_config_set(&c, "IdleTimeout", "1s"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "IdleTimeout", "2h"), EINVAL);

        ASSERT_EQ(c.tls_ticket_lifetime_usec, SERVER_TLS_TICKET_LIFETIME_DEFAULT_USEC);
        ASSERT_OK(server_config_set(&c, "TLSTicketLifetime", "90min"));
        ASSERT_EQ(c.tls_ticket_lifetime_usec, 5400ULL * 1000000ULL);
        ASSERT_OK(server_config_set(&c, "TLSTicketLifetime", "2500ms")); /* whole seconds */
        ASSERT_EQ(c.tls_ticket_lifetime_usec, 2ULL * 1000000ULL);
        ASSERT_OK(server_config_set(&c, "TLSTicketLifetime", "0"));
        ASSERT_EQ(c.tls_ticket_lifetime_usec, 0ULL);
        ASSERT_ERROR(server_config_set(&c, "TLSTicketLifetime", "500ms"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "TLSTicketLifetime", "8d"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "TLSTicketLifetime", "soon"), EINVAL);

        ASSERT_OK(server_config_set(&c, "MaxConnections", "100"));
        ASSERT_EQ(c.max_connections, 100U);
        ASSERT_ERROR(server_config_set(&c, "MaxConnections", "0"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "MaxConnections", "65537"), EINVAL);
        server_config_done(&c);
}

TEST(relay_allocation_keys) {
        /* Several relays per address, each with its own ORPort (issue 12, item 2). */
        ServerConfig c;

        server_config_init(&c);
        ASSERT_EQ(c.relays_per_address, 8U); /* the directory authorities' AuthDirMaxServersPerAddr */
        ASSERT_EQ(c.or_port_min, 9001U);
        ASSERT_EQ(c.or_port_max, 9099U);

        ASSERT_OK(server_config_set(&c, "RelaysPerAddress", "2"));
        ASSERT_EQ(c.relays_per_address, 2U);
        ASSERT_OK(server_config_set(&c, "RelaysPerAddress", "64"));
        ASSERT_ERROR(server_config_set(&c, "RelaysPerAddress", "0"), EINVAL);
        ASSERT_ERROR(server_config_set(&c, "RelaysPerAddress", "65"), EINVAL);

        ASSERT_OK(server_config_set(&c, "ORPortRange", "443-450"));
        ASSERT_EQ(c.or_port_min, 443U);
        ASSERT_EQ(c.or_port_max, 450U);
        ASSERT_OK(server_config_set(&c, "ORPortRange", "9001"));
        ASSERT_EQ(c.or_port_min, 9001U);
        ASSERT_EQ(c.or_port_max, 9001U);
        ASSERT_OK(server_config_set(&c, "ORPortRange", "1-65535"));
        static const char *const bad[] = { "", "0-10", "10-9", "9001-65536", "-9001", "9001-", "a-b", "1-2-3",
                                           " 9001-9002", "123456-123457", "0" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (server_config_set(&c, "ORPortRange", bad[i]) != -EINVAL)
                        TEST_FAIL("ORPortRange=%s accepted", bad[i]);
        ASSERT_EQ(c.or_port_min, 1U); /* unchanged by the refusals */
        ASSERT_EQ(c.or_port_max, 65535U);
        server_config_done(&c);
}

DEFINE_TEST_MAIN
