/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "tpm2-nv.h"

/* The PT_FIXED group in one GetCapability: the TPM answers up to the properties it has (fewer than 64). */
static int read_fixed_properties(Tpm2Context *c) {
        _cleanup_free_ TPMS_CAPABILITY_DATA *data = NULL;
        TPMI_YES_NO more = TPM2_NO;
        int r;

        r = tpm2_check(c, Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                             TPM2_PT_FIXED, ELEMENTSOF(c->fixed), &more, &data),
                       "Esys_GetCapability");
        if (r < 0)
                return r;
        c->fixed_present = 0;
        for (uint32_t i = 0; i < data->data.tpmProperties.count && i < TPM2_MAX_TPM_PROPERTIES; i++) {
                const TPMS_TAGGED_PROPERTY *p = &data->data.tpmProperties.tpmProperty[i];

                if (p->property < TPM2_PT_FIXED || p->property - TPM2_PT_FIXED >= ELEMENTSOF(c->fixed))
                        continue;
                c->fixed[p->property - TPM2_PT_FIXED] = p->value;
                c->fixed_present |= UINT64_C(1) << (p->property - TPM2_PT_FIXED);
        }
        c->fixed_more = more;
        c->fixed_read = true;
        return 0;
}

static int get_property_uncached(Tpm2Context *c, TPM2_PT property, uint32_t *ret) {
        _cleanup_free_ TPMS_CAPABILITY_DATA *data = NULL;
        TPMI_YES_NO more;
        int r;

        r = tpm2_check(c, Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                             property, 1, &more, &data),
                       "Esys_GetCapability");
        if (r < 0)
                return r;
        if (data->data.tpmProperties.count < 1 || data->data.tpmProperties.tpmProperty[0].property != property)
                return -EOPNOTSUPP;
        *ret = data->data.tpmProperties.tpmProperty[0].value;
        return 0;
}

int tpm2_get_property(Tpm2Context *c, TPM2_PT property, uint32_t *ret) {
        uint32_t i = property - TPM2_PT_FIXED;
        int r;

        if (property < TPM2_PT_FIXED || i >= ELEMENTSOF(c->fixed))
                return get_property_uncached(c, property, ret);
        /* Fixed: they do not change while the TPM runs, so one read serves the whole context. */
        if (!c->fixed_read) {
                r = read_fixed_properties(c);
                if (r < 0)
                        return r;
        }
        if (c->fixed_present & (UINT64_C(1) << i)) {
                *ret = c->fixed[i];
                return 0;
        }
        /* Not in the answer: either the TPM has no such property, or it cut the list short. */
        return c->fixed_more ? get_property_uncached(c, property, ret) : -EOPNOTSUPP;
}

int tpm2_da_state(Tpm2Context *c, Tpm2DaState *ret) {
        _cleanup_free_ TPMS_CAPABILITY_DATA *data = NULL;
        Tpm2DaState s = {};
        unsigned found = 0;
        TPMI_YES_NO more;
        int r;

        /* One command: the properties from TPM2_PT_PERMANENT to TPM2_PT_LOCKOUT_RECOVERY. */
        r = tpm2_check(c, Esys_GetCapability(c->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                             TPM2_PT_PERMANENT, TPM2_PT_LOCKOUT_RECOVERY - TPM2_PT_PERMANENT + 1, &more,
                                             &data),
                       "Esys_GetCapability");
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < data->data.tpmProperties.count && i < TPM2_MAX_TPM_PROPERTIES; i++) {
                const TPMS_TAGGED_PROPERTY *p = &data->data.tpmProperties.tpmProperty[i];

                switch (p->property) {
                case TPM2_PT_PERMANENT:
                        s.in_lockout = p->value & TPMA_PERMANENT_INLOCKOUT;
                        break;
                case TPM2_PT_LOCKOUT_COUNTER:
                        s.failed_tries = p->value;
                        break;
                case TPM2_PT_MAX_AUTH_FAIL:
                        s.max_tries = p->value;
                        break;
                case TPM2_PT_LOCKOUT_INTERVAL:
                        s.recovery_interval_sec = p->value;
                        break;
                case TPM2_PT_LOCKOUT_RECOVERY:
                        s.lockout_recovery_sec = p->value;
                        break;
                default:
                        continue;
                }
                found++;
        }
        if (found != 5)
                return -EOPNOTSUPP;
        *ret = s;
        return 0;
}

