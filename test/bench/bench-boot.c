/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "bench-boot.h"
#include "boot-logs.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "protocol.h"

static int load_file(const char *dir, const char *name, size_t max, void **ret, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        return read_full_file(path, max, ret, ret_size);
}

int bench_boot_load(const char *dir, BenchBoot **ret) {
        _cleanup_(bench_boot_freep) BenchBoot *b = calloc(1, sizeof(BenchBoot));
        _cleanup_free_ char *pcrs = NULL;
        char *state = NULL;
        size_t size;
        int r;

        if (!b)
                return -ENOMEM;
        r = load_file(dir, "binary_bios_measurements", TCG_LOG_SIZE_MAX, &b->firmware, &b->firmware_size);
        if (r >= 0)
                r = load_file(dir, "tpm2-measure.log", USERSPACE_LOG_SIZE_MAX, &b->userspace, &b->userspace_size);
        if (r >= 0)
                r = load_file(dir, "pcrs.sha256", 4096, (void **) &pcrs, &size);
        if (r < 0)
                return r;
        b->firmware_log = base64mem(b->firmware, b->firmware_size);
        b->userspace_log = base64mem(b->userspace, b->userspace_size);
        if (!b->firmware_log || !b->userspace_log)
                return -ENOMEM;
        for (unsigned i = 0; i < 2; i++) {
                uint8_t digest[PROTO_LOG_DIGEST_SIZE];
                _cleanup_free_ char *hex = NULL;

                r = proto_log_digest(i == 0 ? b->firmware_log : b->userspace_log, digest);
                if (r < 0)
                        return r;
                hex = hexmem(digest, sizeof(digest));
                if (!hex)
                        return -ENOMEM;
                memcpy(i == 0 ? b->firmware_log_sha256 : b->userspace_log_sha256, hex, 65);
        }
        for (char *line = strtok_r(pcrs, "\n", &state); line; line = strtok_r(NULL, "\n", &state)) {
                _cleanup_free_ void *d = NULL;
                unsigned pcr;
                char hex[65];
                size_t n;

                if (sscanf(line, "%u:%64s", &pcr, hex) != 2 || unhexmem(hex, 32, &d, &n) < 0 ||
                    pcr_values_set(&b->pcrs, pcr, d, n) < 0)
                        return -EBADMSG;
        }
        if (b->pcrs.mask != PCR_MASK_ALL)
                return -EBADMSG;
        *ret = TAKE_PTR(b);
        return 0;
}

BenchBoot *bench_boot_free(BenchBoot *b) {
        if (!b)
                return NULL;
        free(b->firmware_log);
        free(b->userspace_log);
        free(b->firmware);
        free(b->userspace);
        free(b);
        return NULL;
}

size_t bench_boot_pcr_values(const BenchBoot *b, uint32_t mask, TPM2B_DIGEST *values) {
        size_t n = 0;

        for (unsigned i = 0; i < TCG_PCRS; i++)
                if (mask & (UINT32_C(1) << i)) {
                        values[n].size = TCG_SHA256_SIZE;
                        memcpy(values[n].buffer, b->pcrs.sha256[i], TCG_SHA256_SIZE);
                        n++;
                }
        return n;
}

int bench_boot_explain(const BenchBoot *b, uint32_t mask) {
        _cleanup_free_ void *fw = NULL, *us = NULL;
        _cleanup_free_ char *reason = NULL;
        BootLogs logs = {};
        PcrValues quoted = {};
        size_t fw_size, us_size;
        int r;

        for (unsigned i = 0; i < TCG_PCRS; i++)
                if (mask & (UINT32_C(1) << i))
                        (void) pcr_values_set(&quoted, i, b->pcrs.sha256[i], TCG_SHA256_SIZE);
        r = unbase64mem(b->firmware_log, TCG_LOG_SIZE_MAX, &fw, &fw_size);
        if (r >= 0)
                r = unbase64mem(b->userspace_log, USERSPACE_LOG_SIZE_MAX, &us, &us_size);
        if (r >= 0)
                r = boot_logs_explain(fw, fw_size, us, us_size, &quoted, mask & ~(UINT32_C(1) << 15), &logs, &reason);
        boot_logs_done(&logs);
        return r;
}
