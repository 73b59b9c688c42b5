/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "server-tlog.h"
#include "string-util.h"

#define ENTRY_HEADER "patela-log-entry/1\n"
#define ENTRY_SIZE_MAX 4096U

static const char *const kind_table[_TLOG_KIND_MAX] = {
        [TLOG_IMAGE_REGISTERED] = "image-registered",
        [TLOG_IMAGE_RETIRED] = "image-retired",
        [TLOG_NODE_ENABLED] = "node-enabled",
        [TLOG_NODE_DISABLED] = "node-disabled",
        [TLOG_NODE_REPINNED] = "node-repinned",
        [TLOG_VERDICT] = "verdict",
};

const char *tlog_kind_to_string(TlogKind k) {
        return k >= 0 && k < _TLOG_KIND_MAX ? kind_table[k] : NULL;
}

static TlogKind kind_from_string(const char *s) {
        for (int k = 0; s && k < _TLOG_KIND_MAX; k++)
                if (streq(s, kind_table[k]))
                        return k;
        return _TLOG_KIND_INVALID;
}

/* A value of an entry: printable ASCII without space, so that a line is "name value" and nothing else. */
static bool value_ok(const char *v) {
        if (isempty(v) || strlen(v) > 256)
                return false;
        for (const char *p = v; *p; p++)
                if (*p <= ' ' || *p >= 0x7f)
                        return false;
        return true;
}

/* fields: name, value pairs, NULL-terminated. */
static int entry_format(TlogKind kind, int64_t at, const char *const *fields, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, ENTRY_HEADER "kind %s\ntime %" PRIi64 "\n", tlog_kind_to_string(kind), at);
        for (size_t i = 0; fields[i]; i += 2) {
                if (!value_ok(fields[i + 1])) {
                        fclose(f);
                        return -EINVAL;
                }
                fprintf(f, "%s %s\n", fields[i], fields[i + 1]);
        }
        if (fclose(f) != 0 || !buf)
                return -ENOMEM;
        if (size > ENTRY_SIZE_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(buf);
        return 0;
}

int tlog_entry_image(TlogKind kind, const Image *i, const char *reference_sha256, int64_t at, char **ret) {
        if (kind == TLOG_IMAGE_RETIRED)
                return entry_format(kind, at,
                                    (const char *const[]) { "name", i->name, "uki-sha256", i->uki_sha256, NULL },
                                    ret);
        if (kind != TLOG_IMAGE_REGISTERED)
                return -EINVAL;
        return entry_format(kind, at,
                            (const char *const[]) {
                                    "name", i->name,
                                    "uki-sha256", i->uki_sha256,
                                    "uki-authenticode", i->uki_authenticode,
                                    "kernel-authenticode", isempty(i->kernel_authenticode) ? "-" : i->kernel_authenticode,
                                    "pcr9", i->pcr9,
                                    "pcr11-boot", i->pcr11[IMAGE_PHASE_BOOT],
                                    "pcr11-sysinit", i->pcr11[IMAGE_PHASE_SYSINIT],
                                    "pcr11-ready", i->pcr11[IMAGE_PHASE_READY],
                                    "reference-sha256", reference_sha256,
                                    NULL,
                            },
                            ret);
}

int tlog_entry_node(TlogKind kind, const char *fingerprint, int64_t at, char **ret) {
        if (kind != TLOG_NODE_ENABLED && kind != TLOG_NODE_DISABLED && kind != TLOG_NODE_REPINNED)
                return -EINVAL;
        return entry_format(kind, at, (const char *const[]) { "node", fingerprint, NULL }, ret);
}

int tlog_entry_verdict(const char *fingerprint, const char *image, const char *verdict,
                       const uint8_t quote_sha256[static 32], int64_t at, char **ret) {
        _cleanup_free_ char *quote = hexmem(quote_sha256, 32);

        if (!quote)
                return -ENOMEM;
        return entry_format(TLOG_VERDICT, at,
                            (const char *const[]) {
                                    "node", fingerprint,
                                    "image", isempty(image) ? "-" : image,
                                    "verdict", verdict,
                                    "quote-sha256", quote,
                                    NULL,
                            },
                            ret);
}

