/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"
#include "tpm2-marshal.h"
#include "tpm2-pcrlock.h"
#include "tpm2-pcrlock-internal.h"

/* Strict MU for the structures tpm2-marshal does not cover: one canonical encoding, nothing after it. */
#define DEFINE_STRICT_MU(type)                                                                        \
        static int unmarshal_##type(const void *buf, size_t size, type *ret) {                       \
                uint8_t out[sizeof(type) + 16];                                                       \
                size_t off = 0, out_size = 0;                                                         \
                type tmp = {};                                                                        \
                                                                                                      \
                if (!buf || size == 0 || size > sizeof(out))                                          \
                        return -EBADMSG;                                                              \
                if (Tss2_MU_##type##_Unmarshal(buf, size, &off, &tmp) != TSS2_RC_SUCCESS || off != size) \
                        return -EBADMSG;                                                              \
                if (Tss2_MU_##type##_Marshal(&tmp, out, sizeof(out), &out_size) != TSS2_RC_SUCCESS || \
                    out_size != size || memcmp(out, buf, size) != 0)                                  \
                        return -EBADMSG;                                                              \
                *ret = tmp;                                                                           \
                return 0;                                                                             \
        }

DEFINE_STRICT_MU(TPM2B_NV_PUBLIC)
DEFINE_STRICT_MU(TPM2B_PRIVATE)

Tpm2PcrlockPolicy *tpm2_pcrlock_policy_free(Tpm2PcrlockPolicy *p) {
        if (!p)
                return NULL;
        free(p->srk_serialized);
        free(p);
        return NULL;
}

uint32_t tpm2_pcrlock_pcr_mask(const Tpm2PcrlockPolicy *p) {
        return p ? p->pcr_mask : 0;
}

bool pcrlock_names_equal(const TPM2B_NAME *a, const TPM2B_NAME *b) {
        return a->size == b->size && memcmp(a->name, b->name, a->size) == 0;
}

