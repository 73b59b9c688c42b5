/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-challenge.h"
#include "server-nodes.h"
#include "server-tlog.h"
#include "server-relays.h"
#include "string-util.h"
#include "tpm2-marshal.h"

static const char *const node_state_table[_NODE_STATE_MAX] = {
        [NODE_PENDING] = "pending",
        [NODE_ENABLED] = "enabled",
        [NODE_DISABLED] = "disabled",
};

const char *node_state_to_string(NodeState s) {
        return s >= 0 && s < _NODE_STATE_MAX ? node_state_table[s] : NULL;
}

NodeState node_state_from_string(const char *s) {
        for (int i = 0; i < _NODE_STATE_MAX; i++)
                if (s && streq(s, node_state_table[i]))
                        return (NodeState) i;
        return _NODE_STATE_INVALID;
}

#define NODE_COLUMNS                                                                                   \
        "id, state, fingerprint, ek_type, ek_public, ak_public, ek_name, ak_name, ek_certificate IS NOT NULL, " \
        "relay_count, first_seen, last_seen, last_source, reset_count, restart_count, " \
        "coalesce(ek_certificate_status, ''), challenge_floor, credential_proven"

typedef struct NodeSnapshotHead {
        int64_t id;
        int64_t reset_count;
        uint64_t challenge_floor_ms;
        int32_t state;
        uint8_t credential_proven;
        char fingerprint[PATELA_FINGERPRINT_LEN + 1];
} NodeSnapshotHead;

int node_snapshot(const Node *n, uint8_t ret[static NODE_SNAPSHOT_MAX], size_t *ret_size) {
        _cleanup_free_ uint8_t *ak = NULL;
        NodeSnapshotHead h = {
                .id = n->id, .reset_count = n->reset_count, .challenge_floor_ms = n->challenge_floor_ms,
                .state = (int32_t) n->state, .credential_proven = n->credential_proven,
        };
        size_t ak_size;
        int r;

        memcpy(h.fingerprint, n->fingerprint, sizeof(h.fingerprint));
        r = tpm2_marshal_TPM2B_PUBLIC(&n->ak_public, &ak, &ak_size);
        if (r < 0)
                return r;
        if (sizeof(h) + ak_size > NODE_SNAPSHOT_MAX)
                return -E2BIG;
        memcpy(ret, &h, sizeof(h));
        memcpy(ret + sizeof(h), ak, ak_size);
        *ret_size = sizeof(h) + ak_size;
        return 0;
}

int node_from_snapshot(const uint8_t *buf, size_t size, Node *ret) {
        NodeSnapshotHead h;
        Node n = {};
        int r;

        if (size <= sizeof(h))
                return -EBADMSG;
        memcpy(&h, buf, sizeof(h));
        if (h.state < 0 || h.state >= _NODE_STATE_MAX || h.fingerprint[sizeof(h.fingerprint) - 1] != '\0')
                return -EBADMSG;
        r = tpm2_unmarshal_TPM2B_PUBLIC(buf + sizeof(h), size - sizeof(h), &n.ak_public);
        if (r < 0)
                return r;
        n.id = h.id;
        n.reset_count = h.reset_count;
        n.challenge_floor_ms = h.challenge_floor_ms;
        n.state = (NodeState) h.state;
        n.credential_proven = h.credential_proven;
        memcpy(n.fingerprint, h.fingerprint, sizeof(n.fingerprint));
        *ret = n;
        return 0;
}

static int blob_to_name(DbStmt *s, int col, TPM2B_NAME *ret) {
        int n = (int) db_column_bytes(s, col);
        if (n <= 0 || (size_t) n > sizeof(ret->name))
                return -EBADMSG;
        ret->size = (uint16_t) n;
        memcpy(ret->name, db_column_blob(s, col), (size_t) n);
        return 0;
}

