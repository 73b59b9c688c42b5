/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "log.h"
#include "string-util.h"
#include "tpm2-nv.h"
#include "tpm2-startup.h"
#include "tpm2-tcti.h"
#include "tpm2-util.h"

/* NV_Read moves at most TPM2_PT_NV_BUFFER_MAX bytes; 512 is below what every TPM we know reports. */
#define NV_CHUNK 512U

int tpm2_rc_to_errno(TSS2_RC rc) {
        TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, code;

        if (rc == TSS2_RC_SUCCESS)
                return 0;

        if (layer == TSS2_TCTI_RC_LAYER)
                return -EIO;
        if (layer == TSS2_ESAPI_RC_LAYER || layer == TSS2_MU_RC_LAYER || layer == TSS2_SYS_RC_LAYER) {
                switch (rc & 0xFFFFU) {
                case TSS2_BASE_RC_BAD_VALUE:
                case TSS2_BASE_RC_BAD_REFERENCE:
                case TSS2_BASE_RC_BAD_SIZE:
                case TSS2_BASE_RC_INSUFFICIENT_BUFFER:
                        return -EINVAL;
                case TSS2_BASE_RC_MEMORY:
                        return -ENOMEM;
                case TSS2_BASE_RC_TRY_AGAIN:
                        return -EAGAIN;
                case TSS2_BASE_RC_MALFORMED_RESPONSE:
                        return -EBADMSG;
                default:
                        return -EIO;
                }
        }
        if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
                return -EIO;

        if (rc & TPM2_RC_FMT1) {
                code = rc & (TPM2_RC_FMT1 | 0x3F);
                switch (code) {
                case TPM2_RC_INTEGRITY:
                        return -EBADMSG;
                case TPM2_RC_POLICY_FAIL:
                case TPM2_RC_AUTH_FAIL:
                case TPM2_RC_BAD_AUTH:
                case TPM2_RC_EXPIRED:
                        return -EPERM;
                case TPM2_RC_HANDLE:
                        return -ENOENT;
                case TPM2_RC_VALUE:
                case TPM2_RC_SIZE:
                case TPM2_RC_KEY_SIZE:
                case TPM2_RC_RANGE:
                case TPM2_RC_SELECTOR:
                case TPM2_RC_TYPE:
                case TPM2_RC_KEY:
                case TPM2_RC_ATTRIBUTES:
                case TPM2_RC_SCHEME:
                case TPM2_RC_HASH:
                case TPM2_RC_CURVE:
                case TPM2_RC_ASYMMETRIC:
                        return -EINVAL;
                default:
                        return -EIO;
                }
        }

        code = rc & 0xFFF;
        switch (code) {
        case TPM2_RC_RETRY:
        case TPM2_RC_YIELDED:
        case TPM2_RC_TESTING:
        case TPM2_RC_CANCELED:
                return -EAGAIN;
        case TPM2_RC_LOCKOUT:
                return -EBUSY;
        case TPM2_RC_NV_SPACE:
        case TPM2_RC_OBJECT_MEMORY:
        case TPM2_RC_SESSION_MEMORY:
        case TPM2_RC_MEMORY:
        case TPM2_RC_NV_RATE:
                return -ENOSPC;
        case TPM2_RC_NV_DEFINED:
                return -EEXIST;
        case TPM2_RC_NV_UNINITIALIZED:
                return -ENODATA;
        case TPM2_RC_NV_LOCKED:
        case TPM2_RC_NV_AUTHORIZATION:
        case TPM2_RC_POLICY:
        case TPM2_RC_AUTH_MISSING:
        case TPM2_RC_AUTH_UNAVAILABLE:
                return -EPERM;
        case TPM2_RC_PCR_CHANGED:
                return -ESTALE;
        default:
                return -EIO;
        }
}

int tpm2_check(Tpm2Context *c, TSS2_RC rc, const char *what) {
        c->n_commands++;
        c->last_rc = rc;
        if (rc == TSS2_RC_SUCCESS)
                return 0;
        snprintf(c->last_error, sizeof(c->last_error), "%s: %s (0x%x)", what, Tss2_RC_Decode(rc), (unsigned) rc);
        log_debug("%s", c->last_error);
        return tpm2_rc_to_errno(rc);
}

const char *tpm2_last_error(const Tpm2Context *c) {
        return c->last_error[0] ? c->last_error : "no TPM error";
}

