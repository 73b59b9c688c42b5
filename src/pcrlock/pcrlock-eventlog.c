/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "pcrlock-eventlog.h"

#define ALG_SHA1 0x0004U
#define ALG_SHA256 0x000BU
#define ALGS_MAX 8U

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

typedef struct Cursor {
        const uint8_t *p;
        size_t left;
} Cursor;

static int take(Cursor *c, size_t n, const uint8_t **ret) {
        if (n > c->left)
                return -EBADMSG;
        *ret = c->p;
        c->p += n;
        c->left -= n;
        return 0;
}

static int take32(Cursor *c, uint32_t *ret) {
        const uint8_t *p;
        int r = take(c, 4, &p);

        if (r >= 0)
                *ret = le32(p);
        return r;
}

typedef struct AlgSizes {
        size_t n;
        uint16_t id[ALGS_MAX];
        uint16_t size[ALGS_MAX];
} AlgSizes;

/* The header event: SHA-1 format, EV_NO_ACTION, "Spec ID Event03" with the digest sizes of the banks. */
static int parse_header(Cursor *c, AlgSizes *ret) {
        const uint8_t *digest, *ev, *p;
        uint32_t pcr, type, size, n;
        AlgSizes algs = {};
        Cursor e;
        int r;

        if ((r = take32(c, &pcr)) < 0 || (r = take32(c, &type)) < 0 || (r = take(c, 20, &digest)) < 0 ||
            (r = take32(c, &size)) < 0)
                return r;
        if (pcr != 0 || type != EV_NO_ACTION || size > 4096 || (r = take(c, size, &ev)) < 0)
                return -EBADMSG;
        e = (Cursor) { ev, size };
        if ((r = take(&e, 16, &p)) < 0)
                return r;
        if (memcmp(p, "Spec ID Event03\0", 16) != 0)
                return -EBADMSG;
        /* platformClass, specVersionMinor/Major, specErrata, uintnSize */
        if ((r = take(&e, 8, &p)) < 0 || (r = take32(&e, &n)) < 0)
                return r;
        if (n == 0 || n > ALGS_MAX)
                return -EBADMSG;
        for (uint32_t i = 0; i < n; i++) {
                if ((r = take(&e, 4, &p)) < 0)
                        return r;
                algs.id[i] = le16(p);
                algs.size[i] = le16(p + 2);
                if (algs.size[i] == 0 || algs.size[i] > 64)
                        return -EBADMSG;
        }
        algs.n = n;
        *ret = algs;
        return 0;
}

int tcg_log_parse(const uint8_t *data, size_t size, TcgEvent **ret, size_t *ret_n) {
        _cleanup_free_ TcgEvent *events = NULL;
        Cursor c = { data, size };
        AlgSizes algs;
        bool have_sha256 = false;
        size_t n = 0;
        int r;

        if (size > TCG_LOG_SIZE_MAX)
                return -E2BIG;
        r = parse_header(&c, &algs);
        if (r < 0)
                return r;
        for (size_t i = 0; i < algs.n; i++)
                if (algs.id[i] == ALG_SHA256 && algs.size[i] == 32)
                        have_sha256 = true;
        if (!have_sha256)
                return -EOPNOTSUPP;

        while (c.left > 0) {
                TcgEvent ev = {};
                uint32_t count;
                const uint8_t *p;

                if (n >= TCG_EVENTS_MAX)
                        return -E2BIG;
                if ((r = take32(&c, &ev.pcr)) < 0 || (r = take32(&c, &ev.type)) < 0 || (r = take32(&c, &count)) < 0)
                        return r;
                if (ev.pcr > 23 && ev.pcr != UINT32_MAX)
                        return -EBADMSG;
                if (count > ALGS_MAX)
                        return -EBADMSG;
                for (uint32_t i = 0; i < count; i++) {
                        uint16_t alg;
                        size_t j;

                        if ((r = take(&c, 2, &p)) < 0)
                                return r;
                        alg = le16(p);
                        for (j = 0; j < algs.n && algs.id[j] != alg; j++)
                                ;
                        if (j == algs.n)
                                return -EBADMSG; /* a bank the header did not announce: sizes unknown */
                        if ((r = take(&c, algs.size[j], &p)) < 0)
                                return r;
                        if (alg == ALG_SHA256) {
                                memcpy(ev.sha256, p, 32);
                                ev.have_sha256 = true;
                        }
                }
                if ((r = take32(&c, &ev.data_size)) < 0)
                        return r;
                if (ev.data_size > TCG_EVENT_DATA_MAX)
                        return -E2BIG;
                if ((r = take(&c, ev.data_size, &ev.data)) < 0)
                        return r;

                if ((n & 63) == 0) {
                        TcgEvent *a = reallocarray(events, n + 64, sizeof(TcgEvent));
                        if (!a)
                                return -ENOMEM;
                        events = a;
                }
                events[n++] = ev;
        }
        *ret = TAKE_PTR(events);
        *ret_n = n;
        return 0;
}

void pcr_extend_sha256(uint8_t value[static 32], const uint8_t digest[static 32]) {
        uint8_t buf[64];

        memcpy(buf, value, 32);
        memcpy(buf + 32, digest, 32);
        SHA256(buf, sizeof(buf), value);
}

void tcg_log_replay(const TcgEvent *events, size_t n, uint32_t pcr, uint8_t ret[static 32]) {
        memset(ret, 0, 32);
        for (size_t i = 0; i < n; i++) {
                const TcgEvent *e = &events[i];

                if (e->pcr != pcr)
                        continue;
                if (e->type == EV_NO_ACTION) {
                        /* "StartupLocality" sets PCR 0's initial value to the locality in its last byte. */
                        if (pcr == 0 && e->data_size >= 17 && memcmp(e->data, "StartupLocality\0", 16) == 0)
                                ret[31] = e->data[16];
                        continue;
                }
                if (e->have_sha256)
                        pcr_extend_sha256(ret, e->sha256);
        }
}
