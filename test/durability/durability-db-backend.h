/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Between durability-db.c, which chooses the backend by the Database= value's form, and the backends
 * (durability-db-sqlite.c, durability-db-pg.c). Each backend's functions take the DurDb that its open made. */
#include <libpq-fe.h>
#include <sqlite3.h>

#include "durability-db.h"

struct DurDb {
        sqlite3 *sqlite; /* one of these two */
        PGconn *pg;
};

int dur_db_sqlite_open(const char *path, DurDb *db);
void dur_db_sqlite_close(DurDb *db);
int dur_db_sqlite_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                        void *userdata);
int dur_db_sqlite_integrity(DurDb *db, char **ret_problem);
int dur_db_sqlite_exec(DurDb *db, const char *sql);

int dur_db_pg_open(const char *uri, DurDb *db);
void dur_db_pg_close(DurDb *db);
int dur_db_pg_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                    void *userdata);
int dur_db_pg_integrity(DurDb *db, char **ret_problem);
int dur_db_pg_exec(DurDb *db, const char *sql);
int dur_db_pg_damage(DurDb *db);

/* A row callback keeping the first row seen, its values joined by spaces (NULL as "NULL"), in *(char **)
 * userdata: the form of a check whose rows are problems. */
int dur_db_first_problem(void *userdata, size_t n, const char *const *values);
