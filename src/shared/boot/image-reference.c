/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "digest-util.h"
#include "image-reference.h"
#include "pcr-replay.h"
#include "string-util.h"

static const char *const phase_table[_IMAGE_PHASE_MAX] = {
        [IMAGE_PHASE_BOOT] = "boot",
        [IMAGE_PHASE_SYSINIT] = "sysinit",
        [IMAGE_PHASE_READY] = "ready",
};

const char *image_phase_to_string(ImagePhase p) {
        return p >= 0 && p < _IMAGE_PHASE_MAX ? phase_table[p] : NULL;
}

void image_reference_replay(const ImageMeasurements *m, uint32_t pcr, uint8_t ret[static 32]) {
        memset(ret, 0, 32);
        for (size_t i = 0; i < m->n; i++)
                if (m->records[i].pcr == pcr)
                        pcr_extend_sha256(ret, m->records[i].sha256);
}

void image_reference_pcr11_phases(const ImageMeasurements *m, uint8_t ret[static _IMAGE_PHASE_MAX][32]) {
        image_reference_replay(m, 11, ret[IMAGE_PHASE_BOOT]);
        for (size_t p = IMAGE_PHASE_SYSINIT; p < _IMAGE_PHASE_MAX; p++) {
                /* systemd-pcrextend measures the word itself, without a NUL. */
                const char *word = phase_table[p];
                uint8_t d[32];

                memcpy(ret[p], ret[p - 1], 32);
                (void) sha256_digest(word, strlen(word), d);
                pcr_extend_sha256(ret[p], d);
        }
}

int image_reference_init(ImageReference *ret, const ImageMeasurements *m, const uint8_t uki_sha256[static 32],
                         uint64_t uki_size, const OsRelease *os) {
        ImageReference ref = {
                .version = 2,
                .uki_size = uki_size,
                .measurements = *m,
        };
        unsigned n_pcr4 = 0;

        /* patela-pcrlock writes the UKI's digest first and the kernel's after the stub's PCR 11 records; a
         * firmware log has them in the same order (the stub loads the kernel after measuring itself). */
        for (size_t i = 0; i < m->n; i++) {
                if (m->records[i].pcr != 4)
                        continue;
                if (n_pcr4 == 0)
                        memcpy(ref.uki_authenticode, m->records[i].sha256, 32);
                else if (n_pcr4 == 1) {
                        memcpy(ref.kernel_authenticode, m->records[i].sha256, 32);
                        ref.have_kernel_authenticode = true;
                }
                n_pcr4++;
        }
        if (n_pcr4 == 0 || n_pcr4 > 2)
                return -EBADMSG;
        ref.measurements.early_load = false;
        memcpy(ref.uki_sha256, uki_sha256, 32);
        image_reference_replay(m, 9, ref.pcr9);
        image_reference_pcr11_phases(m, ref.pcr11);
        if (os)
                ref.os_release = *os;
        *ret = ref;
        return 0;
}

