/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key-encryption key: 32 random bytes sealed once to the systemd-pcrlock policy (authPolicy =
 * PolicyAuthorizeNV on pcrlock's NV index), kept as TPM2B_PUBLIC || TPM2B_PRIVATE || the store's head in NV
 * KEYD_NV_KEK. Resealing after an update rewrites pcrlock's index only; the sealed object never changes.
 *
 * Whoever holds the owner hierarchy (empty auth, which systemd-pcrlock needs) can remove and define owner NV
 * indices and seal objects of its own to the same policy; booted with other software, it cannot satisfy the
 * policy. So the KEK's index is written only through the policy (tpm2_pcrlock_nv_define()): an index at
 * KEYD_NV_KEK that something else can write, or that another policy writes, was not written by keyd, and
 * keyd refuses it instead of unsealing a key someone else knows. The index also carries the store's head
 * (keyd-store.h), so the stored keys cannot be removed, altered or put back unnoticed either. And keyd seals
 * a new KEK only in a TPM that holds nothing of keyd's: a store or a copy of the policy without a KEK means
 * the KEK was removed, and new relay keys would silently replace the relays' identities. */
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "keyd-manager.h"
#include "keyd-pcrlock-state.h"
#include "log.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"

/* The KEK's index is written in one NV_Write (atomic): a sealed 32-byte secret and the head take ~250 bytes,
 * and every TPM writes 512 at once. */
#define KEK_INDEX_MAX 512U
/* keyd's indices other than the KEK's: the store's slots and the policy copy's areas, 0x01300010–0x0130004f. */
#define KEYD_NV_OTHERS_FIRST KEYD_NV_SLOT(0, 0)
#define KEYD_NV_OTHERS_COUNT 0x40U

Kek *kek_free(Kek *k) {
        if (!k)
                return NULL;
        secret_buffer_free(k->key);
        tpm2_pcrlock_policy_free(k->policy);
        free(k);
        return NULL;
}

static int tampered(KekError *err, TPM2_HANDLE index, const char *format, ...) _printf_(3, 4);
static int tampered(KekError *err, TPM2_HANDLE index, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(err->message, sizeof(err->message), format, ap);
        va_end(ap);
        err->index = index;
        return err->error = -EUCLEAN;
}

int policy_load_checked(Manager *m, Tpm2PcrlockPolicy **ret, KekError *err) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        uint32_t missing;
        int r;

        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
        if (r == -ENOENT) {
                /* A stateless boot lost the file: the copy in TPM NV brings it back (keyd-pcrlock-state.h). */
                TPM2_HANDLE bad = 0;
                Tpm2Context *c;
                int k = manager_tpm(m, &c) < 0 ? -ENODEV : pcrlock_state_restore(c, m->policy_path, &bad);

                if (k == -EKEYREJECTED)
                        return tampered(err, bad,
                                        "NV 0x%08x holds a copy of pcrlock.json that was not written through "
                                        "the policy it names: planted, or written by an older patela-keyd. Not "
                                        "restored; nothing is unsealed or generated (see docs/keyd.md)",
                                        bad);
                if (k > 0) {
                        log_info("Restored %s from TPM NV.", m->policy_path);
                        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
                }
        }
        if (r == -ENOENT) {
                snprintf(err->message, sizeof(err->message), "No pcrlock policy at %s", m->policy_path);
                return err->error = -ENOENT;
        }
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Policy %s unusable: %s", m->policy_path, strerror(-r));
                return err->error = r;
        }
        /* make-policy drops a PCR it cannot predict without failing: never seal to or trust a weaker set. */
        missing = m->required_pcrs & ~tpm2_pcrlock_pcr_mask(p);
        if (missing != 0) {
                err->missing_pcrs = missing;
                snprintf(err->message, sizeof(err->message), "Policy %s lacks required PCRs (mask 0x%06x)",
                         m->policy_path, missing);
                return err->error = -ENOTRECOVERABLE;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* Is pub, read from KEYD_NV_KEK, written only through this policy? 1 written, 0 never written. */
static int kek_index_check(Manager *m, const Tpm2PcrlockPolicy *p, const TPM2B_NV_PUBLIC *pub, KekError *err) {
        int r = tpm2_pcrlock_nv_check(p, pub);

        if (r == -EACCES)
                return tampered(err, KEYD_NV_KEK,
                                "NV 0x%08x (the sealed key) can be written without the pcrlock policy (attributes "
                                "0x%08x): patela-keyd did not write it. Planted, or sealed by an older patela-keyd; "
                                "nothing is unsealed or generated (see docs/keyd.md)",
                                KEYD_NV_KEK, (unsigned) pub->nvPublic.attributes);
        if (r == -EKEYREJECTED)
                return tampered(err, KEYD_NV_KEK,
                                "NV 0x%08x (the sealed key) is written only through another policy than that of %s "
                                "(pcrlock's NV index 0x%08x): planted, or pcrlock's index was made anew since the key "
                                "was sealed; nothing is unsealed or generated (see docs/keyd.md)",
                                KEYD_NV_KEK, m->policy_path, p->nv_index);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Checking NV 0x%08x failed: %s", KEYD_NV_KEK,
                         strerror(-r));
                return err->error = r;
        }
        return r;
}

