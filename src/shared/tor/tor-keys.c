/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "tor-keys.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_clear_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BN_CTX *, BN_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_ENCODER_CTX *, OSSL_ENCODER_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free);

/* tor's tagged key files (crypto_format.c): a 32-byte header, the NUL-padded "== TYPE: TAG ==", then the
 * raw key. */
#define TAGGED_HEADER_SIZE 32U
#define ED25519_SECRET_TYPE "ed25519v1-secret"
#define ED25519_PUBLIC_TYPE "ed25519v1-public"
#define MASTER_KEY_TAG "type0" /* "type%d" of cert type 0, the master identity (loadkey.c) */
#define FAMILY_KEY_TAG "fmly-id"
#define RSA_PEM_MAX 2048U /* PKCS#1 PEM of a 1024-bit key: ~890 bytes */

struct TorKeys {
        /* [0, TOR_KEYS_PACKED_SIZE): the stored form; then the expanded ed25519 key. */
        SecretBuffer *secret;
        EVP_PKEY *rsa;
        uint8_t ed25519_public[TOR_ED25519_PUBLIC_SIZE];
        char rsa_fingerprint[TOR_RSA_FINGERPRINT_LEN + 1];
        char ed25519_id[TOR_ED25519_ID_LEN + 1];
};

#define SECRET_SEED(k) ((k)->secret->data)
#define SECRET_EXPANDED(k) ((k)->secret->data + TOR_KEYS_PACKED_SIZE)

/* ---- ed25519 ---------------------------------------------------------------------------------------- */

int tor_ed25519_expand(const uint8_t seed[static TOR_KEYS_SEED_SIZE],
                       uint8_t ret[static TOR_ED25519_EXPANDED_SIZE]) {
        uint8_t h[TOR_ED25519_EXPANDED_SIZE];
        unsigned len = 0;

        /* RFC 8032 §5.1.5 and tor's ref10 crypto_sign_seckey_expand(): the first half, clamped, is the
         * secret scalar; the second half is the nonce prefix. tor clears bits 6 and 7 of byte 31 and sets
         * bit 6 again, which is RFC 8032's "clear the highest bit, set the second highest". */
        if (EVP_Digest(seed, TOR_KEYS_SEED_SIZE, h, &len, EVP_sha512(), NULL) != 1 || len != sizeof(h)) {
                explicit_bzero(h, sizeof(h));
                return -EIO;
        }
        h[0] &= 248;
        h[31] &= 127;
        h[31] |= 64;
        memcpy(ret, h, sizeof(h));
        explicit_bzero(h, sizeof(h));
        return 0;
}

int tor_ed25519_public(const uint8_t seed[static TOR_KEYS_SEED_SIZE],
                       uint8_t ret[static TOR_ED25519_PUBLIC_SIZE]) {
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;
        size_t len = TOR_ED25519_PUBLIC_SIZE;

        k = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, TOR_KEYS_SEED_SIZE);
        if (!k)
                return -ENOMEM;
        if (EVP_PKEY_get_raw_public_key(k, ret, &len) != 1 || len != TOR_ED25519_PUBLIC_SIZE)
                return -EIO;
        return 0;
}

static void ed25519_id_format(const uint8_t pub[static TOR_ED25519_PUBLIC_SIZE],
                              char ret[static TOR_ED25519_ID_LEN + 1]) {
        char b64[TOR_ED25519_ID_LEN + 2]; /* 44 characters with one '=', and the NUL */

        (void) EVP_EncodeBlock((unsigned char *) b64, pub, TOR_ED25519_PUBLIC_SIZE);
        memcpy(ret, b64, TOR_ED25519_ID_LEN);
        ret[TOR_ED25519_ID_LEN] = '\0';
}

/* ---- RSA -------------------------------------------------------------------------------------------- */

static BIGNUM *bn_secret_new(void) {
        BIGNUM *b = BN_secure_new();
        if (b)
                BN_set_flags(b, BN_FLG_CONSTTIME);
        return b;
}

