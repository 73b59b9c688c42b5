/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest-util.h"
#include "hexdecoct.h"
#include "server-images.h"
#include "server-tlog.h"
#include "string-util.h"

bool image_name_is_valid(const char *name) {
        return name && strlen(name) >= 1 && strlen(name) <= IMAGE_NAME_MAX &&
               strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", name[0]) &&
               in_charset(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+-");
}

int image_default_name(const ImageReference *ref, char ret[static IMAGE_NAME_MAX + 1]) {
        const OsRelease *o = &ref->os_release;
        const char *base = o->values[OS_RELEASE_IMAGE_ID][0] ? o->values[OS_RELEASE_IMAGE_ID]
                           : o->values[OS_RELEASE_ID][0]     ? o->values[OS_RELEASE_ID]
                                                             : "image";
        char name[3 * OS_RELEASE_VALUE_MAX + 16];

        if (o->values[OS_RELEASE_IMAGE_VERSION][0])
                snprintf(name, sizeof(name), "%s-%s", base, o->values[OS_RELEASE_IMAGE_VERSION]);
        else {
                _cleanup_free_ char *h = hexmem(ref->uki_sha256, 6);

                if (!h)
                        return -ENOMEM;
                const char *version = o->values[OS_RELEASE_VERSION_ID];

                snprintf(name, sizeof(name), "%s%s%s-%s", base, version[0] ? "-" : "", version, h);
        }
        if (!image_name_is_valid(name))
                return -EINVAL;
        memcpy(ret, name, strlen(name) + 1);
        return 0;
}

static void hex32(const uint8_t d[static 32], char out[static 65]) {
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#define IMAGE_COLUMNS                                                                                         \
        "id, name, uki_sha256, uki_size, uki_authenticode, kernel_authenticode, pcr9, pcr11_boot, pcr11_sysinit, " \
        "pcr11_ready, os_id, os_version_id, os_image_id, os_image_version, os_build_id, reference_version, "   \
        "added_at, retired_at, (SELECT COUNT(*) FROM nodes WHERE nodes.image_id = images.id), reference"

/* The os-release columns, in OsReleaseField order. */
#define OS_COLUMN_FIRST 10

static void text_column(DbStmt *s, int col, char *out, size_t size) {
        const unsigned char *t = (const unsigned char *) db_column_text(s, col);

        snprintf(out, size, "%s", t ? (const char *) t : "");
}

static int image_from_row(DbStmt *s, Image *ret, char **ret_reference) {
        Image i = {
                .id = db_column_int64(s, 0),
                .uki_size = (uint64_t) MAX(db_column_int64(s, 3), 0),
                .reference_version = (unsigned) (int) db_column_int64(s, 15),
                .added_at = db_column_int64(s, 16),
                .retired_at = db_column_int64(s, 17),
                .n_nodes = (unsigned) (int) db_column_int64(s, 18),
        };

        text_column(s, 1, i.name, sizeof(i.name));
        text_column(s, 2, i.uki_sha256, sizeof(i.uki_sha256));
        text_column(s, 4, i.uki_authenticode, sizeof(i.uki_authenticode));
        text_column(s, 5, i.kernel_authenticode, sizeof(i.kernel_authenticode));
        text_column(s, 6, i.pcr9, sizeof(i.pcr9));
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                text_column(s, 7 + (int) p, i.pcr11[p], sizeof(i.pcr11[p]));
        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                text_column(s, OS_COLUMN_FIRST + (int) f, i.os_release.values[f], OS_RELEASE_VALUE_MAX);
        if (ret_reference) {
                const unsigned char *text = (const unsigned char *) db_column_text(s, 19);
                char *t = strdup(text ? (const char *) text : "");

                if (!t)
                        return -ENOMEM;
                *ret_reference = t;
        }
        *ret = i;
        return 0;
}

/* One image by a column's value, within the caller's transaction. column is one of this file's constants,
 * never input; the value is bound. */
static int image_find(Db *db, const char *column, const char *value, Image *ret, char **ret_reference) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        char sql[1024];
        int r, rc;

        snprintf(sql, sizeof(sql), "SELECT " IMAGE_COLUMNS " FROM images WHERE %s = ?", column);
        r = db_stmt_prepare(db, sql, &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, value);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        return image_from_row(s, ret, ret_reference);
}

static void bind_text_or_null(DbStmt *s, int col, const char *value) {
        if (value && value[0])
                db_bind_text(s, col, value);
        else
                db_bind_null(s, col);
}

/* The transparency log's entry of the change, in its transaction; a registration names the SHA-256 of the
 * reference as stored (`image show --json` prints it), so a monitor can fetch and compare it. */
static int log_image(Db *db, TlogKind kind, const Image *i, const char *text, size_t size) {
        _cleanup_free_ char *entry = NULL;
        uint8_t d[32];
        char h[65] = "";
        int r;

        if (text) {
                if (!sha256_digest(text, size, d))
                        return -ENOMEM;
                hex32(d, h);
        }
        r = tlog_entry_image(kind, i, h, now_sec(), &entry);
        if (r < 0)
                return r;
        return server_tlog_append(db, kind, now_sec(), entry, NULL);
}

static int image_insert(Db *db, const char *name, const ImageReference *ref, const char *text, size_t size) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        char h[65];
        int r, rc;

        r = db_stmt_prepare(db,
                       "INSERT INTO images (name, uki_sha256, uki_size, uki_authenticode, kernel_authenticode, pcr9, "
                       "pcr11_boot, pcr11_sysinit, pcr11_ready, os_id, os_version_id, os_image_id, os_image_version, "
                       "os_build_id, reference_version, reference, added_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, name);
        hex32(ref->uki_sha256, h);
        db_bind_text(s, 2, h);
        if (ref->uki_size > 0)
                db_bind_int64(s, 3, (int64_t) ref->uki_size);
        hex32(ref->uki_authenticode, h);
        db_bind_text(s, 4, h);
        if (ref->have_kernel_authenticode) {
                hex32(ref->kernel_authenticode, h);
                db_bind_text(s, 5, h);
        }
        hex32(ref->pcr9, h);
        db_bind_text(s, 6, h);
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++) {
                hex32(ref->pcr11[p], h);
                db_bind_text(s, 7 + (int) p, h);
        }
        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                bind_text_or_null(s, OS_COLUMN_FIRST + (int) f, ref->os_release.values[f]);
        db_bind_int64(s, 15, (int) ref->version);
        db_bind_text_n(s, 16, text, (int) size);
        db_bind_int64(s, 17, now_sec());
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}