/* Reads and checks the KEK's index: the sealed object, the index size and the head. -ENOENT: no index;
 * -ENODATA: keyd's kind of index, never written (a first boot that stopped between define and write);
 * -EUCLEAN: not keyd's. */
static int kek_read(Manager *m, Tpm2Context *c, const Tpm2PcrlockPolicy *p, Tpm2SealedObject *ret,
                    size_t *ret_index_size, uint8_t ret_head[static KEYD_HEAD_SIZE], KekError *err) {
        _cleanup_free_ uint8_t *buf = NULL;
        TPM2B_NV_PUBLIC pub;
        size_t size;
        int r;

        r = tpm2_nv_read_all(c, KEYD_NV_KEK, KEK_INDEX_MAX, &buf, &size, &pub);
        if (r == -ENODATA) {
                r = tpm2_nv_public(c, KEYD_NV_KEK, &pub);
                if (r >= 0)
                        r = kek_index_check(m, p, &pub, err);
                return r < 0 ? r : -ENODATA;
        }
        if (r == -E2BIG)
                return tampered(err, KEYD_NV_KEK, "NV 0x%08x (the sealed key) is larger than patela-keyd writes it",
                                KEYD_NV_KEK);
        if (r < 0)
                return r;
        r = kek_index_check(m, p, &pub, err);
        if (r < 0)
                return r;

        /* Written through the policy, so by keyd on a good boot; parsed as carefully as any input anyway. */
        r = kek_record_parse(buf, size, ret, ret_head);
        if (r < 0)
                return r;
        *ret_index_size = size;
        return 0;
}

/* The first of keyd's other indices that exists (one GetCapability), 0 if none: with no KEK, they are what
 * is left of one. */
static TPM2_HANDLE remnant(Tpm2Context *c) {
        uint64_t mask = 0;
        size_t size;

        if (tpm2_handles_present(c, KEYD_NV_OTHERS_FIRST, KEYD_NV_OTHERS_COUNT, &mask) >= 0)
                return mask == 0 ? 0 : KEYD_NV_OTHERS_FIRST + (TPM2_HANDLE) __builtin_ctzll(mask);
        /* The TPM cut the list short: look at each one. */
        for (TPM2_HANDLE h = KEYD_NV_OTHERS_FIRST; h < KEYD_NV_OTHERS_FIRST + KEYD_NV_OTHERS_COUNT; h++)
                if (tpm2_nv_size(c, h, &size) != -ENOENT)
                        return h;
        return 0;
}

static int kek_missing(Tpm2Context *c, bool never_written, KekError *err) {
        TPM2_HANDLE h = remnant(c);

        if (h == 0)
                return 0;
        return tampered(err, h,
                        "NV 0x%08x holds stored keys or a copy of the pcrlock policy, but the sealed key that "
                        "goes with them (NV 0x%08x) %s. Nothing is generated: new keys would replace the relays' "
                        "identities (see docs/keyd.md)",
                        h, KEYD_NV_KEK, never_written ? "was defined anew and never written" : "was removed");
}

/* Writes the sealed object with an empty head into a new index that only the policy writes. */
static int kek_store(Tpm2Context *c, const Tpm2PcrlockPolicy *p, const Tpm2SealedObject *o, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;
        int r;

        r = kek_record_build(o, &buf, &size);
        if (r < 0)
                return r;
        if (size > KEK_INDEX_MAX)
                return -E2BIG;
        r = tpm2_pcrlock_nv_define(c, p, KEYD_NV_KEK, size);
        if (r < 0)
                return r;
        r = tpm2_pcrlock_nv_write(c, p, KEYD_NV_KEK, 0, buf, size);
        if (r < 0) {
                (void) tpm2_nv_undefine(c, KEYD_NV_KEK); /* never leave a half-made KEK behind */
                return r;
        }
        *ret_size = size;
        return 0;
}

