/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Challenges derived from the server's key (server-challenge.h): what an id carries and what refuses a made-up
 * one, the single answer through the node's floor, and the per-server bounds on open challenges and logged
 * refusals. */
#include <stdlib.h>
#include <string.h>

#include "server-challenge.h"
#include "server-nodes.h"
#include "test-server-node.h"
#include "test-server-util.h"
#include "tests.h"
#include "tpm2-marshal.h"
#include "tpm2-templates.h"

static const uint8_t key_a[CHALLENGE_KEY_SIZE] = { 1, 2, 3 }, key_b[CHALLENGE_KEY_SIZE] = { 1, 2, 4 };

TEST(make_and_open) {
        ChallengeKey k = {}, other = {};
        Challenge made = {}, opened = {}, later = {};
        uint8_t id[PROTO_CHALLENGE_ID_SIZE], id2[PROTO_CHALLENGE_ID_SIZE], bad[PROTO_CHALLENGE_ID_SIZE];

        ASSERT_OK(challenge_key_from_bytes(key_a, &k));
        ASSERT_OK(challenge_key_from_bytes(key_b, &other));
        ASSERT_OK(challenge_make(&k, 42, 1700000000123ULL, id, &made));
        /* The id shows its node and its time, big-endian. */
        ASSERT_EQ(node_key_prefix_get(id), 42);
        ASSERT_EQ(id[8 + 7], 1700000000123ULL & 0xff);
        ASSERT_OK(challenge_open(&k, id, &opened));
        ASSERT_EQ(opened.node_id, 42);
        ASSERT_EQ(opened.issued_ms, 1700000000123ULL);
        ASSERT_MEMEQ(opened.nonce, made.nonce, PROTO_NONCE_SIZE);
        ASSERT_MEMEQ(opened.secret, made.secret, PROTO_SECRET_SIZE);
        /* The nonce is public, the secret is not: independent values. */
        ASSERT_TRUE(memcmp(made.nonce, made.secret, 32) != 0);

        /* Another millisecond: other values. */
        ASSERT_OK(challenge_make(&k, 42, 1700000000124ULL, id2, &later));
        ASSERT_TRUE(memcmp(later.secret, made.secret, 32) != 0);
        ASSERT_TRUE(memcmp(later.nonce, made.nonce, 32) != 0);

        /* Any changed bit of the id, another server key, node 0: not the server's. */
        for (unsigned i = 0; i < PROTO_CHALLENGE_ID_SIZE; i++) {
                memcpy(bad, id, sizeof(bad));
                bad[i] ^= 0x01;
                ASSERT_ERROR(challenge_open(&k, bad, &opened), ENOENT);
        }
        ASSERT_ERROR(challenge_open(&other, id, &opened), ENOENT);
        memcpy(bad, id, sizeof(bad));
        memset(bad, 0, 8);
        ASSERT_ERROR(challenge_open(&k, bad, &opened), ENOENT);
        /* The other node's id with this node's time and tag. */
        memcpy(bad, id, sizeof(bad));
        node_key_prefix_put(bad, 43);
        ASSERT_ERROR(challenge_open(&k, bad, &opened), ENOENT);

        challenge_done(&made);
        challenge_done(&opened);
        challenge_done(&later);
        challenge_key_done(&k);
        challenge_key_done(&other);
}

static int take(Db *db, const Challenge *c) {
        int r;

        ASSERT_OK(db_begin(db));
        r = challenge_take(db, c);
        ASSERT_OK(db_commit(db));
        return r;
}

TEST(taken_once) {
        _cleanup_free_ char *path = temp_db();
        ChallengeKey k = {};
        Challenge c1 = {}, c2 = {}, c3 = {};
        uint8_t id[PROTO_CHALLENGE_ID_SIZE];
        Db *db = NULL;
        int64_t node;
        Node n;

        ASSERT_OK(db_open(path, &db));
        /* Migration 17 made the database's key: 32 bytes, loaded. */
        ASSERT_OK(challenge_key_load(db, &k));
        node = test_node_new(db, 1);
        ASSERT_OK(node_get(db, node, &n));
        /* A new node's floor is its creation: a challenge of an earlier node with its id is void. */
        ASSERT_TRUE(n.challenge_floor_ms + 5000 > now_ms());
        ASSERT_TRUE(n.challenge_floor_ms <= now_ms());

        ASSERT_OK(challenge_make(&k, node, now_ms() + 1, id, &c1));
        ASSERT_OK(challenge_make(&k, node, now_ms() + 2, id, &c2));
        ASSERT_OK(challenge_make(&k, node, now_ms() + 3, id, &c3));
        /* Answered: taken once. */
        ASSERT_OK(take(db, &c2));
        ASSERT_ERROR(take(db, &c2), ESTALE);
        /* An older open challenge of the node is void once a later one was answered. */
        ASSERT_ERROR(take(db, &c1), ESTALE);
        ASSERT_OK(take(db, &c3));
        ASSERT_OK(node_get(db, node, &n));
        ASSERT_EQ(n.challenge_floor_ms, c3.issued_ms);

        /* A change of state voids the open ones; the floor never goes down. */
        Challenge c4 = {}, c5 = {};
        ASSERT_OK(challenge_make(&k, node, c3.issued_ms + 10, id, &c4));
        ASSERT_OK(db_begin(db));
        ASSERT_OK(challenge_void_all(db, node, c3.issued_ms + 20));
        ASSERT_OK(challenge_void_all(db, node, c3.issued_ms + 15));
        ASSERT_OK(db_commit(db));
        ASSERT_ERROR(take(db, &c4), ESTALE);
        ASSERT_OK(node_get(db, node, &n));
        ASSERT_EQ(n.challenge_floor_ms, c3.issued_ms + 20);
        ASSERT_OK(challenge_make(&k, node, c3.issued_ms + 21, id, &c5));
        ASSERT_OK(take(db, &c5));

        /* A removed node's challenges are taken by nobody. */
        Challenge gone = {};
        ASSERT_OK(challenge_make(&k, node + 1000, now_ms(), id, &gone));
        ASSERT_ERROR(take(db, &gone), ESTALE);

        challenge_key_done(&k);
        db_close(db);
        cleanup_db(path);
}

