/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C side of test-tlog-interop.sh (the Go side is interop.go, on golang.org/x/mod/sumdb):
 *   tlog-tool keygen NAME                 signer key, then verifier key, one per line
 *   tlog-tool sign SKEY FILE              the note of FILE's text signed with SKEY
 *   tlog-tool open VKEY FILE              exit 0 and the text if FILE is a note signed by VKEY
 *   tlog-tool checkpoint SKEY ORIGIN N    the signed checkpoint of the synthetic log of N entries
 *   tlog-tool proofs MAX                  every root, inclusion and consistency proof of the synthetic logs
 *                                         of 1 … MAX entries, one per line (the format both sides write)
 *   tlog-tool check                       reads such lines (from the other side) and verifies each one,
 *                                         then each with one bit flipped and one hash dropped, which must
 *                                         fail; exit 0 only if all of it holds
 * The synthetic log's entry i is "patela entry i\n". */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "tlog-note.h"
#include "tlog.h"

typedef struct MemLog {
        TlogHash *level[TLOG_LEVELS_MAX + 1];
        uint64_t count[TLOG_LEVELS_MAX + 1];
} MemLog;

static int mem_read(void *userdata, unsigned level, uint64_t index, TlogHash *ret) {
        MemLog *l = userdata;

        if (level > TLOG_LEVELS_MAX || index >= l->count[level])
                return -ENOENT;
        *ret = l->level[level][index];
        return 0;
}

static void mem_done(MemLog *l) {
        for (size_t i = 0; i <= TLOG_LEVELS_MAX; i++)
                free(l->level[i]);
}

static void entry_leaf(uint64_t i, TlogHash *ret) {
        char entry[64];
        int n = snprintf(entry, sizeof(entry), "patela entry %" PRIu64 "\n", i);

        if (!tlog_leaf_hash(entry, (size_t) n, ret))
                abort();
}

static int mem_build(MemLog *l, uint64_t n) {
        for (uint64_t i = 0; i < n; i++) {
                TlogHash leaf, stored[TLOG_LEVELS_MAX + 1];
                size_t k;
                int r;

                entry_leaf(i, &leaf);
                r = tlog_stored_hashes(i, &leaf, mem_read, l, stored, &k);
                if (r < 0)
                        return r;
                for (size_t lv = 0; lv < k; lv++) {
                        TlogHash *a = reallocarray(l->level[lv], l->count[lv] + 1, sizeof(TlogHash));
                        if (!a)
                                return -ENOMEM;
                        l->level[lv] = a;
                        a[l->count[lv]++] = stored[lv];
                }
        }
        return 0;
}

static char *b64(const TlogHash *h) {
        char *s = base64mem(h->bytes, TLOG_HASH_SIZE);
        if (!s)
                abort();
        return s;
}

static void print_proof(const TlogHash *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = b64(&p[i]);
                printf("%s%s", i > 0 ? "," : "", s);
        }
        if (n == 0)
                printf("-");
        printf("\n");
}

static int verb_proofs(uint64_t max) {
        _cleanup_(mem_done) MemLog l = {};
        TlogHash proof[TLOG_PROOF_MAX], root;
        size_t n;
        int r;

        r = mem_build(&l, max);
        if (r < 0)
                return r;
        for (uint64_t size = 1; size <= max; size++) {
                _cleanup_free_ char *s = NULL;

                r = tlog_tree_hash(size, mem_read, &l, &root);
                if (r < 0)
                        return r;
                s = b64(&root);
                printf("root %" PRIu64 " %s\n", size, s);
                for (uint64_t i = 0; i < size; i++) {
                        r = tlog_prove_inclusion(i, size, mem_read, &l, proof, &n);
                        if (r < 0)
                                return r;
                        printf("incl %" PRIu64 " %" PRIu64 " ", size, i);
                        print_proof(proof, n);
                }
                for (uint64_t m = 1; m <= size; m++) {
                        r = tlog_prove_consistency(m, size, mem_read, &l, proof, &n);
                        if (r < 0)
                                return r;
                        printf("cons %" PRIu64 " %" PRIu64 " ", m, size);
                        print_proof(proof, n);
                }
        }
        return 0;
}

static int parse_hash(const char *s, TlogHash *ret) {
        _cleanup_free_ void *d = NULL;
        size_t n;

        if (unbase64mem(s, TLOG_HASH_SIZE, &d, &n) < 0 || n != TLOG_HASH_SIZE)
                return -EBADMSG;
        memcpy(ret->bytes, d, TLOG_HASH_SIZE);
        return 0;
}

static int parse_proof(char *s, TlogHash *ret, size_t *ret_n) {
        size_t n = 0;

        if (strcmp(s, "-") == 0) {
                *ret_n = 0;
                return 0;
        }
        for (char *state = NULL, *h = strtok_r(s, ",", &state); h; h = strtok_r(NULL, ",", &state)) {
                if (n >= TLOG_PROOF_MAX || parse_hash(h, &ret[n++]) < 0)
                        return -EBADMSG;
        }
        *ret_n = n;
        return 0;
}

#define ROOTS_MAX 4096U

