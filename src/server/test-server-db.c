/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <unistd.h>

#include "hexdecoct.h"
#include "server-db.h"
#include "server-fingerprints.h"
#include "server-nodes.h"
#include "server-relays.h"
#include "test-server-util.h"
#include "tests.h"
#include "tpm2-marshal.h"

/* A released migration is never edited: its text must still hash to what was recorded. */
/* The defaults: RelaysPerAddress=8, ORPortRange=9001-9099. */
static const RelayAllocation allocation = { .relays_per_address = 8, .or_port_min = 9001, .or_port_max = 9099 };

TEST(migrations_unchanged) {
        for (unsigned i = 0; i < db_n_migrations; i++) {
                uint8_t d[64];
                size_t n;
                _cleanup_free_ char *hex = NULL;

                ASSERT_EQ(db_migrations[i].version, i + 1);
                ASSERT_OK(tpm2_digest(TPM2_ALG_SHA256, db_migrations[i].sql, strlen(db_migrations[i].sql), d, &n));
                hex = hexmem(d, n);
                if (!streq(hex, db_migrations[i].sha256))
                        TEST_FAIL("migration %u (%s) was edited: sha256 %s, recorded %s", db_migrations[i].version,
                                  db_migrations[i].name, hex, db_migrations[i].sha256);
        }
}

static int pragma_int(Db *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;

        ASSERT_OK(db_prepare(db, sql, &s));
        ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
        return sqlite3_column_int(s, 0);
}

/* The durability settings of docs/server.md: WAL and synchronous=NORMAL (1) for every connection db_open()
 * makes, FULL (2) where the admin CLI asks for it. */
