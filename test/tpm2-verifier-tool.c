/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verifier side of the TPM protocol (src/shared/tpm/tpm2-credential.c, tpm2-quote.c, tpm2-software.c) on
 * files, for the shell tests that hold it against swtpm and tpm2-tools. Not installed.
 *
 *   make-credential EK_PUB NAME_HEX SECRET_FILE OUT_ID OUT_SECRET
 *   verify-quote AK_PUB ATTEST SIG NONCE_HEX BANK PCRLIST VALUES_FILE
 *   software-quote TYPE OUT_AK_PUB OUT_ATTEST OUT_SIG NONCE_HEX BANK PCRLIST VALUES_FILE
 *   software-ek TYPE OUT_EK_PUB OUT_EK_PEM
 *   software-activate EK_PEM TYPE NAME_HEX ID SECRET OUT_FILE
 *
 * *_PUB are marshalled TPM2B_PUBLIC, ID a TPM2B_ID_OBJECT, SECRET a TPM2B_ENCRYPTED_SECRET, ATTEST a
 * marshalled TPMS_ATTEST, SIG a TPMT_SIGNATURE, VALUES_FILE the PCR values concatenated in ascending PCR
 * order, PCRLIST e.g. "0,7,16", TYPE rsa2048 or ecc-p256. A failure prints the errno's name. */
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "string-util.h"
#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-software.h"
#include "tpm2-util.h"

#define FILE_MAX (64U * 1024U)

static int fail(const char *verb, int r, const char *what) {
        fprintf(stderr, "%s: %s: %s (%s)\n", verb, what, strerrorname_np(-r) ?: "?", strerror(-r));
        return EXIT_FAILURE;
}

static int write_file(const char *path, const void *p, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                return negative_errno();
        if (fwrite(p, 1, size, f) != size || fflush(f) != 0)
                return -EIO;
        return 0;
}

#define DEFINE_READ_STRUCT(type)                                                                    \
        static int read_##type(const char *path, type *ret) {                                       \
                _cleanup_free_ void *buf = NULL;                                                    \
                size_t size;                                                                        \
                int r = read_full_file(path, FILE_MAX, &buf, &size);                                \
                return r < 0 ? r : tpm2_unmarshal_##type(buf, size, ret);                           \
        }                                                                                           \
        static int write_##type(const char *path, const type *v) {                                  \
                _cleanup_free_ uint8_t *buf = NULL;                                                 \
                size_t size;                                                                        \
                int r = tpm2_marshal_##type(v, &buf, &size);                                        \
                return r < 0 ? r : write_file(path, buf, size);                                     \
        }

DEFINE_READ_STRUCT(TPM2B_PUBLIC)
DEFINE_READ_STRUCT(TPM2B_ID_OBJECT)
DEFINE_READ_STRUCT(TPM2B_ENCRYPTED_SECRET)
DEFINE_READ_STRUCT(TPMT_SIGNATURE)

static int parse_name(const char *hex, TPM2B_NAME *ret) {
        _cleanup_free_ void *buf = NULL;
        size_t size;
        int r = unhexmem(hex, sizeof(ret->name), &buf, &size);

        if (r < 0)
                return r;
        ret->size = (uint16_t) size;
        memcpy(ret->name, buf, size);
        return 0;
}

static int parse_pcr_list(const char *s, uint32_t *ret) {
        _cleanup_free_ char *copy = strdup(s);
        uint32_t mask = 0;
        char *state = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &state); w; w = strtok_r(NULL, ",", &state)) {
                unsigned long long i;
                if (safe_atou64(w, TPM2_PCRS_MAX - 1, &i) < 0)
                        return -EINVAL;
                mask |= 1U << i;
        }
        if (mask == 0)
                return -EINVAL;
        *ret = mask;
        return 0;
}

/* BANK PCRLIST VALUES_FILE → mask and values. */
static int parse_pcrs(const char *bank_s, const char *list, const char *values_path, TPMI_ALG_HASH *ret_bank,
                      uint32_t *ret_mask, TPM2B_DIGEST *values, size_t *ret_n) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size, dsize, n;
        int bank, r;

        bank = tpm2_hash_alg_from_string(bank_s);
        if (bank < 0)
                return bank;
        r = parse_pcr_list(list, ret_mask);
        if (r < 0)
                return r;
        r = read_full_file(values_path, FILE_MAX, (void **) &buf, &size);
        if (r < 0)
                return r;
        dsize = tpm2_hash_alg_digest_size((TPMI_ALG_HASH) bank);
        n = (size_t) __builtin_popcount(*ret_mask);
        if (size != n * dsize)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                values[i].size = (uint16_t) dsize;
                memcpy(values[i].buffer, buf + i * dsize, dsize);
        }
        *ret_bank = (TPMI_ALG_HASH) bank;
        *ret_n = n;
        return 0;
}

