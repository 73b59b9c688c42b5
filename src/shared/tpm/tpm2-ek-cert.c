/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "tpm2-credential.h"
#include "tpm2-ek-cert.h"

/* A DER tag and length at p (at most avail bytes): the length of the header and of the content. Definite
 * lengths of at most four bytes only. */
static int der_header(const uint8_t *p, size_t avail, uint8_t *ret_tag, size_t *ret_header, size_t *ret_length) {
        size_t n, length = 0;

        if (avail < 2)
                return -EBADMSG;
        if (p[1] < 0x80) {
                *ret_tag = p[0];
                *ret_header = 2;
                *ret_length = p[1];
                return 0;
        }
        n = p[1] & 0x7f;
        if (n == 0 || n > 4 || avail < 2 + n)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++)
                length = length << 8 | p[2 + i];
        *ret_tag = p[0];
        *ret_header = 2 + n;
        *ret_length = length;
        return 0;
}

int ek_certificate_der(const uint8_t *data, size_t size, const uint8_t **ret, size_t *ret_size) {
        size_t header, length;
        uint8_t tag;
        int r;

        /* The TCG's NV header: tag 0x1001 and the certificate's size, big endian. */
        if (size >= 4 && ((size_t) data[0] << 8 | data[1]) == EK_CERTIFICATE_TAG) {
                size_t declared = (size_t) data[2] << 8 | data[3];

                if (declared > size - 4)
                        return -EBADMSG;
                data += 4;
                size = declared;
        }
        r = der_header(data, size, &tag, &header, &length);
        if (r < 0)
                return r;
        /* A DER certificate wrapped in an OCTET STRING. */
        if (tag == 0x04) {
                if (length > size - header)
                        return -EBADMSG;
                data += header;
                size = length;
                r = der_header(data, size, &tag, &header, &length);
                if (r < 0)
                        return r;
        }
        if (tag != 0x30 || length > size - header)
                return -EBADMSG;
        /* What follows the certificate may only be the NV index's padding. */
        for (size_t i = header + length; i < size; i++)
                if (data[i] != 0xff && data[i] != 0x00)
                        return -EBADMSG;
        *ret = data;
        *ret_size = header + length;
        return 0;
}

static int load_file(X509_STORE *store, const char *path, unsigned *n) {
        BIO *bio = BIO_new_file(path, "r");
        X509 *x;
        unsigned before = *n;

        if (!bio)
                return -EIO;
        while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
                /* The same certificate twice is harmless. */
                if (X509_STORE_add_cert(store, x) == 1)
                        (*n)++;
                X509_free(x);
        }
        ERR_clear_error();
        BIO_free(bio);
        return *n > before ? 0 : -EBADMSG;
}

int ek_roots_load(const char *directory, X509_STORE **ret, unsigned *ret_n) {
        X509_STORE *store;
        struct dirent **list = NULL;
        unsigned n = 0;
        int k, r = 0;

        k = scandir(directory, &list, NULL, alphasort);
        if (k < 0)
                return errno == ENOENT ? -ENOENT : -errno;
        store = X509_STORE_new();
        if (!store)
                r = -ENOMEM;
        for (int i = 0; i < k; i++) {
                const char *name = list[i]->d_name;
                size_t l = strlen(name);
                _cleanup_free_ char *path = NULL;

                if (r >= 0 && l > 4 && (streq(name + l - 4, ".pem") || streq(name + l - 4, ".crt"))) {
                        if (asprintf(&path, "%s/%s", directory, name) < 0)
                                r = -ENOMEM;
                        else if (load_file(store, path, &n) < 0)
                                r = -EBADMSG;
                }
                free(list[i]);
        }
        free(list);
        if (r < 0) {
                X509_STORE_free(store);
                return r;
        }
        *ret = store;
        *ret_n = n;
        return 0;
}

/* TCG extensions OpenSSL does not know may be critical in an EK certificate (the profile puts the TPM's
 * manufacturer, model and version in a critical SAN, which OpenSSL parses, and allows others): tolerated on
 * the EK certificate itself, never on a CA. */
static int verify_callback(int ok, X509_STORE_CTX *ctx) {
        if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION &&
            X509_STORE_CTX_get_error_depth(ctx) == 0)
                return 1;
        return ok;
}

static bool has_ek_eku(X509 *x, bool *ret_has_eku) {
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
        ASN1_OBJECT *want = OBJ_txt2obj(EK_CERTIFICATE_EKU_OID, /* no_name= */ 1);
        bool found = false;

        *ret_has_eku = eku != NULL;
        for (int i = 0; eku && want && i < sk_ASN1_OBJECT_num(eku); i++)
                if (OBJ_cmp(sk_ASN1_OBJECT_value(eku, i), want) == 0)
                        found = true;
        ASN1_OBJECT_free(want);
        EXTENDED_KEY_USAGE_free(eku);
        return found;
}

int ek_certificate_verify(const uint8_t *data, size_t size, const TPMT_PUBLIC *ek, X509_STORE *roots,
                          char **ret_issuer, char *reason, size_t reason_size) {
        const uint8_t *der, *p;
        size_t der_size;
        X509 *x = NULL;
        X509_STORE_CTX *ctx = NULL;
        EVP_PKEY *ek_key = NULL;
        bool has_eku;
        char *issuer = NULL;
        int r;

        snprintf(reason, reason_size, "%s", "");
        r = ek_certificate_der(data, size, &der, &der_size);
        if (r < 0) {
                snprintf(reason, reason_size, "no DER certificate in the %zu bytes", size);
                return r;
        }
        p = der;
        x = d2i_X509(NULL, &p, (long) der_size);
        if (!x || (size_t) (p - der) != der_size) {
                snprintf(reason, reason_size, "the DER does not parse as one X.509 certificate");
                r = -EBADMSG;
                goto finish;
        }
        r = tpm2_public_to_evp_pkey(ek, &ek_key);
        if (r < 0) {
                snprintf(reason, reason_size, "the EK's public area has no usable key");
                goto finish;
        }
        if (EVP_PKEY_eq(X509_get0_pubkey(x), ek_key) != 1) {
                snprintf(reason, reason_size, "the certificate's key is not this EK's");
                r = -EXDEV;
                goto finish;
        }
        if (!has_ek_eku(x, &has_eku) && has_eku) {
                snprintf(reason, reason_size, "its extended key usage lacks tcg-kp-EKCertificate (%s)",
                         EK_CERTIFICATE_EKU_OID);
                r = -EPERM;
                goto finish;
        }

        ctx = X509_STORE_CTX_new();
        if (!ctx || X509_STORE_CTX_init(ctx, roots, x, NULL) != 1) {
                r = -ENOMEM;
                goto finish;
        }
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_NO_CHECK_TIME);
        X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
        if (X509_verify_cert(ctx) != 1) {
                snprintf(reason, reason_size, "no chain to the EK roots: %s",
                         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
                r = -EKEYREJECTED;
                goto finish;
        }
        if (ret_issuer) {
                char *name = X509_NAME_oneline(X509_get_issuer_name(x), NULL, 0);

                issuer = name ? strdup(name) : NULL;
                OPENSSL_free(name);
                if (!issuer) {
                        r = -ENOMEM;
                        goto finish;
                }
                *ret_issuer = issuer;
        }
        r = 0;
finish:
        ERR_clear_error();
        X509_STORE_CTX_free(ctx);
        EVP_PKEY_free(ek_key);
        X509_free(x);
        return r;
}
