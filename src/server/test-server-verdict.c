/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verifier against a real boot: the firmware log, systemd's log and the PCRs captured from a
 * qemu/OVMF/swtpm boot of our image (test/boot/capture-vm.sh), and that image's reference, in a database of
 * the current schema. Each verdict, and what pins and repins do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "server-tlog.h"
#include "server-verdict.h"
#include "test-server-util.h"
#include "tests.h"

#define DIR "test/boot/fixtures/qemu-ovmf/"
#define QUOTED_PCRS 0x1abfU /* the server's default: 0–5, 7, 9, 11, 12 */

typedef struct Boot {
        char *firmware_log;  /* base64, as the node sends it */
        char *userspace_log;
        ProtoPcrValue values[PROTO_PCRS_MAX];
        size_t n_values;
} Boot;

static char *fixture_base64(const char *name) {
        _cleanup_free_ void *data = NULL;
        char path[512];
        size_t size;

        snprintf(path, sizeof(path), "%s/" DIR "%s", getenv("PATELA_SOURCE_DIR") ?: ".", name);
        if (read_full_file(path, 16U * 1024U * 1024U, &data, &size) < 0)
                TEST_FAIL("cannot read %s", path);
        return base64mem(data, size);
}

static void boot_load(Boot *b) {
        _cleanup_free_ char *pcrs = NULL;
        char path[512], *state = NULL;
        size_t size;

        b->firmware_log = fixture_base64("binary_bios_measurements");
        b->userspace_log = fixture_base64("tpm2-measure.log");
        snprintf(path, sizeof(path), "%s/" DIR "pcrs.sha256", getenv("PATELA_SOURCE_DIR") ?: ".");
        ASSERT_OK(read_full_file(path, 4096, (void **) &pcrs, &size));
        for (char *line = strtok_r(pcrs, "\n", &state); line; line = strtok_r(NULL, "\n", &state)) {
                _cleanup_free_ void *d = NULL;
                unsigned pcr;
                char hex[65];
                size_t n;

                ASSERT_EQ(sscanf(line, "%u:%64s", &pcr, hex), 2);
                if (!(QUOTED_PCRS & (1U << pcr)))
                        continue;
                ASSERT_OK(unhexmem(hex, 32, &d, &n));
                b->values[b->n_values] = (ProtoPcrValue) { .index = pcr, .size = n };
                memcpy(b->values[b->n_values++].value, d, n);
        }
        ASSERT_EQ(b->n_values, (size_t) __builtin_popcount(QUOTED_PCRS));
}

static void boot_done(Boot *b) {
        free(b->firmware_log);
        free(b->userspace_log);
}

static VerdictCache *cache;
static bool last_hit;

/* Judges b twice: without the verifier's cache, and with the test's cache (shared by every call); both judgements
 * must be the same, whether the cache answered (last_hit) or not. */
static Verdict judge(Db *db, const Boot *b, Judgement *j) {
        _cleanup_(verdict_logs_done) VerdictLogs l = {};
        VerdictInput in = { .node_id = 1, .bank = "sha256", .mask = QUOTED_PCRS, .values = b->values,
                            .n_values = b->n_values, .firmware_log = b->firmware_log,
                            .userspace_log = b->userspace_log };
        Judgement c;
        int r;

        ASSERT_OK(verdict_judge_db(db, &in, j));
        fprintf(stderr, "# %s: %s\n", proto_verdict_to_string(j->verdict), j->reason);

        r = verdict_judge_logs(cache, &in, &l, &c);
        ASSERT_OK(r);
        if (r > 0)
                ASSERT_OK(verdict_judge_registry(db, &in, &l, &c));
        last_hit = l.cached;
        ASSERT_EQ(c.verdict, j->verdict);
        ASSERT_STREQ(c.reason, j->reason);
        ASSERT_EQ(c.image_id, j->image_id);
        ASSERT_STREQ(c.image, j->image);
        ASSERT_EQ(c.pin, j->pin);
        ASSERT_EQ(c.firmware_mask, j->firmware_mask);
        ASSERT_EQ(memcmp(c.firmware, j->firmware, sizeof(c.firmware)), 0);
        return j->verdict;
}

static int db_count(Db *db, const char *sql) {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;

        ASSERT_OK(db_prepare(db, sql, &s));
        ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
        return sqlite3_column_int(s, 0);
}