static int verb_make_credential(int argc, char *argv[]) {
        _cleanup_free_ void *secret = NULL;
        TPM2B_ENCRYPTED_SECRET es;
        TPM2B_ID_OBJECT blob;
        TPM2B_PUBLIC ek;
        TPM2B_NAME name;
        size_t size;
        int r;

        if (argc != 6)
                return fail(argv[0], -EINVAL, "wrong number of arguments");
        if ((r = read_TPM2B_PUBLIC(argv[1], &ek)) < 0)
                return fail(argv[0], r, argv[1]);
        if ((r = parse_name(argv[2], &name)) < 0)
                return fail(argv[0], r, argv[2]);
        if ((r = read_full_file(argv[3], TPM2_CREDENTIAL_SECRET_MAX + 1, &secret, &size)) < 0)
                return fail(argv[0], r, argv[3]);
        if ((r = tpm2_make_credential(&ek, &name, secret, size, &blob, &es)) < 0)
                return fail(argv[0], r, "tpm2_make_credential");
        if ((r = write_TPM2B_ID_OBJECT(argv[4], &blob)) < 0 ||
            (r = write_TPM2B_ENCRYPTED_SECRET(argv[5], &es)) < 0)
                return fail(argv[0], r, "writing the output");
        return EXIT_SUCCESS;
}

static int verb_verify_quote(int argc, char *argv[]) {
        _cleanup_free_ void *attest = NULL, *nonce = NULL;
        _cleanup_free_ char *qs = NULL;
        TPM2B_DIGEST values[TPM2_PCRS_MAX];
        size_t attest_size, nonce_size, n;
        TPMT_SIGNATURE sig;
        TPMI_ALG_HASH bank;
        TPM2B_PUBLIC ak;
        TPMS_ATTEST a;
        uint32_t mask;
        int r;

        if (argc != 8)
                return fail(argv[0], -EINVAL, "wrong number of arguments");
        if ((r = read_TPM2B_PUBLIC(argv[1], &ak)) < 0)
                return fail(argv[0], r, argv[1]);
        if ((r = read_full_file(argv[2], FILE_MAX, &attest, &attest_size)) < 0)
                return fail(argv[0], r, argv[2]);
        if ((r = read_TPMT_SIGNATURE(argv[3], &sig)) < 0)
                return fail(argv[0], r, argv[3]);
        if ((r = unhexmem(argv[4], 64, &nonce, &nonce_size)) < 0)
                return fail(argv[0], r, argv[4]);
        if ((r = parse_pcrs(argv[5], argv[6], argv[7], &bank, &mask, values, &n)) < 0)
                return fail(argv[0], r, "PCR bank, list or values");
        r = tpm2_ak_check_public(&ak.publicArea);
        if (r < 0)
                return fail(argv[0], r, "tpm2_ak_check_public");
        r = tpm2_quote_verify(&ak, attest, attest_size, &sig, nonce, nonce_size, bank, mask, values, n, &a);
        if (r < 0)
                return fail(argv[0], r, "tpm2_quote_verify");

        qs = hexmem(a.qualifiedSigner.name, a.qualifiedSigner.size);
        if (!qs)
                return fail(argv[0], -ENOMEM, "hexmem");
        printf("clock=%llu\nresetCount=%u\nrestartCount=%u\nsafe=%u\n",
               (unsigned long long) a.clockInfo.clock, a.clockInfo.resetCount, a.clockInfo.restartCount,
               a.clockInfo.safe);
        printf("firmwareVersion=0x%llx\nqualifiedSigner=%s\n", (unsigned long long) a.firmwareVersion, qs);
        return EXIT_SUCCESS;
}

