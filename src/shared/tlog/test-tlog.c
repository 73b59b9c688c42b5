/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Merkle tree against the Certificate Transparency test tree (the eight leaves of RFC 6962's reference
 * tests, their roots for 1…8 leaves and proofs from them), against a second implementation here that
 * follows the RFC's recursive definitions over the leaves themselves (no stored hashes), and the negative
 * cases of issue 14: a wrong leaf, a flipped bit, a proof one hash short or long, sizes off by one,
 * size1 = 0, size1 = size2, index ≥ size. */
#include <stdlib.h>

#include "hexdecoct.h"
#include "tests.h"
#include "tlog.h"

/* ---- a log in memory, appended to as the server will append: stored hashes per level --------------- */

#define LEAVES_MAX 130U

typedef struct MemLog {
        TlogHash level[TLOG_LEVELS_MAX + 1][LEAVES_MAX];
        uint64_t count[TLOG_LEVELS_MAX + 1];
        uint64_t size;
        uint64_t stored; /* hashes stored so far, in order */
        unsigned reads;
} MemLog;

static int mem_read(void *userdata, unsigned level, uint64_t index, TlogHash *ret) {
        MemLog *l = userdata;

        l->reads++;
        if (level > TLOG_LEVELS_MAX || index >= l->count[level])
                return -ENOENT;
        *ret = l->level[level][index];
        return 0;
}

static void mem_append(MemLog *l, const void *data, size_t size) {
        TlogHash leaf, stored[TLOG_LEVELS_MAX + 1];
        size_t n;

        ASSERT_TRUE(l->size < LEAVES_MAX);
        ASSERT_TRUE(tlog_leaf_hash(data, size, &leaf));
        ASSERT_OK(tlog_stored_hashes(l->size, &leaf, mem_read, l, stored, &n));
        for (size_t i = 0; i < n; i++) {
                ASSERT_EQ(l->count[i], l->size >> i); /* each level grows in order */
                /* one append-only array: each new hash goes right after the last */
                ASSERT_EQ(tlog_stored_hash_index((unsigned) i, l->size >> i), l->stored);
                l->stored++;
                l->level[i][l->count[i]++] = stored[i];
        }
        l->size++;
}

/* ---- the RFC's definitions, directly over leaf hashes ----------------------------------------------- */

static uint64_t split(uint64_t n) {
        uint64_t k = 1;
        while (k * 2 < n)
                k *= 2;
        return k;
}

static TlogHash naive_mth(const TlogHash *leaves, uint64_t n) {
        TlogHash l, r, h;

        if (n == 1)
                return leaves[0];
        l = naive_mth(leaves, split(n));
        r = naive_mth(leaves + split(n), n - split(n));
        ASSERT_TRUE(tlog_node_hash(&l, &r, &h));
        return h;
}

static void naive_path(const TlogHash *leaves, uint64_t m, uint64_t n, TlogHash *out, size_t *k) {
        uint64_t s;

        if (n == 1)
                return;
        s = split(n);
        if (m < s) {
                naive_path(leaves, m, s, out, k);
                out[(*k)++] = naive_mth(leaves + s, n - s);
        } else {
                naive_path(leaves + s, m - s, n - s, out, k);
                out[(*k)++] = naive_mth(leaves, s);
        }
}

static void naive_subproof(const TlogHash *leaves, uint64_t m, uint64_t n, bool b, TlogHash *out, size_t *k) {
        uint64_t s;

        if (m == n) {
                if (!b)
                        out[(*k)++] = naive_mth(leaves, n);
                return;
        }
        s = split(n);
        if (m <= s) {
                naive_subproof(leaves, m, s, b, out, k);
                out[(*k)++] = naive_mth(leaves + s, n - s);
        } else {
                naive_subproof(leaves + s, m - s, n - s, false, out, k);
                out[(*k)++] = naive_mth(leaves, s);
        }
}

/* ---- the CT test tree ------------------------------------------------------------------------------- */

