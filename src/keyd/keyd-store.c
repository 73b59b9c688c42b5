/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "keyd-store.h"
#include "log.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"

#define RECORD_MAGIC "PTLK"
#define RECORD_VERSION 1
/* The flags' low two bits: how many family keys follow the relay count (0, 1 or 2; a record of the keyd
 * that stored one family key at most reads as before). No other bit is defined. */
#define RECORD_FLAGS_FAMILY_MASK 0x3
#define AAD_SIZE KEYD_RECORD_AAD_SIZE
#define NONCE_SIZE KEYD_GCM_NONCE_SIZE
#define TAG_SIZE KEYD_GCM_TAG_SIZE
#define ENTRY_TYPE_RELAY 1

int keyset_new(unsigned capacity, SecretBuffer **ret) {
        SecretBuffer *b;
        int r;

        r = secret_buffer_new(sizeof(KeySet) + (size_t) capacity * sizeof(KeySetEntry), &b);
        if (r < 0)
                return r;
        keyset_of(b)->capacity = capacity;
        keyset_of(b)->slot = -1;
        *ret = b;
        return 0;
}

KeySetEntry *keyset_find(KeySet *s, const char *name) {
        for (unsigned i = 0; i < s->n_entries; i++)
                if (streq(s->entries[i].name, name))
                        return &s->entries[i];
        return NULL;
}

int keyset_add(KeySet *s, const char *name, const uint8_t keys[static KEYD_RELAY_KEYS_SIZE]) {
        KeySetEntry *e;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        if (keyset_find(s, name))
                return -EEXIST;
        if (s->n_entries >= s->capacity)
                return -ENOSPC;
        e = &s->entries[s->n_entries++];
        memset(e, 0, sizeof(*e));
        memcpy(e->name, name, strlen(name));
        memcpy(e->keys, keys, KEYD_RELAY_KEYS_SIZE);
        return 0;
}

int keyset_remove(KeySet *s, const char *name) {
        KeySetEntry *e = keyset_find(s, name);

        if (!e)
                return -ENOENT;
        memmove(e, e + 1, (size_t) (&s->entries[s->n_entries] - (e + 1)) * sizeof(*e));
        s->n_entries--;
        explicit_bzero(&s->entries[s->n_entries], sizeof(KeySetEntry));
        return 0;
}

static size_t plaintext_size(const KeySet *s) {
        size_t n = 2 + (size_t) s->n_family * KEYD_FAMILY_KEY_SIZE;
        for (unsigned i = 0; i < s->n_entries; i++)
                n += 2 + strlen(s->entries[i].name) + KEYD_RELAY_KEYS_SIZE;
        return n;
}

int keyd_aes_gcm(bool encrypt, const uint8_t key[static 32], const uint8_t nonce[static KEYD_GCM_NONCE_SIZE],
                 const uint8_t *aad, size_t aad_size, const uint8_t *in, size_t size, uint8_t *out,
                 uint8_t tag[static KEYD_GCM_TAG_SIZE]) {
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int ok, n = 0, f = 0;

        if (!ctx)
                return -ENOMEM;
        ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, KEYD_GCM_NONCE_SIZE, NULL) &&
             EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) &&
             EVP_CipherUpdate(ctx, NULL, &n, aad, (int) aad_size) &&
             (size == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int) size));
        if (ok && !encrypt)
                ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, KEYD_GCM_TAG_SIZE, tag);
        if (ok)
                ok = EVP_CipherFinal_ex(ctx, out + n, &f);
        if (ok && encrypt)
                ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, KEYD_GCM_TAG_SIZE, tag);
        EVP_CIPHER_CTX_free(ctx);
        return ok ? 0 : -EBADMSG;
}

