/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "tpm2-pcrlock.h"
#include "tpm2-util.h"

/* On a stateless node /var/lib/systemd/pcrlock.json is gone after every reboot, yet systemd-pcrlock needs
 * it to rewrite its NV index (nvIndex, nvPublic, nvHandle and the sealed recovery PIN: without them
 * make-policy allocates a new index and every sealed object is orphaned), and unsealing needs its
 * pcrValues. None of it is secret (the PIN is sealed to the policy). keyd keeps a copy in TPM NV — two
 * areas with a generation and a SHA-256 each, so an interrupted write leaves the previous copy — and puts
 * the file back at boot, before make-policy runs.
 *
 * Nobody but a boot the policy allows may write a copy: its indices are written only through the policy the
 * copy itself names (TPM2_PCRLOCK_NV_ATTRIBUTES, authPolicy PolicyAuthorizeNV of its nvPublic), which is
 * checked, from the public areas the reads return anyway, before a copy is used. The owner can remove a copy
 * but not alter it or plant another naming the node's pcrlock index. */

/* Stores text, written through policy (the policy text describes), if the newest protected copy differs;
 * areas that are not protected so are overwritten. Returns 1 if written, 0 if the copy was that text
 * already. */
int pcrlock_state_save(Tpm2Context *c, const Tpm2PcrlockPolicy *policy, const char *text, size_t size);
/* The newest intact copy; -ENOENT if none. -EKEYREJECTED if an intact copy was not written through the policy
 * it names (planted, or written by a keyd before the protected layout): then *ret_bad_index is its index and
 * nothing else is returned. */
int pcrlock_state_load(Tpm2Context *c, char **ret, size_t *ret_size, TPM2_HANDLE *ret_bad_index);
/* Writes the copy to path if path does not exist (atomically, 0644) and notes it (below). Returns 1 if
 * written, 0 if the file was there already, -ENOENT if there is no copy, -EKEYREJECTED as
 * pcrlock_state_load() (nothing written). */
int pcrlock_state_restore(Tpm2Context *c, const char *path, TPM2_HANDLE *ret_bad_index);

/* A copy's record as stored: "PTLP", generation (be64), text length (be32), SHA-256 of the text, the text.
 * -EBADMSG unless it is whole and its SHA-256 matches (a torn write). *ret_text points into rec. */
int pcrlock_record_parse(const uint8_t *rec, size_t size, uint64_t *ret_generation, const char **ret_text,
                         size_t *ret_text_size);

/* What the copy in TPM NV holds is known without reading it (~5 commands) when it was seen already: the
 * restore at boot read it, or a keyd process compared or wrote it. Each notes the SHA-256 of that text in
 * PATH.patela-nv-copy beside the policy file (on a stateless node in RAM, so one boot's). Only keyd writes
 * the copy, and notes what it wrote only once it is written; so when the policy file hashes to the note,
 * the copy holds it. What changes the TPM's NV behind keyd's back (a TPM clear, another TPM) also removes
 * pcrlock's index and so changes the policy file. A note that is lost or unwritable only costs the read. */
bool pcrlock_state_noted(const char *path, const uint8_t sha256[static 32]);
int pcrlock_state_note(const char *path, const uint8_t sha256[static 32]);
