/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Helpers of the event-log tests: a synthetic boot shaped like OVMF's with `qemu -kernel` and a UKI
 * (what test/vm boots), the fixtures under test/boot/, SHA-256. Static inline: each test uses a part. */

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "tcg-eventlog-build.h"
#include "tests.h"

static inline void sha256_of(const void *p, size_t n, uint8_t ret[static 32]) {
        unsigned size = 0;

        if (EVP_Digest(p, n, ret, &size, EVP_sha256(), NULL) != 1 || size != 32)
                TEST_FAIL("EVP_Digest failed");
}

/* value = SHA-256(value || digest), written apart from pcr-replay.c with EVP. */
static inline void extend_of(uint8_t value[static 32], const void *p, size_t n) {
        uint8_t buf[64];

        memcpy(buf, value, 32);
        sha256_of(p, n, buf + 32);
        sha256_of(buf, 64, value);
}

/* ASCII as UTF-16LE with a terminating NUL, into out (at least 2 * (strlen + 1) bytes); returns the size. */
static inline size_t utf16_of(const char *s, uint8_t *out) {
        size_t n = 0;

        for (; *s; s++) {
                out[n++] = (uint8_t) *s;
                out[n++] = 0;
        }
        out[n++] = 0;
        out[n++] = 0;
        return n;
}

/* UEFI_VARIABLE_DATA: GUID, name length (CHAR16), data length, the name (no NUL), the data. Returns the
 * size written to out; *ret_value_offset is where the data starts. */
static inline size_t variable_of(const char *name, const void *value, size_t value_size, uint8_t *out,
                                 size_t *ret_value_offset) {
        static const uint8_t guid[16] = { 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                          0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c };
        size_t n = 0, len = strlen(name);

        memcpy(out, guid, 16);
        n = 16;
        for (size_t i = 0; i < 8; i++)
                out[n + i] = (uint8_t) ((uint64_t) len >> (8 * i));
        n += 8;
        for (size_t i = 0; i < 8; i++)
                out[n + i] = (uint8_t) ((uint64_t) value_size >> (8 * i));
        n += 8;
        for (size_t i = 0; i < len; i++) {
                out[n++] = (uint8_t) name[i];
                out[n++] = 0;
        }
        *ret_value_offset = n;
        memcpy(out + n, value, value_size);
        return n + value_size;
}

static inline void add_hashed(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const void *p, size_t n) {
        if (tcg_log_builder_add(b, pcr, type, p, n, p, n) < 0)
                TEST_FAIL("tcg_log_builder_add failed");
}

static inline void add_image(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const char *image,
                             const void *data, size_t size) {
        if (tcg_log_builder_add(b, pcr, type, image, strlen(image), data, size) < 0)
                TEST_FAIL("tcg_log_builder_add failed");
}

#define SAMPLE_EVENTS 21U
#define SAMPLE_EBS_INVOCATION "Exit Boot Services Invocation"

/* A boot as OVMF logs `qemu -kernel UKI`: firmware on PCR 0–7, the UKI measured early on PCR 4,
 * separators, systemd-stub's sections on PCR 11, the kernel's initrd on PCR 9, ExitBootServices on PCR 5.
 * Banks as given; with_locality adds StartupLocality 3 first. SAMPLE_EVENTS events without it. */
static inline TcgLogBuilder *sample_boot(const uint16_t *banks, size_t n_banks, bool with_locality) {
        TcgLogBuilder *b = NULL;
        uint8_t buf[256], blob[16] = { 0, 0, 0xc0, 0xff }, tag[8 + 6] = { 0xec, 0x22, 0x3b, 0x8f, 6 };
        size_t n, value;

        if (tcg_log_builder_new(banks, n_banks, &b) < 0)
                TEST_FAIL("tcg_log_builder_new failed");
        if (with_locality && tcg_log_builder_add_startup_locality(b, 3) < 0)
                TEST_FAIL("tcg_log_builder_add_startup_locality failed");

        n = utf16_of("1.00", buf);
        add_hashed(b, 0, EV_S_CRTM_VERSION, buf, n);
        add_image(b, 0, EV_EFI_PLATFORM_FIRMWARE_BLOB, "firmware volume", blob, sizeof(blob));
        n = variable_of("SecureBoot", "\0", 1, buf, &value);
        add_hashed(b, 7, EV_EFI_VARIABLE_DRIVER_CONFIG, buf, n);
        add_image(b, 1, EV_PLATFORM_CONFIG_FLAGS, "flags", "\1\0\0\0", 4);
        /* edk2 hashes only the variable's value for EV_EFI_VARIABLE_BOOT */
        n = variable_of("BootOrder", "\0\0", 2, buf, &value);
        if (tcg_log_builder_add(b, 1, EV_EFI_VARIABLE_BOOT, buf + value, n - value, buf, n) < 0)
                TEST_FAIL("tcg_log_builder_add failed");
        add_image(b, 4, EV_EFI_BOOT_SERVICES_APPLICATION, "uki", "image load event", 16);
        add_hashed(b, 4, EV_EFI_ACTION, "Calling EFI Application from Boot Option", 40);
        for (uint32_t pcr = 0; pcr < 8; pcr++)
                add_hashed(b, pcr, EV_SEPARATOR, "\0\0\0\0", 4);
        n = utf16_of(".linux", buf);
        add_image(b, 11, EV_IPL, ".linux", buf, n);
        add_image(b, 11, EV_IPL, "kernel", buf, n);
        memcpy(tag + 8, "initrd", 6);
        add_image(b, 9, EV_EVENT_TAG, "initrd contents", tag, sizeof(tag));
        add_image(b, 4, EV_EFI_BOOT_SERVICES_APPLICATION, "kernel", "image load event", 16);
        add_hashed(b, 5, EV_EFI_ACTION, SAMPLE_EBS_INVOCATION, strlen(SAMPLE_EBS_INVOCATION));
        add_hashed(b, 5, EV_EFI_ACTION, "Exit Boot Services Returned with Success", 40);
        return b;
}

/* A copy of the builder's log (the tests mutate it). */
static inline uint8_t *builder_copy(const TcgLogBuilder *b, size_t *ret_size) {
        const uint8_t *p = tcg_log_builder_data(b, ret_size);
        uint8_t *q = malloc(*ret_size);

        if (!q)
                TEST_FAIL("out of memory");
        memcpy(q, p, *ret_size);
        return q;
}

static inline void put_le32(uint8_t *p, uint32_t v) {
        for (size_t i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* A file of the source tree (test/boot/fixtures/…), NUL-terminated. */
static inline char *fixture(const char *relative, size_t *ret_size) {
        const char *top = getenv("PATELA_SOURCE_DIR");
        char path[4096];
        void *data = NULL;

        if (!top)
                TEST_FAIL("PATELA_SOURCE_DIR is not set: run the tests through meson test");
        snprintf(path, sizeof(path), "%s/%s", top, relative);
        if (read_full_file(path, 4U * 1024U * 1024U, &data, ret_size) < 0)
                TEST_FAIL("cannot read %s", path);
        return data;
}
