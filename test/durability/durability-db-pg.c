/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The PostgreSQL backend of the durability checks (libpq). The cluster itself is not killed, only
 * patela-server (and admin commands) are: their connections end with them, and the backends serving them roll
 * back what was not committed. The checks connect as the cluster's superuser (the test's user): amcheck and
 * the tampering past the server's triggers need it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "durability-db-backend.h"
#include "log.h"
#include "server-db-sql.h"
#include "string-util.h"

#define BYTEA_OID 17
#define QUIET_TIMEOUT_USEC (30LL * 1000000LL)

static void notice_ignore(void *arg, const char *message) {
}

/* Rows of one result. A bytea value comes as "\x…" (bytea_output = hex): the hex part, as SQLite's BLOBs. */
static int result_rows(PGresult *res, DurRowFn row, void *userdata) {
        const char *values[64];
        int cols = MIN(PQnfields(res), (int) ELEMENTSOF(values)), rows = PQntuples(res), r;

        for (int i = 0; i < rows; i++) {
                for (int c = 0; c < cols; c++) {
                        const char *v = PQgetisnull(res, i, c) ? NULL : PQgetvalue(res, i, c);

                        if (v && PQftype(res, c) == BYTEA_OID && startswith(v, "\\x"))
                                v += 2;
                        values[c] = v;
                }
                if (row) {
                        r = row(userdata, (size_t) cols, values);
                        if (r < 0)
                                return r;
                }
        }
        return rows;
}

static int exec(DurDb *db, const char *sql) {
        PGresult *res = PQexec(db->pg, sql);
        int r = 0;

        if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
                r = log_error_errno(EIO, "Failed to run '%s': %s", sql, PQresultErrorMessage(res));
        PQclear(res);
        return r;
}

/* PostgreSQL's own SQL, with text parameters. */
static int rows(DurDb *db, const char *pg_sql, const char *const *params, size_t n_params, DurRowFn row,
                void *userdata) {
        PGresult *res;
        int r;

        res = PQexecParams(db->pg, pg_sql, (int) n_params, NULL, params, NULL, NULL, /* resultFormat= */ 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
                r = result_rows(res, row, userdata);
        else
                r = log_error_errno(EIO, "Failed to run '%s': %s", pg_sql, PQresultErrorMessage(res));
        PQclear(res);
        return r;
}

/* SQL given in the dialect both backends speak, which is SQLite's as the server writes it: translated as the
 * server translates its own queries ('?' → '$n', ifnull(), group_concat(), CAST(… AS BLOB)…). */
static int run(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
               void *userdata) {
        _cleanup_free_ char *pg_sql = NULL;
        unsigned n = 0;
        int r;

        r = db_sql_query_to_pg(sql, &pg_sql, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to translate '%s' to PostgreSQL's SQL: %m", sql);
        if (n != n_params)
                return log_error_errno(EINVAL, "'%s' takes %u parameters, %zu given.", sql, n, n_params);
        return rows(db, pg_sql, params, n_params, row, userdata);
}

/* Every connection to the database but ours has ended: the killed server's and the killed commands' backends
 * notice their client gone and roll back. Until then a COMMIT the server sent before it died may still land,
 * after the checks read the database: they would see a change cut off as not made, and the next round as
 * made. */
static int wait_quiet(DurDb *db) {
        struct timespec start, now;
        long long others = 0;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                PGresult *res = PQexec(db->pg,
                                       "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND pid != pg_backend_pid() AND backend_type = 'client backend'");
                if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
                        int r = log_error_errno(EIO, "Failed to read pg_stat_activity: %s", PQresultErrorMessage(res));
                        PQclear(res);
                        return r;
                }
                others = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
                PQclear(res);
                if (others == 0)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000000LL + (now.tv_nsec - start.tv_nsec) / 1000 > QUIET_TIMEOUT_USEC)
                        return log_error_errno(EBUSY, "%lld other connections to the database still open after 30 s.",
                                               others);
                (void) usleep(5000);
        }
}