typedef struct ImageAdd {
        const char *name;
        const ImageReference *ref;
        const char *text;
        size_t size;
        Image added;
        ImageConflict *reterr_conflict;
} ImageAdd;

static int image_add_tx(Db *db, void *userdata) {
        static const struct {
                const char *column, *what;
        } unique[] = {
                { "name", "name" },
                { "uki_sha256", "UKI SHA-256" },
                { "uki_authenticode", "Authenticode digest" },
        };
        ImageAdd *a = userdata;
        char values[ELEMENTSOF(unique)][IMAGE_NAME_MAX + 1];
        int r;

        snprintf(values[0], sizeof(values[0]), "%s", a->name);
        hex32(a->ref->uki_sha256, values[1]);
        hex32(a->ref->uki_authenticode, values[2]);

        /* The table's constraints refuse a duplicate anyway; looking first names the image in the way. */
        for (size_t i = 0; i < ELEMENTSOF(unique); i++) {
                Image other;

                r = image_find(db, unique[i].column, values[i], &other, NULL);
                if (r == 0) {
                        if (a->reterr_conflict) {
                                a->reterr_conflict->what = unique[i].what;
                                snprintf(a->reterr_conflict->image, IMAGE_NAME_MAX + 1, "%s", other.name);
                        }
                        r = -EEXIST;
                }
                if (r != -ENOENT)
                        return r;
        }
        r = image_insert(db, a->name, a->ref, a->text, a->size);
        if (r >= 0)
                r = image_find(db, "name", a->name, &a->added, NULL);
        if (r >= 0)
                r = log_image(db, TLOG_IMAGE_REGISTERED, &a->added, a->text, a->size);
        return r;
}

int image_add(Db *db, const char *name, const ImageReference *ref, const char *text, size_t size, Image *ret,
              ImageConflict *reterr_conflict) {
        ImageAdd a = { .name = name, .ref = ref, .text = text, .size = size, .reterr_conflict = reterr_conflict };
        int r;

        assert(image_name_is_valid(name));
        r = db_transaction(db, image_add_tx, &a);
        if (r < 0)
                return r;
        *ret = a.added;
        return 0;
}

