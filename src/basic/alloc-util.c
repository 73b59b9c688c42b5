/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc-util.h"

int secret_buffer_new(size_t size, SecretBuffer **ret) {
        long page = sysconf(_SC_PAGESIZE);
        size_t mapped;
        SecretBuffer *b;
        void *p;

        if (!ret || size > 64 * 1024 * 1024)
                return -EINVAL;

        mapped = (MAX(size, (size_t) 1) + (size_t) page - 1) / (size_t) page * (size_t) page;
        p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return negative_errno();

        /* Best effort: a secret must not end up in a core dump or in swap. mlock() may fail under
         * RLIMIT_MEMLOCK; the node has no swap, so that is not fatal. */
        (void) madvise(p, mapped, MADV_DONTDUMP);
        (void) mlock(p, mapped);

        b = calloc(1, sizeof(*b));
        if (!b) {
                munmap(p, mapped);
                return -ENOMEM;
        }
        *b = (SecretBuffer) { .data = p, .size = size, .mapped = mapped };
        *ret = b;
        return 0;
}

SecretBuffer *secret_buffer_free(SecretBuffer *b) {
        if (!b)
                return NULL;
        explicit_bzero(b->data, b->mapped);
        (void) munlock(b->data, b->mapped);
        (void) munmap(b->data, b->mapped);
        free(b);
        return NULL;
}

void *erase_and_free_sized(void *p, size_t size) {
        if (p)
                explicit_bzero(p, size);
        free(p);
        return NULL;
}

int byte_buffer_append(ByteBuffer *b, const void *p, size_t n) {
        if (n == 0)
                return 0;
        if (n > SIZE_MAX - b->size - 256)
                return -E2BIG;
        if (b->size + n > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->size + n + 256);
                uint8_t *q = realloc(b->data, want);
                if (!q)
                        return -ENOMEM;
                b->data = q;
                b->allocated = want;
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
        return 0;
}

int byte_buffer_append_le(ByteBuffer *b, uint64_t v, size_t n) {
        uint8_t le[8];

        assert(n <= sizeof(le));
        for (size_t i = 0; i < n; i++)
                le[i] = (uint8_t) (v >> (8 * i));
        return byte_buffer_append(b, le, n);
}

void byte_buffer_done(ByteBuffer *b) {
        free(b->data);
        *b = (ByteBuffer) {};
}
