/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdlib.h>

#include "identity.h"
#include "tests.h"
#include "tpm2-templates.h"

TEST(fingerprint_format_and_sensitivity) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        TPM2B_PUBLIC ek, ak;

        tpm2_ek_template(TPM2_KEY_RSA2048, &ek);
        tpm2_ak_template(TPM2_KEY_ECC_P256, &ak);
        ASSERT_OK(patela_identity_fingerprint(&ek.publicArea, &ak.publicArea, &a));
        ASSERT_EQ(strlen(a), PATELA_FINGERPRINT_LEN);
        for (size_t i = 0; i < PATELA_FINGERPRINT_LEN; i++) {
                if (i % 5 == 4)
                        ASSERT_EQ(a[i], '-');
                else
                        ASSERT_TRUE(isdigit((unsigned char) a[i]) || isupper((unsigned char) a[i]));
        }

        /* Same input, same fingerprint. */
        ASSERT_OK(patela_identity_fingerprint(&ek.publicArea, &ak.publicArea, &b));
        ASSERT_STREQ(a, b);

        /* One bit of the EK's unique field (another TPM) changes it. */
        ek.publicArea.unique.rsa.buffer[100] ^= 1;
        ASSERT_OK(patela_identity_fingerprint(&ek.publicArea, &ak.publicArea, &c));
        ASSERT_FALSE(streq(a, c));
}

DEFINE_TEST_MAIN
