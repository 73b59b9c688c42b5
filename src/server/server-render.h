/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>

#include "server-family.h"
#include "server-nodes.h"
#include "server-relays.h"
#include "server-settings.h"
#include "torrc.h"

/* A level's torrc operations, stored as config_ops rows of kind torrc, in order. */
int torrc_level_load(Db *db, const ConfigScope *scope, Torrc **ret);
/* Replaces the level's rows by t's entries; run inside a transaction. */
int torrc_level_save(Db *db, const ConfigScope *scope, const Torrc *t);

/* The relay's torrc: default → node → relay, then the forced options from its allocation (Nickname,
 * Address, ORPort on each of its addresses with its port, OutboundBindAddress), SocksPort 0 unless a level
 * sets a SocksPort (tor's default 9050 would be every relay's), its metrics listener (MetricsPort on
 * 127.0.0.1, MetricsPortPolicy admitting loopback only) and the fleet's family: FamilyId of each key in family,
 * none without (NULL or empty: the levels' FamilyId lines go too). ret_merged (optional) keeps the provenance
 * of each line. */
int render_relay_torrc(Db *db, const Node *node, const Relay *relay, const FamilyIds *family, char **ret_torrc,
                       TorrcMerged **ret_merged);

/* The node's (relay_id < 0) or a relay's resolved settings as a JSON object: {"Interface": "eth0",
 * "DNS": ["…", "…"], …}. Accumulating settings are arrays. */
int settings_resolve(Db *db, int64_t node_id, int64_t relay_id, json_object **ret);
