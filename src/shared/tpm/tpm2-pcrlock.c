/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"
#include "tpm2-pcrlock.h"
#include "tpm2-pcrlock-internal.h"

static const TPMT_SYM_DEF session_symmetric = {
        .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB,
};
/* ---- TPM ------------------------------------------------------------------------------------------ */

/* The format-one code of a TPM response, without its handle/parameter/session number; 0 otherwise. */
static TSS2_RC rc_fmt1(TSS2_RC rc) {
        if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER || !(rc & TPM2_RC_FMT1))
                return 0;
        return rc & (TPM2_RC_FMT1 | 0x3F);
}

/* The SRK as an ESYS_TR. From the serialization in the policy when there is one and verify is false (no
 * TPM command: a different key at that handle cannot decrypt the salt, and the loaded object fails its
 * integrity check); otherwise read from the TPM and, with a serialization, compared to it. */
static int srk_open(Tpm2Context *c, const Tpm2PcrlockPolicy *p, bool verify, Tpm2Handle **ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        TPM2B_NAME *name = NULL;
        TPM2B_NAME expected;
        ESYS_TR tr = ESYS_TR_NONE;
        bool same;
        int r;

        if (p->have_srk && !verify) {
                TSS2_RC rc = Esys_TR_Deserialize(c->esys, p->srk_serialized, p->srk_serialized_size, &tr);
                if (rc != TSS2_RC_SUCCESS)
                        return tpm2_rc_to_errno(rc);
                r = tpm2_handle_new(c, tr, /* flush= */ false, ret);
                if (r < 0)
                        (void) Esys_TR_Close(c->esys, &tr);
                return r;
        }

        r = tpm2_handle_from_tpm(c, p->srk_handle, &h);
        if (r < 0)
                return r;
        if (p->have_srk) {
                r = tpm2_public_name(&p->srk_public.publicArea, &expected);
                if (r < 0)
                        return r;
                if (Esys_TR_GetName(c->esys, h->tr, &name) != TSS2_RC_SUCCESS)
                        return -EIO;
                same = pcrlock_names_equal(name, &expected);
                free(name);
                if (!same) {
                        log_debug("The key at 0x%x is not the SRK of the pcrlock policy.", p->srk_handle);
                        return -ENXIO;
                }
        }
        *ret = TAKE_PTR(h);
        return 0;
}

/* The policy's NV index (one NV_ReadPublic), and that it is the one nvPublic describes. */
static int nv_open(Tpm2Context *c, const Tpm2PcrlockPolicy *p, Tpm2Handle **ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *nv = NULL;
        TPM2B_NAME *name = NULL;
        TPM2B_NAME written, unwritten;
        int r;

        r = tpm2_handle_from_tpm(c, p->nv_index, &nv);
        if (r < 0)
                return r; /* -ENOENT: no such index */
        r = tpm2_pcrlock_nv_name(p, &written);
        if (r < 0)
                return r;
        r = pcrlock_nv_public_name(&p->nv_public.nvPublic, &unwritten);
        if (r < 0)
                return r;
        if (Esys_TR_GetName(c->esys, nv->tr, &name) != TSS2_RC_SUCCESS)
                return -EIO;
        r = pcrlock_names_equal(name, &written) ? 0 : pcrlock_names_equal(name, &unwritten) ? -ENODATA : -ENXIO;
        free(name);
        if (r < 0) {
                log_debug("NV index 0x%x %s.", p->nv_index,
                          r == -ENODATA ? "was never written" : "is not the one of the pcrlock policy");
                return r;
        }
        *ret = TAKE_PTR(nv);
        return 0;
}

/* The policy's NV index as an ESYS_TR made from nvPublic, the way it is once make-policy wrote it: no TPM
 * command. Enough for PolicyAuthorizeNV, which is authorized as owner (no session computes the index's
 * name) and checked by the TPM itself: the session's digest gets the name of the index the TPM holds, and
 * the sealed object's authPolicy names the policy's, so any other index at that handle fails the Unseal.
 * nv_open() tells which failure it was. */
