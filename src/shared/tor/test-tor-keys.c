/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "tests.h"
#include "tor-keys.h"

/* A fixed RSA key, made once with `openssl genrsa -traditional 1024` (OpenSSL 3.5.7). Its fingerprint was
 * computed apart from this code with `openssl rsa -RSAPublicKey_out -outform DER | sha1sum`, and the PEM's
 * hash with `sha256sum` of the file openssl wrote: rebuilt from p and q, it must come out byte for byte. */
static const char fixed_p[] =
        "f3c134ccc0d9c33a7708d3fc08da30ac318047d1b1be17a3aa1865037d8d9e94"
        "a09997081a7687d6d7e92289dfd6f0a03962483b0519a21cc4373052864e2591";
static const char fixed_q[] =
        "cbb834e45c3caefad45d7b5fe22cf796cf18548f37224e58d6507f03a37ce727"
        "da22bfca8a3e53d8eeebe5a19f829b8b4ffe2bce5e1dcd16655d6b6773a45ded";
static const char fixed_fingerprint[] = "AF6DBE7DD878661CABC1011514F7E1800C8E6096";
static const char fixed_pem_sha256[] = "f0d3377bc0dc390b4613ccbd0963c17e2fca8b4f521b64eb6ddfddfe76dc6448";

/* RFC 8032 §7.1, test 1: secret key (the seed) and public key. The expanded key is SHA-512 of the seed
 * (`xxd -r -p | sha512sum`) with byte 0 0x35 → 0x30 and byte 31 0x0f → 0x4f by the clamping rule; the id
 * is `xxd -r -p | base64` of the public key without its '='. */
static const char rfc_seed[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char rfc_public[] = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char rfc_expanded[] =
        "307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f"
        "9b4f0afe280b746a778684e75442502057b7473a03f08f96f5a38e9287e01f8f";
static const char rfc_id[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo";

static void *unhex(const char *s, size_t want) {
        void *p = NULL;
        size_t size;
        if (unhexmem(s, 4096, &p, &size) < 0 || size != want)
                TEST_FAIL("bad hex in the test: %s", s);
        return p;
}

/* seed ‖ p ‖ q from hex */
static void fixed_blob(uint8_t out[static TOR_KEYS_PACKED_SIZE]) {
        _cleanup_free_ uint8_t *s = unhex(rfc_seed, 32), *p = unhex(fixed_p, 64), *q = unhex(fixed_q, 64);
        memcpy(out, s, 32);
        memcpy(out + 32, p, 64);
        memcpy(out + 96, q, 64);
}

static TorKeys *shared_keys;
static TorKeys *generated(void) {
        if (!shared_keys && tor_keys_generate(&shared_keys) < 0)
                TEST_FAIL("tor_keys_generate failed");
        return shared_keys;
}
__attribute__((destructor)) static void shared_keys_free(void) {
        shared_keys = tor_keys_free(shared_keys);
}

TEST(pack_unpack_round_trip) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL, *b2 = NULL, *pem = NULL, *pem2 = NULL;
        _cleanup_(tor_keys_freep) TorKeys *k2 = NULL, *k3 = NULL;
        TorKeys *k = generated();

        ASSERT_OK(tor_keys_pack(k, &b));
        ASSERT_EQ(b->size, TOR_KEYS_PACKED_SIZE);
        ASSERT_OK(tor_keys_unpack(b->data, b->size, &k2));
        ASSERT_STREQ(tor_keys_rsa_fingerprint(k), tor_keys_rsa_fingerprint(k2));
        ASSERT_STREQ(tor_keys_ed25519_id(k), tor_keys_ed25519_id(k2));
        ASSERT_MEMEQ(tor_keys_ed25519_public(k), tor_keys_ed25519_public(k2), TOR_ED25519_PUBLIC_SIZE);
        ASSERT_OK(tor_keys_rsa_private_pem(k, &pem));
        ASSERT_OK(tor_keys_rsa_private_pem(k2, &pem2));
        ASSERT_EQ(pem->size, pem2->size);
        ASSERT_MEMEQ(pem->data, pem2->data, pem->size);
        ASSERT_OK(tor_keys_pack(k2, &b2));
        ASSERT_MEMEQ(b->data, b2->data, TOR_KEYS_PACKED_SIZE);

        ASSERT_EQ(strlen(tor_keys_rsa_fingerprint(k)), TOR_RSA_FINGERPRINT_LEN);
        ASSERT_EQ(strlen(tor_keys_ed25519_id(k)), TOR_ED25519_ID_LEN);
        ASSERT_TRUE(strneq((char *) pem->data, "-----BEGIN RSA PRIVATE KEY-----\n", 32));

        /* a second key is another key */
        ASSERT_OK(tor_keys_generate(&k3));
        ASSERT_FALSE(streq(tor_keys_rsa_fingerprint(k), tor_keys_rsa_fingerprint(k3)));
        ASSERT_FALSE(streq(tor_keys_ed25519_id(k), tor_keys_ed25519_id(k3)));
}

/* The first prime ≥ start */
static BIGNUM *prime_from(const char *start_hex) {
        BIGNUM *p = NULL;
        BN_CTX *ctx = BN_CTX_new();
        ASSERT_TRUE(ctx && BN_hex2bn(&p, start_hex) > 0);
        BN_set_bit(p, 0);
        while (BN_check_prime(p, ctx, NULL) != 1)
                ASSERT_TRUE(BN_add_word(p, 2));
        BN_CTX_free(ctx);
        return p;
}

static void expect_bad_primes(const BIGNUM *p, const BIGNUM *q) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        uint8_t blob[TOR_KEYS_PACKED_SIZE] = {};

        ASSERT_TRUE(BN_bn2binpad(p, blob + 32, 64) == 64 && BN_bn2binpad(q, blob + 96, 64) == 64);
        ASSERT_ERROR(tor_keys_unpack(blob, sizeof(blob), &k), EBADMSG);
        ASSERT_NULL(k);
}

