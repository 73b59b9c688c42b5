/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot-error.h"
#include "tcg-eventlog.h"
#include "userspace-log.h"

/* The SHA-256 bank of PCRs 0–23, as a boot's two logs explain it, and its comparison with a quote. */

#define PCR_MASK_ALL ((UINT32_C(1) << TCG_PCRS) - 1)

typedef struct PcrValues {
        uint32_t mask;                  /* the PCRs that hold a value */
        uint8_t sha256[TCG_PCRS][TCG_SHA256_SIZE];
} PcrValues;

/* value = SHA-256(value || digest), TPM2_PCR_Extend of the SHA-256 bank. */
void pcr_extend_sha256(uint8_t value[static TCG_SHA256_SIZE], const uint8_t digest[static TCG_SHA256_SIZE]);

/* Replays both logs into every PCR (ret->mask = PCR_MASK_ALL). Each PCR starts at its reset value (zeros;
 * 0xff… for 17–22, the dynamic-launch PCRs; PCR 0's last byte is the firmware log's StartupLocality), then
 * takes the firmware log's events, EV_NO_ACTION skipped — every one of them, not only the header — then the
 * userspace log's records: everything the firmware measured happened before systemd ran. That is how PCR 11
 * holds systemd-stub's UKI sections (measured through the firmware) followed by systemd's boot phases.
 * Either log may be NULL (absent: nothing measured there). Cannot fail. */
void pcr_replay(const TcgLog *firmware, const UserspaceLog *userspace, PcrValues *ret);

/* Sets one PCR's value, from a quote. -EINVAL for a PCR beyond 23 or a size other than SHA-256's. */
int pcr_values_set(PcrValues *v, unsigned pcr, const void *digest, size_t size);

/* Compares the PCRs in mask:
 *   0        equal
 *   -ECHRNG  a PCR in mask is missing from one side (not quoted, not replayed)
 *   -EUCLEAN a PCR differs: the logs do not account for the quoted value; reterr names the lowest such PCR */
int pcr_values_compare(const PcrValues *replayed, const PcrValues *quoted, uint32_t mask, BootError *reterr);
