/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Just enough of the PE/COFF format to predict what booting a UKI measures: the section table and the
 * Authenticode hash the firmware extends into PCR 4 (Microsoft's "Windows Authenticode Portable
 * Executable Signature Format": the image minus the checksum, the certificate-table entry and the
 * certificate table itself, with the sections in file order). Nothing here logs. */

#define PE_SECTIONS_MAX 96U
#define PE_SIZE_MAX (1024U * 1024U * 1024U)

typedef struct PeSection {
        char name[9];                   /* NUL-terminated; names are at most 8 bytes in the section table */
        uint32_t virtual_size;
        uint32_t raw_size;
        uint32_t raw_offset;
} PeSection;

typedef struct PeImage {
        const uint8_t *data;            /* not owned */
        size_t size;
        size_t checksum_offset;         /* of the optional header's CheckSum field */
        size_t cert_entry_offset;       /* of the certificate table's data-directory entry, 0 if none */
        uint32_t cert_offset, cert_size;
        uint32_t headers_size;          /* SizeOfHeaders */
        size_t n_sections;
        PeSection sections[PE_SECTIONS_MAX];
} PeImage;

/* Parses the headers; every offset and size is checked against the file. -EBADMSG if it is not a PE
 * image this code understands, -E2BIG past PE_SIZE_MAX or PE_SECTIONS_MAX. */
int pe_parse(const uint8_t *data, size_t size, PeImage *ret);

/* The section called name (".linux", ".initrd", ...), NULL if there is none. */
const PeSection *pe_find_section(const PeImage *pe, const char *name);

/* The section's contents as the loaded image has them: VirtualSize bytes, zero past the raw data.
 * Returns a malloc()ed copy. */
int pe_section_data(const PeImage *pe, const PeSection *s, uint8_t **ret, size_t *ret_size);

/* SHA-256 Authenticode digest of the image. */
int pe_authenticode_sha256(const PeImage *pe, uint8_t ret[static 32]);