TEST(unpack_refuses_corrupted_blobs) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        uint8_t good[TOR_KEYS_PACKED_SIZE], blob[TOR_KEYS_PACKED_SIZE + 1];
        BIGNUM *a, *b;

        fixed_blob(good);
        ASSERT_OK(tor_keys_unpack(good, sizeof(good), &k));
        k = tor_keys_free(k);

        /* wrong sizes */
        ASSERT_ERROR(tor_keys_unpack(good, sizeof(good) - 1, &k), EBADMSG);
        memcpy(blob, good, sizeof(good));
        ASSERT_ERROR(tor_keys_unpack(blob, sizeof(blob), &k), EBADMSG);
        ASSERT_ERROR(tor_keys_unpack(good, 0, &k), EBADMSG);
        ASSERT_ERROR(tor_keys_unpack(NULL, 0, NULL), EINVAL);

        /* a flipped byte, anywhere in p or q: not prime any more, or 511 bits */
        for (size_t i = 32; i < TOR_KEYS_PACKED_SIZE; i += 7) {
                memcpy(blob, good, sizeof(good));
                blob[i] ^= 0x10;
                ASSERT_ERROR(tor_keys_unpack(blob, TOR_KEYS_PACKED_SIZE, &k), EBADMSG);
        }
        memcpy(blob, good, sizeof(good));
        blob[32] = 0x00; /* p < 2^504 */
        ASSERT_ERROR(tor_keys_unpack(blob, TOR_KEYS_PACKED_SIZE, &k), EBADMSG);

        /* p == q */
        memcpy(blob, good, sizeof(good));
        memcpy(blob + 96, blob + 32, 64);
        ASSERT_ERROR(tor_keys_unpack(blob, TOR_KEYS_PACKED_SIZE, &k), EBADMSG);

        /* all zero, all 0xff */
        memset(blob, 0, sizeof(blob));
        ASSERT_ERROR(tor_keys_unpack(blob, TOR_KEYS_PACKED_SIZE, &k), EBADMSG);
        memset(blob, 0xff, sizeof(blob));
        ASSERT_ERROR(tor_keys_unpack(blob, TOR_KEYS_PACKED_SIZE, &k), EBADMSG);

        /* Two 512-bit primes just above 2^511: their product has 1023 bits, not tor's 1024. */
        a = prime_from("8000000000000000000000000000000000000000000000000000000000000000"
                       "0000000000000000000000000000000000000000000000000000000000000000");
        b = prime_from("8000000000000000000000000000000000000000000000000000000000000000"
                       "0000000000000000000000000000000000000000000000000000000001000000");
        expect_bad_primes(a, b);
        BN_free(a), BN_free(b);

        /* p ≡ 1 (mod 65537): e has no inverse modulo (p-1)(q-1). Nothing else is wrong with the key: p is
         * drawn until pq has 1024 bits. */
        {
                _cleanup_free_ uint8_t *q = unhex(fixed_q, 64);
                BIGNUM *add = BN_new(), *rem = BN_new(), *p = BN_new(), *n = BN_new();
                BIGNUM *qq = BN_bin2bn(q, 64, NULL);
                BN_CTX *ctx = BN_CTX_new();
                ASSERT_TRUE(add && rem && p && n && qq && ctx);
                ASSERT_TRUE(BN_set_word(add, 65537) && BN_set_word(rem, 1));
                do {
                        ASSERT_TRUE(BN_generate_prime_ex2(p, 512, 0, add, rem, NULL, ctx));
                        ASSERT_TRUE(BN_mul(n, p, qq, ctx));
                } while (BN_num_bits(n) != 1024);
                ASSERT_EQ(BN_mod_word(p, 65537), 1);
                ASSERT_EQ(BN_num_bits(p), 512);
                expect_bad_primes(p, qq);
                BN_free(add), BN_free(rem), BN_free(p), BN_free(n), BN_free(qq), BN_CTX_free(ctx);
        }
}

