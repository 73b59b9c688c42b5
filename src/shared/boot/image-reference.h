/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot-error.h"
#include "macro.h"
#include "os-release.h"

/* An image's reference: what booting its UKI measures, as `patela-pcrlock reference` prints it and
 * mkosi/build publishes it next to the UKI (patela.reference.json). patela-pcrlock predicts an image from
 * it on a node (without the 40 MB UKI), patela-server registers it as an image its nodes may boot.
 * docs/image.md describes the format and its versions. Nothing here logs. */

/* The measurements that belong to "the image" — what changes when the UKI changes — in the order a boot
 * makes them:
 *   PCR 4   the firmware's Authenticode digest of the UKI (EV_EFI_BOOT_SERVICES_APPLICATION), and of the
 *           kernel in its .linux section, which systemd-stub starts with LoadImage()
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
        char what[32];          /* for people: ".initrd", "authenticode UKI", "cmdline" ... */
} ImageRecord;

typedef struct ImageMeasurements {
        size_t n;
        ImageRecord records[IMAGE_RECORDS_MAX];
        /* Read from a firmware log only, never part of a reference: the firmware measured the UKI before
         * the PCR 4 separator (qemu -kernel). */
        bool early_load;
} ImageMeasurements;

/* PCRs a component of ours touches. */
#define IMAGE_PCR_MASK ((1U << 4) | (1U << 9) | (1U << 11))

/* BootError.log of a reference's problems. */
#define BOOT_LOG_REFERENCE "image reference"

/* Larger than any reference of a UKI (3 KB with 20 records); the parser refuses more. */
#define IMAGE_REFERENCE_SIZE_MAX (64U * 1024U)
/* What patela-pcrlock reads of a UKI (PE_SIZE_MAX). */
#define IMAGE_UKI_SIZE_MAX (1024ULL * 1024ULL * 1024ULL)

/* PCR 11 after each phase of a boot of the image: systemd-stub measured the UKI's sections (boot), then
 * systemd-pcrphase extended the words "sysinit" and "ready". This image has no initrd phase. */
typedef enum ImagePhase {
        IMAGE_PHASE_BOOT,
        IMAGE_PHASE_SYSINIT,
        IMAGE_PHASE_READY,
        _IMAGE_PHASE_MAX,
        _IMAGE_PHASE_INVALID = -EINVAL,
} ImagePhase;

const char *image_phase_to_string(ImagePhase p) _const_;

typedef struct ImageReference {
        unsigned version;                       /* of the format it was read in (1 or 2), or 2 when made */
        uint8_t uki_sha256[32];
        uint64_t uki_size;                      /* 0: unknown (a version 1 reference may lack it) */
        /* PCR 4: the first PCR 4 record is the UKI's Authenticode digest, a second one the kernel's. */
        uint8_t uki_authenticode[32];
        bool have_kernel_authenticode;
        uint8_t kernel_authenticode[32];
        /* The values PCR 9 and 11 reach from zero: the image's records alone. */
        uint8_t pcr9[32];
        uint8_t pcr11[_IMAGE_PHASE_MAX][32];
        OsRelease os_release;                   /* empty in version 1 */
        ImageMeasurements measurements;
} ImageReference;

/* The reference of a UKI from its records, its SHA-256 and size and its os-release identity (NULL: none):
 * derives the Authenticode digests and the PCR values. -EBADMSG without a PCR 4 record or with more than
 * two (a boot of a UKI loads two images). */
int image_reference_init(ImageReference *ret, const ImageMeasurements *m, const uint8_t uki_sha256[static 32],
                         uint64_t uki_size, const OsRelease *os);

/* Writes the reference as JSON (pretty, ending in a newline): version 2, or version 1 for a reference read in
 * version 1 (its "size" only if it had one). */
int image_reference_format(const ImageReference *ref, char **ret);

/* Strict: the fields of version 1 or 2 and nothing else, no key twice, records on PCR 4, 9 and 11 only,
 * digests of 64 lower-case hex digits, and every derived value (Authenticode digests, PCR 9 and 11) equal
 * to what the records give. text need not be NUL-terminated. -EBADMSG otherwise, -E2BIG past
 * IMAGE_REFERENCE_SIZE_MAX or IMAGE_RECORDS_MAX records; reterr (may be NULL) says what is wrong, with the
 * PCR when one is concerned (BOOT_LOG_REFERENCE, the reference as a whole: JSON has no byte offsets). */
int image_reference_parse(const char *text, size_t size, ImageReference *ret, BootError *reterr);

/* The records of one PCR extended into zeros (SHA-256). */
void image_reference_replay(const ImageMeasurements *m, uint32_t pcr, uint8_t ret[static 32]);

/* PCR 11 after each phase (see ImagePhase). */
void image_reference_pcr11_phases(const ImageMeasurements *m, uint8_t ret[static _IMAGE_PHASE_MAX][32]);