int tpm2_context_new(const char *tcti, Tpm2Context **ret) {
        _cleanup_free_ char *module = NULL, *conf = NULL;
        _cleanup_(tpm2_context_freep) Tpm2Context *c = NULL;
        TSS2_RC rc;
        int r;

        r = tpm2_tcti_parse(tcti, &module, &conf);
        if (r < 0)
                return r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;

        rc = Tss2_TctiLdr_Initialize_Ex(module, conf, &c->tcti);
        if (rc != TSS2_RC_SUCCESS) {
                /* Not counted as a TPM command: nothing reached the TPM. */
                snprintf(c->last_error, sizeof(c->last_error), "TCTI %s: %s", module, Tss2_RC_Decode(rc));
                log_debug("%s", c->last_error);
                return -ENODEV;
        }

        /* No Startup here: the firmware, the kernel or swtpm's flags started the TPM already, and where
         * nobody did, the first command finds out (tpm2-startup.h). */
        r = tpm2_startup_tcti_new(c->tcti, &c->n_commands, &c->startup);
        if (r < 0)
                return r;

        rc = Esys_Initialize(&c->esys, c->startup, NULL);
        if (rc != TSS2_RC_SUCCESS) {
                log_debug("Esys_Initialize: %s", Tss2_RC_Decode(rc));
                return -ENODEV;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

Tpm2Context *tpm2_context_free(Tpm2Context *c) {
        if (!c)
                return NULL;
        if (c->esys)
                Esys_Finalize(&c->esys);
        c->startup = tpm2_startup_tcti_free(c->startup);
        if (c->tcti)
                Tss2_TctiLdr_Finalize(&c->tcti);
        free(c);
        return NULL;
}

bool tpm2_is_responsive(Tpm2Context *c) {
        _cleanup_free_ TPM2B_DIGEST *random = NULL;

        /* A TPM in failure mode answers only GetTestResult and GetCapability. */
        return tpm2_check(c, Esys_GetRandom(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, 1, &random),
                          "Esys_GetRandom") >= 0;
}

int tpm2_handle_new(Tpm2Context *c, ESYS_TR tr, bool flush, Tpm2Handle **ret) {
        Tpm2Handle *h;

        h = malloc(sizeof(*h));
        if (!h)
                return -ENOMEM;
        *h = (Tpm2Handle) { .context = c, .tr = tr, .flush = flush };
        *ret = h;
        return 0;
}

Tpm2Handle *tpm2_handle_free(Tpm2Handle *h) {
        if (!h)
                return NULL;
        if (h->tr != ESYS_TR_NONE) {
                if (h->flush)
                        (void) tpm2_check(h->context, Esys_FlushContext(h->context->esys, h->tr), "Esys_FlushContext");
                else
                        (void) Esys_TR_Close(h->context->esys, &h->tr);
        }
        free(h);
        return NULL;
}

int tpm2_handle_from_tpm(Tpm2Context *c, TPM2_HANDLE handle, Tpm2Handle **ret) {
        ESYS_TR tr = ESYS_TR_NONE;
        int r;

        r = tpm2_check(c, Esys_TR_FromTPMPublic(c->esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr),
                       "Esys_TR_FromTPMPublic");
        if (r < 0)
                return r;
        r = tpm2_handle_new(c, tr, /* flush= */ false, ret);
        if (r < 0)
                (void) Esys_TR_Close(c->esys, &tr);
        return r;
}

/* ESAPI's record of a handle: TPM handle, name, resource type, then the public area of that type; the
 * same bytes tpm2-tools saves as a ".tr" file. */
static int handle_serialized_public(const Tpm2Handle *h, uint32_t type, TPM2B_PUBLIC *ret_public,
                                    TPM2B_NV_PUBLIC *ret_nv_public) {
        _cleanup_free_ uint8_t *buf = NULL;
        TPM2B_NAME name;
        TPM2_HANDLE handle;
        uint32_t rsrc_type;
        size_t size = 0, off = 0;
        TSS2_RC rc;

        if (!h || h->tr == ESYS_TR_NONE)
                return -EINVAL;
        rc = Esys_TR_Serialize(h->context->esys, h->tr, &buf, &size);
        if (rc != TSS2_RC_SUCCESS)
                return tpm2_rc_to_errno(rc);
        rc = Tss2_MU_TPM2_HANDLE_Unmarshal(buf, size, &off, &handle);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_TPM2B_NAME_Unmarshal(buf, size, &off, &name);
        if (rc == TSS2_RC_SUCCESS)
                rc = Tss2_MU_UINT32_Unmarshal(buf, size, &off, &rsrc_type);
        if (rc != TSS2_RC_SUCCESS)
                return -EBADMSG;
        if (rsrc_type != type)
                return -EINVAL;
        if (type == IESYS_KEY_RSRC)
                rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, size, &off, ret_public);
        else
                rc = Tss2_MU_TPM2B_NV_PUBLIC_Unmarshal(buf, size, &off, ret_nv_public);
        return rc == TSS2_RC_SUCCESS ? 0 : -EBADMSG;
}

int tpm2_handle_public(const Tpm2Handle *h, TPM2B_PUBLIC *ret) {
        TPM2B_PUBLIC p = {};
        int r = handle_serialized_public(h, IESYS_KEY_RSRC, &p, NULL);

        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

int tpm2_handle_nv_public(const Tpm2Handle *h, TPM2B_NV_PUBLIC *ret) {
        TPM2B_NV_PUBLIC p = {};
        int r = handle_serialized_public(h, IESYS_NV_RSRC, NULL, &p);

        if (r < 0)
                return r;
        *ret = p;
        return 0;
}

void tpm2_session_consumed(Tpm2Handle *h) {
        if (!h || h->tr == ESYS_TR_NONE)
                return;
        (void) Esys_TR_Close(h->context->esys, &h->tr);
        h->tr = ESYS_TR_NONE;
}

int tpm2_handles_present(Tpm2Context *c, TPM2_HANDLE first, unsigned n, uint64_t *ret) {
        _cleanup_free_ TPMS_CAPABILITY_DATA *data = NULL;
        TPMI_YES_NO more = TPM2_NO;
        uint64_t mask = 0;
        uint32_t count;
        int r;

        if (n == 0 || n > 64)
                return -EINVAL;
        r = tpm2_check(c, Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                             first, n, &more, &data),
                       "Esys_GetCapability");
        if (r < 0)
                return r;
        if (data->capability != TPM2_CAP_HANDLES)
                return -EBADMSG;
        /* Ascending, from first on, at most n: fewer with more set means the TPM cut the list short. */
        count = MIN(data->data.handles.count, (uint32_t) TPM2_MAX_CAP_HANDLES);
        if (more && count < n)
                return -EAGAIN;
        for (uint32_t i = 0; i < count; i++) {
                TPM2_HANDLE h = data->data.handles.handle[i];
                if (h >= first && h - first < n)
                        mask |= UINT64_C(1) << (h - first);
        }
        *ret = mask;
        return 0;
}

int tpm2_nv_read_all(Tpm2Context *c, TPM2_HANDLE index, size_t max_size, uint8_t **ret, size_t *ret_size,
                     TPM2B_NV_PUBLIC *ret_public) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *nv = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        TPM2B_NV_PUBLIC pub;
        uint32_t chunk_max = NV_CHUNK;
        TPMA_NV attrs;
        ESYS_TR auth;
        size_t size;
        int r;

        r = tpm2_handle_from_tpm(c, index, &nv);
        if (r < 0)
                return r;
        /* The public area that lookup read already: a second NV_ReadPublic would only repeat it. */
        r = tpm2_handle_nv_public(nv, &pub);
        if (r < 0)
                return r;

        attrs = pub.nvPublic.attributes;
        size = pub.nvPublic.dataSize;
        if (!(attrs & TPMA_NV_WRITTEN))
                return -ENODATA;
        if (size > max_size)
                return -E2BIG;
        if (attrs & TPMA_NV_AUTHREAD)
                auth = nv->tr;
        else if (attrs & TPMA_NV_OWNERREAD)
                auth = ESYS_TR_RH_OWNER;
        else
                return -EACCES;

        if (size > NV_CHUNK) {
                (void) tpm2_get_property(c, TPM2_PT_NV_BUFFER_MAX, &chunk_max);
                chunk_max = MIN(MAX(chunk_max, NV_CHUNK), (uint32_t) sizeof(((TPM2B_MAX_NV_BUFFER *) NULL)->buffer));
        }

        buf = malloc(MAX(size, (size_t) 1));
        if (!buf)
                return -ENOMEM;

        for (size_t off = 0; off < size;) {
                _cleanup_free_ TPM2B_MAX_NV_BUFFER *chunk = NULL;
                uint16_t want = (uint16_t) MIN(size - off, (size_t) chunk_max);

                r = tpm2_check(c, Esys_NV_Read(c->esys, auth, nv->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                               want, (uint16_t) off, &chunk),
                               "Esys_NV_Read");
                if (r < 0)
                        return r;
                if (chunk->size == 0 || chunk->size > want)
                        return -EBADMSG;
                memcpy(buf + off, chunk->buffer, chunk->size);
                off += chunk->size;
        }

        *ret = TAKE_PTR(buf);
        *ret_size = size;
        if (ret_public)
                *ret_public = pub;
        return 0;
}