static const struct {
        const char *hex;
} ct_leaves[8] = {
        { "" }, { "00" }, { "10" }, { "2021" }, { "3031" }, { "40414243" }, { "5051525354555657" },
        { "606162636465666768696a6b6c6d6e6f" },
};

static const char *const ct_roots[8] = {
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

typedef struct KnownProof {
        uint64_t a, size; /* inclusion: leaf a; consistency: size1 a */
        const char *hashes[3];
        size_t n;
} KnownProof;

static const KnownProof ct_inclusion[] = {
        { 0, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" }, 3 },
        { 5, 8, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" }, 3 },
        { 2, 3, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" }, 1 },
        { 1, 5, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" }, 3 },
};

static const KnownProof ct_consistency[] = {
        { 1, 8, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                  "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                  "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" }, 3 },
        { 6, 8, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                  "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" }, 3 },
        { 2, 5, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                  "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" }, 2 },
};

static TlogHash from_hex(const char *hex) {
        _cleanup_free_ void *d = NULL;
        TlogHash h;
        size_t n;

        ASSERT_OK(unhexmem(hex, TLOG_HASH_SIZE, &d, &n));
        ASSERT_EQ(n, TLOG_HASH_SIZE);
        memcpy(h.bytes, d, TLOG_HASH_SIZE);
        return h;
}

static MemLog *ct_log(TlogHash leaves[8]) {
        MemLog *l = calloc(1, sizeof(MemLog));

        ASSERT_NOT_NULL(l);
        for (size_t i = 0; i < 8; i++) {
                _cleanup_free_ void *d = NULL;
                size_t n = 0;

                if (*ct_leaves[i].hex)
                        ASSERT_OK(unhexmem(ct_leaves[i].hex, 64, &d, &n));
                mem_append(l, d ? d : "", n);
                ASSERT_TRUE(tlog_leaf_hash(d ? d : "", n, &leaves[i]));
        }
        return l;
}

static TlogHash root_of(MemLog *l, uint64_t size) {
        TlogHash h;

        ASSERT_OK(tlog_tree_hash(size, mem_read, l, &h));
        return h;
}

TEST(ct_roots) {
        TlogHash leaves[8];
        _cleanup_free_ MemLog *l = ct_log(leaves);

        for (uint64_t n = 1; n <= 8; n++) {
                TlogHash want = from_hex(ct_roots[n - 1]), got = root_of(l, n);
                ASSERT_TRUE(tlog_hash_equal(&got, &want));
        }
        /* The log stores 2n − popcount(n) hashes: 8 leaves, 4 + 2 + 1 interior nodes. */
        ASSERT_EQ(l->count[0], 8);
        ASSERT_EQ(l->count[1], 4);
        ASSERT_EQ(l->count[2], 2);
        ASSERT_EQ(l->count[3], 1);
        ASSERT_EQ(l->count[4], 0);
}

TEST(ct_proofs) {
        TlogHash leaves[8], proof[TLOG_PROOF_MAX];
        _cleanup_free_ MemLog *l = ct_log(leaves);
        size_t n;

        for (size_t i = 0; i < ELEMENTSOF(ct_inclusion); i++) {
                const KnownProof *k = &ct_inclusion[i];
                TlogHash root = from_hex(ct_roots[k->size - 1]);

                ASSERT_OK(tlog_prove_inclusion(k->a, k->size, mem_read, l, proof, &n));
                ASSERT_EQ(n, k->n);
                for (size_t j = 0; j < n; j++) {
                        TlogHash want = from_hex(k->hashes[j]);
                        ASSERT_TRUE(tlog_hash_equal(&proof[j], &want));
                }
                ASSERT_TRUE(tlog_verify_inclusion(&leaves[k->a], k->a, k->size, proof, n, &root));
        }
        for (size_t i = 0; i < ELEMENTSOF(ct_consistency); i++) {
                const KnownProof *k = &ct_consistency[i];
                TlogHash r1 = from_hex(ct_roots[k->a - 1]), r2 = from_hex(ct_roots[k->size - 1]);

                ASSERT_OK(tlog_prove_consistency(k->a, k->size, mem_read, l, proof, &n));
                ASSERT_EQ(n, k->n);
                for (size_t j = 0; j < n; j++) {
                        TlogHash want = from_hex(k->hashes[j]);
                        ASSERT_TRUE(tlog_hash_equal(&proof[j], &want));
                }
                ASSERT_TRUE(tlog_verify_consistency(k->a, k->size, &r1, &r2, proof, n));
        }
}

/* Every inclusion and consistency proof of every tree up to LEAVES_MAX leaves: equal to the RFC's
 * definitions, accepted, and refused after each mutation. */
TEST(every_tree) {
        _cleanup_free_ MemLog *l = calloc(1, sizeof(MemLog));
        TlogHash leaves[LEAVES_MAX], proof[TLOG_PROOF_MAX], want[TLOG_PROOF_MAX];
        size_t n, k;

        ASSERT_NOT_NULL(l);
        for (uint64_t i = 0; i < LEAVES_MAX; i++) {
                uint8_t entry[9] = { 'e' };
                memcpy(entry + 1, &i, sizeof(i));
                mem_append(l, entry, sizeof(entry));
                ASSERT_TRUE(tlog_leaf_hash(entry, sizeof(entry), &leaves[i]));
        }

        for (uint64_t size = 1; size <= LEAVES_MAX; size++) {
                TlogHash root = root_of(l, size), naive = naive_mth(leaves, size);

                ASSERT_TRUE(tlog_hash_equal(&root, &naive));
                for (uint64_t m = 0; m < size; m++) {
                        l->reads = 0;
                        ASSERT_OK(tlog_prove_inclusion(m, size, mem_read, l, proof, &n));
                        ASSERT_TRUE(l->reads <= 2 * 8 * 8); /* O(log² n) stored hashes at most */
                        k = 0;
                        naive_path(leaves, m, size, want, &k);
                        ASSERT_EQ(n, k);
                        ASSERT_TRUE(memcmp(proof, want, n * sizeof(TlogHash)) == 0);
                        ASSERT_TRUE(tlog_verify_inclusion(&leaves[m], m, size, proof, n, &root));

                        /* index and size off by one (each size with its own head: a head commits to its size,
                         * and the proof of a leaf on the left can also walk a smaller tree), another leaf, a
                         * proof one hash short or long */
                        if (size < LEAVES_MAX) {
                                TlogHash bigger = root_of(l, size + 1);
                                ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m, size + 1, proof, n, &bigger));
                        }
                        if (size > 1) {
                                TlogHash smaller = root_of(l, size - 1);
                                ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m, size - 1, proof, n, &smaller));
                        }
                        ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m + 1, size, proof, n, &root));
                        ASSERT_FALSE(m > 0 && tlog_verify_inclusion(&leaves[m], m - 1, size, proof, n, &root));
                        ASSERT_FALSE(tlog_verify_inclusion(&leaves[(m + 1) % LEAVES_MAX], m, size, proof, n, &root));
                        ASSERT_FALSE(n > 0 && tlog_verify_inclusion(&leaves[m], m, size, proof, n - 1, &root));
                        proof[n] = leaves[0];
                        ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m, size, proof, n + 1, &root));
                        for (size_t j = 0; j < n; j++) {
                                proof[j].bytes[j % TLOG_HASH_SIZE] ^= 0x01;
                                ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m, size, proof, n, &root));
                                proof[j].bytes[j % TLOG_HASH_SIZE] ^= 0x01;
                        }
                        root.bytes[0] ^= 0x80;
                        ASSERT_FALSE(tlog_verify_inclusion(&leaves[m], m, size, proof, n, &root));
                        root.bytes[0] ^= 0x80;
                }
                ASSERT_FALSE(tlog_verify_inclusion(&leaves[0], size, size, proof, 0, &root)); /* index ≥ size */
                ASSERT_ERROR(tlog_prove_inclusion(size, size, mem_read, l, proof, &n), EINVAL);

                for (uint64_t m = 1; m <= size; m++) {
                        TlogHash r1 = root_of(l, m);

                        ASSERT_OK(tlog_prove_consistency(m, size, mem_read, l, proof, &n));
                        k = 0;
                        naive_subproof(leaves, m, size, true, want, &k);
                        ASSERT_EQ(n, k);
                        ASSERT_TRUE(memcmp(proof, want, n * sizeof(TlogHash)) == 0);
                        ASSERT_TRUE(tlog_verify_consistency(m, size, &r1, &root, proof, n));
                        if (m == size) {
                                /* size1 = size2: an empty proof and equal heads, nothing else */
                                ASSERT_EQ(n, 0);
                                proof[0] = r1;
                                ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, 1));
                                continue;
                        }
                        if (size < LEAVES_MAX) {
                                TlogHash bigger = root_of(l, size + 1);
                                ASSERT_FALSE(tlog_verify_consistency(m, size + 1, &r1, &bigger, proof, n));
                        }
                        TlogHash smaller = root_of(l, size - 1), next = root_of(l, m + 1);
                        ASSERT_FALSE(tlog_verify_consistency(m, size - 1, &r1, &smaller, proof, n));
                        if (m > 1) {
                                TlogHash previous = root_of(l, m - 1);
                                ASSERT_FALSE(tlog_verify_consistency(m - 1, size, &previous, &root, proof, n));
                        }
                        ASSERT_FALSE(tlog_verify_consistency(m + 1, size, &next, &root, proof, n));
                        ASSERT_FALSE(tlog_verify_consistency(size, m, &root, &r1, proof, n)); /* size1 > size2 */
                        ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, n - 1));
                        proof[n] = leaves[0];
                        ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, n + 1));
                        for (size_t j = 0; j < n; j++) {
                                proof[j].bytes[(j * 7) % TLOG_HASH_SIZE] ^= 0x04;
                                ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, n));
                                proof[j].bytes[(j * 7) % TLOG_HASH_SIZE] ^= 0x04;
                        }
                        r1.bytes[31] ^= 0x01;
                        ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, n));
                        r1.bytes[31] ^= 0x01;
                        root.bytes[31] ^= 0x01;
                        ASSERT_FALSE(tlog_verify_consistency(m, size, &r1, &root, proof, n));
                        root.bytes[31] ^= 0x01;
                }
                /* size1 = 0: the empty tree proves nothing */
                ASSERT_FALSE(tlog_verify_consistency(0, size, &root, &root, proof, 0));
                ASSERT_ERROR(tlog_prove_consistency(0, size, mem_read, l, proof, &n), EINVAL);
        }
}

