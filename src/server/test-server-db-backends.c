/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The statement layer (server-db-stmt.h) on both backends, the same calls and the same answers: SQLite in a file of
 * its own, PostgreSQL at $PATELA_TEST_PG_URI (test/test-server-db-postgres.sh starts a cluster for it and then
 * compares the two migrated schemas; without the variable this test is skipped). Both databases are migrated
 * by their db_open(): what the migrations' triggers and checks refuse is refused on both. */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "server-db-pg.h"
#include "server-db-sql.h"
#include "server-db-stmt.h"
#include "server-relays.h"
#include "test-server-node.h"
#include "test-server-util.h"
#include "tests.h"

static const char *pg_uri(void) {
        return getenv("PATELA_TEST_PG_URI");
}

/* $PATELA_TEST_SQLITE_PATH (kept for the schema comparison) or a temporary file. */
static char *sqlite_path(void) {
        const char *p = getenv("PATELA_TEST_SQLITE_PATH");
        return p ? strdup(p) : temp_db();
}

typedef struct Backends {
        Db *db[2];
        char *path;
} Backends;

static void backends_open(Backends *b) {
        *b = (Backends) { .path = sqlite_path() };
        ASSERT_OK(db_open(b->path, &b->db[0]));
        ASSERT_OK(db_pg_open(pg_uri(), &b->db[1]));
}

static void backends_close(Backends *b) {
        db_close(b->db[0]);
        db_pg_close(b->db[1]);
        if (!getenv("PATELA_TEST_SQLITE_PATH"))
                cleanup_db(b->path);
        free(b->path);
}

static const char *backend_name(Db *db) {
        return db->pg ? "postgresql" : "sqlite";
}

/* SQLite-dialect DDL, translated for PostgreSQL as the migrations are. */
static int exec_schema(Db *db, const char *sql) {
        _cleanup_free_ char *pg = NULL;
        int r;

        if (!db->pg)
                return db_exec(db, sql);
        r = db_sql_schema_to_pg(sql, &pg);
        if (r < 0)
                return r;
        return db_pg_exec(db, pg);
}

static int exec_stmt(Db *db, const char *sql) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r;

        r = db_stmt_prepare_cached(db, sql, &s);
        if (r < 0)
                return r;
        r = db_step(s);
        return r < 0 ? r : 0;
}

