/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "digest-util.h"
#include "hexdecoct.h"
#include "tlog.h"

bool tlog_hash_equal(const TlogHash *a, const TlogHash *b) {
        return CRYPTO_memcmp(a->bytes, b->bytes, TLOG_HASH_SIZE) == 0;
}

static bool hash_prefixed(uint8_t prefix, const void *a, size_t a_size, const void *b, size_t b_size,
                          TlogHash *ret) {
        const EVP_MD *md = digest_md("SHA256");
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned n = 0;
        bool ok;

        ok = md && ctx && EVP_DigestInit_ex2(ctx, md, NULL) == 1 && EVP_DigestUpdate(ctx, &prefix, 1) == 1 &&
             (a_size == 0 || EVP_DigestUpdate(ctx, a, a_size) == 1) &&
             (b_size == 0 || EVP_DigestUpdate(ctx, b, b_size) == 1) &&
             EVP_DigestFinal_ex(ctx, ret->bytes, &n) == 1 && n == TLOG_HASH_SIZE;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                memset(ret->bytes, 0, TLOG_HASH_SIZE);
        return ok;
}

int tlog_hash_parse(const char *base64, TlogHash *ret) {
        void *d = NULL;
        size_t n;
        int r;

        assert(ret);
        if (!base64)
                return -EBADMSG;
        r = unbase64mem(base64, TLOG_HASH_SIZE, &d, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n != TLOG_HASH_SIZE) {
                free(d);
                return -EBADMSG;
        }
        memcpy(ret->bytes, d, TLOG_HASH_SIZE);
        free(d);
        return 0;
}

bool tlog_leaf_hash(const void *data, size_t size, TlogHash *ret) {
        assert(data || size == 0);
        return hash_prefixed(0x00, data, size, NULL, 0, ret);
}

bool tlog_node_hash(const TlogHash *left, const TlogHash *right, TlogHash *ret) {
        TlogHash r;
        bool ok = hash_prefixed(0x01, left->bytes, TLOG_HASH_SIZE, right->bytes, TLOG_HASH_SIZE, &r);

        *ret = r; /* ret may be left or right */
        return ok;
}

