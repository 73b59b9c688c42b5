/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* For the server's unit tests: a database file of their own in /tmp, and its removal with SQLite's WAL and
 * shared-memory files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *temp_db(void) {
        char *path = strdup("/tmp/test-server.XXXXXX");
        int fd = mkstemp(path);

        close(fd);
        unlink(path);
        return path;
}

static inline void cleanup_db(const char *path) {
        char p[512];

        unlink(path);
        snprintf(p, sizeof(p), "%s-wal", path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", path);
        unlink(p);
}
