/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
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
/* Where the firmware measures the UKI itself before "Calling EFI Application" and the separator — as OVMF
 * does for a kernel given with qemu -kernel — that one event is a component of its own, before systemd's
 * 350-action-efi-application. lock-boot decides from the log, predict follows the running boot. */
#define COMPONENT_LOAD_NAME "340-patela-uki-load"
#define VARIANT_BOOT "1-boot"

/* Writes measurements as a .pcrlock variant (atomically, 0644) into DIR/NAME.pcrlock.d/. */
int component_write(const char *dir, const char *name, const char *variant, const ImageMeasurements *m);
/* Writes the image's variant: all records into COMPONENT_NAME, or with early_load the first (the UKI's
 * Authenticode event) into COMPONENT_LOAD_NAME and the others into COMPONENT_NAME. */
int component_write_image(const char *dir, const char *variant, const ImageMeasurements *m, bool early_load);
/* Whether the running boot's variant has the early UKI event. */
bool component_early_load(const char *dir);
/* Removes every variant of both components but keep (NULL: all). Returns how many were removed. */
int component_prune(const char *dir, const char *keep);
/* The variant name for a UKI: "2-uki-" and the first 16 hex digits of its SHA-256. */
int component_uki_variant(const uint8_t *data, size_t size, char **ret);
/* The .pcrlock JSON text of measurements. */
int component_format(const ImageMeasurements *m, char **ret);

/* systemd-pcrlock lock-firmware-code puts every pre-separator event of the code PCRs into its "early"
 * component — with qemu -kernel that includes the UKI's own PCR 4 event, which would then be predicted for
 * every image. Removes that record from DIR/FIRMWARE_EARLY_FILE (it is COMPONENT_LOAD_NAME's). Returns the
 * number of records removed, 0 if the file does not exist. */
#define FIRMWARE_EARLY_FILE "250-firmware-code-early.pcrlock.d/generated.pcrlock"
int component_unlock_firmware_uki(const char *dir, const uint8_t uki_sha256[static 32]);
