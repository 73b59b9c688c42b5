/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "protocol.h"
#include "server-db.h"

/* The relays' public identities as their nodes report them (POST /v1/node/fingerprints), for the ContactInfo
 * proofs of the admin CLI (contactinfo). A relay's row goes with the relay. */

typedef struct RelayFingerprint {
        int64_t relay_id;
        char rsa[TOR_RSA_FINGERPRINT_LEN + 1];
        char ed25519[TOR_ED25519_ID_LEN + 1]; /* "" if the node did not report one */
        int64_t reported_at;                  /* seconds since the epoch */
} RelayFingerprint;

/* Replaces what is stored for each relay of r, all or none, if node_id is enabled and each relay is its own.
 * -EKEYREJECTED: the node is not enabled (any more); -ENOENT: *ret_relay is not one of its relays; -EEXIST:
 * another relay holds the identity reported for *ret_relay. *ret_relay points into r. */
int fingerprints_store(Db *db, int64_t node_id, const ProtoFingerprintsRequest *r, const char **ret_relay);

/* Every stored identity, by relay id. */
int fingerprints_list(Db *db, RelayFingerprint **ret, size_t *ret_n);
/* relay_id's in a list of fingerprints_list(), or NULL. */
const RelayFingerprint *fingerprints_find(const RelayFingerprint *list, size_t n, int64_t relay_id) _pure_;
