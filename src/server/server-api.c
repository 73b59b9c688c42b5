/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/crypto.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "server-api.h"
#include "string-util.h"
#include "tpm2-marshal.h"

/* Whether the current row of s, whose column `column` is a session's token hash, is the token's. */
static bool token_matches(DbStmt *s, int column, const uint8_t hash[static 32]) {
        return (int) db_column_bytes(s, column) == 32 && CRYPTO_memcmp(db_column_blob(s, column), hash, 32) == 0;
}

/* The node of a session token, if its session has not expired: the row under the node the token names
 * (server-nodes.h), its stored hash compared in constant time. */
static int session_node(Db *db, int64_t node_id, const uint8_t hash[static 32], Node *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r;

        r = db_stmt_prepare_cached(db,
                              "SELECT s.token_hash FROM sessions s JOIN nodes n ON n.id = s.node_id "
                              "WHERE s.node_id = ? AND s.expires_at > ? AND n.state = 'enabled'",
                              &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        db_bind_int64(s, 2, (int64_t) now_usec());
        if (db_step(s) != DB_ROW || !token_matches(s, 0, hash))
                return -EKEYREJECTED;
        return node_get(db, node_id, ret);
}

int api_token_hash(Request *req, uint8_t ret[static 32], int64_t *ret_node_id) {
        const char *h = MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, "Authorization");
        void *token = NULL;
        const char *b64;
        size_t size = 0, hsize;
        int r;

        if (!h || !(b64 = startswith(h, "Bearer ")))
                return -ENOKEY;
        if (strlen(b64) > 64 || unbase64mem(b64, PROTO_TOKEN_SIZE, &token, &size) < 0 || size != PROTO_TOKEN_SIZE ||
            (*ret_node_id = node_key_prefix_get(token)) < 0)
                r = -EKEYREJECTED;
        else
                r = tpm2_digest(TPM2_ALG_SHA256, token, size, ret, &hsize);
        if (token)
                erase_and_free_sized(token, size);
        return r < 0 ? r : 0;
}

/* Looks up the session of a bearer token; the node must exist and be enabled *now*: disabling a node
 * deletes its sessions, and this check also covers a state change racing with the request. */
static int authenticate(Request *req, Node *ret) {
        uint8_t hash[32];
        int64_t node_id;
        int r;

        r = api_token_hash(req, hash, &node_id);
        if (r < 0)
                return r;
        r = session_node(server_db_lock(req->server), node_id, hash, ret);
        server_db_unlock(req->server);
        return r;
}

enum MHD_Result api_respond_token_error(Request *req, int r) {
        if (r == -ENOKEY)
                return respond_error(req, PROTO_ERROR_TOKEN_MISSING,
                                     "An 'Authorization: Bearer TOKEN' header from %s is required.",
                                     proto_endpoint_path(PROTO_ATTEST));
        if (r == -EKEYREJECTED || r == -ENOENT)
                return respond_error(req, PROTO_ERROR_TOKEN_REJECTED,
                                     "The session token is unknown, expired, or its node is not enabled.");
        return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Session lookup failed.");
}

/* GET /v1/node/check, every CheckInterval= from every running node: no TPM operation, one indexed query. The
 * node re-attests now when the verdict its session rests on would not be accepted any more: its image was
 * retired, or it was accepted only because measured boot was not enforced (MeasuredBoot=warn, or no image
 * registered then) and now is. And a trusted node re-attests (and so fetches its relays again) when the fleet's
 * family keys changed after its session began: a key made or retired reaches every running node within one
 * interval, not at its next re-attestation. */
int api_session_check(Db *db, const ServerConfig *config, int64_t node_id, const uint8_t hash[static 32],
                      bool *ret_reattest) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        bool trusted = false, retired = false, family_changed = false;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "SELECT n.last_verdict = 'Trusted', i.retired_at IS NOT NULL, s.created_at < "
                              "(SELECT max(ifnull(max(created_at), 0), ifnull(max(retired_at), 0)) FROM family_keys), "
                              "s.token_hash "
                              "FROM sessions s JOIN nodes n ON n.id = s.node_id LEFT JOIN images i ON i.id = n.image_id "
                              "WHERE s.node_id = ? AND s.expires_at > ? AND n.state = 'enabled'",
                              &s);
        if (r >= 0) {
                db_bind_int64(s, 1, node_id);
                db_bind_int64(s, 2, (int64_t) now_usec());
                rc = db_step(s);
                if (rc == DB_ROW && !token_matches(s, 3, hash))
                        r = -ENOENT;
                else if (rc == DB_ROW) {
                        trusted = (int) db_column_int64(s, 0) == 1;
                        retired = (int) db_column_int64(s, 1) == 1;
                        family_changed = (int) db_column_int64(s, 2) == 1;
                } else
                        r = rc == DB_DONE ? -ENOENT : db_result(rc);
        }
        if (r >= 0 && !trusted)
                r = measured_boot_enforced(db, config);
        if (r < 0)
                return r;
        *ret_reattest = retired || (!trusted && r > 0) || (trusted && family_changed);
        return 0;
}

enum MHD_Result api_node_check(Request *req) {
        ProtoCheckReply reply = { .check_in = req->server->config->check_interval_usec / 1000000ULL };
        uint8_t hash[32];
        char *body = NULL;
        int64_t node_id;
        int r;

        r = api_token_hash(req, hash, &node_id);
        if (r < 0)
                return api_respond_token_error(req, r);
        r = api_session_check(server_db_lock(req->server), req->server->config, node_id, hash, &reply.reattest);
        server_db_unlock(req->server);
        if (r < 0)
                return api_respond_token_error(req, r);
        if (proto_check_reply_encode(&reply, &body) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Encoding the check failed.");
        return respond_body(req, MHD_HTTP_OK, body);
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
        if (e == PROTO_NODE_CHECK)
                return api_node_check(req);
        if (e == PROTO_NODE_RELAY_METRICS)
                return api_node_relay_metrics(req);
        if (info->authenticated) {
                r = authenticate(req, &node);
                if (r < 0)
                        return api_respond_token_error(req, r);
        }
        switch (e) {
        case PROTO_HEALTH:
                return respond_body(req, MHD_HTTP_OK, strdup("{}"));
        case PROTO_ENROLL:
                return api_enroll(req);
        case PROTO_ENROLL_PROOF:
                return api_enroll_proof(req);
        case PROTO_ATTEST:
                return api_attest(req);
        case PROTO_NODE_NETWORK:
                return api_node_network(req, &node);
        case PROTO_NODE_RELAYS:
                return api_node_relays(req, &node);
        case PROTO_NODE_FINGERPRINTS:
                return api_node_fingerprints(req, &node);
        case PROTO_NODE_STATE:
                return api_node_state(req, &node);
        case PROTO_NODE_STATE_SAVE:
                return api_node_state_save(req, &node);
        case PROTO_LOG_CHECKPOINT:
        case PROTO_LOG_ENTRIES:
        case PROTO_LOG_INCLUSION:
        case PROTO_LOG_CONSISTENCY:
        case PROTO_LOG_REGISTRATION:
                return api_log(req, e);
        case PROTO_NODE_CHECK:
        case PROTO_NODE_RELAY_METRICS:
        case _PROTO_ENDPOINT_MAX:
        case _PROTO_ENDPOINT_INVALID:
                break;
        }
        return respond_error(req, PROTO_ERROR_NOT_FOUND, "No such endpoint.");
}
