/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PostgreSQL through libpq, in SQLite's shape (server-db-stmt.h). A statement is translated (`?` → `$n`) once, when
 * the connection first caches it, and prepared server-side (PQprepare) at its first execution, when the types of
 * its parameters are known from what was bound: integers as int8, blobs as bytea (sent binary), text and NULL left
 * for the server to infer. Parameters travel as text but for blobs; results come as text (bytea in hex, decoded on
 * demand) and are walked one row per step out of the PGresult. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "server-db-pg.h"
#include "server-db-sql.h"
#include "server-db-stmt.h"
#include "string-util.h"

/* Type OIDs of pg_type.h (stable, part of the wire protocol). */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* Autocommit statements that fail to serialise are run again here, as often: nothing else would. */
#define DB_PG_AUTOCOMMIT_ATTEMPTS 10U

/* After a failed reconnection, the next attempt waits this long: while there is no primary (a failover under way)
 * every statement would otherwise try every host of the URI, a connection attempt per request on every request
 * thread's connection, and a host that does not answer would cost each of them its connect_timeout. */
#define DB_PG_RECONNECT_INTERVAL_NSEC (100 * INT64_C(1000000))

/* Session settings (SET …) made through db_pg_exec() outside a transaction, made again on a new connection. */
#define DB_PG_SESSION_SETTINGS_MAX 8U

/* The migrations' key for pg_advisory_xact_lock(): "patela" in ASCII. */
#define DB_PG_MIGRATION_LOCK INT64_C(0x706174656c61)
/* The writers' key for pg_advisory_lock(): "patelaw". Every write transaction of every patela process on the
 * database holds it, from before its snapshot to after its commit: one writer at a time, as on SQLite. Each
 * authentication appends to the transparency log, whose next index and subtree hashes every append reads; with
 * SERIALIZABLE alone, concurrent appends conflict and all but one are refused at commit (measured: 11,242 refusals
 * against 555 authentications in 5 s with 4 client connections), to be done again. A lock taken inside the
 * transaction would come too late: a serializable transaction's snapshot is taken by its first statement, the
 * lock's own SELECT included. Taken before BEGIN, the writer's snapshot holds every earlier writer's commit. */
#define DB_PG_WRITER_LOCK "31632349937295735" /* 0x706174656c6177 */

typedef struct DbPgParam {
        const char *value; /* NULL: SQL NULL */
        int length;
        int format; /* 0 text, 1 binary */
        Oid type;
        bool integer; /* bound by db_pg_bind_int64() */
        char *owned;
        char number[24];
} DbPgParam;

typedef struct DbPgColumn {
        uint8_t *data; /* a bytea column of the current row, decoded */
        size_t size, allocated;
        int row; /* the row data belongs to, -1: none */
} DbPgColumn;

struct DbPgStmt {
        DbPg *pg;
        char name[16];
        char *sql; /* with $n */
        unsigned n_params;
        DbPgParam *params;
        const char **values; /* PQexecPrepared()'s arrays, of n_params */
        int *lengths, *formats;
        bool prepared;
        unsigned generation; /* the connection it was prepared on (DbPg.generation) */
        PGresult *result;
        int row, n_rows, n_fields;
        DbPgColumn *columns;
        unsigned n_columns;
};

struct DbPg {
        PGconn *conn;
        char *error;
        /* The connection broke inside a transaction: every statement fails until the caller's rollback, so that none
         * runs on a new connection outside the transaction it belonged to. */
        bool lost_in_transaction;
        bool in_transaction; /* as the last command began */
        /* Counts connections: a statement prepared on an earlier one is prepared again. */
        unsigned generation;
        bool reset_needed; /* a reconnection failed, maybe half-way: the next statement tries again */
        int64_t reconnect_after_nsec; /* CLOCK_MONOTONIC; 0: at once */
        char *session_settings[DB_PG_SESSION_SETTINGS_MAX];
        unsigned n_session_settings;
        bool writer_locked;  /* holds DB_PG_WRITER_LOCK (a session lock: a lost connection released it) */
        int64_t changes;
        unsigned n_named;
        struct {
                char *sql;
                const char *key;
                DbPgStmt *stmt;
                DbStmt handle;
        } cache[DB_STATEMENT_CACHE_MAX];
        unsigned n_cache;
};

bool db_is_postgresql_uri(const char *s) {
        return startswith(s, "postgresql://") || startswith(s, "postgres://");
}

int db_pg_errno(const char *sqlstate) {
        if (!sqlstate || strlen(sqlstate) != 5)
                return -EIO;
        if (startswith(sqlstate, "23"))
                return -EEXIST;
        if (streq(sqlstate, "40001") || streq(sqlstate, "40P01"))
                return -EAGAIN;
        if (streq(sqlstate, "25006"))
                return -EROFS;
        if (streq(sqlstate, "53100"))
                return -ENOSPC;
        if (streq(sqlstate, "53200"))
                return -ENOMEM;
        if (streq(sqlstate, "53300"))
                return -EUSERS;
        if (streq(sqlstate, "55P03"))
                return -EBUSY;
        if (streq(sqlstate, "57014"))
                return -ETIMEDOUT;
        if (startswith(sqlstate, "08") || startswith(sqlstate, "57P0"))
                return -ECONNRESET;
        if (streq(sqlstate, "42501"))
                return -EACCES;
        return -EIO;
}

