/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Signed notes and checkpoints, as C2SP defines them (c2sp.org/signed-note, c2sp.org/tlog-checkpoint) and
 * Go's golang.org/x/mod/sumdb/note implements them, with Ed25519 keys only:
 *   - a key has a name (no space, no '+') and a 32-bit key ID, the first four bytes of
 *     SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), 0x01 naming Ed25519;
 *   - its verifier key is written "name+ID+base64(0x01 ‖ public key)", its signer key
 *     "PRIVATE+KEY+name+ID+base64(0x01 ‖ seed)", ID in eight lower-case hex digits;
 *   - a note is UTF-8 text ending in a newline, then an empty line, then signature lines
 *     "— name base64(ID ‖ signature)" (an em dash and a space first), each signing the text;
 *   - a checkpoint is a note whose text is the log's origin, its size in decimal and its root hash in
 *     base64, one per line, then optional extension lines.
 * Everything a peer sends is parsed bounded: a note of at most TLOG_NOTE_SIZE_MAX bytes, at most
 * TLOG_NOTE_SIGNATURES_MAX signature lines. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "tlog.h"

#define TLOG_KEY_NAME_MAX 128U
#define TLOG_NOTE_SIZE_MAX 16384U
#define TLOG_NOTE_SIGNATURES_MAX 100U
#define TLOG_ED25519_SIZE 32U

typedef struct TlogKey {
        char name[TLOG_KEY_NAME_MAX + 1];
        uint32_t id;
        uint8_t public_key[TLOG_ED25519_SIZE];
        bool has_seed;
        uint8_t seed[TLOG_ED25519_SIZE]; /* secret; wiped by tlog_key_done() */
} TlogKey;

void tlog_key_done(TlogKey *k);

/* A name as both formats allow: 1 … TLOG_KEY_NAME_MAX bytes of printable ASCII other than space and '+'
 * (the formats allow any non-space UTF-8; patela's names are domain-like and ASCII). */
bool tlog_key_name_valid(const char *name);

/* A new Ed25519 key under name. -EINVAL for a bad name. */
int tlog_key_generate(const char *name, TlogKey *ret);

/* The two text forms; the signer form needs the seed. Returned strings are owned by the caller (the
 * signer's is secret: wipe it). */
int tlog_key_format_verifier(const TlogKey *k, char **ret);
int tlog_key_format_signer(const TlogKey *k, char **ret);

/* Parsing, strict: every field present, the ID equal to the one the key implies, nothing after the key.
 * -EBADMSG for anything else. */
int tlog_key_parse_verifier(const char *text, TlogKey *ret);
int tlog_key_parse_signer(const char *text, TlogKey *ret);

/* The note of text (which must end in a newline and hold no control character but newlines) signed by
 * signer. */
int tlog_note_sign(const TlogKey *signer, const char *text, char **ret_note);

/* Opens a note of size bytes: 0 when it carries a valid signature by verifier, and *ret_text_size is the
 * length of its text (the note's first bytes); signatures by other keys (witnesses) are skipped. -EBADMSG
 * for a malformed note or a signature line by verifier's name and ID that does not verify; -ENOKEY when
 * no signature is by verifier. */
int tlog_note_open(const char *note, size_t size, const TlogKey *verifier, size_t *ret_text_size);

/* A checkpoint's text: "origin\nsize\nbase64(root)\n". origin: 1 … 255 bytes of printable ASCII. */
int tlog_checkpoint_format(const char *origin, uint64_t size, const TlogHash *root, char **ret_text);

typedef struct TlogCheckpoint {
        char origin[256];
        uint64_t size;
        TlogHash root;
} TlogCheckpoint;

/* The checkpoint in a note's text of size bytes (extension lines are allowed and skipped). -EBADMSG for
 * anything malformed: an empty origin, a size with a leading zero or beyond TLOG_SIZE_MAX, a root that is
 * not base64 of 32 bytes, an empty extension line, no final newline. */
int tlog_checkpoint_parse(const char *text, size_t size, TlogCheckpoint *ret);
