/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-relays.h"
#include "string-util.h"

static int step_done(Db *db, sqlite3_stmt *s) {
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return log_debug_errno(db_errno(rc), "SQL step failed: %s", db_error(db));
        return 0;
}

/* Takes the first free entry of a pool for the relay. Returns 1 if taken, 0 if the pool has no entries at
 * all (the operator does not use it), -ENOSPC if it has entries but none is free. */
static int take_from_pool(Db *db, const char *table, int family, int64_t relay_id, char *ret, size_t size) {
        _cleanup_stmt_ sqlite3_stmt *pick = NULL, *take = NULL, *any = NULL;
        char sql[256];
        const char *column = family == 0 ? "name" : "address";
        int r;

        snprintf(sql, sizeof(sql), "SELECT %s FROM %s WHERE relay_id IS NULL%s ORDER BY rowid LIMIT 1", column,
                 table, family == 4 ? " AND family = 4" : family == 6 ? " AND family = 6" : "");
        r = db_prepare(db, sql, &pick);
        if (r < 0)
                return r;
        if (sqlite3_step(pick) != SQLITE_ROW) {
                snprintf(sql, sizeof(sql), "SELECT 1 FROM %s%s LIMIT 1", table,
                         family == 4 ? " WHERE family = 4" : family == 6 ? " WHERE family = 6" : "");
                r = db_prepare(db, sql, &any);
                if (r < 0)
                        return r;
                return sqlite3_step(any) == SQLITE_ROW ? -ENOSPC : 0;
        }
        snprintf(ret, size, "%s", (const char *) sqlite3_column_text(pick, 0));

        snprintf(sql, sizeof(sql), "UPDATE %s SET relay_id = ? WHERE %s = ?", table, column);
        r = db_prepare(db, sql, &take);
        if (r < 0)
                return r;
        sqlite3_bind_int64(take, 1, relay_id);
        sqlite3_bind_text(take, 2, ret, -1, SQLITE_TRANSIENT);
        r = step_done(db, take);
        if (r < 0)
                return r;
        return 1;
}

