/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>

#include "tpm2-util.h"

/* On a stateless node /var/lib/systemd/pcrlock.json is gone after every reboot, yet systemd-pcrlock needs
 * it to rewrite its NV index (nvIndex, nvPublic, nvHandle and the sealed recovery PIN: without them
 * make-policy allocates a new index and every sealed object is orphaned), and unsealing needs its
 * pcrValues. None of it is secret (the PIN is sealed to the policy). keyd keeps a copy in TPM NV — two
 * areas with a generation and a SHA-256 each, so an interrupted write leaves the previous copy — and puts
 * the file back at boot, before make-policy runs. */

/* Stores text if the newest copy differs. Returns 1 if written, 0 if the copy was that text already. */
int pcrlock_state_save(Tpm2Context *c, const char *text, size_t size);
/* The newest intact copy; -ENOENT if none. */
int pcrlock_state_load(Tpm2Context *c, char **ret, size_t *ret_size);
/* Writes the copy to path if path does not exist (atomically, 0644) and notes it (below). Returns 1 if
 * written, 0 if the file was there already, -ENOENT if there is no copy. */
int pcrlock_state_restore(Tpm2Context *c, const char *path);

/* What the copy in TPM NV holds is known without reading it (~5 commands) when it was seen already: the
 * restore at boot read it, or a keyd process compared or wrote it. Each notes the SHA-256 of that text in
 * PATH.patela-nv-copy beside the policy file (on a stateless node in RAM, so one boot's). Only keyd writes
 * the copy, and notes what it wrote only once it is written; so when the policy file hashes to the note,
 * the copy holds it. What changes the TPM's NV behind keyd's back (a TPM clear, another TPM) also removes
 * pcrlock's index and so changes the policy file. A note that is lost or unwritable only costs the read. */
bool pcrlock_state_noted(const char *path, const uint8_t sha256[static 32]);
int pcrlock_state_note(const char *path, const uint8_t sha256[static 32]);
