/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "alloc-util.h"
#include "macro.h"

/* A tor relay's long-term identity: an ed25519 master identity key and an RSA-1024 identity key (e = 65537).
 * The stored form is the least that rebuilds both: the 32-byte ed25519 seed, then the RSA primes p and q,
 * 64 bytes each, big-endian: 160 bytes. The layout carries no version: the caller versions its envelope.
 * Everything secret lives in SecretBuffer memory or in OpenSSL objects that wipe themselves. */

#define TOR_KEYS_SEED_SIZE 32U
#define TOR_KEYS_PRIME_SIZE 64U
#define TOR_KEYS_PACKED_SIZE (TOR_KEYS_SEED_SIZE + 2U * TOR_KEYS_PRIME_SIZE)
#define TOR_RSA_BITS 1024
#define TOR_RSA_EXPONENT 65537U

#define TOR_ED25519_PUBLIC_SIZE 32U
#define TOR_ED25519_EXPANDED_SIZE 64U
/* Upper-case hex of the SHA-1 of the DER PKCS#1 RSAPublicKey, as in DataDirectory/fingerprint. */
#define TOR_RSA_FINGERPRINT_LEN 40
/* The same in groups of four separated by spaces, as `tor --list-fingerprint` prints it. */
#define TOR_RSA_FINGERPRINT_SPACED_LEN 49
/* Unpadded base64 of an ed25519 public key: fingerprint-ed25519, FamilyId. */
#define TOR_ED25519_ID_LEN 43

/* The key files tor reads from its KeyDirectory. */
#define TOR_ED25519_SECRET_KEY_FILE "ed25519_master_id_secret_key"
#define TOR_ED25519_PUBLIC_KEY_FILE "ed25519_master_id_public_key"
#define TOR_RSA_SECRET_KEY_FILE "secret_id_key"
#define TOR_FAMILY_KEY_SUFFIX ".secret_family_key"
#define TOR_FAMILY_NAME_MAX 64

typedef struct TorKeys TorKeys;

/* New keys: a seed from the CSPRNG, a fresh RSA key. */
int tor_keys_generate(TorKeys **ret);
/* Rebuilds the keys from their stored form. -EBADMSG unless size is TOR_KEYS_PACKED_SIZE and p and q are
 * distinct 512-bit probable primes whose product is a 1024-bit modulus for which e is invertible. */
int tor_keys_unpack(const void *data, size_t size, TorKeys **ret);
/* The stored form, TOR_KEYS_PACKED_SIZE bytes. */
int tor_keys_pack(const TorKeys *k, SecretBuffer **ret);
TorKeys *tor_keys_free(TorKeys *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(TorKeys *, tor_keys_free);

/* Public values, valid as long as k: TOR_RSA_FINGERPRINT_LEN, TOR_ED25519_ID_LEN characters. */
const char *tor_keys_rsa_fingerprint(const TorKeys *k);
const char *tor_keys_ed25519_id(const TorKeys *k);
const uint8_t *tor_keys_ed25519_public(const TorKeys *k);

/* secret_id_key as tor reads it: PEM "RSA PRIVATE KEY" (PKCS#1). */
int tor_keys_rsa_private_pem(const TorKeys *k, SecretBuffer **ret);

/* "ABCD EF01 ...": fp must be TOR_RSA_FINGERPRINT_LEN hex digits, else -EINVAL. */
int tor_fingerprint_spaced(const char *fp, char ret[static TOR_RSA_FINGERPRINT_SPACED_LEN + 1]);

/* tor's expanded ed25519 secret key (ref10): SHA-512(seed), clamped. */
int tor_ed25519_expand(const uint8_t seed[static TOR_KEYS_SEED_SIZE],
                       uint8_t ret[static TOR_ED25519_EXPANDED_SIZE]);
int tor_ed25519_public(const uint8_t seed[static TOR_KEYS_SEED_SIZE],
                       uint8_t ret[static TOR_ED25519_PUBLIC_SIZE]);

/* Writes ed25519_master_id_secret_key, ed25519_master_id_public_key and secret_id_key into dir_fd, an
 * existing directory that no one else may write to (-EPERM otherwise), owned by uid:gid ((uid_t) -1 or
 * (gid_t) -1: the writer's own), mode 0600. Every file is first written in full to ".NAME.tmp" (never
 * through a symlink: -EEXIST if that name exists), then all are renamed over their final names; on failure
 * the temporaries are removed. */
int tor_keys_write(int dir_fd, const TorKeys *k, uid_t uid, gid_t gid);
/* Removes the three files and any temporaries; missing ones are fine. */
int tor_keys_remove(int dir_fd);

/* Happy Families (tor ≥ 0.4.9): one family key shared by every relay of an operator. Its stored form is a
 * 32-byte ed25519 seed; tor reads NAME.secret_family_key from the KeyDirectory and the torrc names it with
 * "FamilyId ID", ID being the unpadded base64 public key. NAME: 1 to TOR_FAMILY_NAME_MAX characters of
 * [A-Za-z0-9_-], else -EINVAL. */
int tor_family_seed_generate(SecretBuffer **ret);
int tor_family_id(const void *seed, size_t size, char ret[static TOR_ED25519_ID_LEN + 1]);
int tor_family_key_write(int dir_fd, const char *name, const void *seed, size_t size, uid_t uid, gid_t gid);
int tor_family_key_remove(int dir_fd, const char *name);