/* The compact range a monitor keeps gives every head the stored hashes give, entry by entry. */
TEST(compact) {
        _cleanup_free_ MemLog *l = calloc(1, sizeof(MemLog));
        TlogCompact c = {};
        TlogHash h, want;

        ASSERT_NOT_NULL(l);
        ASSERT_ERROR(tlog_compact_root(&c, &h), ENODATA);
        for (uint64_t i = 0; i < LEAVES_MAX; i++) {
                uint8_t entry[9] = { 'c' };
                TlogHash leaf;

                memcpy(entry + 1, &i, sizeof(i));
                mem_append(l, entry, sizeof(entry));
                ASSERT_TRUE(tlog_leaf_hash(entry, sizeof(entry), &leaf));
                ASSERT_OK(tlog_compact_append(&c, &leaf));
                ASSERT_TRUE(tlog_compact_valid(&c));
                ASSERT_EQ(c.n, __builtin_popcountll(i + 1));
                ASSERT_OK(tlog_compact_root(&c, &h));
                want = root_of(l, i + 1);
                ASSERT_TRUE(tlog_hash_equal(&h, &want));
        }
        c.size++;
        ASSERT_FALSE(tlog_compact_valid(&c));
        c.size--;
        c.edge[0].level--;
        ASSERT_FALSE(tlog_compact_valid(&c));
}

