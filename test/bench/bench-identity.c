/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-identity.h"
#include "bench-node.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "string-util.h"
#include "tpm2-marshal.h"

#define HEADER "patela-bench-identities 1"
#define KEY_DER_MAX 4096U
#define LINE_MAX_SIZE (4U * 4096U)

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);

static const char *const ek_mix_table[_BENCH_EK_MIX_MAX] = {
        [BENCH_EK_RSA2048] = "rsa2048",
        [BENCH_EK_ECC_P256] = "ecc-p256",
        [BENCH_EK_MIX] = "mix",
};

BenchEkMix bench_ek_mix_from_string(const char *s) {
        for (int i = 0; i < _BENCH_EK_MIX_MAX; i++)
                if (s && streq(s, ek_mix_table[i]))
                        return (BenchEkMix) i;
        return _BENCH_EK_MIX_INVALID;
}

Tpm2KeyType bench_ek_mix_type(BenchEkMix m, size_t index) {
        switch (m) {
        case BENCH_EK_RSA2048:
                return TPM2_KEY_RSA2048;
        case BENCH_EK_ECC_P256:
                return TPM2_KEY_ECC_P256;
        default:
                return index % 2 == 0 ? TPM2_KEY_RSA2048 : TPM2_KEY_ECC_P256;
        }
}

void bench_identity_done(BenchIdentity *id) {
        id->ek = software_key_free(id->ek);
        id->ak = software_key_free(id->ak);
        free(id->enroll_body);
        id->enroll_body = NULL;
}

int bench_identities_new(size_t n, BenchIdentities **ret) {
        BenchIdentities *ids = calloc(1, sizeof(*ids));

        if (!ids)
                return -ENOMEM;
        ids->items = calloc(MAX(n, (size_t) 1), sizeof(BenchIdentity));
        if (!ids->items) {
                free(ids);
                return -ENOMEM;
        }
        ids->n = n;
        *ret = ids;
        return 0;
}

BenchIdentities *bench_identities_free(BenchIdentities *ids) {
        if (!ids)
                return NULL;
        for (size_t i = 0; i < ids->n; i++)
                bench_identity_done(&ids->items[i]);
        free(ids->items);
        free(ids);
        return NULL;
}

static int identity_finish(SoftwareKey *ek, SoftwareKey *ak, BenchIdentity *ret) {
        char *body = NULL;
        int r;

        r = bench_enroll_body(ek, ak, &body);
        if (r < 0)
                return r;
        *ret = (BenchIdentity) { .ek = ek, .ak = ak, .enroll_body = body };
        return 0;
}

int bench_identity_generate(Tpm2KeyType ek_type, BenchIdentity *ret) {
        _cleanup_(software_key_freep) SoftwareKey *ek = NULL, *ak = NULL;
        int r;

        r = software_ek_new(ek_type, NULL, &ek);
        if (r < 0)
                return r;
        r = software_ak_new(TPM2_KEY_ECC_P256, NULL, &ak);
        if (r < 0)
                return r;
        r = identity_finish(ek, ak, ret);
        if (r < 0)
                return r;
        TAKE_PTR(ek), TAKE_PTR(ak);
        return 0;
}

/* ---- the file ----------------------------------------------------------------------------------------- */

static char *key_to_base64(EVP_PKEY *k) {
        _cleanup_free_ unsigned char *der = NULL;
        char *b64;
        int n;

        n = i2d_PrivateKey(k, &der);
        if (n <= 0)
                return NULL;
        b64 = base64mem(der, (size_t) n);
        explicit_bzero(der, (size_t) n);
        return b64;
}

static char *public_to_base64(const TPM2B_PUBLIC *p) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size;

        if (tpm2_marshal_TPM2B_PUBLIC(p, &buf, &size) < 0)
                return NULL;
        return base64mem(buf, size);
}

static int write_identity(FILE *f, const BenchIdentity *id) {
        _cleanup_free_ char *ek_key = key_to_base64(id->ek->pkey), *ak_key = key_to_base64(id->ak->pkey),
                            *ek_pub = public_to_base64(&id->ek->public),
                            *ak_pub = public_to_base64(&id->ak->public);

        if (!ek_key || !ak_key || !ek_pub || !ak_pub)
                return -ENOMEM;
        if (fprintf(f, "%s %s %s %s %s\n", tpm2_key_type_to_string(id->ek->type), ek_key, ak_key, ek_pub,
                    ak_pub) < 0)
                return -EIO;
        return 0;
}

