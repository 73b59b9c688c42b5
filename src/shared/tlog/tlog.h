/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The transparency log's Merkle tree (issue 14), as RFC 9162 §2.1 (and RFC 6962 before it) defines it:
 * SHA-256, a leaf hashed as SHA-256(0x00 ‖ entry), an interior node as SHA-256(0x01 ‖ left ‖ right), the
 * tree of n leaves split at the largest power of two below n. What is here is the arithmetic only, with
 * no storage and no I/O:
 *   - the hashes of complete subtrees, which is all a log stores (tlog_stored_hashes()): a leaf appended
 *     at index i completes one subtree per trailing one bit of i, so a log of n entries stores < 2n
 *     hashes and every tree head and proof is computed from O(log n) of them;
 *   - tree heads, inclusion and consistency proofs computed from those stored hashes, through a reader
 *     the caller supplies (the server reads its database, the tests an array);
 *   - the verifiers of both proofs, which need nothing but the proof and the two tree heads.
 * A complete subtree is named by its level L (it spans 2^L leaves) and its index K (it spans leaves
 * K·2^L … (K+1)·2^L − 1). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLOG_HASH_SIZE 32U
/* A tree of at most 2^63 leaves: an inclusion proof has at most 63 hashes, a consistency proof at most
 * 2 · 63 (RFC 9162 §2.1.4: the path down to the first tree's last leaf and the siblings along it). */
#define TLOG_LEVELS_MAX 63U
#define TLOG_SIZE_MAX (UINT64_C(1) << TLOG_LEVELS_MAX)
#define TLOG_PROOF_MAX (2U * TLOG_LEVELS_MAX)

typedef struct TlogHash {
        uint8_t bytes[TLOG_HASH_SIZE];
} TlogHash;

bool tlog_hash_equal(const TlogHash *a, const TlogHash *b);
/* A hash from its base64 (padded, as checkpoints and proofs carry it): -EBADMSG unless exactly 32 bytes. */
int tlog_hash_parse(const char *base64, TlogHash *ret);

/* SHA-256(0x00 ‖ data) and SHA-256(0x01 ‖ left ‖ right). False only if OpenSSL fails (out of memory);
 * ret is then all zeros, which no verification accepts. */
bool tlog_leaf_hash(const void *data, size_t size, TlogHash *ret);
bool tlog_node_hash(const TlogHash *left, const TlogHash *right, TlogHash *ret);

/* The stored hash of the complete subtree (level, index): 0, or a negative errno (-ENOENT if it is not
 * stored: the log is shorter than the caller said). */
typedef int (*TlogHashReader)(void *userdata, unsigned level, uint64_t index, TlogHash *ret);

/* The hashes a log stores when it appends the leaf at index (whose leaf hash is leaf): the leaf itself at
 * level 0, then each complete subtree it finishes, up to TLOG_LEVELS_MAX + 1 of them, level by level.
 * Reads the left siblings of the subtrees it finishes (all stored earlier). ret_hashes[i] is at level i,
 * index index >> i; *ret_n is how many. */
int tlog_stored_hashes(uint64_t index, const TlogHash *leaf, TlogHashReader reader, void *userdata,
                       TlogHash ret_hashes[static TLOG_LEVELS_MAX + 1], size_t *ret_n);

/* Where a log that appends tlog_stored_hashes() in order keeps the hash of the subtree (level, index): its
 * position in that sequence. The leaf at index n has n + ⌊n/2⌋ + ⌊n/4⌋ + … hashes before it; the subtree
 * (level, index) comes right after its right child (level − 1, 2·index + 1). So storage is one append-only
 * array (what Go's golang.org/x/mod/sumdb/tlog calls StoredHashIndex). */
uint64_t tlog_stored_hash_index(unsigned level, uint64_t index);

/* The tree head (root hash) of the first size leaves, size ≥ 1. */
int tlog_tree_hash(uint64_t size, TlogHashReader reader, void *userdata, TlogHash *ret);

/* RFC 9162 §2.1.3.1: the inclusion proof of the leaf at index in the tree of size leaves (index < size):
 * the siblings from the leaf up. ret has room for TLOG_PROOF_MAX hashes; *ret_n is how many. */
int tlog_prove_inclusion(uint64_t index, uint64_t size, TlogHashReader reader, void *userdata,
                         TlogHash ret[static TLOG_PROOF_MAX], size_t *ret_n);

/* RFC 9162 §2.1.4.1: the consistency proof between the trees of size1 and size2 leaves, 1 ≤ size1 ≤ size2
 * (empty when they are equal). */
int tlog_prove_consistency(uint64_t size1, uint64_t size2, TlogHashReader reader, void *userdata,
                           TlogHash ret[static TLOG_PROOF_MAX], size_t *ret_n);

/* A compact range: the right edge of a tree — the heads of its complete subtrees, one per set bit of its
 * size, largest first — which is all a monitor keeps to extend a verified tree entry by entry and compute
 * the new head without trusting anything but the entries. */
typedef struct TlogCompact {
        uint64_t size;
        unsigned n;
        struct {
                unsigned level;
                TlogHash hash;
        } edge[TLOG_LEVELS_MAX + 1];
} TlogCompact;

/* Appends a leaf hash. -E2BIG past TLOG_SIZE_MAX. */
int tlog_compact_append(TlogCompact *c, const TlogHash *leaf);
/* The head of the tree so far (size ≥ 1, else -ENODATA). */
int tlog_compact_root(const TlogCompact *c, TlogHash *ret);
/* A compact range is consistent with its size: one subtree per set bit, largest first. */
bool tlog_compact_valid(const TlogCompact *c);

/* RFC 9162 §2.1.3.2: true when proof shows the leaf hash at index in the tree of size leaves whose head is
 * root. Any other input — index ≥ size, size 0 or beyond TLOG_SIZE_MAX, a proof too short or too long, one
 * bit changed anywhere — is false. */
bool tlog_verify_inclusion(const TlogHash *leaf, uint64_t index, uint64_t size, const TlogHash *proof, size_t n,
                           const TlogHash *root);

/* RFC 9162 §2.1.4.2: true when proof shows the tree of size1 leaves with head root1 to be a prefix of the
 * tree of size2 leaves with head root2. size1 = size2 needs an empty proof and equal heads; size1 = 0 (the
 * empty tree proves nothing about a log) and size1 > size2 are false. */
bool tlog_verify_consistency(uint64_t size1, uint64_t size2, const TlogHash *root1, const TlogHash *root2,
                             const TlogHash *proof, size_t n);

/* patela's log entries (docs/transparency.md) are "name value" lines: the value of the first line named name,
 * copied into buf (size bytes with its NUL); NULL if there is none or it does not fit. For readers of entries
 * (patela-monitor, patela-configd), which check what they read against what they expect. */
const char *tlog_entry_field(const char *entry, const char *name, char *buf, size_t size);