static int node_from_row(DbStmt *s, Node *ret) {
        Node n = {
                .id = db_column_int64(s, 0),
                .state = node_state_from_string(db_column_text(s, 1)),
                .has_ek_certificate = (int) db_column_int64(s, 8),
                .relay_count = (unsigned) (int) db_column_int64(s, 9),
                .first_seen = db_column_int64(s, 10),
                .last_seen = db_column_int64(s, 11),
                .reset_count = db_column_type(s, 13) == DB_TYPE_NULL ? -1 : db_column_int64(s, 13),
                .restart_count = db_column_type(s, 14) == DB_TYPE_NULL ? -1 : db_column_int64(s, 14),
                .challenge_floor_ms = (uint64_t) db_column_int64(s, 16),
                .credential_proven = db_column_int64(s, 17) != 0,
        };
        const unsigned char *src = (const unsigned char *) db_column_text(s, 12);
        int r;

        snprintf(n.fingerprint, sizeof(n.fingerprint), "%s", db_column_text(s, 2));
        snprintf(n.ek_type, sizeof(n.ek_type), "%s", db_column_text(s, 3));
        snprintf(n.last_source, sizeof(n.last_source), "%s", src ? (const char *) src : "");
        snprintf(n.ek_certificate_status, sizeof(n.ek_certificate_status), "%s",
                 db_column_text(s, 15));
        /* What we stored we parsed before: still, the database is input too. */
        r = tpm2_unmarshal_TPM2B_PUBLIC(db_column_blob(s, 4), (size_t) (int) db_column_bytes(s, 4), &n.ek_public);
        if (r < 0)
                return r;
        r = tpm2_unmarshal_TPM2B_PUBLIC(db_column_blob(s, 5), (size_t) (int) db_column_bytes(s, 5), &n.ak_public);
        if (r < 0)
                return r;
        r = blob_to_name(s, 6, &n.ek_name);
        if (r < 0)
                return r;
        r = blob_to_name(s, 7, &n.ak_name);
        if (r < 0)
                return r;
        if (n.state < 0)
                return -EBADMSG;
        *ret = n;
        return 0;
}

static int node_query(Db *db, const char *where, DbStmt **ret) {
        char sql[512];

        snprintf(sql, sizeof(sql), "SELECT " NODE_COLUMNS " FROM nodes WHERE %s", where);
        return db_stmt_prepare_cached(db, sql, ret);
}

static int node_fetch(DbStmt *s, Node *ret) {
        int rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        return node_from_row(s, ret);
}