static void sha256_hex(const void *p, size_t size, char ret[static 65]) {
        uint8_t d[32];
        unsigned len;
        _cleanup_free_ char *h = NULL;
        ASSERT_TRUE(EVP_Digest(p, size, d, &len, EVP_sha256(), NULL) == 1);
        h = hexmem(d, sizeof(d));
        ASSERT_NOT_NULL(h);
        memcpy(ret, h, 65);
}

TEST(fixed_key_matches_openssl) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        _cleanup_(secret_buffer_freep) SecretBuffer *pem = NULL;
        uint8_t blob[TOR_KEYS_PACKED_SIZE];
        char spaced[TOR_RSA_FINGERPRINT_SPACED_LEN + 1], hash[65];

        fixed_blob(blob);
        ASSERT_OK(tor_keys_unpack(blob, sizeof(blob), &k));
        ASSERT_STREQ(tor_keys_rsa_fingerprint(k), fixed_fingerprint);
        ASSERT_OK(tor_fingerprint_spaced(tor_keys_rsa_fingerprint(k), spaced));
        ASSERT_STREQ(spaced, "AF6D BE7D D878 661C ABC1 0115 14F7 E180 0C8E 6096");

        ASSERT_OK(tor_keys_rsa_private_pem(k, &pem));
        sha256_hex(pem->data, pem->size, hash);
        ASSERT_STREQ(hash, fixed_pem_sha256);
        ASSERT_STREQ(tor_keys_ed25519_id(k), rfc_id);
}