int bench_identities_save(const BenchIdentities *ids, const char *path) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int fd, r = 0;

        if (asprintf(&tmp, "%s.tmp.%d", path, (int) getpid()) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        f = fdopen(fd, "w");
        if (!f) {
                r = -errno;
                safe_close(fd);
                goto fail;
        }
        if (fprintf(f, "%s\n", HEADER) < 0)
                r = -EIO;
        for (size_t i = 0; r >= 0 && i < ids->n; i++)
                r = write_identity(f, &ids->items[i]);
        if (r >= 0 && fflush(f) != 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r >= 0)
                return 0;
fail:
        (void) unlink(tmp);
        return r;
}

static int key_from_base64(const char *s, EVP_PKEY **ret) {
        _cleanup_free_ void *der = NULL;
        const unsigned char *p;
        EVP_PKEY *k;
        size_t size;
        int r;

        r = unbase64mem(s, KEY_DER_MAX, &der, &size);
        if (r < 0)
                return r;
        p = der;
        k = d2i_AutoPrivateKey(NULL, &p, (long) size);
        explicit_bzero(der, size);
        if (!k || p != (const unsigned char *) der + size) {
                EVP_PKEY_free(k);
                return -EBADMSG;
        }
        *ret = k;
        return 0;
}

static int key_matches(const SoftwareKey *k, const char *public_b64) {
        _cleanup_free_ char *b64 = public_to_base64(&k->public);

        if (!b64)
                return -ENOMEM;
        return streq(b64, public_b64) ? 0 : -EBADMSG;
}

static int parse_identity(char *line, BenchIdentity *ret) {
        _cleanup_(software_key_freep) SoftwareKey *ek = NULL, *ak = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ek_pkey = NULL, *ak_pkey = NULL;
        char *fields[5], *save = NULL;
        Tpm2KeyType type;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
                fields[i] = strtok_r(i == 0 ? line : NULL, " \n", &save);
                if (!fields[i])
                        return -EBADMSG;
        }
        if (strtok_r(NULL, " \n", &save))
                return -EBADMSG;
        type = tpm2_key_type_from_string(fields[0]);
        if (type < 0)
                return -EBADMSG;

        r = key_from_base64(fields[1], &ek_pkey);
        if (r < 0)
                return r;
        r = key_from_base64(fields[2], &ak_pkey);
        if (r < 0)
                return r;
        r = software_ek_new(type, ek_pkey, &ek);
        if (r < 0)
                return r;
        r = software_ak_new(TPM2_KEY_ECC_P256, ak_pkey, &ak);
        if (r < 0)
                return r;
        r = key_matches(ek, fields[3]);
        if (r >= 0)
                r = key_matches(ak, fields[4]);
        if (r >= 0)
                r = identity_finish(ek, ak, ret);
        if (r < 0)
                return r;
        TAKE_PTR(ek), TAKE_PTR(ak);
        return 0;
}

int bench_identities_load(const char *path, BenchIdentities **ret) {
        _cleanup_(bench_identities_freep) BenchIdentities *ids = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0, n = 0, cap = 0;
        ssize_t len;
        int r;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        len = getline(&line, &allocated, f);
        if (len < 0 || !streq(line, HEADER "\n"))
                return -EBADMSG;

        r = bench_identities_new(0, &ids);
        if (r < 0)
                return r;
        while ((len = getline(&line, &allocated, f)) >= 0) {
                if ((size_t) len > LINE_MAX_SIZE)
                        return -EBADMSG;
                if (n == cap) {
                        size_t c = MAX(cap * 2, (size_t) 1024);
                        BenchIdentity *p = reallocarray(ids->items, c, sizeof(BenchIdentity));
                        if (!p)
                                return -ENOMEM;
                        memset(p + cap, 0, (c - cap) * sizeof(BenchIdentity));
                        ids->items = p;
                        cap = c;
                }
                r = parse_identity(line, &ids->items[n]);
                if (r < 0)
                        return r;
                ids->n = ++n;
        }
        if (ferror(f))
                return -EIO;
        if (n == 0)
                return -ENODATA;
        *ret = TAKE_PTR(ids);
        return 0;
}