static void pg_set_error(DbPg *pg, const char *message) {
        char *copy = strdup(message ?: "unknown error");
        size_t n;

        if (!copy)
                return;
        n = strlen(copy);
        while (n > 0 && copy[n - 1] == '\n')
                copy[--n] = '\0';
        free(pg->error);
        pg->error = copy;
}

/* A result's errno (0 for success), with its message kept for db_pg_error(). */
static int pg_result_errno(DbPg *pg, const PGresult *res) {
        switch (PQresultStatus(res)) {
        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:
                return 0;
        case PGRES_FATAL_ERROR:
                pg_set_error(pg, PQresultErrorMessage(res));
                /* A connection that went away reports what libpq saw (no SQLSTATE) or the server's last words. */
                if (PQstatus(pg->conn) == CONNECTION_BAD) {
                        if (pg->in_transaction)
                                pg->lost_in_transaction = true;
                        return -ECONNRESET;
                }
                return db_pg_errno(PQresultErrorField(res, PG_DIAG_SQLSTATE));
        default:
                pg_set_error(pg, res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
                return PQstatus(pg->conn) == CONNECTION_OK ? -EIO : -ECONNRESET;
        }
}

/* lock_timeout: a statement waits for another session's lock (the writers' lock, an admin's open transaction, a
 * table locked by hand) at most as long as SQLite's busy wait, DB_BUSY_TIMEOUT_USEC, then fails with 55P03 (-EBUSY), rather than
 * hold a request for ever. The migrations wait without a limit (pg_migrate()). */
_Static_assert(DB_BUSY_TIMEOUT_USEC == 5U * 1000U * 1000U, "lock_timeout below is DB_BUSY_TIMEOUT_USEC");
static const char pg_session_settings[] =
        "SET client_encoding = 'UTF8'; SET bytea_output = 'hex'; SET standard_conforming_strings = on;"
        "SET default_transaction_isolation = 'serializable'; SET client_min_messages = warning;"
        "SET lock_timeout = '5s';";

static int64_t now_nsec(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * INT64_C(1000000000) + ts.tv_nsec;
}

static int pg_exec_settings(DbPg *pg, const char *sql) {
        PGresult *res = PQexec(pg->conn, sql);
        int r = pg_result_errno(pg, res);

        PQclear(res);
        return r;
}

/* Before a statement: a connection that broke (the server restarted, a failover) is made again — PQreset() tries
 * the URI's hosts in order, as PQconnectdb() did, so a multi-host URI with target_session_attrs=read-write finds
 * the promoted primary —, with the session settings of db_pg_open() and of db_pg_exec() again, and every statement
 * prepared again on it at its next use. Not inside a transaction that the break ended: that one the caller must
 * roll back first. A reconnection that failed is tried again DB_PG_RECONNECT_INTERVAL_NSEC later at the earliest;
 * until then statements fail at once. */
static int pg_connection_check(DbPg *pg) {
        int64_t now;
        int r;

        if (pg->lost_in_transaction)
                return -ECONNRESET;
        if (_likely_(!pg->reset_needed && PQstatus(pg->conn) == CONNECTION_OK)) {
                PGTransactionStatusType t = PQtransactionStatus(pg->conn);
                pg->in_transaction = t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
                return 0;
        }
        pg->in_transaction = false;
        pg->writer_locked = false; /* the server released it with the connection */
        now = now_nsec();
        if (now < pg->reconnect_after_nsec)
                return -ECONNRESET;
        PQreset(pg->conn);
        pg->generation++;
        r = PQstatus(pg->conn) == CONNECTION_OK ? pg_exec_settings(pg, pg_session_settings) : -ECONNRESET;
        for (unsigned i = 0; r >= 0 && i < pg->n_session_settings; i++)
                r = pg_exec_settings(pg, pg->session_settings[i]);
        if (r < 0) {
                if (PQstatus(pg->conn) != CONNECTION_OK)
                        pg_set_error(pg, PQerrorMessage(pg->conn));
                /* The next attempt calls PQreset() again, also on a connection that is up but without its settings. */
                pg->reset_needed = true;
                pg->reconnect_after_nsec = now_nsec() + DB_PG_RECONNECT_INTERVAL_NSEC;
                return log_debug_errno(ECONNRESET, "Failed to reconnect to PostgreSQL: %s", pg->error);
        }
        pg->reset_needed = false;
        pg->reconnect_after_nsec = 0;
        log_info("Reconnected to the PostgreSQL database on %s.", PQhost(pg->conn) ?: "localhost");
        return 0;
}

const char *db_pg_error(Db *db) {
        return db->pg->error ?: "no error";
}

/* A session setting (SET, not SET LOCAL) outside a transaction: kept, to be made again on a new connection (the
 * metrics' read-only connection stays read-only across a failover). */
static int pg_remember_setting(DbPg *pg, const char *sql) {
        char *copy;

        for (unsigned i = 0; i < pg->n_session_settings; i++)
                if (streq(pg->session_settings[i], sql))
                        return 0;
        if (pg->n_session_settings >= DB_PG_SESSION_SETTINGS_MAX)
                return log_debug_errno(E2BIG, "Too many session settings to keep: '%s'.", sql);
        copy = strdup(sql);
        if (!copy)
                return -ENOMEM;
        pg->session_settings[pg->n_session_settings++] = copy;
        return 0;
}

int db_pg_exec(Db *db, const char *sql) {
        bool setting;
        PGresult *res;
        int r;

        r = pg_connection_check(db->pg);
        if (r < 0)
                return r;
        setting = startswith(sql, "SET ") && !startswith(sql, "SET LOCAL ") &&
                  PQtransactionStatus(db->pg->conn) == PQTRANS_IDLE;
        res = PQexec(db->pg->conn, sql);
        r = pg_result_errno(db->pg, res);
        PQclear(res);
        if (r >= 0 && setting)
                r = pg_remember_setting(db->pg, sql);
        return r;
}

static int pg_exec_int(Db *db, const char *sql, int64_t *ret) {
        PGresult *res = PQexec(db->pg->conn, sql);
        int r = pg_result_errno(db->pg, res);

        if (r >= 0 && (PQntuples(res) != 1 || PQnfields(res) != 1))
                r = -EIO;
        if (r >= 0)
                *ret = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        return r;
}

static void stmt_clear_result(DbPgStmt *s) {
        PQclear(s->result);
        s->result = NULL;
        s->row = -1;
        s->n_rows = s->n_fields = 0;
        for (unsigned i = 0; i < s->n_columns; i++)
                s->columns[i].row = -1;
}

static void param_clear(DbPgParam *p) {
        free(p->owned);
        p->owned = NULL;
        p->value = NULL;
        p->length = 0;
        p->format = 0;
        p->integer = false;
}

void db_pg_stmt_reset(DbPgStmt *s) {
        stmt_clear_result(s);
        for (unsigned i = 0; i < s->n_params; i++)
                param_clear(&s->params[i]);
}

static DbPgStmt *stmt_free(DbPgStmt *s) {
        if (!s)
                return NULL;
        db_pg_stmt_reset(s);
        for (unsigned i = 0; i < s->n_columns; i++)
                free(s->columns[i].data);
        free(s->columns);
        free(s->params);
        free(s->values);
        free(s->lengths);
        free(s->formats);
        free(s->sql);
        free(s);
        return NULL;
}

static int stmt_new(DbPg *pg, const char *sql, DbPgStmt **ret) {
        DbPgStmt *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->pg = pg;
        s->row = -1;
        r = db_sql_query_to_pg(sql, &s->sql, &s->n_params);
        if (r < 0) {
                stmt_free(s);
                return log_debug_errno(r, "Failed to translate '%s' for PostgreSQL: %m", sql);
        }
        if (s->n_params > 0) {
                s->params = calloc(s->n_params, sizeof(DbPgParam));
                s->values = calloc(s->n_params, sizeof(const char *));
                s->lengths = calloc(s->n_params, sizeof(int));
                s->formats = calloc(s->n_params, sizeof(int));
                if (!s->params || !s->values || !s->lengths || !s->formats) {
                        stmt_free(s);
                        return -ENOMEM;
                }
        }
        snprintf(s->name, sizeof(s->name), "p%u", pg->n_named++);
        *ret = s;
        return 0;
}

int db_pg_prepare(Db *db, const char *sql, DbPgStmt **ret) {
        return stmt_new(db->pg, sql, ret);
}

void db_pg_stmt_free(DbPgStmt *s) {
        char sql[32];

        if (!s)
                return;
        /* Its name on the server is not reused, but a long-running connection should not collect them. */
        if (s->prepared && s->generation == s->pg->generation && PQstatus(s->pg->conn) == CONNECTION_OK) {
                PGresult *res;

                snprintf(sql, sizeof(sql), "DEALLOCATE %s", s->name);
                res = PQexec(s->pg->conn, sql);
                PQclear(res);
        }
        stmt_free(s);
}

static int cache_hit(DbPg *pg, unsigned i, DbStmt **ret) {
        DbPgStmt *s = pg->cache[i].stmt;

        if (s->result && s->row < s->n_rows)
                return log_debug_errno(EBUSY, "Cached statement '%s' is in use.", pg->cache[i].sql);
        *ret = &pg->cache[i].handle;
        return 0;
}

int db_pg_prepare_cached(Db *db, const char *sql, DbStmt **ret) {
        DbPg *pg = db->pg;
        DbPgStmt *s = NULL;
        char *copy;
        int r;

        /* As db_prepare_cached(): by address first, then by text. */
        for (unsigned i = 0; i < pg->n_cache; i++)
                if (pg->cache[i].key == sql && streq(pg->cache[i].sql, sql))
                        return cache_hit(pg, i, ret);
        for (unsigned i = 0; i < pg->n_cache; i++)
                if (streq(pg->cache[i].sql, sql)) {
                        pg->cache[i].key = sql;
                        return cache_hit(pg, i, ret);
                }
        if (pg->n_cache >= DB_STATEMENT_CACHE_MAX)
                return log_error_errno(ENOSPC, "Statement cache full (%u), not caching '%s'.", DB_STATEMENT_CACHE_MAX, sql);

        r = stmt_new(pg, sql, &s);
        if (r < 0)
                return r;
        copy = strdup(sql);
        if (!copy) {
                stmt_free(s);
                return -ENOMEM;
        }
        pg->cache[pg->n_cache].sql = copy;
        pg->cache[pg->n_cache].key = sql;
        pg->cache[pg->n_cache].stmt = s;
        pg->cache[pg->n_cache].handle = (DbStmt) { .pg = s };
        *ret = &pg->cache[pg->n_cache++].handle;
        return 0;
}

static DbPgParam *stmt_param(DbPgStmt *s, int i) {
        if (i < 1 || (unsigned) i > s->n_params)
                return NULL;
        /* A binding after a step starts the next execution, as on SQLite after a reset. */
        if (s->result)
                stmt_clear_result(s);
        param_clear(&s->params[i - 1]);
        return &s->params[i - 1];
}

int db_pg_bind_int64(DbPgStmt *s, int i, int64_t v) {
        DbPgParam *p = stmt_param(s, i);

        if (!p)
                return -ERANGE;
        snprintf(p->number, sizeof(p->number), "%" PRIi64, v);
        p->value = p->number;
        p->length = (int) strlen(p->number);
        p->integer = true;
        return 0;
}

int db_pg_bind_parameter_count(DbPgStmt *s) {
        return (int) s->n_params;
}

int db_pg_bind_null(DbPgStmt *s, int i) {
        return stmt_param(s, i) ? 0 : -ERANGE;
}

static int bind_bytes(DbPgStmt *s, int i, const void *data, size_t n, bool copy, int format, Oid type) {
        DbPgParam *p = stmt_param(s, i);

        if (!p)
                return -ERANGE;
        if (n > INT32_MAX)
                return -E2BIG;
        if (copy || n == 0) {
                p->owned = memdup(n > 0 ? data : "", n);
                if (!p->owned)
                        return -ENOMEM;
                p->value = p->owned;
        } else
                p->value = data;
        p->length = (int) n;
        p->format = format;
        if (!s->prepared)
                p->type = type;
        return 0;
}

int db_pg_bind_text(DbPgStmt *s, int i, const char *text, size_t n, bool copy) {
        DbPgParam *p = stmt_param(s, i);

        if (!p)
                return -ERANGE;
        if (n > INT32_MAX)
                return -E2BIG;
        /* Text format: the server reads up to the NUL, so a text not known to end there is copied. */
        if (copy || text[n] != '\0') {
                p->owned = malloc(n + 1);
                if (!p->owned)
                        return -ENOMEM;
                memcpy(p->owned, text, n);
                p->owned[n] = '\0';
                p->value = p->owned;
        } else
                p->value = text;
        p->length = (int) n;
        return 0;
}

int db_pg_bind_blob(DbPgStmt *s, int i, const void *p, size_t n, bool copy) {
        return bind_bytes(s, i, p, n, copy, 1, OID_BYTEA);
}

/* The parameter an "indeterminate" or "ambiguous" parameter error names ("… of parameter $5"), 0-based; -1. */
static int untyped_parameter(const PGresult *res) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE) ?: "", *m, *d;

        if (PQresultStatus(res) != PGRES_FATAL_ERROR || !(streq(state, "42P18") || streq(state, "42P08")))
                return -1;
        m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        d = m ? strrchr(m, '$') : NULL;
        if (!d || d[1] < '1' || d[1] > '9')
                return -1;
        return (int) strtol(d + 1, NULL, 10) - 1;
}