/* A log shorter than the caller says: the missing stored hash is an error, not a made-up head. */
TEST(short_store) {
        TlogHash leaves[8], h, proof[TLOG_PROOF_MAX];
        _cleanup_free_ MemLog *l = ct_log(leaves);
        size_t n;

        ASSERT_ERROR(tlog_tree_hash(9, mem_read, l, &h), ENOENT);
        ASSERT_ERROR(tlog_prove_inclusion(0, 9, mem_read, l, proof, &n), ENOENT);
        ASSERT_ERROR(tlog_tree_hash(0, mem_read, l, &h), EINVAL);
        ASSERT_ERROR(tlog_tree_hash(TLOG_SIZE_MAX + 1, mem_read, l, &h), EINVAL);
}

/* The largest trees: proofs in a log of 2^63 − 1 leaves are built within the bound and verify. The reader
 * makes up every stored hash, so only what rests on the right edge's complete subtrees is consistent: the
 * last leaf's inclusion, and the consistency of two sizes near the end. */
static int fake_read(void *userdata, unsigned level, uint64_t index, TlogHash *ret) {
        memset(ret->bytes, 0, TLOG_HASH_SIZE);
        memcpy(ret->bytes, &index, sizeof(index));
        ret->bytes[31] = (uint8_t) level;
        return 0;
}