static int nv_from_policy(Tpm2Context *c, const Tpm2PcrlockPolicy *p, Tpm2Handle **ret) {
        uint8_t buf[sizeof(TPM2_HANDLE) + sizeof(TPM2B_NAME) + sizeof(uint32_t) + sizeof(TPM2B_NV_PUBLIC)];
        TPM2B_NV_PUBLIC pub = p->nv_public;
        TPM2B_NAME name;
        ESYS_TR tr = ESYS_TR_NONE;
        size_t off = 0;
        TSS2_RC rc;
        int r;

        pub.nvPublic.attributes |= TPMA_NV_WRITTEN;
        r = tpm2_pcrlock_nv_name(p, &name);
        if (r < 0)
                return r;
        /* Esys_TR_Serialize's format: handle, name, IESYS_NV_RSRC, the public area. */
        rc = Tss2_MU_TPM2_HANDLE_Marshal(p->nv_index, buf, sizeof(buf), &off);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NAME_Marshal(&name, buf, sizeof(buf), &off);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_UINT32_Marshal(IESYS_NV_RSRC, buf, sizeof(buf), &off);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NV_PUBLIC_Marshal(&pub, buf, sizeof(buf), &off);
        if (rc == TSS2_RC_SUCCESS)
                rc = Esys_TR_Deserialize(c->esys, buf, off, &tr);
        if (rc != TSS2_RC_SUCCESS)
                return tpm2_rc_to_errno(rc);
        r = tpm2_handle_new(c, tr, /* flush= */ false, ret);
        if (r < 0)
                (void) Esys_TR_Close(c->esys, &tr);
        return r;
}

/* A session salted with the SRK: only this TPM can derive its key, so parameter encryption keeps the
 * secret off the bus. continueSession stays clear: the TPM flushes the session when the command it
 * authorizes succeeds, which saves a FlushContext. */
static int session_start(Tpm2Context *c, ESYS_TR srk, TPM2_SE type, TPMA_SESSION attributes,
                         Tpm2Handle **ret) {
        ESYS_TR session = ESYS_TR_NONE;
        int r;

        r = tpm2_check(c, Esys_StartAuthSession(c->esys, srk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                ESYS_TR_NONE, NULL, type, &session_symmetric,
                                                TPM2_ALG_SHA256, &session),
                       "Esys_StartAuthSession");
        if (r < 0)
                return r;
        r = tpm2_handle_new(c, session, /* flush= */ true, ret);
        if (r < 0) {
                (void) Esys_FlushContext(c->esys, session);
                return r;
        }
        /* Not a TPM command: ESAPI keeps the attributes. */
        if (Esys_TRSess_SetAttributes(c->esys, session, attributes, 0xff) != TSS2_RC_SUCCESS)
                return -EINVAL;
        return 0;
}

int tpm2_pcrlock_seal(Tpm2Context *c, const Tpm2PcrlockPolicy *p, const void *secret, size_t size,
                      Tpm2SealedObject *ret) {
        static const TPM2B_DATA outside = {};
        static const TPML_PCR_SELECTION no_pcrs = {};
        _cleanup_(tpm2_handle_freep) Tpm2Handle *srk = NULL, *nv = NULL, *session = NULL;
        _cleanup_free_ TPM2B_PRIVATE *private = NULL;
        _cleanup_free_ TPM2B_PUBLIC *public = NULL;
        TPM2B_SENSITIVE_CREATE sensitive = {};
        TPM2B_PUBLIC template = {};
        TPM2B_DIGEST auth_policy;
        int r;

        if (!c || !p || !secret || !ret)
                return -EINVAL;
        if (size == 0 || p->pcr_mask == 0)
                return -EINVAL;
        if (size > TPM2_PCRLOCK_SECRET_MAX)
                return -E2BIG;

        r = tpm2_pcrlock_auth_policy(p, &auth_policy);
        if (r < 0)
                return r;
        r = srk_open(c, p, /* verify= */ true, &srk);
        if (r < 0)
                return r;
        /* An object sealed to an index that is not there could never be unsealed. */
        r = nv_open(c, p, &nv);
        if (r < 0)
                return r;
        r = session_start(c, srk->tr, TPM2_SE_HMAC, TPMA_SESSION_DECRYPT, &session);
        if (r < 0)
                return r;

        template.publicArea = (TPMT_PUBLIC) {
                .type = TPM2_ALG_KEYEDHASH,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = SEALED_ATTRIBUTES,
                .authPolicy = auth_policy,
                .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
        };
        sensitive.sensitive.data.size = (uint16_t) size;
        memcpy(sensitive.sensitive.data.buffer, secret, size);

        /* The session authorizes the SRK (empty auth) and encrypts inSensitive, the first parameter. */
        r = tpm2_check(c, Esys_Create(c->esys, srk->tr, session->tr, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                                      &template, &outside, &no_pcrs, &private, &public, NULL, NULL, NULL),
                       "Esys_Create");
        explicit_bzero(&sensitive, sizeof(sensitive));
        if (r < 0)
                return r;
        tpm2_session_consumed(session);

        ret->public = *public;
        ret->private = *private;
        return 0;
}

