/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "server-http.h"
#include "server-nodes.h"

/* The node-facing HTTPS API: the endpoints of src/shared/protocol/protocol.h (patela-server(8), section
 * API). api_dispatch() checks the method and, where the endpoint needs it, the session token. */
enum MHD_Result api_dispatch(Request *req);
/* GET /v1/log/…: the transparency log (server-api-log.c). */
enum MHD_Result api_log(Request *req, ProtoEndpoint e);

enum MHD_Result api_enroll(Request *req);
enum MHD_Result api_enroll_proof(Request *req);
enum MHD_Result api_attest(Request *req);
enum MHD_Result api_node_network(Request *req, const Node *node);
enum MHD_Result api_node_relays(Request *req, const Node *node);
/* POST /v1/node/fingerprints (server-fingerprints.c). */
enum MHD_Result api_node_fingerprints(Request *req, const Node *node);
/* GET /v1/node/state, POST /v1/node/state/save (server-state.c). */
enum MHD_Result api_node_state(Request *req, const Node *node);
enum MHD_Result api_node_state_save(Request *req, const Node *node);
/* POST /v1/node/relay-metrics (server-relay-metrics.c): a session check with the relays' report; authenticates
 * the token itself, as the check does. */
enum MHD_Result api_node_relay_metrics(Request *req);
/* GET /v1/node/check: authenticates the token itself, in one query. */
enum MHD_Result api_node_check(Request *req);

/* The SHA-256 of the request's bearer token and the node it names (its first 8 bytes, server-nodes.h): -ENOKEY
 * without one, -EKEYREJECTED if it is not a token. */
int api_token_hash(Request *req, uint8_t ret[static 32], int64_t *ret_node_id);
/* The answer to a token that failed: 401 TokenMissing or TokenRejected, 500 for a database failure. */
enum MHD_Result api_respond_token_error(Request *req, int r);
/* The session check (GET /v1/node/check, and a relay report, which carries one): with the database held, whether
 * node_id's session is the one whose token hashes to hash (-ENOENT: unknown, expired, or its node not enabled) and
 * whether it must attest again now (its image retired, its verdict refused now, the family keys changed since). */
int api_session_check(Db *db, const ServerConfig *config, int64_t node_id, const uint8_t hash[static 32],
                      bool *ret_reattest);

/* Whether a measured-boot verdict other than Trusted refuses the node now (MeasuredBoot=, or without it,
 * whether any image is registered): 1, 0, or a negative errno. Call it with the database held. */
int measured_boot_enforced(Db *db, const ServerConfig *config);