/* One PQprepare; inside a transaction under a savepoint, since a failed one would abort the transaction. */
static PGresult *prepare_once(DbPgStmt *s, const Oid *types) {
        bool in_transaction = PQtransactionStatus(s->pg->conn) == PQTRANS_INTRANS;
        PGresult *res;

        if (in_transaction)
                PQclear(PQexec(s->pg->conn, "SAVEPOINT patela_prepare"));
        res = PQprepare(s->pg->conn, s->name, s->sql, (int) s->n_params, types);
        if (in_transaction)
                PQclear(PQexec(s->pg->conn, PQresultStatus(res) == PGRES_COMMAND_OK ?
                                                    "RELEASE SAVEPOINT patela_prepare" :
                                                    "ROLLBACK TO SAVEPOINT patela_prepare"));
        return res;
}

/* At the first execution on this connection, with the types the bindings tell: integers and text left for the
 * server to infer from the context (a declared bigint would not match a function taking an int), blobs bytea. A
 * parameter that nothing types (`?1 IS NULL OR key = ?1` bound NULL, `SELECT ?`) has no type in SQLite: it gets
 * its binding's (bigint for an integer, text otherwise), one at a time as PostgreSQL names them. */
static int stmt_prepare(DbPgStmt *s) {
        _cleanup_free_ Oid *types = NULL;
        PGresult *res;
        int r;

        if (s->n_params > 0) {
                types = calloc(s->n_params, sizeof(Oid));
                if (!types)
                        return -ENOMEM;
                for (unsigned i = 0; i < s->n_params; i++)
                        types[i] = s->params[i].value ? s->params[i].type : 0;
        }
        for (unsigned attempt = 0;; attempt++) {
                int i;

                res = prepare_once(s, types);
                i = untyped_parameter(res);
                if (i < 0 || (unsigned) i >= s->n_params || types[i] != 0 || attempt >= s->n_params)
                        break;
                PQclear(res);
                types[i] = s->params[i].value && s->params[i].integer ? OID_INT8 : OID_TEXT;
        }
        r = pg_result_errno(s->pg, res);
        PQclear(res);
        if (r < 0)
                return log_debug_errno(r, "Failed to prepare '%s': %s", s->sql, s->pg->error);
        s->prepared = true;
        s->generation = s->pg->generation;
        return 0;
}