TEST(durability_settings) {
        _cleanup_free_ char *path = temp_db();
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(db_prepare(db, "PRAGMA journal_mode", &s));
        ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
        ASSERT_STREQ((const char *) sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(TAKE_PTR(s));
        ASSERT_EQ(pragma_int(db, "PRAGMA synchronous"), 1);
        ASSERT_OK(db_synchronous_full(db));
        ASSERT_EQ(pragma_int(db, "PRAGMA synchronous"), 2);
        db_close(db);
        /* Per connection: the next one is NORMAL again. */
        ASSERT_OK(db_open(path, &db));
        ASSERT_EQ(pragma_int(db, "PRAGMA synchronous"), 1);
        db_close(db);
        unlink(path);
}

TEST(open_migrates_once) {
        _cleanup_free_ char *path = temp_db();
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_EQ(db_schema_version(db), (int) db_n_migrations);
        db_close(db);
        /* Reopening finds it migrated and does nothing. */
        ASSERT_OK(db_open(path, &db));
        ASSERT_EQ(db_schema_version(db), (int) db_n_migrations);
        /* A newer schema than we know is refused, not "migrated". */
        ASSERT_OK(db_exec(db, "PRAGMA user_version = 999"));
        db_close(db);
        ASSERT_ERROR(db_open(path, &db), EPROTONOSUPPORT);
        cleanup_db(path);
}

TEST(attestation_log_is_append_only) {
        _cleanup_free_ char *path = temp_db();
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(db_exec(db, "INSERT INTO attestations (node_id, fingerprint, at, verdict) VALUES (1, 'x', 1, 'accepted')"));
        ASSERT_TRUE(db_exec(db, "UPDATE attestations SET verdict = 'rejected'") < 0);
        ASSERT_TRUE(db_exec(db, "DELETE FROM attestations") < 0);
        ASSERT_TRUE(db_exec(db, "INSERT INTO attestations (node_id, fingerprint, at, verdict) VALUES (1, 'x', 1, 'maybe')") < 0);
        /* REPLACE deletes the old row without the DELETE trigger (migration 0004 refuses the insert itself). */
        ASSERT_TRUE(db_exec(db, "INSERT OR REPLACE INTO attestations (id, node_id, fingerprint, at, verdict) "
                                "VALUES (1, 1, 'y', 2, 'rejected')") < 0);
        ASSERT_TRUE(db_exec(db, "REPLACE INTO attestations (id, node_id, fingerprint, at, verdict) "
                                "VALUES (1, 1, 'y', 2, 'rejected')") < 0);
        ASSERT_OK(db_exec(db, "INSERT INTO attestations (node_id, fingerprint, at, verdict) VALUES (1, 'x', 3, 'accepted')"));
        db_close(db);
        cleanup_db(path);
}

TEST(pool_add_is_all_or_nothing) {
        _cleanup_free_ char *path = temp_db();
        char *names[] = { "good1", "bad/name", "good2" };
        char *addrs[] = { "192.0.2.1", "192.0.2.001", NULL };
        const char *bad = NULL;
        PoolEntry *e = NULL;
        size_t n;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_ERROR(pool_add(db, "names", names, 3, &bad), EINVAL);
        ASSERT_STREQ(bad, "bad/name");
        ASSERT_OK(pool_list(db, NULL, &e, &n));
        ASSERT_EQ(n, 0);
        pool_entries_free(e, n);
        ASSERT_OK(pool_add(db, "names", names, 1, &bad));
        ASSERT_ERROR(pool_add(db, "names", names, 1, &bad), EEXIST);
        /* Addresses are stored canonically, so spellings of one address are one entry. */
        ASSERT_OK(pool_add(db, "ipv6", (char *[]) { "2001:DB8:0::1" }, 1, &bad));
        ASSERT_ERROR(pool_add(db, "ipv6", (char *[]) { "2001:db8::1" }, 1, &bad), EEXIST);
        ASSERT_ERROR(pool_add(db, "ipv4", addrs, 2, &bad), EINVAL);
        ASSERT_ERROR(pool_add(db, "bogus", names, 1, &bad), EINVAL);
        db_close(db);
        cleanup_db(path);
}

static ProtoFingerprintsRequest report(const char *name, const char *rsa, const char *name2, const char *rsa2) {
        ProtoFingerprintsRequest r = { .n_relays = name2 ? 2 : 1 };

        snprintf(r.relays[0].name, sizeof(r.relays[0].name), "%s", name);
        snprintf(r.relays[0].rsa, sizeof(r.relays[0].rsa), "%s", rsa);
        if (name2) {
                snprintf(r.relays[1].name, sizeof(r.relays[1].name), "%s", name2);
                snprintf(r.relays[1].rsa, sizeof(r.relays[1].rsa), "%s", rsa2);
        }
        return r;
}

static size_t n_fingerprints(Db *db) {
        _cleanup_free_ RelayFingerprint *f = NULL;
        size_t n = 0;

        ASSERT_OK(fingerprints_list(db, &f, &n));
        return n;
}

#define FP_A "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define FP_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define FP_C "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"

/* Reports replace a relay's identity all or nothing, only for the node's own relays of an enabled node, never
 * with another relay's; a relay that goes takes its identity with it. */
TEST(relay_fingerprints) {
        _cleanup_free_ char *path = temp_db();
        _cleanup_free_ RelayFingerprint *f = NULL;
        ProtoFingerprintsRequest r;
        const char *bad = NULL;
        size_t n;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(pool_add(db, "names", (char *[]) { "r1", "r2", "r3", "r4" }, 4, &bad));
        ASSERT_OK(db_exec(db, "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, state, "
                              "first_seen, last_seen) VALUES "
                              "(1, x'01', 'rsa2048', x'00', x'00', x'00', 'N1', 'enabled', 1, 2), "
                              "(2, x'02', 'rsa2048', x'00', x'00', x'00', 'N2', 'enabled', 1, 2), "
                              "(3, x'03', 'rsa2048', x'00', x'00', x'00', 'N3', 'disabled', 1, 2)"));
        ASSERT_OK(db_begin(db));
        ASSERT_OK(relays_allocate(db, 1, 2, &allocation, NULL)); /* r1, r2 */
        ASSERT_OK(relays_allocate(db, 2, 1, &allocation, NULL)); /* r3 */
        ASSERT_OK(relays_allocate(db, 3, 1, &allocation, NULL)); /* r4 */
        ASSERT_OK(db_commit(db));

        r = report("r1", FP_A, "r2", FP_B);
        snprintf(r.relays[0].ed25519, sizeof(r.relays[0].ed25519), "%s", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        ASSERT_OK(fingerprints_store(db, 1, &r, &bad));
        ASSERT_OK(fingerprints_list(db, &f, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(f[0].rsa, FP_A);
        ASSERT_STREQ(f[0].ed25519, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        ASSERT_STREQ(f[1].ed25519, "");
        ASSERT_TRUE(f[0].reported_at > 0);

        /* Another node's relay: refused, and the node's own relay in the same report is not changed either. */
        r = report("r1", FP_C, "r3", FP_C);
        ASSERT_ERROR(fingerprints_store(db, 1, &r, &bad), ENOENT);
        ASSERT_STREQ(bad, "r3");
        r = report("r9", FP_C, NULL, NULL);
        ASSERT_ERROR(fingerprints_store(db, 1, &r, &bad), ENOENT);
        /* Another relay's identity, on this node or another. */
        r = report("r2", FP_A, NULL, NULL);
        ASSERT_ERROR(fingerprints_store(db, 1, &r, &bad), EEXIST);
        ASSERT_STREQ(bad, "r2");
        r = report("r3", FP_B, NULL, NULL);
        ASSERT_ERROR(fingerprints_store(db, 2, &r, &bad), EEXIST);
        /* A node that is not enabled writes nothing. */
        r = report("r4", FP_C, NULL, NULL);
        ASSERT_ERROR(fingerprints_store(db, 3, &r, &bad), EKEYREJECTED);
        free(f);
        f = NULL;
        ASSERT_OK(fingerprints_list(db, &f, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(f[0].rsa, FP_A);
        ASSERT_STREQ(f[1].rsa, FP_B);

        /* A new identity replaces the old one (the ed25519 identity too: not reported, not kept). */
        r = report("r1", FP_C, NULL, NULL);
        ASSERT_OK(fingerprints_store(db, 1, &r, &bad));
        free(f);
        f = NULL;
        ASSERT_OK(fingerprints_list(db, &f, &n));
        ASSERT_STREQ(f[0].rsa, FP_C);
        ASSERT_STREQ(f[0].ed25519, "");

        /* The stored spelling is tor's: the table refuses another one, whatever writes it. */
        ASSERT_TRUE(db_exec(db, "UPDATE relay_fingerprints SET rsa_fingerprint = lower(rsa_fingerprint)") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE relay_fingerprints SET ed25519_identity = '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='") < 0);

        /* The operator lowers the relay count: r2 goes, and its identity with it; the node goes, and r1's. */
        ASSERT_OK(db_begin(db));
        ASSERT_OK(relays_allocate(db, 1, 1, &allocation, NULL));
        ASSERT_OK(db_commit(db));
        ASSERT_EQ(n_fingerprints(db), 1);
        ASSERT_OK(node_remove(db, 1));
        ASSERT_EQ(n_fingerprints(db), 0);
        /* The name r2 is free again; the relay that takes it next starts without an identity. */
        ASSERT_OK(db_begin(db));
        ASSERT_OK(relays_allocate(db, 2, 2, &allocation, NULL));
        ASSERT_OK(db_commit(db));
        ASSERT_EQ(n_fingerprints(db), 0);
        db_close(db);
        cleanup_db(path);
}

TEST(relay_names) {
        ASSERT_TRUE(tor_nickname_ok("a"));
        ASSERT_TRUE(tor_nickname_ok("ABCdef0123456789xyz"));
        ASSERT_FALSE(tor_nickname_ok("ABCdef0123456789xyz0")); /* 20 */
        ASSERT_FALSE(tor_nickname_ok(""));
        ASSERT_FALSE(tor_nickname_ok(".."));
        ASSERT_FALSE(tor_nickname_ok("a/b"));
        ASSERT_FALSE(tor_nickname_ok("a b"));
        ASSERT_FALSE(tor_nickname_ok("a'b"));
        ASSERT_FALSE(tor_nickname_ok(NULL));
}

DEFINE_TEST_MAIN
