/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "hexdecoct.h"
#include "identity.h"
#include "macro.h"
#include "tpm2-marshal.h"

int patela_identity_fingerprint(const TPMT_PUBLIC *ek, const TPMT_PUBLIC *ak, char **ret) {
        static const char label[] = "patela-identity-v1";
        uint8_t buf[sizeof(label) + 2 * sizeof(TPMU_NAME)], digest[64];
        _cleanup_free_ char *b32 = NULL;
        TPM2B_NAME ek_name, ak_name;
        size_t n = 0, dsize;
        char *s;
        int r;

        r = tpm2_public_name(ek, &ek_name);
        if (r < 0)
                return r;
        r = tpm2_public_name(ak, &ak_name);
        if (r < 0)
                return r;

        memcpy(buf, label, sizeof(label)); /* including the NUL: a domain separator */
        n += sizeof(label);
        memcpy(buf + n, ek_name.name, ek_name.size);
        n += ek_name.size;
        memcpy(buf + n, ak_name.name, ak_name.size);
        n += ak_name.size;

        r = tpm2_digest(TPM2_ALG_SHA256, buf, n, digest, &dsize);
        if (r < 0)
                return r;

        b32 = base32mem(digest, 10); /* 80 bits → 16 characters */
        if (!b32)
                return -ENOMEM;

        s = malloc(PATELA_FINGERPRINT_LEN + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0, k = 0; i < 16; i++) {
                if (i > 0 && i % 4 == 0)
                        s[k++] = '-';
                s[k++] = b32[i];
        }
        s[PATELA_FINGERPRINT_LEN] = '\0';
        *ret = s;
        return 0;
}
