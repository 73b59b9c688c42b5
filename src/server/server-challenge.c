/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attestation challenges derived from a key instead of stored (server-challenge.h). Issuing one writes nothing:
 * under load it was a write transaction of its own per authentication (the node's contact, the expired
 * challenges, a count and an insert), and the answer a delete. */
#include <assert.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "macro.h"
#include "server-challenge.h"
#include "server-nodes.h"

/* Domain separation of the three values one id's head derives. */
enum {
        DERIVE_TAG = 1,
        DERIVE_NONCE = 2,
        DERIVE_SECRET = 3,
};

uint64_t now_ms(void) {
        return now_usec() / 1000U;
}

int challenge_key_from_bytes(const uint8_t key[static CHALLENGE_KEY_SIZE], ChallengeKey *ret) {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *ctx = NULL;
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_end(),
        };
        int r = -EIO;

        if (!mac)
                return -EIO;
        ctx = EVP_MAC_CTX_new(mac);
        if (ctx && EVP_MAC_init(ctx, key, CHALLENGE_KEY_SIZE, params) == 1) {
                *ret = (ChallengeKey) { .hmac = TAKE_PTR(ctx) };
                r = 0;
        }
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
        return r;
}

int challenge_key_load(Db *db, ChallengeKey *ret) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        uint8_t key[CHALLENGE_KEY_SIZE];
        int r, rc;

        r = db_stmt_prepare(db, "SELECT key FROM server_keys WHERE name = 'challenge'", &s);
        if (r < 0)
                return r;
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        if ((int) db_column_bytes(s, 0) != CHALLENGE_KEY_SIZE)
                return -EBADMSG;
        memcpy(key, db_column_blob(s, 0), CHALLENGE_KEY_SIZE);
        r = challenge_key_from_bytes(key, ret);
        explicit_bzero(key, sizeof(key));
        return r;
}

void challenge_key_done(ChallengeKey *k) {
        EVP_MAC_CTX_free(k->hmac);
        *k = (ChallengeKey) {};
}

void challenge_done(Challenge *c) {
        explicit_bzero(c, sizeof(*c));
}

/* HMAC-SHA256(key, what ‖ head): 32 bytes. */
static int derive(const ChallengeKey *k, uint8_t what, const uint8_t head[static CHALLENGE_HEAD_SIZE],
                  uint8_t ret[static 32]) {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->hmac);
        size_t size = 0;
        int ok;

        if (!ctx)
                return -ENOMEM;
        ok = EVP_MAC_update(ctx, &what, 1) == 1 && EVP_MAC_update(ctx, head, CHALLENGE_HEAD_SIZE) == 1 &&
             EVP_MAC_final(ctx, ret, &size, 32) == 1 && size == 32;
        EVP_MAC_CTX_free(ctx);
        return ok ? 0 : -EIO;
}