int relays_allocate(Db *db, int64_t node_id, unsigned count, const char **ret_pool) {
        _cleanup_stmt_ sqlite3_stmt *del = NULL;
        int r;

        r = db_prepare(db, "DELETE FROM relays WHERE node_id = ? AND slot >= ?", &del);
        if (r < 0)
                return r;
        sqlite3_bind_int64(del, 1, node_id);
        sqlite3_bind_int(del, 2, (int) count);
        r = step_done(db, del);
        if (r < 0)
                return r;

        for (unsigned slot = 0; slot < count; slot++) {
                _cleanup_stmt_ sqlite3_stmt *exists = NULL, *insert = NULL, *name_set = NULL;
                char name[TOR_NICKNAME_MAX + 1] = "", addr[INET6_ADDRSTRLEN];
                int64_t relay_id;

                r = db_prepare(db, "SELECT 1 FROM relays WHERE node_id = ? AND slot = ?", &exists);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(exists, 1, node_id);
                sqlite3_bind_int(exists, 2, (int) slot);
                if (sqlite3_step(exists) == SQLITE_ROW)
                        continue;

                /* Insert with a placeholder name (unique per node and slot), then take the real one. */
                r = db_prepare(db, "INSERT INTO relays (node_id, slot, name) VALUES (?, ?, '/' || ? || '/' || ?)",
                               &insert);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(insert, 1, node_id);
                sqlite3_bind_int(insert, 2, (int) slot);
                sqlite3_bind_int64(insert, 3, node_id);
                sqlite3_bind_int(insert, 4, (int) slot);
                r = step_done(db, insert);
                if (r < 0)
                        return r;
                relay_id = sqlite3_last_insert_rowid(db->sqlite);

                r = take_from_pool(db, "pool_names", 0, relay_id, name, sizeof(name));
                if (r <= 0) {
                        /* No name pool at all is as bad as an empty one: a relay needs a nickname. */
                        if (ret_pool)
                                *ret_pool = "names";
                        return r < 0 && r != -ENOSPC ? r : -ENOSPC;
                }
                r = db_prepare(db, "UPDATE relays SET name = ? WHERE id = ?", &name_set);
                if (r < 0)
                        return r;
                sqlite3_bind_text(name_set, 1, name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(name_set, 2, relay_id);
                r = step_done(db, name_set);
                if (r < 0)
                        return r;

                for (int family = 4; family <= 6; family += 2) {
                        _cleanup_stmt_ sqlite3_stmt *set = NULL;

                        r = take_from_pool(db, "pool_addresses", family, relay_id, addr, sizeof(addr));
                        if (r == -ENOSPC && ret_pool)
                                *ret_pool = family == 4 ? "ipv4" : "ipv6";
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        r = db_prepare(db, family == 4 ? "UPDATE relays SET ipv4 = ? WHERE id = ?"
                                                       : "UPDATE relays SET ipv6 = ? WHERE id = ?",
                                       &set);
                        if (r < 0)
                                return r;
                        sqlite3_bind_text(set, 1, addr, -1, SQLITE_TRANSIENT);
                        sqlite3_bind_int64(set, 2, relay_id);
                        r = step_done(db, set);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void relay_from_row(sqlite3_stmt *s, Relay *r) {
        const unsigned char *t;

        *r = (Relay) {
                .id = sqlite3_column_int64(s, 0),
                .node_id = sqlite3_column_int64(s, 1),
                .slot = (unsigned) sqlite3_column_int(s, 2),
        };
        snprintf(r->name, sizeof(r->name), "%s", (const char *) sqlite3_column_text(s, 3));
        if ((t = sqlite3_column_text(s, 4)))
                snprintf(r->ipv4, sizeof(r->ipv4), "%s", (const char *) t);
        if ((t = sqlite3_column_text(s, 5)))
                snprintf(r->ipv6, sizeof(r->ipv6), "%s", (const char *) t);
}

int relays_list(Db *db, int64_t node_id, Relay **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        _cleanup_free_ Relay *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_prepare(db,
                       "SELECT id, node_id, slot, name, ipv4, ipv6 FROM relays WHERE (?1 < 0 OR node_id = ?1) "
                       "ORDER BY node_id, slot",
                       &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, node_id);
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                if (n == allocated) {
                        Relay *p = realloc(list, (allocated = allocated ? allocated * 2 : 8) * sizeof(Relay));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                relay_from_row(s, &list[n++]);
        }
        if (rc != SQLITE_DONE)
                return db_errno(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int relay_get_by_name(Db *db, const char *name, Relay *ret) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        r = db_prepare(db, "SELECT id, node_id, slot, name, ipv4, ipv6 FROM relays WHERE name = ?", &s);
        if (r < 0)
                return r;
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) != SQLITE_ROW)
                return -ENOENT;
        relay_from_row(s, ret);
        return 0;
}

int pool_add(Db *db, const char *kind, char *const *values, size_t n, const char **ret_bad) {
        int family = streq(kind, "ipv4") ? 4 : streq(kind, "ipv6") ? 6 : streq(kind, "names") ? 0 : -1;
        int r;

        if (family < 0)
                return -EINVAL;

        r = db_begin(db);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_stmt_ sqlite3_stmt *s = NULL;
                unsigned char buf[sizeof(struct in6_addr)];
                char canonical[INET6_ADDRSTRLEN];
                const char *v = values[i];
                int rc;

                if (family == 0 ? !tor_nickname_ok(v) : inet_pton(family == 4 ? AF_INET : AF_INET6, v, buf) != 1) {
                        *ret_bad = v;
                        r = -EINVAL;
                        goto fail;
                }
                if (family != 0) {
                        /* One spelling per address, so that a duplicate is a duplicate. */
                        inet_ntop(family == 4 ? AF_INET : AF_INET6, buf, canonical, sizeof(canonical));
                        v = canonical;
                }
                r = db_prepare(db,
                               family == 0 ? "INSERT INTO pool_names (name) VALUES (?)"
                                           : "INSERT INTO pool_addresses (address, family) VALUES (?, ?)",
                               &s);
                if (r < 0)
                        goto fail;
                sqlite3_bind_text(s, 1, v, -1, SQLITE_TRANSIENT);
                if (family != 0)
                        sqlite3_bind_int(s, 2, family);
                rc = sqlite3_step(s);
                if (rc != SQLITE_DONE) {
                        *ret_bad = values[i];
                        r = db_errno(rc);
                        goto fail;
                }
        }
        return db_commit(db);
fail:
        db_rollback(db);
        return r;
}

int pool_list(Db *db, const char *kind, PoolEntry **ret, size_t *ret_n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        _cleanup_free_ PoolEntry *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_prepare(db,
                       "SELECT 'names', p.name, r.name FROM pool_names p LEFT JOIN relays r ON r.id = p.relay_id "
                       "UNION ALL "
                       "SELECT CASE p.family WHEN 4 THEN 'ipv4' ELSE 'ipv6' END, p.address, r.name "
                       "FROM pool_addresses p LEFT JOIN relays r ON r.id = p.relay_id",
                       &s);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
                const unsigned char *relay = sqlite3_column_text(s, 2);
                if (kind && !streq(kind, (const char *) sqlite3_column_text(s, 0)))
                        continue;
                if (n == allocated) {
                        PoolEntry *p = realloc(list, (allocated = allocated ? allocated * 2 : 16) * sizeof(PoolEntry));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                snprintf(list[n].kind, sizeof(list[n].kind), "%s", (const char *) sqlite3_column_text(s, 0));
                snprintf(list[n].value, sizeof(list[n].value), "%s", (const char *) sqlite3_column_text(s, 1));
                snprintf(list[n].relay, sizeof(list[n].relay), "%s", relay ? (const char *) relay : "");
                n++;
        }
        if (rc != SQLITE_DONE)
                return db_errno(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}