/* Is this object sealed to this policy, by us? Checked before the TPM sees it, for a clear error. */
static int sealed_object_check(const Tpm2PcrlockPolicy *p, const Tpm2SealedObject *o) {
        const TPMT_PUBLIC *t = &o->public.publicArea;
        TPM2B_DIGEST auth_policy;
        int r;

        r = tpm2_pcrlock_auth_policy(p, &auth_policy);
        if (r < 0)
                return r;
        if (t->type != TPM2_ALG_KEYEDHASH || t->nameAlg != TPM2_ALG_SHA256 ||
            (t->objectAttributes != SEALED_ATTRIBUTES && t->objectAttributes != SEALED_ATTRIBUTES_V1) ||
            t->parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_NULL)
                return -EKEYREJECTED;
        if (t->authPolicy.size != auth_policy.size ||
            memcmp(t->authPolicy.buffer, auth_policy.buffer, auth_policy.size) != 0) {
                log_debug("The object's authPolicy is not PolicyAuthorizeNV of index 0x%x.", p->nv_index);
                return -EKEYREJECTED;
        }
        return 0;
}

static int submit_policy_pcr(Tpm2Context *c, ESYS_TR session, TPMI_ALG_HASH bank, uint32_t mask) {
        TPML_PCR_SELECTION sel;

        /* No pcrDigest: the TPM takes the current values. */
        tpm2_pcr_selection_from_mask(bank, mask, &sel);
        return tpm2_check(c, Esys_PolicyPCR(c->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL,
                                            &sel),
                          "Esys_PolicyPCR");
}

/* The PCR part of the policy, replayed for the current PCR values: one PolicyPCR over the single-valued
 * PCRs, then per multi-valued PCR in ascending order PolicyPCR + PolicyOR over its branches. The branches
 * are computed from the digest the session has if the PCRs match, so a mismatch shows at the first
 * PolicyOR already (TPM_RC_VALUE). */