/* 1 if a probable prime, 0 if not, negative errno if OpenSSL failed. */
static int bn_is_prime(const BIGNUM *b, BN_CTX *ctx) {
        int r = BN_check_prime(b, ctx, NULL);
        if (r < 0) {
                ERR_clear_error();
                return -EIO;
        }
        return r;
}

/* The whole private key from p and q, as PKCS#1 has it: n = pq, d = e⁻¹ mod (p-1)(q-1) (what OpenSSL's own
 * key generation computes, so a key made by `openssl genrsa` rebuilds to the same bytes), dP, dQ, and
 * qInv = q⁻¹ mod p. */
static int rsa_from_primes(const uint8_t *pbin, const uint8_t *qbin, EVP_PKEY **ret) {
        _cleanup_(BN_clear_freep) BIGNUM *p = NULL, *q = NULL, *n = NULL, *e = NULL, *d = NULL, *dp = NULL,
                                         *dq = NULL, *qinv = NULL, *p1 = NULL, *q1 = NULL, *phi = NULL,
                                         *g = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *pctx = NULL;
        _cleanup_(BN_CTX_freep) BN_CTX *ctx = NULL;
        EVP_PKEY *k = NULL;
        int r;

        ctx = BN_CTX_secure_new();
        p = bn_secret_new(), q = bn_secret_new(), n = BN_new(), e = BN_new(), d = bn_secret_new();
        dp = bn_secret_new(), dq = bn_secret_new(), qinv = bn_secret_new(), p1 = bn_secret_new();
        q1 = bn_secret_new(), phi = bn_secret_new(), g = BN_new();
        if (!ctx || !p || !q || !n || !e || !d || !dp || !dq || !qinv || !p1 || !q1 || !phi || !g)
                return -ENOMEM;
        if (!BN_bin2bn(pbin, TOR_KEYS_PRIME_SIZE, p) || !BN_bin2bn(qbin, TOR_KEYS_PRIME_SIZE, q) ||
            !BN_set_word(e, TOR_RSA_EXPONENT))
                return -ENOMEM;

        if (BN_num_bits(p) != TOR_RSA_BITS / 2 || BN_num_bits(q) != TOR_RSA_BITS / 2 || BN_cmp(p, q) == 0)
                return -EBADMSG;
        r = bn_is_prime(p, ctx);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        r = bn_is_prime(q, ctx);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;

        if (!BN_mul(n, p, q, ctx) || !BN_sub(p1, p, BN_value_one()) || !BN_sub(q1, q, BN_value_one()) ||
            !BN_mul(phi, p1, q1, ctx) || !BN_gcd(g, e, phi, ctx))
                return -ENOMEM;
        /* tor rejects identity keys whose modulus is not exactly 1024 bits. */
        if (BN_num_bits(n) != TOR_RSA_BITS || !BN_is_one(g))
                return -EBADMSG;
        if (!BN_mod_inverse(d, e, phi, ctx) || !BN_mod(dp, d, p1, ctx) || !BN_mod(dq, d, q1, ctx) ||
            !BN_mod_inverse(qinv, q, p, ctx)) {
                ERR_clear_error();
                return -EIO;
        }

        /* The secret numbers are BN_secure_new() ones: the builder puts them in the part of the array
         * that OSSL_PARAM_free() wipes. */
        bld = OSSL_PARAM_BLD_new();
        if (!bld)
                return -ENOMEM;
        if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dp) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dq) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv))
                return -ENOMEM;
        params = OSSL_PARAM_BLD_to_param(bld);
        pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!params || !pctx)
                return -ENOMEM;
        if (EVP_PKEY_fromdata_init(pctx) <= 0 || EVP_PKEY_fromdata(pctx, &k, EVP_PKEY_KEYPAIR, params) <= 0) {
                ERR_clear_error();
                return -EIO;
        }
        *ret = k;
        return 0;
}