static Db *db_with_node(char **ret_path) {
        char *path = temp_db();
        Db *db = NULL;

        ASSERT_OK(db_open(path, &db));
        ASSERT_OK(db_exec(db, "INSERT INTO nodes (id, ek_name, ek_type, ek_public, ak_public, ak_name, fingerprint, "
                              "state, first_seen, last_seen) VALUES (1, x'01', 'rsa2048', x'00', x'00', x'00', 'FP', "
                              "'enabled', 1, 1)"));
        *ret_path = path;
        return db;
}

static void register_fixture_image(Db *db) {
        _cleanup_free_ char *text = NULL;
        ImageReference ref;
        Image image;
        char path[512];
        size_t size;

        snprintf(path, sizeof(path), "%s/" DIR "patela.reference.json", getenv("PATELA_SOURCE_DIR") ?: ".");
        ASSERT_OK(read_full_file(path, 65536, (void **) &text, &size));
        ASSERT_OK(image_reference_parse(text, size, &ref, NULL));
        ASSERT_OK(image_add(db, "patela-vm", &ref, text, size, &image, NULL));
}

TEST(real_boot) {
        Boot b = {};
        Judgement j;
        char *path;
        Db *db = db_with_node(&path);

        boot_load(&b);
        ASSERT_OK(verdict_cache_new(VERDICT_CACHE_SLOTS, &cache));

        /* Nothing registered: the image is unknown; nothing pinned. The logs explained the quote: the cache
         * keeps what they showed. */
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_UNKNOWN_IMAGE);
        ASSERT_FALSE(last_hit);
        ASSERT_FALSE(j.pin);
        ASSERT_OK(verdict_record(db, 1, &j));
        ASSERT_EQ(db_count(db, "SELECT COUNT(*) FROM node_firmware_pins"), 0);

        /* The image's reference registered: the real OVMF log replays to the quote, PCR 4 shows its UKI
         * and kernel, PCR 9 and 11 are its values. */
        register_fixture_image(db);
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_TRUSTED);
        /* From the cache, and judged against the registry as it is now. */
        ASSERT_TRUE(last_hit);
        ASSERT_STREQ(j.image, "patela-vm");
        ASSERT_TRUE(j.pin);
        ASSERT_EQ(j.firmware_mask, VERDICT_FIRMWARE_PCRS);
        ASSERT_OK(verdict_record(db, 1, &j));
        ASSERT_EQ(db_count(db, "SELECT COUNT(*) FROM node_firmware_pins WHERE node_id = 1"), 6);
        ASSERT_EQ(db_count(db, "SELECT COUNT(*) FROM nodes n JOIN images i ON i.id = n.image_id "
                               "WHERE n.last_verdict = 'Trusted' AND i.name = 'patela-vm'"),
                  1);
        /* Pinned now: the same boot again is Trusted and pins nothing more. */
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_TRUSTED);
        ASSERT_FALSE(j.pin);

        /* Another firmware: PCR 0 as another machine's, its log changed to match (so the logs still replay
         * — the quote of a node whose firmware changed): FirmwareChanged, until repin. */
        b.values[0].value[0] ^= 1;
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_LOG_MISMATCH); /* the log does not explain it */
        ASSERT_FALSE(last_hit);
        ASSERT_TRUE(strstr(j.reason, "PCR 0") != NULL);
        /* Logs that did not explain their quote are not kept: judged again, the same. */
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_LOG_MISMATCH);
        ASSERT_FALSE(last_hit);
        b.values[0].value[0] ^= 1;
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_TRUSTED);
        ASSERT_TRUE(last_hit);
        /* Another userspace log (one record's character changed): not the same input, parsed again. */
        {
                _cleanup_free_ char *saved = strdup(b.userspace_log);
                size_t n = strlen(b.userspace_log);

                ASSERT_NOT_NULL(saved);
                b.userspace_log[n / 2] = b.userspace_log[n / 2] == 'A' ? 'B' : 'A';
                ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_LOG_MISMATCH);
                ASSERT_FALSE(last_hit);
                memcpy(b.userspace_log, saved, n);
                /* None at all: another input again. */
                free(b.userspace_log);
                b.userspace_log = NULL;
                (void) judge(db, &b, &j);
                ASSERT_FALSE(last_hit);
                b.userspace_log = TAKE_PTR(saved);
        }
        ASSERT_OK(db_exec(db, "UPDATE node_firmware_pins SET value = zeroblob(32) WHERE pcr = 7"));
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_FIRMWARE_CHANGED);
        ASSERT_TRUE(strstr(j.reason, "PCR 7") != NULL);
        ASSERT_EQ(verdict_unpin(db, 1, "TEST-NODE"), 1);
        ASSERT_EQ(verdict_unpin(db, 1, "TEST-NODE"), 0);
        /* The image's registration and the forgotten pins are in the transparency log, the pins once: the
         * second call forgot nothing. */
        {
                _cleanup_free_ char *entry = NULL, *first = NULL;
                uint64_t size;
                TlogKind kind;

                ASSERT_OK(server_tlog_size(db, &size));
                ASSERT_EQ(size, 2);
                ASSERT_OK(server_tlog_entry(db, 0, &first, &kind, NULL));
                ASSERT_EQ(kind, TLOG_IMAGE_REGISTERED);
                ASSERT_TRUE(strstr(first, "name patela-vm\n") != NULL);
                ASSERT_OK(server_tlog_entry(db, 1, &entry, &kind, NULL));
                ASSERT_EQ(kind, TLOG_NODE_REPINNED);
                ASSERT_TRUE(strstr(entry, "kind node-repinned\n") && strstr(entry, "node TEST-NODE\n"));
        }
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_TRUSTED);
        ASSERT_TRUE(j.pin);

        /* PCR 9 quoted as something else: the replay comes before the image, so that is LogMismatch. */
        b.values[7].value[5] ^= 0x40; /* 0–5, 7, then PCR 9 */
        ASSERT_EQ(b.values[7].index, 9U);
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_LOG_MISMATCH);
        ASSERT_FALSE(last_hit);
        b.values[7].value[5] ^= 0x40;

        /* Retired: seen on a cached judgement too. */
        ASSERT_OK(db_exec(db, "UPDATE images SET retired_at = added_at WHERE name = 'patela-vm'"));
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_RETIRED_IMAGE);
        ASSERT_TRUE(last_hit);

        /* Another bank, or no firmware log. */
        ASSERT_OK(verdict_judge_db(db, &(VerdictInput) { .node_id = 1, .bank = "sha1", .mask = QUOTED_PCRS }, &j));
        ASSERT_EQ(j.verdict, PROTO_VERDICT_LOG_MISMATCH);
        ASSERT_OK(verdict_judge_db(db,
                                   &(VerdictInput) { .node_id = 1, .bank = "sha256", .mask = QUOTED_PCRS,
                                                     .values = b.values, .n_values = b.n_values },
                                   &j));
        ASSERT_EQ(j.verdict, PROTO_VERDICT_LOG_MISMATCH);

        cache = verdict_cache_free(cache);
        boot_done(&b);
        db_close(db);
        cleanup_db(path);
        free(path);
}