static int unseal_error(Tpm2Context *c, const Tpm2PcrlockPolicy *p, int r, KekError *err) {
        uint32_t mismatch = 0;

        if (r == -EPERM) {
                (void) tpm2_pcrlock_check_pcrs(c, p, &mismatch);
                err->mismatched_pcrs = mismatch;
                snprintf(err->message, sizeof(err->message),
                         "PCRs do not satisfy the pcrlock policy (differing PCRs: mask 0x%06x)", mismatch);
        } else
                snprintf(err->message, sizeof(err->message), "Unsealing the key-encryption key failed: %s (%s)",
                         strerror(-r), tpm2_last_error(c));
        return err->error = r;
}

/* Keeps the policy file's copy in TPM NV current: what make-policy wrote since is what the next stateless
 * boot needs. Done after a successful unseal, so a policy that does not fit this boot is never saved, and the
 * copy is written through the policy it names. Reading the copy back costs ~5 commands: skipped when this
 * process or the note beside the policy (pcrlock_state_noted()) says the copy holds this text already. */
static void save_policy_copy(Manager *m, Tpm2Context *c, const Tpm2PcrlockPolicy *p) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *named = NULL;
        _cleanup_free_ char *text = NULL;
        TPM2B_DIGEST a, b;
        uint8_t hash[64];
        size_t size, hsize;
        int r;

        r = read_full_file(m->policy_path, TPM2_PCRLOCK_JSON_MAX, (void **) &text, &size);
        if (r >= 0)
                r = tpm2_digest(TPM2_ALG_SHA256, text, size, hash, &hsize);
        if (r >= 0 && m->policy_copy_known && memcmp(hash, m->policy_copy_hash, 32) == 0)
                return; /* this process saw it match already */
        if (r >= 0 && pcrlock_state_noted(m->policy_path, hash)) {
                log_debug("The copy of %s in TPM NV is current (noted).", m->policy_path);
                r = 0;
        } else if (r >= 0) {
                /* The file may have changed since it was loaded: its copy must name the index p names, whose
                 * policy writes it. */
                r = tpm2_pcrlock_policy_parse(text, &named);
                if (r >= 0 && (tpm2_pcrlock_auth_policy(named, &a) < 0 || tpm2_pcrlock_auth_policy(p, &b) < 0 ||
                               a.size != b.size || memcmp(a.buffer, b.buffer, a.size) != 0))
                        r = -ESTALE;
                if (r >= 0)
                        r = pcrlock_state_save(c, p, text, size);
                if (r >= 0)
                        (void) pcrlock_state_note(m->policy_path, hash);
        }
        if (r >= 0) {
                memcpy(m->policy_copy_hash, hash, 32);
                m->policy_copy_known = true;
        }
        if (r < 0)
                log_warning_errno(r, "Failed to keep a copy of %s in TPM NV; a stateless reboot may lose the "
                                  "ability to reseal: %m", m->policy_path);
        else if (r > 0)
                log_info("Saved a copy of %s in TPM NV.", m->policy_path);
}

static int kek_create(Manager *m, Tpm2Context *c, Kek *k, KekError *err) {
        _cleanup_(secret_buffer_freep) SecretBuffer *check = NULL;
        Tpm2SealedObject o;
        int r;

        r = secret_buffer_new(KEYD_KEK_SIZE, &k->key);
        if (r < 0)
                return err->error = r;
        if (RAND_priv_bytes(k->key->data, KEYD_KEK_SIZE) != 1)
                return err->error = -EIO;
        r = tpm2_pcrlock_seal(c, k->policy, k->key->data, KEYD_KEK_SIZE, &o);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Sealing failed: %s (%s)", strerror(-r), tpm2_last_error(c));
                return err->error = r;
        }
        /* Used only once it unseals. */
        r = tpm2_pcrlock_unseal(c, k->policy, &o, &check);
        if (r < 0)
                return unseal_error(c, k->policy, r, err);
        if (check->size != KEYD_KEK_SIZE || memcmp(check->data, k->key->data, KEYD_KEK_SIZE) != 0) {
                snprintf(err->message, sizeof(err->message), "The sealed key does not unseal to itself");
                return err->error = -EBADMSG;
        }
        r = kek_store(c, k->policy, &o, &k->index_size);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Storing the sealed key in NV failed: %s (%s)",
                         strerror(-r), tpm2_last_error(c));
                return err->error = r;
        }
        memset(k->head, 0, sizeof(k->head));
        log_info("Sealed a new key-encryption key to the pcrlock policy (NV 0x%08x, written only through the "
                 "policy).", KEYD_NV_KEK);
        return 0;
}

