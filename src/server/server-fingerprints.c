/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/node/fingerprints: a node reports its relays' public identities once patela-keyd has made their
 * keys, and again when they change. The server keeps one row per relay (migration 7), for the ContactInfo
 * proof file (server-cli-contactinfo.c). Nothing here is secret. */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "server-api.h"
#include "server-fingerprints.h"
#include "string-util.h"

static int step_done(Db *db, DbStmt *s) {
        int rc = db_step(s);
        if (rc != DB_DONE)
                return log_debug_errno(db_result(rc), "SQL step failed: %s", db_error(db));
        return 0;
}

/* The node's relay of that name: its id, -ENOENT if it has none. */
static int node_relay_id(Db *db, int64_t node_id, const char *name, int64_t *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT id FROM relays WHERE node_id = ? AND name = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        db_bind_text(s, 2, name);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        *ret = db_column_int64(s, 0);
        return 0;
}

static int node_enabled(Db *db, int64_t node_id) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare(db, "SELECT 1 FROM nodes WHERE id = ? AND state = 'enabled'", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        rc = db_step(s);
        return rc == DB_ROW ? 0 : rc == DB_DONE ? -EKEYREJECTED : db_result(rc);
}

typedef struct StoreFingerprints {
        int64_t node_id, now;
        const ProtoFingerprintsRequest *req;
        const char **ret_relay;
} StoreFingerprints;

static int fingerprints_store_tx(Db *db, void *userdata) {
        const StoreFingerprints *t = userdata;
        int r;

        /* The session was checked before the body was decoded; a node disabled since must not write. */
        r = node_enabled(db, t->node_id);
        for (size_t i = 0; r >= 0 && i < t->req->n_relays; i++) {
                _cleanup_db_stmt_free_ DbStmt *s = NULL;
                const ProtoRelayFingerprint *f = &t->req->relays[i];
                int64_t relay_id = 0;

                r = node_relay_id(db, t->node_id, f->name, &relay_id);
                if (r >= 0)
                        r = db_stmt_prepare(db,
                                       "INSERT INTO relay_fingerprints (relay_id, rsa_fingerprint, "
                                       "ed25519_identity, reported_at) VALUES (?, ?, ?, ?) "
                                       "ON CONFLICT (relay_id) DO UPDATE SET "
                                       "rsa_fingerprint = excluded.rsa_fingerprint, "
                                       "ed25519_identity = excluded.ed25519_identity, "
                                       "reported_at = excluded.reported_at",
                                       &s);
                if (r >= 0) {
                        db_bind_int64(s, 1, relay_id);
                        db_bind_text(s, 2, f->rsa);
                        if (f->ed25519[0])
                                db_bind_text(s, 3, f->ed25519);
                        else
                                db_bind_null(s, 3);
                        db_bind_int64(s, 4, t->now);
                        /* The only constraints the decoder has not checked are the UNIQUE ones: another
                         * relay's identity. */
                        r = step_done(db, s);
                }
                if (r == -ENOENT || r == -EEXIST)
                        *t->ret_relay = f->name;
        }
        return r;
}

int fingerprints_store(Db *db, int64_t node_id, const ProtoFingerprintsRequest *req, const char **ret_relay) {
        return db_transaction(db, fingerprints_store_tx,
                              &(StoreFingerprints) { .node_id = node_id, .now = now_sec(), .req = req,
                                                     .ret_relay = ret_relay });
}

int fingerprints_list(Db *db, RelayFingerprint **ret, size_t *ret_n) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ RelayFingerprint *list = NULL;
        size_t n = 0, allocated = 0;
        int r, rc;

        r = db_stmt_prepare(db,
                       "SELECT relay_id, rsa_fingerprint, ed25519_identity, reported_at "
                       "FROM relay_fingerprints ORDER BY relay_id",
                       &s);
        if (r < 0)
                return r;
        while ((rc = db_step(s)) == DB_ROW) {
                const unsigned char *ed25519 = (const unsigned char *) db_column_text(s, 2);

                if (n == allocated) {
                        RelayFingerprint *p = realloc(list, (allocated = allocated ? allocated * 2 : 16) *
                                                                    sizeof(RelayFingerprint));
                        if (!p)
                                return -ENOMEM;
                        list = p;
                }
                list[n] = (RelayFingerprint) {
                        .relay_id = db_column_int64(s, 0),
                        .reported_at = db_column_int64(s, 3),
                };
                snprintf(list[n].rsa, sizeof(list[n].rsa), "%s", db_column_text(s, 1));
                snprintf(list[n].ed25519, sizeof(list[n].ed25519), "%s",
                         ed25519 ? (const char *) ed25519 : "");
                n++;
        }
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

const RelayFingerprint *fingerprints_find(const RelayFingerprint *list, size_t n, int64_t relay_id) {
        for (size_t i = 0; i < n; i++)
                if (list[i].relay_id == relay_id)
                        return &list[i];
        return NULL;
}

enum MHD_Result api_node_fingerprints(Request *req, const Node *node) {
        ProtoFingerprintsRequest request;
        const char *relay = NULL;
        ProtoDiag diag = {};
        int r;

        /* Decoded completely (every relay's name and values) before anything is looked up. */
        if (proto_fingerprints_request_decode(req->body, req->size, &request, &diag) < 0)
                return respond_diag(req, &diag);

        r = fingerprints_store(server_db_lock(req->server), node->id, &request, &relay);
        server_db_unlock(req->server);
        if (r == -EKEYREJECTED)
                return respond_error(req, PROTO_ERROR_TOKEN_REJECTED, "Node %" PRIi64 " is not enabled.",
                                     node->id);
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_UNKNOWN_RELAY,
                                     "Relay %s is not one of node %" PRIi64 "'s relays; nothing was stored.",
                                     relay, node->id);
        if (r == -EEXIST)
                return respond_error(req, PROTO_ERROR_FINGERPRINT_CONFLICT,
                                     "The identity reported for relay %s is another relay's; nothing was stored.",
                                     relay);
        if (r < 0) {
                log_error_errno(r, "Storing the fingerprints of node %" PRIi64 " failed: %m", node->id);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Storing the fingerprints failed.");
        }
        log_info("Node %" PRIi64 " (%s) reported the identities of %zu relays.", node->id, node->fingerprint,
                 request.n_relays);
        return respond_body(req, MHD_HTTP_OK, strdup("{}"));
}