static int stmt_execute(DbPgStmt *s) {
        /* A SELECT outside a transaction that finds the connection lost is run again once, on a new connection: a
         * read changes nothing, and the first request after a failover (or a restart of PostgreSQL) that happened
         * while the server was idle is answered rather than refused. The writers' lock's SELECTs may run again too:
         * the lost connection released the lock. A write's outcome is unknown: never again. */
        bool reconnected = false, read = startswith(s->sql, "SELECT ");
        int r;

        for (unsigned attempt = 1;; attempt++) {
                PGresult *res;
                bool autocommit;

                r = pg_connection_check(s->pg);
                if (r < 0)
                        return r;
                autocommit = PQtransactionStatus(s->pg->conn) == PQTRANS_IDLE;
                if (!s->prepared || s->generation != s->pg->generation) {
                        r = stmt_prepare(s);
                        if (r == -ECONNRESET && autocommit && read && !reconnected) {
                                reconnected = true;
                                continue;
                        }
                        if (r < 0)
                                return r;
                }
                for (unsigned i = 0; i < s->n_params; i++) {
                        s->values[i] = s->params[i].value;
                        s->lengths[i] = s->params[i].length;
                        s->formats[i] = s->params[i].format;
                }
                res = PQexecPrepared(s->pg->conn, s->name, (int) s->n_params, s->values, s->lengths, s->formats,
                                     /* resultFormat= */ 0);
                r = pg_result_errno(s->pg, res);
                if ((r == -EAGAIN && autocommit && attempt < DB_PG_AUTOCOMMIT_ATTEMPTS) ||
                    (r == -ECONNRESET && autocommit && read && !reconnected)) {
                        reconnected = reconnected || r == -ECONNRESET;
                        PQclear(res);
                        continue;
                }
                if (r < 0) {
                        PQclear(res);
                        return log_debug_errno(r, "Failed to execute '%s': %s", s->sql, s->pg->error);
                }
                /* As sqlite3_changes(): what the last INSERT, UPDATE or DELETE (RETURNING or not) changed. */
                if (startswith(PQcmdStatus(res), "INSERT ") || startswith(PQcmdStatus(res), "UPDATE ") ||
                    startswith(PQcmdStatus(res), "DELETE "))
                        s->pg->changes = strtoll(PQcmdTuples(res), NULL, 10);
                s->result = res;
                s->n_rows = PQntuples(res);
                s->n_fields = PQnfields(res);
                s->row = -1;
                return 0;
        }
}

