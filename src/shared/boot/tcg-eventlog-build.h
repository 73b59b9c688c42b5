/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "tcg-eventlog.h"

/* Writes synthetic firmware event logs in the format tcg_log_parse() reads, for tests: the unit tests and
 * their mutations, the fuzz seeds, test/pcrlock/make-event-log. The header is a Spec ID Event03 with the
 * given banks (platformClass 0, version 2.0, errata 0, uintnSize 2, no vendor info), as edk2 writes it. */

typedef struct TcgLogBuilder TcgLogBuilder;

/* banks: TPM_ALG_SHA1, _SHA256, _SHA384, _SHA512, each at most once (-EINVAL otherwise, -EOPNOTSUPP for
 * another bank). */
int tcg_log_builder_new(const uint16_t *banks, size_t n_banks, TcgLogBuilder **ret);
TcgLogBuilder *tcg_log_builder_free(TcgLogBuilder *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(TcgLogBuilder *, tcg_log_builder_free);

/* An event whose digest in every bank is that bank's hash of hashed (the data itself, for the event types
 * whose digest the PFP ties to their data; an image or a firmware volume otherwise). */
int tcg_log_builder_add(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const void *hashed, size_t hashed_size,
                        const void *data, size_t data_size);
/* An event with this SHA-256 digest; the other banks get their hash of it (synthetic, but consistent).
 * sha256 NULL: zero digests in every bank, as for EV_NO_ACTION. */
int tcg_log_builder_add_digest(TcgLogBuilder *b, uint32_t pcr, uint32_t type,
                               const uint8_t sha256[TCG_SHA256_SIZE], const void *data, size_t data_size);
/* The EV_NO_ACTION "StartupLocality" event. */
int tcg_log_builder_add_startup_locality(TcgLogBuilder *b, uint8_t locality);

/* The banks, in order, and the digest in bank i of the last event added (NULL before the first): what
 * tpm2_pcrextend needs to make a TPM agree with the log. */
const TcgAlgorithm *tcg_log_builder_banks(const TcgLogBuilder *b, size_t *ret_n);
const uint8_t *tcg_log_builder_last_digest(const TcgLogBuilder *b, size_t i);
/* The log so far; valid until the next add. */
const uint8_t *tcg_log_builder_data(const TcgLogBuilder *b, size_t *ret_size);
