/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image-reference.h"
#include "macro.h"
#include "tcg-eventlog.h"

/* The image's records (ImageMeasurements) and what they mean: src/shared/boot/image-reference.h. */

/* Predicts the records from the UKI file. -EBADMSG if it is not a UKI (no .linux section). */
int image_measurements_from_uki(const uint8_t *data, size_t size, ImageMeasurements *ret);

/* The records of this boot, from the firmware's event log (tcg_log_parse(): every event has a SHA-256
 * digest). */
int image_measurements_from_log(const TcgEvent *events, size_t n, ImageMeasurements *ret);

/* The same records in the same order (what a prediction must give for the image that booted). */
bool image_measurements_equal(const ImageMeasurements *a, const ImageMeasurements *b) _pure_;
