/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <unistd.h>

#include "hexdecoct.h"
#include "server-db.h"
#include "server-relays.h"
#include "test-server-util.h"
#include "tests.h"
#include "tpm2-marshal.h"

/* A released migration is never edited: its text must still hash to what was recorded. */
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
