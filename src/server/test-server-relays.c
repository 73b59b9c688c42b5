/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Relay allocation (issue 12, item 2): up to RelaysPerAddress= relays of one node per address, every usable
 * address used once before any twice, each relay's ORPort the lowest free port of ORPortRange= on its
 * addresses, all or nothing; the forced torrc lines that follow; migration 0009 from a database of the old
 * one-relay-per-address schema. */
#include <stdlib.h>

#include "server-nodes.h"
#include "server-relays.h"
#include "server-render.h"
#include "test-server-node.h"
#include "test-server-util.h"
#include "tests.h"
#include "tpm2-marshal.h"
#include "tpm2-templates.h"

static const RelayAllocation default_allocation = {
        .relays_per_address = 8,
        .or_port_min = 9001,
        .or_port_max = 9099,
};

static Db *db_with_pools(char **ret_path, const char *ipv4, const char *ipv6) {
        char *names[20], *v4[8], *v6[8], buf[20][8];
        const char *bad = NULL;
        size_t n4 = 0, n6 = 0;
        char *copy4 = strdup(ipv4 ?: ""), *copy6 = strdup(ipv6 ?: "");
        Db *db = NULL;

        *ret_path = temp_db();
        ASSERT_OK(db_open(*ret_path, &db));
        for (unsigned i = 0; i < ELEMENTSOF(names); i++) {
                snprintf(buf[i], sizeof(buf[i]), "relay%u", i);
                names[i] = buf[i];
        }
        ASSERT_OK(pool_add(db, "names", names, ELEMENTSOF(names), &bad));
        for (char *p = strtok(copy4, " "); p && n4 < ELEMENTSOF(v4); p = strtok(NULL, " "))
                v4[n4++] = p;
        for (char *p = strtok(copy6, " "); p && n6 < ELEMENTSOF(v6); p = strtok(NULL, " "))
                v6[n6++] = p;
        if (n4 > 0)
                ASSERT_OK(pool_add(db, "ipv4", v4, n4, &bad));
        if (n6 > 0)
                ASSERT_OK(pool_add(db, "ipv6", v6, n6, &bad));
        free(copy4);
        free(copy6);
        return db;
}

/* "NAME IPV4 IPV6 PORT" per relay of the node in slot order, "-" for no address, joined with ", ". */
static char *relays_text(Db *db, int64_t node_id) {
        _cleanup_free_ Relay *relays = NULL;
        char *text = NULL;
        size_t n, size = 0;
        FILE *f;

        ASSERT_OK(relays_list(db, node_id, &relays, &n));
        f = open_memstream(&text, &size);
        ASSERT_TRUE(f);
        for (size_t i = 0; i < n; i++) {
                ASSERT_EQ(relays[i].slot, i);
                fprintf(f, "%s%s %s %s %u", i > 0 ? ", " : "", relays[i].name,
                        relays[i].ipv4[0] ? relays[i].ipv4 : "-", relays[i].ipv6[0] ? relays[i].ipv6 : "-",
                        relays[i].or_port);
        }
        fclose(f);
        return text;
}

#define ASSERT_RELAYS(db, node_id, want)                                                                       \
        do {                                                                                                   \
                _cleanup_free_ char *_got = relays_text(db, node_id);                                         \
                ASSERT_STREQ(_got, want);                                                                      \
        } while (0)

TEST(spread_before_doubling_up) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10 192.0.2.11 192.0.2.12", NULL);
        int64_t id = test_node_new(db, 1);

        ASSERT_OK(node_set_relay_count(db, id, 5, &default_allocation));
        ASSERT_RELAYS(db, id, ""); /* pending: allocated when enabled */
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &default_allocation));
        /* Every address once, then the least loaded again in the pool's order; each address's ports from the
         * bottom of the range. */
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 - 9001, relay1 192.0.2.11 - 9001, relay2 192.0.2.12 - 9001, "
                      "relay3 192.0.2.10 - 9002, relay4 192.0.2.11 - 9002");
        ASSERT_OK(node_set_relay_count(db, id, 8, &default_allocation));
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 - 9001, relay1 192.0.2.11 - 9001, relay2 192.0.2.12 - 9001, "
                      "relay3 192.0.2.10 - 9002, relay4 192.0.2.11 - 9002, relay5 192.0.2.12 - 9002, "
                      "relay6 192.0.2.10 - 9003, relay7 192.0.2.11 - 9003");
        db_close(db);
        cleanup_db(path);
}

