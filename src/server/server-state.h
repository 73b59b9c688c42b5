/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "protocol.h"
#include "server-db.h"

/* The relays' sealed tor state (GET /v1/node/state, POST /v1/node/state/save; server-state.c). Both -EPERM for
 * a node whose boot is not judged Trusted now. */

/* Replaces the blob of each relay named, all or nothing; -ENOENT (ret_relay: its name) for a relay that is not
 * the node's. */
int relay_states_store(Db *db, int64_t node_id, const ProtoRelayStates *req, const char **ret_relay);
/* Every relay of the node that has a blob. */
int relay_states_get(Db *db, int64_t node_id, ProtoRelayStates *ret);
