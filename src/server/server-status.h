/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "server-db.h"
#include "server-json.h"
#include "server-relay-metrics.h"

/* Nodes per page of GET /v1/status and `patela-server status`: the default and the most one page holds. A page
 * of STATUS_LIMIT_MAX nodes with PROTO_RELAYS_MAX relays each stays under some 20 MiB of JSON; a fleet's usual
 * few relays per node, under 1 MiB. */
#define STATUS_LIMIT_DEFAULT 100U
#define STATUS_LIMIT_MAX 1000U

/* What the server knows of its fleet, one page in node id order: the nodes with id > after, at most limit of
 * them (1…STATUS_LIMIT_MAX), read in one read transaction:
 *   {"nodes": [{id, fingerprint, state, image, imageRetired, verdict, reason, lastVerdictAt, lastTrustedAt,
 *               lastSeen, relays: [{name, ipv4, ipv6, orPort, rsaFingerprint, ed25519Identity, identityReportedAt,
 *                                   metricsReportedAt, flags: [tor's consensus flags at that report] or null}]}],
 *    "next": the after= of the next page, or null on the last one}
 * Times are seconds since the epoch, null for never. metricsReportedAt and flags come from store, the running
 * server's memory of the relays' reports: the CLI, another process, passes NULL and shows them null. */
int server_status_json(Db *db, RelayMetricsStore *store, int64_t after, unsigned limit, json_object **ret);
