/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "attestd-tpm.h"
#include "identity.h"
#include "log.h"
#include "tpm2-marshal.h"

#define EK_CERT_MAX (16U * 1024U)
#define QUOTE_ATTEMPTS 3

AttestKeys *attest_keys_free(AttestKeys *k) {
        if (!k)
                return NULL;
        tpm2_handle_free(k->ak);
        tpm2_handle_free(k->ek);
        free(k->ek_certificate);
        free(k->fingerprint);
        free(k);
        return NULL;
}

/* The EK NV indices of the low range (certificates, nonces, templates of both types), from one
 * GetCapability: a TPM without certificates answers no lookups then. */
#define EK_NV_FIRST TPM2_EK_CERT_NV_RSA2048
#define EK_NV_COUNT (TPM2_EK_TEMPLATE_NV_ECC_P256 - TPM2_EK_CERT_NV_RSA2048 + 1)

static bool ek_nv_maybe_present(const AttestKeys *k, TPM2_HANDLE index) {
        return !k->ek_nv_listed || (k->ek_nv_present & (UINT64_C(1) << (index - EK_NV_FIRST)));
}

/* Reads an EK NV index; -ENOENT if the TPM has none (without asking, when the list says so). */
static int read_ek_nv(Tpm2Context *c, const AttestKeys *k, TPM2_HANDLE index, size_t max, uint8_t **ret,
                      size_t *ret_size) {
        if (!ek_nv_maybe_present(k, index))
                return -ENOENT;
        return tpm2_nv_read_all(c, index, max, ret, ret_size, /* ret_public= */ NULL);
}

/* Picks the EK type and reads its certificate in the same pass: under "auto", the type the manufacturer
 * certified, else RSA-2048 (the type every TPM must support). */
static int pick_ek_type_and_certificate(Tpm2Context *c, Tpm2KeyType type, AttestKeys *k) {
        static const Tpm2KeyType order[] = { TPM2_KEY_RSA2048, TPM2_KEY_ECC_P256 };
        int r;

        /* Without the list (-EAGAIN: the TPM cut it short), each index is looked up by itself. */
        r = tpm2_handles_present(c, EK_NV_FIRST, EK_NV_COUNT, &k->ek_nv_present);
        k->ek_nv_listed = r >= 0;
        if (r < 0)
                log_debug_errno(r, "Could not list the EK NV indices, looking them up one by one: %m");

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                if (type >= 0 && order[i] != type)
                        continue;
                r = read_ek_nv(c, k, tpm2_ek_cert_nv_index(order[i]), EK_CERT_MAX, &k->ek_certificate,
                               &k->ek_certificate_size);
                if (r >= 0) {
                        k->ek_type = order[i];
                        return 0;
                }
                if (r != -ENOENT)
                        /* A certificate we cannot read does not make the EK unusable. */
                        log_debug_errno(r, "Could not read the %s EK certificate, continuing without: %m",
                                        tpm2_key_type_to_string(order[i]));
        }
        k->ek_type = type >= 0 ? type : TPM2_KEY_RSA2048;
        return 0;
}

static int load_persistent_ek(Tpm2Context *c, AttestKeys *k) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        TPM2_HANDLE handle = tpm2_ek_persistent_handle(k->ek_type);
        TPM2B_NAME *esys_name = NULL;
        TPM2B_PUBLIC pub;
        TPM2B_NAME name;
        bool same;
        int r;

        r = tpm2_handle_from_tpm(c, handle, &h);
        if (r < 0)
                return r; /* -ENOENT: nothing persisted there */
        /* The ReadPublic of that lookup, as ESAPI keeps it: a second one would only repeat it. */
        r = tpm2_handle_public(h, &pub);
        if (r < 0)
                return r == -EINVAL ? -ENOENT : r;

        /* Something else may live at the customary handle: only a real EK of the wanted type will do. */
        if (tpm2_key_type_of_public(&pub.publicArea) != k->ek_type || !tpm2_public_is_default_ek(&pub.publicArea)) {
                log_debug("Object at 0x%x is not a default %s EK, ignoring it.", handle,
                          tpm2_key_type_to_string(k->ek_type));
                return -ENOENT;
        }
        /* ESAPI authorizes with the name the TPM gave; ours is computed from the public area: they must agree. */
        r = tpm2_public_name(&pub.publicArea, &name);
        if (r < 0)
                return r;
        if (Esys_TR_GetName(c->esys, h->tr, &esys_name) != TSS2_RC_SUCCESS)
                return -EIO;
        same = esys_name->size == name.size && memcmp(esys_name->name, name.name, name.size) == 0;
        free(esys_name);
        if (!same)
                return -EBADMSG;

        k->ek_public = pub;
        k->ek = TAKE_PTR(h);
        k->ek_persistent = handle;
        return 0;
}