static int verb_software_quote(int argc, char *argv[]) {
        _cleanup_(software_key_freep) SoftwareKey *ak = NULL;
        _cleanup_free_ uint8_t *attest = NULL;
        _cleanup_free_ void *nonce = NULL;
        TPM2B_DIGEST values[TPM2_PCRS_MAX];
        size_t attest_size, nonce_size, n;
        TPMT_SIGNATURE sig;
        TPMI_ALG_HASH bank;
        Tpm2KeyType type;
        uint32_t mask;
        int r;

        if (argc != 9)
                return fail(argv[0], -EINVAL, "wrong number of arguments");
        type = tpm2_key_type_from_string(argv[1]);
        if (type < 0)
                return fail(argv[0], type, argv[1]);
        if ((r = unhexmem(argv[5], 64, &nonce, &nonce_size)) < 0)
                return fail(argv[0], r, argv[5]);
        if ((r = parse_pcrs(argv[6], argv[7], argv[8], &bank, &mask, values, &n)) < 0)
                return fail(argv[0], r, "PCR bank, list or values");
        if ((r = software_ak_new(type, NULL, &ak)) < 0)
                return fail(argv[0], r, "software_ak_new");
        r = software_quote(ak, NULL, nonce, nonce_size, bank, mask, values, n, &attest, &attest_size, &sig);
        if (r < 0)
                return fail(argv[0], r, "software_quote");
        if ((r = write_TPM2B_PUBLIC(argv[2], &ak->public)) < 0 ||
            (r = write_file(argv[3], attest, attest_size)) < 0 ||
            (r = write_TPMT_SIGNATURE(argv[4], &sig)) < 0)
                return fail(argv[0], r, "writing the output");
        return EXIT_SUCCESS;
}

static int verb_software_ek(int argc, char *argv[]) {
        _cleanup_(software_key_freep) SoftwareKey *ek = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        Tpm2KeyType type;
        int r;

        if (argc != 4)
                return fail(argv[0], -EINVAL, "wrong number of arguments");
        type = tpm2_key_type_from_string(argv[1]);
        if (type < 0)
                return fail(argv[0], type, argv[1]);
        if ((r = software_ek_new(type, NULL, &ek)) < 0)
                return fail(argv[0], r, "software_ek_new");
        if ((r = write_TPM2B_PUBLIC(argv[2], &ek->public)) < 0)
                return fail(argv[0], r, argv[2]);
        f = fopen(argv[3], "wxe");
        if (!f || !PEM_write_PrivateKey(f, ek->pkey, NULL, NULL, 0, NULL, NULL) || fflush(f) != 0)
                return fail(argv[0], -EIO, argv[3]);
        return EXIT_SUCCESS;
}

static int verb_software_activate(int argc, char *argv[]) {
        _cleanup_(software_key_freep) SoftwareKey *ek = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        TPM2B_ENCRYPTED_SECRET es;
        TPM2B_ID_OBJECT blob;
        TPM2B_DIGEST secret;
        TPM2B_NAME name;
        Tpm2KeyType type;
        EVP_PKEY *pkey;
        int r;

        if (argc != 7)
                return fail(argv[0], -EINVAL, "wrong number of arguments");
        f = fopen(argv[1], "re");
        pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
        if (!pkey)
                return fail(argv[0], -EIO, argv[1]);
        type = tpm2_key_type_from_string(argv[2]);
        r = type < 0 ? type : software_ek_new(type, pkey, &ek);
        EVP_PKEY_free(pkey);
        if (r < 0)
                return fail(argv[0], r, "software_ek_new");
        if ((r = parse_name(argv[3], &name)) < 0)
                return fail(argv[0], r, argv[3]);
        if ((r = read_TPM2B_ID_OBJECT(argv[4], &blob)) < 0 ||
            (r = read_TPM2B_ENCRYPTED_SECRET(argv[5], &es)) < 0)
                return fail(argv[0], r, "reading the credential");
        if ((r = software_activate_credential(ek, &name, &blob, &es, &secret)) < 0)
                return fail(argv[0], r, "software_activate_credential");
        r = write_file(argv[6], secret.buffer, secret.size);
        explicit_bzero(&secret, sizeof(secret));
        if (r < 0)
                return fail(argv[0], r, argv[6]);
        return EXIT_SUCCESS;
}

static const struct {
        const char *name;
        int (*run)(int argc, char *argv[]);
} verbs[] = {
        { "make-credential", verb_make_credential },
        { "verify-quote", verb_verify_quote },
        { "software-quote", verb_software_quote },
        { "software-ek", verb_software_ek },
        { "software-activate", verb_software_activate },
};

int main(int argc, char *argv[]) {
        if (argc >= 2)
                for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                        if (streq(argv[1], verbs[i].name))
                                return verbs[i].run(argc - 1, argv + 1);
        fprintf(stderr, "Usage: %s VERB ARGS…\n"
                        "Verbs: make-credential verify-quote software-quote software-ek software-activate\n",
                argv[0]);
        return EXIT_FAILURE;
}
