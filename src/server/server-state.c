/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/node/state and POST /v1/node/state/save: each relay's tor state file (its bandwidth history), as
 * patela-keyd sealed it on the node under a key derived from its sealed KEK. The server keeps the last blob of
 * each relay (migration 12), replaced atomically, gone with the relay, and never has the key: it cannot read
 * them, and hands them back only to a node whose boot it judges Trusted now, the same rule as the family keys
 * (family_released()). */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "server-api.h"
#include "server-family.h"
#include "server-state.h"
#include "string-util.h"

static int step_done(Db *db, DbStmt *s) {
        int rc = db_step(s);
        if (rc != DB_DONE)
                return log_debug_errno(db_result(rc), "SQL step failed: %s", db_error(db));
        return 0;
}

/* -EPERM unless the node's boot is judged Trusted on an image in service. */
static int node_trusted(Db *db, int64_t node_id) {
        int r = family_released(db, node_id);
        return r < 0 ? r : r > 0 ? 0 : -EPERM;
}

typedef struct StoreStates {
        int64_t node_id, now;
        const ProtoRelayStates *req;
        const char **ret_relay;
} StoreStates;

static int relay_states_store_tx(Db *db, void *userdata) {
        const StoreStates *t = userdata;
        int r;

        /* The session was checked before the body was decoded; the verdict may have changed since. */
        r = node_trusted(db, t->node_id);
        for (size_t i = 0; r >= 0 && i < t->req->n_relays; i++) {
                _cleanup_db_stmt_free_ DbStmt *s = NULL;
                const ProtoRelayState *e = &t->req->relays[i];

                r = db_stmt_prepare(db,
                               "INSERT INTO relay_states (relay_id, state, saved_at) "
                               "SELECT id, ?, ? FROM relays WHERE node_id = ? AND name = ? "
                               "ON CONFLICT (relay_id) DO UPDATE SET "
                               "state = excluded.state, saved_at = excluded.saved_at",
                               &s);
                if (r < 0)
                        break;
                db_bind_blob(s, 1, e->state.data, (int) e->state.size);
                db_bind_int64(s, 2, t->now);
                db_bind_int64(s, 3, t->node_id);
                db_bind_text(s, 4, e->name);
                r = step_done(db, s);
                if (r >= 0 && (int) db_changes(db) != 1) {
                        *t->ret_relay = e->name;
                        r = -ENOENT;
                }
        }
        return r;
}

int relay_states_store(Db *db, int64_t node_id, const ProtoRelayStates *req, const char **ret_relay) {
        return db_transaction(db, relay_states_store_tx,
                              &(StoreStates) { .node_id = node_id, .now = now_sec(), .req = req, .ret_relay = ret_relay });
}

int relay_states_get(Db *db, int64_t node_id, ProtoRelayStates *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        ProtoRelayStates states = {};
        int r, rc;

        r = db_begin_read(db);
        if (r < 0)
                return r;
        r = node_trusted(db, node_id);
        if (r >= 0)
                r = db_stmt_prepare(db,
                               "SELECT r.name, st.state FROM relay_states st JOIN relays r ON r.id = st.relay_id "
                               "WHERE r.node_id = ? ORDER BY r.id",
                               &s);
        if (r >= 0) {
                db_bind_int64(s, 1, node_id);
                while (r >= 0 && (rc = db_step(s)) == DB_ROW)
                        r = proto_relay_states_add(&states, db_column_text(s, 0),
                                                   db_column_blob(s, 1), (size_t) (int) db_column_bytes(s, 1));
                if (r >= 0 && rc != DB_DONE)
                        r = db_result(rc);
        }
        db_stmt_free(TAKE_PTR(s));
        db_rollback(db); /* read only */
        if (r < 0) {
                proto_relay_states_done(&states);
                return r;
        }
        *ret = states;
        return 0;
}

int relay_states_saved(Db *db, RelayStateSaved **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ RelayStateSaved *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT relay_id, saved_at FROM relay_states ORDER BY relay_id", &s);
        if (r < 0)
                return r;
        while ((rc = db_step(s)) == DB_ROW) {
                if (n == allocated) {
                        RelayStateSaved *p = realloc(list, (allocated = allocated ? allocated * 2 : 16) *
                                                                   sizeof(RelayStateSaved));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                list[n++] = (RelayStateSaved) {
                        .relay_id = db_column_int64(s, 0),
                        .saved_at = db_column_int64(s, 1),
                };
        }
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

const RelayStateSaved *relay_states_saved_find(const RelayStateSaved *list, size_t n, int64_t relay_id) {
        for (size_t i = 0; i < n; i++)
                if (list[i].relay_id == relay_id)
                        return &list[i];
        return NULL;
}

static enum MHD_Result respond_not_trusted(Request *req, const Node *node, const char *what) {
        log_notice("Node %" PRIi64 " (%s): %s the relays' tor state refused: its last attestation was not judged "
                   "Trusted on an image in service.", node->id, node->fingerprint, what);
        return respond_error(req, PROTO_ERROR_NOT_TRUSTED,
                             "Node %" PRIi64 "'s boot is not judged Trusted: no tor state is released or stored.",
                             node->id);
}

enum MHD_Result api_node_state(Request *req, const Node *node) {
        _cleanup_(proto_relay_states_done) ProtoRelayStates states = {};
        char *body = NULL;
        int r;

        r = relay_states_get(server_db_lock(req->server), node->id, &states);
        server_db_unlock(req->server);
        if (r == -EPERM)
                return respond_not_trusted(req, node, "Fetching");
        if (r >= 0)
                r = proto_relay_states_encode(&states, &body);
        if (r < 0) {
                log_error_errno(r, "Reading the tor state of node %" PRIi64 "'s relays failed: %m", node->id);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Reading the relays' tor state failed.");
        }
        log_info("Node %" PRIi64 " (%s) fetched the sealed tor state of %zu relays.", node->id, node->fingerprint,
                 states.n_relays);
        return respond_body(req, MHD_HTTP_OK, body);
}

enum MHD_Result api_node_state_save(Request *req, const Node *node) {
        _cleanup_(proto_relay_states_done) ProtoRelayStates states = {};
        const char *relay = NULL;
        ProtoDiag diag = {};
        int r;

        if (proto_relay_states_decode(req->body, req->size, /* min_relays= */ 1, &states, &diag) < 0)
                return respond_diag(req, &diag);
        r = relay_states_store(server_db_lock(req->server), node->id, &states, &relay);
        server_db_unlock(req->server);
        if (r == -EPERM)
                return respond_not_trusted(req, node, "Saving");
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_UNKNOWN_RELAY,
                                     "Relay %s is not one of node %" PRIi64 "'s relays; nothing was stored.",
                                     relay ?: "?", node->id);
        if (r < 0) {
                log_error_errno(r, "Storing the tor state of node %" PRIi64 "'s relays failed: %m", node->id);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Storing the relays' tor state failed.");
        }
        log_info("Node %" PRIi64 " (%s) saved the sealed tor state of %zu relays.", node->id, node->fingerprint,
                 states.n_relays);
        return respond_body(req, MHD_HTTP_OK, strdup("{}"));
}