static void hex32(const uint8_t d[static 32], char out[static 65]) {
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int image_reference_format(const ImageReference *ref, char **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *records = NULL, *os = NULL, *pcr11 = NULL,
                                                          *v = NULL;
        char h_uki[65], h_auth[65], h_kernel[65], h9[65];
        bool v2 = ref->version != 1;
        int r;

        hex32(ref->uki_sha256, h_uki);
        hex32(ref->uki_authenticode, h_auth);
        hex32(ref->kernel_authenticode, h_kernel);
        hex32(ref->pcr9, h9);

        r = sd_json_variant_new_object(&os, NULL, 0);
        if (r < 0)
                return r;
        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                if (ref->os_release.values[f][0] != '\0') {
                        r = sd_json_variant_set_field_string(&os, os_release_field_to_string(f),
                                                             ref->os_release.values[f]);
                        if (r < 0)
                                return r;
                }
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++) {
                char h[65];

                hex32(ref->pcr11[p], h);
                r = sd_json_variant_set_field_string(&pcr11, phase_table[p], h);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ref->measurements.n; i++) {
                const ImageRecord *rec = &ref->measurements.records[i];
                char h[65];

                hex32(rec->sha256, h);
                r = sd_json_variant_append_arraybo(&records, SD_JSON_BUILD_PAIR_UNSIGNED("pcr", rec->pcr),
                                                   SD_JSON_BUILD_PAIR_STRING("event", rec->what),
                                                   SD_JSON_BUILD_PAIR_STRING("sha256", h));
                if (r < 0)
                        return r;
        }
        r = sd_json_buildo(
                        &v,
                        /* A reference read in version 1 stays one: it may lack the UKI's size, which version
                         * 2 requires, and has no os-release identity (found by fuzz-image-reference: version 2
                         * with "size": 0 did not parse back). */
                        SD_JSON_BUILD_PAIR("uki", SD_JSON_BUILD_OBJECT(
                                        SD_JSON_BUILD_PAIR_STRING("sha256", h_uki),
                                        SD_JSON_BUILD_PAIR_CONDITION(v2 || ref->uki_size > 0, "size",
                                                                     SD_JSON_BUILD_UNSIGNED(ref->uki_size)),
                                        SD_JSON_BUILD_PAIR_CONDITION(v2, "authenticode", SD_JSON_BUILD_STRING(h_auth)),
                                        SD_JSON_BUILD_PAIR_CONDITION(v2 && ref->have_kernel_authenticode,
                                                                     "kernelAuthenticode",
                                                                     SD_JSON_BUILD_STRING(h_kernel)),
                                        SD_JSON_BUILD_PAIR_CONDITION(v2, "osRelease", SD_JSON_BUILD_VARIANT(os)))),
                        SD_JSON_BUILD_PAIR_VARIANT("records", records),
                        SD_JSON_BUILD_PAIR("pcrs", SD_JSON_BUILD_OBJECT(
                                        SD_JSON_BUILD_PAIR_STRING("9", h9),
                                        SD_JSON_BUILD_PAIR_VARIANT("11", pcr11))));
        if (r < 0)
                return r;
        r = sd_json_variant_format(v, SD_JSON_FORMAT_PRETTY | SD_JSON_FORMAT_NEWLINE, ret);
        return r < 0 ? r : 0;
}

/* ---- parsing ------------------------------------------------------------------------------------------ */

static int bad(BootError *reterr, uint32_t pcr, const char *problem) {
        return boot_error(reterr, -EBADMSG, BOOT_LOG_REFERENCE, SIZE_MAX, 0, pcr, BOOT_ERROR_NONE, problem);
}

/* Every key of the object among allowed, none twice (sd-json keeps both of a duplicated key, and another
 * reader of the same file, jq for one, would take the other value). */
static bool keys_valid(sd_json_variant *o, const char *const *allowed, size_t n_allowed) {
        size_t n = sd_json_variant_elements(o);

        for (size_t i = 0; i < n; i += 2) {
                const char *k = sd_json_variant_string(sd_json_variant_by_index(o, i));
                bool found = false;

                if (!k)
                        return false;
                for (size_t a = 0; a < n_allowed && !found; a++)
                        found = streq(k, allowed[a]);
                if (!found)
                        return false;
                for (size_t j = 0; j < i; j += 2)
                        if (streq(k, sd_json_variant_string(sd_json_variant_by_index(o, j))))
                                return false;
        }
        return true;
}

/* 64 lower-case hex digits: the one spelling patela-pcrlock writes, so that equal digests compare equal as
 * text too (the server's database stores them as text). */