int tpm2_start_endorsement_policy_session(Tpm2Context *c, ESYS_TR salt_key, TPMA_SESSION attributes,
                                          Tpm2Handle **ret) {
        static const TPMT_SYM_DEF sym = {
                .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB,
        };
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        ESYS_TR session = ESYS_TR_NONE;
        int r;

        r = tpm2_check(c, Esys_StartAuthSession(c->esys, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                                ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session),
                       "Esys_StartAuthSession");
        if (r < 0)
                return r;
        r = tpm2_handle_new(c, session, /* flush= */ true, &h);
        if (r < 0) {
                (void) Esys_FlushContext(c->esys, session);
                return r;
        }

        r = tpm2_check(c, Esys_PolicySecret(c->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                            ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL),
                       "Esys_PolicySecret");
        if (r < 0)
                return r;

        /* Not a TPM command: ESAPI keeps the attributes for the command the session authorizes. */
        if (Esys_TRSess_SetAttributes(c->esys, session, attributes, 0xff) != TSS2_RC_SUCCESS)
                return -EINVAL;
        *ret = TAKE_PTR(h);
        return 0;
}

int tpm2_pcr_read(Tpm2Context *c, TPMI_ALG_HASH bank, uint32_t mask, TPM2B_DIGEST ret[static TPM2_PCRS_MAX]) {
        uint32_t todo = mask;
        int r;

        if (mask == 0 || (mask >> TPM2_PCRS_MAX) != 0)
                return -EINVAL;
        /* PCR_Read returns at most 8 digests per call, and says which it returned. */
        while (todo != 0) {
                _cleanup_free_ TPML_PCR_SELECTION *out_sel = NULL;
                _cleanup_free_ TPML_DIGEST *values = NULL;
                TPML_PCR_SELECTION sel;
                uint32_t got = 0;
                unsigned n = 0;

                tpm2_pcr_selection_from_mask(bank, todo, &sel);
                r = tpm2_check(c, Esys_PCR_Read(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL, &out_sel,
                                                &values),
                               "Esys_PCR_Read");
                if (r < 0)
                        return r;

                for (unsigned i = 0; i < out_sel->count; i++) {
                        const TPMS_PCR_SELECTION *s = &out_sel->pcrSelections[i];
                        if (s->hash != bank)
                                continue;
                        for (unsigned b = 0; b < TPM2_PCRS_MAX && b / 8 < s->sizeofSelect; b++)
                                if (s->pcrSelect[b / 8] & (1U << (b % 8)))
                                        got |= 1U << b;
                }
                if (got == 0 || (got & ~todo) != 0)
                        return -EOPNOTSUPP; /* bank not allocated */

                /* Digests come in ascending PCR order. */
                for (unsigned b = 0; b < TPM2_PCRS_MAX; b++) {
                        if (!(got & (1U << b)))
                                continue;
                        if (n >= values->count)
                                return -EBADMSG;
                        ret[__builtin_popcount(mask & ((1U << b) - 1))] = values->digests[n++];
                }
                todo &= ~got;
        }
        return 0;
}

