/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fleet's family keys (server-family.h): made, rotated and retired by the admin CLI, read by the node API.
 * tor's key is an ed25519 key: its stored form here is the 32-byte seed; the FamilyId is the public key in
 * unpadded base64 (tor_family_id(), the same code that writes the node's key files). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "log.h"
#include "server-family.h"

static void key_from_row(DbStmt *s, FamilyKey *ret) {
        const unsigned char *id = (const unsigned char *) db_column_text(s, 1);

        *ret = (FamilyKey) {
                .id = db_column_int64(s, 0),
                .created_at = db_column_int64(s, 2),
                .retired_at = db_column_int64(s, 3),
        };
        snprintf(ret->family_id, sizeof(ret->family_id), "%s", id ? (const char *) id : "");
}

int family_list(Db *db, bool with_retired, FamilyKey **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ FamilyKey *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT id, family_id, created_at, retired_at FROM family_keys "
                       "WHERE ?1 OR retired_at IS NULL ORDER BY id DESC",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, with_retired);
        while ((rc = db_step(s)) == DB_ROW) {
                if (n == allocated) {
                        FamilyKey *p = reallocarray(list, MAX(allocated * 2, 4U), sizeof(FamilyKey));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                        allocated = MAX(allocated * 2, 4U);
                }
                key_from_row(s, &list[n++]);
        }
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int count_published(Db *db) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r;

        r = db_stmt_prepare(db, "SELECT count(*) FROM family_keys WHERE retired_at IS NULL", &s);
        if (r < 0)
                return r;
        if (db_step(s) != DB_ROW)
                return -EIO;
        return (int) db_column_int64(s, 0);
}

static int find_key(Db *db, const char *column, int64_t id, const char *family_id, FamilyKey *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        char sql[128];
        int r, rc;

        snprintf(sql, sizeof(sql), "SELECT id, family_id, created_at, retired_at FROM family_keys WHERE %s = ?",
                 column);
        r = db_stmt_prepare(db, sql, &s);
        if (r < 0)
                return r;
        if (family_id)
                db_bind_text(s, 1, family_id);
        else
                db_bind_int64(s, 1, id);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        key_from_row(s, ret);
        return 0;
}

typedef struct FamilyAdd {
        bool first;
        const SecretBuffer *seed;
        const char *family_id;
        FamilyKey added;
} FamilyAdd;

static int family_add_tx(Db *db, void *userdata) {
        FamilyAdd *a = userdata;
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int64_t id_added;
        int r, n, rc;

        n = count_published(db);
        r = n < 0                                ? n
            : a->first && n > 0                  ? -EEXIST
            : !a->first && n == 0                ? -ENOENT
            : n >= (int) PROTO_FAMILY_KEYS_MAX ? -EBUSY
                                                 : 0;
        if (r < 0)
                return r;
        r = db_stmt_prepare(db, "INSERT INTO family_keys (family_id, secret, created_at) VALUES (?, ?, ?) RETURNING id",
                            &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, a->family_id);
        db_bind_blob_static(s, 2, a->seed->data, (int) a->seed->size); /* seed outlives s */
        db_bind_int64(s, 3, (int64_t) now_usec());
        rc = db_step(s);
        if (rc != DB_ROW)
                return rc < 0 ? rc : -EIO;
        id_added = db_column_int64(s, 0);
        /* SQLite refuses COMMIT while a write statement is in progress. */
        db_stmt_reset(s);
        return find_key(db, "id", id_added, NULL, &a->added);
}

/* A new key, published: the seed from the CSPRNG (OpenSSL's private generator), its FamilyId computed here. */
static int family_add(Db *db, bool first, FamilyKey *ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *seed = NULL;
        char id[TOR_ED25519_ID_LEN + 1];
        FamilyAdd a;
        int r;

        r = tor_family_seed_generate(&seed);
        if (r >= 0)
                r = tor_family_id(seed->data, seed->size, id);
        if (r < 0)
                return r;

        a = (FamilyAdd) { .first = first, .seed = seed, .family_id = id };
        r = db_transaction(db, family_add_tx, &a);
        if (r < 0)
                return r;
        *ret = a.added;
        return 0;
}

int family_init(Db *db, FamilyKey *ret) {
        return family_add(db, /* first= */ true, ret);
}

