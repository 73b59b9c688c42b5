/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <string.h>

#include "digest-util.h"
#include "pcr-replay.h"

void pcr_extend_sha256(uint8_t value[static TCG_SHA256_SIZE], const uint8_t digest[static TCG_SHA256_SIZE]) {
        uint8_t buf[2 * TCG_SHA256_SIZE];

        memcpy(buf, value, TCG_SHA256_SIZE);
        memcpy(buf + TCG_SHA256_SIZE, digest, TCG_SHA256_SIZE);
        (void) sha256_digest(buf, sizeof(buf), value);
}

void pcr_replay(const TcgLog *firmware, const UserspaceLog *userspace, PcrValues *ret) {
        PcrValues v = { .mask = PCR_MASK_ALL };

        assert(ret);

        /* The PC Client platform TPM profile: PCRs 17–22 (dynamic launch) are reset to all ones
         * at TPM2_Startup and to zeros only by a dynamic launch; the others to zeros, PCR 0 with the
         * startup locality in its last byte. */
        for (unsigned pcr = 17; pcr <= 22; pcr++)
                memset(v.sha256[pcr], 0xff, TCG_SHA256_SIZE);
        if (firmware && firmware->have_startup_locality)
                v.sha256[0][TCG_SHA256_SIZE - 1] = firmware->startup_locality;

        for (size_t i = 0; firmware && i < firmware->n_events; i++) {
                const TcgEvent *e = &firmware->events[i];

                if (e->type == EV_NO_ACTION)
                        continue;
                pcr_extend_sha256(v.sha256[e->pcr], e->sha256);
        }
        for (size_t i = 0; userspace && i < userspace->n_records; i++)
                pcr_extend_sha256(v.sha256[userspace->records[i].pcr], userspace->records[i].sha256);

        *ret = v;
}

int pcr_values_set(PcrValues *v, unsigned pcr, const void *digest, size_t size) {
        assert(v);
        assert(digest || size == 0);

        if (pcr >= TCG_PCRS || size != TCG_SHA256_SIZE)
                return -EINVAL;
        memcpy(v->sha256[pcr], digest, TCG_SHA256_SIZE);
        v->mask |= UINT32_C(1) << pcr;
        return 0;
}

int pcr_values_compare(const PcrValues *replayed, const PcrValues *quoted, uint32_t mask, BootError *reterr) {
        assert(replayed);
        assert(quoted);

        for (unsigned pcr = 0; pcr < TCG_PCRS; pcr++) {
                if (!(mask & (UINT32_C(1) << pcr)))
                        continue;
                if (!(replayed->mask & quoted->mask & (UINT32_C(1) << pcr)))
                        return boot_error(reterr, -ECHRNG, BOOT_LOG_REPLAY, SIZE_MAX, 0, pcr, BOOT_ERROR_NONE,
                                          "the PCR is missing from the quote or the replay");
                if (memcmp(replayed->sha256[pcr], quoted->sha256[pcr], TCG_SHA256_SIZE) != 0)
                        return boot_error(reterr, -EUCLEAN, BOOT_LOG_REPLAY, SIZE_MAX, 0, pcr, BOOT_ERROR_NONE,
                                          "the logs do not account for the quoted value");
        }
        if (mask & ~PCR_MASK_ALL)
                return boot_error(reterr, -ECHRNG, BOOT_LOG_REPLAY, SIZE_MAX, 0, BOOT_ERROR_NONE,
                                  BOOT_ERROR_NONE, "a PCR beyond 23");
        return 0;
}
