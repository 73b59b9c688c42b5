/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Replays a boot's logs with src/shared/boot, for the tests that compare the replay with a TPM
 * (test/tpm/test-boot-replay.sh) and for the scripts that capture fixtures. Test helper, not installed.
 *
 *   boot-replay-tool [--firmware=PATH] [--userspace=PATH] [--check-digests] [--quoted=FILE]
 *
 * Prints "PCR:HEX" (SHA-256) for PCRs 0–23. --check-digests also re-hashes the events and records whose
 * digest is tied to their data. --quoted=FILE compares with "PCR:HEX" lines (the PCRs listed there): exit
 * status 2 and the reason on stderr when a PCR differs. Exit status 1 for a log that does not parse. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "pcr-replay.h"
#include "string-util.h"

static int fail(int r, const BootError *e, const char *what) {
        _cleanup_free_ char *s = e && e->reason ? boot_error_to_string(e) : NULL;

        fprintf(stderr, "%s: %s (%s)\n", what, s ?: "failed", strerror(-r));
        return EXIT_FAILURE;
}

static int read_quoted(const char *path, PcrValues *ret) {
        _cleanup_free_ char *text = NULL;
        char *line, *state = NULL;
        size_t size;
        int r;

        r = read_full_file(path, 64 * 1024, (void **) &text, &size);
        if (r < 0)
                return r;
        *ret = (PcrValues) {};
        for (line = strtok_r(text, "\n", &state); line; line = strtok_r(NULL, "\n", &state)) {
                _cleanup_free_ void *d = NULL;
                unsigned pcr;
                char hex[65];
                size_t n;

                if (sscanf(line, "%u:%64s", &pcr, hex) != 2 || unhexmem(hex, 32, &d, &n) < 0)
                        return -EINVAL;
                r = pcr_values_set(ret, pcr, d, n);
                if (r < 0)
                        return r;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(tcg_log_freep) TcgLog *firmware = NULL;
        _cleanup_(userspace_log_freep) UserspaceLog *userspace = NULL;
        const char *firmware_path = NULL, *userspace_path = NULL, *quoted_path = NULL, *v;
        bool check = false;
        PcrValues replayed, quoted;
        BootError e = {};
        int r;

        for (int i = 1; i < argc; i++) {
                if ((v = startswith(argv[i], "--firmware=")))
                        firmware_path = v;
                else if ((v = startswith(argv[i], "--userspace=")))
                        userspace_path = v;
                else if ((v = startswith(argv[i], "--quoted=")))
                        quoted_path = v;
                else if (streq(argv[i], "--check-digests"))
                        check = true;
                else {
                        fprintf(stderr, "usage: %s [--firmware=PATH] [--userspace=PATH] [--check-digests] "
                                        "[--quoted=FILE]\n", argv[0]);
                        return EXIT_FAILURE;
                }
        }

        if (firmware_path) {
                _cleanup_free_ void *data = NULL;
                size_t size;

                r = read_full_file(firmware_path, TCG_LOG_SIZE_MAX, &data, &size);
                if (r < 0)
                        return fail(r, NULL, firmware_path);
                r = tcg_log_parse(data, size, &firmware, &e);
                if (r < 0)
                        return fail(r, &e, firmware_path);
                if (check && (r = tcg_log_check_digests(firmware, PCR_MASK_ALL, &e)) < 0)
                        return fail(r, &e, firmware_path);
        }
        if (userspace_path) {
                _cleanup_free_ void *data = NULL;
                size_t size;

                r = read_full_file(userspace_path, USERSPACE_LOG_SIZE_MAX, &data, &size);
                if (r < 0)
                        return fail(r, NULL, userspace_path);
                r = userspace_log_parse(data, size, &userspace, &e);
                if (r < 0)
                        return fail(r, &e, userspace_path);
                if (check && (r = userspace_log_check_digests(userspace, PCR_MASK_ALL, &e)) < 0)
                        return fail(r, &e, userspace_path);
        }

        pcr_replay(firmware, userspace, &replayed);
        for (unsigned pcr = 0; pcr < TCG_PCRS; pcr++) {
                _cleanup_free_ char *hex = hexmem(replayed.sha256[pcr], TCG_SHA256_SIZE);
                if (!hex)
                        return fail(-ENOMEM, NULL, "hexmem");
                printf("%u:%s\n", pcr, hex);
        }

        if (quoted_path) {
                r = read_quoted(quoted_path, &quoted);
                if (r < 0)
                        return fail(r, NULL, quoted_path);
                r = pcr_values_compare(&replayed, &quoted, quoted.mask, &e);
                if (r < 0) {
                        fail(r, &e, "compare");
                        return 2;
                }
        }
        return EXIT_SUCCESS;
}