static void put_be64(uint8_t p[static 8], uint64_t v) {
        for (unsigned i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t p[static 8]) {
        uint64_t v = 0;

        for (unsigned i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

/* The nonce and the secret of a head whose tag was made or checked. */
static int derive_values(const ChallengeKey *k, const uint8_t head[static CHALLENGE_HEAD_SIZE], Challenge *c) {
        int r;

        r = derive(k, DERIVE_NONCE, head, c->nonce);
        if (r >= 0)
                r = derive(k, DERIVE_SECRET, head, c->secret);
        return r;
}

int challenge_make(const ChallengeKey *k, int64_t node_id, uint64_t issued_ms,
                   uint8_t ret_id[static PROTO_CHALLENGE_ID_SIZE], Challenge *ret) {
        Challenge c = { .node_id = node_id, .issued_ms = issued_ms };
        uint8_t id[PROTO_CHALLENGE_ID_SIZE], tag[32];
        int r;

        assert(node_id > 0);
        node_key_prefix_put(id, node_id);
        put_be64(id + NODE_KEY_PREFIX_SIZE, issued_ms);
        r = derive(k, DERIVE_TAG, id, tag);
        if (r >= 0)
                r = derive_values(k, id, &c);
        if (r < 0) {
                challenge_done(&c);
                return r;
        }
        memcpy(id + CHALLENGE_HEAD_SIZE, tag, CHALLENGE_TAG_SIZE);
        memcpy(ret_id, id, sizeof(id));
        *ret = c;
        explicit_bzero(&c, sizeof(c));
        return 0;
}

int challenge_open(const ChallengeKey *k, const uint8_t id[static PROTO_CHALLENGE_ID_SIZE], Challenge *ret) {
        Challenge c = {};
        uint8_t tag[32];
        int64_t node_id;
        int r;

        node_id = node_key_prefix_get(id);
        if (node_id < 0)
                return -ENOENT;
        r = derive(k, DERIVE_TAG, id, tag);
        if (r < 0)
                return r;
        if (CRYPTO_memcmp(tag, id + CHALLENGE_HEAD_SIZE, CHALLENGE_TAG_SIZE) != 0)
                return -ENOENT;
        c.node_id = node_id;
        c.issued_ms = get_be64(id + NODE_KEY_PREFIX_SIZE);
        r = derive_values(k, id, &c);
        if (r < 0) {
                challenge_done(&c);
                return r;
        }
        *ret = c;
        explicit_bzero(&c, sizeof(c));
        return 0;
}

int challenge_take(Db *db, const Challenge *c) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        if (c->issued_ms > INT64_MAX)
                return -ESTALE;
        r = db_stmt_prepare_cached(db, "UPDATE nodes SET challenge_floor = ?1 WHERE id = ?2 AND challenge_floor < ?1", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int64_t) c->issued_ms);
        db_bind_int64(s, 2, c->node_id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        return (int) db_changes(db) == 1 ? 0 : -ESTALE;
}

int challenge_void_all(Db *db, int64_t node_id, uint64_t now) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        /* Challenges are issued with the time of a clock that may step back a little, or run on another server:
         * max() so that the floor never goes down. */
        r = db_stmt_prepare_cached(db, "UPDATE nodes SET challenge_floor = max(challenge_floor, ?1) WHERE id = ?2", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, (int64_t) now);
        db_bind_int64(s, 2, node_id);
        rc = db_step(s);
        return rc == DB_DONE ? 0 : db_result(rc);
}

/* ---- the per-server limits ---------------------------------------------------------------------------------- */

#define WINDOW_SLOTS_MIN 64U

void challenge_limits_init(ChallengeLimits *l, uint64_t lifetime_ms) {
        *l = (ChallengeLimits) { .lifetime_ms = lifetime_ms };
        pthread_mutex_init(&l->lock, NULL);
}

static void window_clear(ChallengeWindow *w) {
        free(w->snapshot);
        *w = (ChallengeWindow) {};
}

void challenge_limits_done(ChallengeLimits *l) {
        for (size_t i = 0; i < l->n_slots; i++)
                free(l->slots[i].snapshot);
        free(l->slots);
        pthread_mutex_destroy(&l->lock);
        *l = (ChallengeLimits) {};
}

static size_t window_hash(int64_t node_id, size_t n_slots) {
        return (size_t) ((((uint64_t) node_id * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (n_slots - 1));
}

/* Whether the window still bounds anything: a challenge or a refusal within the lifetime. */
static bool window_live(const ChallengeLimits *l, const ChallengeWindow *w, uint64_t now) {
        if (w->node_id == 0)
                return false;
        if (w->n_refusals > 0 && w->refusals_since_ms + l->lifetime_ms > now)
                return true;
        for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++)
                if (w->issued_ms[i] + l->lifetime_ms > now)
                        return true;
        return false;
}

/* The window of node_id, or where it would go: its probe runs to an empty slot, and a slot that no longer
 * bounds anything on the way is taken over (the node is nowhere else on the probe then). NULL without a table. */
static ChallengeWindow *window_find(ChallengeLimits *l, int64_t node_id, uint64_t now) {
        ChallengeWindow *stale = NULL;

        if (l->n_slots == 0)
                return NULL;
        for (size_t i = window_hash(node_id, l->n_slots);; i = (i + 1) & (l->n_slots - 1)) {
                ChallengeWindow *w = &l->slots[i];

                if (w->node_id == node_id)
                        return w;
                if (w->node_id == 0) {
                        if (stale) {
                                window_clear(stale);
                                return stale;
                        }
                        return w;
                }
                if (!stale && !window_live(l, w, now))
                        stale = w;
        }
}

/* Room for one more node: the table rebuilt with its live windows only, at least 4 slots per live window, when
 * more than three quarters of its slots are taken. */
static int window_reserve(ChallengeLimits *l, uint64_t now) {
        ChallengeWindow *slots;
        size_t n_live = 0, n = WINDOW_SLOTS_MIN;

        if (l->n_slots > 0 && (l->n_used + 1) * 4 <= l->n_slots * 3)
                return 0;
        for (size_t i = 0; i < l->n_slots; i++)
                n_live += window_live(l, &l->slots[i], now);
        while (n < (n_live + 1) * 4)
                n *= 2;
        slots = calloc(n, sizeof(ChallengeWindow));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_slots; i++) {
                ChallengeWindow *w = &l->slots[i];

                if (!window_live(l, w, now)) {
                        free(w->snapshot); /* a live window's moves with it */
                        continue;
                }
                for (size_t j = window_hash(w->node_id, n);; j = (j + 1) & (n - 1))
                        if (slots[j].node_id == 0) {
                                slots[j] = *w;
                                break;
                        }
        }
        free(l->slots);
        l->slots = slots;
        l->n_slots = n;
        l->n_used = n_live;
        return 0;
}

static ChallengeWindow *window_get(ChallengeLimits *l, int64_t node_id, uint64_t now) {
        ChallengeWindow *w;

        w = window_find(l, node_id, now);
        if (w && w->node_id == node_id)
                return w;
        if (window_reserve(l, now) < 0)
                return NULL;
        w = window_find(l, node_id, now);
        if (w->node_id != node_id) {
                l->n_used++; /* also for a slot taken over: an upper bound, recounted by the next rebuild */
                window_clear(w);
                w->node_id = node_id;
        }
        return w;
}

int challenge_limits_issue(ChallengeLimits *l, int64_t node_id, uint64_t floor_ms, uint64_t now,
                           uint64_t *ret_issued_ms) {
        return challenge_limits_issue_with(l, node_id, floor_ms, now, NULL, 0, ret_issued_ms);
}

int challenge_limits_issue_with(ChallengeLimits *l, int64_t node_id, uint64_t floor_ms, uint64_t now,
                                const void *snapshot, size_t snapshot_size, uint64_t *ret_issued_ms) {
        uint64_t issued = MAX(now, floor_ms + 1);
        _cleanup_free_ uint8_t *copy = NULL;
        ChallengeWindow *w;
        unsigned open = 0, oldest = 0;
        int r = 0;

        if (snapshot_size > CHALLENGE_SNAPSHOT_MAX)
                return -E2BIG;
        /* Copied before the lock: only the swap happens under it. */
        if (snapshot && snapshot_size > 0 && !(copy = memdup(snapshot, snapshot_size)))
                return -ENOMEM;
        pthread_mutex_lock(&l->lock);
        w = window_get(l, node_id, now);
        if (!w)
                r = -ENOMEM;
        else {
                for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++) {
                        if (w->issued_ms[i] > floor_ms && w->issued_ms[i] + l->lifetime_ms > now)
                                open++;
                        if (w->issued_ms[i] < w->issued_ms[oldest])
                                oldest = i;
                }
                /* Each challenge of the node its own time on this server, so its own id. */
                issued = MAX(issued, w->last_issued_ms + 1);
                if (open >= CHALLENGES_PER_NODE_MAX)
                        r = -EUSERS;
                else { /* the oldest one is free, answered or expired (older than every open one) */
                        w->issued_ms[oldest] = issued;
                        w->last_issued_ms = issued;
                        if (copy) {
                                free(w->snapshot);
                                w->snapshot = TAKE_PTR(copy);
                                w->snapshot_size = snapshot_size;
                        }
                }
        }
        pthread_mutex_unlock(&l->lock);
        if (r >= 0)
                *ret_issued_ms = issued;
        return r;
}