TEST(values_round_trip) {
        static const uint8_t blob[] = { 0, 1, 0xff, 0, '\\', 'x', 0x80 };
        Backends b;

        backends_open(&b);
        for (unsigned k = 0; k < 2; k++) {
                Db *db = b.db[k];
                _cleanup_db_stmt_ DbStmt *ins = NULL, *sel = NULL;
                int64_t id;

                ASSERT_OK(exec_schema(db, "DROP TABLE IF EXISTS v;\n"
                                          "CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, t TEXT, b BLOB, n INTEGER);"));
                ASSERT_OK(db_stmt_prepare_cached(db, "INSERT INTO v (i, t, b, n) VALUES (?, ?, ?, ?) RETURNING id", &ins));
                ASSERT_EQ(db_bind_parameter_count(ins), 4);
                for (unsigned round = 0; round < 3; round++) {
                        ASSERT_OK(db_bind_int64(ins, 1, round == 0 ? INT64_MIN : round == 1 ? INT64_MAX : 0));
                        ASSERT_OK(db_bind_text(ins, 2, round == 2 ? "" : "grüße, 'quoted' \\x00"));
                        ASSERT_OK(db_bind_blob(ins, 3, blob, round == 2 ? 0 : sizeof(blob)));
                        ASSERT_OK(db_bind_null(ins, 4));
                        ASSERT_EQ(db_step(ins), DB_ROW);
                        id = db_column_int64(ins, 0);
                        ASSERT_EQ(id, (int64_t) round + 1);
                        ASSERT_EQ(db_step(ins), DB_DONE);
                        ASSERT_EQ(db_changes(db), 1);
                        db_stmt_reset(ins);
                }

                ASSERT_OK(db_stmt_prepare_cached(db, "SELECT id, i, t, b, n, length(b) FROM v ORDER BY id", &sel));
                for (unsigned round = 0; round < 3; round++) {
                        ASSERT_EQ(db_step(sel), DB_ROW);
                        ASSERT_EQ(db_column_type(sel, 1), DB_TYPE_INTEGER);
                        ASSERT_EQ(db_column_int64(sel, 1), round == 0 ? INT64_MIN : round == 1 ? INT64_MAX : 0);
                        ASSERT_EQ(db_column_type(sel, 2), DB_TYPE_TEXT);
                        ASSERT_STREQ(db_column_text(sel, 2), round == 2 ? "" : "grüße, 'quoted' \\x00");
                        ASSERT_EQ(db_column_type(sel, 3), DB_TYPE_BLOB);
                        ASSERT_EQ(db_column_bytes(sel, 3), round == 2 ? 0 : sizeof(blob));
                        if (round < 2)
                                ASSERT_MEMEQ(db_column_blob(sel, 3), blob, sizeof(blob));
                        ASSERT_TRUE(db_column_is_null(sel, 4));
                        ASSERT_NULL(db_column_text(sel, 4));
                        ASSERT_EQ(db_column_int64(sel, 5), round == 2 ? 0 : (int64_t) sizeof(blob));
                }
                ASSERT_EQ(db_step(sel), DB_DONE);
                db_stmt_reset(sel);

                /* The same SQL twice at once is refused; after a reset it is the same statement again. */
                ASSERT_EQ(db_step(sel), DB_ROW);
                {
                        DbStmt *again = NULL;
                        ASSERT_ERROR(db_stmt_prepare_cached(db, "SELECT id, i, t, b, n, length(b) FROM v ORDER BY id", &again),
                                     EBUSY);
                }
                db_stmt_reset(sel);

                /* changes() of an UPDATE; a SELECT does not change it. */
                ASSERT_OK(exec_stmt(db, "UPDATE v SET n = 7 WHERE id >= 2"));
                ASSERT_EQ(db_changes(db), 2);
                ASSERT_OK(exec_stmt(db, "SELECT count(*) FROM v"));
                ASSERT_EQ(db_changes(db), 2);
                /* A statement of its own, twice at once, and freed. */
                {
                        _cleanup_db_stmt_free_ DbStmt *one = NULL, *two = NULL;

                        ASSERT_OK(db_stmt_prepare(db, "SELECT t FROM v WHERE id = ?", &one));
                        ASSERT_OK(db_stmt_prepare(db, "SELECT t FROM v WHERE id = ?", &two));
                        ASSERT_OK(db_bind_int64(one, 1, 3));
                        ASSERT_OK(db_bind_int64(two, 1, 1));
                        ASSERT_EQ(db_step(one), DB_ROW);
                        ASSERT_EQ(db_step(two), DB_ROW);
                        ASSERT_STREQ(db_column_text(one, 0), "");
                        ASSERT_STREQ(db_column_text(two, 0), "grüße, 'quoted' \\x00");
                        db_stmt_reset(one);
                        ASSERT_OK(db_bind_text_n(one, 1, "3xyz", 1)); /* text to an integer column: 3 */
                        ASSERT_EQ(db_step(one), DB_ROW);
                        ASSERT_STREQ(db_column_text(one, 0), "");
                }
                fprintf(stderr, "values round trip: %s ok\n", backend_name(db));
        }
        backends_close(&b);
}

