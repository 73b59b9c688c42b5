/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The key-encryption key: 32 random bytes sealed once to the systemd-pcrlock policy (authPolicy =
 * PolicyAuthorizeNV on pcrlock's NV index), kept as TPM2B_PUBLIC || TPM2B_PRIVATE in NV KEYD_NV_KEK.
 * Resealing after an update rewrites pcrlock's index only; this object never changes. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "keyd-manager.h"
#include "keyd-pcrlock-state.h"
#include "log.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"

int policy_load_checked(Manager *m, Tpm2PcrlockPolicy **ret, KekError *err) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        uint32_t missing;
        int r;

        r = tpm2_pcrlock_policy_load(m->policy_path, &p);
        if (r == -ENOENT) {
                /* A stateless boot lost the file: the copy in TPM NV brings it back (keyd-pcrlock-state.h). */
                Tpm2Context *c;
                if (manager_tpm(m, &c) >= 0 && pcrlock_state_restore(c, m->policy_path) > 0) {
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

static int kek_read(Tpm2Context *c, Tpm2SealedObject *ret) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size, pub_size;

        int r = tpm2_nv_read_all(c, KEYD_NV_KEK, 4096, &buf, &size);
        if (r < 0)
                return r;
        if (size < 2)
                return -EBADMSG;
        pub_size = 2 + (size_t) ((buf[0] << 8) | buf[1]);
        if (pub_size >= size)
                return -EBADMSG;
        return tpm2_sealed_object_unmarshal(buf, pub_size, buf + pub_size, size - pub_size, ret);
}

static int kek_store(Tpm2Context *c, const Tpm2SealedObject *o) {
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL, *buf = NULL;
        size_t pub_size, priv_size;
        int r;

        r = tpm2_sealed_object_marshal(o, &pub, &pub_size, &priv, &priv_size);
        if (r < 0)
                return r;
        buf = malloc(pub_size + priv_size);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, pub, pub_size);
        memcpy(buf + pub_size, priv, priv_size);
        r = tpm2_nv_define(c, KEYD_NV_KEK, pub_size + priv_size);
        if (r < 0)
                return r;
        r = tpm2_nv_write_all(c, KEYD_NV_KEK, buf, pub_size + priv_size);
        if (r < 0)
                (void) tpm2_nv_undefine(c, KEYD_NV_KEK); /* never leave a half-written KEK behind */
        return r;
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
 * boot needs. Done after a successful unseal, so a policy that does not fit this boot is never saved. Reading
 * the copy back costs ~5 commands: skipped when this process or the note beside the policy
 * (pcrlock_state_noted()) says the copy holds this text already. */
static void save_policy_copy(Manager *m, Tpm2Context *c) {
        _cleanup_free_ char *text = NULL;
        uint8_t hash[64];
        size_t size, hsize;
        int r;

        r = read_full_file(m->policy_path, TPM2_PCRLOCK_JSON_MAX, (void **) &text, &size);
        if (r >= 0)
                r = tpm2_digest(TPM2_ALG_SHA256, text, size, hash, &hsize);
        if (r >= 0 && m->policy_copy_known && memcmp(hash, m->policy_copy_hash, 32) == 0)
                return; /* this process saw it match already */
        if (r >= 0 && pcrlock_state_noted(m->policy_path, hash))
                log_debug("The copy of %s in TPM NV is current (noted).", m->policy_path);
        else if (r >= 0) {
                r = pcrlock_state_save(c, text, size);
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

int kek_acquire(Manager *m, bool create, SecretBuffer **ret_kek, KekError *err) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_(secret_buffer_freep) SecretBuffer *kek = NULL, *check = NULL;
        Tpm2SealedObject o;
        Tpm2Context *c;
        int r;

        *err = (KekError) {};
        r = policy_load_checked(m, &p, err);
        if (r < 0)
                return r;
        r = manager_tpm(m, &c);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Cannot open the TPM: %s", strerror(-r));
                return err->error = r;
        }

        r = kek_read(c, &o);
        if (r >= 0) {
                r = tpm2_pcrlock_unseal(c, p, &o, &kek);
                if (r < 0)
                        return unseal_error(c, p, r, err);
                if (kek->size != KEYD_KEK_SIZE) {
                        snprintf(err->message, sizeof(err->message), "The sealed key has the wrong size");
                        return err->error = -EBADMSG;
                }
                save_policy_copy(m, c);
                *ret_kek = TAKE_PTR(kek);
                return 0;
        }
        if (r == -ENOENT && !create) {
                snprintf(err->message, sizeof(err->message), "No key has been sealed in this TPM yet");
                return err->error = -ENOKEY;
        }
        if (r != -ENOENT) {
                snprintf(err->message, sizeof(err->message), "Reading the sealed key failed: %s", strerror(-r));
                return err->error = r;
        }

        /* First use of this TPM: a new KEK, sealed to the policy; used only once it unseals. */
        r = secret_buffer_new(KEYD_KEK_SIZE, &kek);
        if (r < 0)
                return err->error = r;
        if (RAND_priv_bytes(kek->data, KEYD_KEK_SIZE) != 1)
                return err->error = -EIO;
        r = tpm2_pcrlock_seal(c, p, kek->data, KEYD_KEK_SIZE, &o);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Sealing failed: %s (%s)", strerror(-r), tpm2_last_error(c));
                return err->error = r;
        }
        r = tpm2_pcrlock_unseal(c, p, &o, &check);
        if (r < 0)
                return unseal_error(c, p, r, err);
        if (check->size != KEYD_KEK_SIZE || memcmp(check->data, kek->data, KEYD_KEK_SIZE) != 0) {
                snprintf(err->message, sizeof(err->message), "The sealed key does not unseal to itself");
                return err->error = -EBADMSG;
        }
        r = kek_store(c, &o);
        if (r < 0) {
                snprintf(err->message, sizeof(err->message), "Storing the sealed key in NV failed: %s", strerror(-r));
                return err->error = r;
        }
        log_info("Sealed a new key-encryption key to the pcrlock policy (NV 0x%08x).", KEYD_NV_KEK);
        save_policy_copy(m, c);
        *ret_kek = TAKE_PTR(kek);
        return 0;
}
