/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/crypto.h>
#include <string.h>

#include "hexdecoct.h"
#include "log.h"
#include "server-api.h"
#include "string-util.h"
#include "tpm2-marshal.h"

/* The node of a session token's hash, if the session has not expired. */
static int session_node(Db *db, const uint8_t *hash, size_t hsize, Node *ret) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int64_t node_id;
        int r;

        r = db_prepare_cached(db,
                              "SELECT s.node_id FROM sessions s JOIN nodes n ON n.id = s.node_id "
                              "WHERE s.token_hash = ? AND s.expires_at > ? AND n.state = 'enabled'",
                              &s);
        if (r < 0)
                return r;
        sqlite3_bind_blob(s, 1, hash, (int) hsize, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, (int64_t) now_usec());
        if (sqlite3_step(s) != SQLITE_ROW)
                return -EKEYREJECTED;
        node_id = sqlite3_column_int64(s, 0);
        return node_get(db, node_id, ret);
}

/* Looks up the session of a bearer token; the node must exist and be enabled *now*: disabling a node
 * deletes its sessions, and this check also covers a state change racing with the request. */
static int authenticate(Request *req, Node *ret) {
        const char *h = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
        _cleanup_free_ void *token = NULL;
        uint8_t hash[64];
        const char *b64;
        size_t size, hsize;
        int r;

        if (!h || !(b64 = startswith(h, "Bearer ")))
                return -ENOKEY;
        if (strlen(b64) > 64 || unbase64mem(b64, PROTO_TOKEN_SIZE, &token, &size) < 0 || size != PROTO_TOKEN_SIZE)
                return -EKEYREJECTED;
        r = tpm2_digest(TPM2_ALG_SHA256, token, size, hash, &hsize);
        if (r < 0)
                return r;

        r = session_node(server_db_lock(req->server), hash, hsize, ret);
        server_db_unlock(req->server);
        return r;
}

enum MHD_Result api_dispatch(Request *req) {
        ProtoEndpoint e = proto_endpoint_from_path(req->url);
        const ProtoEndpointInfo *info;
        Node node;
        int r;

        if (e < 0)
                return respond_error(req, PROTO_ERROR_NOT_FOUND, "No such endpoint.");
        info = proto_endpoint(e);
        if (!streq(req->method, info->method))
                return respond_error(req, PROTO_ERROR_METHOD_NOT_ALLOWED, "Use %s.", info->method);
        if (info->authenticated) {
                r = authenticate(req, &node);
                if (r == -ENOKEY)
                        return respond_error(req, PROTO_ERROR_TOKEN_MISSING,
                                             "An 'Authorization: Bearer TOKEN' header from %s is required.",
                                             proto_endpoint_path(PROTO_ATTEST));
                if (r == -EKEYREJECTED || r == -ENOENT)
                        return respond_error(req, PROTO_ERROR_TOKEN_REJECTED,
                                             "The session token is unknown, expired, or its node is not enabled.");
                if (r < 0)
                        return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Session lookup failed.");
        }
        switch (e) {
        case PROTO_HEALTH:
                return respond_body(req, MHD_HTTP_OK, strdup("{}"));
        case PROTO_ENROLL:
                return api_enroll(req);
        case PROTO_ATTEST:
                return api_attest(req);
        case PROTO_NODE_NETWORK:
                return api_node_network(req, &node);
        case PROTO_NODE_RELAYS:
                return api_node_relays(req, &node);
        case _PROTO_ENDPOINT_MAX:
        case _PROTO_ENDPOINT_INVALID:
                break;
        }
        return respond_error(req, PROTO_ERROR_NOT_FOUND, "No such endpoint.");
}
