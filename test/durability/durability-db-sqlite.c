/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SQLite backend of the durability checks: the database file opened read-only after the server was
 * killed, as any later process (the restarted server, the admin CLI) opens it: SQLite recovers the WAL left
 * by a killed writer on that open. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "durability-db.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"

struct DurDb {
        sqlite3 *sqlite;
};

int dur_db_open(const char *database, DurDb **ret) {
        _cleanup_(dur_db_closep) DurDb *db = NULL;
        int rc;

        if (strstr(database, "://"))
                return log_error_errno(EPROTONOSUPPORT, "Database %s: only SQLite databases (a file path) are "
                                       "implemented by this program so far.", database);
        db = calloc(1, sizeof(*db));
        if (!db)
                return log_oom();
        /* Read-write: the WAL recovery a killed writer leaves behind needs to take the write lock once. The
         * checks never write. */
        rc = sqlite3_open_v2(database, &db->sqlite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK)
                return log_error_errno(EIO, "Failed to open %s: %s", database,
                                       db->sqlite ? sqlite3_errmsg(db->sqlite) : sqlite3_errstr(rc));
        (void) sqlite3_busy_timeout(db->sqlite, 10000);
        *ret = TAKE_PTR(db);
        return 0;
}

DurDb *dur_db_close(DurDb *db) {
        if (!db)
                return NULL;
        sqlite3_close_v2(db->sqlite);
        free(db);
        return NULL;
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

int dur_db_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
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

static int first_int(void *userdata, size_t n, const char *const *values) {
        long long *v = userdata;

        if (n < 1 || !values[0])
                return -EBADMSG;
        *v = strtoll(values[0], NULL, 10);
        return 0;
}

int dur_db_query_int(DurDb *db, const char *sql, const char *const *params, size_t n_params, long long *ret) {
        long long v = 0;
        int r;

        r = dur_db_query(db, sql, params, n_params, first_int, &v);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENODATA;
        *ret = v;
        return 0;
}

static int first_problem(void *userdata, size_t n, const char *const *values) {
        char **problem = userdata;
        _cleanup_free_ char *line = NULL;
        size_t len = 0;

        if (*problem)
                return 0;
        for (size_t i = 0; i < n; i++)
                len += strlen(values[i] ? values[i] : "NULL") + 1;
        line = calloc(len + 1, 1);
        if (!line)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(line, " ");
                strcat(line, values[i] ? values[i] : "NULL");
        }
        *problem = TAKE_PTR(line);
        return 0;
}

int dur_db_integrity(DurDb *db, char **ret_problem) {
        char *problem = NULL;
        int r;

        r = query(db, "PRAGMA integrity_check", NULL, 0, first_problem, &problem);
        if (r < 0)
                return r;
        if (problem && streq(problem, "ok")) {
                free(problem);
                problem = NULL;
        }
        if (!problem) {
                /* Rows of foreign_key_check: table, rowid, parent, fkid, one per dangling reference. */
                r = query(db, "PRAGMA foreign_key_check", NULL, 0, first_problem, &problem);
                if (r < 0)
                        return r;
        }
        if (problem) {
                *ret_problem = problem;
                return -EBADMSG;
        }
        return 0;
}

int dur_db_exec(DurDb *db, const char *sql) {
        if (sqlite3_exec(db->sqlite, sql, NULL, NULL, NULL) != SQLITE_OK)
                return log_error_errno(EIO, "Failed to run '%s': %s", sql, sqlite3_errmsg(db->sqlite));
        return 0;
}
