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

/* Stores text if the newest copy differs. */
int pcrlock_state_save(Tpm2Context *c, const char *text, size_t size);
/* The newest intact copy; -ENOENT if none. */
int pcrlock_state_load(Tpm2Context *c, char **ret, size_t *ret_size);
/* Writes the copy to path if path does not exist (atomically, 0644). Returns 1 if written, 0 if the file
 * was there already, -ENOENT if there is no copy. */
int pcrlock_state_restore(Tpm2Context *c, const char *path);