int pcrlock_nv_public_name(const TPMS_NV_PUBLIC *nv, TPM2B_NAME *ret) {
        uint8_t buf[sizeof(TPMS_NV_PUBLIC) + 16], digest[64];
        size_t off = 0, dsize;
        int r;

        if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(nv, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
                return -EINVAL;
        r = tpm2_digest(nv->nameAlg, buf, off, digest, &dsize);
        if (r < 0)
                return r;
        ret->size = (uint16_t) (2 + dsize);
        ret->name[0] = (uint8_t) (nv->nameAlg >> 8);
        ret->name[1] = (uint8_t) (nv->nameAlg & 0xFF);
        memcpy(ret->name + 2, digest, dsize);
        return 0;
}

int tpm2_pcrlock_nv_name(const Tpm2PcrlockPolicy *p, TPM2B_NAME *ret) {
        TPMS_NV_PUBLIC nv;

        if (!p || !ret)
                return -EINVAL;
        /* make-policy stores the public area as it defined it; PolicyAuthorizeNV sees the index after the
         * first write, and the name covers the attributes. */
        nv = p->nv_public.nvPublic;
        nv.attributes |= TPMA_NV_WRITTEN;
        return pcrlock_nv_public_name(&nv, ret);
}

/* policyDigest := SHA-256(policyDigest || data): every policy command extends the session digest so. */
static int policy_extend(TPM2B_DIGEST *digest, const void *data, size_t size) {
        /* the largest data: PolicyOR with 8 branches */
        uint8_t buf[SHA256_SIZE + 4 + TPM2_PCRLOCK_VALUES_MAX * sizeof(TPMU_HA)];
        size_t dsize;
        int r;

        if (digest->size != SHA256_SIZE || size > sizeof(buf) - SHA256_SIZE)
                return -EINVAL;
        memcpy(buf, digest->buffer, SHA256_SIZE);
        memcpy(buf + SHA256_SIZE, data, size);
        r = tpm2_digest(TPM2_ALG_SHA256, buf, SHA256_SIZE + size, digest->buffer, &dsize);
        return r < 0 ? r : 0;
}

static size_t put_cc(uint8_t *buf, TPM2_CC cc) {
        buf[0] = (uint8_t) (cc >> 24);
        buf[1] = (uint8_t) (cc >> 16);
        buf[2] = (uint8_t) (cc >> 8);
        buf[3] = (uint8_t) cc;
        return 4;
}

TPM2B_DIGEST pcrlock_zero_digest(void) {
        return (TPM2B_DIGEST) { .size = SHA256_SIZE };
}

/* PolicyPCR for the PCRs in mask at the given values (one per PCR, ascending order):
 * H(digest || CC_PolicyPCR || TPML_PCR_SELECTION || H(values...)). */
static int policy_pcr_extend(TPM2B_DIGEST *digest, TPMI_ALG_HASH bank, uint32_t mask,
                             const TPM2B_DIGEST *const values[], size_t n_values) {
        uint8_t concat[TPM2_PCRS_MAX * sizeof(TPMU_HA)], data[4 + sizeof(TPML_PCR_SELECTION) + SHA256_SIZE];
        _cleanup_free_ uint8_t *sel_buf = NULL;
        TPML_PCR_SELECTION sel;
        size_t n = 0, sel_size, off, dsize;
        int r;

        if (n_values > TPM2_PCRS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n_values; i++) {
                memcpy(concat + n, values[i]->buffer, values[i]->size);
                n += values[i]->size;
        }

        /* The selection is marshalled as the PolicyPCR command sends it: one bank, three bytes. */
        tpm2_pcr_selection_from_mask(bank, mask, &sel);
        r = tpm2_marshal_TPML_PCR_SELECTION(&sel, &sel_buf, &sel_size);
        if (r < 0)
                return r;
        if (sel_size > sizeof(TPML_PCR_SELECTION))
                return -EINVAL;

        off = put_cc(data, TPM2_CC_PolicyPCR);
        memcpy(data + off, sel_buf, sel_size);
        off += sel_size;
        r = tpm2_digest(TPM2_ALG_SHA256, concat, n, data + off, &dsize);
        if (r < 0)
                return r;
        return policy_extend(digest, data, off + dsize);
}

/* PolicyOR resets the digest: H(0…0 || CC_PolicyOR || branches...). */
int pcrlock_policy_or_extend(TPM2B_DIGEST *digest, const TPML_DIGEST *branches) {
        uint8_t data[4 + TPM2_PCRLOCK_VALUES_MAX * SHA256_SIZE];
        size_t off = put_cc(data, TPM2_CC_PolicyOR);

        if (branches->count < 2 || branches->count > TPM2_PCRLOCK_VALUES_MAX)
                return -EINVAL;
        for (uint32_t i = 0; i < branches->count; i++) {
                memcpy(data + off, branches->digests[i].buffer, SHA256_SIZE);
                off += SHA256_SIZE;
        }
        *digest = pcrlock_zero_digest();
        return policy_extend(digest, data, off);
}

uint32_t pcrlock_single_value_mask(const Tpm2PcrlockPolicy *p) {
        uint32_t mask = 0;

        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                if ((p->pcr_mask & (1U << i)) && p->n_values[i] == 1)
                        mask |= 1U << i;
        return mask;
}

/* The first step of systemd's policy: one PolicyPCR over every PCR with a single allowed value. */
int pcrlock_policy_single_pcrs(const Tpm2PcrlockPolicy *p, uint32_t mask, TPM2B_DIGEST *digest) {
        const TPM2B_DIGEST *values[TPM2_PCRS_MAX];
        size_t n = 0;

        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                if (mask & (1U << i))
                        values[n++] = &p->values[i][0];
        return policy_pcr_extend(digest, p->bank, mask, values, n);
}

/* The PolicyOR branches of a multi-valued PCR: the digest so far, extended by PolicyPCR with each allowed
 * value, in the order stored. */
int pcrlock_policy_branches(const Tpm2PcrlockPolicy *p, unsigned pcr, const TPM2B_DIGEST *digest,
                           TPML_DIGEST *ret) {
        TPML_DIGEST branches = { .count = p->n_values[pcr] };
        int r;

        for (unsigned k = 0; k < p->n_values[pcr]; k++) {
                const TPM2B_DIGEST *value = &p->values[pcr][k];

                branches.digests[k] = *digest;
                r = policy_pcr_extend(&branches.digests[k], p->bank, 1U << pcr, &value, 1);
                if (r < 0)
                        return r;
        }
        *ret = branches;
        return 0;
}

int tpm2_pcrlock_pcr_policy(const Tpm2PcrlockPolicy *p, TPM2B_DIGEST *ret) {
        TPM2B_DIGEST digest = pcrlock_zero_digest();
        uint32_t single;
        int r;

        if (!p || !ret)
                return -EINVAL;

        single = pcrlock_single_value_mask(p);
        if (single != 0) {
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
                r = pcrlock_policy_or_extend(&digest, &branches);
                if (r < 0)
                        return r;
        }
        *ret = digest;
        return 0;
}

int tpm2_pcrlock_auth_policy(const Tpm2PcrlockPolicy *p, TPM2B_DIGEST *ret) {
        uint8_t data[4 + sizeof(TPMU_NAME)];
        TPM2B_DIGEST digest = pcrlock_zero_digest();
        TPM2B_NAME name;
        size_t off;
        int r;

        if (!p || !ret)
                return -EINVAL;
        r = tpm2_pcrlock_nv_name(p, &name);
        if (r < 0)
                return r;
        off = put_cc(data, TPM2_CC_PolicyAuthorizeNV);
        memcpy(data + off, name.name, name.size);
        r = policy_extend(&digest, data, off + name.size);
        if (r < 0)
                return r;
        *ret = digest;
        return 0;
}

/* ---- parsing ------------------------------------------------------------------------------------ */

static int unbase64_field(const char *s, void **ret, size_t *ret_size) {
        int r = unbase64mem(s, BLOB_MAX, ret, ret_size);
        return r == -ENOMEM ? r : r < 0 ? -EBADMSG : 0;
}

static bool nv_public_is_pcrlock_index(const TPMS_NV_PUBLIC *nv) {
        return (nv->attributes & NV_REQUIRED) == NV_REQUIRED && (nv->attributes & NV_FORBIDDEN) == 0 &&
               nv->dataSize == NV_DATA_SIZE && tpm2_hash_alg_digest_size(nv->nameAlg) > 0 &&
               nv->authPolicy.size == tpm2_hash_alg_digest_size(nv->nameAlg) &&
               (nv->nvIndex >> TPM2_HR_SHIFT) == TPM2_HT_NV_INDEX;
}

/* A storage key: what can be a parent and salt a session. */
static bool public_is_storage_key(const TPMT_PUBLIC *t) {
        TPMA_OBJECT want = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM;

        return (t->type == TPM2_ALG_RSA || t->type == TPM2_ALG_ECC) &&
               (t->objectAttributes & want) == want && !(t->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT);
}

/* An Esys_TR_Serialize() blob of the given resource type; its name must be that of its public area. */
static int parse_serialized_tr(const void *buf, size_t size, uint32_t type, TPM2_HANDLE *ret_handle,
                               TPM2B_PUBLIC *ret_public, TPM2B_NV_PUBLIC *ret_nv_public) {
        uint8_t out[BLOB_MAX];
        TPM2B_PUBLIC public = {};
        TPM2B_NV_PUBLIC nv_public = {};
        TPM2B_NAME name = {}, computed;
        TPM2_HANDLE handle;
        uint32_t rsrc_type;
        size_t off = 0, out_size = 0;
        TSS2_RC rc;
        int r;

        if (size > sizeof(out))
                return -EBADMSG;
        rc = Tss2_MU_TPM2_HANDLE_Unmarshal(buf, size, &off, &handle);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NAME_Unmarshal(buf, size, &off, &name);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_UINT32_Unmarshal(buf, size, &off, &rsrc_type);
        if (rc != TSS2_RC_SUCCESS || rsrc_type != type)
                return -EBADMSG;
        if (type == IESYS_KEY_RSRC)
                rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, size, &off, &public);
        else
                rc = Tss2_MU_TPM2B_NV_PUBLIC_Unmarshal(buf, size, &off, &nv_public);
        if (rc != TSS2_RC_SUCCESS || off != size)
                return -EBADMSG;

        /* Canonical: marshalling what we read gives the same bytes. */
        rc = Tss2_MU_TPM2_HANDLE_Marshal(handle, out, sizeof(out), &out_size);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NAME_Marshal(&name, out, sizeof(out), &out_size);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_UINT32_Marshal(rsrc_type, out, sizeof(out), &out_size);
        if (rc == TSS2_RC_SUCCESS && type == IESYS_KEY_RSRC)
                rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&public, out, sizeof(out), &out_size);
        else if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NV_PUBLIC_Marshal(&nv_public, out, sizeof(out), &out_size);
        if (rc != TSS2_RC_SUCCESS || out_size != size || memcmp(out, buf, size) != 0)
                return -EBADMSG;

        r = type == IESYS_KEY_RSRC ? tpm2_public_name(&public.publicArea, &computed) :
                                     pcrlock_nv_public_name(&nv_public.nvPublic, &computed);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (!pcrlock_names_equal(&name, &computed))
                return -EBADMSG;

        *ret_handle = handle;
        if (ret_public)
                *ret_public = public;
        if (ret_nv_public)
                *ret_nv_public = nv_public;
        return 0;
}