int node_get(Db *db, int64_t id, Node *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r = node_query(db, "id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, id);
        return node_fetch(s, ret);
}

int node_get_by_ek_name(Db *db, const TPM2B_NAME *ek_name, Node *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r = node_query(db, "ek_name = ?", &s);
        if (r < 0)
                return r;
        db_bind_blob(s, 1, ek_name->name, ek_name->size);
        return node_fetch(s, ret);
}

int node_get_by_ref(Db *db, const char *ref, Node *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        unsigned long long id;
        char fp[PATELA_FINGERPRINT_LEN + 1];
        int r;

        if (safe_atou64(ref, INT64_MAX, &id) >= 0)
                return node_get(db, (int64_t) id, ret);

        if (strlen(ref) != PATELA_FINGERPRINT_LEN)
                return -EINVAL;
        for (size_t i = 0; i <= PATELA_FINGERPRINT_LEN; i++)
                fp[i] = (char) toupper((unsigned char) ref[i]);
        if (!in_charset(fp, "0123456789ABCDEFGHJKMNPQRSTVWXYZ-"))
                return -EINVAL;

        r = node_query(db, "fingerprint = ?", &s);
        if (r < 0)
                return r;
        db_bind_text(s, 1, fp);
        return node_fetch(s, ret);
}

typedef struct CreatePending {
        const NodeIdentity *id;
        const char *source;
        const uint8_t *ek, *ak;
        size_t ek_size, ak_size;
        unsigned max_pending, relay_count;
        uint64_t pending_lifetime_sec;
        int64_t rowid;
        int64_t expired; /* pending nodes removed for PendingLifetime= */
} CreatePending;

static int create_pending_tx(Db *db, void *userdata) {
        _cleanup_db_stmt_free_ DbStmt *expire = NULL, *count = NULL, *insert = NULL;
        CreatePending *t = userdata;
        const NodeIdentity *id = t->id;
        int64_t now = now_sec();
        int r, rc;

        /* Pending nodes that stopped asking for PendingLifetime= go first: an identity nobody enabled and
         * that is gone does not hold a place under the cap for ever. */
        r = db_stmt_prepare(db, "DELETE FROM nodes WHERE state = 'pending' AND last_seen < ?", &expire);
        if (r < 0)
                return r;
        db_bind_int64(expire, 1, now - (int64_t) MIN(t->pending_lifetime_sec, (uint64_t) now));
        rc = db_step(expire);
        if (rc != DB_DONE)
                return db_result(rc);
        t->expired = db_changes(db);

        /* The cap is checked inside the same write transaction as the insert: no race past it. */
        r = db_stmt_prepare(db, "SELECT COUNT(*) FROM nodes WHERE state = 'pending'", &count);
        if (r < 0)
                return r;
        rc = db_step(count);
        if (rc != DB_ROW) /* -EAGAIN (a serialization failure) kept for db_transaction() */
                return rc < 0 ? rc : -EIO;
        if ((unsigned) db_column_int64(count, 0) >= t->max_pending)
                return -ENOSPC;

        r = db_stmt_prepare(db,
                       "INSERT INTO nodes (ek_name, ek_type, ek_public, ek_certificate, ak_public, ak_name, fingerprint, "
                       "state, first_seen, last_seen, last_source, relay_count, ek_certificate_status, "
                       "ek_certificate_issuer, challenge_floor, credential_proven) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, 1) "
                       "RETURNING id",
                       &insert);
        if (r < 0)
                return r;
        db_bind_blob(insert, 1, id->ek_name.name, id->ek_name.size);
        db_bind_text(insert, 2, id->ek_type);
        db_bind_blob(insert, 3, t->ek, (int) t->ek_size);
        if (id->ek_certificate)
                db_bind_blob(insert, 4, id->ek_certificate, (int) id->ek_certificate_size);
        else
                db_bind_null(insert, 4);
        db_bind_blob(insert, 5, t->ak, (int) t->ak_size);
        db_bind_blob(insert, 6, id->ak_name.name, id->ak_name.size);
        db_bind_text(insert, 7, id->fingerprint);
        db_bind_int64(insert, 8, now);
        db_bind_int64(insert, 9, now);
        db_bind_text(insert, 10, t->source ?: "");
        db_bind_int64(insert, 11, (int) MIN(t->relay_count, 64U));
        db_bind_text(insert, 12, id->ek_certificate_status);
        db_bind_text(insert, 13, id->ek_certificate_issuer);
        /* Node ids can come back after a removal: no challenge of an earlier node with this id is answerable. */
        db_bind_int64(insert, 14, (int64_t) now_ms());
        rc = db_step(insert);
        if (rc != DB_ROW)
                return rc < 0 ? rc : -EIO;
        t->rowid = db_column_int64(insert, 0);
        db_stmt_reset(insert); /* SQLite refuses COMMIT while a write statement is in progress */
        return 0;
}

int node_create_pending(Db *db, const NodeIdentity *id, const char *source, unsigned max_pending,
                        uint64_t pending_lifetime_sec, unsigned relay_count, Node *ret) {
        _cleanup_free_ uint8_t *ek = NULL, *ak = NULL;
        CreatePending t;
        size_t ek_size, ak_size;
        int r;

        r = tpm2_marshal_TPM2B_PUBLIC(&id->ek_public, &ek, &ek_size);
        if (r < 0)
                return r;
        r = tpm2_marshal_TPM2B_PUBLIC(&id->ak_public, &ak, &ak_size);
        if (r < 0)
                return r;

        t = (CreatePending) {
                .id = id, .source = source, .ek = ek, .ak = ak, .ek_size = ek_size, .ak_size = ak_size,
                .max_pending = max_pending, .relay_count = relay_count, .pending_lifetime_sec = pending_lifetime_sec,
        };
        r = db_transaction(db, create_pending_tx, &t);
        if (r < 0)
                return r;
        if (t.expired > 0)
                log_notice("%" PRIi64 " pending nodes removed: not seen for PendingLifetime=%" PRIu64 "s.", t.expired,
                           pending_lifetime_sec);
        return node_get(db, t.rowid, ret);
}

static int exec_bind_id(Db *db, const char *sql, int64_t id) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db, sql, &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, id);
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}

