/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A relay's tor state file (tor's DataDirectory/state: bandwidth history, guard and timing state), sealed so that
 * it can leave the node (docs/keyd.md, "tor's state"): AES-256-GCM under a key derived from the KEK with HKDF-SHA256
 * and a label of its own, so the KEK itself never encrypts anything but the store. The blob:
 *   "PTS1" ‖ nonce (12) ‖ tag (16) ‖ ciphertext
 * with the magic, the relay's nickname and its RSA identity fingerprint as associated data: a blob opens only
 * for the relay it was sealed for, on the TPM (and under the policy) whose KEK sealed it. */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc-util.h"
#include "keyd-store.h"
#include "protocol.h"

#define KEYD_TOR_STATE_MAX PROTO_TOR_STATE_MAX
#define KEYD_SEALED_STATE_OVERHEAD PROTO_SEALED_STATE_OVERHEAD /* magic, nonce and tag */
#define KEYD_SEALED_STATE_MAX PROTO_SEALED_STATE_MAX
#define KEYD_STATE_FILE "state" /* in the relay's key directory, for patela-tor@.service to copy */

int tor_state_seal(const uint8_t kek[static KEYD_KEK_SIZE], const char *name, const char *rsa_fingerprint,
                   const void *plain, size_t size, uint8_t **ret, size_t *ret_size);
/* -EBADMSG if the blob is not one of ours, was altered, or belongs to another relay, TPM or policy. The plaintext
 * in a buffer wiped when freed. */
int tor_state_open(const uint8_t kek[static KEYD_KEK_SIZE], const char *name, const char *rsa_fingerprint,
                   const uint8_t *blob, size_t size, SecretBuffer **ret);

/* tor's state file of a running (or just stopped) instance: RUNTIME/NAME/data/state. -ENOENT if there is none,
 * -EFBIG past KEYD_TOR_STATE_MAX, -EBADF if it is not a regular file. */
int tor_state_read(const char *runtime_directory, const char *name, SecretBuffer **ret);
/* Writes data atomically (an O_EXCL temporary renamed into place), 0600, owned by uid:gid, as file in
 * DIRECTORY/NAME (created 0700 if missing for create). */
int keyd_write_relay_file(const char *directory, const char *name, const char *file, const void *data, size_t size,
                          uid_t uid, gid_t gid);
/* The same into DIRECTORY/NAME if it exists (0: it does not, nothing written; 1: written), owned by the directory's
 * owner. */
int keyd_refresh_relay_file(const char *directory, const char *name, const char *file, const void *data,
                            size_t size);
/* Reads DIRECTORY/NAME/file, at most max bytes (-EFBIG past it). */
int keyd_read_relay_file(const char *directory, const char *name, const char *file, size_t max, uint8_t **ret,
                         size_t *ret_size);