int db_pg_step(DbPgStmt *s) {
        int r;

        if (!s->result) {
                r = stmt_execute(s);
                if (r < 0)
                        return r;
        }
        if (s->row + 1 >= s->n_rows) {
                s->row = s->n_rows;
                return DB_DONE;
        }
        s->row++;
        return DB_ROW;
}

static bool column_valid(DbPgStmt *s, int i) {
        return s->result && s->row >= 0 && s->row < s->n_rows && i >= 0 && i < s->n_fields;
}

DbType db_pg_column_type(DbPgStmt *s, int i) {
        if (!column_valid(s, i) || PQgetisnull(s->result, s->row, i))
                return DB_TYPE_NULL;
        switch (PQftype(s->result, i)) {
        case OID_BOOL:
        case OID_INT2:
        case OID_INT4:
        case OID_INT8:
        case OID_OID:
                return DB_TYPE_INTEGER;
        case OID_FLOAT4:
        case OID_FLOAT8:
                return DB_TYPE_FLOAT;
        case OID_NUMERIC:
                /* sum() of integers is numeric here, an integer on SQLite. */
                return strpbrk(PQgetvalue(s->result, s->row, i), ".eEN") ? DB_TYPE_FLOAT : DB_TYPE_INTEGER;
        case OID_BYTEA:
                return DB_TYPE_BLOB;
        default:
                return DB_TYPE_TEXT;
        }
}

