/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot-error.h"
#include "macro.h"

/* The firmware's event log in the TCG PC Client "crypto agile" format (TCG PC Client Platform Firmware
 * Profile, PFP: what Linux exposes as /sys/kernel/security/tpm0/binary_bios_measurements):
 *
 *   header   TCG_PCClientPCREvent (the SHA-1 layout: pcrIndex 0, eventType EV_NO_ACTION, 20 zero bytes,
 *            eventDataSize, event) whose event is TCG_EfiSpecIDEvent "Spec ID Event03": the banks of the
 *            log and their digest sizes
 *   events   TCG_PCR_EVENT2: pcrIndex, eventType, TPML_DIGEST_VALUES (count, {hashAlg, digest}…),
 *            eventSize, event — every event carries one digest of every bank of the header
 *
 * all little endian. The parser is bounded and fails closed: every size is checked before it is read, the
 * Spec ID header is required, a bank of known size announced with another size is refused, a digest of a
 * bank the header did not announce is refused (its size is unknown), a log without SHA-256 is refused, as is
 * anything left over. It keeps every event with its type and data, so that a judge can refuse what it does
 * not expect; only the SHA-256 digest is kept, the bank patela replays. Nothing here logs. */

#define TCG_LOG_SIZE_MAX (16U * 1024U * 1024U)
#define TCG_EVENTS_MAX 4096U
#define TCG_EVENT_DATA_MAX (1024U * 1024U)
#define TCG_ALGORITHMS_MAX 8U
#define TCG_PCRS 24U
#define TCG_SHA256_SIZE 32U

/* TPM_ALG_ID values of the banks (TCG Algorithm Registry). */
#define TPM_ALG_SHA1 0x0004U
#define TPM_ALG_SHA256 0x000BU
#define TPM_ALG_SHA384 0x000CU
#define TPM_ALG_SHA512 0x000DU
#define TPM_ALG_SM3_256 0x0012U
#define TPM_ALG_SHA3_256 0x0027U
#define TPM_ALG_SHA3_384 0x0028U
#define TPM_ALG_SHA3_512 0x0029U

/* Event types (PFP §10.4.1 "Event Types"). */
#define EV_PREBOOT_CERT 0x00000000U
#define EV_POST_CODE 0x00000001U
#define EV_UNUSED 0x00000002U
#define EV_NO_ACTION 0x00000003U
#define EV_SEPARATOR 0x00000004U
#define EV_ACTION 0x00000005U
#define EV_EVENT_TAG 0x00000006U
#define EV_S_CRTM_CONTENTS 0x00000007U
#define EV_S_CRTM_VERSION 0x00000008U
#define EV_CPU_MICROCODE 0x00000009U
#define EV_PLATFORM_CONFIG_FLAGS 0x0000000AU
#define EV_TABLE_OF_DEVICES 0x0000000BU
#define EV_COMPACT_HASH 0x0000000CU
#define EV_IPL 0x0000000DU
#define EV_IPL_PARTITION_DATA 0x0000000EU
#define EV_NONHOST_CODE 0x0000000FU
#define EV_NONHOST_CONFIG 0x00000010U
#define EV_NONHOST_INFO 0x00000011U
#define EV_OMIT_BOOT_DEVICE_EVENTS 0x00000012U
#define EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001U
#define EV_EFI_VARIABLE_BOOT 0x80000002U
#define EV_EFI_BOOT_SERVICES_APPLICATION 0x80000003U
#define EV_EFI_BOOT_SERVICES_DRIVER 0x80000004U
#define EV_EFI_RUNTIME_SERVICES_DRIVER 0x80000005U
#define EV_EFI_GPT_EVENT 0x80000006U
#define EV_EFI_ACTION 0x80000007U
#define EV_EFI_PLATFORM_FIRMWARE_BLOB 0x80000008U
#define EV_EFI_HANDOFF_TABLES 0x80000009U
#define EV_EFI_PLATFORM_FIRMWARE_BLOB2 0x8000000AU
#define EV_EFI_HANDOFF_TABLES2 0x8000000BU
#define EV_EFI_VARIABLE_BOOT2 0x8000000CU
#define EV_EFI_HCRTM_EVENT 0x80000010U
#define EV_EFI_VARIABLE_AUTHORITY 0x800000E0U
#define EV_EFI_SPDM_FIRMWARE_BLOB 0x800000E1U
#define EV_EFI_SPDM_FIRMWARE_CONFIG 0x800000E2U

typedef struct TcgAlgorithm {
        uint16_t id;
        uint16_t digest_size;
} TcgAlgorithm;

typedef struct TcgEvent {
        uint32_t pcr;                   /* 0–23 */
        uint32_t type;
        uint8_t sha256[TCG_SHA256_SIZE];
        const uint8_t *data;            /* into the log's own copy */
        uint32_t data_size;
        size_t offset;                  /* of the TCG_PCR_EVENT2 in the log */
} TcgEvent;

typedef struct TcgLog {
        uint8_t *buffer;                /* the log, copied: events point into it */
        size_t size;
        TcgAlgorithm algorithms[TCG_ALGORITHMS_MAX];
        size_t n_algorithms;
        /* The "StartupLocality" EV_NO_ACTION event (PFP): PCR 0 starts at 0…0 || locality. */
        bool have_startup_locality;
        uint8_t startup_locality;
        TcgEvent *events;               /* every event after the header, EV_NO_ACTION included, in log order */
        size_t n_events;
} TcgLog;

/* Parses a log. Errors (reterr names the event and the reason):
 *   -EBADMSG     malformed: truncated anywhere, no Spec ID Event03 header (or a second one), a header
 *                digest that is not zero, an announced size that is not the bank's, a bank announced
 *                twice, an event whose digest count is not the header's or with a bank the header did not
 *                announce (or twice), a PCR beyond 23, a StartupLocality event that is not well formed, not
 *                first or not the only one, a locality other than 0, 3 or 4
 *   -E2BIG       more than TCG_LOG_SIZE_MAX bytes, TCG_EVENTS_MAX events or TCG_EVENT_DATA_MAX bytes of data
 *                in one event
 *   -EOPNOTSUPP  the header announces no SHA-256 bank
 *   -ENOMEM */
int tcg_log_parse(const void *data, size_t size, TcgLog **ret, BootError *reterr);
TcgLog *tcg_log_free(TcgLog *log);
DEFINE_TRIVIAL_CLEANUP_FUNC(TcgLog *, tcg_log_free);

/* The PFP's name ("EV_EFI_ACTION"), NULL for a type the PFP does not define. A judge refuses what it does
 * not know on the PCRs it judges. */
const char *tcg_event_type_to_string(uint32_t type) _const_;

/* Re-hashes the events whose digest the PFP ties to their own data (tcg-eventlog-digest.c says which and
 * why):
 *   1        the SHA-256 digest is the SHA-256 of the data, as the PFP requires for this type
 *   0        the digest covers something that is not in the log (an image, a firmware volume, a table in
 *            memory): nothing to check; also every EV_NO_ACTION (never extended)
 *   -EBADMSG the data is not what this type requires (a separator that is not 4 bytes, a variable whose
 *            sizes do not add up), or the digest is not the hash of the data */
int tcg_event_check_digest(const TcgEvent *e);
/* The same for every event on a PCR in pcr_mask; reterr names the first event that fails. */
int tcg_log_check_digests(const TcgLog *log, uint32_t pcr_mask, BootError *reterr);