static int create_primary(Tpm2Context *c, const TPM2B_PUBLIC *template, Tpm2Handle **ret, TPM2B_PUBLIC *ret_public) {
        static const TPM2B_SENSITIVE_CREATE sensitive = {};
        static const TPM2B_DATA outside = {};
        static const TPML_PCR_SELECTION no_pcrs = {};
        _cleanup_free_ TPM2B_PUBLIC *pub = NULL;
        ESYS_TR tr = ESYS_TR_NONE;
        int r;

        r = tpm2_check(c, Esys_CreatePrimary(c->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                             &sensitive, template, &outside, &no_pcrs, &tr, &pub, NULL, NULL, NULL),
                       "Esys_CreatePrimary");
        if (r < 0)
                return r;
        r = tpm2_handle_new(c, tr, /* flush= */ true, ret);
        if (r < 0) {
                (void) Esys_FlushContext(c->esys, tr);
                return r;
        }
        *ret_public = *pub;
        return 0;
}

static int create_ek(Tpm2Context *c, AttestKeys *k) {
        _cleanup_free_ uint8_t *nonce = NULL, *tmpl = NULL;
        size_t nonce_size = 0, tmpl_size = 0;
        TPM2B_PUBLIC template;
        bool rsa = k->ek_type == TPM2_KEY_RSA2048;
        int r;

        tpm2_ek_template(k->ek_type, &template);

        /* A manufacturer may have stored its own template and/or a nonce for the unique field; the EK
         * certificate then certifies the key made from those, so they win over the default. */
        r = read_ek_nv(c, k, rsa ? TPM2_EK_TEMPLATE_NV_RSA2048 : TPM2_EK_TEMPLATE_NV_ECC_P256, sizeof(TPMT_PUBLIC),
                       &tmpl, &tmpl_size);
        if (r >= 0) {
                r = tpm2_unmarshal_TPMT_PUBLIC(tmpl, tmpl_size, &template.publicArea);
                if (r < 0)
                        return log_debug_errno(r, "EK template in NV is malformed: %m");
        } else if (r != -ENOENT)
                return r;

        r = read_ek_nv(c, k, rsa ? TPM2_EK_NONCE_NV_RSA2048 : TPM2_EK_NONCE_NV_ECC_P256, 256, &nonce, &nonce_size);
        if (r >= 0) {
                r = tpm2_ek_template_apply_nonce(&template, nonce, nonce_size);
                if (r < 0)
                        return r;
        } else if (r != -ENOENT)
                return r;

        return create_primary(c, &template, &k->ek, &k->ek_public);
}

int attest_keys_load(Tpm2Context *c, Tpm2KeyType ek_type, Tpm2KeyType ak_type, AttestKeys **ret) {
        _cleanup_(attest_keys_freep) AttestKeys *k = NULL;
        TPM2B_PUBLIC ak_template;
        const TPM2B_NAME *esys_name = NULL;
        int r;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;

        r = pick_ek_type_and_certificate(c, ek_type, k);
        if (r < 0)
                return r;

        r = load_persistent_ek(c, k);
        if (r == -ENOENT)
                r = create_ek(c, k);
        if (r < 0)
                return r;

        k->ak_type = ak_type >= 0 ? ak_type : TPM2_KEY_ECC_P256;
        tpm2_ak_template(k->ak_type, &ak_template);
        r = create_primary(c, &ak_template, &k->ak, &k->ak_public);
        if (r < 0)
                return r;

        r = tpm2_public_name(&k->ek_public.publicArea, &k->ek_name);
        if (r < 0)
                return r;
        r = tpm2_public_name(&k->ak_public.publicArea, &k->ak_name);
        if (r < 0)
                return r;

        /* ESAPI computed the AK name from the TPM's response as well: two computations must agree. */
        if (Esys_TR_GetName(c->esys, k->ak->tr, (TPM2B_NAME **) &esys_name) == TSS2_RC_SUCCESS) {
                bool same = esys_name->size == k->ak_name.size &&
                            memcmp(esys_name->name, k->ak_name.name, k->ak_name.size) == 0;
                free((void *) esys_name);
                if (!same)
                        return -EBADMSG;
        }

        r = patela_identity_fingerprint(&k->ek_public.publicArea, &k->ak_public.publicArea, &k->fingerprint);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(k);
        return 0;
}