int keyset_seal_record(const KeySet *s, const uint8_t kek[static KEYD_KEK_SIZE], uint8_t **ret, size_t *ret_size) {
        _cleanup_(secret_buffer_freep) SecretBuffer *plain = NULL;
        size_t psize = plaintext_size(s), off = 0;
        uint8_t *rec, *p;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int r;

        if (psize > UINT32_MAX)
                return -E2BIG;
        if (s->n_family > KEYD_FAMILY_KEYS_MAX)
                return -EINVAL;
        r = secret_buffer_new(psize, &plain);
        if (r < 0)
                return r;
        p = plain->data;
        u16 = htobe16((uint16_t) s->n_entries);
        memcpy(p + off, &u16, 2), off += 2;
        for (unsigned i = 0; i < s->n_family; i++)
                memcpy(p + off, s->family[i], KEYD_FAMILY_KEY_SIZE), off += KEYD_FAMILY_KEY_SIZE;
        for (unsigned i = 0; i < s->n_entries; i++) {
                size_t l = strlen(s->entries[i].name);
                p[off++] = ENTRY_TYPE_RELAY;
                p[off++] = (uint8_t) l;
                memcpy(p + off, s->entries[i].name, l), off += l;
                memcpy(p + off, s->entries[i].keys, KEYD_RELAY_KEYS_SIZE), off += KEYD_RELAY_KEYS_SIZE;
        }

        rec = malloc(KEYD_RECORD_HEADER_SIZE + psize);
        if (!rec)
                return -ENOMEM;
        memcpy(rec, RECORD_MAGIC, 4);
        u16 = htobe16(RECORD_VERSION);
        memcpy(rec + 4, &u16, 2);
        u16 = htobe16((uint16_t) s->n_family);
        memcpy(rec + 6, &u16, 2);
        u64 = htobe64(s->generation);
        memcpy(rec + 8, &u64, 8);
        u32 = htobe32((uint32_t) psize);
        memcpy(rec + 16, &u32, 4);
        if (RAND_bytes(rec + AAD_SIZE, NONCE_SIZE) != 1) {
                free(rec);
                return -EIO;
        }
        r = keyd_aes_gcm(/* encrypt= */ true, kek, rec + AAD_SIZE, rec, AAD_SIZE, p, psize, rec + KEYD_RECORD_HEADER_SIZE,
                 rec + AAD_SIZE + NONCE_SIZE);
        if (r < 0) {
                free(rec);
                return r;
        }
        *ret = rec;
        *ret_size = KEYD_RECORD_HEADER_SIZE + psize;
        return 0;
}

/* The generation and payload length from a header; -EBADMSG if it is not one of ours. */
static int parse_header(const uint8_t *rec, size_t size, uint64_t *ret_generation, uint32_t *ret_length) {
        uint16_t version;
        uint64_t g;
        uint32_t l;

        if (size < KEYD_RECORD_HEADER_SIZE || memcmp(rec, RECORD_MAGIC, 4) != 0)
                return -EBADMSG;
        memcpy(&version, rec + 4, 2);
        if (be16toh(version) != RECORD_VERSION)
                return -EPROTONOSUPPORT;
        memcpy(&g, rec + 8, 8);
        memcpy(&l, rec + 16, 4);
        *ret_generation = be64toh(g);
        *ret_length = be32toh(l);
        return 0;
}