TEST(open_challenges_bounded) {
        ChallengeLimits l;
        uint64_t t = 1000000, issued, last = 0;

        challenge_limits_init(&l, /* lifetime_ms= */ 60000);
        for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++) {
                ASSERT_OK(challenge_limits_issue(&l, 7, /* floor_ms= */ 0, t, &issued));
                /* Each its own millisecond, even within one. */
                ASSERT_TRUE(issued > last);
                last = issued;
        }
        ASSERT_ERROR(challenge_limits_issue(&l, 7, 0, t + 10, &issued), EUSERS);
        /* Another node has its own. */
        ASSERT_OK(challenge_limits_issue(&l, 8, 0, t + 10, &issued));
        /* An answer (the floor past the second one) frees two. */
        ASSERT_OK(challenge_limits_issue(&l, 7, t + 1, t + 20, &issued));
        ASSERT_OK(challenge_limits_issue(&l, 7, t + 1, t + 21, &issued));
        ASSERT_ERROR(challenge_limits_issue(&l, 7, t + 1, t + 22, &issued), EUSERS);
        /* One whose answer could not be recorded (a database error) is released: one more, once; the next id is
         * still past every earlier one. */
        last = issued;
        challenge_limits_release(&l, 7, last);
        challenge_limits_release(&l, 12345, last); /* no window: nothing */
        ASSERT_OK(challenge_limits_issue(&l, 7, t + 1, t + 23, &issued));
        ASSERT_TRUE(issued > last);
        ASSERT_ERROR(challenge_limits_issue(&l, 7, t + 1, t + 24, &issued), EUSERS);
        /* Expired ones free theirs. */
        ASSERT_OK(challenge_limits_issue(&l, 7, t + 1, t + 60003, &issued));
        /* The time given is never at or before the floor. */
        ASSERT_OK(challenge_limits_issue(&l, 9, /* floor_ms= */ t + 500, t, &issued));
        ASSERT_EQ(issued, t + 501);
        challenge_limits_done(&l);
}

TEST(refusals_logged_bounded) {
        ChallengeLimits l;
        uint64_t t = 5000000;

        challenge_limits_init(&l, 2000);
        for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++)
                ASSERT_TRUE(challenge_limits_log_refusal(&l, 3, t + i));
        ASSERT_FALSE(challenge_limits_log_refusal(&l, 3, t + 100));
        ASSERT_TRUE(challenge_limits_log_refusal(&l, 4, t + 100));
        /* A lifetime later: logged again. */
        ASSERT_TRUE(challenge_limits_log_refusal(&l, 3, t + 2000));
        challenge_limits_done(&l);
}

TEST(limits_table_grows_and_prunes) {
        ChallengeLimits l;
        uint64_t issued;

        challenge_limits_init(&l, 1000);
        /* 10,000 nodes within a lifetime: each bounded on its own. */
        for (int64_t n = 1; n <= 10000; n++)
                for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++)
                        ASSERT_OK(challenge_limits_issue(&l, n, 0, 100000 + (uint64_t) n / 100, &issued));
        for (int64_t n = 1; n <= 10000; n += 997)
                ASSERT_ERROR(challenge_limits_issue(&l, n, 0, 100200, &issued), EUSERS);
        ASSERT_TRUE(l.n_slots * 3 >= 10000 * 4);
        /* Long after: other nodes come; the table is rebuilt from the live ones only and does not grow. */
        size_t before = l.n_slots;
        for (int64_t n = 20001; n <= 30000; n++)
                ASSERT_OK(challenge_limits_issue(&l, n, 0, 500000 + (uint64_t) (n - 20001) / 100, &issued));
        ASSERT_TRUE(l.n_slots <= before);
        /* The old nodes start afresh. */
        for (unsigned i = 0; i < CHALLENGES_PER_NODE_MAX; i++)
                ASSERT_OK(challenge_limits_issue(&l, 1, 0, 500200, &issued));
        ASSERT_ERROR(challenge_limits_issue(&l, 1, 0, 500200, &issued), EUSERS);
        challenge_limits_done(&l);
}