/* ---- storage ----------------------------------------------------------------------------------------- */

static int read_hash(void *userdata, unsigned level, uint64_t index, TlogHash *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        Db *db = userdata;
        int r, rc;

        if (level > TLOG_LEVELS_MAX || index >= TLOG_SIZE_MAX >> level)
                return -ENOENT;
        r = db_stmt_prepare_cached(db, "SELECT hash FROM tlog_hashes WHERE id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int64_t) tlog_stored_hash_index(level, index));
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        if ((int) db_column_bytes(s, 0) != TLOG_HASH_SIZE)
                return -EBADMSG;
        memcpy(ret->bytes, db_column_blob(s, 0), TLOG_HASH_SIZE);
        return 0;
}

int server_tlog_size(Db *db, uint64_t *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        /* MAX of the primary key: one b-tree descent, not a count. */
        r = db_stmt_prepare_cached(db, "SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_entries", &s);
        if (r < 0)
                return r;
        rc = db_step(s);
        if (rc != DB_ROW)
                return db_result(rc);
        *ret = (uint64_t) db_column_int64(s, 0);
        return 0;
}

int server_tlog_append(Db *db, TlogKind kind, int64_t at, const char *entry, uint64_t *ret_index) {
        TlogHash leaf, stored[TLOG_LEVELS_MAX + 1];
        uint64_t index;
        size_t n, size;
        int r, rc;

        if (!tlog_kind_to_string(kind) || !entry)
                return -EINVAL;
        size = strlen(entry);
        if (size == 0 || size > ENTRY_SIZE_MAX)
                return -E2BIG;
        r = server_tlog_size(db, &index);
        if (r < 0)
                return r;
        if (!tlog_leaf_hash(entry, size, &leaf))
                return -ENOMEM;
        r = tlog_stored_hashes(index, &leaf, read_hash, db, stored, &n);
        if (r < 0)
                return r;

        {
                _cleanup_db_stmt_ DbStmt *s = NULL;
                r = db_stmt_prepare_cached(db, "INSERT INTO tlog_entries (idx, kind, at, entry) VALUES (?, ?, ?, ?)", &s);
                if (r < 0)
                        return r;
                db_bind_int64(s, 1, (int64_t) index);
                db_bind_text_static(s, 2, tlog_kind_to_string(kind));
                db_bind_int64(s, 3, at);
                db_bind_blob_static(s, 4, entry, (int) size);
                rc = db_step(s);
                if (rc != DB_DONE)
                        return db_result(rc);
        }
        for (size_t level = 0; level < n; level++) {
                _cleanup_db_stmt_ DbStmt *s = NULL;
                r = db_stmt_prepare_cached(db, "INSERT INTO tlog_hashes (id, hash) VALUES (?, ?)", &s);
                if (r < 0)
                        return r;
                db_bind_int64(s, 1, (int64_t) tlog_stored_hash_index((unsigned) level, index >> level));
                db_bind_blob_static(s, 2, stored[level].bytes, TLOG_HASH_SIZE);
                rc = db_step(s);
                if (rc != DB_DONE)
                        return db_result(rc);
        }
        if (ret_index)
                *ret_index = index;
        return 0;
}

int server_tlog_root(Db *db, uint64_t size, TlogHash *ret) {
        return tlog_tree_hash(size, read_hash, db, ret);
}

int server_tlog_prove_inclusion(Db *db, uint64_t index, uint64_t size, TlogHash ret[static TLOG_PROOF_MAX],
                                size_t *ret_n) {
        return tlog_prove_inclusion(index, size, read_hash, db, ret, ret_n);
}

int server_tlog_prove_consistency(Db *db, uint64_t size1, uint64_t size2, TlogHash ret[static TLOG_PROOF_MAX],
                                  size_t *ret_n) {
        return tlog_prove_consistency(size1, size2, read_hash, db, ret, ret_n);
}

int server_tlog_entry(Db *db, uint64_t index, char **ret_entry, TlogKind *ret_kind, int64_t *ret_at) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc, size;
        char *e;

        if (index > INT64_MAX)
                return -ENOENT;
        r = db_stmt_prepare_cached(db, "SELECT kind, at, entry FROM tlog_entries WHERE idx = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int64_t) index);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        size = (int) db_column_bytes(s, 2);
        if (size <= 0 || (unsigned) size > ENTRY_SIZE_MAX)
                return -EBADMSG;
        e = malloc((size_t) size + 1);
        if (!e)
                return -ENOMEM;
        memcpy(e, db_column_blob(s, 2), (size_t) size);
        e[size] = '\0';
        if (ret_kind)
                *ret_kind = kind_from_string(db_column_text(s, 0));
        if (ret_at)
                *ret_at = db_column_int64(s, 1);
        *ret_entry = e;
        return 0;
}

int server_tlog_find_registration(Db *db, const char *authenticode, uint64_t size, uint64_t *ret_index,
                                  char **ret_entry) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        uint64_t index;
        char line[96];
        int r, rc;

        if (!authenticode || strlen(authenticode) != 64 || size > INT64_MAX)
                return -EINVAL;
        snprintf(line, sizeof(line), "\nuki-authenticode %s\n", authenticode);
        r = db_stmt_prepare_cached(db,
                              "SELECT idx FROM tlog_entries WHERE kind = 'image-registered' AND idx < ? "
                              "AND instr(entry, ?) > 0 ORDER BY idx DESC LIMIT 1",
                              &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int64_t) size);
        db_bind_blob_static(s, 2, line, (int) strlen(line));
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        index = (uint64_t) db_column_int64(s, 0);
        r = server_tlog_entry(db, index, ret_entry, NULL, NULL);
        if (r < 0)
                return r;
        *ret_index = index;
        return 0;
}