/* Says what ran out when an allocation found no name, address or port for a new relay of the node. */
static void log_exhausted(const char *pool, int64_t id, const RelayAllocation *a) {
        pool = pool ?: "?";
        if (streq(pool, "ORPortRange"))
                log_error("No port of ORPortRange=%u-%u is free on the addresses of node %" PRIi64 "'s new relay: "
                          "widen the range (patela-server.conf(5)).", a->or_port_min, a->or_port_max, id);
        else if (streq(pool, "names"))
                log_error("The names pool has no free name for node %" PRIi64 ": add some with "
                          "'patela-server pool add names …'.", id);
        else
                log_error("The %s pool has no address for node %" PRIi64 ": each carries %u relays "
                          "(RelaysPerAddress=) or another node's; add some with 'patela-server pool add %s …'.",
                          pool, id, a->relays_per_address, pool);
}

typedef struct SetState {
        int64_t id;
        NodeState state;
        unsigned count; /* node_set_relay_count()'s */
        const RelayAllocation *a;
        const char *exhausted; /* the pool relays_allocate() found empty */
} SetState;

static int set_state_tx(Db *db, void *userdata) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        SetState *t = userdata;
        Node n;
        int r, rc;

        t->exhausted = NULL;
        r = node_get(db, t->id, &n);
        if (r < 0)
                return r;

        if (n.state != t->state && (t->state == NODE_ENABLED || t->state == NODE_DISABLED)) {
                _cleanup_free_ char *entry = NULL;
                TlogKind kind = t->state == NODE_ENABLED ? TLOG_NODE_ENABLED : TLOG_NODE_DISABLED;

                r = tlog_entry_node(kind, n.fingerprint, now_sec(), &entry);
                if (r >= 0)
                        r = server_tlog_append(db, kind, now_sec(), entry, NULL);
                if (r < 0)
                        return r;
        }

        /* Every change of state voids the node's open challenges (server-challenge.h): a node disabled and enabled
         * again answers a challenge issued after the enable. */
        r = db_stmt_prepare(db, "UPDATE nodes SET state = ?1, challenge_floor = max(challenge_floor, ?2) WHERE id = ?3", &s);
        if (r < 0)
                return r;
        db_bind_text_static(s, 1, node_state_to_string(t->state));
        db_bind_int64(s, 2, (int64_t) now_ms());
        db_bind_int64(s, 3, t->id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);

        if (t->state == NODE_ENABLED) {
                const char *pool = NULL;

                r = relays_allocate(db, t->id, n.relay_count, t->a, &pool);
                if (r == -ENOSPC)
                        t->exhausted = pool ?: "?";
                return r;
        }
        /* A node that is not enabled has no session (and no open challenge: the floor above), at once. */
        return exec_bind_id(db, "DELETE FROM sessions WHERE node_id = ?", t->id);
}

int node_set_state(Db *db, int64_t id, NodeState state, const RelayAllocation *a) {
        SetState t = { .id = id, .state = state, .a = a };
        int r;

        r = db_transaction(db, set_state_tx, &t);
        if (r == -ENOSPC && t.exhausted)
                log_exhausted(t.exhausted, id, a);
        return r;
}

static int set_relay_count_tx(Db *db, void *userdata) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        SetState *t = userdata;
        Node n;
        int r, rc;

        t->exhausted = NULL;
        r = node_get(db, t->id, &n);
        if (r < 0)
                return r;
        r = db_stmt_prepare(db, "UPDATE nodes SET relay_count = ? WHERE id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int) t->count);
        db_bind_int64(s, 2, t->id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        /* Only an enabled node holds relays; a pending one gets them when it is enabled. */
        if (n.state == NODE_ENABLED) {
                const char *pool = NULL;

                r = relays_allocate(db, t->id, t->count, t->a, &pool);
                if (r == -ENOSPC)
                        t->exhausted = pool ?: "?";
                return r;
        }
        return 0;
}

int node_set_relay_count(Db *db, int64_t id, unsigned count, const RelayAllocation *a) {
        SetState t = { .id = id, .count = count, .a = a };
        int r;

        if (count > 64)
                return -ERANGE;
        r = db_transaction(db, set_relay_count_tx, &t);
        if (r == -ENOSPC && t.exhausted)
                log_exhausted(t.exhausted, id, a);
        return r;
}

int node_remove(Db *db, int64_t id) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db, "DELETE FROM nodes WHERE id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        return (int) db_changes(db) > 0 ? 0 : -ENOENT;
}

int node_touch(Db *db, int64_t id, const char *source) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare_cached(db, "UPDATE nodes SET last_seen = ?, last_source = ? WHERE id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, now_sec());
        db_bind_text(s, 2, source ?: "");
        db_bind_int64(s, 3, id);
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}
