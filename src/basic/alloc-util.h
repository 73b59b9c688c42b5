/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* A buffer for secrets: wiped before it is freed, excluded from core dumps, locked when possible. */
typedef struct SecretBuffer {
        uint8_t *data;
        size_t size;
        size_t mapped;
} SecretBuffer;

int secret_buffer_new(size_t size, SecretBuffer **ret);
SecretBuffer *secret_buffer_free(SecretBuffer *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(SecretBuffer *, secret_buffer_free);

/* Wipes and frees a heap buffer of the given size. Returns NULL. */
void *erase_and_free_sized(void *p, size_t size);

static inline void *memdup(const void *p, size_t size) {
        void *q = malloc(size > 0 ? size : 1);
        if (q && size > 0)
                memcpy(q, p, size);
        return q;
}

/* A growable byte buffer: append, then take data (free() it). Zero-initialise to start. */
typedef struct ByteBuffer {
        uint8_t *data;
        size_t size, allocated;
} ByteBuffer;

/* -E2BIG if size would overflow, -ENOMEM. */
int byte_buffer_append(ByteBuffer *b, const void *p, size_t n);
/* The n low bytes of v, little endian (n ≤ 8). */
int byte_buffer_append_le(ByteBuffer *b, uint64_t v, size_t n);
void byte_buffer_done(ByteBuffer *b);
