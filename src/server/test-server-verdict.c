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

static Verdict judge(Db *db, const Boot *b, Judgement *j) {
        ASSERT_OK(verdict_judge_db(db,
                                   &(VerdictInput) { .node_id = 1, .bank = "sha256", .mask = QUOTED_PCRS,
                                                     .values = b->values, .n_values = b->n_values,
                                                     .firmware_log = b->firmware_log,
                                                     .userspace_log = b->userspace_log },
                                   j));
        fprintf(stderr, "# %s: %s\n", proto_verdict_to_string(j->verdict), j->reason);
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

        /* Nothing registered: the image is unknown; nothing pinned. */
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_UNKNOWN_IMAGE);
        ASSERT_FALSE(j.pin);
        ASSERT_OK(verdict_record(db, 1, &j));
        ASSERT_EQ(db_count(db, "SELECT COUNT(*) FROM node_firmware_pins"), 0);

        /* The image's reference registered: the real OVMF log replays to the quote, PCR 4 shows its UKI
         * and kernel, PCR 9 and 11 are its values. */
        register_fixture_image(db);
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_TRUSTED);
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
        ASSERT_TRUE(strstr(j.reason, "PCR 0") != NULL);
        b.values[0].value[0] ^= 1;
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
        b.values[7].value[5] ^= 0x40;

        /* Retired. */
        ASSERT_OK(db_exec(db, "UPDATE images SET retired_at = added_at WHERE name = 'patela-vm'"));
        ASSERT_EQ(judge(db, &b, &j), PROTO_VERDICT_RETIRED_IMAGE);

        /* Another bank, or no firmware log. */
        ASSERT_OK(verdict_judge_db(db, &(VerdictInput) { .node_id = 1, .bank = "sha1", .mask = QUOTED_PCRS }, &j));
        ASSERT_EQ(j.verdict, PROTO_VERDICT_LOG_MISMATCH);
        ASSERT_OK(verdict_judge_db(db,
                                   &(VerdictInput) { .node_id = 1, .bank = "sha256", .mask = QUOTED_PCRS,
                                                     .values = b.values, .n_values = b.n_values },
                                   &j));
        ASSERT_EQ(j.verdict, PROTO_VERDICT_LOG_MISMATCH);

        boot_done(&b);
        db_close(db);
        cleanup_db(path);
        free(path);
}

TEST(verdict_names) {
        for (Verdict v = 0; v < _PROTO_VERDICT_MAX; v++)
                ASSERT_EQ(proto_verdict_from_string(proto_verdict_to_string(v)), v);
        ASSERT_EQ(proto_verdict_from_string("accepted"), _PROTO_VERDICT_INVALID);
}

DEFINE_TEST_MAIN