TEST(eight_on_one_address_then_refused) {
        _cleanup_free_ char *path = NULL, *before = NULL, *after = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10", NULL);
        int64_t id = test_node_new(db, 1);
        Node n;

        ASSERT_OK(node_set_relay_count(db, id, 8, &default_allocation));
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &default_allocation));
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 - 9001, relay1 192.0.2.10 - 9002, relay2 192.0.2.10 - 9003, "
                      "relay3 192.0.2.10 - 9004, relay4 192.0.2.10 - 9005, relay5 192.0.2.10 - 9006, "
                      "relay6 192.0.2.10 - 9007, relay7 192.0.2.10 - 9008");

        /* A ninth relay has no address: refused, and nothing changed, not even the count. */
        before = relays_text(db, id);
        ASSERT_ERROR(node_set_relay_count(db, id, 9, &default_allocation), ENOSPC);
        after = relays_text(db, id);
        ASSERT_STREQ(after, before);
        ASSERT_OK(node_get(db, id, &n));
        ASSERT_EQ(n.relay_count, 8);
        /* A smaller limit refuses too; a larger one lets the ninth in. */
        ASSERT_ERROR(node_set_relay_count(db, id, 9, &(RelayAllocation) { 4, 9001, 9099 }), ENOSPC);
        ASSERT_OK(node_set_relay_count(db, id, 9, &(RelayAllocation) { 9, 9001, 9099 }));
        ASSERT_OK(relay_get_by_name(db, "relay8", &(Relay) {}));
        db_close(db);
        cleanup_db(path);
}

TEST(enable_is_all_or_nothing) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10 192.0.2.11", "2001:db8::10");
        const RelayAllocation two = { 2, 9001, 9099 };
        PoolEntry *e = NULL;
        int64_t id = test_node_new(db, 1);
        size_t n;
        Node node;

        /* Four relays fit the IPv4 pool at two per address but not the one IPv6 address: the enable fails at
         * the third relay, after two were allocated, and leaves nothing behind. */
        ASSERT_OK(node_set_relay_count(db, id, 4, &two));
        ASSERT_ERROR(node_set_state(db, id, NODE_ENABLED, &two), ENOSPC);
        ASSERT_OK(node_get(db, id, &node));
        ASSERT_EQ(node.state, NODE_PENDING);
        ASSERT_RELAYS(db, id, "");
        ASSERT_OK(pool_list(db, NULL, &e, &n));
        for (size_t i = 0; i < n; i++)
                ASSERT_EQ(e[i].n_relays, 0);
        pool_entries_free(e, n);

        ASSERT_OK(node_set_relay_count(db, id, 2, &two));
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &two));
        ASSERT_RELAYS(db, id, "relay0 192.0.2.10 2001:db8::10 9001, relay1 192.0.2.11 2001:db8::10 9002");
        db_close(db);
        cleanup_db(path);
}

TEST(addresses_belong_to_one_node) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10 192.0.2.11 192.0.2.12", NULL);
        int64_t a = test_node_new(db, 1), b = test_node_new(db, 2);

        ASSERT_OK(node_set_relay_count(db, a, 2, &default_allocation));
        ASSERT_OK(node_set_state(db, a, NODE_ENABLED, &default_allocation));
        ASSERT_RELAYS(db, a, "relay0 192.0.2.10 - 9001, relay1 192.0.2.11 - 9001");
        /* The second node may not double up on the first one's addresses: an address is configured on one
         * machine. It has the third address alone. */
        ASSERT_OK(node_set_relay_count(db, b, 3, &default_allocation));
        ASSERT_OK(node_set_state(db, b, NODE_ENABLED, &default_allocation));
        ASSERT_RELAYS(db, b, "relay2 192.0.2.12 - 9001, relay3 192.0.2.12 - 9002, relay4 192.0.2.12 - 9003");
        ASSERT_ERROR(node_set_relay_count(db, b, 9, &default_allocation), ENOSPC);
        /* The database refuses it too. */
        ASSERT_TRUE(db_exec(db, "UPDATE relays SET ipv4 = '192.0.2.10', or_port = 9500 "
                                "WHERE name = 'relay2'") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE relays SET or_port = 9001 WHERE name = 'relay3'") < 0); /* relay2's */
        /* The first node's relays gone, its addresses are free for the second. */
        ASSERT_OK(node_set_relay_count(db, a, 0, &default_allocation));
        ASSERT_OK(node_set_relay_count(db, b, 5, &default_allocation));
        ASSERT_RELAYS(db, b,
                      "relay2 192.0.2.12 - 9001, relay3 192.0.2.12 - 9002, relay4 192.0.2.12 - 9003, "
                      "relay0 192.0.2.10 - 9001, relay1 192.0.2.11 - 9001");
        db_close(db);
        cleanup_db(path);
}

