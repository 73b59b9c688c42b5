/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "pcrlock-image.h"
#include "pcrlock-pe.h"

/* The UKI specification's canonical order, which is the order systemd-stub measures in. .pcrsig is not
 * measured (it signs the measurements). */
static const char *const uki_sections[] = {
        ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat",
        ".pcrpkey", ".profile", ".dtbauto", ".hwids",
};

static int add(ImageMeasurements *m, uint32_t pcr, const void *data, size_t size, const char *what) {
        ImageRecord *r;

        if (m->n >= IMAGE_RECORDS_MAX)
                return -E2BIG;
        r = &m->records[m->n++];
        r->pcr = pcr;
        SHA256(data, size, r->sha256);
        snprintf(r->what, sizeof(r->what), "%s", what);
        return 0;
}

/* The command line as the kernel's EFI stub measures its LoadOptions: what systemd-stub hands over is
 * the .cmdline text as UTF-16LE with a terminating NUL character. */
static int add_cmdline(ImageMeasurements *m, const uint8_t *text, size_t size) {
        _cleanup_free_ uint8_t *u16 = NULL;
        size_t n = 0;

        /* .cmdline may end in a newline or NULs; the stub stops at the first NUL. */
        for (size_t i = 0; i < size && text[i] != '\0'; i++)
                n++;
        u16 = calloc(n + 1, 2);
        if (!u16)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                u16[2 * i] = text[i];   /* the stub refuses non-ASCII in .cmdline? keep bytes as code units */
        return add(m, 9, u16, 2 * (n + 1), "cmdline");
}

int image_measurements_from_uki(const uint8_t *data, size_t size, ImageMeasurements *ret) {
        ImageMeasurements m = {};
        uint8_t digest[32];
        PeImage pe;
        int r;

        r = pe_parse(data, size, &pe);
        if (r < 0)
                return r;
        if (!pe_find_section(&pe, ".linux"))
                return -EBADMSG;

        r = pe_authenticode_sha256(&pe, digest);
        if (r < 0)
                return r;
        if (m.n >= IMAGE_RECORDS_MAX)
                return -E2BIG;
        m.records[m.n].pcr = 4;
        memcpy(m.records[m.n].sha256, digest, 32);
        snprintf(m.records[m.n].what, sizeof(m.records[m.n].what), "authenticode");
        m.n++;

        for (size_t i = 0; i < ELEMENTSOF(uki_sections); i++) {
                const PeSection *s = pe_find_section(&pe, uki_sections[i]);
                _cleanup_free_ uint8_t *content = NULL;
                size_t content_size;

                if (!s)
                        continue;
                r = pe_section_data(&pe, s, &content, &content_size);
                if (r < 0)
                        return r;
                r = add(&m, 11, uki_sections[i], strlen(uki_sections[i]) + 1, uki_sections[i]);
                if (r < 0)
                        return r;
                r = add(&m, 11, content, content_size, uki_sections[i]);
                if (r < 0)
                        return r;
        }

        const PeSection *initrd = pe_find_section(&pe, ".initrd"), *cmdline = pe_find_section(&pe, ".cmdline");
        if (initrd) {
                _cleanup_free_ uint8_t *content = NULL;
                size_t content_size;

                r = pe_section_data(&pe, initrd, &content, &content_size);
                if (r < 0)
                        return r;
                r = add(&m, 9, content, content_size, "initrd");
                if (r < 0)
                        return r;
        }
        if (cmdline) {
                _cleanup_free_ uint8_t *content = NULL;
                size_t content_size;

                r = pe_section_data(&pe, cmdline, &content, &content_size);
                if (r < 0)
                        return r;
                r = add_cmdline(&m, content, content_size);
                if (r < 0)
                        return r;
        }
        *ret = m;
        return 0;
}

int image_measurements_from_log(const TcgEvent *events, size_t n, ImageMeasurements *ret) {
        ImageMeasurements m = {};

        for (size_t i = 0; i < n; i++) {
                const TcgEvent *e = &events[i];
                ImageRecord *r;
                const char *what;

                if (!e->have_sha256 || e->type == EV_NO_ACTION)
                        continue;
                if (e->pcr == 4 && e->type == EV_EFI_BOOT_SERVICES_APPLICATION)
                        what = "authenticode";
                else if (e->pcr == 11)
                        what = "stub";
                else if (e->pcr == 9)
                        what = "kernel";
                else
                        continue;
                if (m.n >= IMAGE_RECORDS_MAX)
                        return -E2BIG;
                r = &m.records[m.n++];
                r->pcr = e->pcr;
                memcpy(r->sha256, e->sha256, 32);
                snprintf(r->what, sizeof(r->what), "%s", what);
        }
        *ret = m;
        return 0;
}

bool image_measurements_equal(const ImageMeasurements *a, const ImageMeasurements *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (a->records[i].pcr != b->records[i].pcr ||
                    memcmp(a->records[i].sha256, b->records[i].sha256, 32) != 0)
                        return false;
        return true;
}
