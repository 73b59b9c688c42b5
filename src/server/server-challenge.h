/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "protocol.h"
#include "server-db.h"

/* Attestation challenges without a table (docs/server.md, "Challenges"). A challenge id is
 *     node id (8 bytes, big-endian) ‖ issued at (8 bytes, ms since the epoch, big-endian) ‖ tag (16 bytes)
 * and the tag, the quote's nonce and the credential's secret are HMAC-SHA256 of the id's first 16 bytes under the
 * challenge key (one per database, made by migration 17; every server on the database derives the same
 * values). Nothing is written when a challenge is issued; an answer is taken once through the node's
 * challenge_floor: an answer that proves the secret raises it to the challenge's time, and a challenge no later
 * than the floor is unknown. */
#define CHALLENGE_KEY_SIZE 32U
#define CHALLENGE_HEAD_SIZE 16U
#define CHALLENGE_TAG_SIZE (PROTO_CHALLENGE_ID_SIZE - CHALLENGE_HEAD_SIZE)
_Static_assert(PROTO_CHALLENGE_ID_SIZE == 32U, "a challenge id is the head and a 16-byte tag");
_Static_assert(PROTO_SECRET_SIZE == 32U && PROTO_NONCE_SIZE == 32U, "the secret and the nonce are HMAC-SHA256");

/* At most this many challenges of a node open at once, per server: a fifth enrolment is a 429. */
#define CHALLENGES_PER_NODE_MAX 4U

typedef struct ChallengeKey {
        EVP_MAC_CTX *hmac; /* keyed HMAC-SHA256, duplicated for each use (never changed after the load) */
} ChallengeKey;

/* The key stored in the database (server_keys, name 'challenge'). */
int challenge_key_load(Db *db, ChallengeKey *ret);
int challenge_key_from_bytes(const uint8_t key[static CHALLENGE_KEY_SIZE], ChallengeKey *ret);
void challenge_key_done(ChallengeKey *k);

typedef struct Challenge {
        int64_t node_id;
        uint64_t issued_ms;
        uint8_t nonce[PROTO_NONCE_SIZE];
        uint8_t secret[PROTO_SECRET_SIZE]; /* sensitive: erased by challenge_done() */
} Challenge;

void challenge_done(Challenge *c);

/* A new challenge of the node, issued at issued_ms: the id and the challenge's values. */
int challenge_make(const ChallengeKey *k, int64_t node_id, uint64_t issued_ms,
                   uint8_t ret_id[static PROTO_CHALLENGE_ID_SIZE], Challenge *ret);
/* The challenge an id names: -ENOENT if the server did not make it (its tag does not match, or it names no
 * node). Says nothing about expiry or use: the caller checks those. */
int challenge_open(const ChallengeKey *k, const uint8_t id[static PROTO_CHALLENGE_ID_SIZE], Challenge *ret);

/* Inside a write transaction: the challenge is taken (the node's floor raised to its time). -ESTALE if it was
 * taken already (the floor is at or past it), by an earlier answer or a concurrent one, or the node is gone. */
int challenge_take(Db *db, const Challenge *c);
/* Inside a write transaction: every challenge the node holds now is void (a change of state, a new node). */
int challenge_void_all(Db *db, int64_t node_id, uint64_t now_ms);

/* The per-server bounds of what a stranger who knows a node's public areas can make the server do: at most
 * CHALLENGES_PER_NODE_MAX challenges of a node open (issued within the lifetime, after the node's floor), and at
 * most as many refused answers of the node logged per lifetime. In memory, behind a mutex of its own; an entry
 * per node active within the lifetime (a table grown and pruned as nodes come and go). */
typedef struct ChallengeWindow {
        int64_t node_id; /* 0: an empty slot */
        uint64_t issued_ms[CHALLENGES_PER_NODE_MAX]; /* 0: free */
        uint64_t last_issued_ms;                     /* the latest given: each challenge its own time, so its own id */
        uint64_t refusals_since_ms;
        unsigned n_refusals;
        /* The caller's copy of what the answer needs of the node, as it was when the latest challenge was issued
         * (node_snapshot()); NULL if none. Owned by the window. */
        uint8_t *snapshot;
        size_t snapshot_size;
} ChallengeWindow;

typedef struct ChallengeLimits {
        pthread_mutex_t lock;
        uint64_t lifetime_ms;
        ChallengeWindow *slots;
        size_t n_slots; /* 0 or a power of two */
        size_t n_used;  /* slots holding a node, live or not (an upper bound) */
} ChallengeLimits;

void challenge_limits_init(ChallengeLimits *l, uint64_t lifetime_ms);
void challenge_limits_done(ChallengeLimits *l);
/* Counts a new challenge of the node, unless CHALLENGES_PER_NODE_MAX are open (-EUSERS): issued within the
 * lifetime and later than floor_ms (the node's challenge_floor). Its time in ret_issued_ms: now_ms, or later if
 * that is not past the floor or the node's last challenge on this server (each challenge its own id). -ENOMEM. */
int challenge_limits_issue(ChallengeLimits *l, int64_t node_id, uint64_t floor_ms, uint64_t now_ms,
                           uint64_t *ret_issued_ms);
/* The same, keeping a copy of snapshot (at most CHALLENGE_SNAPSHOT_MAX bytes; NULL: none) with the node's window
 * for challenge_limits_recall(): what the answer needs of the node's row, read when the challenge was issued. */
#define CHALLENGE_SNAPSHOT_MAX 1024U
int challenge_limits_issue_with(ChallengeLimits *l, int64_t node_id, uint64_t floor_ms, uint64_t now_ms,
                                const void *snapshot, size_t snapshot_size, uint64_t *ret_issued_ms);
/* The snapshot kept with the node's latest challenge on this server, if its window still holds it and issued_ms is
 * one of the window's challenges (the answer's): its size, copied into buf; 0 if none (another server issued the
 * challenge, a restart, the window gone). */
size_t challenge_limits_recall(ChallengeLimits *l, int64_t node_id, uint64_t issued_ms,
                               uint8_t buf[static CHALLENGE_SNAPSHOT_MAX]);
/* The challenge of the node issued at issued_ms no longer counts as open on this server: its answer proved the
 * secret but could not be recorded (the database failed, a failover), and the node will ask for a new one. It stays
 * answerable (the floor did not move); without this, a few such failures would refuse the node new challenges
 * (429) until they expire. */
void challenge_limits_release(ChallengeLimits *l, int64_t node_id, uint64_t issued_ms);
/* Whether a refused answer of the node may be logged now (and counts it): false past CHALLENGES_PER_NODE_MAX
 * refusals within the lifetime. */
bool challenge_limits_log_refusal(ChallengeLimits *l, int64_t node_id, uint64_t now_ms);

uint64_t now_ms(void);
