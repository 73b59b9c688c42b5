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

/* When each relay's state was last saved (list relays): relay id and time, seconds. */
typedef struct RelayStateSaved {
        int64_t relay_id;
        int64_t saved_at;
} RelayStateSaved;
int relay_states_saved(Db *db, RelayStateSaved **ret, size_t *ret_n);
/* relay_id's entry in a list of relay_states_saved(), or NULL. */
const RelayStateSaved *relay_states_saved_find(const RelayStateSaved *list, size_t n, int64_t relay_id) _pure_;
