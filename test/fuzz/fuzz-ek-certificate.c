/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a node sends as its EK certificate: the lenient extraction of the DER (NV header, padding, OCTET
 * STRING), OpenSSL's parse of it, and the verification against an EK and an empty store. */
#include <openssl/x509.h>

#include "fuzz.h"
#include "tpm2-ek-cert.h"
#include "tpm2-templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const uint8_t *der, *p;
        size_t der_size;
        X509_STORE *store = X509_STORE_new();
        TPM2B_PUBLIC ek = {};
        char reason[256];
        X509 *x;

        if (ek_certificate_der(data, size, &der, &der_size) >= 0) {
                p = der;
                x = d2i_X509(NULL, &p, (long) der_size);
                X509_free(x);
        }
        /* An RSA-2048 EK public area of the TCG template with a zero modulus: parsed, never matched. */
        tpm2_ek_template(TPM2_KEY_RSA2048, &ek);
        /* The template's unique field is zeros: the key never matches, the parse and checks run. */
        if (store)
                (void) ek_certificate_verify(data, size, &ek.publicArea, store, NULL, reason, sizeof(reason));
        X509_STORE_free(store);
        return 0;
}