/* Judges b's logs with only the PCRs of mask quoted, through cache; whether the cache had it. */
static bool judge_selection(VerdictCache *c, const Boot *b, uint32_t mask) {
        _cleanup_(verdict_logs_done) VerdictLogs l = {};
        ProtoPcrValue values[PROTO_PCRS_MAX];
        size_t n = 0;
        Judgement j;

        for (size_t v = 0; v < b->n_values; v++)
                if (mask & (1U << b->values[v].index))
                        values[n++] = b->values[v];
        ASSERT_EQ(verdict_judge_logs(c,
                                     &(VerdictInput) { .node_id = 1, .bank = "sha256", .mask = mask, .values = values,
                                                       .n_values = n, .firmware_log = b->firmware_log,
                                                       .userspace_log = b->userspace_log },
                                     &l, &j),
                  1);
        /* The UKI and the kernel it started. */
        ASSERT_EQ(l.n_apps, 2U);
        return l.cached;
}

/* Five inputs that each explain their quote (one boot, five PCR selections) through a cache of 4 entries, one
 * set: the least recently used is the one replaced. */
TEST(cache_replacement) {
        static const uint32_t masks[] = { QUOTED_PCRS, QUOTED_PCRS & ~(1U << 12), QUOTED_PCRS & ~(1U << 3),
                                          QUOTED_PCRS & ~(1U << 2), QUOTED_PCRS & ~(1U << 1) };
        VerdictCache *c = NULL, *too_small = NULL;
        Boot b = {};

        boot_load(&b);
        ASSERT_EQ(verdict_cache_new(3, &too_small), -EINVAL);
        ASSERT_OK(verdict_cache_new(4, &c));
        for (size_t i = 0; i < 4; i++)
                ASSERT_FALSE(judge_selection(c, &b, masks[i]));
        for (size_t i = 0; i < 4; i++)
                ASSERT_TRUE(judge_selection(c, &b, masks[i]));
        ASSERT_FALSE(judge_selection(c, &b, masks[4])); /* replaces masks[0], used longest ago */
        ASSERT_FALSE(judge_selection(c, &b, masks[0])); /* replaces masks[1] */
        ASSERT_TRUE(judge_selection(c, &b, masks[4]));
        ASSERT_FALSE(judge_selection(c, &b, masks[1]));
        c = verdict_cache_free(c);
        boot_done(&b);
}

