/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "keyd-state.h"
#include "tor-nickname.h"

#define MAGIC "PTS1"
#define MAGIC_SIZE 4U
#define NONCE_SIZE KEYD_GCM_NONCE_SIZE
#define TAG_SIZE KEYD_GCM_TAG_SIZE
#define HEADER_SIZE (MAGIC_SIZE + NONCE_SIZE + TAG_SIZE)
/* The KEK encrypts the store; the state key is another key, derived under a label of its own. */
#define HKDF_LABEL "patela-keyd tor state v1"

_Static_assert(HEADER_SIZE == KEYD_SEALED_STATE_OVERHEAD, "the protocol bounds the seal");

static int derive_key(const uint8_t kek[static KEYD_KEK_SIZE], uint8_t ret[static 32]) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *) kek, KEYD_KEK_SIZE),
                OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *) HKDF_LABEL, strlen(HKDF_LABEL)),
                OSSL_PARAM_construct_end(),
        };
        int ok = ctx && EVP_KDF_derive(ctx, ret, 32, params) == 1;

        EVP_KDF_CTX_free(ctx);
        EVP_KDF_free(kdf);
        return ok ? 0 : -EIO;
}

/* magic ‖ name ‖ NUL ‖ fingerprint */
static size_t build_aad(const char *name, const char *rsa_fingerprint, uint8_t *aad, size_t size) {
        int n = snprintf((char *) aad, size, MAGIC "%s%c%s", name, 0, rsa_fingerprint);
        return n > 0 && (size_t) n < size ? (size_t) n : 0;
}

int tor_state_seal(const uint8_t kek[static KEYD_KEK_SIZE], const char *name, const char *rsa_fingerprint,
                   const void *plain, size_t size, uint8_t **ret, size_t *ret_size) {
        uint8_t key[32], aad[MAGIC_SIZE + TOR_NICKNAME_MAX + 1 + 64];
        size_t aad_size = build_aad(name, rsa_fingerprint, aad, sizeof(aad));
        _cleanup_free_ uint8_t *blob = NULL;
        int r;

        if (size > KEYD_TOR_STATE_MAX)
                return -EFBIG;
        if (aad_size == 0)
                return -EINVAL;
        blob = malloc(HEADER_SIZE + size + 1);
        if (!blob)
                return -ENOMEM;
        memcpy(blob, MAGIC, MAGIC_SIZE);
        if (RAND_bytes(blob + MAGIC_SIZE, NONCE_SIZE) != 1)
                return -EIO;
        r = derive_key(kek, key);
        if (r >= 0)
                r = keyd_aes_gcm(/* encrypt= */ true, key, blob + MAGIC_SIZE, aad, aad_size, plain, size, blob + HEADER_SIZE,
                         blob + MAGIC_SIZE + NONCE_SIZE);
        explicit_bzero(key, sizeof(key));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(blob);
        *ret_size = HEADER_SIZE + size;
        return 0;
}

int tor_state_open(const uint8_t kek[static KEYD_KEK_SIZE], const char *name, const char *rsa_fingerprint,
                   const uint8_t *blob, size_t size, SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *plain = NULL;
        uint8_t key[32], tag[TAG_SIZE], aad[MAGIC_SIZE + TOR_NICKNAME_MAX + 1 + 64];
        size_t aad_size = build_aad(name, rsa_fingerprint, aad, sizeof(aad));
        int r;

        if (aad_size == 0)
                return -EINVAL;
        if (size < HEADER_SIZE || size > KEYD_SEALED_STATE_MAX || memcmp(blob, MAGIC, MAGIC_SIZE) != 0)
                return -EBADMSG;
        r = secret_buffer_new(size - HEADER_SIZE + 1, &plain);
        if (r < 0)
                return r;
        memcpy(tag, blob + MAGIC_SIZE + NONCE_SIZE, TAG_SIZE);
        r = derive_key(kek, key);
        if (r >= 0)
                r = keyd_aes_gcm(/* encrypt= */ false, key, blob + MAGIC_SIZE, aad, aad_size, blob + HEADER_SIZE,
                         size - HEADER_SIZE, plain->data, tag);
        explicit_bzero(key, sizeof(key));
        if (r < 0)
                return r;
        plain->size = size - HEADER_SIZE;
        *ret = TAKE_PTR(plain);
        return 0;
}

