/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <tss2/tss2_tpm2_types.h>

#include "macro.h"
#include "pcr-replay.h"

/* A measured boot for the emulated nodes: the firmware log, systemd's log and the PCR values of one real
 * boot (test/boot/fixtures/qemu-ovmf, captured from our image under qemu/OVMF/swtpm). Every node quotes these
 * PCRs and sends these logs, so the server replays and judges them in every authentication; with the image's
 * reference registered, every verdict is Trusted. */
typedef struct BenchBoot {
        char *firmware_log;  /* base64, as the node sends it */
        char *userspace_log;
        char firmware_log_sha256[65];  /* hex of proto_log_digest(): what names each log in place of it */
        char userspace_log_sha256[65];
        void *firmware;      /* the bytes, for the floor */
        size_t firmware_size;
        void *userspace;
        size_t userspace_size;
        PcrValues pcrs;      /* SHA-256, all 24 */
} BenchBoot;

/* DIR/binary_bios_measurements, DIR/tpm2-measure.log and DIR/pcrs.sha256 ("N:HEX" lines). */
int bench_boot_load(const char *dir, BenchBoot **ret);
BenchBoot *bench_boot_free(BenchBoot *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchBoot *, bench_boot_free);

/* The quoted values of the PCRs in mask, in order (SHA-256 only). */
size_t bench_boot_pcr_values(const BenchBoot *b, uint32_t mask, TPM2B_DIGEST *values);

/* What the server's verifier does with the logs in every authentication (base64 decoding, parsing, the
 * digest checks, the replay and its comparison with the quote): 0 if the logs explain the PCRs in mask. */
int bench_boot_explain(const BenchBoot *b, uint32_t mask);