/* The migrations' rules hold on both: constraint → -EEXIST, a trigger's refusal → -EEXIST, GLOB checks. */
TEST(constraints) {
        Backends b;

        backends_open(&b);
        for (unsigned k = 0; k < 2; k++) {
                Db *db = b.db[k];
                _cleanup_db_stmt_ DbStmt *ins = NULL, *img = NULL, *tlog = NULL;
                static const char hex64[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

                ASSERT_OK(exec_stmt(db, "DELETE FROM pool_names"));
                ASSERT_OK(db_stmt_prepare_cached(db, "INSERT INTO pool_names (name) VALUES (?)", &ins));
                ASSERT_OK(db_bind_text(ins, 1, "alpha"));
                ASSERT_EQ(db_step(ins), DB_DONE);
                db_stmt_reset(ins);
                ASSERT_OK(db_bind_text(ins, 1, "alpha"));
                ASSERT_ERROR(db_step(ins), EEXIST);
                db_stmt_reset(ins);
                ASSERT_OK(db_bind_text(ins, 1, "beta"));
                ASSERT_EQ(db_step(ins), DB_DONE);
                db_stmt_reset(ins);
                /* The allocation's order: SQLite's rowid, a column on PostgreSQL. */
                {
                        _cleanup_db_stmt_ DbStmt *first = NULL;
                        ASSERT_OK(db_stmt_prepare_cached(db, "SELECT name FROM pool_names WHERE relay_id IS NULL ORDER BY rowid LIMIT 1",
                                                         &first));
                        ASSERT_EQ(db_step(first), DB_ROW);
                        ASSERT_STREQ(db_column_text(first, 0), "alpha");
                }

                /* The attestation log is append-only (migration 1's triggers). */
                ASSERT_OK(exec_stmt(db, "INSERT INTO attestations (fingerprint, at, verdict) VALUES ('f', 1, 'accepted')"));
                ASSERT_ERROR(exec_stmt(db, "UPDATE attestations SET reason = 'x'"), EEXIST);
                ASSERT_ERROR(exec_stmt(db, "DELETE FROM attestations"), EEXIST);
                ASSERT_ERROR(exec_stmt(db, "INSERT INTO attestations (fingerprint, at, verdict) VALUES ('f', 1, 'maybe')"),
                             EEXIST);

                /* Images: the GLOB checks of migration 3, its immutability trigger. */
                ASSERT_OK(db_stmt_prepare_cached(db,
                                                 "INSERT INTO images (name, uki_sha256, uki_authenticode, pcr9, pcr11_boot, pcr11_sysinit, "
                                                 "pcr11_ready, reference_version, reference, added_at) "
                                                 "VALUES (?, ?, ?, ?, ?, ?, ?, 1, '{}', 100) RETURNING id", &img));
                ASSERT_OK(db_bind_text(img, 1, "-bad"));
                for (int i = 2; i <= 7; i++)
                        ASSERT_OK(db_bind_text(img, i, hex64));
                ASSERT_ERROR(db_step(img), EEXIST);
                db_stmt_reset(img);
                ASSERT_OK(db_bind_text(img, 1, "image-1.0"));
                ASSERT_OK(db_bind_text(img, 2, "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff"));
                for (int i = 3; i <= 7; i++)
                        ASSERT_OK(db_bind_text(img, i, hex64));
                ASSERT_ERROR(db_step(img), EEXIST); /* upper-case hex */
                db_stmt_reset(img);
                ASSERT_OK(db_bind_text(img, 1, "image-1.0"));
                for (int i = 2; i <= 7; i++)
                        ASSERT_OK(db_bind_text(img, i, hex64));
                ASSERT_EQ(db_step(img), DB_ROW);
                db_stmt_reset(img);
                ASSERT_ERROR(exec_stmt(db, "UPDATE images SET name = 'other'"), EEXIST);
                ASSERT_OK(exec_stmt(db, "UPDATE images SET retired_at = 200"));
                ASSERT_ERROR(exec_stmt(db, "UPDATE images SET retired_at = 300"), EEXIST);
                ASSERT_ERROR(exec_stmt(db, "DELETE FROM images"), EEXIST);

                /* The transparency log grows at its end only (migration 8). */
                ASSERT_OK(db_stmt_prepare_cached(db, "INSERT INTO tlog_entries (idx, kind, at, entry) VALUES (?, 'verdict', 1, ?)",
                                                 &tlog));
                ASSERT_OK(db_bind_int64(tlog, 1, 0));
                ASSERT_OK(db_bind_blob(tlog, 2, "e", 1));
                ASSERT_EQ(db_step(tlog), DB_DONE);
                db_stmt_reset(tlog);
                ASSERT_OK(db_bind_int64(tlog, 1, 2));
                ASSERT_OK(db_bind_blob(tlog, 2, "e", 1));
                ASSERT_ERROR(db_step(tlog), EEXIST);
                db_stmt_reset(tlog);
                ASSERT_OK(db_bind_int64(tlog, 1, 1));
                ASSERT_OK(db_bind_blob(tlog, 2, "", 0));
                ASSERT_ERROR(db_step(tlog), EEXIST); /* length(entry) BETWEEN 1 AND 4096 */
                fprintf(stderr, "constraints: %s ok\n", backend_name(db));
        }
        backends_close(&b);
}

typedef struct Conflict {
        Db *other;
        unsigned attempts;
} Conflict;

/* Reads the counter; on the first attempt another connection changes it in between: SERIALIZABLE refuses this
 * transaction's write, and db_transaction() runs it again. */
static int conflict_tx(Db *db, void *userdata) {
        Conflict *c = userdata;
        _cleanup_db_stmt_ DbStmt *get = NULL;
        int64_t v;
        int r;

        c->attempts++;
        r = db_stmt_prepare_cached(db, "SELECT n FROM counter WHERE id = 1", &get);
        if (r < 0)
                return r;
        if (db_step(get) != DB_ROW)
                return -EIO;
        v = db_column_int64(get, 0);
        db_stmt_reset(get);
        if (c->attempts == 1) {
                r = exec_stmt(c->other, "UPDATE counter SET n = n + 100 WHERE id = 1");
                if (r < 0)
                        return r;
        }
        {
                _cleanup_db_stmt_ DbStmt *set = NULL;
                r = db_stmt_prepare_cached(db, "UPDATE counter SET n = ? WHERE id = 1", &set);
                if (r < 0)
                        return r;
                r = db_bind_int64(set, 1, v + 1);
                if (r >= 0)
                        r = db_step(set);
        }
        return r < 0 ? r : 0;
}

TEST(serialization_retry) {
        _cleanup_(db_pg_closep) Db *a = NULL, *other = NULL;
        _cleanup_db_stmt_ DbStmt *get = NULL;
        Conflict c;

        ASSERT_OK(db_pg_open(pg_uri(), &a));
        ASSERT_OK(db_pg_open(pg_uri(), &other));
        ASSERT_OK(exec_schema(a, "DROP TABLE IF EXISTS counter;\nCREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);\n"
                                 "INSERT INTO counter VALUES (1, 0);"));
        c = (Conflict) { .other = other };
        ASSERT_OK(db_transaction(a, conflict_tx, &c));
        ASSERT_EQ(c.attempts, 2U);
        ASSERT_OK(db_stmt_prepare_cached(a, "SELECT n FROM counter WHERE id = 1", &get));
        ASSERT_EQ(db_step(get), DB_ROW);
        /* Nothing lost: the other connection's +100, then this one's +1 on top of it. */
        ASSERT_EQ(db_column_int64(get, 0), 101);
}

static int64_t backend_pid(Db *db) {
        _cleanup_db_stmt_ DbStmt *s = NULL;

        ASSERT_OK(db_stmt_prepare_cached(db, "SELECT pg_backend_pid()", &s));
        ASSERT_EQ(db_step(s), DB_ROW);
        return db_column_int64(s, 0);
}

static int64_t query_int(Db *db, const char *sql, int64_t id) {
        _cleanup_db_stmt_ DbStmt *s = NULL;

        ASSERT_OK(db_stmt_prepare_cached(db, sql, &s));
        ASSERT_OK(db_bind_int64(s, 1, id));
        ASSERT_EQ(db_step(s), DB_ROW);
        return db_column_int64(s, 0);
}

typedef struct Enable {
        Db *db;
        int64_t node_id;
        int r;
} Enable;

static void *enable_thread(void *userdata) {
        Enable *e = userdata;
        RelayAllocation a = { .relays_per_address = 1, .or_port_min = 9001, .or_port_max = 9100 };

        e->r = node_set_state(e->db, e->node_id, NODE_ENABLED, &a);
        return NULL;
}

/* Two servers on one database, the server's own transaction: `node enable` at one (node_set_state(): it reads the
 * node, logs the enable, updates the row, allocates its relays) while the other's write transaction is open with
 * a new relay count. The enable waits (for the writers' lock, taken before its snapshot); the other commits; the
 * enable then sees the other's change and succeeds: the node is enabled with the other's relay count, its relays
 * allocated for that count. Without the lock SERIALIZABLE would refuse the enable's update and db_transaction()
 * run it again, with the same result; without either, the relays would be allocated for the old count. */
TEST(node_enable_contended) {
        _cleanup_(db_pg_closep) Db *a = NULL, *other = NULL, *watch = NULL;
        /* A database of its own, as the server makes it: the tests above leave rows no server would write (a
         * transparency log entry without its hashes). */
        const char *uri = getenv("PATELA_TEST_PG_SERVER_URI");
        char *names[] = { (char *) "contendedA", (char *) "contendedB", (char *) "contendedC", (char *) "contendedD" };
        const char *bad = NULL;
        Enable e = { .r = 1 };
        pthread_t thread;
        int64_t pid;

        if (!uri) {
                fprintf(stderr, "PATELA_TEST_PG_SERVER_URI unset: skipped.\n");
                return;
        }
        ASSERT_OK(db_pg_open(uri, &a));
        ASSERT_OK(db_pg_open(uri, &other));
        ASSERT_OK(db_pg_open(uri, &watch));
        ASSERT_OK(pool_add(a, "names", names, ELEMENTSOF(names), &bad));
        e = (Enable) { .db = a, .node_id = test_node_new(a, 200), .r = 1 };
        ASSERT_EQ(query_int(a, "SELECT relay_count FROM nodes WHERE id = ?", e.node_id), 1);
        pid = backend_pid(a);

        ASSERT_OK(db_pg_begin(other));
        {
                _cleanup_db_stmt_ DbStmt *s = NULL;
                ASSERT_OK(db_stmt_prepare_cached(other, "UPDATE nodes SET relay_count = 3 WHERE id = ?", &s));
                ASSERT_OK(db_bind_int64(s, 1, e.node_id));
                ASSERT_EQ(db_step(s), DB_DONE);
        }
        ASSERT_EQ(pthread_create(&thread, NULL, enable_thread, &e), 0);
        /* Until the enable waits (for the writers' lock). */
        for (unsigned i = 0;; i++) {
                ASSERT_TRUE(i < 10000);
                if (query_int(watch, "SELECT count(*) FROM pg_stat_activity WHERE pid = ? AND wait_event_type = 'Lock'",
                              pid) == 1)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
        ASSERT_OK(db_pg_commit(other));
        ASSERT_EQ(pthread_join(thread, NULL), 0);

        ASSERT_OK(e.r);
        ASSERT_EQ(query_int(watch, "SELECT count(*) FROM nodes WHERE id = ? AND state = 'enabled' AND relay_count = 3",
                            e.node_id), 1);
        ASSERT_EQ(query_int(watch, "SELECT count(*) FROM relays WHERE node_id = ?", e.node_id), 3);
}

static void terminate(Db *victim, Db *killer) {
        _cleanup_db_stmt_ DbStmt *pid = NULL, *kill = NULL;
        int64_t p;

        ASSERT_OK(db_stmt_prepare_cached(victim, "SELECT pg_backend_pid()", &pid));
        ASSERT_EQ(db_step(pid), DB_ROW);
        p = db_column_int64(pid, 0);
        db_stmt_reset(pid);
        ASSERT_OK(db_stmt_prepare_cached(killer, "SELECT pg_terminate_backend(?)", &kill));
        ASSERT_OK(db_bind_int64(kill, 1, p));
        ASSERT_EQ(db_step(kill), DB_ROW);
        ASSERT_EQ(db_column_int64(kill, 0), 1);
        db_stmt_reset(kill);
        /* pg_terminate_backend() only signals: wait until the backend is gone. */
        for (unsigned i = 0;; i++) {
                _cleanup_db_stmt_ DbStmt *alive = NULL;

                ASSERT_TRUE(i < 5000);
                ASSERT_OK(db_stmt_prepare_cached(killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = ?", &alive));
                ASSERT_OK(db_bind_int64(alive, 1, p));
                ASSERT_EQ(db_step(alive), DB_ROW);
                if (db_column_int64(alive, 0) == 0)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
}

/* A lost connection (a restarted server, a failover): the statement that finds it fails, the next one runs on a
 * new connection with the cached statements prepared again — a SELECT outside a transaction is run again on it at
 * once —; but inside a transaction nothing runs until the caller has rolled back, and what the transaction wrote
 * is gone. */
TEST(reconnect) {
        _cleanup_(db_pg_closep) Db *db = NULL, *killer = NULL;
        _cleanup_db_stmt_ DbStmt *s = NULL;

        ASSERT_OK(db_pg_open(pg_uri(), &db));
        ASSERT_OK(db_pg_open(pg_uri(), &killer));
        ASSERT_OK(exec_schema(db, "DROP TABLE IF EXISTS r;\nCREATE TABLE r (id INTEGER PRIMARY KEY, v TEXT);"));
        ASSERT_OK(exec_stmt(db, "INSERT INTO r (v) VALUES ('before')"));

        /* A write that finds the connection gone fails (outside a transaction too: its outcome could be unknown);
         * the next statement reconnects. */
        terminate(db, killer);
        ASSERT_ERROR(exec_stmt(db, "INSERT INTO r (v) VALUES ('lost')"), ECONNRESET);
        ASSERT_OK(db_stmt_prepare_cached(db, "SELECT count(*) FROM r", &s));
        ASSERT_EQ(db_step(s), DB_ROW);
        ASSERT_EQ(db_column_int64(s, 0), 1);
        db_stmt_reset(s);

        ASSERT_OK(db_pg_begin(db));
        ASSERT_OK(exec_stmt(db, "INSERT INTO r (v) VALUES ('in the lost transaction')"));
        terminate(db, killer);
        ASSERT_ERROR(exec_stmt(db, "INSERT INTO r (v) VALUES ('after the loss')"), ECONNRESET);
        ASSERT_ERROR(exec_stmt(db, "INSERT INTO r (v) VALUES ('after the loss')"), ECONNRESET);
        db_pg_rollback(db);
        /* The next transaction: BEGIN finds the connection gone, reconnects, goes on. */
        terminate(db, killer);
        ASSERT_OK(db_pg_begin(db));
        ASSERT_OK(exec_stmt(db, "INSERT INTO r (v) VALUES ('next')"));
        ASSERT_OK(db_pg_commit(db));
        ASSERT_EQ(db_step(s), DB_ROW);
        ASSERT_EQ(db_column_int64(s, 0), 2);
}

/* What a new connection must have again after a loss (a failover): the session settings made through db_pg_exec()
 * (the metrics' connection is read-only: a write on the new one is refused), and the statements prepared on the
 * old one, cached or not, prepared again (not "prepared statement does not exist"). */
TEST(reconnect_keeps_session) {
        _cleanup_(db_pg_closep) Db *db = NULL, *killer = NULL;
        _cleanup_db_stmt_free_ DbStmt *own = NULL;

        ASSERT_OK(db_pg_open(pg_uri(), &db));
        ASSERT_OK(db_pg_open(pg_uri(), &killer));
        ASSERT_OK(exec_schema(db, "DROP TABLE IF EXISTS k;\nCREATE TABLE k (id INTEGER PRIMARY KEY, v TEXT);"));
        ASSERT_OK(exec_stmt(db, "INSERT INTO k (v) VALUES ('before')"));
        ASSERT_OK(db_stmt_prepare(db, "SELECT count(*) FROM k WHERE v = ?", &own));
        ASSERT_OK(db_bind_text(own, 1, "before"));
        ASSERT_EQ(db_step(own), DB_ROW);
        ASSERT_EQ(db_column_int64(own, 0), 1);
        db_stmt_reset(own);
        ASSERT_OK(db_pg_exec(db, "SET default_transaction_read_only = on"));
        ASSERT_ERROR(exec_stmt(db, "INSERT INTO k (v) VALUES ('read-only')"), EROFS);

        /* A read outside a transaction reconnects in place, on both kinds of statement; still read-only. */
        terminate(db, killer);
        ASSERT_OK(exec_stmt(db, "SELECT count(*) FROM k"));
        terminate(db, killer);
        ASSERT_OK(db_bind_text(own, 1, "before"));
        ASSERT_EQ(db_step(own), DB_ROW);
        ASSERT_EQ(db_column_int64(own, 0), 1);
        db_stmt_reset(own);
        /* In a read transaction, the loss is the caller's. */
        ASSERT_OK(db_pg_begin_read(db));
        terminate(db, killer);
        ASSERT_ERROR(exec_stmt(db, "SELECT count(*) FROM k"), ECONNRESET);
        db_pg_rollback(db);
        ASSERT_ERROR(exec_stmt(db, "INSERT INTO k (v) VALUES ('read-only')"), EROFS);
        ASSERT_OK(db_bind_text(own, 1, "before"));
        ASSERT_EQ(db_step(own), DB_ROW);
        ASSERT_EQ(db_column_int64(own, 0), 1);
        db_stmt_reset(own);
        ASSERT_OK(exec_stmt(db, "SELECT count(*) FROM k"));
}

static int64_t monotonic_usec(void) {
        struct timespec ts;

        ASSERT_OK(clock_gettime(CLOCK_MONOTONIC, &ts));
        return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ALTER DATABASE … ALLOW_CONNECTIONS on the test's database, from a connection to another one (PostgreSQL refuses it
 * for the current database): the same URI, its database name overridden. */
static void allow_connections(const char *database, bool allow) {
        const char *keys[] = { "dbname", "dbname", NULL }, *values[] = { pg_uri(), "postgres", NULL };
        _cleanup_free_ char *sql = NULL;
        PGconn *c = PQconnectdbParams(keys, values, /* expand_dbname= */ 1);
        PGresult *res;

        ASSERT_EQ(PQstatus(c), CONNECTION_OK);
        ASSERT_TRUE(asprintf(&sql, "ALTER DATABASE \"%s\" WITH ALLOW_CONNECTIONS %s", database,
                             allow ? "true" : "false") > 0);
        res = PQexec(c, sql);
        ASSERT_EQ(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        PQfinish(c);
}

/* No primary for a while (a failover under way): a reconnection that failed is not tried again for 100 ms, the
 * statements in between fail at once; after that the next statement reconnects. The database refusing connections
 * (ALLOW_CONNECTIONS false) stands for the missing primary. */
TEST(reconnect_interval) {
        _cleanup_(db_pg_closep) Db *db = NULL, *killer = NULL;
        _cleanup_db_stmt_ DbStmt *name = NULL;
        _cleanup_free_ char *database = NULL;
        int64_t failed_at;

        ASSERT_OK(db_pg_open(pg_uri(), &db));
        ASSERT_OK(db_pg_open(pg_uri(), &killer));
        ASSERT_OK(db_stmt_prepare_cached(killer, "SELECT current_database()", &name));
        ASSERT_EQ(db_step(name), DB_ROW);
        database = strdup(db_column_text(name, 0));
        ASSERT_NOT_NULL(database);
        db_stmt_reset(name);

        allow_connections(database, false);
        terminate(db, killer);
        /* The read finds the connection gone and tries a new one at once: refused. */
        ASSERT_ERROR(exec_stmt(db, "SELECT 1"), ECONNRESET);
        failed_at = monotonic_usec();
        allow_connections(database, true);
        /* Within the interval: refused without an attempt, although a connection would now succeed (checked only
         * when the machine was quick enough to still be within it). */
        if (exec_stmt(db, "SELECT 1") >= 0)
                ASSERT_TRUE(monotonic_usec() - failed_at >= 100000);
        (void) nanosleep(&(struct timespec) { .tv_nsec = 150000000 }, NULL);
        ASSERT_OK(exec_stmt(db, "SELECT 1"));
}

/* One writer at a time on PostgreSQL, as on SQLite: a write transaction holds the writers' lock from before its
 * snapshot to after its end (committed, rolled back, or its connection lost), and another writer waits for it:
 * here, with a lock_timeout of 100 ms, it is refused -EBUSY. Readers do not wait. */
TEST(writer_lock) {
        _cleanup_(db_pg_closep) Db *a = NULL, *b = NULL, *killer = NULL;

        ASSERT_OK(db_pg_open(pg_uri(), &a));
        ASSERT_OK(db_pg_open(pg_uri(), &b));
        ASSERT_OK(db_pg_open(pg_uri(), &killer));
        ASSERT_OK(db_pg_exec(b, "SET lock_timeout = '100ms'"));

        ASSERT_OK(db_pg_begin(a));
        ASSERT_ERROR(db_pg_begin(b), EBUSY);
        ASSERT_OK(db_pg_begin_read(b));
        ASSERT_OK(exec_stmt(b, "SELECT 1"));
        ASSERT_OK(db_pg_commit(b));
        ASSERT_OK(db_pg_commit(a));
        ASSERT_OK(db_pg_begin(b));
        ASSERT_ERROR(db_pg_begin(a), EBUSY);
        db_pg_rollback(b);
        ASSERT_OK(db_pg_begin(a));
        terminate(a, killer);
        ASSERT_OK(db_pg_begin(b));
        db_pg_rollback(b);
        db_pg_rollback(a);
        ASSERT_OK(db_pg_begin(a));
        ASSERT_OK(db_pg_commit(a));
}

/* The NOCASE collation of migration 9 and the settings' lookup. */
TEST(nocase) {
        Backends b;

        backends_open(&b);
        for (unsigned k = 0; k < 2; k++) {
                _cleanup_db_stmt_ DbStmt *s = NULL;

                ASSERT_OK(exec_stmt(b.db[k], "INSERT INTO config_ops (level, kind, op, key, value) "
                                             "VALUES ('default', 'setting', 'set', 'ExitRelay', '1')"));
                ASSERT_OK(db_stmt_prepare_cached(b.db[k], "SELECT count(*) FROM config_ops WHERE (?1 IS NULL OR key = ?1 COLLATE NOCASE)",
                                                 &s));
                ASSERT_OK(db_bind_text(s, 1, "exitrelay"));
                if (db_step(s) != DB_ROW)
                        TEST_FAIL("%s: %s", backend_name(b.db[k]), b.db[k]->pg ? db_pg_error(b.db[k]) : db_error(b.db[k]));
                ASSERT_EQ(db_column_int64(s, 0), 1);
                db_stmt_reset(s);
                ASSERT_OK(db_bind_text(s, 1, "exitrelays"));
                ASSERT_EQ(db_step(s), DB_ROW);
                ASSERT_EQ(db_column_int64(s, 0), 0);
                db_stmt_reset(s);
                ASSERT_OK(db_bind_null(s, 1));
                ASSERT_EQ(db_step(s), DB_ROW);
                ASSERT_EQ(db_column_int64(s, 0), 1);
                db_stmt_reset(s);
                ASSERT_OK(exec_stmt(b.db[k], "DELETE FROM config_ops"));

                /* The settings' DELETE inside a transaction: the first preparation fails to type ?5 (bound NULL)
                 * and must not abort the transaction; ?2 (NULL too) is typed by node_id, and stays so. */
                ASSERT_OK(b.db[k]->pg ? db_pg_begin(b.db[k]) : db_begin(b.db[k]));
                {
                        _cleanup_db_stmt_ DbStmt *d = NULL;

                        ASSERT_OK(db_stmt_prepare_cached(b.db[k], "DELETE FROM config_ops WHERE level = ? AND node_id IS ? "
                                                                  "AND relay_id IS ? AND kind = ? AND (?5 IS NULL OR key = ?5 COLLATE NOCASE)",
                                                         &d));
                        ASSERT_OK(db_bind_text(d, 1, "default"));
                        ASSERT_OK(db_bind_null(d, 2));
                        ASSERT_OK(db_bind_null(d, 3));
                        ASSERT_OK(db_bind_text(d, 4, "torrc"));
                        ASSERT_OK(db_bind_null(d, 5));
                        ASSERT_EQ(db_step(d), DB_DONE);
                }
                ASSERT_OK(exec_stmt(b.db[k], "INSERT INTO config_ops (level, kind, op, key, value) "
                                             "VALUES ('default', 'torrc', 'set', 'ExitRelay', '0')"));
                ASSERT_OK(b.db[k]->pg ? db_pg_commit(b.db[k]) : db_commit(b.db[k]));
                ASSERT_OK(db_stmt_prepare_cached(b.db[k], "SELECT count(*) FROM config_ops WHERE (?1 IS NULL OR key = ?1 COLLATE NOCASE)",
                                                 &s));
                ASSERT_OK(db_bind_null(s, 1));
                ASSERT_EQ(db_step(s), DB_ROW);
                ASSERT_EQ(db_column_int64(s, 0), 1);
                db_stmt_reset(s);
                ASSERT_OK(exec_stmt(b.db[k], "DELETE FROM config_ops"));
        }
        backends_close(&b);
}

/* A failed transaction leaves nothing behind, on both. */
static int failing_tx(Db *db, void *userdata) {
        int r = exec_stmt(db, "INSERT INTO pool_names (name) VALUES ('gamma')");
        if (r < 0)
                return r;
        return exec_stmt(db, "INSERT INTO pool_names (name) VALUES ('gamma')"); /* -EEXIST */
}

TEST(transaction_rollback) {
        Backends b;

        backends_open(&b);
        for (unsigned k = 0; k < 2; k++) {
                _cleanup_db_stmt_ DbStmt *s = NULL;

                ASSERT_ERROR(db_transaction(b.db[k], failing_tx, NULL), EEXIST);
                ASSERT_OK(db_stmt_prepare_cached(b.db[k], "SELECT count(*) FROM pool_names WHERE name = 'gamma'", &s));
                ASSERT_EQ(db_step(s), DB_ROW);
                ASSERT_EQ(db_column_int64(s, 0), 0);
        }
        backends_close(&b);
}

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

/* Not an assertion: one cached statement's round trip, printed for docs/postgresql.md. */
TEST(round_trip_time) {
        Backends b;

        backends_open(&b);
        for (unsigned k = 0; k < 2; k++) {
                enum { N = 2000 };
                uint64_t t0;

                t0 = mono_usec();
                for (unsigned i = 0; i < N; i++) {
                        _cleanup_db_stmt_ DbStmt *s = NULL;

                        ASSERT_OK(db_stmt_prepare_cached(b.db[k], "SELECT id, state FROM nodes WHERE id = ?", &s));
                        ASSERT_OK(db_bind_int64(s, 1, i));
                        ASSERT_EQ(db_step(s), DB_DONE);
                }
                fprintf(stderr, "round trip: %s %.2f µs per cached SELECT by key\n", backend_name(b.db[k]),
                        (double) (mono_usec() - t0) / N);
        }
        /* The layer's cost on SQLite: the same loop on sqlite3_* directly. */
        {
                enum { N = 100000 };
                uint64_t t0, t1;

              for (unsigned rep = 0; rep < 3; rep++) {

                t0 = mono_usec();
                for (unsigned i = 0; i < N; i++) {
                        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;

                        ASSERT_OK(db_prepare_cached(b.db[0], "SELECT id, state FROM nodes WHERE id = ?", &s));
                        sqlite3_bind_int64(s, 1, i);
                        ASSERT_EQ(sqlite3_step(s), SQLITE_DONE);
                }
                t1 = mono_usec();
                for (unsigned i = 0; i < N; i++) {
                        _cleanup_db_stmt_ DbStmt *s = NULL;

                        ASSERT_OK(db_stmt_prepare_cached(b.db[0], "SELECT id, state FROM nodes WHERE id = ?", &s));
                        ASSERT_OK(db_bind_int64(s, 1, i));
                        ASSERT_EQ(db_step(s), DB_DONE);
                }
                fprintf(stderr, "sqlite: %.3f µs per statement with sqlite3_*, %.3f µs through DbStmt\n",
                        (double) (t1 - t0) / N, (double) (mono_usec() - t1) / N);
              }
        }
        backends_close(&b);
}

int main(int argc, char *argv[]);
int test_main(int argc, char *argv[]);
#define main test_main
DEFINE_TEST_MAIN
#undef main

int main(int argc, char *argv[]) {
        log_parse_environment();
        if (!pg_uri()) {
                fprintf(stderr, "PATELA_TEST_PG_URI unset: skipped (test/test-server-db-postgres.sh sets it).\n");
                return 77;
        }
        /* Only the migrations, both databases left as db_open() made them (for the schema comparison). */
        if (argc == 2 && streq(argv[1], "migrate_only")) {
                Db *sqlite = NULL, *pg = NULL;
                int r = db_open(getenv("PATELA_TEST_SQLITE_PATH") ?: ":memory:", &sqlite);
                if (r >= 0)
                        r = db_pg_open(pg_uri(), &pg);
                db_close(sqlite);
                db_pg_close(pg);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        return test_main(argc, argv);
}
