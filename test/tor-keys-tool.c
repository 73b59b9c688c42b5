/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small front end to src/shared/tor/tor-keys for test-tor-keys.sh, which checks its files with tor itself.
 *
 *   tor-keys-tool generate DIR       new relay keys, stored and restored once as on a node, written into
 *                                    DIR/keys; prints "rsa FP", "rsa-spaced FP" and "ed25519 ID"
 *   tor-keys-tool family DIR NAME    a new family key in DIR/keys/NAME.secret_family_key; prints
 *                                    "FamilyId ID"
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "tor-keys.h"

static int open_keys_dir(const char *dir) {
        _cleanup_close_ int dfd = -EBADF;
        int fd;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        if (mkdirat(dfd, "keys", 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(dfd, "keys", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

static int verb_generate(const char *dir) {
        _cleanup_(tor_keys_freep) TorKeys *k = NULL, *restored = NULL;
        _cleanup_(secret_buffer_freep) SecretBuffer *packed = NULL;
        _cleanup_close_ int fd = -EBADF;
        char spaced[TOR_RSA_FINGERPRINT_SPACED_LEN + 1];
        int r;

        r = tor_keys_generate(&k);
        if (r < 0)
                return fprintf(stderr, "generate: %s\n", strerror(-r)), r;
        /* What tor reads is what a node writes after unsealing: the keys rebuilt from the stored form. */
        r = tor_keys_pack(k, &packed);
        if (r >= 0)
                r = tor_keys_unpack(packed->data, packed->size, &restored);
        if (r < 0)
                return fprintf(stderr, "pack/unpack: %s\n", strerror(-r)), r;

        fd = open_keys_dir(dir);
        if (fd < 0)
                return fprintf(stderr, "%s/keys: %s\n", dir, strerror(-fd)), fd;
        r = tor_keys_write(fd, restored, getuid(), getgid());
        if (r < 0)
                return fprintf(stderr, "write: %s\n", strerror(-r)), r;

        r = tor_fingerprint_spaced(tor_keys_rsa_fingerprint(restored), spaced);
        if (r < 0)
                return r;
        printf("rsa %s\nrsa-spaced %s\ned25519 %s\n", tor_keys_rsa_fingerprint(restored), spaced,
               tor_keys_ed25519_id(restored));
        return 0;
}

static int verb_family(const char *dir, const char *name) {
        _cleanup_(secret_buffer_freep) SecretBuffer *seed = NULL;
        _cleanup_close_ int fd = -EBADF;
        char id[TOR_ED25519_ID_LEN + 1];
        int r;

        r = tor_family_seed_generate(&seed);
        if (r >= 0)
                r = tor_family_id(seed->data, seed->size, id);
        if (r < 0)
                return fprintf(stderr, "family: %s\n", strerror(-r)), r;
        fd = open_keys_dir(dir);
        if (fd < 0)
                return fprintf(stderr, "%s/keys: %s\n", dir, strerror(-fd)), fd;
        r = tor_family_key_write(fd, name, seed->data, seed->size, getuid(), getgid());
        if (r < 0)
                return fprintf(stderr, "write: %s\n", strerror(-r)), r;
        printf("FamilyId %s\n", id);
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        if (argc == 3 && streq(argv[1], "generate"))
                r = verb_generate(argv[2]);
        else if (argc == 4 && streq(argv[1], "family"))
                r = verb_family(argv[2], argv[3]);
        else {
                fprintf(stderr, "usage: %s generate DIR | family DIR NAME\n", argv[0]);
                return 2;
        }
        return r < 0 ? 1 : 0;
}