static int parse_hex32(sd_json_variant *v, uint8_t ret[static 32]) {
        const char *s;

        if (!v || !sd_json_variant_is_string(v))
                return -EBADMSG;
        s = sd_json_variant_string(v);
        if (strlen(s) != 64 || !in_charset(s, "0123456789abcdef"))
                return -EBADMSG;
        for (size_t i = 0; i < 32; i++) {
                unsigned x;

                if (sscanf(s + 2 * i, "%2x", &x) != 1)
                        return -EBADMSG;
                ret[i] = (uint8_t) x;
        }
        return 0;
}

/* A JSON integer (sd-json also calls 4.0 unsigned) in 0…max. */
static int parse_unsigned(sd_json_variant *v, uint64_t max, uint64_t *ret) {
        sd_json_variant_type_t t = v ? sd_json_variant_type(v) : _SD_JSON_VARIANT_TYPE_INVALID;

        if (!(t == SD_JSON_VARIANT_INTEGER || t == SD_JSON_VARIANT_UNSIGNED) ||
            !sd_json_variant_is_unsigned(v) || sd_json_variant_unsigned(v) > max)
                return -EBADMSG;
        *ret = sd_json_variant_unsigned(v);
        return 0;
}

static int parse_records(sd_json_variant *records, ImageMeasurements *m, BootError *reterr) {
        static const char *const keys[] = { "pcr", "event", "sha256" };

        if (!records || !sd_json_variant_is_array(records))
                return bad(reterr, BOOT_ERROR_NONE, "\"records\" is missing or not an array");
        if (sd_json_variant_elements(records) == 0)
                return bad(reterr, BOOT_ERROR_NONE, "\"records\" is empty");
        if (sd_json_variant_elements(records) > IMAGE_RECORDS_MAX)
                return boot_error(reterr, -E2BIG, BOOT_LOG_REFERENCE, SIZE_MAX, 0, BOOT_ERROR_NONE,
                                  BOOT_ERROR_NONE, "more than 64 records");
        *m = (ImageMeasurements) {};
        for (size_t i = 0; i < sd_json_variant_elements(records); i++) {
                sd_json_variant *e = sd_json_variant_by_index(records, i), *what;
                ImageRecord *rec = &m->records[m->n];
                uint64_t pcr;

                if (!sd_json_variant_is_object(e) || !keys_valid(e, keys, ELEMENTSOF(keys)) ||
                    sd_json_variant_elements(e) != 2 * ELEMENTSOF(keys))
                        return bad(reterr, BOOT_ERROR_NONE,
                                   "a record is not {\"pcr\", \"event\", \"sha256\"}");
                if (parse_unsigned(sd_json_variant_by_key(e, "pcr"), 23, &pcr) < 0 ||
                    !(IMAGE_PCR_MASK & (1U << pcr)))
                        return bad(reterr, BOOT_ERROR_NONE, "a record's \"pcr\" is not 4, 9 or 11");
                what = sd_json_variant_by_key(e, "event");
                /* Printed in tables and logs: no control character, no quote or backslash. */
                if (!sd_json_variant_is_string(what) ||
                    strlen(sd_json_variant_string(what)) >= sizeof(rec->what) ||
                    !in_charset(sd_json_variant_string(what),
                                " !#%&()*+,-./0123456789:;<=>?@[]^_{|}~"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
                        return bad(reterr, (uint32_t) pcr,
                                   "a record's \"event\" is not a short printable string");
                if (parse_hex32(sd_json_variant_by_key(e, "sha256"), rec->sha256) < 0)
                        return bad(reterr, (uint32_t) pcr,
                                   "a record's \"sha256\" is not 64 lower-case hex digits");
                rec->pcr = (uint32_t) pcr;
                snprintf(rec->what, sizeof(rec->what), "%s", sd_json_variant_string(what));
                m->n++;
        }
        return 0;
}

static int parse_os_release(sd_json_variant *v, OsRelease *ret, BootError *reterr) {
        OsRelease o = {};

        if (!v || !sd_json_variant_is_object(v))
                return bad(reterr, BOOT_ERROR_NONE, "\"uki.osRelease\" is missing or not an object");
        for (size_t i = 0; i < sd_json_variant_elements(v); i += 2) {
                const char *k = sd_json_variant_string(sd_json_variant_by_index(v, i));
                sd_json_variant *value = sd_json_variant_by_index(v, i + 1);
                OsReleaseField f = os_release_field_from_string(k);

                if (f < 0)
                        return bad(reterr, BOOT_ERROR_NONE,
                                   "\"uki.osRelease\" has a key other than ID, VERSION_ID, IMAGE_ID, "
                                   "IMAGE_VERSION, BUILD_ID");
                if (o.values[f][0] != '\0')
                        return bad(reterr, BOOT_ERROR_NONE, "\"uki.osRelease\" has a key twice");
                if (!sd_json_variant_is_string(value) ||
                    !os_release_value_is_valid(sd_json_variant_string(value)))
                        return bad(reterr, BOOT_ERROR_NONE,
                                   "an \"uki.osRelease\" value is not 1-63 of [A-Za-z0-9._~+-]");
                snprintf(o.values[f], sizeof(o.values[f]), "%s", sd_json_variant_string(value));
        }
        *ret = o;
        return 0;
}

/* "pcrs" must state what the records give: a reader that trusts the stated values without replaying (jq,
 * a person) then sees the same as one that replays. */
static int check_pcrs(sd_json_variant *pcrs, const ImageReference *ref, BootError *reterr) {
        static const char *const keys[] = { "9", "11" };
        sd_json_variant *pcr11;
        uint8_t d[32];

        if (!sd_json_variant_is_object(pcrs) || !keys_valid(pcrs, keys, ELEMENTSOF(keys)) ||
            sd_json_variant_elements(pcrs) != 2 * ELEMENTSOF(keys))
                return bad(reterr, BOOT_ERROR_NONE, "\"pcrs\" is not {\"9\", \"11\"}");
        if (parse_hex32(sd_json_variant_by_key(pcrs, "9"), d) < 0 || memcmp(d, ref->pcr9, 32) != 0)
                return bad(reterr, 9, "\"pcrs.9\" is not what the records give");
        pcr11 = sd_json_variant_by_key(pcrs, "11");
        if (!sd_json_variant_is_object(pcr11) || !keys_valid(pcr11, phase_table, _IMAGE_PHASE_MAX) ||
            sd_json_variant_elements(pcr11) != 2 * _IMAGE_PHASE_MAX)
                return bad(reterr, 11, "\"pcrs.11\" is not {\"boot\", \"sysinit\", \"ready\"}");
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                if (parse_hex32(sd_json_variant_by_key(pcr11, phase_table[p]), d) < 0 ||
                    memcmp(d, ref->pcr11[p], 32) != 0)
                        return bad(reterr, 11, "\"pcrs.11\" is not what the records give");
        return 0;
}

int image_reference_parse(const char *text, size_t size, ImageReference *ret, BootError *reterr) {
        static const char *const top_keys[] = { "uki", "records", "pcrs" };
        static const char *const uki_keys[] = { "sha256", "size", "authenticode", "kernelAuthenticode",
                                                "osRelease" };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        _cleanup_free_ char *copy = NULL;
        sd_json_variant *uki, *pcrs, *x;
        ImageMeasurements m;
        ImageReference ref;
        OsRelease os = {};
        uint8_t digest[32], d[32];
        uint64_t uki_size = 0;
        unsigned version, n_pcr4 = 0;
        int r;

        if (size > IMAGE_REFERENCE_SIZE_MAX)
                return boot_error(reterr, -E2BIG, BOOT_LOG_REFERENCE, SIZE_MAX, 0, BOOT_ERROR_NONE,
                                  BOOT_ERROR_NONE, "larger than 64 KiB");
        if (memchr(text, '\0', size))
                return bad(reterr, BOOT_ERROR_NONE, "a NUL byte in the text");
        /* sd-json reads up to a NUL: give it one at size, whatever follows in the caller's buffer. */
        copy = strndup(text, size);
        if (!copy)
                return -ENOMEM;
        if (sd_json_parse(copy, 0, &v, NULL, NULL) < 0)
                return bad(reterr, BOOT_ERROR_NONE, "not JSON");
        if (!sd_json_variant_is_object(v) || !keys_valid(v, top_keys, ELEMENTSOF(top_keys)))
                return bad(reterr, BOOT_ERROR_NONE, "not an object of \"uki\", \"records\" and \"pcrs\"");

        uki = sd_json_variant_by_key(v, "uki");
        if (!uki || !sd_json_variant_is_object(uki) || !keys_valid(uki, uki_keys, ELEMENTSOF(uki_keys)))
                return bad(reterr, BOOT_ERROR_NONE, "\"uki\" is missing or has unknown keys");
        /* Version 2 added the Authenticode digests and the os-release identity inside "uki", and made "size"
         * and "pcrs" required; version 1 readers (patela-pcrlock of older images) ignore them. */
        version = sd_json_variant_by_key(uki, "authenticode") ? 2 : 1;
        if (version == 1 &&
            (sd_json_variant_by_key(uki, "kernelAuthenticode") || sd_json_variant_by_key(uki, "osRelease")))
                return bad(reterr, BOOT_ERROR_NONE, "\"uki.authenticode\" is missing");
        if (parse_hex32(sd_json_variant_by_key(uki, "sha256"), digest) < 0)
                return bad(reterr, BOOT_ERROR_NONE, "\"uki.sha256\" is not 64 lower-case hex digits");
        x = sd_json_variant_by_key(uki, "size");
        if ((x || version == 2) && (parse_unsigned(x, IMAGE_UKI_SIZE_MAX, &uki_size) < 0 || uki_size == 0))
                return bad(reterr, BOOT_ERROR_NONE, "\"uki.size\" is missing or not 1 B-1 GiB");
        if (version == 2) {
                r = parse_os_release(sd_json_variant_by_key(uki, "osRelease"), &os, reterr);
                if (r < 0)
                        return r;
        }

        r = parse_records(sd_json_variant_by_key(v, "records"), &m, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m.n; i++)
                n_pcr4 += m.records[i].pcr == 4;
        if (n_pcr4 == 0)
                return bad(reterr, 4, "no PCR 4 record (the UKI's Authenticode digest)");
        if (n_pcr4 > 2)
                return bad(reterr, 4, "more than two PCR 4 records (a UKI and its kernel)");
        r = image_reference_init(&ref, &m, digest, uki_size, &os);
        if (r < 0)
                return bad(reterr, BOOT_ERROR_NONE, "the records do not describe a UKI");
        ref.version = version;

        if (version == 2) {
                if (parse_hex32(sd_json_variant_by_key(uki, "authenticode"), d) < 0 ||
                    memcmp(d, ref.uki_authenticode, 32) != 0)
                        return bad(reterr, 4, "\"uki.authenticode\" is not the first PCR 4 record");
                x = sd_json_variant_by_key(uki, "kernelAuthenticode");
                if (!!x != ref.have_kernel_authenticode ||
                    (x && (parse_hex32(x, d) < 0 || memcmp(d, ref.kernel_authenticode, 32) != 0)))
                        return bad(reterr, 4, "\"uki.kernelAuthenticode\" is not the second PCR 4 record");
        }
        pcrs = sd_json_variant_by_key(v, "pcrs");
        if (!pcrs && version == 2)
                return bad(reterr, BOOT_ERROR_NONE, "\"pcrs\" is missing");
        if (pcrs) {
                r = check_pcrs(pcrs, &ref, reterr);
                if (r < 0)
                        return r;
        }
        *ret = ref;
        return 0;
}