/* sd_json_dispatch_uint32() also takes 1.0 and "1": an integer only, as systemd writes it. */
static int dispatch_uint32_strict(const char *name, sd_json_variant *v, sd_json_dispatch_flags_t flags,
                                  void *userdata) {
        sd_json_variant_type_t t = sd_json_variant_type(v);
        uint32_t *u = userdata;

        if ((t != SD_JSON_VARIANT_INTEGER && t != SD_JSON_VARIANT_UNSIGNED) ||
            !sd_json_variant_is_unsigned(v) || sd_json_variant_unsigned(v) > UINT32_MAX)
                return -EBADMSG;
        *u = (uint32_t) sd_json_variant_unsigned(v);
        return 0;
}

typedef struct PcrValuesEntry {
        uint32_t pcr;
        sd_json_variant *values;
} PcrValuesEntry;

static int parse_pcr_values(sd_json_variant *array, Tpm2PcrlockPolicy *p) {
        static const sd_json_dispatch_field table[] = {
                { "pcr", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_uint32_strict,
                  offsetof(PcrValuesEntry, pcr), SD_JSON_MANDATORY },
                { "values", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref,
                  offsetof(PcrValuesEntry, values), SD_JSON_MANDATORY },
                {},
        };
        size_t digest_size = tpm2_hash_alg_digest_size(p->bank);
        int last = -1, r;

        if (sd_json_variant_elements(array) > TPM2_PCRS_MAX)
                return -EBADMSG;

        for (size_t i = 0; i < sd_json_variant_elements(array); i++) {
                PcrValuesEntry entry = {};
                size_t n;

                r = sd_json_dispatch(sd_json_variant_by_index(array, i), table, 0, &entry);
                if (r < 0)
                        return r == -ENOMEM ? r : -EBADMSG;
                /* Ascending and each PCR once, as make-policy writes them. */
                if (entry.pcr >= TPM2_PCRS_MAX || (int) entry.pcr <= last)
                        return -EBADMSG;
                last = (int) entry.pcr;

                n = sd_json_variant_elements(entry.values);
                if (n == 0 || n > TPM2_PCRLOCK_VALUES_MAX)
                        return -EBADMSG;
                for (size_t k = 0; k < n; k++) {
                        sd_json_variant *e = sd_json_variant_by_index(entry.values, k);
                        _cleanup_free_ void *buf = NULL;
                        TPM2B_DIGEST *v = &p->values[entry.pcr][k];
                        size_t size;

                        if (!sd_json_variant_is_string(e))
                                return -EBADMSG;
                        r = unhexmem(sd_json_variant_string(e), sizeof(v->buffer), &buf, &size);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0 || size != digest_size)
                                return -EBADMSG;
                        v->size = (uint16_t) size;
                        memcpy(v->buffer, buf, size);
                        /* make-policy keeps the values in a set: a duplicate would change the PolicyOR. */
                        for (size_t j = 0; j < k; j++)
                                if (memcmp(p->values[entry.pcr][j].buffer, v->buffer, size) == 0)
                                        return -EBADMSG;
                }
                p->n_values[entry.pcr] = (uint8_t) n;
                p->pcr_mask |= 1U << entry.pcr;
        }
        return 0;
}

