/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "protocol.h"
#include "server-relays.h"
#include "string-util.h"

static int step_done(Db *db, DbStmt *s) {
        int rc = db_step(s);
        if (rc != DB_DONE)
                return log_debug_errno(db_result(rc), "SQL step failed: %s", db_error(db));
        return 0;
}

/* The first free name of the names pool. -ENOSPC if there is none (no pool at all is as bad: a relay needs a
 * nickname). */
static int pick_name(Db *db, char ret[static TOR_NICKNAME_MAX + 1]) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT name FROM pool_names WHERE relay_id IS NULL ORDER BY rowid LIMIT 1", &s);
        if (r < 0)
                return r;
        rc = db_step(s);
        if (rc != DB_ROW)
                return rc == DB_DONE ? -ENOSPC : db_result(rc);
        snprintf(ret, TOR_NICKNAME_MAX + 1, "%s", db_column_text(s, 0));
        return 0;
}

/* The address of this family for a new relay of the node: the least loaded one that carries no other node's
 * relay and fewer than per_address relays, the pool's order breaking ties. Returns 1 with ret set, 0 if the
 * family has no pool (the operator does not use it: the relay goes without), -ENOSPC if it has one but no
 * address is usable. */
static int pick_address(Db *db, int family, int64_t node_id, unsigned per_address, char ret[static INET6_ADDRSTRLEN]) {
        _cleanup_db_stmt_free_ DbStmt *pick = NULL, *any = NULL;
        int r, rc;

#define PICK_ADDRESS_SQL(column, fam)                                                                           \
        "SELECT address FROM (SELECT p.rowid AS pos, p.address, "                                               \
        "(SELECT COUNT(*) FROM relays r WHERE r." column " = p.address) AS load, "                               \
        "EXISTS (SELECT 1 FROM relays r WHERE r." column " = p.address AND r.node_id != ?2) AS elsewhere "       \
        "FROM pool_addresses p WHERE p.family = " fam ") "                                                        \
        "WHERE load < ?1 AND NOT elsewhere ORDER BY load, pos LIMIT 1"
        r = db_stmt_prepare(db, family == 4 ? PICK_ADDRESS_SQL("ipv4", "4") : PICK_ADDRESS_SQL("ipv6", "6"), &pick);
#undef PICK_ADDRESS_SQL
        if (r < 0)
                return r;
        db_bind_int64(pick, 1, (int) per_address);
        db_bind_int64(pick, 2, node_id);
        rc = db_step(pick);
        if (rc == DB_ROW) {
                snprintf(ret, INET6_ADDRSTRLEN, "%s", db_column_text(pick, 0));
                return 1;
        }
        if (rc != DB_DONE)
                return db_result(rc);
        r = db_stmt_prepare(db, "SELECT 1 FROM pool_addresses WHERE family = ? LIMIT 1", &any);
        if (r < 0)
                return r;
        db_bind_int64(any, 1, family);
        rc = db_step(any);
        return rc == DB_ROW ? -ENOSPC : db_result(rc);
}

static void bind_text_or_null(DbStmt *s, int i, const char *v) {
        if (v && v[0])
                db_bind_text(s, i, v);
        else
                db_bind_null(s, i);
}

/* The lowest port of the range that a relay on these addresses (empty: none) of this node can listen on: no
 * relay holds it on either address, and for a relay without an address, which listens on every address of
 * the node (loopback too), no relay of the node holds it anywhere and no metrics listener can. The ports of
 * relays with no address conflict likewise with every relay of their node. -ENOSPC if none is left. */
static int pick_port(Db *db, int64_t node_id, const char *ipv4, const char *ipv6, const RelayAllocation *a,
                     unsigned *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        bool anywhere = !ipv4[0] && !ipv6[0];
        unsigned port = a->or_port_min;
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT DISTINCT or_port FROM relays WHERE or_port BETWEEN ?1 AND ?2 AND "
                       "(ipv4 = ?3 OR ipv6 = ?4 OR (node_id = ?5 AND (?6 OR (ipv4 IS NULL AND ipv6 IS NULL)))) "
                       "ORDER BY or_port",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int) a->or_port_min);
        db_bind_int64(s, 2, (int) a->or_port_max);
        bind_text_or_null(s, 3, ipv4);
        bind_text_or_null(s, 4, ipv6);
        db_bind_int64(s, 5, node_id);
        db_bind_int64(s, 6, anywhere);
        /* The taken ports come in order: the first gap below the next taken one is the answer. */
        for (;;) {
                unsigned taken;

                if (anywhere && port >= METRICS_PORT_BASE && port < METRICS_PORT_BASE + PROTO_RELAYS_MAX)
                        port = METRICS_PORT_BASE + PROTO_RELAYS_MAX;
                if (port > a->or_port_max)
                        return -ENOSPC;
                rc = db_step(s);
                if (rc == DB_DONE)
                        break;
                if (rc != DB_ROW)
                        return db_result(rc) ?: -EIO;
                taken = (unsigned) (int) db_column_int64(s, 0);
                if (taken > port)
                        break;
                if (taken == port)
                        port++;
        }
        *ret = port;
        return 0;
}