int keyset_open_record(const uint8_t *rec, size_t size, const uint8_t kek[static KEYD_KEK_SIZE], unsigned capacity,
                       SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *plain = NULL, *set = NULL;
        uint8_t tag[TAG_SIZE];
        uint64_t generation;
        uint32_t length;
        uint16_t flags, n;
        size_t off = 0;
        KeySet *s;
        int r;

        r = parse_header(rec, size, &generation, &length);
        if (r < 0)
                return r;
        if (size != KEYD_RECORD_HEADER_SIZE + (size_t) length || length < 2)
                return -EBADMSG;
        r = secret_buffer_new(length, &plain);
        if (r < 0)
                return r;
        memcpy(tag, rec + AAD_SIZE + NONCE_SIZE, TAG_SIZE);
        r = keyd_aes_gcm(/* encrypt= */ false, kek, rec + AAD_SIZE, rec, AAD_SIZE, rec + KEYD_RECORD_HEADER_SIZE, length,
                         plain->data, tag);
        if (r < 0)
                return r;

        /* Authenticated from here on, but parsed as carefully as any input. */
        memcpy(&flags, rec + 6, 2);
        flags = be16toh(flags);
        memcpy(&n, plain->data, 2), off += 2;
        n = be16toh(n);
        /* Each relay takes at least its type, a one-byte name and its keys: a count the record cannot hold is
         * refused before the set is allocated for it (up to 65535 entries, 12 MiB of locked memory). */
        if ((size_t) n * (2 + 1 + KEYD_RELAY_KEYS_SIZE) > length - off)
                return -EBADMSG;
        r = keyset_new(MAX(capacity, (unsigned) n), &set);
        if (r < 0)
                return r;
        s = keyset_of(set);
        s->generation = generation;
        if ((flags & ~RECORD_FLAGS_FAMILY_MASK) != 0 || (flags & RECORD_FLAGS_FAMILY_MASK) > KEYD_FAMILY_KEYS_MAX)
                return -EBADMSG;
        for (unsigned i = 0; i < (flags & RECORD_FLAGS_FAMILY_MASK); i++) {
                if (off + KEYD_FAMILY_KEY_SIZE > length)
                        return -EBADMSG;
                memcpy(s->family[i], plain->data + off, KEYD_FAMILY_KEY_SIZE), off += KEYD_FAMILY_KEY_SIZE;
                s->n_family = i + 1;
        }
        for (unsigned i = 0; i < n; i++) {
                char name[TOR_NICKNAME_MAX + 1] = {};
                uint8_t l;

                if (off + 2 > length || plain->data[off] != ENTRY_TYPE_RELAY)
                        return -EBADMSG;
                l = plain->data[off + 1];
                off += 2;
                if (l == 0 || l > TOR_NICKNAME_MAX || off + l + KEYD_RELAY_KEYS_SIZE > length)
                        return -EBADMSG;
                /* The name is its l bytes: one with a NUL in it would be read as a shorter one. */
                if (memchr(plain->data + off, '\0', l))
                        return -EBADMSG;
                memcpy(name, plain->data + off, l), off += l;
                r = keyset_add(s, name, plain->data + off);
                if (r < 0)
                        return -EBADMSG;
                off += KEYD_RELAY_KEYS_SIZE;
        }
        if (off != length)
                return -EBADMSG;
        *ret = TAKE_PTR(set);
        return 0;
}

static uint32_t index_max(Tpm2Context *c) {
        uint32_t v = 0;

        if (tpm2_get_property(c, TPM2_PT_NV_INDEX_MAX, &v) < 0 || v < 256)
                v = 2048; /* the PC Client minimum */
        return MIN(v, (uint32_t) UINT16_MAX);
}

/* Reads a slot's whole record: chunk 0 holds the header, which says how long the record is. */
static int slot_read(Tpm2Context *c, unsigned slot, uint32_t imax, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *first = NULL, *rec = NULL;
        size_t first_size, total, have;
        uint64_t generation;
        uint32_t length;
        int r;

        r = tpm2_nv_read_all(c, KEYD_NV_SLOT(slot, 0), imax, &first, &first_size, NULL);
        if (r == -ENODATA)
                return -ENOENT; /* defined, never written: a write crashed before its first byte */
        if (r < 0)
                return r;
        r = parse_header(first, first_size, &generation, &length);
        if (r < 0)
                return r;
        total = KEYD_RECORD_HEADER_SIZE + (size_t) length;
        if (total > (size_t) KEYD_SLOT_CHUNKS_MAX * imax)
                return -EBADMSG;
        rec = malloc(total);
        if (!rec)
                return -ENOMEM;
        have = MIN(first_size, total);
        memcpy(rec, first, have);
        for (unsigned chunk = 1; have < total; chunk++) {
                _cleanup_free_ uint8_t *part = NULL;
                size_t part_size, n;

                if (chunk >= KEYD_SLOT_CHUNKS_MAX)
                        return -EBADMSG; /* chunks shorter than their header claims: never into the next slot */
                r = tpm2_nv_read_all(c, KEYD_NV_SLOT(slot, chunk), imax, &part, &part_size, NULL);
                if (r < 0)
                        return r == -ENOENT || r == -ENODATA ? -EBADMSG : r;
                n = MIN(part_size, total - have);
                memcpy(rec + have, part, n);
                have += n;
        }
        *ret = TAKE_PTR(rec);
        *ret_size = total;
        return 0;
}

/* Whether a slot has any index (its first chunk, defined or not): one NV_ReadPublic. */
static bool slot_exists(Tpm2Context *c, unsigned slot) {
        size_t size;

        return tpm2_nv_size(c, KEYD_NV_SLOT(slot, 0), &size) >= 0;
}