void tpm2_pcr_selection_from_mask(TPMI_ALG_HASH bank, uint32_t mask, TPML_PCR_SELECTION *ret) {
        *ret = (TPML_PCR_SELECTION) {
                .count = 1,
                .pcrSelections[0] = {
                        .hash = bank,
                        .sizeofSelect = 3,
                        .pcrSelect = { mask & 0xFF, (mask >> 8) & 0xFF, (mask >> 16) & 0xFF },
                },
        };
}

static const struct {
        TPMI_ALG_HASH alg;
        const char *name;
        size_t size;
} hash_algs[] = {
        { TPM2_ALG_SHA1, "sha1", 20 },
        { TPM2_ALG_SHA256, "sha256", 32 },
        { TPM2_ALG_SHA384, "sha384", 48 },
        { TPM2_ALG_SHA512, "sha512", 64 },
};

int tpm2_hash_alg_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (s && streq(s, hash_algs[i].name))
                        return hash_algs[i].alg;
        return -EINVAL;
}

const char *tpm2_hash_alg_to_string(TPMI_ALG_HASH alg) {
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (hash_algs[i].alg == alg)
                        return hash_algs[i].name;
        return NULL;
}

size_t tpm2_hash_alg_digest_size(TPMI_ALG_HASH alg) {
        for (size_t i = 0; i < ELEMENTSOF(hash_algs); i++)
                if (hash_algs[i].alg == alg)
                        return hash_algs[i].size;
        return 0;
}

int tpm2_parse_pcr_list(const char *s, uint32_t *ret) {
        uint32_t mask = 0;
        const char *p = s;

        if (isempty(s))
                return -EINVAL;
        while (*p) {
                unsigned long a, b;
                char *end;

                if (*p < '0' || *p > '9')
                        return -EINVAL;
                a = strtoul(p, &end, 10);
                b = a;
                if (*end == '-') {
                        p = end + 1;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        b = strtoul(p, &end, 10);
                }
                if (a > 23 || b > 23 || b < a)
                        return -EINVAL;
                for (unsigned long i = a; i <= b; i++)
                        mask |= 1U << i;
                if (*end == ',')
                        end++;
                else if (*end != '\0')
                        return -EINVAL;
                p = end;
        }
        *ret = mask;
        return 0;
}
