/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* OpenSSL 3 looks an algorithm up — by name, under a lock, in its providers — on every SHA256() one-shot and
 * on every EVP_MD_fetch(): 6 % of an event-log replay, a few per cent of the server's authentication. These
 * are fetched once per process and kept. name: OpenSSL's, "SHA1", "SHA256", "SHA384" or "SHA512" (any case);
 * NULL for any other name or if OpenSSL lacks it. */
const EVP_MD *digest_md(const char *name);

/* SHA-256 of size bytes. False only if OpenSSL fails (out of memory); ret is then all zeros, which matches no
 * digest a caller compares with, so a caller that cannot return an error still fails closed. */
bool sha256_digest(const void *p, size_t size, uint8_t ret[static 32]);