static int verb_check(void) {
        TlogHash roots[ROOTS_MAX + 1], proof[TLOG_PROOF_MAX + 1];
        char line[16384];
        unsigned checked = 0;

        while (fgets(line, sizeof(line), stdin)) {
                char kind[8], hashes[16000];
                uint64_t a, b;
                size_t n;

                line[strcspn(line, "\n")] = '\0';
                if (sscanf(line, "root %" SCNu64 " %15999s", &a, hashes) == 2) {
                        if (a == 0 || a > ROOTS_MAX || parse_hash(hashes, &roots[a]) < 0)
                                return -EBADMSG;
                        continue;
                }
                if (sscanf(line, "%7s %" SCNu64 " %" SCNu64 " %15999s", kind, &a, &b, hashes) != 4 ||
                    parse_proof(hashes, proof, &n) < 0)
                        return -EBADMSG;
                if (strcmp(kind, "incl") == 0) {
                        TlogHash leaf;

                        if (a == 0 || a > ROOTS_MAX || b >= a)
                                return -EBADMSG;
                        entry_leaf(b, &leaf);
                        if (!tlog_verify_inclusion(&leaf, b, a, proof, n, &roots[a])) {
                                fprintf(stderr, "refused: %s\n", line);
                                return -EBADMSG;
                        }
                        for (size_t i = 0; i < n; i++) {
                                proof[i].bytes[i % TLOG_HASH_SIZE] ^= 0x10;
                                if (tlog_verify_inclusion(&leaf, b, a, proof, n, &roots[a]))
                                        return -ENOTRECOVERABLE;
                                proof[i].bytes[i % TLOG_HASH_SIZE] ^= 0x10;
                        }
                        if (n > 0 && tlog_verify_inclusion(&leaf, b, a, proof, n - 1, &roots[a]))
                                return -ENOTRECOVERABLE;
                } else if (strcmp(kind, "cons") == 0) {
                        if (a == 0 || b > ROOTS_MAX || a > b)
                                return -EBADMSG;
                        if (!tlog_verify_consistency(a, b, &roots[a], &roots[b], proof, n)) {
                                fprintf(stderr, "refused: %s\n", line);
                                return -EBADMSG;
                        }
                        for (size_t i = 0; i < n; i++) {
                                proof[i].bytes[(i * 3) % TLOG_HASH_SIZE] ^= 0x02;
                                if (tlog_verify_consistency(a, b, &roots[a], &roots[b], proof, n))
                                        return -ENOTRECOVERABLE;
                                proof[i].bytes[(i * 3) % TLOG_HASH_SIZE] ^= 0x02;
                        }
                        if (n > 0 && tlog_verify_consistency(a, b, &roots[a], &roots[b], proof, n - 1))
                                return -ENOTRECOVERABLE;
                } else
                        return -EBADMSG;
                checked++;
        }
        printf("%u proofs verified, each refused once mutated\n", checked);
        return checked > 0 ? 0 : -ENODATA;
}

static int read_file(const char *path, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = malloc(TLOG_NOTE_SIZE_MAX + 1);
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f || !buf) {
                if (f)
                        fclose(f);
                return -errno;
        }
        n = fread(buf, 1, TLOG_NOTE_SIZE_MAX + 1, f);
        fclose(f);
        if (n > TLOG_NOTE_SIZE_MAX)
                return -E2BIG;
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_size = n;
        return 0;
}

int main(int argc, char *argv[]) {
        int r;

        if (argc == 3 && strcmp(argv[1], "keygen") == 0) {
                _cleanup_free_ char *s = NULL, *v = NULL;
                TlogKey k;

                r = tlog_key_generate(argv[2], &k);
                if (r >= 0)
                        r = tlog_key_format_signer(&k, &s);
                if (r >= 0)
                        r = tlog_key_format_verifier(&k, &v);
                tlog_key_done(&k);
                if (r >= 0)
                        printf("%s\n%s\n", s, v);
        } else if (argc == 4 && (strcmp(argv[1], "sign") == 0 || strcmp(argv[1], "open") == 0)) {
                _cleanup_free_ char *text = NULL, *note = NULL;
                size_t size = 0, text_size = 0;
                TlogKey k;

                r = read_file(argv[3], &text, &size);
                if (r < 0)
                        return fprintf(stderr, "%s: %s\n", argv[3], strerror(-r)), 1;
                if (strcmp(argv[1], "sign") == 0) {
                        r = tlog_key_parse_signer(argv[2], &k);
                        if (r >= 0)
                                r = tlog_note_sign(&k, text, &note);
                        if (r >= 0)
                                fputs(note, stdout);
                } else {
                        r = tlog_key_parse_verifier(argv[2], &k);
                        if (r >= 0)
                                r = tlog_note_open(text, size, &k, &text_size);
                        if (r >= 0)
                                fwrite(text, 1, text_size, stdout);
                }
                tlog_key_done(&k);
        } else if (argc == 5 && strcmp(argv[1], "checkpoint") == 0) {
                _cleanup_free_ char *text = NULL, *note = NULL;
                _cleanup_(mem_done) MemLog l = {};
                TlogHash root;
                TlogKey k;
                uint64_t n = strtoull(argv[4], NULL, 10);

                r = tlog_key_parse_signer(argv[2], &k);
                if (r >= 0)
                        r = mem_build(&l, n);
                if (r >= 0)
                        r = tlog_tree_hash(n, mem_read, &l, &root);
                if (r >= 0)
                        r = tlog_checkpoint_format(argv[3], n, &root, &text);
                if (r >= 0)
                        r = tlog_note_sign(&k, text, &note);
                if (r >= 0)
                        fputs(note, stdout);
                tlog_key_done(&k);
        } else if (argc == 3 && strcmp(argv[1], "proofs") == 0)
                r = verb_proofs(strtoull(argv[2], NULL, 10));
        else if (argc == 2 && strcmp(argv[1], "check") == 0)
                r = verb_check();
        else {
                fprintf(stderr, "usage: see the comment at the top of tlog-tool.c\n");
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        return 0;
}
