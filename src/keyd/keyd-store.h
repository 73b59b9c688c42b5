/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc-util.h"
#include "tor-nickname.h"
#include "tpm2-pcrlock.h"
#include "tpm2-util.h"

/* The relays' keys in TPM NV, encrypted with AES-256-GCM under the KEK (which is sealed to the pcrlock
 * policy elsewhere). Two slots, each a chain of owner-written NV indices. The KEK's own index, which only the
 * policy writes, ends with the store's head: which slot holds the current set and the SHA-256 of its record.
 * A write goes to the other slot and is committed by rewriting the head (one NV_Write), so a crash or power
 * loss before the commit leaves the previous set current, and whoever holds the owner hierarchy can neither
 * forge a set (no KEK), nor put back an older one or remove the newer slot unnoticed (the head names the
 * record). The header (magic, version, generation, length, nonce, tag) is authenticated data. */

#define KEYD_NV_BASE 0x01300000U            /* in the TPM owner's NV range 0x01000000–0x013FFFFF */
#define KEYD_NV_KEK (KEYD_NV_BASE + 0x1)     /* the sealed KEK and the store's head, written only through the policy */
/* systemd-pcrlock's pcrlock.json, which must survive a stateless boot (keyd-pcrlock-state.c): two areas. */
#define KEYD_NV_PCRLOCK(area, chunk) (KEYD_NV_BASE + 0x30U + (area) * 0x10U + (chunk))
#define KEYD_PCRLOCK_CHUNKS_MAX 8U
#define KEYD_NV_SLOT(slot, chunk) (KEYD_NV_BASE + 0x10U + (slot) * 0x10U + (chunk))
#define KEYD_SLOT_CHUNKS_MAX 16U

#define KEYD_KEK_SIZE 32U
/* The store's head at the end of the KEK index: the slot holding the current set, plus one (0: nothing
 * stored yet), and the SHA-256 of that slot's record. */
#define KEYD_HEAD_SIZE 33U
#define KEYD_RELAY_KEYS_SIZE 160U /* ed25519 seed (32) + RSA-1024 p (64) + q (64): tor-keys.h packed form */
#define KEYD_FAMILY_KEY_SIZE 32U
/* The fleet's family keys: the current one and, while the server rotates, the previous one
 * (PROTO_FAMILY_KEYS_MAX). */
#define KEYD_FAMILY_KEYS_MAX 2U
/* A slot's record: the authenticated header (magic, version, flags, generation, length), the GCM nonce and tag,
 * then the ciphertext. */
#define KEYD_RECORD_AAD_SIZE 20U
#define KEYD_RECORD_HEADER_SIZE 48U
/* Per relay in the plaintext: type, name length, name, keys. */
#define KEYD_RELAY_RECORD_MAX (2U + TOR_NICKNAME_MAX + KEYD_RELAY_KEYS_SIZE)

typedef struct KeySetEntry {
        char name[TOR_NICKNAME_MAX + 1];
        uint8_t keys[KEYD_RELAY_KEYS_SIZE];
} KeySetEntry;

/* Lives in a SecretBuffer: wiped on free, never in a core dump. */
typedef struct KeySet {
        int slot;             /* the slot it was read from or written to; -1 for a set never stored */
        uint64_t generation;
        unsigned n_family;    /* the fleet's family keys (ed25519 seeds), in the order the server gave them */
        uint8_t family[KEYD_FAMILY_KEYS_MAX][KEYD_FAMILY_KEY_SIZE];
        unsigned n_entries;
        unsigned capacity;
        KeySetEntry entries[];
} KeySet;

int keyset_new(unsigned capacity, SecretBuffer **ret);
static inline KeySet *keyset_of(SecretBuffer *b) {
        return (KeySet *) b->data;
}
KeySetEntry *keyset_find(KeySet *s, const char *name);
/* Adds a copy; -ENOSPC past the set's capacity, -EEXIST for a duplicate name. */
int keyset_add(KeySet *s, const char *name, const uint8_t keys[static KEYD_RELAY_KEYS_SIZE]);
int keyset_remove(KeySet *s, const char *name);

