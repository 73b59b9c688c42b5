/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "identity.h"
#include "server-db.h"
#include "server-relays.h"

typedef enum NodeState {
        NODE_PENDING,
        NODE_ENABLED,
        NODE_DISABLED,
        _NODE_STATE_MAX,
        _NODE_STATE_INVALID = -EINVAL,
} NodeState;

/* A challenge id and a session token begin with their node's id, 8 bytes big-endian (server-challenge.h for the
 * rest of a challenge id; a token's rest is random). The server finds a session by the node's key (migration 15):
 * one b-tree entry per row, no index on a random key. The id is no secret (the node shows it). */
#define NODE_KEY_PREFIX_SIZE 8U

static inline void node_key_prefix_put(uint8_t p[static NODE_KEY_PREFIX_SIZE], int64_t node_id) {
        for (unsigned i = 0; i < NODE_KEY_PREFIX_SIZE; i++)
                p[i] = (uint8_t) ((uint64_t) node_id >> (8 * (NODE_KEY_PREFIX_SIZE - 1 - i)));
}

/* The node id a challenge id or token names, or -ENOENT when it cannot be one (ids are positive). */
static inline int64_t node_key_prefix_get(const uint8_t p[static NODE_KEY_PREFIX_SIZE]) {
        uint64_t v = 0;

        for (unsigned i = 0; i < NODE_KEY_PREFIX_SIZE; i++)
                v = v << 8 | p[i];
        return v == 0 || v > INT64_MAX ? -ENOENT : (int64_t) v;
}

const char *node_state_to_string(NodeState s) _const_;
NodeState node_state_from_string(const char *s) _pure_;

typedef struct Node {
        int64_t id;
        NodeState state;
        char fingerprint[PATELA_FINGERPRINT_LEN + 1];
        char ek_type[16];
        TPM2B_PUBLIC ek_public;
        TPM2B_PUBLIC ak_public;
        TPM2B_NAME ek_name;
        TPM2B_NAME ak_name;
        bool has_ek_certificate;
        char ek_certificate_status[16]; /* verified, absent, ignored; "" if enrolled before it was checked */
        unsigned relay_count;
        int64_t first_seen;
        int64_t last_seen;
        char last_source[64];
        int64_t reset_count;   /* -1: no accepted quote yet */
        int64_t restart_count;
        uint64_t challenge_floor_ms; /* server-challenge.h */
        bool credential_proven;      /* its TPM activated a credential of this server: quote-only challenges */
} Node;

/* What an attestation's answer needs of its node's row, in a few bytes: id, state, challenge floor, resetCount,
 * whether its TPM proved its EK and AK, fingerprint and AK (marshalled). Kept with the node's latest challenge on
 * this server (challenge_limits_issue_with()), so that the answer need not read the row again; node_from_snapshot()
 * fills those fields of a Node and zeroes the rest. */
#define NODE_SNAPSHOT_MAX 1024U
int node_snapshot(const Node *n, uint8_t ret[static NODE_SNAPSHOT_MAX], size_t *ret_size);
int node_from_snapshot(const uint8_t *buf, size_t size, Node *ret);

/* What a node presents at enrolment; every field computed or checked by the server. */
typedef struct NodeIdentity {
        const char *ek_type;
        TPM2B_PUBLIC ek_public;
        TPM2B_NAME ek_name;
        const uint8_t *ek_certificate;
        size_t ek_certificate_size;
        const char *ek_certificate_status; /* how it was judged: verified, absent, ignored */
        const char *ek_certificate_issuer; /* verified: its issuer */
        TPM2B_PUBLIC ak_public;
        TPM2B_NAME ak_name;
        char fingerprint[PATELA_FINGERPRINT_LEN + 1];
} NodeIdentity;

int node_get(Db *db, int64_t id, Node *ret);
int node_get_by_ek_name(Db *db, const TPM2B_NAME *ek_name, Node *ret);
/* A node by its id ("12") or its fingerprint ("7K2Q-M9XD-4RTB-0HNZ", case-insensitive). */
int node_get_by_ref(Db *db, const char *ref, Node *ret);

/* Creates a pending node with relay_count relays (allocated when enabled), unless max_pending are already pending
 * (-ENOSPC); pending nodes not seen for pending_lifetime_sec are removed first. -EEXIST if the EK or the
 * fingerprint is known. Only for an identity whose TPM proved its EK and AK (the enrolment proof): the node is
 * credential_proven. */
int node_create_pending(Db *db, const NodeIdentity *id, const char *source, unsigned max_pending,
                        uint64_t pending_lifetime_sec, unsigned relay_count, Node *ret);

/* Enabling allocates the node's relays from the pools as relays_allocate() does (one transaction; -ENOSPC if a
 * pool or the port range is exhausted, nothing changed). Disabling deletes the node's sessions and open
 * challenges in the same transaction. */
int node_set_state(Db *db, int64_t id, NodeState state, const RelayAllocation *a);
int node_set_relay_count(Db *db, int64_t id, unsigned count, const RelayAllocation *a);
int node_remove(Db *db, int64_t id);
int node_touch(Db *db, int64_t id, const char *source);