int64_t db_pg_column_int64(DbPgStmt *s, int i) {
        const char *v;

        if (!column_valid(s, i) || PQgetisnull(s->result, s->row, i))
                return 0;
        v = PQgetvalue(s->result, s->row, i);
        switch (PQftype(s->result, i)) {
        case OID_BOOL:
                return v[0] == 't';
        case OID_FLOAT4:
        case OID_FLOAT8:
        case OID_NUMERIC:
                return (int64_t) strtod(v, NULL);
        default:
                return strtoll(v, NULL, 10);
        }
}

const char *db_pg_column_text(DbPgStmt *s, int i) {
        if (!column_valid(s, i) || PQgetisnull(s->result, s->row, i))
                return NULL;
        if (PQftype(s->result, i) == OID_BOOL)
                return PQgetvalue(s->result, s->row, i)[0] == 't' ? "1" : "0";
        return PQgetvalue(s->result, s->row, i);
}

/* The current row's bytea column i, decoded from its hex output ("\x…") once per row. */
static DbPgColumn *column_decoded(DbPgStmt *s, int i) {
        DbPgColumn *c;
        const char *v;
        size_t n;

        if ((unsigned) s->n_fields > s->n_columns) {
                DbPgColumn *a = reallocarray(s->columns, (size_t) s->n_fields, sizeof(DbPgColumn));
                if (!a)
                        return NULL;
                for (unsigned k = s->n_columns; k < (unsigned) s->n_fields; k++)
                        a[k] = (DbPgColumn) { .row = -1 };
                s->columns = a;
                s->n_columns = (unsigned) s->n_fields;
        }
        c = &s->columns[i];
        if (c->row == s->row)
                return c;
        v = PQgetvalue(s->result, s->row, i);
        n = (size_t) PQgetlength(s->result, s->row, i);
        if (n < 2 || v[0] != '\\' || v[1] != 'x' || n % 2 != 0)
                return NULL; /* bytea_output is hex (set at connect) */
        n = (n - 2) / 2;
        if (n + 1 > c->allocated) {
                uint8_t *d = realloc(c->data, n + 1);
                if (!d)
                        return NULL;
                c->data = d;
                c->allocated = n + 1;
        }
        for (size_t k = 0; k < n; k++) {
                int hi = unhexchar(v[2 + 2 * k]), lo = unhexchar(v[3 + 2 * k]);
                if (hi < 0 || lo < 0)
                        return NULL;
                c->data[k] = (uint8_t) (hi << 4 | lo);
        }
        c->data[n] = 0;
        c->size = n;
        c->row = s->row;
        return c;
}

const void *db_pg_column_blob(DbPgStmt *s, int i) {
        DbPgColumn *c;

        if (!column_valid(s, i) || PQgetisnull(s->result, s->row, i))
                return NULL;
        if (PQftype(s->result, i) != OID_BYTEA)
                return PQgetvalue(s->result, s->row, i);
        c = column_decoded(s, i);
        return c ? c->data : NULL;
}

size_t db_pg_column_bytes(DbPgStmt *s, int i) {
        DbPgColumn *c;

        if (!column_valid(s, i) || PQgetisnull(s->result, s->row, i))
                return 0;
        if (PQftype(s->result, i) != OID_BYTEA)
                return (size_t) PQgetlength(s->result, s->row, i);
        c = column_decoded(s, i);
        return c ? c->size : 0;
}

int64_t db_pg_changes(DbPg *pg) {
        return pg->changes;
}

static int pg_exec_step(Db *db, const char *sql) {
        DbStmt *s;
        int r;

        r = db_pg_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        r = db_pg_step(s->pg);
        db_pg_stmt_reset(s->pg);
        return r < 0 ? r : 0;
}

/* A BEGIN that finds the connection gone did nothing: it is sent again on a new one, once (a failover, a restarted
 * server: the next transaction goes on). */
static int pg_begin(Db *db, const char *sql) {
        int r = pg_exec_step(db, sql);

        if (r == -ECONNRESET && !db->pg->lost_in_transaction)
                r = pg_exec_step(db, sql);
        return r;
}

static void pg_writer_unlock(Db *db) {
        if (!db->pg->writer_locked)
                return;
        db->pg->writer_locked = false;
        if (PQstatus(db->pg->conn) == CONNECTION_OK)
                (void) pg_exec_step(db, "SELECT pg_advisory_unlock(" DB_PG_WRITER_LOCK ")");
}

