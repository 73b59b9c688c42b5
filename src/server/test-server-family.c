/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's family keys in the database (migration 0010): init, rotate, retire and their refusals, the
 * table's own rules against any SQL, the FamilyIds every relay's torrc gets, and to which node the keys go. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server-family.h"
#include "server-nodes.h"
#include "server-relays.h"
#include "server-render.h"
#include "test-server-util.h"
#include "tests.h"

static int64_t count(Db *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;

        if (db_prepare(db, sql, &s) < 0 || sqlite3_step(s) != SQLITE_ROW)
                return -1;
        return sqlite3_column_int64(s, 0);
}

/* The secret stored for a FamilyId; 0 bytes if none. */
static size_t stored_secret(Db *db, const char *family_id, uint8_t ret[static 32]) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        size_t n = 0;

        ASSERT_OK(db_prepare(db, "SELECT secret FROM family_keys WHERE family_id = ?", &s));
        sqlite3_bind_text(s, 1, family_id, -1, SQLITE_TRANSIENT);
        ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
        n = (size_t) sqlite3_column_bytes(s, 0);
        if (n == 32)
                memcpy(ret, sqlite3_column_blob(s, 0), 32);
        return n;
}

TEST(init_rotate_retire) {
        _cleanup_free_ char *path = temp_db();
        _cleanup_free_ FamilyKey *keys = NULL;
        ProtoFamilyKeys secrets = {};
        FamilyKey first, second, k;
        char id[TOR_ED25519_ID_LEN + 1];
        uint8_t secret[32];
        FamilyIds ids;
        struct stat st;
        size_t n;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        /* It holds a secret now: its owner's alone, whatever the umask. */
        ASSERT_OK(stat(path, &st) < 0 ? -errno : 0);
        ASSERT_EQ(st.st_mode & 07777, 0600);

        ASSERT_ERROR(family_rotate(db, &k), ENOENT); /* nothing to rotate yet */
        ASSERT_OK(family_published(db, &ids, &secrets));
        ASSERT_EQ(ids.n, 0);
        ASSERT_EQ(secrets.n, 0);

        ASSERT_OK(family_init(db, &first));
        ASSERT_EQ(strlen(first.family_id), TOR_ED25519_ID_LEN);
        ASSERT_EQ(first.retired_at, 0);
        ASSERT_TRUE(first.created_at > 0);
        /* The FamilyId is the stored seed's public key: what tor computes from the key file the node writes. */
        ASSERT_EQ(stored_secret(db, first.family_id, secret), 32);
        ASSERT_OK(tor_family_id(secret, sizeof(secret), id));
        ASSERT_STREQ(id, first.family_id);
        ASSERT_ERROR(family_init(db, &k), EEXIST);

        ASSERT_OK(family_rotate(db, &second));
        ASSERT_FALSE(streq(second.family_id, first.family_id));
        ASSERT_ERROR(family_rotate(db, &k), EBUSY); /* a rotation runs */
        ASSERT_ERROR(family_init(db, &k), EEXIST);

        /* Published: both, oldest first, with their secrets. */
        ASSERT_OK(family_published(db, &ids, &secrets));
        ASSERT_EQ(ids.n, 2);
        ASSERT_EQ(secrets.n, 2);
        ASSERT_STREQ(ids.ids[0], first.family_id);
        ASSERT_STREQ(ids.ids[1], second.family_id);
        ASSERT_TRUE(memcmp(secrets.keys[0], secret, 32) == 0);
        ASSERT_OK(tor_family_id(secrets.keys[1], 32, id));
        ASSERT_STREQ(id, second.family_id);
        proto_family_keys_done(&secrets);
        ASSERT_EQ(secrets.n, 0);

        /* Retire without a FamilyId: the older one. Its secret is gone from the table. */
        ASSERT_EQ(family_retire(db, NULL, &k), 1);
        ASSERT_STREQ(k.family_id, first.family_id);
        ASSERT_TRUE(k.retired_at >= k.created_at && k.retired_at > 0);
        ASSERT_EQ(stored_secret(db, first.family_id, secret), 0);
        ASSERT_EQ(count(db, "SELECT count(*) FROM family_keys WHERE secret IS NULL"), 1);
        ASSERT_OK(family_published(db, &ids, NULL));
        ASSERT_EQ(ids.n, 1);
        ASSERT_STREQ(ids.ids[0], second.family_id);
        /* Again: unchanged. The last published key: refused. Unknown: not found. */
        ASSERT_EQ(family_retire(db, first.family_id, &k), 0);
        ASSERT_ERROR(family_retire(db, second.family_id, &k), EBUSY);
        ASSERT_ERROR(family_retire(db, NULL, &k), EBUSY);
        ASSERT_ERROR(family_retire(db, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &k), ENOENT);

        ASSERT_OK(family_list(db, /* with_retired= */ true, &keys, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(keys[0].family_id, second.family_id); /* newest first */
        ASSERT_TRUE(keys[1].retired_at > 0);
        free(TAKE_PTR(keys));
        ASSERT_OK(family_list(db, /* with_retired= */ false, &keys, &n));
        ASSERT_EQ(n, 1);

        /* A rotation may start again; retiring the newer of two by name leaves the older. */
        ASSERT_OK(family_rotate(db, &k));
        ASSERT_EQ(family_retire(db, k.family_id, &k), 1);
        ASSERT_OK(family_published(db, &ids, NULL));
        ASSERT_EQ(ids.n, 1);
        ASSERT_STREQ(ids.ids[0], second.family_id);
        db_close(db);
        cleanup_db(path);
}

TEST(table_rules) {
        _cleanup_free_ char *path = temp_db();
        FamilyKey a, b;
        Db *db = NULL;
        char sql[256];

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(family_init(db, &a));
        ASSERT_OK(family_rotate(db, &b));
        /* A third published key, by SQL: refused by the trigger. */
        ASSERT_TRUE(db_exec(db, "INSERT INTO family_keys (family_id, secret, created_at) VALUES "
                                "('CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC', zeroblob(32), 1)") < 0);
        /* A secret of another size, a malformed FamilyId, a published key without its secret: refused. */
        ASSERT_TRUE(db_exec(db, "INSERT INTO family_keys (family_id, secret, created_at, retired_at) VALUES "
                                "('DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD', NULL, 1, NULL)") < 0);
        ASSERT_EQ(family_retire(db, NULL, &a), 1);
        ASSERT_TRUE(db_exec(db, "INSERT INTO family_keys (family_id, secret, created_at) VALUES "
                                "('EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE', zeroblob(31), 1)") < 0);
        ASSERT_TRUE(db_exec(db, "INSERT INTO family_keys (family_id, secret, created_at) VALUES "
                                "('not a family id', zeroblob(32), 1)") < 0);
        /* The published key's secret cannot be swapped, a retired key cannot come back. */
        snprintf(sql, sizeof(sql), "UPDATE family_keys SET secret = zeroblob(32) WHERE family_id = '%s'", b.family_id);
        ASSERT_TRUE(db_exec(db, sql) < 0);
        snprintf(sql, sizeof(sql), "UPDATE family_keys SET retired_at = NULL, secret = zeroblob(32) WHERE family_id = '%s'",
                 a.family_id);
        ASSERT_TRUE(db_exec(db, sql) < 0);
        ASSERT_EQ(count(db, "SELECT count(*) FROM family_keys WHERE retired_at IS NULL"), 1);
        db_close(db);
        cleanup_db(path);
}

/* A node with one relay and an image; verdict and retirement set by the test. */
static void fleet(Db *db) {
        static const char hex[] = "'0000000000000000000000000000000000000000000000000000000000000000'";
        char sql[2048];

        ASSERT_OK(db_exec(db, "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, "
                              "state, first_seen, last_seen) VALUES (1, x'01', 'rsa2048', x'00', x'00', x'00', "
                              "'AAAA-BBBB', 'enabled', 1, 2)"));
        ASSERT_OK(db_exec(db, "INSERT INTO relays (id, node_id, slot, name) VALUES (1, 1, 0, 'exitA')"));
        snprintf(sql, sizeof(sql),
                 "INSERT INTO images (id, name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, pcr11_sysinit, "
                 "pcr11_ready, reference_version, reference, added_at) VALUES (1, 'patela-1', %s, %s, %s, %s, %s, %s, 2, "
                 "'{}', 1)",
                 hex, hex, hex, hex, hex, hex);
        ASSERT_OK(db_exec(db, sql));
}

TEST(released_to_trusted_nodes) {
        _cleanup_free_ char *path = temp_db();
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        fleet(db);
        ASSERT_EQ(family_released(db, 1), 0); /* never attested */
        ASSERT_OK(db_exec(db, "UPDATE nodes SET image_id = 1, last_verdict = 'UnknownImage', last_verdict_at = 3"));
        ASSERT_EQ(family_released(db, 1), 0); /* accepted only under MeasuredBoot=warn */
        ASSERT_OK(db_exec(db, "UPDATE nodes SET last_verdict = 'LogMismatch', last_verdict_at = 4"));
        ASSERT_EQ(family_released(db, 1), 0);
        ASSERT_OK(db_exec(db, "UPDATE nodes SET last_verdict = 'Trusted', last_verdict_at = 5"));
        ASSERT_EQ(family_released(db, 1), 1);
        ASSERT_OK(db_exec(db, "UPDATE images SET retired_at = 6"));
        ASSERT_EQ(family_released(db, 1), 0); /* until it re-attests and is refused */
        ASSERT_ERROR(family_released(db, 2), ENOENT);
        db_close(db);
        cleanup_db(path);
}

/* The forced FamilyId lines: every published key's for a node they are released to, none (not even a level's
 * own) for another. */
TEST(render) {
        _cleanup_free_ char *path = temp_db(), *with = NULL, *without = NULL, *none = NULL;
        _cleanup_(torrc_freep) Torrc *def = NULL;
        const ConfigScope scope = { .level = LEVEL_DEFAULT };
        FamilyKey a, b;
        FamilyIds ids;
        Relay relay;
        Node node = { .id = 1, .state = NODE_ENABLED }; /* what rendering reads of it */
        Db *db = NULL;
        char line[128];

        ASSERT_OK(db_open(path, &db));
        fleet(db);
        ASSERT_OK(torrc_new(&def));
        ASSERT_OK(torrc_set(def, "ContactInfo", "ops@example.org", NULL));
        ASSERT_OK(torrc_set(def, "FamilyId", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", NULL));
        ASSERT_OK(db_begin(db));
        ASSERT_OK(torrc_level_save(db, &scope, def));
        ASSERT_OK(db_commit(db));
        ASSERT_OK(relay_get_by_name(db, "exitA", &relay));

        ASSERT_OK(family_init(db, &a));
        ASSERT_OK(family_rotate(db, &b));
        ASSERT_OK(family_published(db, &ids, NULL));
        ASSERT_OK(render_relay_torrc(db, &node, &relay, &ids, &with, NULL));
        snprintf(line, sizeof(line), "FamilyId %s\nFamilyId %s\n", a.family_id, b.family_id);
        ASSERT_TRUE(strstr(with, line) != NULL);
        ASSERT_TRUE(strstr(with, "BBBBBBBB") == NULL);
        ASSERT_TRUE(strstr(with, "ContactInfo ops@example.org") != NULL);

        ASSERT_OK(render_relay_torrc(db, &node, &relay, NULL, &without, NULL));
        ASSERT_TRUE(strstr(without, "FamilyId") == NULL);
        ids.n = 0;
        ASSERT_OK(render_relay_torrc(db, &node, &relay, &ids, &none, NULL));
        ASSERT_STREQ(none, without);
        db_close(db);
        cleanup_db(path);
}

DEFINE_TEST_MAIN