int tpm2_nv_define(Tpm2Context *c, TPM2_HANDLE index, size_t size) {
        return tpm2_nv_define_with_policy(c, index, size, TPMA_NV_OWNERWRITE | TPMA_NV_OWNERREAD | TPMA_NV_NO_DA,
                                          /* auth_policy= */ NULL);
}

int tpm2_nv_define_with_policy(Tpm2Context *c, TPM2_HANDLE index, size_t size, TPMA_NV attributes,
                               const TPM2B_DIGEST *auth_policy) {
        TPM2B_NV_PUBLIC pub = {
                .nvPublic = {
                        .nvIndex = index,
                        .nameAlg = TPM2_ALG_SHA256,
                        .attributes = attributes,
                        .dataSize = (uint16_t) size,
                },
        };
        ESYS_TR tr = ESYS_TR_NONE;
        int r;

        if (size == 0 || size > UINT16_MAX)
                return -EINVAL;
        if (auth_policy)
                pub.nvPublic.authPolicy = *auth_policy;
        r = tpm2_check(c, Esys_NV_DefineSpace(c->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                              NULL, &pub, &tr),
                       "Esys_NV_DefineSpace");
        if (r < 0)
                return r;
        (void) Esys_TR_Close(c->esys, &tr);
        return 0;
}

int tpm2_nv_undefine(Tpm2Context *c, TPM2_HANDLE index) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        int r;

        r = tpm2_handle_from_tpm(c, index, &h);
        if (r < 0)
                return r;
        r = tpm2_check(c, Esys_NV_UndefineSpace(c->esys, ESYS_TR_RH_OWNER, h->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                ESYS_TR_NONE),
                       "Esys_NV_UndefineSpace");
        if (r < 0)
                return r;
        h->tr = ESYS_TR_NONE; /* gone with the index */
        return 0;
}

int tpm2_nv_public(Tpm2Context *c, TPM2_HANDLE index, TPM2B_NV_PUBLIC *ret) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        int r;

        /* The lookup reads the public area (NV_ReadPublic) already. */
        r = tpm2_handle_from_tpm(c, index, &h);
        if (r < 0)
                return r;
        return tpm2_handle_nv_public(h, ret);
}

int tpm2_nv_size(Tpm2Context *c, TPM2_HANDLE index, size_t *ret) {
        TPM2B_NV_PUBLIC pub;
        int r;

        r = tpm2_nv_public(c, index, &pub);
        if (r < 0)
                return r;
        *ret = pub.nvPublic.dataSize;
        return 0;
}

int tpm2_nv_write_all(Tpm2Context *c, TPM2_HANDLE index, const void *data, size_t size) {
        _cleanup_(tpm2_handle_freep) Tpm2Handle *h = NULL;
        uint32_t chunk_max = 512;
        int r;

        (void) tpm2_get_property(c, TPM2_PT_NV_BUFFER_MAX, &chunk_max);
        chunk_max = MIN(MAX(chunk_max, 64U), (uint32_t) sizeof(((TPM2B_MAX_NV_BUFFER *) NULL)->buffer));

        r = tpm2_handle_from_tpm(c, index, &h);
        if (r < 0)
                return r;
        for (size_t off = 0; off < size;) {
                TPM2B_MAX_NV_BUFFER buf = { .size = (uint16_t) MIN(size - off, (size_t) chunk_max) };

                memcpy(buf.buffer, (const uint8_t *) data + off, buf.size);
                r = tpm2_check(c, Esys_NV_Write(c->esys, ESYS_TR_RH_OWNER, h->tr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                                ESYS_TR_NONE, &buf, (uint16_t) off),
                               "Esys_NV_Write");
                if (r < 0)
                        return r;
                off += buf.size;
        }
        return 0;
}
