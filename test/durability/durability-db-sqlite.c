/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite backend of the durability checks: the database file opened after the server was killed, as any
 * later process (the restarted server, the admin CLI) opens it: SQLite recovers the WAL left by a killed
 * writer on that open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "durability-db-backend.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"

int dur_db_sqlite_open(const char *path, DurDb *db) {
        int rc;

        /* Read-write: the WAL recovery a killed writer leaves behind needs to take the write lock once. The
         * checks never write. */
        rc = sqlite3_open_v2(path, &db->sqlite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(EIO, "Failed to open %s: %s", path,
                                       db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
        (void) sqlite3_busy_timeout(db->sqlite, 10000);
        return 0;
}

void dur_db_sqlite_close(DurDb *db) {
        sqlite3_close_v2(db->sqlite);
        db->sqlite = NULL;
}

static int query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                 void *userdata) {
        sqlite3_stmt *s = NULL;
        const char *values[64];
        char *hex[64] = {};
        int rc, r = 0, n = 0;

        rc = sqlite3_prepare_v2(db->sqlite, sql, -1, &s, NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(EIO, "Failed to prepare '%s': %s", sql, sqlite3_errmsg(db->sqlite));
        for (size_t i = 0; i < n_params; i++)
                sqlite3_bind_text(s, (int) i + 1, params[i], -1, SQLITE_STATIC);

        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                int cols = MIN(sqlite3_column_count(s), (int) ELEMENTSOF(values));

                for (int c = 0; c < cols; c++) {
                        if (sqlite3_column_type(s, c) == SQLITE_BLOB) {
                                hex[c] = hexmem(sqlite3_column_blob(s, c), (size_t) sqlite3_column_bytes(s, c));
                                if (!hex[c]) {
                                        r = log_oom();
                                        break;
                                }
                                values[c] = hex[c];
                        } else
                                values[c] = (const char *) sqlite3_column_text(s, c);
                }
                if (r >= 0 && row)
                        r = row(userdata, (size_t) cols, values);
                for (int c = 0; c < cols; c++) {
                        free(hex[c]);
                        hex[c] = NULL;
                }
                if (r < 0)
                        break;
                n++;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = log_error_errno(EIO, "Failed to run '%s': %s", sql, sqlite3_errmsg(db->sqlite));
        sqlite3_finalize(s);
        return r < 0 ? r : n;
}

int dur_db_sqlite_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                        void *userdata) {
        int r;

        /* One snapshot for the statement (a statement alone is one, but the caller may pass several). */
        r = sqlite3_exec(db->sqlite, "BEGIN DEFERRED", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
        if (r < 0)
                return log_error_errno(r, "Failed to begin a read transaction: %s", sqlite3_errmsg(db->sqlite));
        r = query(db, sql, params, n_params, row, userdata);
        (void) sqlite3_exec(db->sqlite, "COMMIT", NULL, NULL, NULL);
        return r;
}

int dur_db_sqlite_integrity(DurDb *db, char **ret_problem) {
        char *problem = NULL;
        int r;

        r = query(db, "PRAGMA integrity_check", NULL, 0, dur_db_first_problem, &problem);
        if (r < 0)
                return r;
        if (problem && streq(problem, "ok")) {
                free(problem);
                problem = NULL;
        }
        if (!problem) {
                /* Rows of foreign_key_check: table, rowid, parent, fkid, one per dangling reference. */
                r = query(db, "PRAGMA foreign_key_check", NULL, 0, dur_db_first_problem, &problem);
                if (r < 0)
                        return r;
        }
        if (problem) {
                *ret_problem = problem;
                return -EBADMSG;
        }
        return 0;
}

typedef struct Triggers {
        char **names, **sqls;
        size_t n;
} Triggers;

static void triggers_done(Triggers *t) {
        for (size_t i = 0; i < t->n; i++) {
                free(t->names[i]);
                free(t->sqls[i]);
        }
        free(t->names);
        free(t->sqls);
}

static int trigger_row(void *userdata, size_t n, const char *const *v) {
        Triggers *t = userdata;
        char **names, **sqls;

        if (n < 2 || !v[0] || !v[1])
                return -EBADMSG;
        names = reallocarray(t->names, t->n + 1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        t->names = names;
        sqls = reallocarray(t->sqls, t->n + 1, sizeof(char *));
        if (!sqls)
                return -ENOMEM;
        t->sqls = sqls;
        t->names[t->n] = strdup(v[0]);
        t->sqls[t->n] = strdup(v[1]);
        t->n++;
        if (!t->names[t->n - 1] || !t->sqls[t->n - 1])
                return -ENOMEM;
        return 0;
}

static int exec(DurDb *db, const char *sql) {
        if (sqlite3_exec(db->sqlite, sql, NULL, NULL, NULL) != SQLITE_OK)
                return log_error_errno(EIO, "Failed to run '%s': %s", sql, sqlite3_errmsg(db->sqlite));
        return 0;
}

/* SQLite cannot switch triggers off: they are dropped, the SQL runs, and they are created again from their
 * stored text, in one transaction, so that the server finds its schema as it left it (PostgreSQL's
 * session_replication_role does the same without the DDL). */
int dur_db_sqlite_exec(DurDb *db, const char *sql) {
        _cleanup_(triggers_done) Triggers t = {};
        int r;

        r = exec(db, "BEGIN IMMEDIATE");
        if (r < 0)
                return r;
        r = query(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'", NULL, 0, trigger_row, &t);
        for (size_t i = 0; r >= 0 && i < t.n; i++) {
                _cleanup_free_ char *drop = NULL;

                if (asprintf(&drop, "DROP TRIGGER \"%s\"", t.names[i]) < 0)
                        r = log_oom();
                else
                        r = exec(db, drop);
        }
        if (r >= 0)
                r = exec(db, sql);
        for (size_t i = 0; r >= 0 && i < t.n; i++)
                r = exec(db, t.sqls[i]);
        if (r >= 0)
                r = exec(db, "COMMIT");
        if (r < 0)
                (void) sqlite3_exec(db->sqlite, "ROLLBACK", NULL, NULL, NULL);
        return r;
}
