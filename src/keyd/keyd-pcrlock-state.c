/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "keyd-pcrlock-state.h"
#include "keyd-store.h"
#include "log.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"

#define MAGIC "PTLP"
#define HEADER_SIZE (4U + 8U + 4U + 32U) /* magic, generation, length, SHA-256 of the text */
#define CHUNK 1024U                      /* well below every TPM's NV_INDEX_MAX */
#define NOTE_SUFFIX ".patela-nv-copy"
#define NOTE_SIZE (64U + 1U) /* SHA-256 in hex, newline */

/* The record's whole length from its first bytes: magic and length. */
static int record_total(const uint8_t *rec, size_t size, size_t *ret) {
        uint32_t l;
        size_t total;

        if (size < HEADER_SIZE || memcmp(rec, MAGIC, 4) != 0)
                return -EBADMSG;
        memcpy(&l, rec + 12, 4);
        total = HEADER_SIZE + (size_t) be32toh(l);
        if (total > (size_t) KEYD_PCRLOCK_CHUNKS_MAX * CHUNK)
                return -EBADMSG;
        *ret = total;
        return 0;
}

int pcrlock_record_parse(const uint8_t *rec, size_t size, uint64_t *ret_generation, const char **ret_text,
                         size_t *ret_text_size) {
        uint8_t digest[64];
        size_t total, dsize;
        uint64_t g;
        int r;

        r = record_total(rec, size, &total);
        if (r < 0)
                return r;
        if (total != size)
                return -EBADMSG;
        r = tpm2_digest(TPM2_ALG_SHA256, rec + HEADER_SIZE, size - HEADER_SIZE, digest, &dsize);
        if (r < 0)
                return r;
        if (memcmp(digest, rec + 16, 32) != 0)
                return -EBADMSG; /* torn write */
        memcpy(&g, rec + 4, 8);
        *ret_generation = be64toh(g);
        *ret_text = (const char *) rec + HEADER_SIZE;
        *ret_text_size = size - HEADER_SIZE;
        return 0;
}

/* Reads an area. -EBADMSG for a torn write (its SHA-256 does not match), -EKEYREJECTED (with *ret_bad) for an
 * intact copy that some chunk shows was not written through the policy the copy names. */
static int area_read(Tpm2Context *c, unsigned area, uint64_t *ret_generation, char **ret, size_t *ret_size,
                     TPM2_HANDLE *ret_bad) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *named = NULL;
        _cleanup_free_ uint8_t *first = NULL, *buf = NULL;
        _cleanup_free_ char *copy = NULL;
        TPM2B_NV_PUBLIC pub[KEYD_PCRLOCK_CHUNKS_MAX];
        size_t first_size, total, have, text_size;
        unsigned n_chunks = 1;
        const char *text;
        uint64_t g;
        int r;

        r = tpm2_nv_read_all(c, KEYD_NV_PCRLOCK(area, 0), CHUNK, &first, &first_size, &pub[0]);
        if (r == -ENODATA)
                return -ENOENT;
        if (r < 0)
                return r;
        r = record_total(first, first_size, &total);
        if (r < 0)
                return r;
        buf = malloc(total);
        if (!buf)
                return -ENOMEM;
        have = MIN(first_size, total);
        memcpy(buf, first, have);
        for (unsigned chunk = 1; have < total; chunk++) {
                _cleanup_free_ uint8_t *part = NULL;
                size_t n;

                if (chunk >= KEYD_PCRLOCK_CHUNKS_MAX)
                        return -EBADMSG;
                r = tpm2_nv_read_all(c, KEYD_NV_PCRLOCK(area, chunk), CHUNK, &part, &n, &pub[chunk]);
                if (r < 0)
                        return -EBADMSG;
                memcpy(buf + have, part, MIN(n, total - have));
                have += MIN(n, total - have);
                n_chunks = chunk + 1;
        }
        r = pcrlock_record_parse(buf, total, &g, &text, &text_size);
        if (r < 0)
                return r;
        copy = strndup(text, text_size);
        if (!copy)
                return -ENOMEM;
        if (strlen(copy) != text_size)
                return -EBADMSG; /* a NUL inside: not what keyd writes */

        /* Intact; but written by whom? Only a boot that satisfies the policy it names can have written it. */
        r = tpm2_pcrlock_policy_parse(copy, &named);
        for (unsigned chunk = 0; chunk < n_chunks; chunk++)
                if (r < 0 || tpm2_pcrlock_nv_check(named, &pub[chunk]) != 1) {
                        *ret_bad = KEYD_NV_PCRLOCK(area, chunk);
                        return r == -ENOMEM ? r : -EKEYREJECTED;
                }
        *ret_generation = g;
        *ret_size = text_size;
        *ret = TAKE_PTR(copy);
        return 0;
}

/* The newest protected, intact copy. strict: an intact but unprotected one fails the whole read
 * (-EKEYREJECTED); otherwise such an area counts as empty (to be overwritten). */