TEST(ports) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10", "2001:db8::10 2001:db8::11");
        int64_t id = test_node_new(db, 1);

        /* The lowest port free on both of a relay's addresses: the IPv4 address carries every relay, each IPv6
         * address every other one. */
        ASSERT_OK(node_set_relay_count(db, id, 3, &default_allocation));
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &default_allocation));
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 2001:db8::10 9001, relay1 192.0.2.10 2001:db8::11 9002, "
                      "relay2 192.0.2.10 2001:db8::10 9003");
        /* Removed relays give their ports back, and the next relays take the lowest again. */
        ASSERT_OK(node_set_relay_count(db, id, 1, &default_allocation));
        ASSERT_OK(node_set_relay_count(db, id, 3, &default_allocation));
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 2001:db8::10 9001, relay1 192.0.2.10 2001:db8::11 9002, "
                      "relay2 192.0.2.10 2001:db8::10 9003");
        /* A narrower range: taken ports outside it stay where they are; none left inside: refused. */
        ASSERT_ERROR(node_set_relay_count(db, id, 4, &(RelayAllocation) { 8, 9002, 9003 }), ENOSPC);
        ASSERT_OK(node_set_relay_count(db, id, 4, &(RelayAllocation) { 8, 443, 443 }));
        ASSERT_OK(node_set_relay_count(db, id, 5, &(RelayAllocation) { 8, 9001, 9099 }));
        ASSERT_RELAYS(db, id,
                      "relay0 192.0.2.10 2001:db8::10 9001, relay1 192.0.2.10 2001:db8::11 9002, "
                      "relay2 192.0.2.10 2001:db8::10 9003, relay3 192.0.2.10 2001:db8::11 443, "
                      "relay4 192.0.2.10 2001:db8::10 9004");
        db_close(db);
        cleanup_db(path);
}

TEST(ports_without_addresses) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, NULL, NULL);
        int64_t a = test_node_new(db, 1), b = test_node_new(db, 2);
        const RelayAllocation near_metrics = { 8, 9033, 9100 };

        /* A relay without an address listens on every address of its node: its port is the node's alone, and
         * never one of the metrics listeners' (127.0.0.1:9035…9098). Another node has its own ports. */
        ASSERT_OK(node_set_relay_count(db, a, 4, &near_metrics));
        ASSERT_OK(node_set_state(db, a, NODE_ENABLED, &near_metrics));
        ASSERT_RELAYS(db, a, "relay0 - - 9033, relay1 - - 9034, relay2 - - 9099, relay3 - - 9100");
        ASSERT_ERROR(node_set_relay_count(db, a, 5, &near_metrics), ENOSPC);
        ASSERT_OK(node_set_state(db, b, NODE_ENABLED, &near_metrics));
        ASSERT_RELAYS(db, b, "relay4 - - 9033");
        db_close(db);
        cleanup_db(path);
}

