/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd-pcrlock's policy file as keyd reads it (possibly restored from TPM NV): parsed strictly,
 * bounded, never a crash; what parses has a mask and digests that can be computed. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tpm2-pcrlock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Tpm2PcrlockPolicy *p = NULL;
        TPM2B_DIGEST d;
        TPM2B_NAME n;
        char *text;

        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        if (tpm2_pcrlock_policy_parse(text, &p) >= 0) {
                (void) tpm2_pcrlock_pcr_mask(p);
                (void) tpm2_pcrlock_nv_name(p, &n);
                (void) tpm2_pcrlock_auth_policy(p, &d);
                (void) tpm2_pcrlock_pcr_policy(p, &d);
                tpm2_pcrlock_policy_free(p);
        }
        free(text);
        return 0;
}