int db_pg_begin(Db *db) {
        int r;

        assert(!db->pg->writer_locked);
        /* Waits for the writer before (lock_timeout: -EBUSY, as SQLite's busy timeout). */
        r = pg_begin(db, "SELECT pg_advisory_lock(" DB_PG_WRITER_LOCK ")");
        if (r < 0)
                return r;
        db->pg->writer_locked = true;
        r = pg_begin(db, "BEGIN ISOLATION LEVEL SERIALIZABLE");
        if (r < 0)
                pg_writer_unlock(db);
        return r;
}

int db_pg_begin_read(Db *db) {
        return pg_begin(db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
}

void db_pg_rollback(Db *db) {
        if (!db->pg->lost_in_transaction && PQstatus(db->pg->conn) == CONNECTION_OK &&
            PQtransactionStatus(db->pg->conn) != PQTRANS_IDLE)
                (void) db_pg_exec(db, "ROLLBACK");
        /* The caller's rollback: a lost connection, found before it or by its ROLLBACK, ended the transaction on the
         * server and released the writers' lock; the next statement reconnects. */
        db->pg->lost_in_transaction = false;
        pg_writer_unlock(db);
}

int db_pg_commit(Db *db) {
        int r = pg_exec_step(db, "COMMIT");

        /* COMMIT of a failed transaction "succeeds" as a ROLLBACK: that is no commit. */
        if (r >= 0 && PQtransactionStatus(db->pg->conn) != PQTRANS_IDLE)
                r = -EIO;
        if (r < 0)
                db_pg_rollback(db);
        else
                pg_writer_unlock(db);
        return r;
}

/* The database's default collation must sort text by its bytes (by code point: the same for UTF-8), as SQLite's
 * BINARY does, so that an ORDER BY on text means the same on both backends: libc's C or POSIX, or the builtin
 * provider's C or C.UTF-8 (PostgreSQL 17). An ICU collation, or a libc locale such as en_US.UTF-8 (or C.UTF-8,
 * whose order libc decides), is refused. The row read as JSON: datlocprovider (PostgreSQL 15) and datlocale
 * (17) are missing before, and then NULL. */
static int pg_check_collation(Db *db) {
        PGresult *res;
        const char *collate, *provider, *locale;
        bool ok;
        int r;

        res = PQexec(db->pg->conn,
                     "SELECT d.datcollate, COALESCE(to_jsonb(d) ->> 'datlocprovider', 'c'), "
                     "COALESCE(to_jsonb(d) ->> 'datlocale', to_jsonb(d) ->> 'daticulocale', '') "
                     "FROM pg_database d WHERE d.datname = current_database()");
        r = pg_result_errno(db->pg, res);
        if (r >= 0 && (PQntuples(res) != 1 || PQnfields(res) != 3))
                r = -EIO;
        if (r < 0) {
                PQclear(res);
                return log_error_errno(r, "Failed to read the collation of %s: %s", db->path, db_pg_error(db));
        }
        collate = PQgetvalue(res, 0, 0);
        provider = PQgetvalue(res, 0, 1);
        locale = PQgetvalue(res, 0, 2);
        if (streq(provider, "c"))
                ok = streq(collate, "C") || streq(collate, "POSIX");
        else
                ok = streq(provider, "b") && (streq(locale, "C") || streq(locale, "C.UTF-8"));
        if (!ok)
                log_error("%s sorts text by the %s collation '%s', not by bytes as SQLite does; patela-server needs "
                          "a database created with --locale=C (or --locale-provider=builtin --builtin-locale=C.UTF-8).",
                          db->path,
                          streq(provider, "c")   ? "libc"
                          : streq(provider, "i") ? "ICU"
                          : streq(provider, "b") ? "builtin"
                                                 : provider,
                          streq(provider, "c") ? collate : locale);
        PQclear(res);
        return ok ? 0 : -EINVAL;
}

static int pg_schema_version(Db *db, int64_t *ret) {
        return pg_exec_int(db, "SELECT COALESCE(max(version), 0) FROM patela_migrations", ret);
}

int db_pg_schema_version(Db *db) {
        int64_t v;
        int r = pg_schema_version(db, &v);
        return r < 0 ? r : (int) v;
}

static int pg_record_migration(Db *db, const DbMigration *m) {
        char version[16];
        const char *values[] = { version, m->name, m->sha256 };
        PGresult *res;
        int r;

        snprintf(version, sizeof(version), "%u", m->version);
        res = PQexecParams(db->pg->conn, "INSERT INTO patela_migrations (version, name, sha256) VALUES ($1, $2, $3)", 3,
                           NULL, values, NULL, NULL, 0);
        r = pg_result_errno(db->pg, res);
        PQclear(res);
        return r;
}

static int pg_migrate(Db *db) {
        int64_t version;
        int r;

        /* The preamble and the table of applied migrations, once, under the lock. */
        r = db_pg_exec(db, "BEGIN");
        if (r >= 0) {
                char sql[128];
                /* Another server's migrations, and the locks a migration's DDL needs, are waited for. */
                snprintf(sql, sizeof(sql), "SET LOCAL lock_timeout = 0; SELECT pg_advisory_xact_lock(%" PRIi64 ")",
                         DB_PG_MIGRATION_LOCK);
                r = db_pg_exec(db, sql);
        }
        if (r >= 0)
                r = db_pg_exec(db, db_sql_pg_preamble);
        if (r >= 0)
                r = db_pg_exec(db, "CREATE TABLE IF NOT EXISTS patela_migrations (\n"
                                   "        version BIGINT PRIMARY KEY,\n"
                                   "        name TEXT NOT NULL,\n"
                                   "        sha256 TEXT NOT NULL,\n"
                                   "        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()\n"
                                   ")");
        if (r >= 0)
                r = db_pg_exec(db, "COMMIT");
        if (r < 0) {
                db_pg_rollback(db);
                return log_error_errno(r, "Failed to prepare database %s for migrations: %s", db->path, db_pg_error(db));
        }

        for (;;) {
                _cleanup_free_ char *translated = NULL;
                const DbMigration *m;
                char lock[128];

                r = db_pg_exec(db, "BEGIN");
                if (r >= 0) {
                        snprintf(lock, sizeof(lock), "SET LOCAL lock_timeout = 0; SELECT pg_advisory_xact_lock(%" PRIi64 ")",
                                 DB_PG_MIGRATION_LOCK);
                        r = db_pg_exec(db, lock);
                }
                if (r >= 0)
                        r = pg_schema_version(db, &version);
                if (r < 0) {
                        db_pg_rollback(db);
                        return log_error_errno(r, "Failed to read the schema version of %s: %s", db->path, db_pg_error(db));
                }
                if (version > (int64_t) db_n_migrations) {
                        db_pg_rollback(db);
                        return log_error_errno(EPROTONOSUPPORT,
                                               "Database %s has schema version %" PRIi64
                                               ", newer than this patela-server (%u).",
                                               db->path, version, db_n_migrations);
                }
                if (version == (int64_t) db_n_migrations) {
                        db_pg_rollback(db);
                        return 0;
                }
                m = &db_migrations[version];
                r = db_sql_schema_to_pg(m->sql, &translated);
                if (r < 0) {
                        db_pg_rollback(db);
                        return log_error_errno(r, "Migration %u (%s) has no PostgreSQL translation: %m", m->version,
                                               m->name);
                }
                r = db_pg_exec(db, translated);
                if (r >= 0)
                        r = pg_record_migration(db, m);
                if (r >= 0)
                        r = db_pg_exec(db, "COMMIT");
                if (r < 0) {
                        log_error_errno(r, "Migration %u (%s) failed on %s: %s", m->version, m->name, db->path,
                                        db_pg_error(db));
                        db_pg_rollback(db);
                        return r;
                }
                log_debug("Applied migration %u (%s).", m->version, m->name);
        }
}

int db_pg_open(const char *uri, Db **ret) {
        _cleanup_(db_pg_closep) Db *db = NULL;
        int r;

        db = calloc(1, sizeof(*db));
        if (!db)
                return -ENOMEM;
        db->pg = calloc(1, sizeof(DbPg));
        if (!db->pg)
                return -ENOMEM;
        db->pg->conn = PQconnectdb(uri);
        if (!db->pg->conn)
                return -ENOMEM;
        if (PQstatus(db->pg->conn) != CONNECTION_OK) {
                pg_set_error(db->pg, PQerrorMessage(db->pg->conn));
                return log_error_errno(ECONNREFUSED, "Failed to connect to the PostgreSQL database: %s", db->pg->error);
        }
        /* Named in logs by database and host, never by the URI (it may hold a password). */
        if (asprintf(&db->path, "postgresql database %s on %s", PQdb(db->pg->conn),
                     PQhost(db->pg->conn) ?: "localhost") < 0) {
                db->path = NULL;
                return -ENOMEM;
        }
        r = pg_exec_settings(db->pg, pg_session_settings);
        if (r < 0)
                return log_error_errno(r, "Failed to configure %s: %s", db->path, db_pg_error(db));
        r = pg_check_collation(db);
        if (r < 0)
                return r;

        r = pg_migrate(db);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(db);
        return 0;
}

Db *db_pg_close(Db *db) {
        if (!db)
                return NULL;
        if (db->pg) {
                for (unsigned i = 0; i < db->pg->n_cache; i++) {
                        stmt_free(db->pg->cache[i].stmt);
                        free(db->pg->cache[i].sql);
                }
                if (db->pg->conn)
                        PQfinish(db->pg->conn);
                for (unsigned i = 0; i < db->pg->n_session_settings; i++)
                        free(db->pg->session_settings[i]);
                free(db->pg->error);
                free(db->pg);
        }
        free(db->path);
        free(db);
        return NULL;
}