/* Serialisation into the AEAD record (exposed for tests). */
/* AES-256-GCM with a 96-bit nonce and a 128-bit tag, the one cipher of keyd's records (the store) and of the
 * relays' sealed tor state (keyd-state.c). Decrypting checks tag and AAD: -EBADMSG if either does not match. */
#define KEYD_GCM_NONCE_SIZE 12U
#define KEYD_GCM_TAG_SIZE 16U
int keyd_aes_gcm(bool encrypt, const uint8_t key[static 32], const uint8_t nonce[static KEYD_GCM_NONCE_SIZE],
                 const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size, uint8_t *out,
                 uint8_t tag[static KEYD_GCM_TAG_SIZE]);

int keyset_seal_record(const KeySet *s, const uint8_t kek[static KEYD_KEK_SIZE], uint8_t **ret, size_t *ret_size);
int keyset_open_record(const uint8_t *rec, size_t size, const uint8_t kek[static KEYD_KEK_SIZE], unsigned capacity,
                       SecretBuffer **ret);

/* The KEK index's content: TPM2B_PUBLIC || TPM2B_PRIVATE of the sealed KEK, then the head. Strict: one
 * canonical sealed object, a head naming slot 0 or 1 or nothing; -EBADMSG otherwise. */
int kek_record_parse(const uint8_t *buf, size_t size, Tpm2SealedObject *ret, uint8_t ret_head[static KEYD_HEAD_SIZE]);
/* The content with an empty head (nothing stored yet). */
int kek_record_build(const Tpm2SealedObject *o, uint8_t **ret, size_t *ret_size);

typedef struct StoreInfo {
        uint32_t index_max;   /* TPM2_PT_NV_INDEX_MAX */
        unsigned capacity;    /* relays that fit in one slot of KEYD_SLOT_CHUNKS_MAX indices */
        unsigned per_index;   /* relays that fit in a single index */
        size_t used;          /* bytes of NV this store holds now (both slots and the KEK) */
        int active_slot;      /* -1: nothing stored */
        uint64_t generation;
} StoreInfo;

/* The limits and the NV this store holds now (one NV_ReadPublic per index: for GetStatus). */
int store_info(Tpm2Context *c, StoreInfo *ret);
/* Relays that fit in one slot: StoreInfo's capacity without looking at the indices. */
unsigned store_capacity(Tpm2Context *c);

/* Writes data over the indices first, first + 1, … (at most max_chunks of chunk_size bytes), defining
 * or redefining each with the size of its part, and drops the chunks a longer earlier record left behind.
 * With policy, the indices are written only through it (tpm2_pcrlock_nv_define()); otherwise by the owner.
 * An index of the wrong kind is redefined. */
int keyd_nv_write_chunks(Tpm2Context *c, const Tpm2PcrlockPolicy *policy, TPM2_HANDLE first, unsigned max_chunks,
                         const void *data, size_t size, size_t chunk_size);

/* Reads the set the head names (one slot). -ENOENT if the head says nothing was stored yet; -ENODATA if
 * neither slot exists (the store was removed); -EBADMSG if the slot's record is not the one the head names
 * (altered, an older record put back, a slot removed) or does not decrypt. */
int store_read(Tpm2Context *c, const uint8_t kek[static KEYD_KEK_SIZE], const uint8_t head[static KEYD_HEAD_SIZE],
               SecretBuffer **ret);
/* store_read() without the KEK: only whether the record the head names is there (GetStatus). */
int store_check(Tpm2Context *c, const uint8_t head[static KEYD_HEAD_SIZE]);
/* Writes s with the next generation to the slot it was not read from and returns the head that commits it.
 * Until that head is written (kek_store_write()), the set read before stays current. -ENOSPC if it does not
 * fit into KEYD_SLOT_CHUNKS_MAX indices or the TPM's NV is full. On success s->slot and s->generation are
 * those written. */
int store_write(Tpm2Context *c, const uint8_t kek[static KEYD_KEK_SIZE], KeySet *s,
                uint8_t ret_head[static KEYD_HEAD_SIZE]);
