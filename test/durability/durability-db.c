/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The durability checks' view of the database: the backend chosen by the Database= value's form, as the
 * server's db_open() chooses it (a postgresql:// or postgres:// URI, else a SQLite file). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "durability-db-backend.h"
#include "log.h"
#include "server-db-pg.h"

static bool is_pg(const DurDb *db) {
        return db->pg;
}

int dur_db_open(const char *database, DurDb **ret) {
        _cleanup_(dur_db_closep) DurDb *db = NULL;
        int r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return log_oom();
        if (db_is_postgresql_uri(database))
                r = dur_db_pg_open(database, db);
        else if (strstr(database, "://"))
                r = log_error_errno(EPROTONOSUPPORT, "Database %s: neither a SQLite file nor a postgresql:// URI.",
                                    database);
        else
                r = dur_db_sqlite_open(database, db);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(db);
        return 0;
}

DurDb *dur_db_close(DurDb *db) {
        if (!db)
                return NULL;
        if (db->pg)
                dur_db_pg_close(db);
        if (db->sqlite)
                dur_db_sqlite_close(db);
        free(db);
        return NULL;
}

int dur_db_integrity(DurDb *db, char **ret_problem) {
        return is_pg(db) ? dur_db_pg_integrity(db, ret_problem) : dur_db_sqlite_integrity(db, ret_problem);
}

int dur_db_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                 void *userdata) {
        return is_pg(db) ? dur_db_pg_query(db, sql, params, n_params, row, userdata) :
                           dur_db_sqlite_query(db, sql, params, n_params, row, userdata);
}

int dur_db_exec(DurDb *db, const char *sql) {
        return is_pg(db) ? dur_db_pg_exec(db, sql) : dur_db_sqlite_exec(db, sql);
}

int dur_db_damage(DurDb *db) {
        return is_pg(db) ? dur_db_pg_damage(db) : -EOPNOTSUPP;
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

char *dur_db_row_join(size_t n, const char *const *values) {
        size_t len = 0;
        char *line;

        for (size_t i = 0; i < n; i++)
                len += strlen(values[i] ? values[i] : "NULL") + 1;
        line = calloc(len + 1, 1);
        if (!line)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        strcat(line, " ");
                strcat(line, values[i] ? values[i] : "NULL");
        }
        return line;
}

int dur_db_first_problem(void *userdata, size_t n, const char *const *values) {
        char **problem = userdata;

        if (*problem)
                return 0;
        *problem = dur_db_row_join(n, values);
        return *problem ? 0 : -ENOMEM;
}
