/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* The value of one hex digit ([0-9a-fA-F]), or -EINVAL. */
int unhexchar(char c) _const_;
/* Lower-case hex. Returns a NUL-terminated string or NULL on OOM. */
char *hexmem(const void *p, size_t size);
/* The same into ret, which has room for 2 · size + 1 bytes; returns ret. */
char *hexmem_to(const void *p, size_t size, char *ret);
/* Strict: even length, [0-9a-fA-F] only. -EINVAL on bad input, -E2BIG past max_size decoded bytes. */
int unhexmem(const char *s, size_t max_size, void **ret, size_t *ret_size);

/* RFC 4648 base64 with padding. */
char *base64mem(const void *p, size_t size);
/* Strict RFC 4648 decoding: no whitespace, canonical padding, no trailing bits set.
 * -EINVAL on bad input, -E2BIG if the decoded data would exceed max_size. The returned buffer has one
 * extra NUL byte after ret_size bytes. */
int unbase64mem(const char *s, size_t max_size, void **ret, size_t *ret_size);

/* Crockford-style base32 (no padding) of the given bytes, for human-readable fingerprints. */
char *base32mem(const void *p, size_t size);