/* The record the head names, checked against the head's SHA-256. */
static int committed_record(Tpm2Context *c, const uint8_t head[static KEYD_HEAD_SIZE], uint8_t **ret,
                            size_t *ret_size) {
        _cleanup_free_ uint8_t *rec = NULL;
        uint8_t digest[64];
        size_t size, dsize;
        unsigned slot;
        int r;

        if (head[0] == 0)
                return -ENOENT;
        if (head[0] > 2)
                return -EBADMSG;
        slot = head[0] - 1U;
        r = slot_read(c, slot, index_max(c), &rec, &size);
        if (r == -ENOENT) {
                /* Nothing of the store left at all, or only the other slot (a removed slot is no torn write:
                 * the head is written after the slot). */
                log_debug("Slot %u, which the head names, is gone.", slot);
                return slot_exists(c, slot) || slot_exists(c, 1U - slot) ? -EBADMSG : -ENODATA;
        }
        if (r < 0) {
                log_debug_errno(r, "Slot %u, which the head names, is unreadable: %m", slot);
                return r == -EPROTONOSUPPORT ? -EBADMSG : r;
        }
        r = tpm2_digest(TPM2_ALG_SHA256, rec, size, digest, &dsize);
        if (r < 0)
                return r;
        if (memcmp(digest, head + 1, KEYD_HEAD_SIZE - 1) != 0) {
                log_debug("Slot %u does not hold the record the head names (altered or put back).", slot);
                return -EBADMSG;
        }
        *ret = TAKE_PTR(rec);
        *ret_size = size;
        return 0;
}

int store_check(Tpm2Context *c, const uint8_t head[static KEYD_HEAD_SIZE]) {
        _cleanup_free_ uint8_t *rec = NULL;
        size_t size;

        return committed_record(c, head, &rec, &size);
}

int store_read(Tpm2Context *c, const uint8_t kek[static KEYD_KEK_SIZE], const uint8_t head[static KEYD_HEAD_SIZE],
               SecretBuffer **ret) {
        _cleanup_free_ uint8_t *rec = NULL;
        SecretBuffer *set = NULL;
        size_t size;
        int r;

        r = committed_record(c, head, &rec, &size);
        if (r < 0)
                return r;
        r = keyset_open_record(rec, size, kek, 0, &set);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        keyset_of(set)->slot = head[0] - 1;
        *ret = set;
        return 0;
}

static bool chunk_kind_ok(const Tpm2PcrlockPolicy *policy, const TPM2B_NV_PUBLIC *pub) {
        if (policy)
                return tpm2_pcrlock_nv_check(policy, pub) >= 0;
        return pub->nvPublic.nameAlg == TPM2_ALG_SHA256 && (pub->nvPublic.attributes & ~TPMA_NV_WRITTEN) ==
                                                               (TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA);
}

int keyd_nv_write_chunks(Tpm2Context *c, const Tpm2PcrlockPolicy *policy, TPM2_HANDLE first, unsigned max_chunks,
                         const void *data, size_t size, size_t chunk_size) {
        unsigned n_chunks = (unsigned) ((size + chunk_size - 1) / chunk_size);
        int r;

        if (n_chunks > max_chunks)
                return -ENOSPC;
        for (unsigned chunk = 0; chunk < n_chunks; chunk++) {
                size_t off = (size_t) chunk * chunk_size, n = MIN(size - off, chunk_size);
                const uint8_t *part = (const uint8_t *) data + off;
                TPM2B_NV_PUBLIC pub;

                /* An index is defined with the size of its part; a different size or kind means a new index. */
                r = tpm2_nv_public(c, first + chunk, &pub);
                if (r >= 0 && (pub.nvPublic.dataSize != n || !chunk_kind_ok(policy, &pub))) {
                        r = tpm2_nv_undefine(c, first + chunk);
                        if (r < 0)
                                return r;
                        r = -ENOENT;
                }
                if (r == -ENOENT)
                        r = policy ? tpm2_pcrlock_nv_define(c, policy, first + chunk, n)
                                   : tpm2_nv_define(c, first + chunk, n);
                if (r < 0)
                        return r;
                r = policy ? tpm2_pcrlock_nv_write(c, policy, first + chunk, 0, part, n)
                           : tpm2_nv_write_all(c, first + chunk, part, n);
                if (r < 0)
                        return r;
        }
        /* Chunks of an older, longer record are no longer needed. */
        for (unsigned chunk = n_chunks; chunk < max_chunks; chunk++)
                if (tpm2_nv_undefine(c, first + chunk) == -ENOENT)
                        break;
        return 0;
}

