/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "tcg-eventlog-build.h"

#define DIGEST_SIZE_MAX 64U

struct TcgLogBuilder {
        ByteBuffer log;
        TcgAlgorithm banks[TCG_ALGORITHMS_MAX];
        const EVP_MD *md[TCG_ALGORITHMS_MAX];
        size_t n_banks;
        uint8_t last[TCG_ALGORITHMS_MAX][DIGEST_SIZE_MAX];
        bool have_last;
};

static const EVP_MD *bank_md(uint16_t id) {
        switch (id) {
        case TPM_ALG_SHA1:
                return EVP_sha1();
        case TPM_ALG_SHA256:
                return EVP_sha256();
        case TPM_ALG_SHA384:
                return EVP_sha384();
        case TPM_ALG_SHA512:
                return EVP_sha512();
        default:
                return NULL;
        }
}

static int append(TcgLogBuilder *b, const void *p, size_t n) {
        return byte_buffer_append(&b->log, p, n);
}

static int append_le(TcgLogBuilder *b, uint64_t v, size_t n) {
        return byte_buffer_append_le(&b->log, v, n);
}

int tcg_log_builder_new(const uint16_t *banks, size_t n_banks, TcgLogBuilder **ret) {
        _cleanup_(tcg_log_builder_freep) TcgLogBuilder *b = NULL;
        static const uint8_t signature[16] = "Spec ID Event03";
        int r;

        assert(banks || n_banks == 0);
        assert(ret);

        if (n_banks == 0 || n_banks > TCG_ALGORITHMS_MAX)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n_banks; i++) {
                b->md[i] = bank_md(banks[i]);
                if (!b->md[i])
                        return -EOPNOTSUPP;
                for (size_t k = 0; k < i; k++)
                        if (b->banks[k].id == banks[i])
                                return -EINVAL;
                b->banks[i] = (TcgAlgorithm) { banks[i], (uint16_t) EVP_MD_get_size(b->md[i]) };
        }
        b->n_banks = n_banks;

        /* TCG_PCClientPCREvent: PCR 0, EV_NO_ACTION, 20 zero bytes, eventDataSize, TCG_EfiSpecIDEvent. */
        r = append_le(b, 0, 4);
        if (r >= 0)
                r = append_le(b, EV_NO_ACTION, 4);
        if (r >= 0)
                r = append(b, (const uint8_t[20]) {}, 20);
        if (r >= 0)
                r = append_le(b, 16 + 4 + 4 + 4 + 4 * n_banks + 1, 4);
        if (r >= 0)
                r = append(b, signature, sizeof(signature));
        /* platformClass 0, specVersionMinor 0, specVersionMajor 2, specErrata 0, uintnSize 2 (UINT64) */
        if (r >= 0)
                r = append(b, (const uint8_t[]) { 0, 0, 0, 0, 0, 2, 0, 2 }, 8);
        if (r >= 0)
                r = append_le(b, n_banks, 4);
        for (size_t i = 0; r >= 0 && i < n_banks; i++) {
                r = append_le(b, b->banks[i].id, 2);
                if (r >= 0)
                        r = append_le(b, b->banks[i].digest_size, 2);
        }
        if (r >= 0)
                r = append_le(b, 0, 1); /* vendorInfoSize */
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b);
        return 0;
}

TcgLogBuilder *tcg_log_builder_free(TcgLogBuilder *b) {
        if (!b)
                return NULL;
        byte_buffer_done(&b->log);
        free(b);
        return NULL;
}

/* TCG_PCR_EVENT2: pcrIndex, eventType, TPML_DIGEST_VALUES {count, {hashAlg, digest}…}, eventSize, event. */
static int append_event(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const void *data, size_t data_size) {
        int r;

        if (data_size > UINT32_MAX)
                return -E2BIG;
        r = append_le(b, pcr, 4);
        if (r >= 0)
                r = append_le(b, type, 4);
        if (r >= 0)
                r = append_le(b, b->n_banks, 4);
        for (size_t i = 0; r >= 0 && i < b->n_banks; i++) {
                r = append_le(b, b->banks[i].id, 2);
                if (r >= 0)
                        r = append(b, b->last[i], b->banks[i].digest_size);
        }
        if (r >= 0)
                r = append_le(b, data_size, 4);
        if (r >= 0)
                r = append(b, data, data_size);
        b->have_last = r >= 0;
        return r;
}

static int hash_banks(TcgLogBuilder *b, const void *p, size_t n, size_t skip) {
        for (size_t i = 0; i < b->n_banks; i++) {
                unsigned size = 0;

                if (i == skip)
                        continue;
                if (EVP_Digest(p, n, b->last[i], &size, b->md[i], NULL) != 1 || size != b->banks[i].digest_size)
                        return -EIO;
        }
        return 0;
}

int tcg_log_builder_add(TcgLogBuilder *b, uint32_t pcr, uint32_t type, const void *hashed, size_t hashed_size,
                        const void *data, size_t data_size) {
        int r;

        assert(b);
        assert(hashed || hashed_size == 0);
        assert(data || data_size == 0);

        r = hash_banks(b, hashed_size > 0 ? hashed : "", hashed_size, SIZE_MAX);
        if (r < 0)
                return r;
        return append_event(b, pcr, type, data, data_size);
}

int tcg_log_builder_add_digest(TcgLogBuilder *b, uint32_t pcr, uint32_t type,
                               const uint8_t sha256[TCG_SHA256_SIZE], const void *data, size_t data_size) {
        size_t k;
        int r;

        assert(b);
        assert(data || data_size == 0);

        if (!sha256) {
                memset(b->last, 0, sizeof(b->last));
                return append_event(b, pcr, type, data, data_size);
        }
        for (k = 0; k < b->n_banks && b->banks[k].id != TPM_ALG_SHA256; k++)
                ;
        if (k < b->n_banks)
                memcpy(b->last[k], sha256, TCG_SHA256_SIZE);
        r = hash_banks(b, sha256, TCG_SHA256_SIZE, k);
        if (r < 0)
                return r;
        return append_event(b, pcr, type, data, data_size);
}

int tcg_log_builder_add_startup_locality(TcgLogBuilder *b, uint8_t locality) {
        uint8_t event[17] = "StartupLocality";

        event[16] = locality;
        return tcg_log_builder_add_digest(b, 0, EV_NO_ACTION, NULL, event, sizeof(event));
}

const TcgAlgorithm *tcg_log_builder_banks(const TcgLogBuilder *b, size_t *ret_n) {
        assert(b);
        assert(ret_n);

        *ret_n = b->n_banks;
        return b->banks;
}

const uint8_t *tcg_log_builder_last_digest(const TcgLogBuilder *b, size_t i) {
        assert(b);

        return b->have_last && i < b->n_banks ? b->last[i] : NULL;
}

const uint8_t *tcg_log_builder_data(const TcgLogBuilder *b, size_t *ret_size) {
        assert(b);
        assert(ret_size);

        *ret_size = b->log.size;
        return b->log.data;
}