/* The verifier's own copy of the stored hashes, rebuilt from the entries alone: per level for its reader,
 * and in storage order (tlog_stored_hash_index()) to compare with the table row by row. */
typedef struct Rebuilt {
        TlogHash *level[TLOG_LEVELS_MAX + 1];
        uint64_t count[TLOG_LEVELS_MAX + 1];
        TlogHash *order;
        uint64_t *order_first; /* the first entry under each, for the message */
        uint8_t *order_level;
        uint64_t n_order;
} Rebuilt;

static void rebuilt_done(Rebuilt *b) {
        for (size_t i = 0; i <= TLOG_LEVELS_MAX; i++)
                free(b->level[i]);
        free(b->order);
        free(b->order_first);
        free(b->order_level);
}

static int rebuilt_read(void *userdata, unsigned level, uint64_t index, TlogHash *ret) {
        Rebuilt *b = userdata;

        if (level > TLOG_LEVELS_MAX || index >= b->count[level])
                return -ENOENT;
        *ret = b->level[level][index];
        return 0;
}

static int rebuilt_add(Rebuilt *b, unsigned level, uint64_t first, const TlogHash *h) {
        TlogHash *a = reallocarray(b->level[level], b->count[level] + 1, sizeof(TlogHash)),
                 *o = a ? reallocarray(b->order, b->n_order + 1, sizeof(TlogHash)) : NULL;
        uint64_t *f = o ? reallocarray(b->order_first, b->n_order + 1, sizeof(uint64_t)) : NULL;
        uint8_t *l = f ? reallocarray(b->order_level, b->n_order + 1, 1) : NULL;

        if (a)
                b->level[level] = a;
        if (o)
                b->order = o;
        if (f)
                b->order_first = f;
        if (l)
                b->order_level = l;
        if (!a || !o || !f || !l)
                return -ENOMEM;
        a[b->count[level]++] = *h;
        o[b->n_order] = *h;
        f[b->n_order] = first;
        l[b->n_order++] = (uint8_t) level;
        return 0;
}