TEST(huge) {
        TlogHash proof[TLOG_PROOF_MAX], root, r1, leaf;
        size_t n;

        const uint64_t size = TLOG_SIZE_MAX - 1;

        ASSERT_OK(tlog_tree_hash(size, fake_read, NULL, &root));
        ASSERT_OK(fake_read(NULL, 0, size - 1, &leaf));
        ASSERT_OK(tlog_prove_inclusion(size - 1, size, fake_read, NULL, proof, &n));
        ASSERT_EQ(n, 62); /* one sibling per complete subtree of the right edge but its own */
        ASSERT_TRUE(tlog_verify_inclusion(&leaf, size - 1, size, proof, n, &root));
        ASSERT_OK(tlog_tree_hash(size - 3, fake_read, NULL, &r1));
        ASSERT_OK(tlog_prove_consistency(size - 3, size, fake_read, NULL, proof, &n));
        ASSERT_TRUE(n <= TLOG_PROOF_MAX);
        ASSERT_TRUE(tlog_verify_consistency(size - 3, size, &r1, &root, proof, n));
        ASSERT_FALSE(tlog_verify_inclusion(&leaf, size - 1, TLOG_SIZE_MAX + 1, proof, n, &root));
        ASSERT_ERROR(tlog_prove_inclusion(0, TLOG_SIZE_MAX + 1, fake_read, NULL, proof, &n), EINVAL);
}

TEST(entry_field) {
        static const char entry[] = "patela-log-entry/1\nkind verdict\nnode AAAA-BBBB\nimage -\nimages x\n";
        char buf[16], small[4];

        ASSERT_STREQ(tlog_entry_field(entry, "kind", buf, sizeof(buf)), "verdict");
        ASSERT_STREQ(tlog_entry_field(entry, "image", buf, sizeof(buf)), "-");   /* not "images" */
        ASSERT_STREQ(tlog_entry_field(entry, "images", buf, sizeof(buf)), "x");
        ASSERT_NULL(tlog_entry_field(entry, "node", small, sizeof(small)));    /* does not fit */
        ASSERT_NULL(tlog_entry_field(entry, "verdict", buf, sizeof(buf)));     /* a value, not a name */
        ASSERT_NULL(tlog_entry_field(entry, "patela-log-entry/1", buf, sizeof(buf)));
        ASSERT_STREQ(tlog_entry_field("a 1", "a", buf, sizeof(buf)), "1");       /* no final newline */
        ASSERT_NULL(tlog_entry_field("", "a", buf, sizeof(buf)));
}

DEFINE_TEST_MAIN
