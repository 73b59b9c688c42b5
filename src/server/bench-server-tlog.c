/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The transparency log's cost in the server's own storage (issue 14, "an inclusion proof for a log of 10 million
 * entries computed in ≤ 1 ms from stored subtree hashes; storage per entry stated"): a log of N verdict entries —
 * the most frequent kind, as long as a real one — appended through server_tlog_append() into a fresh database, in
 * transactions of 50,000; then, on a new connection (an empty page cache, as a server that just started),
 * inclusion proofs of random entries in the whole tree and, as the baseline in the same run, in the tree of its
 * first 1,000 entries. Each proof is checked against the tree head and the entry's own leaf hash, so that a
 * wrong proof cannot be fast. Storage: the pages of each table and index (SQLite's dbstat), per entry.
 *
 *   bench-server-tlog ENTRIES [GOAL_USEC [DATABASE]]
 *
 * DATABASE (a new file, removed at the end with its WAL; default: one in $TMPDIR or /tmp) needs some 300 bytes per
 * entry. Exit 1 if a proof is wrong, or if GOAL_USEC (0: none) is over the 99th percentile of the proofs in the
 * whole tree. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc-util.h"
#include "server-db.h"
#include "server-tlog.h"
#include "string-util.h"

#define BATCH 50000U
#define PROOFS 2000U
#define BASELINE_SIZE 1000U

static uint64_t now_mono_nsec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* xorshift64*: reproducible indices, no libc state. */
static uint64_t next_random(uint64_t *s) {
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * UINT64_C(2685821657736338717);
}

static int generate(Db *db, uint64_t n) {
        uint64_t t0 = now_mono_nsec();

        for (uint64_t i = 0; i < n;) {
                int r = db_begin(db);
                if (r < 0)
                        return r;
                for (uint64_t end = MIN(n, i + BATCH); i < end; i++) {
                        _cleanup_free_ char *entry = NULL;
                        uint8_t quote[32] = {};
                        char node[32];

                        memcpy(quote, &i, sizeof(i));
                        snprintf(node, sizeof(node), "%04" PRIX64 "-BENC-HMAR-K000", i % 10000);
                        r = tlog_entry_verdict(node, "patela-2.0", "Trusted", quote, 1764892800 + (int64_t) i, &entry);
                        if (r >= 0)
                                r = server_tlog_append(db, TLOG_VERDICT, 1764892800 + (int64_t) i, entry, NULL);
                        if (r < 0) {
                                db_rollback(db);
                                return r;
                        }
                }
                r = db_commit(db);
                if (r < 0)
                        return r;
        }
        printf("# %" PRIu64 " entries appended through server_tlog_append() in %.1f s (%.0f appends/s)\n", n,
               (double) (now_mono_nsec() - t0) / 1e9, (double) n / ((double) (now_mono_nsec() - t0) / 1e9));
        return 0;
}

/* Pages of each table and index, from SQLite's dbstat (if this SQLite has it), per entry. */
static void storage(Db *db, const char *path, uint64_t n) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        uint64_t total = 0;
        FILE *f;

        (void) db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
        if (db_prepare(db,
                       "SELECT name, SUM(pgsize), COUNT(*) FROM dbstat WHERE name IN ('tlog_entries', 'tlog_hashes', "
                       "'tlog_entries_registrations') GROUP BY name ORDER BY name",
                       &s) >= 0) {
                while (sqlite3_step(s) == SQLITE_ROW) {
                        uint64_t bytes = (uint64_t) sqlite3_column_int64(s, 1);
                        printf("# storage %-27s %12" PRIu64 " bytes, %6.1f bytes/entry\n", sqlite3_column_text(s, 0),
                               bytes, (double) bytes / (double) n);
                        total += bytes;
                }
                printf("# storage %-27s %12" PRIu64 " bytes, %6.1f bytes/entry\n", "(the log, all of it)", total,
                       (double) total / (double) n);
        }
        f = fopen(path, "re");
        if (f) {
                fseek(f, 0, SEEK_END);
                printf("# storage %-27s %12ld bytes, %6.1f bytes/entry\n", "(database file)", ftell(f),
                       (double) ftell(f) / (double) n);
                fclose(f);
        }
        printf("BENCH storage_bytes_per_entry %.1f\n", total > 0 ? (double) total / (double) n : 0.0);
}

/* PROOFS inclusion proofs of random entries in the tree of size entries, each verified; the latencies in
 * ret (sorted, ns). */
static int prove(Db *db, uint64_t size, uint64_t seed, uint64_t ret[static PROOFS], size_t *ret_hashes) {
        TlogHash root, proof[TLOG_PROOF_MAX];
        size_t n = 0;
        int r;

        r = server_tlog_root(db, size, &root);
        if (r < 0)
                return r;
        for (size_t k = 0; k < PROOFS; k++) {
                _cleanup_free_ char *entry = NULL;
                uint64_t index = next_random(&seed) % size, t0;
                TlogHash leaf;

                t0 = now_mono_nsec();
                r = server_tlog_prove_inclusion(db, index, size, proof, &n);
                ret[k] = now_mono_nsec() - t0;
                if (r < 0)
                        return r;
                r = server_tlog_entry(db, index, &entry, NULL, NULL);
                if (r < 0)
                        return r;
                if (!tlog_leaf_hash(entry, strlen(entry), &leaf) ||
                    !tlog_verify_inclusion(&leaf, index, size, proof, n, &root)) {
                        fprintf(stderr, "The proof of entry %" PRIu64 " in the tree of %" PRIu64 " does not verify.\n",
                                index, size);
                        return -EBADMSG;
                }
        }
        qsort(ret, PROOFS, sizeof(uint64_t), cmp_u64);
        *ret_hashes = n;
        return 0;
}

static double usec(uint64_t ns) {
        return (double) ns / 1000.0;
}

static void remove_db(const char *path) {
        (void) unlink(path);
        for (const char *suffix = "-wal"; suffix; suffix = streq(suffix, "-wal") ? "-shm" : NULL) {
                _cleanup_free_ char *p = NULL;
                if (asprintf(&p, "%s%s", path, suffix) >= 0)
                        (void) unlink(p);
        }
}

static int run(uint64_t n, uint64_t goal, const char *path) {
        _cleanup_(db_closep) Db *db = NULL;
        static uint64_t full[PROOFS], base[PROOFS];
        size_t full_hashes, base_hashes;
        int r;

        r = db_open(path, &db);
        if (r < 0)
                return r;
        r = generate(db, n);
        if (r < 0) {
                fprintf(stderr, "Appending failed: %s (%s)\n", strerror(-r), db_error(db));
                return r;
        }
        storage(db, path, n);
        /* A new connection: its page cache empty, as a server that just started (the kernel's cache is warm). */
        db = db_close(db);
        r = db_open(path, &db);
        if (r < 0)
                return r;
        r = db_begin_read(db);
        if (r >= 0)
                r = prove(db, n, 0x9e3779b97f4a7c15ULL, full, &full_hashes);
        if (r >= 0)
                r = prove(db, BASELINE_SIZE, 0x2545f4914f6cdd1dULL, base, &base_hashes);
        (void) db_commit(db);
        if (r < 0) {
                fprintf(stderr, "Proving failed: %s\n", strerror(-r));
                return r;
        }
        printf("# inclusion proofs, %u random entries each, verified: tree of %" PRIu64 " entries (%zu hashes) p50 %.1f µs, "
               "p99 %.1f µs, max %.1f µs (from an empty page cache on); baseline tree of %u "
               "entries (%zu hashes) p50 %.1f µs, p99 %.1f µs; ratio p50 %.2f, p99 %.2f\n",
               PROOFS, n, full_hashes, usec(full[PROOFS / 2]), usec(full[PROOFS * 99 / 100]), usec(full[PROOFS - 1]),
               BASELINE_SIZE, base_hashes, usec(base[PROOFS / 2]), usec(base[PROOFS * 99 / 100]),
               (double) full[PROOFS / 2] / (double) base[PROOFS / 2],
               (double) full[PROOFS * 99 / 100] / (double) base[PROOFS * 99 / 100]);
        printf("BENCH inclusion_proof_p50_usec %.1f\nBENCH inclusion_proof_p99_usec %.1f\n", usec(full[PROOFS / 2]),
               usec(full[PROOFS * 99 / 100]));
        /* A timing reports; it fails only when asked to (PATELA_BENCH_STRICT=1, as the other benchmarks): a
         * machine shared with other work stretches the tail (a p99 of 4.3 ms was seen under a load of 10). */
        if (goal > 0 && usec(full[PROOFS * 99 / 100]) > (double) goal) {
                const char *strict = getenv("PATELA_BENCH_STRICT");

                printf("# goal missed: p99 %.1f µs is over the goal of %" PRIu64 " µs\n", usec(full[PROOFS * 99 / 100]),
                       goal);
                if (strict && streq(strict, "1"))
                        return -ETIME;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        unsigned long long n, goal = 0;
        char path[PATH_MAX];
        int r;

        if (argc < 2 || argc > 4 || safe_atou64(argv[1], TLOG_SIZE_MAX, &n) < 0 || n < BASELINE_SIZE ||
            (argc >= 3 && safe_atou64(argv[2], UINT32_MAX, &goal) < 0)) {
                fprintf(stderr, "Usage: bench-server-tlog ENTRIES(≥%u) [GOAL_USEC [DATABASE]]\n", BASELINE_SIZE);
                return 2;
        }
        if (argc == 4)
                snprintf(path, sizeof(path), "%s", argv[3]);
        else
                snprintf(path, sizeof(path), "%s/bench-server-tlog.%d.db", getenv("TMPDIR") ?: "/tmp", (int) getpid());
        if (access(path, F_OK) == 0) {
                fprintf(stderr, "%s exists: the benchmark makes a database of its own.\n", path);
                return 2;
        }
        r = run(n, goal, path);
        remove_db(path);
        return r < 0 ? 1 : 0;
}
