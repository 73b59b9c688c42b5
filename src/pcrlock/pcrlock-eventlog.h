/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The firmware's TPM event log in the TCG PC Client "crypto agile" format (what Linux exposes as
 * /sys/kernel/security/tpm0/binary_bios_measurements): a SHA-1-format header event with the
 * Spec ID Event03 structure, then TCG_PCR_EVENT2 records. Only the SHA-256 digests are kept.
 * Nothing here logs. */

#define TCG_EVENTS_MAX 4096U
#define TCG_EVENT_DATA_MAX (1024U * 1024U)
#define TCG_LOG_SIZE_MAX (16U * 1024U * 1024U)

#define EV_NO_ACTION 0x00000003U
#define EV_SEPARATOR 0x00000004U
#define EV_EVENT_TAG 0x00000006U
#define EV_IPL 0x0000000DU
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003U

typedef struct TcgEvent {
        uint32_t pcr;
        uint32_t type;
        bool have_sha256;
        uint8_t sha256[32];
        const uint8_t *data;            /* points into the log */
        uint32_t data_size;
} TcgEvent;

/* Parses the log; events point into data, which must outlive them. -EBADMSG for a malformed log, -E2BIG
 * past the limits above, -EOPNOTSUPP for a log without a SHA-256 bank. */
int tcg_log_parse(const uint8_t *data, size_t size, TcgEvent **ret, size_t *ret_n);

/* Replays the events of one PCR (SHA-256), EV_NO_ACTION excluded, starting from zeros (or from the
 * startup locality for PCR 0). */
void tcg_log_replay(const TcgEvent *events, size_t n, uint32_t pcr, uint8_t ret[static 32]);

/* SHA-256 extend: value = SHA-256(value || digest). */
void pcr_extend_sha256(uint8_t value[static 32], const uint8_t digest[static 32]);
