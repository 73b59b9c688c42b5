/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <openssl/evp.h>
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

/* A PE image's Authenticode digest, as the firmware measures a loaded image into PCR 4. */
static int add_authenticode(ImageMeasurements *m, const PeImage *pe, const char *what) {
        ImageRecord *r;
        int k;

        if (m->n >= IMAGE_RECORDS_MAX)
                return -E2BIG;
        r = &m->records[m->n];
        k = pe_authenticode_sha256(pe, r->sha256);
        if (k < 0)
                return k;
        r->pcr = 4;
        snprintf(r->what, sizeof(r->what), "%s", what);
        m->n++;
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

/* One newc cpio entry as systemd-stub writes them: inode from 1, uid/gid/mtime 0, nlink 1, lower-case hex,
 * header + name and the contents each padded to 4 bytes. */
static void cpio_entry(EVP_MD_CTX *ctx, size_t *offset, uint32_t ino, uint32_t mode, const char *name,
                       const uint8_t *data, uint32_t size) {
        static const uint8_t zeros[4] = {};
        const uint32_t fields[13] = { ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, (uint32_t) strlen(name) + 1, 0 };
        char hdr[6 + 13 * 8 + 1] = "070701";
        size_t namesize = strlen(name) + 1;

        for (size_t i = 0; i < 13; i++)
                snprintf(hdr + 6 + 8 * i, 9, "%08" PRIx32, fields[i]);
        EVP_DigestUpdate(ctx, hdr, 6 + 13 * 8);
        EVP_DigestUpdate(ctx, name, namesize);
        *offset += 6 + 13 * 8 + namesize;
        EVP_DigestUpdate(ctx, zeros, (4 - *offset % 4) % 4);
        *offset += (4 - *offset % 4) % 4;
        if (size > 0)
                EVP_DigestUpdate(ctx, data, size);
        *offset += size;
        EVP_DigestUpdate(ctx, zeros, (4 - *offset % 4) % 4);
        *offset += (4 - *offset % 4) % 4;
}

/* What the kernel measures as its initrd: systemd-stub hands it the .initrd section, padded to 4 bytes,
 * followed by a cpio archive holding the .osrel section as /.extra/os-release (directory 0555, file 0444)
 * — and by further archives for credentials, system and configuration extensions found next to the UKI
 * on the ESP, which patela's image does not use (patela-pcrlock(8)). */
static int add_initrd(ImageMeasurements *m, const PeImage *pe, const PeSection *initrd, const PeSection *osrel) {
        static const char trailer[] = "070701"
                                      "00000000" "00000000" "00000000" "00000000" "00000001" "00000000"
                                      "00000000" "00000000" "00000000" "00000000" "00000000" "0000000B"
                                      "00000000" "TRAILER!!!\0\0\0";
        static const uint8_t zeros[4] = {};
        _cleanup_free_ uint8_t *content = NULL, *os = NULL;
        size_t content_size, os_size, offset = 0;
        EVP_MD_CTX *ctx = NULL;
        unsigned len = 0;
        ImageRecord *rec;
        int r, ok;

        if (m->n >= IMAGE_RECORDS_MAX)
                return -E2BIG;
        r = pe_section_data(pe, initrd, &content, &content_size);
        if (r < 0)
                return r;
        if (osrel) {
                r = pe_section_data(pe, osrel, &os, &os_size);
                if (r < 0)
                        return r;
                if (os_size > UINT32_MAX)
                        return -E2BIG;
        }
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, content, content_size);
        if (ok && osrel) {
                ok = EVP_DigestUpdate(ctx, zeros, (4 - content_size % 4) % 4);
                cpio_entry(ctx, &offset, 1, 0040555, ".extra", NULL, 0);
                cpio_entry(ctx, &offset, 2, 0100444, ".extra/os-release", os, (uint32_t) os_size);
                ok = ok && EVP_DigestUpdate(ctx, trailer, sizeof(trailer)); /* with its NUL: 124 bytes */
        }
        rec = &m->records[m->n];
        ok = ok && EVP_DigestFinal_ex(ctx, rec->sha256, &len) && len == 32;
        EVP_MD_CTX_free(ctx);
        if (!ok)
                return -EIO;
        rec->pcr = 9;
        snprintf(rec->what, sizeof(rec->what), "initrd");
        m->n++;
        return 0;
}

int image_measurements_from_uki(const uint8_t *data, size_t size, ImageMeasurements *ret) {
        ImageMeasurements m = {};
        PeImage pe;
        int r;

        r = pe_parse(data, size, &pe);
        if (r < 0)
                return r;
        if (!pe_find_section(&pe, ".linux"))
                return -EBADMSG;

        r = add_authenticode(&m, &pe, "authenticode UKI");
        if (r < 0)
                return r;

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

        /* systemd-stub starts the kernel with LoadImage(): the firmware measures its Authenticode digest too. */
        {
                _cleanup_free_ uint8_t *linux_pe = NULL;
                size_t linux_size;
                PeImage kernel;

                r = pe_section_data(&pe, pe_find_section(&pe, ".linux"), &linux_pe, &linux_size);
                if (r < 0)
                        return r;
                r = pe_parse(linux_pe, linux_size, &kernel);
                if (r < 0)
                        return r;
                r = add_authenticode(&m, &kernel, "authenticode .linux");
                if (r < 0)
                        return r;
        }

        const PeSection *initrd = pe_find_section(&pe, ".initrd"), *cmdline = pe_find_section(&pe, ".cmdline");
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
        if (initrd) {
                r = add_initrd(&m, &pe, initrd, pe_find_section(&pe, ".osrel"));
                if (r < 0)
                        return r;
        }
        *ret = m;
        return 0;
}

int image_measurements_from_log(const TcgEvent *events, size_t n, ImageMeasurements *ret) {
        ImageMeasurements m = {};
        bool separator = false;

        for (size_t i = 0; i < n; i++) {
                const TcgEvent *e = &events[i];
                ImageRecord *r;
                const char *what = NULL;

                if (e->type == EV_NO_ACTION)
                        continue;
                if (e->pcr == 4 && e->type == EV_SEPARATOR)
                        separator = true;
                if (e->pcr == 4 && e->type == EV_EFI_BOOT_SERVICES_APPLICATION) {
                        what = "authenticode";
                        if (m.n == 0 && !separator)
                                m.early_load = true;
                }
                else if (e->pcr == 11)
                        what = "stub";
                else if (e->pcr == 9)
                        what = NULL;
                else
                        continue;
                if (m.n >= IMAGE_RECORDS_MAX)
                        return -E2BIG;
                r = &m.records[m.n++];
                r->pcr = e->pcr;
                memcpy(r->sha256, e->sha256, 32);
                if (what)
                        snprintf(r->what, sizeof(r->what), "%s", what);
                else if (e->type == EV_EVENT_TAG && e->data_size >= 8)
                        /* TCG_PCClientTaggedEvent: the kernel's tags for the initrd and the load options */
                        snprintf(r->what, sizeof(r->what), "tag %08x, %u bytes",
                                 (unsigned) (e->data[0] | (e->data[1] << 8) | (e->data[2] << 16) | ((unsigned) e->data[3] << 24)),
                                 (unsigned) (e->data[4] | (e->data[5] << 8) | (e->data[6] << 16) | ((unsigned) e->data[7] << 24)));
                else
                        snprintf(r->what, sizeof(r->what), "type %08x", (unsigned) e->type);
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