int image_list(Db *db, Image **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ Image *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT " IMAGE_COLUMNS " FROM images ORDER BY id", &s);
        if (r < 0)
                return r;
        while ((rc = db_step(s)) == DB_ROW) {
                if (n == allocated) {
                        Image *p = reallocarray(list, MAX(allocated * 2, 8U), sizeof(Image));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                        allocated = MAX(allocated * 2, 8U);
                }
                r = image_from_row(s, &list[n], NULL);
                if (r < 0)
                        return r;
                n++;
        }
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int image_get(Db *db, const char *name, Image *ret, char **ret_reference) {
        return image_find(db, "name", name, ret, ret_reference);
}

int image_find_by_authenticode(Db *db, const char *hex, Image *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        Image i = {};
        int r, rc;

        /* In every attestation: a cached statement, through the unique index, and only what the verifier
         * compares — not the count of the image's nodes, which reads an index entry per node. */
        r = db_stmt_prepare_cached(db,
                              "SELECT id, name, uki_authenticode, kernel_authenticode, pcr9, pcr11_boot, pcr11_sysinit, "
                              "pcr11_ready, retired_at FROM images WHERE uki_authenticode = ?",
                              &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, hex);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        i.id = db_column_int64(s, 0);
        text_column(s, 1, i.name, sizeof(i.name));
        text_column(s, 2, i.uki_authenticode, sizeof(i.uki_authenticode));
        text_column(s, 3, i.kernel_authenticode, sizeof(i.kernel_authenticode));
        text_column(s, 4, i.pcr9, sizeof(i.pcr9));
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                text_column(s, 5 + (int) p, i.pcr11[p], sizeof(i.pcr11[p]));
        i.retired_at = db_column_int64(s, 8);
        *ret = i;
        return 0;
}

typedef struct ImageRetire {
        const char *name;
        Image image;
        bool retired; /* now, by this transaction */
} ImageRetire;

static int image_retire_tx(Db *db, void *userdata) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        ImageRetire *t = userdata;
        Image *i = &t->image;
        int r, rc;

        t->retired = false;
        r = image_find(db, "name", t->name, i, NULL);
        if (r < 0)
                return r;
        if (i->retired_at > 0)
                return 0;
        r = db_stmt_prepare(db, "UPDATE images SET retired_at = ? WHERE id = ?", &s);
        if (r < 0)
                return r;
        /* Never before it was added, should the clock have gone back (the table checks it). */
        db_bind_int64(s, 1, MAX(now_sec(), i->added_at));
        db_bind_int64(s, 2, i->id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        r = image_find(db, "name", t->name, i, NULL);
        if (r >= 0)
                r = log_image(db, TLOG_IMAGE_RETIRED, i, NULL, 0);
        if (r < 0)
                return r;
        t->retired = true;
        return 0;
}

int image_retire(Db *db, const char *name, Image *ret) {
        ImageRetire t = { .name = name };
        int r;

        r = db_transaction(db, image_retire_tx, &t);
        if (r < 0)
                return r;
        *ret = t.image;
        return t.retired;
}

int node_boot_status(Db *db, int64_t node_id, NodeBootStatus *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL, *log = NULL;
        NodeBootStatus b = {};
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT images.name, nodes.last_verdict, nodes.last_verdict_reason, nodes.last_verdict_at "
                       "FROM nodes LEFT JOIN images ON images.id = nodes.image_id WHERE nodes.id = ?",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        text_column(s, 0, b.image, sizeof(b.image));
        text_column(s, 1, b.verdict, sizeof(b.verdict));
        text_column(s, 2, b.reason, sizeof(b.reason));
        b.at = db_column_int64(s, 3);
        if (b.verdict[0]) {
                *ret = b;
                return 0;
        }

        r = db_stmt_prepare(db,
                       "SELECT verdict, reason, at FROM attestations WHERE node_id = ? "
                       "ORDER BY id DESC LIMIT 1",
                       &log);
        if (r < 0)
                return r;
        db_bind_int64(log, 1, node_id);
        rc = db_step(log);
        if (rc == DB_ROW) {
                text_column(log, 0, b.verdict, sizeof(b.verdict));
                text_column(log, 1, b.reason, sizeof(b.reason));
                b.at = db_column_int64(log, 2);
                b.from_log = true;
        } else if (rc != DB_DONE)
                return db_result(rc);
        *ret = b;
        return 0;
}
