/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "hexdecoct.h"
#include "pcrlock-reference.h"

void reference_pcr11_phases(const ImageMeasurements *m, uint8_t boot[static 32], uint8_t sysinit[static 32],
                            uint8_t ready[static 32]) {
        uint8_t d[32];

        reference_replay(m, 11, boot);
        memcpy(sysinit, boot, 32);
        SHA256((const uint8_t *) "sysinit", strlen("sysinit"), d);
        pcr_extend_sha256(sysinit, d);
        memcpy(ready, sysinit, 32);
        SHA256((const uint8_t *) "ready", strlen("ready"), d);
        pcr_extend_sha256(ready, d);
}

void reference_replay(const ImageMeasurements *m, uint32_t pcr, uint8_t ret[static 32]) {
        memset(ret, 0, 32);
        for (size_t i = 0; i < m->n; i++)
                if (m->records[i].pcr == pcr)
                        pcr_extend_sha256(ret, m->records[i].sha256);
}

static void hex32(const uint8_t d[static 32], char out[static 65]) {
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int reference_format(const ImageMeasurements *m, const uint8_t uki_sha256[static 32], uint64_t uki_size,
                     char **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *records = NULL, *v = NULL;
        uint8_t boot[32], sysinit[32], ready[32], pcr9[32];
        char h_uki[65], h9[65], h_boot[65], h_sysinit[65], h_ready[65];
        int r;

        reference_pcr11_phases(m, boot, sysinit, ready);
        reference_replay(m, 9, pcr9);
        hex32(uki_sha256, h_uki);
        hex32(pcr9, h9);
        hex32(boot, h_boot);
        hex32(sysinit, h_sysinit);
        hex32(ready, h_ready);

        for (size_t i = 0; i < m->n; i++) {
                char h[65];

                hex32(m->records[i].sha256, h);
                r = sd_json_variant_append_arraybo(&records, SD_JSON_BUILD_PAIR_UNSIGNED("pcr", m->records[i].pcr),
                                                   SD_JSON_BUILD_PAIR_STRING("event", m->records[i].what),
                                                   SD_JSON_BUILD_PAIR_STRING("sha256", h));
                if (r < 0)
                        return r;
        }
        r = sd_json_buildo(
                        &v,
                        SD_JSON_BUILD_PAIR("uki", SD_JSON_BUILD_OBJECT(SD_JSON_BUILD_PAIR_STRING("sha256", h_uki),
                                                                       SD_JSON_BUILD_PAIR_UNSIGNED("size", uki_size))),
                        SD_JSON_BUILD_PAIR_VARIANT("records", records),
                        SD_JSON_BUILD_PAIR("pcrs", SD_JSON_BUILD_OBJECT(
                                                           SD_JSON_BUILD_PAIR_STRING("9", h9),
                                                           SD_JSON_BUILD_PAIR("11", SD_JSON_BUILD_OBJECT(
                                                                                            SD_JSON_BUILD_PAIR_STRING("boot", h_boot),
                                                                                            SD_JSON_BUILD_PAIR_STRING("sysinit", h_sysinit),
                                                                                            SD_JSON_BUILD_PAIR_STRING("ready", h_ready))))));
        if (r < 0)
                return r;
        r = sd_json_variant_format(v, SD_JSON_FORMAT_PRETTY | SD_JSON_FORMAT_NEWLINE, ret);
        return r < 0 ? r : 0;
}

static int parse_hex32(sd_json_variant *v, uint8_t ret[static 32]) {
        _cleanup_free_ void *p = NULL;
        size_t n;

        if (!v || !sd_json_variant_is_string(v) || strlen(sd_json_variant_string(v)) != 64)
                return -EBADMSG;
        if (unhexmem(sd_json_variant_string(v), 32, &p, &n) < 0 || n != 32)
                return -EBADMSG;
        memcpy(ret, p, 32);
        return 0;
}

int reference_parse(const char *text, size_t size, ImageMeasurements *ret, uint8_t ret_uki_sha256[static 32]) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        sd_json_variant *uki, *records;
        ImageMeasurements m = {};
        uint8_t digest[32];
        int r;

        if (size > REFERENCE_SIZE_MAX)
                return -E2BIG;
        if (strnlen(text, size) != size)
                return -EBADMSG;
        r = sd_json_parse(text, 0, &v, NULL, NULL);
        if (r < 0 || !sd_json_variant_is_object(v))
                return -EBADMSG;
        for (size_t i = 0; i < sd_json_variant_elements(v); i += 2) {
                const char *k = sd_json_variant_string(sd_json_variant_by_index(v, i));
                if (!k || !(streq(k, "uki") || streq(k, "records") || streq(k, "pcrs")))
                        return -EBADMSG;
        }
        uki = sd_json_variant_by_key(v, "uki");
        records = sd_json_variant_by_key(v, "records");
        if (!uki || !sd_json_variant_is_object(uki) || !records || !sd_json_variant_is_array(records))
                return -EBADMSG;
        if (parse_hex32(sd_json_variant_by_key(uki, "sha256"), digest) < 0)
                return -EBADMSG;
        if (sd_json_variant_elements(records) == 0)
                return -EBADMSG;
        if (sd_json_variant_elements(records) > IMAGE_RECORDS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < sd_json_variant_elements(records); i++) {
                sd_json_variant *e = sd_json_variant_by_index(records, i), *pcr, *what;
                ImageRecord *rec = &m.records[m.n];

                if (!sd_json_variant_is_object(e))
                        return -EBADMSG;
                pcr = sd_json_variant_by_key(e, "pcr");
                what = sd_json_variant_by_key(e, "event");
                if (!pcr || !sd_json_variant_is_unsigned(pcr) || sd_json_variant_unsigned(pcr) >= 24 ||
                    !(IMAGE_PCR_MASK & (1U << sd_json_variant_unsigned(pcr))))
                        return -EBADMSG;
                if (!what || !sd_json_variant_is_string(what) || strlen(sd_json_variant_string(what)) >= sizeof(rec->what))
                        return -EBADMSG;
                if (parse_hex32(sd_json_variant_by_key(e, "sha256"), rec->sha256) < 0)
                        return -EBADMSG;
                rec->pcr = (uint32_t) sd_json_variant_unsigned(pcr);
                snprintf(rec->what, sizeof(rec->what), "%s", sd_json_variant_string(what));
                m.n++;
        }
        *ret = m;
        memcpy(ret_uki_sha256, digest, 32);
        return 0;
}