static int policy_replay(Tpm2Context *c, const Tpm2PcrlockPolicy *p, ESYS_TR session) {
        TPM2B_DIGEST digest = pcrlock_zero_digest();
        uint32_t single = pcrlock_single_value_mask(p);
        int r;

        if (single != 0) {
                r = submit_policy_pcr(c, session, p->bank, single);
                if (r < 0)
                        return r;
                r = pcrlock_policy_single_pcrs(p, single, &digest);
                if (r < 0)
                        return r;
        }

        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++) {
                TPML_DIGEST branches;

                if (!(p->pcr_mask & (1U << i)) || p->n_values[i] < 2)
                        continue;
                r = pcrlock_policy_branches(p, i, &digest, &branches);
                if (r < 0)
                        return r;

                r = submit_policy_pcr(c, session, p->bank, 1U << i);
                if (r < 0)
                        return r;
                r = tpm2_check(c, Esys_PolicyOR(c->esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                &branches),
                               "Esys_PolicyOR");
                if (r < 0)
                        return rc_fmt1(c->last_rc) == TPM2_RC_VALUE ? -EPERM : r;
                r = pcrlock_policy_or_extend(&digest, &branches);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A policy session that satisfies tpm2_pcrlock_auth_policy(): salted with the SRK, the PCR replay for the
 * current values, then PolicyAuthorizeNV. It authorizes one command; without continueSession the TPM flushes
 * it when that command succeeds (tpm2_session_consumed()). */
static int policy_session(Tpm2Context *c, const Tpm2PcrlockPolicy *p, ESYS_TR srk, ESYS_TR nv,
                          TPMA_SESSION attributes, Tpm2Handle **ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *session = NULL;
        TSS2_RC code;
        int r;

        r = session_start(c, srk, TPM2_SE_POLICY, attributes, &session);
        if (r < 0)
                return r;

        r = policy_replay(c, p, session->tr);
        if (r < 0)
                return r;

        /* The index holds the PCR policy digest; it must equal the session's. Read authorized as owner. */
        r = tpm2_check(c, Esys_PolicyAuthorizeNV(c->esys, ESYS_TR_RH_OWNER, nv, session->tr,
                                                 ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
                       "Esys_PolicyAuthorizeNV");
        if (r < 0) {
                code = rc_fmt1(c->last_rc);
                if (code == TPM2_RC_VALUE || code == TPM2_RC_POLICY_FAIL)
                        return -EPERM;
                if (code == TPM2_RC_BAD_AUTH || code == TPM2_RC_AUTH_FAIL)
                        return -EACCES;
                return r;
        }
        *ret = TAKE_PTR(session);
        return 0;
}

static int unseal_once(Tpm2Context *c, const Tpm2PcrlockPolicy *p, ESYS_TR srk, ESYS_TR nv, ESYS_TR object,
                       SecretBuffer **ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *session = NULL;
        _cleanup_(secret_buffer_freep) SecretBuffer *secret = NULL;
        TPM2B_SENSITIVE_DATA *data = NULL;
        int r;

        /* Response encryption: Unseal's outData is its first response parameter. */
        r = policy_session(c, p, srk, nv, TPMA_SESSION_ENCRYPT, &session);
        if (r < 0)
                return r;

        r = tpm2_check(c, Esys_Unseal(c->esys, object, session->tr, ESYS_TR_NONE, ESYS_TR_NONE, &data),
                       "Esys_Unseal");
        if (r < 0)
                return rc_fmt1(c->last_rc) == TPM2_RC_POLICY_FAIL ? -EPERM : r;
        tpm2_session_consumed(session);
        if (!data)
                return -EIO;

        r = secret_buffer_new(data->size, &secret);
        if (r >= 0)
                memcpy(secret->data, data->buffer, data->size);
        erase_and_free_sized(data, sizeof(*data));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(secret);
        return 0;
}

int tpm2_pcrlock_unseal(Tpm2Context *c, const Tpm2PcrlockPolicy *p, const Tpm2SealedObject *o,
                        SecretBuffer **ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *srk = NULL, *nv = NULL, *object = NULL;
        ESYS_TR tr = ESYS_TR_NONE;
        int r;

        if (!c || !p || !o || !ret)
                return -EINVAL;

        r = sealed_object_check(p, o);
        if (r < 0)
                return r;
        r = srk_open(c, p, /* verify= */ false, &srk);
        if (r < 0)
                return r;
        r = nv_from_policy(c, p, &nv);
        if (r < 0)
                return r;

        /* Nothing secret in the blobs (the private part is encrypted to the SRK): the SRK's empty auth as a
         * password. A wrong TPM or SRK fails here with TPM_RC_INTEGRITY. */
        r = tpm2_check(c, Esys_Load(c->esys, srk->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                    &o->private, &o->public, &tr),
                       "Esys_Load");
        if (r < 0)
                return r;
        r = tpm2_handle_new(c, tr, /* flush= */ true, &object);
        if (r < 0) {
                (void) Esys_FlushContext(c->esys, tr);
                return r;
        }

        for (unsigned attempt = 0;; attempt++) {
                r = unseal_once(c, p, srk->tr, nv->tr, object->tr, ret);
                if (r != -ESTALE || attempt + 1 >= UNSEAL_ATTEMPTS)
                        break;
                log_debug("A PCR changed during the policy session, retrying.");
        }
        if (r < 0 && r != -ENOMEM && r != -ESTALE && (c->last_rc & TSS2_RC_LAYER_MASK) != TSS2_TCTI_RC_LAYER) {
                /* Refused: if by the index, say whether it is missing, never written or another one. */
                _cleanup_(tpm2_handle_freep) Tpm2Handle *check = NULL;
                TSS2_RC rc = c->last_rc;
                int k = nv_open(c, p, &check);

                c->last_rc = rc;
                if (k < 0 && k != -ENOMEM)
                        return k;
        }
        return r;
}

int tpm2_pcrlock_nv_check(const Tpm2PcrlockPolicy *p, const TPM2B_NV_PUBLIC *pub) {
        const TPMS_NV_PUBLIC *nv = &pub->nvPublic;
        TPM2B_DIGEST auth_policy;
        int r;

        if (!p || !pub)
                return -EINVAL;
        if (nv->nameAlg != TPM2_ALG_SHA256 || (nv->attributes & ~TPMA_NV_WRITTEN) != TPM2_PCRLOCK_NV_ATTRIBUTES)
                return -EACCES;
        r = tpm2_pcrlock_auth_policy(p, &auth_policy);
        if (r < 0)
                return r;
        if (nv->authPolicy.size != auth_policy.size ||
            memcmp(nv->authPolicy.buffer, auth_policy.buffer, auth_policy.size) != 0)
                return -EKEYREJECTED;
        return !!(nv->attributes & TPMA_NV_WRITTEN);
}

int tpm2_pcrlock_nv_define(Tpm2Context *c, const Tpm2PcrlockPolicy *p, TPM2_HANDLE index, size_t size) {
        TPM2B_DIGEST auth_policy;
        int r;

        if (!c || !p)
                return -EINVAL;
        r = tpm2_pcrlock_auth_policy(p, &auth_policy);
        if (r < 0)
                return r;
        return tpm2_nv_define_with_policy(c, index, size, TPM2_PCRLOCK_NV_ATTRIBUTES, &auth_policy);
}

/* One NV_Write of at most TPM2_PT_NV_BUFFER_MAX bytes in its own policy session (a policy session authorizes
 * one command: its digest is reset afterwards). */
static int nv_write_once(Tpm2Context *c, const Tpm2PcrlockPolicy *p, ESYS_TR srk, ESYS_TR nv, ESYS_TR index,
                         const TPM2B_MAX_NV_BUFFER *buf, uint16_t offset) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *session = NULL;
        int r;

        r = policy_session(c, p, srk, nv, /* attributes= */ 0, &session);
        if (r < 0)
                return r;
        /* POLICYWRITE: the index itself is the authorization handle, in the policy role. */
        r = tpm2_check(c, Esys_NV_Write(c->esys, index, index, session->tr, ESYS_TR_NONE, ESYS_TR_NONE, buf, offset),
                       "Esys_NV_Write");
        if (r < 0)
                return rc_fmt1(c->last_rc) == TPM2_RC_POLICY_FAIL ? -EPERM : r;
        tpm2_session_consumed(session);
        return 0;
}

int tpm2_pcrlock_nv_write(Tpm2Context *c, const Tpm2PcrlockPolicy *p, TPM2_HANDLE index, size_t offset,
                          const void *data, size_t size) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *srk = NULL, *nv = NULL, *target = NULL;
        uint32_t chunk_max = 512;
        int r;

        if (!c || !p || (!data && size > 0))
                return -EINVAL;
        if (offset > UINT16_MAX || size > UINT16_MAX - offset)
                return -E2BIG;
        (void) tpm2_get_property(c, TPM2_PT_NV_BUFFER_MAX, &chunk_max);
        chunk_max = MIN(MAX(chunk_max, 64U), (uint32_t) sizeof(((TPM2B_MAX_NV_BUFFER *) NULL)->buffer));

        /* The SRK and pcrlock's index from the policy (no command, as for an unseal); the target from the TPM:
         * ESAPI needs its name. */
        r = srk_open(c, p, /* verify= */ false, &srk);
        if (r < 0)
                return r;
        r = nv_from_policy(c, p, &nv);
        if (r < 0)
                return r;
        r = tpm2_handle_from_tpm(c, index, &target);
        if (r < 0)
                return r;

        for (size_t off = 0; off < size;) {
                TPM2B_MAX_NV_BUFFER buf = { .size = (uint16_t) MIN(size - off, (size_t) chunk_max) };

                memcpy(buf.buffer, (const uint8_t *) data + off, buf.size);
                for (unsigned attempt = 0;; attempt++) {
                        r = nv_write_once(c, p, srk->tr, nv->tr, target->tr, &buf, (uint16_t) (offset + off));
                        if (r != -ESTALE || attempt + 1 >= UNSEAL_ATTEMPTS)
                                break;
                        log_debug("A PCR changed during the policy session, retrying.");
                }
                if (r < 0)
                        return r;
                off += buf.size;
        }
        return 0;
}

static bool value_allowed(const Tpm2PcrlockPolicy *p, unsigned pcr, const TPM2B_DIGEST *value) {
        for (unsigned k = 0; k < p->n_values[pcr]; k++)
                if (value->size == p->values[pcr][k].size &&
                    memcmp(value->buffer, p->values[pcr][k].buffer, value->size) == 0)
                        return true;
        return false;
}

int tpm2_pcrlock_check_pcrs(Tpm2Context *c, const Tpm2PcrlockPolicy *p, uint32_t *ret_mismatch) {
        TPM2B_DIGEST values[TPM2_PCRS_MAX];
        uint32_t mismatch = 0;
        unsigned n = 0;
        int r;

        if (!c || !p || !ret_mismatch)
                return -EINVAL;
        r = tpm2_pcr_read(c, p->bank, p->pcr_mask, values);
        if (r < 0)
                return r;
        for (unsigned b = 0; b < TPM2_PCRS_MAX; b++)
                if ((p->pcr_mask & (1U << b)) && !value_allowed(p, b, &values[n++]))
                        mismatch |= 1U << b;
        *ret_mismatch = mismatch;
        return 0;
}
