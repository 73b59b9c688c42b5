/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image registry in the database: migration 0003 over a database that has nodes, registration and its
 * refusals, retirement once, immutability against any SQL, and a node's image and verdict. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server-db.h"
#include "server-images.h"
#include "test-server-util.h"
#include "tests.h"

/* A reference whose records are filled with seed: different seeds, different digests. */
static void reference(ImageReference *ret, uint8_t seed, const char *image_id, const char *image_version,
                      char **ret_text) {
        ImageMeasurements m = {};
        OsRelease os = {};
        uint8_t uki[32];

        for (unsigned i = 0; i < 4; i++) {
                ImageRecord *r = &m.records[m.n++];

                r->pcr = i == 0 || i == 2 ? 4 : i == 1 ? 11 : 9;
                memset(r->sha256, seed + i, 32);
                snprintf(r->what, sizeof(r->what), "record%u", i);
        }
        memset(uki, seed, 32);
        snprintf(os.values[OS_RELEASE_ID], OS_RELEASE_VALUE_MAX, "debian");
        snprintf(os.values[OS_RELEASE_VERSION_ID], OS_RELEASE_VALUE_MAX, "13");
        if (image_id)
                snprintf(os.values[OS_RELEASE_IMAGE_ID], OS_RELEASE_VALUE_MAX, "%s", image_id);
        if (image_version)
                snprintf(os.values[OS_RELEASE_IMAGE_VERSION], OS_RELEASE_VALUE_MAX, "%s", image_version);
        ASSERT_OK(image_reference_init(ret, &m, uki, 1000 + seed, &os));
        ASSERT_OK(image_reference_format(ret, ret_text));
}

static int64_t count(Db *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;

        if (db_prepare(db, sql, &s) < 0 || sqlite3_step(s) != SQLITE_ROW)
                return -1;
        return sqlite3_column_int64(s, 0);
}

TEST(migration_keeps_nodes) {
        _cleanup_free_ char *path = temp_db();
        sqlite3 *raw = NULL;
        Db *db = NULL;

        /* A database of the released schema (migrations 1 and 2) with a node in it. */
        ASSERT_EQ(sqlite3_open(path, &raw), SQLITE_OK);
        for (unsigned i = 0; i < 2; i++)
                ASSERT_EQ(sqlite3_exec(raw, db_migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(raw,
                               "PRAGMA user_version = 2; INSERT INTO nodes (ek_name, ek_type, ek_public, ak_public, "
                               "ak_name, fingerprint, first_seen, last_seen) VALUES (x'01', 'rsa2048', x'00', x'00', "
                               "x'00', 'FP', 1, 2)",
                               NULL, NULL, NULL),
                  SQLITE_OK);
        sqlite3_close(raw);

        ASSERT_OK(db_open(path, &db));
        ASSERT_EQ(db_schema_version(db), (int) db_n_migrations);
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM nodes WHERE fingerprint = 'FP' AND last_seen = 2 AND image_id IS NULL "
                            "AND last_verdict IS NULL"),
                  1);
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM images"), 0);
        db_close(db);
        cleanup_db(path);
}