int dur_db_pg_open(const char *uri, DurDb *db) {
        int r;

        db->pg = PQconnectdb(uri);
        if (!db->pg)
                return log_oom();
        if (PQstatus(db->pg) != CONNECTION_OK)
                return log_error_errno(ECONNREFUSED, "Failed to connect to the PostgreSQL database: %s",
                                       PQerrorMessage(db->pg));
        /* CREATE EXTENSION IF NOT EXISTS says so as a notice. */
        (void) PQsetNoticeProcessor(db->pg, notice_ignore, NULL);
        r = exec(db, "SET client_encoding = 'UTF8'; SET bytea_output = 'hex'; SET standard_conforming_strings = on; "
                     "SET client_min_messages = warning");
        if (r < 0)
                return r;
        return wait_quiet(db);
}

void dur_db_pg_close(DurDb *db) {
        PQfinish(db->pg);
        db->pg = NULL;
}

int dur_db_pg_query(DurDb *db, const char *sql, const char *const *params, size_t n_params, DurRowFn row,
                    void *userdata) {
        int r;

        /* One snapshot, and a promise that the checks do not write. */
        r = exec(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        if (r < 0)
                return r;
        r = run(db, sql, params, n_params, row, userdata);
        (void) exec(db, r < 0 ? "ROLLBACK" : "COMMIT");
        return r;
}

/* Each statement of a list (its rows, if any, are problems), stopping at the first problem. An amcheck
 * function reports corruption as an error (SQLSTATE XX001 data corrupted, XX002 index corrupted): that is a
 * problem too, any other error is a failure to check. */
static int check_each(DurDb *db, const char *what, char **sqls, size_t n, char **ret_problem) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *problem = NULL;
                PGresult *res = PQexec(db->pg, sqls[i]);
                const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
                int r = 0;

                if (PQresultStatus(res) == PGRES_TUPLES_OK)
                        r = result_rows(res, dur_db_first_problem, &problem);
                else if (state && (streq(state, "XX001") || streq(state, "XX002"))) {
                        if (asprintf(&problem, "%s: %s", what, PQresultErrorMessage(res)) < 0)
                                r = log_oom();
                } else
                        r = log_error_errno(EIO, "Failed to run '%s': %s", sqls[i], PQresultErrorMessage(res));
                PQclear(res);
                if (r < 0)
                        return r;
                if (problem) {
                        problem[strcspn(problem, "\n")] = '\0';
                        *ret_problem = TAKE_PTR(problem);
                        return -EBADMSG;
                }
        }
        return 0;
}

static int collect_sql(void *userdata, size_t n, const char *const *v) {
        char ***sqls = userdata;
        size_t k = 0;

        if (n < 1 || !v[0])
                return -EBADMSG;
        while (*sqls && (*sqls)[k])
                k++;
        char **p = reallocarray(*sqls, k + 2, sizeof(char *));
        if (!p)
                return -ENOMEM;
        *sqls = p;
        p[k] = strdup(v[0]);
        p[k + 1] = NULL;
        return p[k] ? 0 : -ENOMEM;
}

static void sqls_free(char ***sqls) {
        for (size_t i = 0; *sqls && (*sqls)[i]; i++)
                free((*sqls)[i]);
        free(*sqls);
}

/* What a DBA runs on a database after a crash (pg_amcheck does the same):
 * - amcheck's bt_index_parent_check() on every B-tree index of the database, the system catalogues' too: the
 *   tree's structure, parent to child, each tuple found again from the root, every heap tuple present in the
 *   index (heapallindexed) and unique indexes holding no duplicate visible tuple (checkunique);
 * - verify_heapam() on every table, materialised view and their TOAST: page and tuple headers, transaction ids,
 *   TOAST pointers;
 * - and, as on SQLite, every foreign key checked by a query (PostgreSQL enforces them, a query costs little). */