/* Logs named by their SHA-256 (proto_log_digest()) stand for the logs only where the cache holds what the logs sent
 * in full found, for the same quoted values: otherwise -ENOKEY and nothing judged. */
TEST(named_logs) {
        _cleanup_(verdict_logs_done) VerdictLogs sent = {};
        uint8_t fw[PROTO_LOG_DIGEST_SIZE], us[PROTO_LOG_DIGEST_SIZE], other[PROTO_LOG_DIGEST_SIZE];
        VerdictCache *c = NULL;
        Judgement j;
        Boot b = {};

        boot_load(&b);
        ASSERT_OK(proto_log_digest(b.firmware_log, fw));
        ASSERT_OK(proto_log_digest(b.userspace_log, us));
        ASSERT_OK(proto_log_digest("AAAA", other));
        ASSERT_OK(verdict_cache_new(64, &c));
        VerdictInput named = { .node_id = 1, .bank = "sha256", .mask = QUOTED_PCRS, .values = b.values,
                               .n_values = b.n_values, .firmware_log_sha256 = fw, .userspace_log_sha256 = us };
        VerdictInput full = named;
        full.firmware_log_sha256 = full.userspace_log_sha256 = NULL;
        full.firmware_log = b.firmware_log;
        full.userspace_log = b.userspace_log;

#define JUDGE(input) ({ _cleanup_(verdict_logs_done) VerdictLogs _l = {}; verdict_judge_logs(c, (input), &_l, &j); })
        ASSERT_EQ(JUDGE(&named), -ENOKEY); /* never sent: nothing to stand for */
        ASSERT_EQ(verdict_judge_logs(/* cache= */ NULL, &named, &sent, &j), -ENOKEY);
        ASSERT_EQ(verdict_judge_logs(c, &full, &sent, &j), 1);
        ASSERT_FALSE(sent.cached);

        _cleanup_(verdict_logs_done) VerdictLogs l = {};
        ASSERT_EQ(verdict_judge_logs(c, &named, &l, &j), 1);
        ASSERT_TRUE(l.cached);
        ASSERT_EQ(l.n_apps, sent.n_apps);
        ASSERT_EQ(memcmp(l.apps, sent.apps, sizeof(l.apps)), 0);
        ASSERT_EQ(j.firmware_mask, QUOTED_PCRS & VERDICT_FIRMWARE_PCRS);

        /* the same names, other inputs: another log, none, other quoted values */
        named.userspace_log_sha256 = other;
        ASSERT_EQ(JUDGE(&named), -ENOKEY);
        named.userspace_log_sha256 = NULL;
        ASSERT_EQ(JUDGE(&named), -ENOKEY);
        named.userspace_log_sha256 = us;
        b.values[0].value[0] ^= 1;
        ASSERT_EQ(JUDGE(&named), -ENOKEY);
        b.values[0].value[0] ^= 1;
        ASSERT_EQ(JUDGE(&named), 1);
        /* one log named, the other sent: the same key */
        named.userspace_log_sha256 = NULL;
        named.userspace_log = b.userspace_log;
        ASSERT_EQ(JUDGE(&named), 1);
        /* another bank is judged before the cache is asked */
        named.bank = "sha1";
        ASSERT_EQ(JUDGE(&named), 0);
        ASSERT_EQ(j.verdict, PROTO_VERDICT_LOG_MISMATCH);
#undef JUDGE
        c = verdict_cache_free(c);
        boot_done(&b);
}

TEST(verdict_names) {
        for (Verdict v = 0; v < _PROTO_VERDICT_MAX; v++)
                ASSERT_EQ(proto_verdict_from_string(proto_verdict_to_string(v)), v);
        ASSERT_EQ(proto_verdict_from_string("accepted"), _PROTO_VERDICT_INVALID);
}

DEFINE_TEST_MAIN
