/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "pcrlock-image.h"

/* patela's systemd-pcrlock component: one directory of variants, one variant per image that may boot.
 *
 *   DIR/600-patela-image.pcrlock.d/1-boot.pcrlock          the image that is running (from the event log)
 *   DIR/600-patela-image.pcrlock.d/2-uki-SHA256.pcrlock    an image predicted with `patela-pcrlock predict`
 *
 * 600 places it after the firmware's separators (500) and before ExitBootServices (700) on PCR 4, and
 * before systemd's phases (850 sysinit, 900 ready) on PCR 11. The running variant sorts first. */

#define COMPONENT_NAME "600-patela-image"
#define VARIANT_BOOT "1-boot"

/* Writes measurements as a .pcrlock variant (atomically, 0644) into DIR/COMPONENT_NAME.pcrlock.d/. */
int component_write(const char *dir, const char *variant, const ImageMeasurements *m);
/* Removes every variant but keep (NULL: all). Returns how many were removed. */
int component_prune(const char *dir, const char *keep);
/* The variant name for a UKI: "2-uki-" and the first 16 hex digits of its SHA-256. */
int component_uki_variant(const uint8_t *data, size_t size, char **ret);
/* The .pcrlock JSON text of measurements. */
int component_format(const ImageMeasurements *m, char **ret);
