/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The fleet's transparency log in the server's database (issue 14; docs/transparency.md): canonical entries
 * for what the operator and the verifier decided — images registered and retired, nodes enabled, disabled and
 * repinned, every measured-boot verdict — each appended in the transaction of the change it records, so that
 * neither exists without the other; the hashes of the log's complete subtrees beside them (src/shared/tlog),
 * from which tree heads and proofs are computed. */

#include <json-c/json.h>
#include <stdint.h>

#include "server-db.h"
#include "server-images.h"
#include "tlog.h"

typedef enum TlogKind {
        TLOG_IMAGE_REGISTERED,
        TLOG_IMAGE_RETIRED,
        TLOG_NODE_ENABLED,
        TLOG_NODE_DISABLED,
        TLOG_NODE_REPINNED,
        TLOG_VERDICT,
        _TLOG_KIND_MAX,
        _TLOG_KIND_INVALID = -EINVAL,
} TlogKind;

const char *tlog_kind_to_string(TlogKind k) _const_;

/* The canonical entries: "patela-log-entry/1", the kind, the time, then fixed fields in a fixed order, one
 * "name value" per line, ASCII, each line ending in a newline. */
int tlog_entry_image(TlogKind kind, const Image *image, const char *reference_sha256, int64_t at, char **ret);
int tlog_entry_node(TlogKind kind, const char *fingerprint, int64_t at, char **ret);
/* image: NULL or "" when no registered image was recognised. */
int tlog_entry_verdict(const char *fingerprint, const char *image, const char *verdict,
                       const uint8_t quote_sha256[static 32], int64_t at, char **ret);

/* Inside the caller's write transaction: entry as the log's next entry, with the subtree hashes it completes.
 * ret_index (may be NULL): where it went. */
int server_tlog_append(Db *db, TlogKind kind, int64_t at, const char *entry, uint64_t *ret_index);

/* The log's size, and the head of its first size entries (size ≥ 1), in the caller's transaction. */
int server_tlog_size(Db *db, uint64_t *ret);
int server_tlog_root(Db *db, uint64_t size, TlogHash *ret);
int server_tlog_prove_inclusion(Db *db, uint64_t index, uint64_t size, TlogHash ret[static TLOG_PROOF_MAX],
                                size_t *ret_n);
int server_tlog_prove_consistency(Db *db, uint64_t size1, uint64_t size2, TlogHash ret[static TLOG_PROOF_MAX],
                                  size_t *ret_n);
/* Entry index: its text (owned by the caller) and kind. -ENOENT beyond the log. */
int server_tlog_entry(Db *db, uint64_t index, char **ret_entry, TlogKind *ret_kind, int64_t *ret_at);

/* The last entry that registered the image whose UKI has this Authenticode digest (64 lower-case hex digits),
 * among the first size entries: its index and text (owned by the caller). -ENOENT if there is none. Found by
 * the index of registrations (migration 11), the entry's own line matched: whatever a row's other columns
 * say, only the logged text counts. */
int server_tlog_find_registration(Db *db, const char *authenticode, uint64_t size, uint64_t *ret_index,
                                  char **ret_entry);

/* A hash as JSON (base64 string), a proof as an array of them: what the CLI's --json and the HTTP
 * endpoints print. NULL only for lack of memory. */
json_object *server_tlog_hash_json(const TlogHash *h);
json_object *server_tlog_proof_json(const TlogHash *p, size_t n);

/* Recomputes every stored hash from the entries and checks the indices are 0 … n − 1: 0 and the size and head
 * when all of it holds; -EBADMSG with reason naming the first entry or hash that does not. */
int server_tlog_verify(Db *db, uint64_t *ret_size, TlogHash *ret_root, char *reason, size_t reason_size);