/* Reads a regular file of at most max bytes from an open fd. */
static int read_bounded(int fd, size_t max, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t n = 0;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        if ((uint64_t) st.st_size > max)
                return -EFBIG;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 1 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n > max) /* grew while read */
                        return -EFBIG;
        }
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int tor_state_read(const char *runtime_directory, const char *name, SecretBuffer **ret) {
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        SecretBuffer *b;
        char path[PATH_MAX];
        size_t n = 0;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        /* RUNTIME/NAME is systemd's symlink into /run/private (DynamicUser=); below it nothing is followed. */
        snprintf(path, sizeof(path), "%s/%s", runtime_directory, name);
        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return negative_errno();
        fd = openat(dir, "data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        dir = safe_close(dir);
        dir = TAKE_FD(fd);
        fd = openat(dir, "state", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return errno == ELOOP ? -EBADF : negative_errno();
        r = read_bounded(fd, KEYD_TOR_STATE_MAX, &buf, &n);
        if (r < 0) {
                return r;
        }
        r = secret_buffer_new(n + 1, &b);
        if (r >= 0) {
                memcpy(b->data, buf, n);
                b->size = n;
                *ret = b;
        }
        explicit_bzero(buf, n);
        return r;
}

static int open_dir(const char *directory, const char *name, bool create, int *ret) {
        _cleanup_close_ int base = -EBADF, fd = -EBADF;

        if (create && mkdir(directory, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        base = open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (base < 0)
                return negative_errno();
        if (create && mkdirat(base, name, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        *ret = TAKE_FD(fd);
        return 0;
}

/* Writes data as file in dir atomically: an O_EXCL temporary, owned and 0600 before the content, renamed. */
static int write_at(int dir, const char *file, const void *data, size_t size, uid_t uid, gid_t gid) {
        _cleanup_close_ int fd = -EBADF;
        char tmp[NAME_MAX + 1];
        const uint8_t *p = data;
        int r;

        snprintf(tmp, sizeof(tmp), ".%s.tmp", file);
        fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST) {
                /* Left by a write that was killed half-way: ours, never read. */
                (void) unlinkat(dir, tmp, 0);
                fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        }
        if (fd < 0)
                return negative_errno();
        if (fchown(fd, uid, gid) < 0) {
                r = negative_errno();
                goto fail;
        }
        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        r = k < 0 ? negative_errno() : -EIO;
                        goto fail;
                }
                p += k;
                size -= (size_t) k;
        }
        if (renameat(dir, tmp, dir, file) < 0) {
                r = negative_errno();
                goto fail;
        }
        return 0;
fail:
        (void) unlinkat(dir, tmp, 0);
        return r;
}

int keyd_write_relay_file(const char *directory, const char *name, const char *file, const void *data, size_t size,
                          uid_t uid, gid_t gid) {
        _cleanup_close_ int dir = -EBADF;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        r = open_dir(directory, name, /* create= */ true, &dir);
        if (r < 0)
                return r;
        return write_at(dir, file, data, size, uid, gid);
}

int keyd_refresh_relay_file(const char *directory, const char *name, const char *file, const void *data,
                            size_t size) {
        _cleanup_close_ int dir = -EBADF;
        struct stat st;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        r = open_dir(directory, name, /* create= */ false, &dir);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (fstat(dir, &st) < 0)
                return negative_errno();
        r = write_at(dir, file, data, size, st.st_uid, st.st_gid);
        return r < 0 ? r : 1;
}

int keyd_read_relay_file(const char *directory, const char *name, const char *file, size_t max, uint8_t **ret,
                         size_t *ret_size) {
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        int r;

        if (!tor_nickname_ok(name))
                return -EINVAL;
        r = open_dir(directory, name, /* create= */ false, &dir);
        if (r < 0)
                return r;
        fd = openat(dir, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        return read_bounded(fd, max, ret, ret_size);
}
