/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "pcrlock-eventlog.h"

/* The measurements that belong to "the image" — what changes when the UKI changes — in the order a boot
 * makes them:
 *   PCR 4   the firmware's Authenticode digest of the UKI (EV_EFI_BOOT_SERVICES_APPLICATION)
 *   PCR 11  systemd-stub: each UKI section's name (with its NUL) and contents, in the UKI
 *           specification's order, .pcrsig excepted (EV_IPL)
 *   PCR 9   the kernel's EFI stub: the initrd it was handed (here the UKI's .initrd) and its command line
 *           (EV_EVENT_TAG)
 * Firmware events (PCR 0–7 separators, boot services actions) and systemd's userspace phases on PCR 11
 * are other components (systemd-pcrlock's own); docs/image.md says which. */

#define IMAGE_RECORDS_MAX 64U

typedef struct ImageRecord {
        uint32_t pcr;
        uint8_t sha256[32];
        char what[32];          /* for people: ".initrd", "authenticode", "initrd", "cmdline" ... */
} ImageRecord;

typedef struct ImageMeasurements {
        size_t n;
        ImageRecord records[IMAGE_RECORDS_MAX];
        /* From the log: the firmware measured the UKI before the PCR 4 separator (qemu -kernel) */
        bool early_load;
} ImageMeasurements;

/* PCRs a component of ours touches. */
#define IMAGE_PCR_MASK ((1U << 4) | (1U << 9) | (1U << 11))

/* Predicts the records from the UKI file. -EBADMSG if it is not a UKI (no .linux section). */
int image_measurements_from_uki(const uint8_t *data, size_t size, ImageMeasurements *ret);

/* The records of this boot, from the firmware's event log. */
int image_measurements_from_log(const TcgEvent *events, size_t n, ImageMeasurements *ret);

/* The same records in the same order (what a prediction must give for the image that booted). */
bool image_measurements_equal(const ImageMeasurements *a, const ImageMeasurements *b) _pure_;
