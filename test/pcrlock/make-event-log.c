/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes a synthetic TCG PC Client "crypto agile" firmware event log, the format the kernel exposes as
 * /sys/kernel/security/tpm0/binary_bios_measurements and systemd-pcrlock reads from
 * $SYSTEMD_MEASURE_LOG_FIRMWARE. Test helper, not installed.
 *
 *   make-event-log [--banks=sha1,sha256,…] OUT.log < SPEC
 *
 * The log has the given banks (default: SHA-256 only): a Spec ID event (TCG_PCClientPCREvent, SHA-1 layout,
 * EV_NO_ACTION, "Spec ID Event03") and then one TCG_PCR_EVENT2 per SPEC line, all little endian, written by
 * src/shared/boot/tcg-eventlog-build.c. For every event that is extended (all but EV_NO_ACTION) it prints
 * "PCR:sha256=HEX" (one "alg=HEX" per bank) on stdout, which is the argument tpm2_pcrextend takes:
 * replaying those lines in order makes the TPM match the log.
 *
 * SPEC has one event per line, '#' starts a comment:
 *
 *   PCR TYPE DIGEST PAYLOAD
 *
 *   TYPE     an event type name (EV_SEPARATOR, EV_EFI_ACTION, ...) or a number (0x80000007)
 *   DIGEST   payload        each bank's hash of the payload bytes (what the PC Client profile asks for
 *                           EV_SEPARATOR, EV_EFI_ACTION, EV_S_CRTM_VERSION, ...; pcrlock checks these)
 *            file:PATH      each bank's hash of a file's content (stands in for a PE image hash)
 *            sha256:HEX     this SHA-256 digest (the other banks: their hash of it)
 *            zero           zeros in every bank (EV_NO_ACTION)
 *   PAYLOAD  the rest of the line:
 *            none           no event data
 *            hex:HEX        these bytes
 *            ascii:TEXT     TEXT without a terminating NUL (EV_EFI_ACTION strings)
 *            utf16:TEXT     TEXT as UTF-16LE with a terminating NUL (EV_S_CRTM_VERSION)
 *            blob:BASE,LEN  UEFI_PLATFORM_FIRMWARE_BLOB (two u64)
 *            image:PATH     UEFI_IMAGE_LOAD_EVENT with a device path of one file path node (PATH as
 *                           UTF-16) and the end node, as firmware logs an EFI application */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "macro.h"
#include "string-util.h"
#include "tcg-eventlog-build.h"

#define SHA256_SIZE 32U
#define PAYLOAD_MAX 4096U
#define FILE_MAX (64U * 1024U * 1024U)

static const struct {
        const char *name;
        uint32_t type;
} event_types[] = {
        { "EV_POST_CODE", 0x1 },
        { "EV_NO_ACTION", EV_NO_ACTION },
        { "EV_SEPARATOR", 0x4 },
        { "EV_ACTION", 0x5 },
        { "EV_EVENT_TAG", 0x6 },
        { "EV_S_CRTM_CONTENTS", 0x7 },
        { "EV_S_CRTM_VERSION", 0x8 },
        { "EV_CPU_MICROCODE", 0x9 },
        { "EV_PLATFORM_CONFIG_FLAGS", 0xA },
        { "EV_TABLE_OF_DEVICES", 0xB },
        { "EV_COMPACT_HASH", 0xC },
        { "EV_IPL", 0xD },
        { "EV_NONHOST_CODE", 0xF },
        { "EV_NONHOST_CONFIG", 0x10 },
        { "EV_NONHOST_INFO", 0x11 },
        { "EV_OMIT_BOOT_DEVICE_EVENTS", 0x12 },
        { "EV_EFI_VARIABLE_DRIVER_CONFIG", 0x80000001 },
        { "EV_EFI_VARIABLE_BOOT", 0x80000002 },
        { "EV_EFI_BOOT_SERVICES_APPLICATION", 0x80000003 },
        { "EV_EFI_BOOT_SERVICES_DRIVER", 0x80000004 },
        { "EV_EFI_RUNTIME_SERVICES_DRIVER", 0x80000005 },
        { "EV_EFI_GPT_EVENT", 0x80000006 },
        { "EV_EFI_ACTION", 0x80000007 },
        { "EV_EFI_PLATFORM_FIRMWARE_BLOB", 0x80000008 },
        { "EV_EFI_HANDOFF_TABLES", 0x80000009 },
        { "EV_EFI_VARIABLE_AUTHORITY", 0x800000E0 },
};

static const struct {
        const char *name;
        uint16_t id;
} bank_names[] = {
        { "sha1", TPM_ALG_SHA1 },
        { "sha256", TPM_ALG_SHA256 },
        { "sha384", TPM_ALG_SHA384 },
        { "sha512", TPM_ALG_SHA512 },
};