TEST(fingerprint_spaced_refuses_garbage) {
        char out[TOR_RSA_FINGERPRINT_SPACED_LEN + 1];
        ASSERT_ERROR(tor_fingerprint_spaced(NULL, out), EINVAL);
        ASSERT_ERROR(tor_fingerprint_spaced("AF6D", out), EINVAL);
        ASSERT_ERROR(tor_fingerprint_spaced("AF6DBE7DD878661CABC1011514F7E1800C8E609G", out), EINVAL);
        ASSERT_ERROR(tor_fingerprint_spaced("AF6DBE7DD878661CABC1011514F7E1800C8E60960", out), EINVAL);
}

TEST(ed25519_rfc8032_vector) {
        _cleanup_free_ uint8_t *seed = unhex(rfc_seed, 32), *pub = unhex(rfc_public, 32),
                               *expanded = unhex(rfc_expanded, 64);
        uint8_t out[64];
        char id[TOR_ED25519_ID_LEN + 1];

        ASSERT_OK(tor_ed25519_expand(seed, out));
        ASSERT_MEMEQ(out, expanded, 64);
        ASSERT_OK(tor_ed25519_public(seed, out));
        ASSERT_MEMEQ(out, pub, 32);
        ASSERT_OK(tor_family_id(seed, 32, id));
        ASSERT_STREQ(id, rfc_id);
        ASSERT_ERROR(tor_family_id(seed, 31, id), EBADMSG);
}

/* Independent of SHA-512 vectors: the expanded key's scalar a must be the one behind OpenSSL's public key
 * A = aB of the seed. OpenSSL offers no Edwards scalar multiplication, but X25519 is the same curve in
 * Montgomery form and clamps its scalar exactly as tor's expanded key is clamped: X25519(a) must be
 * u = (1 + y) / (1 - y) mod 2^255 - 19, y being A without its sign bit (RFC 7748 §4.1). */
TEST(ed25519_expanded_scalar_matches_public_key) {
        BN_CTX *ctx = BN_CTX_new();
        BIGNUM *pr = NULL, *y = BN_new(), *num = BN_new(), *den = BN_new(), *u = BN_new();
        ASSERT_TRUE(ctx && y && num && den && u);
        ASSERT_TRUE(BN_hex2bn(&pr, "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffed") > 0);

        for (unsigned i = 0; i < 16; i++) {
                uint8_t seed[32], expanded[64], pub[32], le[32], x[32], want[32];
                size_t xlen = sizeof(x);
                EVP_PKEY *m;

                ASSERT_TRUE(RAND_bytes(seed, sizeof(seed)) == 1);
                ASSERT_OK(tor_ed25519_expand(seed, expanded));
                ASSERT_OK(tor_ed25519_public(seed, pub));

                m = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, expanded, 32);
                ASSERT_TRUE(m && EVP_PKEY_get_raw_public_key(m, x, &xlen) == 1 && xlen == 32);
                EVP_PKEY_free(m);

                memcpy(le, pub, 32);
                le[31] &= 0x7f;
                ASSERT_TRUE(BN_lebin2bn(le, 32, y));
                ASSERT_TRUE(BN_copy(num, y) && BN_add_word(num, 1));
                ASSERT_TRUE(BN_sub(den, pr, y) && BN_add_word(den, 1)); /* 1 - y mod p */
                ASSERT_TRUE(BN_mod_inverse(den, den, pr, ctx));
                ASSERT_TRUE(BN_mod_mul(u, num, den, pr, ctx));
                ASSERT_TRUE(BN_bn2lebinpad(u, want, 32) == 32);
                ASSERT_MEMEQ(x, want, 32);
        }
        BN_free(pr), BN_free(y), BN_free(num), BN_free(den), BN_free(u), BN_CTX_free(ctx);
}

/* ---- files ---------------------------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path);
}

static int test_dir(char path[static 64], mode_t mode) {
        int fd;
        strcpy(path, "/tmp/test-tor-keys.XXXXXX");
        ASSERT_NOT_NULL(mkdtemp(path));
        ASSERT_TRUE(chmod(path, mode) == 0);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        return fd;
}

static void test_dir_remove(const char *path) {
        (void) nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Reads a regular file (never through a symlink) and checks its mode and owner. */