int server_tlog_verify(Db *db, uint64_t *ret_size, TlogHash *ret_root, char *reason, size_t reason_size) {
        _cleanup_(rebuilt_done) Rebuilt b = {};
        _cleanup_db_stmt_free_ DbStmt *s = NULL, *h = NULL;
        uint64_t expected = 0, row = 0;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT idx, entry FROM tlog_entries ORDER BY idx", &s);
        if (r < 0)
                return r;
        while ((rc = db_step(s)) == DB_ROW) {
                TlogHash leaf, add[TLOG_LEVELS_MAX + 1];
                int size = (int) db_column_bytes(s, 1);
                size_t n;

                if (db_column_int64(s, 0) != (int64_t) expected) {
                        snprintf(reason, reason_size, "entry %" PRIu64 " is missing", expected);
                        return -EBADMSG;
                }
                if (!tlog_leaf_hash(db_column_blob(s, 1), (size_t) MAX(size, 0), &leaf))
                        return -ENOMEM;
                r = tlog_stored_hashes(expected, &leaf, rebuilt_read, &b, add, &n);
                if (r < 0)
                        return r;
                for (size_t level = 0; level < n; level++) {
                        r = rebuilt_add(&b, (unsigned) level, (expected >> level) << level, &add[level]);
                        if (r < 0)
                                return r;
                }
                expected++;
        }
        if (rc != DB_DONE)
                return db_result(rc);

        /* Every stored hash must be the one the entries give, at its place, and nothing more or less. */
        r = db_stmt_prepare(db, "SELECT id, hash FROM tlog_hashes ORDER BY id", &h);
        if (r < 0)
                return r;
        while ((rc = db_step(h)) == DB_ROW) {
                if (db_column_int64(h, 0) != (int64_t) row || row >= b.n_order ||
                    (int) db_column_bytes(h, 1) != TLOG_HASH_SIZE ||
                    memcmp(db_column_blob(h, 1), b.order[row].bytes, TLOG_HASH_SIZE) != 0) {
                        if (row >= b.n_order)
                                snprintf(reason, reason_size, "stored hash %" PRIu64 " is more than the entries give",
                                         row);
                        else if (b.order_level[row] == 0)
                                snprintf(reason, reason_size, "entry %" PRIu64 " is not the one logged (its stored leaf "
                                         "hash differs)", b.order_first[row]);
                        else
                                snprintf(reason, reason_size, "the stored hash of entries %" PRIu64 "–%" PRIu64
                                         " is not what they give", b.order_first[row],
                                         b.order_first[row] + (UINT64_C(1) << b.order_level[row]) - 1);
                        return -EBADMSG;
                }
                row++;
        }
        if (rc != DB_DONE)
                return db_result(rc);
        if (row != b.n_order) {
                snprintf(reason, reason_size, "%" PRIu64 " hashes stored, the %" PRIu64 " entries give %" PRIu64, row,
                         expected, b.n_order);
                return -EBADMSG;
        }
        *ret_size = expected;
        if (expected > 0) {
                r = tlog_tree_hash(expected, rebuilt_read, &b, ret_root);
                if (r < 0)
                        return r;
        } else
                memset(ret_root->bytes, 0, TLOG_HASH_SIZE);
        return 0;
}

json_object *server_tlog_hash_json(const TlogHash *h) {
        _cleanup_free_ char *s = base64mem(h->bytes, TLOG_HASH_SIZE);
        return s ? json_object_new_string(s) : NULL;
}

json_object *server_tlog_proof_json(const TlogHash *p, size_t n) {
        json_object *a = json_object_new_array_ext((int) n);
        for (size_t i = 0; a && i < n; i++)
                json_object_array_add(a, server_tlog_hash_json(&p[i]));
        return a;
}