TEST(default_names) {
        _cleanup_free_ char *t1 = NULL, *t2 = NULL, *t3 = NULL;
        char name[IMAGE_NAME_MAX + 1];
        ImageReference ref;

        reference(&ref, 0x10, "patela", "2026.12.1", &t1);
        ASSERT_OK(image_default_name(&ref, name));
        ASSERT_STREQ(name, "patela-2026.12.1");
        /* No IMAGE_VERSION (mkosi without ImageVersion=): the distribution's version and the UKI's digest. */
        reference(&ref, 0x10, "patela", NULL, &t2);
        ASSERT_OK(image_default_name(&ref, name));
        ASSERT_STREQ(name, "patela-13-101010101010");
        reference(&ref, 0x10, NULL, NULL, &t3);
        ASSERT_OK(image_default_name(&ref, name));
        ASSERT_STREQ(name, "debian-13-101010101010");

        ASSERT_TRUE(image_name_is_valid("patela-1.0~rc1+x_y"));
        ASSERT_FALSE(image_name_is_valid("-x"));
        ASSERT_FALSE(image_name_is_valid(".x"));
        ASSERT_FALSE(image_name_is_valid("a b"));
        ASSERT_FALSE(image_name_is_valid("a/b"));
        ASSERT_FALSE(image_name_is_valid(""));
        ASSERT_FALSE(image_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 65 */
}

TEST(add_list_show_retire) {
        _cleanup_free_ char *path = temp_db(), *ta = NULL, *tb = NULL, *tc = NULL, *stored = NULL;
        _cleanup_free_ Image *list = NULL;
        ImageConflict conflict = {};
        ImageReference a, b, c;
        Image image, again;
        size_t n;
        Db *db = NULL;

        reference(&a, 0x10, "patela", "1", &ta);
        reference(&b, 0x20, "patela", "2", &tb);
        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(image_add(db, "patela-1", &a, ta, strlen(ta), &image, &conflict));
        ASSERT_STREQ(image.name, "patela-1");
        ASSERT_STREQ(image.uki_sha256, "1010101010101010101010101010101010101010101010101010101010101010");
        ASSERT_STREQ(image.uki_authenticode, "1010101010101010101010101010101010101010101010101010101010101010");
        ASSERT_STREQ(image.kernel_authenticode, "1212121212121212121212121212121212121212121212121212121212121212");
        ASSERT_STREQ(image.os_release.values[OS_RELEASE_IMAGE_VERSION], "1");
        ASSERT_EQ(image.uki_size, 1016);
        ASSERT_EQ(image.reference_version, 2);
        ASSERT_EQ(image.retired_at, 0);
        ASSERT_TRUE(image.added_at > 0);

        /* Refusals name what is taken and by whom; nothing is written. */
        ASSERT_ERROR(image_add(db, "patela-1", &b, tb, strlen(tb), &again, &conflict), EEXIST);
        ASSERT_STREQ(conflict.what, "name");
        ASSERT_ERROR(image_add(db, "other", &a, ta, strlen(ta), &again, &conflict), EEXIST);
        ASSERT_STREQ(conflict.what, "UKI SHA-256");
        ASSERT_STREQ(conflict.image, "patela-1");
        /* Another UKI file with the same Authenticode digest: a signature added or changed. */
        reference(&c, 0x10, "patela", "1", &tc);
        c.uki_sha256[0] ^= 0xff;
        ASSERT_ERROR(image_add(db, "signed", &c, tc, strlen(tc), &again, &conflict), EEXIST);
        ASSERT_STREQ(conflict.what, "Authenticode digest");
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM images"), 1);

        ASSERT_OK(image_add(db, "patela-2", &b, tb, strlen(tb), &image, &conflict));
        ASSERT_OK(image_list(db, &list, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(list[0].name, "patela-1");
        ASSERT_STREQ(list[1].pcr11[IMAGE_PHASE_READY], image.pcr11[IMAGE_PHASE_READY]);
        ASSERT_OK(image_get(db, "patela-2", &again, &stored));
        ASSERT_STREQ(stored, tb); /* as received */
        ASSERT_ERROR(image_get(db, "patela-3", &again, NULL), ENOENT);

        /* Retired once; a second retirement changes nothing. */
        ASSERT_EQ(image_retire(db, "patela-1", &image), 1);
        ASSERT_TRUE(image.retired_at >= image.added_at);
        ASSERT_EQ(image_retire(db, "patela-1", &again), 0);
        ASSERT_EQ(again.retired_at, image.retired_at);
        ASSERT_ERROR(image_retire(db, "nope", &again), ENOENT);
        /* A retired image's digest stays taken. */
        ASSERT_ERROR(image_add(db, "patela-1b", &a, ta, strlen(ta), &again, &conflict), EEXIST);
        db_close(db);
        cleanup_db(path);
}

TEST(immutable) {
        _cleanup_free_ char *path = temp_db(), *t = NULL;
        ImageReference ref;
        Image image;
        Db *db = NULL;

        reference(&ref, 0x30, "patela", "3", &t);
        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(image_add(db, "patela-3", &ref, t, strlen(t), &image, NULL));
        ASSERT_TRUE(db_exec(db, "UPDATE images SET pcr9 = pcr11_boot") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE images SET name = 'renamed'") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE images SET reference = '{}'") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE images SET name = name") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE images SET retired_at = added_at + 1, pcr9 = pcr11_boot") < 0);
        ASSERT_TRUE(db_exec(db, "DELETE FROM images") < 0);
        ASSERT_TRUE(db_exec(db, "REPLACE INTO images SELECT * FROM images") < 0);
        ASSERT_TRUE(db_exec(db, "INSERT OR REPLACE INTO images (name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, "
                                "pcr11_sysinit, pcr11_ready, reference_version, reference, added_at) SELECT name, "
                                "pcr9, pcr9, pcr9, pcr9, pcr9, pcr9, 2, '{}', 1 FROM images") < 0);
        ASSERT_OK(db_exec(db, "UPDATE images SET retired_at = added_at + 1"));
        ASSERT_TRUE(db_exec(db, "UPDATE images SET retired_at = added_at + 2") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE images SET retired_at = NULL") < 0);
        ASSERT_OK(image_get(db, "patela-3", &image, NULL));
        ASSERT_EQ(image.retired_at, image.added_at + 1);
        ASSERT_EQ(count(db, "SELECT COUNT(*) FROM images"), 1);
        db_close(db);
        cleanup_db(path);
}

TEST(node_image_and_verdict) {
        _cleanup_free_ char *path = temp_db(), *t = NULL;
        NodeBootStatus b;
        ImageReference ref;
        Image image;
        Db *db = NULL;

        reference(&ref, 0x40, "patela", "4", &t);
        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(image_add(db, "patela-4", &ref, t, strlen(t), &image, NULL));
        ASSERT_OK(db_exec(db, "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, "
                              "first_seen, last_seen) VALUES (7, x'01', 'rsa2048', x'00', x'00', x'00', 'FP', 1, 2)"));
        ASSERT_ERROR(node_boot_status(db, 8, &b), ENOENT);
        ASSERT_OK(node_boot_status(db, 7, &b));
        ASSERT_STREQ(b.image, "");
        ASSERT_STREQ(b.verdict, "");

        /* No verdict of the verifier yet: the attestation log's newest entry. */
        ASSERT_OK(db_exec(db, "INSERT INTO attestations (node_id, fingerprint, at, verdict, reason) VALUES "
                              "(7, 'FP', 10, 'accepted', NULL), (7, 'FP', 20, 'rejected', 'quote: another nonce'), "
                              "(8, 'X', 30, 'accepted', NULL)"));
        ASSERT_OK(node_boot_status(db, 7, &b));
        ASSERT_STREQ(b.verdict, "rejected");
        ASSERT_STREQ(b.reason, "quote: another nonce");
        ASSERT_EQ(b.at, 20);
        ASSERT_TRUE(b.from_log);

        /* The verifier's record wins; only its verdicts, with a time, and only registered images. */
        ASSERT_TRUE(db_exec(db, "UPDATE nodes SET last_verdict = 'accepted', last_verdict_at = 30") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE nodes SET last_verdict = 'Trusted'") < 0);
        ASSERT_TRUE(db_exec(db, "UPDATE nodes SET image_id = 99") < 0);
        ASSERT_OK(db_exec(db, "UPDATE nodes SET image_id = (SELECT id FROM images), last_verdict = 'RetiredImage', "
                              "last_verdict_reason = 'PCR 4: image patela-4 is retired', last_verdict_at = 40"));
        ASSERT_OK(node_boot_status(db, 7, &b));
        ASSERT_STREQ(b.image, "patela-4");
        ASSERT_STREQ(b.verdict, "RetiredImage");
        ASSERT_STREQ(b.reason, "PCR 4: image patela-4 is retired");
        ASSERT_EQ(b.at, 40);
        ASSERT_FALSE(b.from_log);
        ASSERT_OK(image_get(db, "patela-4", &image, NULL));
        ASSERT_EQ(image.n_nodes, 1);
        /* Removing the node is allowed; the image stays. */
        ASSERT_OK(db_exec(db, "DELETE FROM nodes WHERE id = 7"));
        ASSERT_OK(image_get(db, "patela-4", &image, NULL));
        ASSERT_EQ(image.n_nodes, 0);
        db_close(db);
        cleanup_db(path);
}

DEFINE_TEST_MAIN
