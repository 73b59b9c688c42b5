/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}

int read_full_file(const char *path, size_t max_size, void **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, allocated = 0;

        if (!path || !ret || !ret_size)
                return -EINVAL;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();

        /* Files in /sys and /proc report a size of 0 or 4096: read until EOF, bounded by max_size. */
        for (;;) {
                ssize_t n;

                if (size == allocated) {
                        size_t want = allocated == 0 ? 4096 : allocated * 2;
                        char *p;

                        if (allocated > max_size)
                                return -E2BIG;
                        want = MIN(want, max_size + 1);
                        p = realloc(buf, want + 1);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = want;
                }

                n = read(fd, buf + size, allocated - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max_size)
                        return -E2BIG;
        }

        buf[size] = '\0'; /* convenience for text files; not counted in the size */
        *ret = TAKE_PTR(buf);
        *ret_size = size;
        return 0;
}

int write_file_atomic(const char *path, const char *content, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size = strlen(content), done = 0;
        const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
        uint64_t rnd = 0;
        int r;

        if (!*name)
                return -EINVAL;
        /* Without randomness the name ends in zeros: O_EXCL still refuses one that exists. (void) does not
         * silence warn_unused_result, which _FORTIFY_SOURCE puts on getrandom(). */
        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
                rnd = 0;
        if (asprintf(&tmp, "%.*s.%s.%016llx", slash ? (int) (name - path) : 0, path, name,
                     (unsigned long long) rnd) < 0) {
                tmp = NULL;
                return -ENOMEM;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return negative_errno();
        while (done < size) {
                ssize_t n = write(fd, content + done, size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? negative_errno() : -EIO;
                        goto fail;
                }
                done += (size_t) n;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                goto fail;
        }
        return 0;
fail:
        (void) unlink(tmp);
        return r;
}