int attest_activate_credential(Tpm2Context *c, AttestKeys *k, const TPM2B_ID_OBJECT *blob,
                               const TPM2B_ENCRYPTED_SECRET *secret, TPM2B_DIGEST *ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *policy = NULL;
        _cleanup_free_ TPM2B_DIGEST *cert_info = NULL;
        int r;

        /* One session does it all: the EK's policy session (PolicySecret(endorsement), what the EK's
         * adminWithPolicy asks), salted with the EK so that only this TPM knows its key. It encrypts the
         * blob (decrypt) and the secret coming back (encrypt), and its HMAC, keyed by the salt, covers
         * command and response. The AK's authValue is empty: a password session gives it. continueSession
         * clear: the TPM flushes the session after the command. */
        r = tpm2_start_endorsement_policy_session(c, k->ek->tr, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &policy);
        if (r < 0)
                return r;

        r = tpm2_check(c, Esys_ActivateCredential(c->esys, k->ak->tr, k->ek->tr, ESYS_TR_PASSWORD, policy->tr,
                                                  ESYS_TR_NONE, blob, secret, &cert_info),
                       "Esys_ActivateCredential");
        if (r < 0) {
                TSS2_RC rc = c->last_rc;

                /* Integrity (wrong AK name, altered blob) or value/size/point errors (a seed for another
                 * EK): both mean "not for this TPM's identity". Transport errors stay what they are. */
                if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && (rc & TPM2_RC_FMT1))
                        return -EBADMSG;
                /* libtpms answers TPM_RC_FAILURE when the RSA-OAEP seed does not decrypt (a real TPM says
                 * TPM_RC_VALUE). If the TPM still works afterwards, it was the input, not failure mode. */
                if (rc == TPM2_RC_FAILURE && tpm2_is_responsive(c)) {
                        c->last_rc = rc;
                        return -EBADMSG;
                }
                return r;
        }
        tpm2_session_consumed(policy);

        *ret = *cert_info;
        explicit_bzero(cert_info, sizeof(*cert_info));
        return 0;
}

static int read_pcrs(Tpm2Context *c, TPMI_ALG_HASH bank, uint32_t mask, AttestQuote *q) {
        int r = tpm2_pcr_read(c, bank, mask, q->values);
        if (r < 0)
                return r;
        q->n_values = (unsigned) __builtin_popcount(mask);
        return 0;
}

static int pcr_digest_matches(const AttestQuote *q, const TPMS_ATTEST *attest, bool *ret) {
        uint8_t buf[TPM2_PCRS_MAX * sizeof(TPMU_HA)], digest[64];
        size_t n = 0, dsize;
        int r;

        for (unsigned i = 0; i < q->n_values; i++) {
                memcpy(buf + n, q->values[i].buffer, q->values[i].size);
                n += q->values[i].size;
        }
        /* The quote's pcrDigest uses the AK's signing hash, which is SHA-256 for both AK types. */
        r = tpm2_digest(TPM2_ALG_SHA256, buf, n, digest, &dsize);
        if (r < 0)
                return r;
        *ret = attest->attested.quote.pcrDigest.size == dsize &&
               memcmp(attest->attested.quote.pcrDigest.buffer, digest, dsize) == 0;
        return 0;
}

int attest_quote(Tpm2Context *c, AttestKeys *k, TPMI_ALG_HASH bank, uint32_t mask, const TPM2B_DATA *nonce,
                 AttestQuote *ret) {
        static const TPMT_SIG_SCHEME in_scheme = { .scheme = TPM2_ALG_NULL };
        TPML_PCR_SELECTION sel;
        int r;

        tpm2_pcr_selection_from_mask(bank, mask, &sel);

        for (unsigned attempt = 0; attempt < QUOTE_ATTEMPTS; attempt++) {
                _cleanup_free_ TPM2B_ATTEST *quoted = NULL;
                _cleanup_free_ TPMT_SIGNATURE *sig = NULL;
                AttestQuote q = { .bank = bank, .mask = mask };
                TPMS_ATTEST attest;
                bool match;

                r = read_pcrs(c, bank, mask, &q);
                if (r < 0)
                        return r;

                r = tpm2_check(c, Esys_Quote(c->esys, k->ak->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nonce,
                                             &in_scheme, &sel, &quoted, &sig),
                               "Esys_Quote");
                if (r < 0)
                        return r;

                r = tpm2_unmarshal_TPMS_ATTEST(quoted->attestationData, quoted->size, &attest);
                if (r < 0)
                        return r;
                r = pcr_digest_matches(&q, &attest, &match);
                if (r < 0)
                        return r;
                if (!match) {
                        log_debug("A PCR changed between PCR_Read and Quote, retrying.");
                        continue;
                }

                q.quoted = *quoted;
                q.signature = *sig;
                *ret = q;
                return 0;
        }
        return -ESTALE;
}
