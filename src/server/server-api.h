/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "server-http.h"
#include "server-nodes.h"

/* The node-facing HTTPS API (see patela-server(8), section API):
 *   POST /v1/enroll         identity → pending, or a make_credential challenge + nonce
 *   POST /v1/attest         secret + quote → session token
 *   GET  /v1/node/network   resolved network settings            (Authorization: Bearer TOKEN)
 *   GET  /v1/node/relays    relays with resolved torrc            (Authorization: Bearer TOKEN)
 *   GET  /v1/health         liveness, no authentication */
enum MHD_Result api_dispatch(Request *req);

enum MHD_Result api_enroll(Request *req);
enum MHD_Result api_attest(Request *req);
enum MHD_Result api_node_network(Request *req, const Node *node);
enum MHD_Result api_node_relays(Request *req, const Node *node);

#define SESSION_TOKEN_BYTES 32
#define CHALLENGE_ID_BYTES 16
#define CHALLENGE_SECRET_BYTES 32
#define QUOTE_NONCE_BYTES 32