static size_t read_key_file(int dfd, const char *name, uid_t uid, gid_t gid, uint8_t *buf, size_t size) {
        _cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        ssize_t n;

        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(fstat(fd, &st) == 0);
        ASSERT_TRUE(S_ISREG(st.st_mode));
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_EQ(st.st_uid, uid);
        ASSERT_EQ(st.st_gid, gid);
        n = read(fd, buf, size);
        ASSERT_TRUE(n >= 0 && (size_t) n < size);
        return (size_t) n;
}

static bool exists(int dfd, const char *name) {
        struct stat st;
        return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

TEST(write_files) {
        static const char secret_header[32] = "== ed25519v1-secret: type0 ==";
        static const char public_header[32] = "== ed25519v1-public: type0 ==";
        _cleanup_(tor_keys_freep) TorKeys *k = NULL;
        _cleanup_(secret_buffer_freep) SecretBuffer *pem = NULL;
        _cleanup_free_ uint8_t *expanded = unhex(rfc_expanded, 64), *pub = unhex(rfc_public, 32);
        _cleanup_close_ int dfd = -EBADF;
        uint8_t blob[TOR_KEYS_PACKED_SIZE], buf[4096];
        uid_t uid = geteuid() == 0 ? 65534 : getuid();
        gid_t gid = geteuid() == 0 ? 65533 : getgid();
        char path[64];
        size_t n;

        fixed_blob(blob);
        ASSERT_OK(tor_keys_unpack(blob, sizeof(blob), &k));
        ASSERT_OK(tor_keys_rsa_private_pem(k, &pem));
        dfd = test_dir(path, 0700);

        ASSERT_OK(tor_keys_write(dfd, k, uid, gid));
        n = read_key_file(dfd, TOR_ED25519_SECRET_KEY_FILE, uid, gid, buf, sizeof(buf));
        ASSERT_EQ(n, 96);
        ASSERT_MEMEQ(buf, secret_header, 32);
        ASSERT_MEMEQ(buf + 32, expanded, 64);
        n = read_key_file(dfd, TOR_ED25519_PUBLIC_KEY_FILE, uid, gid, buf, sizeof(buf));
        ASSERT_EQ(n, 64);
        ASSERT_MEMEQ(buf, public_header, 32);
        ASSERT_MEMEQ(buf + 32, pub, 32);
        n = read_key_file(dfd, TOR_RSA_SECRET_KEY_FILE, uid, gid, buf, sizeof(buf));
        ASSERT_EQ(n, pem->size);
        ASSERT_MEMEQ(buf, pem->data, n);
        ASSERT_FALSE(exists(dfd, "." TOR_RSA_SECRET_KEY_FILE ".tmp"));

        /* again, with (uid_t) -1 and (gid_t) -1: new files, owned by whoever writes them */
        ASSERT_OK(tor_keys_write(dfd, k, (uid_t) -1, (gid_t) -1));
        ASSERT_EQ(read_key_file(dfd, TOR_ED25519_PUBLIC_KEY_FILE, getuid(), getgid(), buf, sizeof(buf)), 64);
        ASSERT_OK(tor_keys_remove(dfd));
        ASSERT_FALSE(exists(dfd, TOR_ED25519_SECRET_KEY_FILE));
        ASSERT_FALSE(exists(dfd, TOR_ED25519_PUBLIC_KEY_FILE));
        ASSERT_FALSE(exists(dfd, TOR_RSA_SECRET_KEY_FILE));
        ASSERT_OK(tor_keys_remove(dfd));
        test_dir_remove(path);
}

TEST(write_replaces_symlink_at_target) {
        _cleanup_close_ int dfd = -EBADF;
        char path[64];
        uint8_t buf[4096];
        mode_t old_umask;
        int r;

        dfd = test_dir(path, 0700);
        ASSERT_TRUE(symlinkat("victim", dfd, TOR_RSA_SECRET_KEY_FILE) == 0);
        ASSERT_TRUE(symlinkat("victim2", dfd, TOR_ED25519_SECRET_KEY_FILE) == 0);
        old_umask = umask(0277); /* and the files are 0600 all the same */
        r = tor_keys_write(dfd, generated(), getuid(), getgid());
        umask(old_umask);
        ASSERT_OK(r);
        /* the links are gone, replaced by files; nothing was written where they pointed */
        ASSERT_TRUE(read_key_file(dfd, TOR_RSA_SECRET_KEY_FILE, getuid(), getgid(), buf, sizeof(buf)) > 0);
        ASSERT_EQ(read_key_file(dfd, TOR_ED25519_SECRET_KEY_FILE, getuid(), getgid(), buf, sizeof(buf)), 96);
        ASSERT_FALSE(exists(dfd, "victim"));
        ASSERT_FALSE(exists(dfd, "victim2"));
        test_dir_remove(path);
}

TEST(write_fails_safely_on_symlink_at_temporary) {
        _cleanup_close_ int dfd = -EBADF;
        char path[64];
        struct stat st;

        dfd = test_dir(path, 0700);
        /* the second file's temporary: the first has been written by then and must go again */
        ASSERT_TRUE(symlinkat("victim", dfd, "." TOR_ED25519_PUBLIC_KEY_FILE ".tmp") == 0);
        ASSERT_ERROR(tor_keys_write(dfd, generated(), getuid(), getgid()), EEXIST);
        ASSERT_FALSE(exists(dfd, "victim"));
        ASSERT_FALSE(exists(dfd, "." TOR_ED25519_SECRET_KEY_FILE ".tmp"));
        ASSERT_FALSE(exists(dfd, TOR_ED25519_SECRET_KEY_FILE));
        ASSERT_FALSE(exists(dfd, TOR_ED25519_PUBLIC_KEY_FILE));
        ASSERT_FALSE(exists(dfd, TOR_RSA_SECRET_KEY_FILE));
        /* not ours: left alone */
        ASSERT_TRUE(fstatat(dfd, "." TOR_ED25519_PUBLIC_KEY_FILE ".tmp", &st, AT_SYMLINK_NOFOLLOW) == 0);
        ASSERT_TRUE(S_ISLNK(st.st_mode));

        /* tor_keys_remove() clears stale temporaries; then writing works */
        ASSERT_OK(tor_keys_remove(dfd));
        ASSERT_FALSE(exists(dfd, "." TOR_ED25519_PUBLIC_KEY_FILE ".tmp"));
        ASSERT_OK(tor_keys_write(dfd, generated(), getuid(), getgid()));
        test_dir_remove(path);
}

TEST(write_failed_rename_leaves_no_temporaries) {
        _cleanup_close_ int dfd = -EBADF;
        char path[64];

        dfd = test_dir(path, 0700);
        ASSERT_TRUE(mkdirat(dfd, TOR_RSA_SECRET_KEY_FILE, 0700) == 0);
        ASSERT_TRUE(tor_keys_write(dfd, generated(), getuid(), getgid()) < 0);
        ASSERT_FALSE(exists(dfd, "." TOR_ED25519_SECRET_KEY_FILE ".tmp"));
        ASSERT_FALSE(exists(dfd, "." TOR_ED25519_PUBLIC_KEY_FILE ".tmp"));
        ASSERT_FALSE(exists(dfd, "." TOR_RSA_SECRET_KEY_FILE ".tmp"));
        test_dir_remove(path);
}

TEST(write_refuses_shared_directory) {
        _cleanup_close_ int dfd = -EBADF, ffd = -EBADF;
        char path[64];

        dfd = test_dir(path, 0770);
        ASSERT_ERROR(tor_keys_write(dfd, generated(), getuid(), getgid()), EPERM);
        ASSERT_TRUE(fchmod(dfd, 0702) == 0);
        ASSERT_ERROR(tor_keys_write(dfd, generated(), getuid(), getgid()), EPERM);
        ASSERT_FALSE(exists(dfd, "." TOR_ED25519_SECRET_KEY_FILE ".tmp"));
        ASSERT_TRUE(fchmod(dfd, 0755) == 0);
        ASSERT_OK(tor_keys_write(dfd, generated(), getuid(), getgid()));

        ffd = openat(dfd, TOR_RSA_SECRET_KEY_FILE, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(ffd >= 0);
        ASSERT_ERROR(tor_keys_write(ffd, generated(), getuid(), getgid()), ENOTDIR);
        ASSERT_ERROR(tor_keys_write(-1, generated(), getuid(), getgid()), EBADF);
        test_dir_remove(path);
}

TEST(family_key) {
        static const char header[32] = "== ed25519v1-secret: fmly-id ==";
        _cleanup_(secret_buffer_freep) SecretBuffer *s1 = NULL, *s2 = NULL;
        _cleanup_free_ uint8_t *seed = unhex(rfc_seed, 32), *expanded = unhex(rfc_expanded, 64);
        _cleanup_close_ int dfd = -EBADF;
        char path[64], id1[TOR_ED25519_ID_LEN + 1], id2[TOR_ED25519_ID_LEN + 1];
        char long_name[TOR_FAMILY_NAME_MAX + 2];
        uint8_t buf[256];

        ASSERT_EQ(header[31], '\0'); /* the tag fills the header to its last byte */
        dfd = test_dir(path, 0700);
        ASSERT_OK(tor_family_key_write(dfd, "fam_1-x", seed, 32, getuid(), getgid()));
        ASSERT_EQ(read_key_file(dfd, "fam_1-x.secret_family_key", getuid(), getgid(), buf, sizeof(buf)), 96);
        ASSERT_MEMEQ(buf, header, 32);
        ASSERT_MEMEQ(buf + 32, expanded, 64);

        ASSERT_OK(tor_family_seed_generate(&s1));
        ASSERT_OK(tor_family_seed_generate(&s2));
        ASSERT_EQ(s1->size, 32);
        ASSERT_OK(tor_family_id(s1->data, s1->size, id1));
        ASSERT_OK(tor_family_id(s2->data, s2->size, id2));
        ASSERT_EQ(strlen(id1), TOR_ED25519_ID_LEN);
        ASSERT_FALSE(streq(id1, id2));

        memset(long_name, 'a', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        ASSERT_ERROR(tor_family_key_write(dfd, "", seed, 32, getuid(), getgid()), EINVAL);
        ASSERT_ERROR(tor_family_key_write(dfd, "../x", seed, 32, getuid(), getgid()), EINVAL);
        ASSERT_ERROR(tor_family_key_write(dfd, "a.b", seed, 32, getuid(), getgid()), EINVAL);
        ASSERT_ERROR(tor_family_key_write(dfd, long_name, seed, 32, getuid(), getgid()), EINVAL);
        ASSERT_ERROR(tor_family_key_write(dfd, NULL, seed, 32, getuid(), getgid()), EINVAL);
        ASSERT_ERROR(tor_family_key_write(dfd, "fam", seed, 33, getuid(), getgid()), EBADMSG);
        long_name[TOR_FAMILY_NAME_MAX] = '\0';
        ASSERT_OK(tor_family_key_write(dfd, long_name, seed, 32, getuid(), getgid()));

        ASSERT_OK(tor_family_key_remove(dfd, "fam_1-x"));
        ASSERT_FALSE(exists(dfd, "fam_1-x.secret_family_key"));
        ASSERT_OK(tor_family_key_remove(dfd, "fam_1-x"));
        ASSERT_ERROR(tor_family_key_remove(dfd, "a/b"), EINVAL);
        test_dir_remove(path);
}

DEFINE_TEST_MAIN