static const struct {
        const char *what;
        const char *generate; /* one row per statement to run; a row of a statement is a problem */
} checks[] = {
        { "bt_index_parent_check",
          "SELECT format('SELECT %L FROM (SELECT patela_durability.bt_index_parent_check(%s::regclass, "
          "heapallindexed => true, rootdescend => true, checkunique => true)) c OFFSET 1', "
          "c.oid::regclass::text, c.oid) "
          "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
          "WHERE am.amname = 'btree' AND c.relpersistence != 't' AND i.indisready AND i.indisvalid ORDER BY c.oid" },
        { "verify_heapam",
          "SELECT format('SELECT %L, blkno, offnum, attnum, msg FROM patela_durability.verify_heapam(%s::regclass, "
          "check_toast => true)', c.oid::regclass::text, c.oid) "
          "FROM pg_class c WHERE c.relkind IN ('r', 'm') AND c.relpersistence != 't' ORDER BY c.oid" },
        { "foreign key",
          "SELECT format('SELECT %L, ctid FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s) LIMIT 1', "
          "con.conname, con.conrelid::regclass, "
          "(SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ') FROM unnest(con.conkey) k "
          "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k), "
          "con.confrelid::regclass, "
          "(SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ') "
          "FROM unnest(con.conkey, con.confkey) AS k(c, p) "
          "JOIN pg_attribute ca ON ca.attrelid = con.conrelid AND ca.attnum = k.c "
          "JOIN pg_attribute pa ON pa.attrelid = con.confrelid AND pa.attnum = k.p)) "
          "FROM pg_constraint con WHERE con.contype = 'f' ORDER BY con.oid" },
};

int dur_db_pg_integrity(DurDb *db, char **ret_problem) {
        int r;

        /* amcheck in a schema of its own: nothing of the server's namespace changes. */
        r = exec(db, "CREATE SCHEMA IF NOT EXISTS patela_durability; "
                     "CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA patela_durability");
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                _cleanup_(sqls_free) char **sqls = NULL;
                size_t n = 0;

                r = rows(db, checks[i].generate, NULL, 0, collect_sql, &sqls);
                if (r < 0)
                        return r;
                while (sqls && sqls[n])
                        n++;
                r = check_each(db, checks[i].what, sqls, n, ret_problem);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Behind the server's back and past its triggers: session_replication_role = replica switches off the
 * triggers that are not ENABLE ALWAYS (all of the server's, and the foreign keys' too), for this transaction
 * only. A superuser's power, as the test's own user has on its cluster. */
int dur_db_pg_exec(DurDb *db, const char *sql) {
        int r;

        r = exec(db, "BEGIN; SET LOCAL session_replication_role = replica");
        if (r >= 0)
                r = run(db, sql, NULL, 0, NULL, NULL);
        if (r >= 0)
                r = exec(db, "COMMIT");
        if (r < 0)
                (void) exec(db, "ROLLBACK");
        return r < 0 ? r : 0;
}

/* An index that lost entries, as a lost page write leaves one: the primary key of server_keys is marked not
 * ready for inserts (a superuser's catalogue change, which the executor obeys) while a row goes into the table,
 * then marked ready again. The row is not one the server reads (it reads the key named 'challenge'); amcheck's
 * heapallindexed finds the heap tuple missing from the index. */
int dur_db_pg_damage(DurDb *db) {
        static const char *const sqls[] = {
                "BEGIN",
                "UPDATE pg_index SET indisready = false WHERE indexrelid = 'server_keys_pkey'::regclass",
                "INSERT INTO server_keys (name, key) VALUES ('durability-tamper', decode(repeat('00', 32), 'hex'))",
                "UPDATE pg_index SET indisready = true WHERE indexrelid = 'server_keys_pkey'::regclass",
                "COMMIT",
        };
        int r = 0;

        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sqls); i++)
                r = exec(db, sqls[i]);
        if (r < 0)
                (void) exec(db, "ROLLBACK");
        return r;
}