typedef struct PolicyFields {
        const char *pcr_bank;
        sd_json_variant *pcr_values;
        uint32_t nv_index;
        const char *nv_handle;
        const char *nv_public;
        const char *srk_handle;
        const char *pin_public;
        const char *pin_private;
} PolicyFields;

/* make-policy seals its recovery PIN to the same PolicyAuthorizeNV as ours: its authPolicy cross-checks
 * nvPublic (and our computation of the digest) at every load. */
static int parse_pin(const PolicyFields *f, const Tpm2PcrlockPolicy *p) {
        _cleanup_free_ void *pub = NULL, *priv = NULL;
        TPM2B_PUBLIC public;
        TPM2B_PRIVATE private;
        TPM2B_DIGEST auth_policy;
        size_t pub_size, priv_size;
        int r;

        r = unbase64_field(f->pin_public, &pub, &pub_size);
        if (r < 0)
                return r;
        r = unbase64_field(f->pin_private, &priv, &priv_size);
        if (r < 0)
                return r;
        r = tpm2_unmarshal_TPM2B_PUBLIC(pub, pub_size, &public);
        if (r < 0)
                return r;
        r = unmarshal_TPM2B_PRIVATE(priv, priv_size, &private);
        if (r < 0)
                return r;
        r = tpm2_pcrlock_auth_policy(p, &auth_policy);
        if (r < 0)
                return r;
        if (public.publicArea.authPolicy.size != auth_policy.size ||
            memcmp(public.publicArea.authPolicy.buffer, auth_policy.buffer, auth_policy.size) != 0)
                return -EBADMSG;
        return 0;
}