int relays_allocate(Db *db, int64_t node_id, unsigned count, const RelayAllocation *a, const char **ret_pool) {
        _cleanup_db_stmt_free_ DbStmt *del = NULL;
        int r;

        assert(a && a->relays_per_address > 0 && a->or_port_min > 0 && a->or_port_min <= a->or_port_max);

        r = db_stmt_prepare(db, "DELETE FROM relays WHERE node_id = ? AND slot >= ?", &del);
        if (r < 0)
                return r;
        db_bind_int64(del, 1, node_id);
        db_bind_int64(del, 2, (int) count);
        r = step_done(db, del);
        if (r < 0)
                return r;

        for (unsigned slot = 0; slot < count; slot++) {
                _cleanup_db_stmt_free_ DbStmt *exists = NULL, *insert = NULL, *take = NULL;
                char name[TOR_NICKNAME_MAX + 1], ipv4[INET6_ADDRSTRLEN] = "", ipv6[INET6_ADDRSTRLEN] = "";
                unsigned port = 0;
                int64_t relay_id;

                r = db_stmt_prepare(db, "SELECT 1 FROM relays WHERE node_id = ? AND slot = ?", &exists);
                if (r < 0)
                        return r;
                db_bind_int64(exists, 1, node_id);
                db_bind_int64(exists, 2, (int) slot);
                if (db_step(exists) == DB_ROW)
                        continue;

                r = pick_name(db, name);
                if (r == -ENOSPC && ret_pool)
                        *ret_pool = "names";
                if (r < 0)
                        return r;
                r = pick_address(db, 4, node_id, a->relays_per_address, ipv4);
                if (r == -ENOSPC && ret_pool)
                        *ret_pool = "ipv4";
                if (r < 0)
                        return r;
                r = pick_address(db, 6, node_id, a->relays_per_address, ipv6);
                if (r == -ENOSPC && ret_pool)
                        *ret_pool = "ipv6";
                if (r < 0)
                        return r;
                r = pick_port(db, node_id, ipv4, ipv6, a, &port);
                if (r == -ENOSPC && ret_pool)
                        *ret_pool = "ORPortRange";
                if (r < 0)
                        return r;

                r = db_stmt_prepare(db,
                                    "INSERT INTO relays (node_id, slot, name, ipv4, ipv6, or_port) VALUES (?, ?, ?, ?, ?, ?) "
                                    "RETURNING id",
                                    &insert);
                if (r < 0)
                        return r;
                db_bind_int64(insert, 1, node_id);
                db_bind_int64(insert, 2, (int) slot);
                db_bind_text(insert, 3, name);
                bind_text_or_null(insert, 4, ipv4);
                bind_text_or_null(insert, 5, ipv6);
                db_bind_int64(insert, 6, (int) port);
                r = db_step(insert);
                if (r != DB_ROW)
                        return log_debug_errno(r < 0 ? r : -EIO, "SQL step failed: %s", db_error(db));
                relay_id = db_column_int64(insert, 0);
                db_stmt_reset(insert);

                r = db_stmt_prepare(db, "UPDATE pool_names SET relay_id = ? WHERE name = ?", &take);
                if (r < 0)
                        return r;
                db_bind_int64(take, 1, relay_id);
                db_bind_text(take, 2, name);
                r = step_done(db, take);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void relay_from_row(DbStmt *s, Relay *r) {
        const unsigned char *t;

        *r = (Relay) {
                .id = db_column_int64(s, 0),
                .node_id = db_column_int64(s, 1),
                .slot = (unsigned) (int) db_column_int64(s, 2),
        };
        snprintf(r->name, sizeof(r->name), "%s", db_column_text(s, 3));
        if ((t = (const unsigned char *) db_column_text(s, 4)))
                snprintf(r->ipv4, sizeof(r->ipv4), "%s", (const char *) t);
        if ((t = (const unsigned char *) db_column_text(s, 5)))
                snprintf(r->ipv6, sizeof(r->ipv6), "%s", (const char *) t);
        r->or_port = (unsigned) (int) db_column_int64(s, 6);
}

int relays_list(Db *db, int64_t node_id, Relay **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ Relay *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT id, node_id, slot, name, ipv4, ipv6, or_port FROM relays WHERE (?1 < 0 OR node_id = ?1) "
                       "ORDER BY node_id, slot",
                       &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        while ((rc = db_step(s)) == DB_ROW) {
                if (n == allocated) {
                        Relay *p = realloc(list, (allocated = allocated ? allocated * 2 : 8) * sizeof(Relay));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                relay_from_row(s, &list[n++]);
        }
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int relay_get_by_name(Db *db, const char *name, Relay *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        r = db_stmt_prepare(db, "SELECT id, node_id, slot, name, ipv4, ipv6, or_port FROM relays WHERE name = ?", &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, name);
        if (db_step(s) != DB_ROW)
                return -ENOENT;
        relay_from_row(s, ret);
        return 0;
}

typedef struct PoolAdd {
        int family; /* 4, 6, or 0 for names */
        char *const *values;
        size_t n;
        const char **ret_bad;
} PoolAdd;

static int pool_add_tx(Db *db, void *userdata) {
        const PoolAdd *t = userdata;
        int r;

        for (size_t i = 0; i < t->n; i++) {
                _cleanup_db_stmt_free_ DbStmt *s = NULL;
                unsigned char buf[sizeof(struct in6_addr)];
                char canonical[INET6_ADDRSTRLEN];
                const char *v = t->values[i];
                int rc;

                if (t->family == 0 ? !tor_nickname_ok(v)
                                   : inet_pton(t->family == 4 ? AF_INET : AF_INET6, v, buf) != 1) {
                        *t->ret_bad = v;
                        return -EINVAL;
                }
                if (t->family != 0) {
                        /* One spelling per address, so that a duplicate is a duplicate. */
                        inet_ntop(t->family == 4 ? AF_INET : AF_INET6, buf, canonical, sizeof(canonical));
                        v = canonical;
                }
                r = db_stmt_prepare(db,
                               t->family == 0 ? "INSERT INTO pool_names (name) VALUES (?)"
                                              : "INSERT INTO pool_addresses (address, family) VALUES (?, ?)",
                               &s);
                if (r < 0)
                        return r;
                db_bind_text(s, 1, v);
                if (t->family != 0)
                        db_bind_int64(s, 2, t->family);
                rc = db_step(s);
                if (rc != DB_DONE) {
                        *t->ret_bad = t->values[i];
                        return db_result(rc);
                }
        }
        return 0;
}

int pool_add(Db *db, const char *kind, char *const *values, size_t n, const char **ret_bad) {
        int family = streq(kind, "ipv4") ? 4 : streq(kind, "ipv6") ? 6 : streq(kind, "names") ? 0 : -1;

        if (family < 0)
                return -EINVAL;
        return db_transaction(db, pool_add_tx,
                              &(PoolAdd) { .family = family, .values = values, .n = n, .ret_bad = ret_bad });
}

void pool_entries_free(PoolEntry *e, size_t n) {
        for (size_t i = 0; e && i < n; i++)
                free(e[i].relays);
        free(e);
}

int pool_list(Db *db, const char *kind, PoolEntry **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        PoolEntry *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT * FROM ("
                       "SELECT 0 AS k, p.rowid AS pos, 'names', p.name, r.node_id, COUNT(r.id), "
                       "group_concat(r.name, ' ' ORDER BY r.slot) "
                       "FROM pool_names p LEFT JOIN relays r ON r.id = p.relay_id GROUP BY p.rowid, p.name, r.node_id "
                       "UNION ALL "
                       "SELECT p.family, p.rowid, CASE p.family WHEN 4 THEN 'ipv4' ELSE 'ipv6' END, p.address, "
                       "MIN(r.node_id), COUNT(r.id), group_concat(r.name, ' ' ORDER BY r.slot) "
                       "FROM pool_addresses p LEFT JOIN relays r "
                       "ON (p.family = 4 AND r.ipv4 = p.address) OR (p.family = 6 AND r.ipv6 = p.address) "
                       "GROUP BY p.rowid, p.family, p.address) "
                       "WHERE ?1 IS NULL OR k = CASE ?1 WHEN 'names' THEN 0 WHEN 'ipv4' THEN 4 WHEN 'ipv6' THEN 6 END "
                       "ORDER BY k, pos",
                       &s);
        if (r < 0)
                return r;
        if (kind)
                db_bind_text(s, 1, kind);
        while ((rc = db_step(s)) == DB_ROW) {
                const unsigned char *relays = (const unsigned char *) db_column_text(s, 6);

                if (n == allocated) {
                        PoolEntry *p = realloc(list, (allocated = allocated ? allocated * 2 : 16) * sizeof(PoolEntry));
                        if (!p) {
                                pool_entries_free(list, n);
                                return -ENOMEM;
                        }
                        list = p;
                }
                list[n] = (PoolEntry) {
                        .node_id = db_column_type(s, 4) == DB_TYPE_NULL ? -1 : db_column_int64(s, 4),
                        .n_relays = (unsigned) (int) db_column_int64(s, 5),
                };
                snprintf(list[n].kind, sizeof(list[n].kind), "%s", db_column_text(s, 2));
                snprintf(list[n].value, sizeof(list[n].value), "%s", db_column_text(s, 3));
                if (relays && !(list[n].relays = strdup((const char *) relays))) {
                        pool_entries_free(list, n);
                        return -ENOMEM;
                }
                n++;
        }
        if (rc != DB_DONE) {
                pool_entries_free(list, n);
                return db_result(rc);
        }
        *ret = list;
        *ret_n = n;
        return 0;
}