/* Fresh primes from OpenSSL's key generation; the key itself is rebuilt from them like a stored one. */
static int rsa_generate_primes(uint8_t *ret_p, uint8_t *ret_q) {
        for (unsigned attempt = 0; attempt < 8; attempt++) {
                _cleanup_(BN_clear_freep) BIGNUM *p = NULL, *q = NULL, *e = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = NULL;

                k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) TOR_RSA_BITS);
                if (!k) {
                        ERR_clear_error();
                        return -EIO;
                }
                if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR1, &p) != 1 ||
                    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR2, &q) != 1 ||
                    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
                        ERR_clear_error();
                        return -EIO;
                }
                if (!BN_is_word(e, TOR_RSA_EXPONENT) || BN_num_bits(p) != TOR_RSA_BITS / 2 ||
                    BN_num_bits(q) != TOR_RSA_BITS / 2)
                        continue; /* not what OpenSSL makes; don't store what unpack would refuse */
                if (BN_bn2binpad(p, ret_p, TOR_KEYS_PRIME_SIZE) < 0 ||
                    BN_bn2binpad(q, ret_q, TOR_KEYS_PRIME_SIZE) < 0)
                        return -EIO;
                return 0;
        }
        return -EIO;
}

/* Encodes the key with OpenSSL's encoder. "type-specific" is PKCS#1 for RSA: RSAPublicKey for the public
 * selection, RSAPrivateKey ("RSA PRIVATE KEY" in PEM) for the key pair. */
static int rsa_encode(EVP_PKEY *k, int selection, const char *format, uint8_t *buf, size_t size,
                      size_t *ret_size) {
        _cleanup_(OSSL_ENCODER_CTX_freep) OSSL_ENCODER_CTX *ectx = NULL;
        unsigned char *p = buf;
        size_t left = size;

        ectx = OSSL_ENCODER_CTX_new_for_pkey(k, selection, format, "type-specific", NULL);
        if (!ectx)
                return -ENOMEM;
        if (OSSL_ENCODER_CTX_get_num_encoders(ectx) == 0 || OSSL_ENCODER_to_data(ectx, &p, &left) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        *ret_size = size - left;
        return 0;
}

static int rsa_fingerprint(EVP_PKEY *k, char ret[static TOR_RSA_FINGERPRINT_LEN + 1]) {
        static const char hex[] = "0123456789ABCDEF";
        uint8_t der[512], digest[20];
        unsigned dlen = 0;
        size_t size;
        int r;

        /* tor's crypto_pk_get_digest(): SHA-1 over the DER of the PKCS#1 RSAPublicKey {n, e}. */
        r = rsa_encode(k, EVP_PKEY_PUBLIC_KEY, "DER", der, sizeof(der), &size);
        if (r < 0)
                return r;
        if (EVP_Digest(der, size, digest, &dlen, EVP_sha1(), NULL) != 1 || dlen != sizeof(digest))
                return -EIO;
        for (size_t i = 0; i < sizeof(digest); i++) {
                ret[2 * i] = hex[digest[i] >> 4];
                ret[2 * i + 1] = hex[digest[i] & 15];
        }
        ret[TOR_RSA_FINGERPRINT_LEN] = '\0';
        return 0;
}

int tor_fingerprint_spaced(const char *fp, char ret[static TOR_RSA_FINGERPRINT_SPACED_LEN + 1]) {
        size_t k = 0;

        if (!fp || strlen(fp) != TOR_RSA_FINGERPRINT_LEN ||
            strspn(fp, "0123456789ABCDEFabcdef") != TOR_RSA_FINGERPRINT_LEN)
                return -EINVAL;
        for (size_t i = 0; i < TOR_RSA_FINGERPRINT_LEN; i++) {
                if (i > 0 && i % 4 == 0)
                        ret[k++] = ' ';
                ret[k++] = fp[i];
        }
        ret[k] = '\0';
        return 0;
}

/* ---- the keys --------------------------------------------------------------------------------------- */

TorKeys *tor_keys_free(TorKeys *k) {
        if (!k)
                return NULL;
        secret_buffer_free(k->secret);
        EVP_PKEY_free(k->rsa);
        free(k);
        return NULL;
}

int tor_keys_unpack(const void *data, size_t size, TorKeys **ret) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        const uint8_t *in = data;
        int r;

        if ((!data && size > 0) || !ret)
                return -EINVAL;
        if (size != TOR_KEYS_PACKED_SIZE)
                return -EBADMSG;

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        r = secret_buffer_new(TOR_KEYS_PACKED_SIZE + TOR_ED25519_EXPANDED_SIZE, &k->secret);
        if (r < 0)
                return r;
        memcpy(k->secret->data, in, TOR_KEYS_PACKED_SIZE);

        r = rsa_from_primes(in + TOR_KEYS_SEED_SIZE, in + TOR_KEYS_SEED_SIZE + TOR_KEYS_PRIME_SIZE, &k->rsa);
        if (r < 0)
                return r;
        r = rsa_fingerprint(k->rsa, k->rsa_fingerprint);
        if (r < 0)
                return r;

        r = tor_ed25519_expand(SECRET_SEED(k), SECRET_EXPANDED(k));
        if (r < 0)
                return r;
        r = tor_ed25519_public(SECRET_SEED(k), k->ed25519_public);
        if (r < 0)
                return r;
        ed25519_id_format(k->ed25519_public, k->ed25519_id);

        *ret = TAKE_PTR(k);
        return 0;
}