/* What an answer needs of its node travels with the node's latest challenge: recalled for any open challenge of the
 * window, replaced by the next issue, gone with the window (taken over once it bounds nothing, or rebuilt away), and
 * never recalled for a challenge the window does not hold. Under ASan, every copy is freed. */
TEST(limits_keep_snapshots) {
        uint8_t buf[CHALLENGE_SNAPSHOT_MAX], big[CHALLENGE_SNAPSHOT_MAX + 1] = {};
        uint64_t first, second, other;
        ChallengeLimits l;

        challenge_limits_init(&l, 1000);
        ASSERT_EQ(challenge_limits_recall(&l, 7, 100000, buf), 0U); /* no table yet */
        ASSERT_OK(challenge_limits_issue_with(&l, 7, 0, 100000, "first", 6, &first));
        ASSERT_EQ(challenge_limits_recall(&l, 7, first, buf), 6U);
        ASSERT_STREQ((char *) buf, "first");
        ASSERT_EQ(challenge_limits_recall(&l, 7, first + 1, buf), 0U); /* not one of its challenges */
        ASSERT_EQ(challenge_limits_recall(&l, 8, first, buf), 0U);
        ASSERT_OK(challenge_limits_issue_with(&l, 7, 0, 100010, "second!", 8, &second));
        ASSERT_EQ(challenge_limits_recall(&l, 7, first, buf), 8U); /* the latest, for either open challenge */
        ASSERT_STREQ((char *) buf, "second!");
        ASSERT_EQ(challenge_limits_recall(&l, 7, second, buf), 8U);
        /* Without a snapshot, the kept one stays. */
        ASSERT_OK(challenge_limits_issue(&l, 7, 0, 100020, &other));
        ASSERT_EQ(challenge_limits_recall(&l, 7, other, buf), 8U);
        ASSERT_ERROR(challenge_limits_issue_with(&l, 7, 0, 100030, big, sizeof(big), &other), E2BIG);
        /* Released: that challenge is no longer the window's. */
        challenge_limits_release(&l, 7, second);
        ASSERT_EQ(challenge_limits_recall(&l, 7, second, buf), 0U);
        /* Long after, other nodes fill the table: node 7's window bounds nothing, its slot and copy go. */
        for (int64_t n = 100; n < 5100; n++)
                ASSERT_OK(challenge_limits_issue_with(&l, n, 0, 900000, "x", 2, &other));
        ASSERT_EQ(challenge_limits_recall(&l, 7, first, buf), 0U);
        ASSERT_EQ(challenge_limits_recall(&l, 4000, other, buf), 2U);
        challenge_limits_done(&l);
}

/* A node's snapshot carries what an answer reads of its row, and nothing it could misread. */
TEST(node_snapshot_round_trip) {
        _cleanup_free_ char *path = temp_db();
        uint8_t buf[NODE_SNAPSHOT_MAX];
        Node n, back;
        size_t size;
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(node_get(db, test_node_new(db, 3), &n));
        ASSERT_TRUE(n.credential_proven); /* created by its proof */
        n.reset_count = 41;
        ASSERT_OK(node_snapshot(&n, buf, &size));
        ASSERT_TRUE(size < 256U); /* an ECC AK: a few bytes per open window */
        ASSERT_OK(node_from_snapshot(buf, size, &back));
        ASSERT_EQ(back.id, n.id);
        ASSERT_EQ(back.state, NODE_PENDING);
        ASSERT_EQ(back.reset_count, 41);
        ASSERT_EQ(back.challenge_floor_ms, n.challenge_floor_ms);
        ASSERT_TRUE(back.credential_proven);
        ASSERT_STREQ(back.fingerprint, n.fingerprint);
        ASSERT_EQ(memcmp(&back.ak_public, &n.ak_public, sizeof(n.ak_public)), 0);
        ASSERT_EQ(back.ek_public.size, 0); /* not carried */
        ASSERT_ERROR(node_from_snapshot(buf, size - 1, &back), EBADMSG); /* the AK cut short */
        ASSERT_ERROR(node_from_snapshot(buf, 8, &back), EBADMSG);
        buf[size] = 0;
        ASSERT_ERROR(node_from_snapshot(buf, size + 1, &back), EBADMSG); /* a trailing byte */
        db_close(db);
        cleanup_db(path);
}

DEFINE_TEST_MAIN