static const char *bank_name(uint16_t id) {
        for (size_t i = 0; i < ELEMENTSOF(bank_names); i++)
                if (bank_names[i].id == id)
                        return bank_names[i].name;
        return "?";
}

static int parse_type(const char *s, uint32_t *ret) {
        unsigned long long v;
        char *end;

        for (size_t i = 0; i < ELEMENTSOF(event_types); i++)
                if (streq(s, event_types[i].name)) {
                        *ret = event_types[i].type;
                        return 0;
                }
        errno = 0;
        v = strtoull(s, &end, 0);
        if (errno != 0 || *end != '\0' || end == s || v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

/* ASCII only: enough for action strings, version strings and EFI paths. */
static int append_utf16(ByteBuffer *b, const char *s, bool nul) {
        for (; *s; s++) {
                if ((unsigned char) *s >= 0x80)
                        return -EINVAL;
                if (byte_buffer_append_le(b, (unsigned char) *s, 2) < 0)
                        return -ENOMEM;
        }
        return nul ? byte_buffer_append_le(b, 0, 2) : 0;
}

static int parse_payload(const char *s, ByteBuffer *ret) {
        const char *v;
        int r;

        if (streq(s, "none"))
                return 0;
        if ((v = startswith(s, "hex:"))) {
                _cleanup_free_ void *p = NULL;
                size_t n;

                r = unhexmem(v, PAYLOAD_MAX, &p, &n);
                return r < 0 ? r : byte_buffer_append(ret, p, n);
        }
        if ((v = startswith(s, "ascii:")))
                return byte_buffer_append(ret, v, strlen(v));
        if ((v = startswith(s, "utf16:")))
                return append_utf16(ret, v, /* nul= */ true);
        if ((v = startswith(s, "blob:"))) {
                unsigned long long base, length;
                char *end;

                errno = 0;
                base = strtoull(v, &end, 0);
                if (errno != 0 || *end != ',')
                        return -EINVAL;
                length = strtoull(end + 1, &end, 0);
                if (errno != 0 || *end != '\0')
                        return -EINVAL;
                r = byte_buffer_append_le(ret, base, 8);
                return r < 0 ? r : byte_buffer_append_le(ret, length, 8);
        }
        if ((v = startswith(s, "image:"))) {
                ByteBuffer path = {};
                size_t node;

                r = append_utf16(&path, v, /* nul= */ true);
                if (r < 0 || 4 + path.size > UINT16_MAX) {
                        free(path.data);
                        return r < 0 ? r : -E2BIG;
                }
                node = 4 + path.size;
                /* ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress, LengthOfDevicePath */
                r = byte_buffer_append_le(ret, 0x7e000000, 8);
                if (r >= 0)
                        r = byte_buffer_append_le(ret, 0x100000, 8);
                if (r >= 0)
                        r = byte_buffer_append_le(ret, 0, 8);
                if (r >= 0)
                        r = byte_buffer_append_le(ret, node + 4, 8);
                /* Media device path, file path node (type 4, subtype 4), then the end node (0x7f, 0xff). */
                if (r >= 0)
                        r = byte_buffer_append(ret, (const uint8_t[]) { 4, 4 }, 2);
                if (r >= 0)
                        r = byte_buffer_append_le(ret, node, 2);
                if (r >= 0)
                        r = byte_buffer_append(ret, path.data, path.size);
                if (r >= 0)
                        r = byte_buffer_append(ret, (const uint8_t[]) { 0x7f, 0xff, 4, 0 }, 4);
                free(path.data);
                return r;
        }
        return -EINVAL;
}

/* Adds the event with its digests as DIGEST says. */
static int add_event(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const char *digest, const ByteBuffer *payload) {
        const char *v;
        int r;

        if (streq(digest, "payload"))
                return tcg_log_builder_add(b, pcr, type, payload->data, payload->size, payload->data, payload->size);
        if (streq(digest, "zero"))
                return tcg_log_builder_add_digest(b, pcr, type, NULL, payload->data, payload->size);
        if ((v = startswith(digest, "file:"))) {
                _cleanup_free_ void *p = NULL;
                size_t n;

                r = read_full_file(v, FILE_MAX, &p, &n);
                return r < 0 ? r : tcg_log_builder_add(b, pcr, type, p, n, payload->data, payload->size);
        }
        if ((v = startswith(digest, "sha256:"))) {
                _cleanup_free_ void *p = NULL;
                size_t n;

                r = unhexmem(v, SHA256_SIZE, &p, &n);
                if (r < 0)
                        return r;
                if (n != SHA256_SIZE)
                        return -EINVAL;
                return tcg_log_builder_add_digest(b, pcr, type, p, payload->data, payload->size);
        }
        return -EINVAL;
}

/* "PCR:alg=HEX,alg=HEX" for tpm2_pcrextend. */
static int print_extend(const TcgLogBuilder *b, unsigned long long pcr) {
        const TcgAlgorithm *banks;
        size_t n;

        banks = tcg_log_builder_banks(b, &n);
        printf("%llu:", pcr);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *hex = hexmem(tcg_log_builder_last_digest(b, i), banks[i].digest_size);
                if (!hex)
                        return -ENOMEM;
                printf("%s%s=%s", i > 0 ? "," : "", bank_name(banks[i].id), hex);
        }
        putchar('\n');
        return 0;
}

static int process_line(TcgLogBuilder *b, char *line, unsigned lineno) {
        char *fields[4] = {}, *state = NULL, *p;
        unsigned long long pcr;
        ByteBuffer payload = {};
        uint32_t type;
        int r;

        p = strchr(line, '#');
        if (p)
                *p = '\0';
        line[strcspn(line, "\n")] = '\0';

        /* Three words, then the payload as the rest of the line (action strings contain spaces). */
        for (size_t i = 0; i < 3; i++) {
                fields[i] = strtok_r(i == 0 ? line : NULL, " \t", &state);
                if (!fields[i]) {
                        if (i == 0)
                                return 0; /* empty line */
                        fprintf(stderr, "line %u: expected PCR TYPE DIGEST PAYLOAD\n", lineno);
                        return -EINVAL;
                }
        }
        fields[3] = state ? state + strspn(state, " \t") : NULL;
        if (isempty(fields[3])) {
                fprintf(stderr, "line %u: missing payload\n", lineno);
                return -EINVAL;
        }

        if (safe_atou64(fields[0], 23, &pcr) < 0 || parse_type(fields[1], &type) < 0) {
                fprintf(stderr, "line %u: bad PCR or event type\n", lineno);
                return -EINVAL;
        }
        r = parse_payload(fields[3], &payload);
        if (r >= 0)
                r = add_event(b, (uint32_t) pcr, type, fields[2], &payload);
        free(payload.data);
        if (r < 0) {
                fprintf(stderr, "line %u: %s\n", lineno, strerror(-r));
                return r;
        }
        return type == EV_NO_ACTION ? 0 : print_extend(b, pcr);
}

/* "sha1,sha256" → TPM_ALG_IDs. */
static int parse_banks(const char *s, uint16_t ret[static TCG_ALGORITHMS_MAX], size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(s);
        char *state = NULL;
        size_t n = 0;

        if (!copy)
                return -ENOMEM;
        for (char *w = strtok_r(copy, ",", &state); w; w = strtok_r(NULL, ",", &state)) {
                size_t i;

                for (i = 0; i < ELEMENTSOF(bank_names) && !streq(w, bank_names[i].name); i++)
                        ;
                if (i == ELEMENTSOF(bank_names) || n == TCG_ALGORITHMS_MAX)
                        return -EINVAL;
                ret[n++] = bank_names[i].id;
        }
        if (n == 0)
                return -EINVAL;
        *ret_n = n;
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = NULL;
        _cleanup_free_ char *line = NULL;
        _cleanup_fclose_ FILE *out = NULL;
        uint16_t banks[TCG_ALGORITHMS_MAX] = { TPM_ALG_SHA256 };
        size_t allocated = 0, n_banks = 1, size;
        unsigned lineno = 0;
        const uint8_t *log;
        const char *v;
        int r;

        if (argc == 3 && (v = startswith(argv[1], "--banks="))) {
                if (parse_banks(v, banks, &n_banks) < 0) {
                        fprintf(stderr, "%s: bad --banks=%s (sha1, sha256, sha384, sha512)\n", argv[0], v);
                        return EXIT_FAILURE;
                }
                argv++;
                argc--;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: %s [--banks=sha1,sha256,...] OUT.log < SPEC\n", argv[0]);
                return EXIT_FAILURE;
        }

        r = tcg_log_builder_new(banks, n_banks, &b);
        while (r >= 0 && getline(&line, &allocated, stdin) >= 0)
                r = process_line(b, line, ++lineno);

        if (r >= 0) {
                log = tcg_log_builder_data(b, &size);
                out = fopen(argv[1], "we");
                if (!out || fwrite(log, 1, size, out) != size || fflush(out) != 0)
                        r = -EIO;
        }
        if (r < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "%s: failed: %s\n", argv[0], strerror(r < 0 ? -r : EIO));
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