TEST(forced_torrc_lines) {
        _cleanup_free_ char *path = NULL;
        _cleanup_free_ Relay *relays = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10", "2001:db8::10");
        int64_t id = test_node_new(db, 1);
        size_t n;
        Node node;

        ASSERT_OK(node_set_relay_count(db, id, 8, &default_allocation));
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &default_allocation));
        ASSERT_OK(node_get(db, id, &node));
        ASSERT_OK(relays_list(db, id, &relays, &n));
        ASSERT_EQ(n, 8);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *rendered = NULL, *torrc = NULL;
                char want[6][64];

                /* Each line framed by newlines, the first one too. */
                ASSERT_OK(render_relay_torrc(db, &node, &relays[i], /* family= */ NULL, &rendered, NULL));
                ASSERT_TRUE(asprintf(&torrc, "\n%s", rendered) > 0);
                snprintf(want[0], sizeof(want[0]), "\nORPort 192.0.2.10:%zu\n", 9001 + i);
                snprintf(want[1], sizeof(want[1]), "\nORPort [2001:db8::10]:%zu\n", 9001 + i);
                snprintf(want[2], sizeof(want[2]), "\nAddress 192.0.2.10\n");
                snprintf(want[3], sizeof(want[3]), "\nOutboundBindAddress 192.0.2.10\n");
                snprintf(want[4], sizeof(want[4]), "\nOutboundBindAddress [2001:db8::10]\n");
                snprintf(want[5], sizeof(want[5]), "\nMetricsPort 127.0.0.1:%zu\n", 9035 + i);
                for (size_t k = 0; k < ELEMENTSOF(want); k++)
                        if (!strstr(torrc, want[k]))
                                TEST_FAIL("relay %s: no '%s' in\n%s", relays[i].name, want[k] + 1, torrc);
                ASSERT_EQ(strstr(strstr(torrc, "\nORPort ") + 1, "\nORPort ") != NULL, 1);
                /* No relay takes tor's default SocksPort, 127.0.0.1:9050: only one of them could. */
                ASSERT_TRUE(strstr(torrc, "\nSocksPort 0\n"));
        }
        /* A SocksPort that a level gives a relay stays. */
        ASSERT_OK(db_exec(db, "INSERT INTO config_ops (level, relay_id, kind, op, key, value) "
                              "SELECT 'relay', id, 'torrc', 'set', 'SocksPort', '127.0.0.1:9150' FROM relays "
                              "WHERE name = 'relay1'"));
        for (size_t i = 0; i < 2; i++) {
                _cleanup_free_ char *torrc = NULL;

                ASSERT_OK(render_relay_torrc(db, &node, &relays[i], /* family= */ NULL, &torrc, NULL));
                ASSERT_STREQ(strstr(torrc, "SocksPort"), i == 0 ? "SocksPort 0\n" : "SocksPort 127.0.0.1:9150\n");
        }
        db_close(db);
        cleanup_db(path);
}

