/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "macro.h"

int safe_close(int fd);
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Reads a whole regular file of at most max_size bytes. -E2BIG if it is larger. */
int read_full_file(const char *path, size_t max_size, void **ret, size_t *ret_size);

/* Replaces path with content, atomically: written in full to a hidden temporary beside it (".NAME.RANDOM": the
 * same file system, a name that readers of the directory skip), given mode whatever the umask, fsync'd, then
 * renamed over path. Readers see the old file or the new one, never a part. The directory must exist; the
 * temporary is never opened through a symlink and is removed on failure. */
int write_file_atomic(const char *path, const char *content, mode_t mode);