int tpm2_pcrlock_policy_from_json(sd_json_variant *v, Tpm2PcrlockPolicy **ret) {
        static const sd_json_dispatch_field table[] = {
                { "pcrBank", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, pcr_bank), SD_JSON_MANDATORY },
                { "pcrValues", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref,
                  offsetof(PolicyFields, pcr_values), SD_JSON_MANDATORY },
                { "nvIndex", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_uint32_strict,
                  offsetof(PolicyFields, nv_index), SD_JSON_MANDATORY },
                { "nvHandle", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, nv_handle), 0 },
                { "nvPublic", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, nv_public), SD_JSON_MANDATORY },
                { "srkHandle", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, srk_handle), 0 },
                { "pinPublic", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, pin_public), 0 },
                { "pinPrivate", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(PolicyFields, pin_private), 0 },
                {},
        };
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        _cleanup_free_ void *buf = NULL;
        PolicyFields f = {};
        size_t size;
        int bank, r;

        if (!v || !ret)
                return -EINVAL;

        /* Unknown fields are refused (systemd writes exactly these eight), as are missing required ones,
         * wrong types and duplicates. */
        r = sd_json_dispatch(v, table, 0, &f);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;

        bank = tpm2_hash_alg_from_string(f.pcr_bank);
        if (bank < 0)
                return -EBADMSG;
        p->bank = (TPMI_ALG_HASH) bank;

        r = parse_pcr_values(f.pcr_values, p);
        if (r < 0)
                return r;

        r = unbase64_field(f.nv_public, &buf, &size);
        if (r < 0)
                return r;
        r = unmarshal_TPM2B_NV_PUBLIC(buf, size, &p->nv_public);
        if (r < 0)
                return r;
        free(TAKE_PTR(buf));
        p->nv_index = f.nv_index;
        if (p->nv_public.nvPublic.nvIndex != p->nv_index ||
            !nv_public_is_pcrlock_index(&p->nv_public.nvPublic))
                return -EBADMSG;

        if (f.nv_handle) {
                TPM2B_NV_PUBLIC nv;
                TPM2_HANDLE handle;

                r = unbase64_field(f.nv_handle, &buf, &size);
                if (r < 0)
                        return r;
                r = parse_serialized_tr(buf, size, IESYS_NV_RSRC, &handle, NULL, &nv);
                if (r < 0)
                        return r;
                free(TAKE_PTR(buf));
                if (handle != p->nv_index || nv.nvPublic.nvIndex != p->nv_index)
                        return -EBADMSG;
                p->have_nv_handle = true;
        }

        p->srk_handle = TPM2_SRK_HANDLE;
        if (f.srk_handle) {
                r = unbase64_field(f.srk_handle, &buf, &size);
                if (r < 0)
                        return r;
                r = parse_serialized_tr(buf, size, IESYS_KEY_RSRC, &p->srk_handle, &p->srk_public, NULL);
                if (r < 0)
                        return r;
                if ((p->srk_handle >> TPM2_HR_SHIFT) != TPM2_HT_PERSISTENT ||
                    !public_is_storage_key(&p->srk_public.publicArea))
                        return -EBADMSG;
                p->srk_serialized = TAKE_PTR(buf);
                p->srk_serialized_size = size;
                p->have_srk = true;
        }

        /* Both or neither. */
        if (!!f.pin_public != !!f.pin_private)
                return -EBADMSG;
        if (f.pin_public) {
                r = parse_pin(&f, p);
                if (r < 0)
                        return r;
                p->have_pin = true;
        }

        *ret = TAKE_PTR(p);
        return 0;
}