/* The node's window if it has one, found without window_find()'s taking over of a stale slot; NULL if none. */
static ChallengeWindow *window_lookup(ChallengeLimits *l, int64_t node_id) {
        for (size_t i = l->n_slots > 0 ? window_hash(node_id, l->n_slots) : 0; l->n_slots > 0;
             i = (i + 1) & (l->n_slots - 1)) {
                ChallengeWindow *w = &l->slots[i];

                if (w->node_id == 0)
                        return NULL;
                if (w->node_id == node_id)
                        return w;
        }
        return NULL;
}

/* The slot of the window's challenge issued at issued_ms, or -1. */
static int window_challenge(const ChallengeWindow *w, uint64_t issued_ms) {
        for (unsigned k = 0; w && issued_ms > 0 && k < CHALLENGES_PER_NODE_MAX; k++)
                if (w->issued_ms[k] == issued_ms)
                        return (int) k;
        return -1;
}

size_t challenge_limits_recall(ChallengeLimits *l, int64_t node_id, uint64_t issued_ms,
                               uint8_t buf[static CHALLENGE_SNAPSHOT_MAX]) {
        const ChallengeWindow *w;
        size_t size = 0;

        pthread_mutex_lock(&l->lock);
        w = window_lookup(l, node_id);
        if (w && w->snapshot && window_challenge(w, issued_ms) >= 0) {
                memcpy(buf, w->snapshot, w->snapshot_size);
                size = w->snapshot_size;
        }
        pthread_mutex_unlock(&l->lock);
        return size;
}

void challenge_limits_release(ChallengeLimits *l, int64_t node_id, uint64_t issued_ms) {
        ChallengeWindow *w;
        int k;

        pthread_mutex_lock(&l->lock);
        w = window_lookup(l, node_id);
        k = window_challenge(w, issued_ms);
        if (k >= 0)
                w->issued_ms[k] = 0;
        pthread_mutex_unlock(&l->lock);
}

bool challenge_limits_log_refusal(ChallengeLimits *l, int64_t node_id, uint64_t now) {
        ChallengeWindow *w;
        bool ok = false;

        pthread_mutex_lock(&l->lock);
        w = window_get(l, node_id, now);
        if (w) {
                if (w->refusals_since_ms + l->lifetime_ms <= now) {
                        w->refusals_since_ms = now;
                        w->n_refusals = 0;
                }
                ok = w->n_refusals < CHALLENGES_PER_NODE_MAX;
                if (ok)
                        w->n_refusals++;
        }
        pthread_mutex_unlock(&l->lock);
        return ok;
}
