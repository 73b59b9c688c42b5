/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "pcrlock-pe.h"

#define PE32_MAGIC 0x10bU
#define PE32PLUS_MAGIC 0x20bU
#define DIRECTORY_SECURITY 4U

static uint16_t le16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

/* [offset, offset + length) lies within size. */
static bool in_file(size_t size, uint64_t offset, uint64_t length) {
        return offset <= size && length <= size - offset;
}

int pe_parse(const uint8_t *data, size_t size, PeImage *ret) {
        uint32_t pe_offset, n_dirs;
        uint16_t n_sections, opt_size, magic;
        size_t opt, dirs, table;
        PeImage pe = { .data = data, .size = size };

        if (size > PE_SIZE_MAX)
                return -E2BIG;
        if (!in_file(size, 0, 0x40) || data[0] != 'M' || data[1] != 'Z')
                return -EBADMSG;
        pe_offset = le32(data + 0x3c);
        if (!in_file(size, pe_offset, 24) || memcmp(data + pe_offset, "PE\0\0", 4) != 0)
                return -EBADMSG;
        n_sections = le16(data + pe_offset + 6);
        opt_size = le16(data + pe_offset + 20);
        opt = (size_t) pe_offset + 24;
        if (!in_file(size, opt, opt_size) || opt_size < 2)
                return -EBADMSG;
        magic = le16(data + opt);
        if (magic == PE32PLUS_MAGIC)
                dirs = 112;
        else if (magic == PE32_MAGIC)
                dirs = 96;
        else
                return -EBADMSG;
        /* NumberOfRvaAndSizes sits just before the data directories. */
        if (opt_size < dirs)
                return -EBADMSG;
        n_dirs = le32(data + opt + dirs - 4);
        if (n_dirs > (opt_size - dirs) / 8)
                return -EBADMSG;
        pe.checksum_offset = opt + 64;
        pe.headers_size = le32(data + opt + 60);
        if (pe.headers_size > size)
                return -EBADMSG;
        if (n_dirs > DIRECTORY_SECURITY) {
                pe.cert_entry_offset = opt + dirs + 8 * DIRECTORY_SECURITY;
                pe.cert_offset = le32(data + pe.cert_entry_offset);     /* a file offset, not an RVA */
                pe.cert_size = le32(data + pe.cert_entry_offset + 4);
                if (pe.cert_size > 0 && !in_file(size, pe.cert_offset, pe.cert_size))
                        return -EBADMSG;
                if (pe.cert_entry_offset + 8 > pe.headers_size)
                        return -EBADMSG;
        }
        if (pe.checksum_offset + 4 > pe.headers_size)
                return -EBADMSG;

        if (n_sections > PE_SECTIONS_MAX)
                return -E2BIG;
        table = opt + opt_size;
        if (!in_file(size, table, (uint64_t) n_sections * 40) || table + (size_t) n_sections * 40 > pe.headers_size)
                return -EBADMSG;
        for (size_t i = 0; i < n_sections; i++) {
                const uint8_t *h = data + table + 40 * i;
                PeSection *s = &pe.sections[i];

                memcpy(s->name, h, 8);
                s->name[8] = '\0';
                s->virtual_size = le32(h + 8);
                s->raw_size = le32(h + 16);
                s->raw_offset = le32(h + 20);
                if (s->raw_size > 0 && !in_file(size, s->raw_offset, s->raw_size))
                        return -EBADMSG;
        }
        pe.n_sections = n_sections;
        *ret = pe;
        return 0;
}

const PeSection *pe_find_section(const PeImage *pe, const char *name) {
        for (size_t i = 0; i < pe->n_sections; i++)
                if (strneq(pe->sections[i].name, name, 8) && strlen(name) <= 8)
                        return &pe->sections[i];
        return NULL;
}

int pe_section_data(const PeImage *pe, const PeSection *s, uint8_t **ret, size_t *ret_size) {
        size_t n = s->virtual_size, raw = MIN(s->raw_size, s->virtual_size);
        uint8_t *p;

        if (n > PE_SIZE_MAX)
                return -E2BIG;
        p = calloc(1, n > 0 ? n : 1);
        if (!p)
                return -ENOMEM;
        memcpy(p, pe->data + s->raw_offset, raw);
        *ret = p;
        *ret_size = n;
        return 0;
}

static int compare_offset(const void *a, const void *b) {
        const PeSection *x = *(const PeSection *const *) a, *y = *(const PeSection *const *) b;

        return x->raw_offset < y->raw_offset ? -1 : x->raw_offset > y->raw_offset;
}

int pe_authenticode_sha256(const PeImage *pe, uint8_t ret[static 32]) {
        const PeSection *order[PE_SECTIONS_MAX];
        EVP_MD_CTX *ctx;
        uint64_t hashed;
        size_t n = 0, end;
        unsigned len = 0;
        int ok;

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
        /* The headers, without the checksum and the certificate table's directory entry. */
        ok = ok && EVP_DigestUpdate(ctx, pe->data, pe->checksum_offset);
        if (pe->cert_entry_offset > 0) {
                ok = ok && EVP_DigestUpdate(ctx, pe->data + pe->checksum_offset + 4,
                                            pe->cert_entry_offset - (pe->checksum_offset + 4));
                ok = ok && EVP_DigestUpdate(ctx, pe->data + pe->cert_entry_offset + 8,
                                            pe->headers_size - (pe->cert_entry_offset + 8));
        } else
                ok = ok && EVP_DigestUpdate(ctx, pe->data + pe->checksum_offset + 4,
                                            pe->headers_size - (pe->checksum_offset + 4));
        hashed = pe->headers_size;

        /* The sections' raw data in file order. */
        for (size_t i = 0; i < pe->n_sections; i++)
                if (pe->sections[i].raw_size > 0)
                        order[n++] = &pe->sections[i];
        qsort(order, n, sizeof(order[0]), compare_offset);
        for (size_t i = 0; i < n; i++) {
                ok = ok && EVP_DigestUpdate(ctx, pe->data + order[i]->raw_offset, order[i]->raw_size);
                hashed += order[i]->raw_size;
        }

        /* Whatever follows, except the certificate table. */
        end = pe->size - (pe->cert_size > 0 ? pe->cert_size : 0);
        if (hashed < end)
                ok = ok && EVP_DigestUpdate(ctx, pe->data + hashed, end - hashed);

        ok = ok && EVP_DigestFinal_ex(ctx, ret, &len);
        EVP_MD_CTX_free(ctx);
        return ok && len == 32 ? 0 : -EIO;
}
