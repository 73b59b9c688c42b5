/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"
#include "server-db.h"
#include "tor-keys.h"

/* One family for the fleet (tor ≥ 0.4.9 Happy Families, docs/server.md): the family keys live in the database
 * (family_keys, migration 0007), made here from the CSPRNG, never by tor. A key is published while it is not
 * retired: its FamilyId goes into every relay's torrc and its secret to the nodes it is released to. At most
 * PROTO_FAMILY_KEYS_MAX are published: the current key and, during a rotation, the previous one. */

typedef struct FamilyKey {
        int64_t id;
        char family_id[TOR_ED25519_ID_LEN + 1];
        int64_t created_at; /* µs */
        int64_t retired_at; /* µs; 0 while published */
} FamilyKey;

/* The published keys' FamilyIds, oldest first: the FamilyId lines of every relay's torrc, in this order. */
typedef struct FamilyIds {
        char ids[PROTO_FAMILY_KEYS_MAX][TOR_ED25519_ID_LEN + 1];
        size_t n;
} FamilyIds;

/* The keys, newest first: the published ones, or all with with_retired. */
int family_list(Db *db, bool with_retired, FamilyKey **ret, size_t *ret_n);

/* The fleet's first key, in one write transaction. -EEXIST if a key is published already. */
int family_init(Db *db, FamilyKey *ret);
/* A new key published next to the current one. -ENOENT without a key (family_init() first), -EBUSY while two
 * are published (a rotation runs: retire one first). */
int family_rotate(Db *db, FamilyKey *ret);
/* Stops publishing a key and erases its secret from the table (SQLite's secure_delete on for the write); the
 * FamilyId and the times stay. family_id NULL: the older of the two published keys. 1 if retired now, 0 if it
 * was retired already; -ENOENT for no such key, -EBUSY if it is the only published key (nothing would be left
 * to rotate to: the relays would leave the family). */
int family_retire(Db *db, const char *family_id, FamilyKey *ret);

/* The published keys: their FamilyIds and, if ret_keys is not NULL, their secrets (wipe with
 * proto_family_keys_done()). */
int family_published(Db *db, FamilyIds *ret_ids, ProtoFamilyKeys *ret_keys);

/* Whether the node's session gets the family keys: 1 if its last attestation was judged Trusted and the image
 * it booted is not retired, 0 otherwise (a verdict accepted only under MeasuredBoot=warn, or none yet). The
 * session a node holds rests on its last attestation: one session per node. */
int family_released(Db *db, int64_t node_id);