int tpm2_pcrlock_policy_parse(const char *text, Tpm2PcrlockPolicy **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        int r;

        if (!text || !ret)
                return -EINVAL;
        if (strnlen(text, TPM2_PCRLOCK_JSON_MAX + 1) > TPM2_PCRLOCK_JSON_MAX)
                return -E2BIG;
        r = sd_json_parse(text, 0, &v, NULL, NULL);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        return tpm2_pcrlock_policy_from_json(v, ret);
}

int tpm2_pcrlock_policy_load(const char *path, Tpm2PcrlockPolicy **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        r = read_full_file(path, TPM2_PCRLOCK_JSON_MAX, (void **) &text, &size);
        if (r < 0)
                return r;
        if (strlen(text) != size)
                return -EBADMSG;
        return tpm2_pcrlock_policy_parse(text, ret);
}

/* ---- sealed objects ------------------------------------------------------------------------------ */

int tpm2_sealed_object_marshal(const Tpm2SealedObject *o, uint8_t **ret_public, size_t *ret_public_size,
                               uint8_t **ret_private, size_t *ret_private_size) {
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL;
        size_t pub_size, priv_size = 0;
        int r;

        if (!o || !ret_public || !ret_public_size || !ret_private || !ret_private_size)
                return -EINVAL;
        r = tpm2_marshal_TPM2B_PUBLIC(&o->public, &pub, &pub_size);
        if (r < 0)
                return r;
        priv = malloc(sizeof(TPM2B_PRIVATE));
        if (!priv)
                return -ENOMEM;
        if (Tss2_MU_TPM2B_PRIVATE_Marshal(&o->private, priv, sizeof(TPM2B_PRIVATE), &priv_size) !=
            TSS2_RC_SUCCESS)
                return -EINVAL;

        *ret_public = TAKE_PTR(pub);
        *ret_public_size = pub_size;
        *ret_private = TAKE_PTR(priv);
        *ret_private_size = priv_size;
        return 0;
}

int tpm2_sealed_object_unmarshal(const void *public, size_t public_size, const void *private,
                                 size_t private_size, Tpm2SealedObject *ret) {
        Tpm2SealedObject o = {};
        int r;

        if (!ret)
                return -EINVAL;
        r = tpm2_unmarshal_TPM2B_PUBLIC(public, public_size, &o.public);
        if (r < 0)
                return r;
        r = unmarshal_TPM2B_PRIVATE(private, private_size, &o.private);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}