int family_rotate(Db *db, FamilyKey *ret) {
        return family_add(db, /* first= */ false, ret);
}

typedef struct FamilyRetire {
        const char *family_id;
        FamilyKey key;
        bool retired; /* now, by this transaction */
} FamilyRetire;

static int family_retire_tx(Db *db, void *userdata) {
        FamilyRetire *t = userdata;
        _cleanup_db_stmt_free_ DbStmt *s = NULL, *oldest = NULL;
        FamilyKey *k = &t->key;
        int r, n, rc;

        t->retired = false;
        if (t->family_id)
                r = find_key(db, "family_id", 0, t->family_id, k);
        else {
                r = db_stmt_prepare(db,
                               "SELECT id, family_id, created_at, retired_at FROM family_keys WHERE retired_at IS NULL "
                               "ORDER BY id LIMIT 1",
                               &oldest);
                if (r >= 0) {
                        rc = db_step(oldest);
                        r = rc == DB_ROW ? 0 : rc == DB_DONE ? -ENOENT : db_result(rc);
                }
                if (r >= 0)
                        key_from_row(oldest, k);
        }
        if (r < 0)
                return r;
        if (k->retired_at > 0)
                return 0;
        n = count_published(db);
        if (n < 0)
                return n;
        if (n < 2)
                return -EBUSY;
        r = db_stmt_prepare(db, "UPDATE family_keys SET secret = NULL, retired_at = ? WHERE id = ?", &s);
        if (r < 0)
                return r;
        /* Never before it was made, should the clock have gone back (the table checks it). */
        db_bind_int64(s, 1, MAX((int64_t) now_usec(), k->created_at));
        db_bind_int64(s, 2, k->id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        r = find_key(db, "id", k->id, NULL, k);
        if (r < 0)
                return r;
        t->retired = true;
        return 0;
}

int family_retire(Db *db, const char *family_id, FamilyKey *ret) {
        FamilyRetire t = { .family_id = family_id };
        int r;

        /* Pages that held the secret are overwritten with zeros when it is erased, not left in the file's free
         * space. For this connection, which is the CLI's. */
        r = db_exec(db, "PRAGMA secure_delete = ON");
        if (r < 0)
                return r;
        r = db_transaction(db, family_retire_tx, &t);
        if (r < 0)
                return r;
        *ret = t.key;
        return t.retired;
}

int family_published(Db *db, FamilyIds *ret_ids, ProtoFamilyKeys *ret_keys) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        FamilyIds ids = {};
        int r, rc;

        /* In every relays request: a cached statement. */
        r = db_stmt_prepare_cached(db, "SELECT family_id, secret FROM family_keys WHERE retired_at IS NULL ORDER BY id", &s);
        if (r < 0)
                return r;
        if (ret_keys)
                *ret_keys = (ProtoFamilyKeys) {};
        while ((rc = db_step(s)) == DB_ROW) {
                const unsigned char *id = (const unsigned char *) db_column_text(s, 0);
                const void *secret = db_column_blob(s, 1);

                /* The table holds at most two (a trigger) of exactly this form (its checks). */
                if (ids.n >= PROTO_FAMILY_KEYS_MAX || !id || strlen((const char *) id) != TOR_ED25519_ID_LEN ||
                    !secret || (int) db_column_bytes(s, 1) != PROTO_FAMILY_KEY_SIZE) {
                        r = -EBADMSG;
                        break;
                }
                memcpy(ids.ids[ids.n], id, TOR_ED25519_ID_LEN + 1);
                if (ret_keys)
                        memcpy(ret_keys->keys[ids.n], secret, PROTO_FAMILY_KEY_SIZE);
                ids.n++;
        }
        if (r >= 0 && rc != DB_DONE)
                r = db_result(rc);
        if (r < 0) {
                if (ret_keys)
                        proto_family_keys_done(ret_keys);
                return r;
        }
        if (ret_keys)
                ret_keys->n = ids.n;
        *ret_ids = ids;
        return 0;
}

int family_released(Db *db, int64_t node_id) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "SELECT n.last_verdict = 'Trusted' AND i.id IS NOT NULL AND i.retired_at IS NULL "
                              "FROM nodes n LEFT JOIN images i ON i.id = n.image_id WHERE n.id = ?",
                              &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        return (int) db_column_int64(s, 0) == 1;
}