int store_write(Tpm2Context *c, const uint8_t kek[static KEYD_KEK_SIZE], KeySet *s,
                uint8_t ret_head[static KEYD_HEAD_SIZE]) {
        _cleanup_free_ uint8_t *rec = NULL;
        uint64_t generation = s->generation;
        uint8_t digest[64];
        unsigned target = s->slot == 0 ? 1 : 0;
        size_t size, dsize;
        int r;

        /* The slot the current set was read from stays as it is until the head moves. */
        s->generation = generation + 1;
        r = keyset_seal_record(s, kek, &rec, &size);
        s->generation = generation;
        if (r < 0)
                return r;
        r = tpm2_digest(TPM2_ALG_SHA256, rec, size, digest, &dsize);
        if (r < 0)
                return r;
        /* The tag covers header and body: a reader rejects any mix of old and new chunks anyway. */
        r = keyd_nv_write_chunks(c, /* policy= */ NULL, KEYD_NV_SLOT(target, 0), KEYD_SLOT_CHUNKS_MAX, rec, size,
                                 index_max(c));
        if (r < 0)
                return r;
        ret_head[0] = (uint8_t) (target + 1);
        memcpy(ret_head + 1, digest, KEYD_HEAD_SIZE - 1);
        s->slot = (int) target;
        s->generation = generation + 1;
        return 0;
}

int kek_record_parse(const uint8_t *buf, size_t size, Tpm2SealedObject *ret, uint8_t ret_head[static KEYD_HEAD_SIZE]) {
        Tpm2SealedObject o;
        size_t pub_size;
        int r;

        if (size < 2 + KEYD_HEAD_SIZE)
                return -EBADMSG;
        pub_size = 2 + (size_t) ((buf[0] << 8) | buf[1]);
        if (pub_size + KEYD_HEAD_SIZE >= size)
                return -EBADMSG;
        r = tpm2_sealed_object_unmarshal(buf, pub_size, buf + pub_size, size - pub_size - KEYD_HEAD_SIZE, &o);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (buf[size - KEYD_HEAD_SIZE] > 2)
                return -EBADMSG;
        *ret = o;
        memcpy(ret_head, buf + size - KEYD_HEAD_SIZE, KEYD_HEAD_SIZE);
        return 0;
}

int kek_record_build(const Tpm2SealedObject *o, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL;
        size_t pub_size, priv_size;
        uint8_t *buf;
        int r;

        r = tpm2_sealed_object_marshal(o, &pub, &pub_size, &priv, &priv_size);
        if (r < 0)
                return r;
        buf = calloc(1, pub_size + priv_size + KEYD_HEAD_SIZE);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, pub, pub_size);
        memcpy(buf + pub_size, priv, priv_size);
        *ret = buf;
        *ret_size = pub_size + priv_size + KEYD_HEAD_SIZE;
        return 0;
}

/* What the TPM's largest index allows; one GetCapability per context (tpm2_get_property()). */
static void store_limits(Tpm2Context *c, StoreInfo *info) {
        size_t fixed = KEYD_RECORD_HEADER_SIZE + 2 + KEYD_FAMILY_KEYS_MAX * KEYD_FAMILY_KEY_SIZE;

        info->index_max = index_max(c);
        info->per_index = info->index_max > fixed ? (unsigned) ((info->index_max - fixed) / KEYD_RELAY_RECORD_MAX) : 0;
        info->capacity = (unsigned) (((size_t) KEYD_SLOT_CHUNKS_MAX * info->index_max - fixed) / KEYD_RELAY_RECORD_MAX);
}

unsigned store_capacity(Tpm2Context *c) {
        StoreInfo info = {};

        store_limits(c, &info);
        return info.capacity;
}

int store_info(Tpm2Context *c, StoreInfo *ret) {
        StoreInfo info = { .active_slot = -1 };
        size_t size;

        store_limits(c, &info);
        if (tpm2_nv_size(c, KEYD_NV_KEK, &size) >= 0)
                info.used += size;
        for (unsigned slot = 0; slot < 2; slot++)
                for (unsigned chunk = 0; chunk < KEYD_SLOT_CHUNKS_MAX; chunk++) {
                        if (tpm2_nv_size(c, KEYD_NV_SLOT(slot, chunk), &size) < 0)
                                break;
                        info.used += size;
                }
        *ret = info;
        return 0;
}