static int newest(Tpm2Context *c, bool strict, int *ret_area, uint64_t *ret_generation, char **ret, size_t *ret_size,
                  TPM2_HANDLE *ret_bad) {
        int best = -1;

        for (unsigned area = 0; area < 2; area++) {
                uint64_t g;
                char *text;
                size_t size;
                int r;

                r = area_read(c, area, &g, &text, &size, ret_bad);
                if (r == -EKEYREJECTED && strict) {
                        if (best >= 0)
                                free(*ret);
                        return r;
                }
                if (r == -EKEYREJECTED)
                        log_warning("NV 0x%08x holds a copy of pcrlock.json not written through its policy; it will be "
                                    "overwritten.", *ret_bad);
                if (r == -ENOMEM) {
                        if (best >= 0)
                                free(*ret);
                        return r;
                }
                if (r < 0)
                        continue;
                if (best < 0 || g > *ret_generation) {
                        if (best >= 0)
                                free(*ret);
                        best = (int) area;
                        *ret_generation = g;
                        *ret = text;
                        *ret_size = size;
                } else
                        free(text);
        }
        *ret_area = best;
        return best < 0 ? -ENOENT : 0;
}

int pcrlock_state_load(Tpm2Context *c, char **ret, size_t *ret_size, TPM2_HANDLE *ret_bad_index) {
        uint64_t g = 0;
        int area;

        return newest(c, /* strict= */ true, &area, &g, ret, ret_size, ret_bad_index);
}

int pcrlock_state_save(Tpm2Context *c, const Tpm2PcrlockPolicy *policy, const char *text, size_t size) {
        _cleanup_free_ char *current = NULL;
        _cleanup_free_ uint8_t *rec = NULL;
        uint64_t g = 0, gbe;
        uint32_t lbe;
        size_t current_size = 0, total, dsize;
        TPM2_HANDLE bad;
        unsigned target;
        int area, r;

        r = newest(c, /* strict= */ false, &area, &g, &current, &current_size, &bad);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && current_size == size && memcmp(current, text, size) == 0)
                return 0;
        target = area == 0 ? 1 : 0;

        total = HEADER_SIZE + size;
        if (total > (size_t) KEYD_PCRLOCK_CHUNKS_MAX * CHUNK)
                return -E2BIG;
        rec = malloc(total);
        if (!rec)
                return -ENOMEM;
        memcpy(rec, MAGIC, 4);
        gbe = htobe64(r >= 0 ? g + 1 : 1);
        memcpy(rec + 4, &gbe, 8);
        lbe = htobe32((uint32_t) size);
        memcpy(rec + 12, &lbe, 4);
        r = tpm2_digest(TPM2_ALG_SHA256, text, size, rec + 16, &dsize);
        if (r < 0)
                return r;
        memcpy(rec + HEADER_SIZE, text, size);

        r = keyd_nv_write_chunks(c, policy, KEYD_NV_PCRLOCK(target, 0), KEYD_PCRLOCK_CHUNKS_MAX, rec, total, CHUNK);
        if (r < 0)
                return r;
        return 1;
}

int pcrlock_state_restore(Tpm2Context *c, const char *path, TPM2_HANDLE *ret_bad_index) {
        _cleanup_free_ char *text = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint8_t hash[64];
        size_t size, hsize;
        int r;

        if (access(path, F_OK) == 0)
                return 0;
        r = pcrlock_state_load(c, &text, &size, ret_bad_index);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s.patela-restore", path) < 0)
                return -ENOMEM;
        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        if (write(fd, text, size) != (ssize_t) size || fsync(fd) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        /* link(): never replace a file that appeared meanwhile (make-policy's own) */
        if (link(tmp, path) < 0) {
                r = errno == EEXIST ? 0 : negative_errno();
                (void) unlink(tmp);
                return r;
        }
        (void) unlink(tmp);

        /* Just read whole and checked: keyd's first unseal need not read it again. */
        if (tpm2_digest(TPM2_ALG_SHA256, text, size, hash, &hsize) >= 0)
                (void) pcrlock_state_note(path, hash);
        return 1;
}

static int note_format(const uint8_t sha256[static 32], char ret[static NOTE_SIZE + 1]) {
        _cleanup_free_ char *hex = hexmem(sha256, 32);

        if (!hex)
                return -ENOMEM;
        snprintf(ret, NOTE_SIZE + 1, "%s\n", hex);
        return 0;
}

static char *note_path(const char *path) {
        char *p;

        return asprintf(&p, "%s" NOTE_SUFFIX, path) < 0 ? NULL : p;
}

bool pcrlock_state_noted(const char *path, const uint8_t sha256[static 32]) {
        _cleanup_free_ char *np = note_path(path), *text = NULL;
        char want[NOTE_SIZE + 1];
        size_t size;

        if (!np || note_format(sha256, want) < 0)
                return false;
        if (read_full_file(np, NOTE_SIZE, (void **) &text, &size) < 0)
                return false;
        return size == NOTE_SIZE && memcmp(text, want, NOTE_SIZE) == 0;
}

int pcrlock_state_note(const char *path, const uint8_t sha256[static 32]) {
        _cleanup_free_ char *np = note_path(path), *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        char note[NOTE_SIZE + 1];
        int r;

        if (!np)
                return -ENOMEM;
        r = note_format(sha256, note);
        if (r < 0)
                return r;
        if (asprintf(&tmp, "%s.tmp", np) < 0)
                return -ENOMEM;
        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return negative_errno();
        if (write(fd, note, NOTE_SIZE) != (ssize_t) NOTE_SIZE || rename(tmp, np) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
}
