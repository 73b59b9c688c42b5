/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tor-keys.h"

/* A relay's key directory, KEY_DIRECTORY/NAME, on tmpfs only: 0700, owned by the instance's user. Key
 * files go in with O_EXCL|O_NOFOLLOW temporaries renamed into place (tor_keys_write()). */

/* Resolves a user name (NULL: root). -ESRCH for an unknown user. */
int keyd_resolve_user(const char *user, uid_t *ret_uid, gid_t *ret_gid);

/* Writes the relay's keys and the fleet's family keys (n_family ed25519 seeds, each as ID.secret_family_key, ID
 * being its FamilyId in URL-safe base64: tor reads every *.secret_family_key of its KeyDirectory) and removes
 * every other family key file of the directory. -EMEDIUMTYPE if key_directory is not on tmpfs or ramfs. Returns
 * the directory path in ret_path and in ret_family_changed whether a family key file was added or removed. */
int keyd_write_relay(const char *key_directory, const char *name, const TorKeys *k,
                     const uint8_t (*family)[TOR_KEYS_SEED_SIZE], unsigned n_family, uid_t uid, gid_t gid,
                     char **ret_path, bool *ret_family_changed);
/* Removes the relay's key files, family keys included, and its directory if nothing else is left in it. */
int keyd_remove_relay(const char *key_directory, const char *name);

/* Removes every relay's key directory from key_directory, all files in it (relay and family keys alike),
 * and calls dropped() with each relay's name. The keys stay sealed in the TPM. A missing key_directory
 * drops nothing. */
int keyd_drop_key_files(const char *key_directory, int (*dropped)(const char *name, void *userdata), void *userdata);