int kek_acquire(Manager *m, bool create, Kek **ret, KekError *err) {
        _cleanup_(kek_freep) Kek *k = NULL;
        Tpm2SealedObject o;
        Tpm2Context *c;
        bool unwritten;
        int r;

        *err = (KekError) {};
        k = calloc(1, sizeof(*k));
        if (!k)
                return err->error = -ENOMEM;
        r = policy_load_checked(m, &k->policy, err);
        if (r < 0)
                return r;
        r = manager_tpm(m, &c);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Cannot open the TPM: %s", strerror(-r));
                return err->error = r;
        }

        r = kek_read(m, c, k->policy, &o, &k->index_size, k->head, err);
        if (r == -EUCLEAN)
                return r;
        if (r >= 0) {
                r = tpm2_pcrlock_unseal(c, k->policy, &o, &k->key);
                if (r < 0)
                        return unseal_error(c, k->policy, r, err);
                if (k->key->size != KEYD_KEK_SIZE) {
                        snprintf(err->message, sizeof(err->message), "The sealed key has the wrong size");
                        return err->error = -EBADMSG;
                }
                save_policy_copy(m, c, k->policy);
                *ret = TAKE_PTR(k);
                return 0;
        }
        if (r != -ENOENT && r != -ENODATA) {
                snprintf(err->message, sizeof(err->message), "Reading the sealed key failed: %s", strerror(-r));
                return err->error = r;
        }

        /* No KEK. A first boot, or an attempt to make keyd mint keys anew. */
        unwritten = r == -ENODATA;
        r = kek_missing(c, unwritten, err);
        if (r < 0)
                return r;
        if (!create) {
                snprintf(err->message, sizeof(err->message), "No key has been sealed in this TPM yet");
                return err->error = -ENOKEY;
        }
        if (unwritten) {
                /* keyd's kind of index, never written, nothing else of keyd's: a first boot stopped between
                 * defining the index and writing it. */
                log_warning("NV 0x%08x was defined but never written (an interrupted first use): starting over.",
                            KEYD_NV_KEK);
                r = tpm2_nv_undefine(c, KEYD_NV_KEK);
                if (r < 0) {
                        snprintf(err->message, sizeof(err->message), "Removing NV 0x%08x failed: %s", KEYD_NV_KEK,
                                 strerror(-r));
                        return err->error = r;
                }
        }
        r = kek_create(m, c, k, err);
        if (r < 0)
                return r;
        save_policy_copy(m, c, k->policy);
        *ret = TAKE_PTR(k);
        return 0;
}

int kek_store_write(Tpm2Context *c, Kek *k, KeySet *s) {
        uint8_t head[KEYD_HEAD_SIZE];
        int r;

        r = store_write(c, k->key->data, s, head);
        if (r < 0)
                return r;
        r = tpm2_pcrlock_nv_write(c, k->policy, KEYD_NV_KEK, k->index_size - KEYD_HEAD_SIZE, head, KEYD_HEAD_SIZE);
        if (r < 0)
                return r;
        memcpy(k->head, head, KEYD_HEAD_SIZE);
        return 0;
}

int kek_inspect(Manager *m, KekError *err) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_free_ char *text = NULL;
        uint8_t head[KEYD_HEAD_SIZE];
        Tpm2SealedObject o;
        TPM2_HANDLE bad = 0;
        Tpm2Context *c;
        size_t size;
        int r;

        *err = (KekError) {};
        r = manager_tpm(m, &c);
        if (r < 0)
                return 0; /* GetStatus says so itself */
        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
        if (r >= 0) {
                r = kek_read(m, c, p, &o, &size, head, err);
                if (r == -EUCLEAN)
                        return r;
                if (r == -ENOENT || r == -ENODATA) {
                        r = kek_missing(c, r == -ENODATA, err);
                        if (r < 0)
                                return r;
                } else if (r >= 0) {
                        r = store_check(c, head);
                        if (r == -ENODATA || r == -EBADMSG) {
                                snprintf(err->message, sizeof(err->message), "%s",
                                         r == -ENODATA ? "the stored keys are gone from NV"
                                                       : "neither store slot holds the set the sealed key commits to");
                                return err->error = r;
                        }
                }
        }
        r = pcrlock_state_load(c, &text, &size, &bad);
        if (r == -EKEYREJECTED)
                return tampered(err, bad,
                                "NV 0x%08x holds a copy of pcrlock.json that was not written through the policy it "
                                "names: planted, or written by an older patela-keyd (see docs/keyd.md)",
                                bad);
        return 0;
}