TEST(pool_list_counts) {
        _cleanup_free_ char *path = NULL;
        Db *db = db_with_pools(&path, "192.0.2.10 192.0.2.11", NULL);
        int64_t id = test_node_new(db, 1);
        PoolEntry *e = NULL;
        size_t n;

        ASSERT_OK(node_set_relay_count(db, id, 3, &default_allocation));
        ASSERT_OK(node_set_state(db, id, NODE_ENABLED, &default_allocation));
        ASSERT_OK(pool_list(db, "ipv4", &e, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(e[0].value, "192.0.2.10");
        ASSERT_EQ(e[0].n_relays, 2);
        ASSERT_EQ(e[0].node_id, id);
        ASSERT_STREQ(e[0].relays, "relay0 relay2");
        ASSERT_EQ(e[1].n_relays, 1);
        ASSERT_STREQ(e[1].relays, "relay1");
        pool_entries_free(e, n);
        ASSERT_OK(pool_list(db, "names", &e, &n));
        ASSERT_EQ(n, 20);
        ASSERT_STREQ(e[2].relays, "relay2");
        ASSERT_EQ(e[3].n_relays, 0);
        ASSERT_EQ(e[3].node_id, -1);
        ASSERT_TRUE(!e[3].relays);
        pool_entries_free(e, n);
        db_close(db);
        cleanup_db(path);
}

static int64_t count(Db *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;

        if (db_prepare(db, sql, &s) < 0 || sqlite3_step(s) != SQLITE_ROW)
                return -1;
        return sqlite3_column_int64(s, 0);
}

/* A database of schema 6 (one relay per address, the ORPort setting) keeps every relay where it runs. */
TEST(migration_keeps_ports) {
        _cleanup_free_ char *path = temp_db();
        sqlite3 *raw = NULL;
        Db *db = NULL;

        ASSERT_EQ(sqlite3_open(path, &raw), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
        for (unsigned i = 0; i < 6; i++)
                ASSERT_EQ(sqlite3_exec(raw, db_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(
                          raw,
                          "PRAGMA user_version = 6;"
                          "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, "
                          "state, first_seen, last_seen) VALUES"
                          " (1, x'01', 'rsa2048', x'00', x'00', x'00', 'FP1', 'enabled', 1, 1),"
                          " (2, x'02', 'rsa2048', x'00', x'00', x'00', 'FP2', 'enabled', 1, 1);"
                          "INSERT INTO relays (id, node_id, slot, name, ipv4, ipv6) VALUES"
                          " (1, 1, 0, 'a', '192.0.2.12', '2001:db8::1'), (2, 1, 1, 'b', '192.0.2.11', NULL),"
                          " (3, 2, 0, 'c', '192.0.2.10', NULL);"
                          "INSERT INTO pool_names (name, relay_id) VALUES ('a', 1), ('b', 2), ('c', 3), ('d', NULL);"
                          "INSERT INTO pool_addresses (address, family, relay_id) VALUES ('192.0.2.12', 4, 1),"
                          " ('192.0.2.11', 4, 2), ('192.0.2.10', 4, 3), ('192.0.2.13', 4, NULL),"
                          " ('2001:db8::1', 6, 1);"
                          /* The fleet's 443; node 1 unsets it (tor's 9001 again), relay b sets 8443 over that;
                           * node 2 sets 9010 and then 9020 (the last wins). */
                          "INSERT INTO config_ops (level, node_id, relay_id, kind, op, key, value) VALUES"
                          " ('default', NULL, NULL, 'setting', 'set', 'ORPort', '443'),"
                          " ('node', 1, NULL, 'setting', 'unset', 'ORPort', NULL),"
                          " ('relay', NULL, 2, 'setting', 'set', 'orport', '8443'),"
                          " ('node', 2, NULL, 'setting', 'set', 'ORPort', '9010'),"
                          " ('node', 2, NULL, 'setting', 'append', 'ORPort', '9020'),"
                          " ('default', NULL, NULL, 'setting', 'set', 'DNS', '192.0.2.53');",
                          NULL, NULL, NULL),
                  SQLITE_OK);
        sqlite3_close(raw);

        ASSERT_OK(db_open(path, &db));
        ASSERT_EQ(db_schema_version(db), (int) db_n_migrations);
        ASSERT_RELAYS(db, 1, "a 192.0.2.12 2001:db8::1 9001, b 192.0.2.11 - 8443");
        ASSERT_RELAYS(db, 2, "c 192.0.2.10 - 9020");
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM config_ops WHERE key = 'ORPort' COLLATE NOCASE"), 0);
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM config_ops WHERE key = 'DNS'"), 1);
        /* The pool keeps its order; a free address is free, the others are their relays'. */
        ASSERT_EQ(count(db, "SELECT group_concat(address, ' ') = "
                            "'192.0.2.12 192.0.2.11 192.0.2.10 192.0.2.13 2001:db8::1' "
                            "FROM (SELECT address FROM pool_addresses ORDER BY rowid)"),
                  1);
        /* Node 1's next relay takes the free address (not node 2's) and shares its IPv6 address, on the lowest
         * port free on both. */
        ASSERT_OK(db_begin(db));
        ASSERT_OK(relays_allocate(db, 1, 3, &default_allocation, NULL));
        ASSERT_OK(db_commit(db));
        ASSERT_RELAYS(db, 1, "a 192.0.2.12 2001:db8::1 9001, b 192.0.2.11 - 8443, d 192.0.2.13 2001:db8::1 9002");
        db_close(db);
        cleanup_db(path);
}

TEST(settings_refuse_orport) {
        const char *key = NULL;

        ASSERT_ERROR(setting_validate("orport", "443", &key), EPERM);
        ASSERT_STREQ(key, "ORPort");
        ASSERT_OK(setting_validate("DNS", "192.0.2.53", &key));
        ASSERT_ERROR(setting_validate("DNS", "x", &key), EINVAL);
        ASSERT_ERROR(setting_validate("Bogus", "x", &key), ENOENT);
}

DEFINE_TEST_MAIN