int tor_keys_generate(TorKeys **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = secret_buffer_new(TOR_KEYS_PACKED_SIZE, &b);
        if (r < 0)
                return r;
        if (RAND_priv_bytes(b->data, TOR_KEYS_SEED_SIZE) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        r = rsa_generate_primes(b->data + TOR_KEYS_SEED_SIZE,
                                b->data + TOR_KEYS_SEED_SIZE + TOR_KEYS_PRIME_SIZE);
        if (r < 0)
                return r;
        return tor_keys_unpack(b->data, b->size, ret);
}

int tor_keys_pack(const TorKeys *k, SecretBuffer **ret) {
        SecretBuffer *b;
        int r;

        if (!k || !ret)
                return -EINVAL;
        r = secret_buffer_new(TOR_KEYS_PACKED_SIZE, &b);
        if (r < 0)
                return r;
        memcpy(b->data, k->secret->data, TOR_KEYS_PACKED_SIZE);
        *ret = b;
        return 0;
}

const char *tor_keys_rsa_fingerprint(const TorKeys *k) {
        return k ? k->rsa_fingerprint : NULL;
}

const char *tor_keys_ed25519_id(const TorKeys *k) {
        return k ? k->ed25519_id : NULL;
}

const uint8_t *tor_keys_ed25519_public(const TorKeys *k) {
        return k ? k->ed25519_public : NULL;
}

int tor_keys_rsa_private_pem(const TorKeys *k, SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        size_t size;
        int r;

        if (!k || !ret)
                return -EINVAL;
        r = secret_buffer_new(RSA_PEM_MAX, &b);
        if (r < 0)
                return r;
        r = rsa_encode(k->rsa, EVP_PKEY_KEYPAIR, "PEM", b->data, b->size, &size);
        if (r < 0)
                return r;
        b->size = size;
        *ret = TAKE_PTR(b);
        return 0;
}

/* ---- files ------------------------------------------------------------------------------------------ */

typedef struct KeyFile {
        const char *name;
        const void *data;
        size_t size;
        char tmp[NAME_MAX + 1];
        bool created; /* tmp is ours: we made it with O_EXCL */
} KeyFile;

static void tagged_header(uint8_t out[static TAGGED_HEADER_SIZE], const char *type, const char *tag) {
        /* tor writes the header with snprintf into 32 bytes and refuses it truncated: at most 31
         * characters, NUL-padded. All of ours fit ("== ed25519v1-secret: fmly-id ==" is exactly 31). */
        memset(out, 0, TAGGED_HEADER_SIZE);
        (void) snprintf((char *) out, TAGGED_HEADER_SIZE, "== %s: %s ==", type, tag);
}

static int dir_check(int dir_fd) {
        struct stat st;

        if (dir_fd < 0)
                return -EBADF;
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /* Someone else who can write here can swap a file between our rename and tor's read. */
        if (st.st_mode & 0022)
                return -EPERM;
        return 0;
}

static int tmp_name(const char *name, char ret[static NAME_MAX + 1]) {
        int n = snprintf(ret, NAME_MAX + 1, ".%s.tmp", name);
        return n < 0 || n > NAME_MAX ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const void *data, size_t size) {
        const uint8_t *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        return -EIO;
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int key_file_write_tmp(int dir_fd, KeyFile *f, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = tmp_name(f->name, f->tmp);
        if (r < 0)
                return r;
        /* O_EXCL|O_NOFOLLOW: a file or symlink already there (a concurrent or crashed writer, or a planted
         * link) makes us fail with -EEXIST instead of writing through it. */
        fd = openat(dir_fd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return negative_errno();
        f->created = true;

        /* Owner first: the content never exists under an owner it isn't meant for. The mode again, exact
         * whatever the umask. */
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0600) < 0)
                return negative_errno();
        r = write_all(fd, f->data, f->size);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return negative_errno();
        if (close(TAKE_FD(fd)) < 0)
                return negative_errno();
        return 0;
}

static int key_files_write(int dir_fd, KeyFile *files, size_t n, uid_t uid, gid_t gid) {
        size_t renamed = 0;
        int r;

        r = dir_check(dir_fd);
        if (r < 0)
                return r;

        /* All temporaries complete before any final name changes: a failure while writing leaves the old
         * set as it was. */
        for (size_t i = 0; i < n; i++) {
                r = key_file_write_tmp(dir_fd, &files[i], uid, gid);
                if (r < 0)
                        goto fail;
        }
        for (; renamed < n; renamed++)
                if (renameat(dir_fd, files[renamed].tmp, dir_fd, files[renamed].name) < 0) {
                        r = negative_errno();
                        goto fail;
                }
        (void) fsync(dir_fd);
        return 0;

fail:
        for (size_t i = renamed; i < n; i++)
                if (files[i].created)
                        (void) unlinkat(dir_fd, files[i].tmp, 0);
        return r;
}

static int key_files_remove(int dir_fd, const char *const *names, size_t n) {
        int r = 0;

        if (dir_fd < 0)
                return -EBADF;
        for (size_t i = 0; i < n; i++) {
                char tmp[NAME_MAX + 1];

                if (unlinkat(dir_fd, names[i], 0) < 0 && errno != ENOENT && r == 0)
                        r = negative_errno();
                if (tmp_name(names[i], tmp) == 0 && unlinkat(dir_fd, tmp, 0) < 0 && errno != ENOENT && r == 0)
                        r = negative_errno();
        }
        return r;
}

int tor_keys_write(int dir_fd, const TorKeys *k, uid_t uid, gid_t gid) {
        _cleanup_(secret_buffer_freep) SecretBuffer *secret = NULL, *pem = NULL;
        uint8_t public[TAGGED_HEADER_SIZE + TOR_ED25519_PUBLIC_SIZE];
        int r;

        if (!k)
                return -EINVAL;

        r = secret_buffer_new(TAGGED_HEADER_SIZE + TOR_ED25519_EXPANDED_SIZE, &secret);
        if (r < 0)
                return r;
        tagged_header(secret->data, ED25519_SECRET_TYPE, MASTER_KEY_TAG);
        memcpy(secret->data + TAGGED_HEADER_SIZE, SECRET_EXPANDED(k), TOR_ED25519_EXPANDED_SIZE);

        tagged_header(public, ED25519_PUBLIC_TYPE, MASTER_KEY_TAG);
        memcpy(public + TAGGED_HEADER_SIZE, k->ed25519_public, TOR_ED25519_PUBLIC_SIZE);

        r = tor_keys_rsa_private_pem(k, &pem);
        if (r < 0)
                return r;

        KeyFile files[] = {
                { .name = TOR_ED25519_SECRET_KEY_FILE, .data = secret->data, .size = secret->size },
                { .name = TOR_ED25519_PUBLIC_KEY_FILE, .data = public, .size = sizeof(public) },
                { .name = TOR_RSA_SECRET_KEY_FILE, .data = pem->data, .size = pem->size },
        };
        return key_files_write(dir_fd, files, ELEMENTSOF(files), uid, gid);
}

int tor_keys_remove(int dir_fd) {
        static const char *const names[] = {
                TOR_ED25519_SECRET_KEY_FILE,
                TOR_ED25519_PUBLIC_KEY_FILE,
                TOR_RSA_SECRET_KEY_FILE,
        };
        return key_files_remove(dir_fd, names, ELEMENTSOF(names));
}

/* ---- Happy Families --------------------------------------------------------------------------------- */

static int family_file_name(const char *name, char ret[static NAME_MAX + 1]) {
        size_t len;

        if (!name)
                return -EINVAL;
        len = strlen(name);
        if (len == 0 || len > TOR_FAMILY_NAME_MAX ||
            strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != len)
                return -EINVAL;
        (void) snprintf(ret, NAME_MAX + 1, "%s" TOR_FAMILY_KEY_SUFFIX, name);
        return 0;
}

int tor_family_seed_generate(SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = secret_buffer_new(TOR_KEYS_SEED_SIZE, &b);
        if (r < 0)
                return r;
        if (RAND_priv_bytes(b->data, TOR_KEYS_SEED_SIZE) != 1) {
                ERR_clear_error();
                return -EIO;
        }
        *ret = TAKE_PTR(b);
        return 0;
}

int tor_family_id(const void *seed, size_t size, char ret[static TOR_ED25519_ID_LEN + 1]) {
        uint8_t pub[TOR_ED25519_PUBLIC_SIZE];
        int r;

        if (!seed)
                return -EINVAL;
        if (size != TOR_KEYS_SEED_SIZE)
                return -EBADMSG;
        r = tor_ed25519_public(seed, pub);
        if (r < 0)
                return r;
        /* tor prints FamilyId with ed25519_fmt(): the same unpadded base64 as fingerprint-ed25519. */
        ed25519_id_format(pub, ret);
        return 0;
}

int tor_family_key_write(int dir_fd, const char *name, const void *seed, size_t size, uid_t uid, gid_t gid) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        char fname[NAME_MAX + 1];
        int r;

        if (!seed)
                return -EINVAL;
        if (size != TOR_KEYS_SEED_SIZE)
                return -EBADMSG;
        r = family_file_name(name, fname);
        if (r < 0)
                return r;

        r = secret_buffer_new(TAGGED_HEADER_SIZE + TOR_ED25519_EXPANDED_SIZE, &b);
        if (r < 0)
                return r;
        tagged_header(b->data, ED25519_SECRET_TYPE, FAMILY_KEY_TAG);
        r = tor_ed25519_expand(seed, b->data + TAGGED_HEADER_SIZE);
        if (r < 0)
                return r;

        KeyFile files[] = {
                { .name = fname, .data = b->data, .size = b->size },
        };
        return key_files_write(dir_fd, files, ELEMENTSOF(files), uid, gid);
}

int tor_family_key_remove(int dir_fd, const char *name) {
        char fname[NAME_MAX + 1];
        const char *names[1] = { fname };
        int r;

        r = family_file_name(name, fname);
        if (r < 0)
                return r;
        return key_files_remove(dir_fd, names, ELEMENTSOF(names));
}
