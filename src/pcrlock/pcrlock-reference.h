/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "pcrlock-image.h"

/* The reference of an image, as `patela-pcrlock reference` prints it and mkosi/build publishes it next to
 * the UKI (patela.reference.json): the UKI's SHA-256 and size, its records, the PCR values they lead to.
 * A node can predict an image from its reference alone, without the 40 MB UKI. */

#define REFERENCE_SIZE_MAX (64U * 1024U)

int reference_format(const ImageMeasurements *m, const uint8_t uki_sha256[static 32], uint64_t uki_size,
                     char **ret);
/* Strict: the fields reference_format() writes, records on PCR 4, 9 and 11 only, digests of 64 hex digits.
 * -EBADMSG otherwise, -E2BIG past REFERENCE_SIZE_MAX or IMAGE_RECORDS_MAX records. */
int reference_parse(const char *text, size_t size, ImageMeasurements *ret, uint8_t ret_uki_sha256[static 32]);

/* PCR 11 after the stub, after "sysinit", after "ready" (systemd-pcrextend measures the words). */
void reference_pcr11_phases(const ImageMeasurements *m, uint8_t boot[static 32], uint8_t sysinit[static 32],
                            uint8_t ready[static 32]);
/* The records of one PCR extended from zeros. */
void reference_replay(const ImageMeasurements *m, uint32_t pcr, uint8_t ret[static 32]);
