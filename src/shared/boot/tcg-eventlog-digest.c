/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Events whose SHA-256 digest the TCG PC Client Platform Firmware Profile (PFP §10.4.1 "Event Types", and
 * its section on measuring UEFI variables) ties to the event's own data: re-hashing them proves that the
 * data a judge reads is the data that was measured.
 * The list follows the PFP where real firmware follows it too, as systemd-pcrlock's strict list
 * (event_log_record_validate_hash_firmware()) and keylime's separator and action checks do:
 *
 *   EV_SEPARATOR                   4 bytes: 0x00000000, 0x00000001 (an error, PFP) or 0xFFFFFFFF (an error,
 *                                  TCG 1.2 logs); digest = H(data)
 *   EV_S_CRTM_VERSION              digest = H(data), the version string as logged (UCS-2 on edk2)
 *   EV_EFI_ACTION                  digest = H(data), the ASCII string without NUL
 *   EV_EFI_GPT_EVENT               digest = H(data), the UEFI_GPT_DATA
 *   EV_EFI_VARIABLE_DRIVER_CONFIG, EV_EFI_VARIABLE_BOOT2, EV_EFI_VARIABLE_AUTHORITY
 *                                  a UEFI_VARIABLE_DATA whose sizes add up to the data; digest = H(data)
 *   EV_EFI_VARIABLE_BOOT           the same structure; digest = H(VariableData) — what edk2 measures and
 *                                  systemd-pcrlock checks — or H(data), the whole structure, as EV_..._BOOT2
 *                                  and the PFP's wording for the others: both bind the variable's value
 *
 * Not re-hashed, because the digest covers something the log does not carry:
 *   EV_EFI_BOOT_SERVICES_APPLICATION/_DRIVER, EV_EFI_RUNTIME_SERVICES_DRIVER   an image's Authenticode hash
 *   EV_EFI_PLATFORM_FIRMWARE_BLOB(2), EV_POST_CODE, EV_S_CRTM_CONTENTS, EV_CPU_MICROCODE
 *                                  firmware code in flash or memory; the data says only where
 *   EV_EFI_HANDOFF_TABLES(2)       the data is UEFI_HANDOFF_TABLE_POINTERS (a count, GUIDs and addresses);
 *                                  the digest covers the tables those addresses point to (SMBIOS, ACPI)
 *   EV_EVENT_TAG, EV_IPL           the kernel's and systemd-stub's measurements of the initrd, the command
 *                                  line and the UKI's sections; the data is a tag or a description
 *   EV_NO_ACTION                   never extended
 * and two the PFP ties but that are left out on purpose:
 *   EV_PLATFORM_CONFIG_FLAGS       edk2 (OVMF, the firmware of our qemu boots) does not hash the data;
 *                                  pcrlock exempts it for that reason, keylime accepts up to four unchecked
 *   EV_ACTION, EV_OMIT_BOOT_DEVICE_EVENTS   legacy-BIOS strings that a UEFI boot does not log; neither
 *                                  pcrlock nor keylime checks them, and a judge that meets them refuses them
 *                                  by type on the PCRs it judges
 * Only the SHA-256 bank is checked: it is the one replayed and quoted. */
#include <assert.h>
#include <openssl/sha.h>
#include <string.h>

#include "digest-util.h"
#include "tcg-eventlog.h"

/* UEFI_VARIABLE_DATA (PFP): VariableName (GUID), UnicodeNameLength and VariableDataLength (UINT64,
 * the first in CHAR16), UnicodeName, VariableData. Returns the offset of VariableData, or -EBADMSG unless
 * the three parts fill the data exactly. */
static int variable_data_offset(const TcgEvent *e, size_t *ret) {
        uint64_t name_length = 0, data_length = 0;
        size_t header = 16 + 8 + 8;

        if (e->data_size < header)
                return -EBADMSG;
        for (size_t i = 0; i < 8; i++) {
                name_length |= (uint64_t) e->data[16 + i] << (8 * i);
                data_length |= (uint64_t) e->data[24 + i] << (8 * i);
        }
        /* Both are bounded by the data size before any arithmetic, so nothing below overflows. */
        if (name_length > e->data_size || data_length > e->data_size ||
            header + 2 * name_length + data_length != e->data_size)
                return -EBADMSG;
        *ret = header + 2 * (size_t) name_length;
        return 0;
}

static bool digest_of(const TcgEvent *e, const uint8_t *p, size_t n) {
        uint8_t d[SHA256_DIGEST_LENGTH];

        return sha256_digest(p, n, d) && memcmp(d, e->sha256, sizeof(d)) == 0;
}

int tcg_event_check_digest(const TcgEvent *e) {
        size_t offset;
        int r;

        assert(e);

        switch (e->type) {
        case EV_SEPARATOR: {
                static const uint8_t values[3][4] = {
                        { 0, 0, 0, 0 }, { 1, 0, 0, 0 }, { 0xff, 0xff, 0xff, 0xff },
                };
                bool known = false;

                if (e->data_size != 4)
                        return -EBADMSG;
                for (size_t i = 0; i < 3; i++)
                        known = known || memcmp(e->data, values[i], 4) == 0;
                if (!known)
                        return -EBADMSG;
                break;
        }
        case EV_S_CRTM_VERSION:
        case EV_EFI_ACTION:
        case EV_EFI_GPT_EVENT:
                break;
        case EV_EFI_VARIABLE_DRIVER_CONFIG:
        case EV_EFI_VARIABLE_BOOT2:
        case EV_EFI_VARIABLE_AUTHORITY:
                r = variable_data_offset(e, &offset);
                if (r < 0)
                        return r;
                break;
        case EV_EFI_VARIABLE_BOOT:
                r = variable_data_offset(e, &offset);
                if (r < 0)
                        return r;
                if (digest_of(e, e->data + offset, e->data_size - offset))
                        return 1;
                break;
        default:
                return 0;
        }
        return digest_of(e, e->data, e->data_size) ? 1 : -EBADMSG;
}

int tcg_log_check_digests(const TcgLog *log, uint32_t pcr_mask, BootError *reterr) {
        assert(log);

        for (size_t i = 0; i < log->n_events; i++) {
                const TcgEvent *e = &log->events[i];

                if (!(pcr_mask & (UINT32_C(1) << e->pcr)))
                        continue;
                if (tcg_event_check_digest(e) < 0)
                        return boot_error(
                                        reterr, -EBADMSG, BOOT_LOG_FIRMWARE, i, e->offset, e->pcr, e->type,
                                        "the digest is not the SHA-256 of the event data, or the data is malformed");
        }
        return 0;
}