/* The largest power of two below n, n ≥ 2: where RFC 9162 splits a tree of n leaves. */
static uint64_t split_point(uint64_t n) {
        assert(n >= 2);
        return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

static bool is_power_of_two(uint64_t n) {
        return n != 0 && (n & (n - 1)) == 0;
}

/* MTH of leaves [start, start + n), n ≥ 1, from stored hashes. The left part of every split is a complete,
 * aligned subtree (start is a multiple of it), so this reads O(log n) stored hashes. */
static int range_hash(uint64_t start, uint64_t n, TlogHashReader reader, void *userdata, TlogHash *ret) {
        TlogHash left, right;
        uint64_t k;
        int r;

        if (is_power_of_two(n) && start % n == 0) {
                unsigned level = (unsigned) __builtin_ctzll(n);
                return reader(userdata, level, start >> level, ret);
        }
        k = split_point(n);
        r = range_hash(start, k, reader, userdata, &left);
        if (r < 0)
                return r;
        r = range_hash(start + k, n - k, reader, userdata, &right);
        if (r < 0)
                return r;
        return tlog_node_hash(&left, &right, ret) ? 0 : -ENOMEM;
}

int tlog_stored_hashes(uint64_t index, const TlogHash *leaf, TlogHashReader reader, void *userdata,
                       TlogHash ret_hashes[static TLOG_LEVELS_MAX + 1], size_t *ret_n) {
        TlogHash cur = *leaf;
        size_t n = 0;
        int r;

        assert(leaf && reader && ret_n);
        if (index >= TLOG_SIZE_MAX)
                return -E2BIG;
        ret_hashes[n++] = cur;
        /* Leaf index completes the subtree (level, index >> level) when index + 1 is a multiple of 2^level;
         * its left half is the subtree (level − 1, (index >> (level − 1)) − 1), stored before. */
        for (unsigned level = 1; level <= TLOG_LEVELS_MAX; level++) {
                uint64_t span = UINT64_C(1) << level;
                TlogHash left;

                if ((index + 1) % span != 0)
                        break;
                r = reader(userdata, level - 1, (index >> (level - 1)) - 1, &left);
                if (r < 0)
                        return r;
                if (!tlog_node_hash(&left, &cur, &cur))
                        return -ENOMEM;
                ret_hashes[n++] = cur;
        }
        *ret_n = n;
        return 0;
}

uint64_t tlog_stored_hash_index(unsigned level, uint64_t index) {
        uint64_t n = index, position = 0;

        assert(level <= TLOG_LEVELS_MAX);
        /* Down the right edge to the last leaf under the subtree: it is stored just before the subtree. */
        for (unsigned l = 0; l < level; l++)
                n = 2 * n + 1;
        for (uint64_t k = n; k > 0; k >>= 1)
                position += k;
        return position + level;
}

int tlog_tree_hash(uint64_t size, TlogHashReader reader, void *userdata, TlogHash *ret) {
        assert(reader && ret);
        if (size == 0 || size > TLOG_SIZE_MAX)
                return -EINVAL;
        return range_hash(0, size, reader, userdata, ret);
}

typedef struct Proof {
        TlogHash *hashes;
        size_t n;
        TlogHashReader reader;
        void *userdata;
} Proof;

static int proof_append_range(Proof *p, uint64_t start, uint64_t n) {
        if (p->n >= TLOG_PROOF_MAX)
                return -E2BIG;
        int r = range_hash(start, n, p->reader, p->userdata, &p->hashes[p->n]);
        if (r < 0)
                return r;
        p->n++;
        return 0;
}

/* RFC 9162 §2.1.3.1, PATH(m, D[start : start + n]): the deeper siblings first. */
static int inclusion_path(Proof *p, uint64_t m, uint64_t start, uint64_t n) {
        uint64_t k;
        int r;

        if (n == 1)
                return 0;
        k = split_point(n);
        if (m < k) {
                r = inclusion_path(p, m, start, k);
                return r < 0 ? r : proof_append_range(p, start + k, n - k);
        }
        r = inclusion_path(p, m - k, start + k, n - k);
        return r < 0 ? r : proof_append_range(p, start, k);
}

int tlog_prove_inclusion(uint64_t index, uint64_t size, TlogHashReader reader, void *userdata,
                         TlogHash ret[static TLOG_PROOF_MAX], size_t *ret_n) {
        Proof p = { .hashes = ret, .reader = reader, .userdata = userdata };
        int r;

        assert(reader && ret_n);
        if (size == 0 || size > TLOG_SIZE_MAX || index >= size)
                return -EINVAL;
        r = inclusion_path(&p, index, 0, size);
        if (r < 0)
                return r;
        *ret_n = p.n;
        return 0;
}

/* RFC 9162 §2.1.4.1, SUBPROOF(m, D[start : start + n], complete). */
static int consistency_path(Proof *p, uint64_t m, uint64_t start, uint64_t n, bool complete) {
        uint64_t k;
        int r;

        if (m == n)
                /* The first tree's head is a node of the second: given, unless the verifier has it. */
                return complete ? 0 : proof_append_range(p, start, n);
        k = split_point(n);
        if (m <= k) {
                r = consistency_path(p, m, start, k, complete);
                return r < 0 ? r : proof_append_range(p, start + k, n - k);
        }
        r = consistency_path(p, m - k, start + k, n - k, /* complete= */ false);
        return r < 0 ? r : proof_append_range(p, start, k);
}

int tlog_prove_consistency(uint64_t size1, uint64_t size2, TlogHashReader reader, void *userdata,
                           TlogHash ret[static TLOG_PROOF_MAX], size_t *ret_n) {
        Proof p = { .hashes = ret, .reader = reader, .userdata = userdata };
        int r;

        assert(reader && ret_n);
        if (size1 == 0 || size1 > size2 || size2 > TLOG_SIZE_MAX)
                return -EINVAL;
        r = consistency_path(&p, size1, 0, size2, /* complete= */ true);
        if (r < 0)
                return r;
        *ret_n = p.n;
        return 0;
}

int tlog_compact_append(TlogCompact *c, const TlogHash *leaf) {
        assert(c && leaf);
        if (c->size >= TLOG_SIZE_MAX || c->n > TLOG_LEVELS_MAX)
                return -E2BIG;
        c->edge[c->n].level = 0;
        c->edge[c->n].hash = *leaf;
        c->n++;
        /* Two subtrees of one size make one of the next: merge while the last two match. */
        while (c->n >= 2 && c->edge[c->n - 1].level == c->edge[c->n - 2].level) {
                if (!tlog_node_hash(&c->edge[c->n - 2].hash, &c->edge[c->n - 1].hash, &c->edge[c->n - 2].hash))
                        return -ENOMEM;
                c->edge[c->n - 2].level++;
                c->n--;
        }
        c->size++;
        return 0;
}

int tlog_compact_root(const TlogCompact *c, TlogHash *ret) {
        TlogHash h;

        assert(c && ret);
        if (c->size == 0 || c->n == 0)
                return -ENODATA;
        h = c->edge[c->n - 1].hash;
        for (unsigned i = c->n - 1; i > 0; i--)
                if (!tlog_node_hash(&c->edge[i - 1].hash, &h, &h))
                        return -ENOMEM;
        *ret = h;
        return 0;
}

bool tlog_compact_valid(const TlogCompact *c) {
        uint64_t size = 0;

        if (!c || c->n > TLOG_LEVELS_MAX + 1 || c->size > TLOG_SIZE_MAX)
                return false;
        for (unsigned i = 0; i < c->n; i++) {
                if (c->edge[i].level > TLOG_LEVELS_MAX || (i > 0 && c->edge[i].level >= c->edge[i - 1].level))
                        return false;
                size += UINT64_C(1) << c->edge[i].level;
        }
        return size == c->size;
}

/* Both verifiers walk the proof with fn and sn, the positions of the node being rebuilt and of the last node
 * of its level, as RFC 9162 describes: at each step the proof's hash is a left sibling when fn is a right
 * child or the level's last node (which then climbs past levels where it has no sibling). */
static void shift_both(uint64_t *fn, uint64_t *sn) {
        *fn >>= 1;
        *sn >>= 1;
}

bool tlog_verify_inclusion(const TlogHash *leaf, uint64_t index, uint64_t size, const TlogHash *proof, size_t n,
                           const TlogHash *root) {
        uint64_t fn = index, sn;
        TlogHash r;

        assert(leaf && root && (proof || n == 0));
        if (size == 0 || size > TLOG_SIZE_MAX || index >= size || n > TLOG_PROOF_MAX)
                return false;
        sn = size - 1;
        r = *leaf;
        for (size_t i = 0; i < n; i++) {
                if (sn == 0)
                        return false;
                if ((fn & 1) || fn == sn) {
                        if (!tlog_node_hash(&proof[i], &r, &r))
                                return false;
                        while (!(fn & 1) && fn != 0)
                                shift_both(&fn, &sn);
                } else if (!tlog_node_hash(&r, &proof[i], &r))
                        return false;
                shift_both(&fn, &sn);
        }
        return sn == 0 && tlog_hash_equal(&r, root);
}

bool tlog_verify_consistency(uint64_t size1, uint64_t size2, const TlogHash *root1, const TlogHash *root2,
                             const TlogHash *proof, size_t n) {
        uint64_t fn, sn;
        TlogHash fr, sr;
        size_t i;

        assert(root1 && root2 && (proof || n == 0));
        if (size1 == 0 || size1 > size2 || size2 > TLOG_SIZE_MAX || n > TLOG_PROOF_MAX)
                return false;
        if (size1 == size2)
                return n == 0 && tlog_hash_equal(root1, root2);
        if (n == 0)
                return false;

        /* A first tree of 2^k leaves is a node of the second: its head starts the path, not given in it. */
        if (is_power_of_two(size1)) {
                fr = sr = *root1;
                i = 0;
        } else {
                fr = sr = proof[0];
                i = 1;
        }
        fn = size1 - 1;
        sn = size2 - 1;
        while (fn & 1)
                shift_both(&fn, &sn);
        for (; i < n; i++) {
                if (sn == 0)
                        return false;
                if ((fn & 1) || fn == sn) {
                        if (!tlog_node_hash(&proof[i], &fr, &fr) || !tlog_node_hash(&proof[i], &sr, &sr))
                                return false;
                        while (!(fn & 1) && fn != 0)
                                shift_both(&fn, &sn);
                } else if (!tlog_node_hash(&sr, &proof[i], &sr))
                        return false;
                shift_both(&fn, &sn);
        }
        return sn == 0 && tlog_hash_equal(&fr, root1) && tlog_hash_equal(&sr, root2);
}

const char *tlog_entry_field(const char *entry, const char *name, char *buf, size_t size) {
        size_t n = strlen(name);

        for (const char *line = entry; line && *line;) {
                const char *end = strchrnul(line, '\n');

                if ((size_t) (end - line) > n && strncmp(line, name, n) == 0 && line[n] == ' ') {
                        size_t k = (size_t) (end - line) - n - 1;
                        if (k >= size)
                                return NULL;
                        memcpy(buf, line + n + 1, k);
                        buf[k] = '\0';
                        return buf;
                }
                line = *end ? end + 1 : NULL;
        }
        return NULL;
}
