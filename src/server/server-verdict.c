/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verifier: what a node booted, judged from its event logs against its verified quote, the image
 * registry and the node's firmware pins. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "boot-logs.h"
#include "digest-util.h"
#include "hexdecoct.h"
#include "server-http.h"
#include "server-tlog.h"
#include "server-verdict.h"

static int judged(Judgement *j, Verdict v, const char *format, ...) _printf_(3, 4);
static int judged(Judgement *j, Verdict v, const char *format, ...) {
        va_list ap;

        j->verdict = v;
        va_start(ap, format);
        vsnprintf(j->reason, sizeof(j->reason), format, ap);
        va_end(ap);
        if (v != PROTO_VERDICT_TRUSTED)
                j->pin = false;
        return 0;
}

static int decode_log(const char *b64, size_t max, void **ret, size_t *ret_size) {
        int r;

        *ret = NULL;
        *ret_size = 0;
        if (!b64)
                return 0;
        /* base64 of max bytes is at most this long: refuse before decoding anything */
        if (strlen(b64) > (max + 2) / 3 * 4)
                return -E2BIG;
        r = unbase64mem(b64, max, ret, ret_size);
        return r == -ENOMEM ? r : r < 0 ? -EBADMSG : 1;
}

/* The PCR 4 application events: the UKI the firmware started, then the kernel systemd-stub started. */
static void pcr4_applications(const TcgLog *log, VerdictLogs *l) {
        l->n_apps = 0;
        for (size_t i = 0; i < log->n_events; i++)
                if (log->events[i].pcr == 4 && log->events[i].type == EV_EFI_BOOT_SERVICES_APPLICATION) {
                        if (l->n_apps < VERDICT_APPS_MAX)
                                memcpy(l->apps[l->n_apps], log->events[i].sha256, TCG_SHA256_SIZE);
                        l->n_apps++;
                }
}

/* The image part, under the database lock: which registered image PCR 4 shows, and whether PCR 9 and 11
 * are that image's. */
static int judge_image(Db *db, const VerdictLogs *l, uint32_t mask, Judgement *j) {
        const PcrValues *quoted = &l->quoted;
        const uint8_t (*apps)[TCG_SHA256_SIZE] = l->apps;
        size_t n_apps = l->n_apps, n_ukis = 0;
        Image image = {}, candidate;
        char hex[65];
        bool pcr11_ok = false;
        int r;

        if (!(mask & (UINT32_C(1) << 4)))
                return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE, "PCR 4 was not quoted: no image can be recognised");
        if (n_apps > VERDICT_APPS_MAX)
                return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE, "PCR 4 holds %zu applications started by the firmware",
                              n_apps);
        for (size_t i = 0; i < n_apps; i++) {
                hexmem_to(apps[i], 32, hex);
                r = image_find_by_authenticode(db, hex, &candidate);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (n_ukis++ == 0)
                        image = candidate;
        }
        if (n_apps == 0)
                return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE, "PCR 4 shows no application started by the firmware");
        if (n_ukis == 0) {
                hexmem_to(apps[0], 32, hex);
                return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE,
                              "no registered image has the UKI measured in PCR 4 (Authenticode %.16s…)", hex);
        }
        j->image_id = image.id;
        snprintf(j->image, sizeof(j->image), "%s", image.name);
        if (n_ukis > 1)
                return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE, "PCR 4 holds %zu registered UKIs, not one", n_ukis);
        /* Besides the UKI only its own kernel, which systemd-stub starts: no shell, no second loader. */
        for (size_t i = 0; i < n_apps; i++) {
                hexmem_to(apps[i], 32, hex);
                if (!streq(hex, image.uki_authenticode) && !streq(hex, image.kernel_authenticode))
                        return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE,
                                      "PCR 4 holds an application that is not image %s's (Authenticode %.16s…)",
                                      image.name, hex);
        }
        if (image.retired_at > 0)
                return judged(j, PROTO_VERDICT_RETIRED_IMAGE, "image %s was retired", image.name);
        if (mask & (UINT32_C(1) << 9)) {
                hexmem_to(quoted->sha256[9], 32, hex);
                if (!streq(hex, image.pcr9))
                        return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE,
                                      "PCR 9 (initrd and command line) is not image %s's", image.name);
        }
        if (mask & (UINT32_C(1) << 11)) {
                hexmem_to(quoted->sha256[11], 32, hex);
                for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                        pcr11_ok = pcr11_ok || streq(hex, image.pcr11[p]);
                if (!pcr11_ok)
                        return judged(j, PROTO_VERDICT_UNKNOWN_IMAGE,
                                      "PCR 11 (UKI sections and boot phases) is none of image %s's", image.name);
        }
        return judged(j, PROTO_VERDICT_TRUSTED, "image %s", image.name);
}

/* The firmware part, under the database lock: the node's pins, if any. */
static int judge_firmware(Db *db, int64_t node_id, const PcrValues *quoted, Judgement *j) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        uint32_t pinned = 0;
        int r, rc;

        r = db_stmt_prepare_cached(db, "SELECT pcr, value FROM node_firmware_pins WHERE node_id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, node_id);
        while ((rc = db_step(s)) == DB_ROW) {
                int64_t pcr = db_column_int64(s, 0);

                if (pcr < 0 || pcr >= TCG_PCRS || (int) db_column_bytes(s, 1) != TCG_SHA256_SIZE)
                        return -EBADMSG;
                pinned |= UINT32_C(1) << pcr;
                if (!(j->firmware_mask & (UINT32_C(1) << pcr)))
                        continue; /* pinned, but no longer quoted: nothing to compare */
                if (memcmp(db_column_blob(s, 1), quoted->sha256[pcr], TCG_SHA256_SIZE) != 0)
                        return judged(j, PROTO_VERDICT_FIRMWARE_CHANGED,
                                      "PCR %" PRIi64 " differs from the value pinned for this node; "
                                      "`patela-server node repin` after looking", pcr);
        }
        if (rc != DB_DONE)
                return db_result(rc);
        /* What is quoted and not pinned yet is pinned with this (trusted) attestation. */
        j->pin = (j->firmware_mask & ~pinned) != 0;
        return 0;
}

void verdict_logs_done(VerdictLogs *l) {
        boot_logs_done(&l->logs);
}

#define CACHE_WAYS 4U

typedef struct CacheEntry {
        uint8_t key[32];
        uint64_t used;         /* the cache's clock at the last lookup or store; 0: empty */
        uint32_t n_apps;       /* all of them, as the reason of a refusal names their number */
        uint8_t apps[VERDICT_APPS_MAX][TCG_SHA256_SIZE];
} CacheEntry;

struct VerdictCache {
        pthread_mutex_t lock;
        size_t n_sets;
        uint64_t clock;
        CacheEntry *entries; /* n_sets × CACHE_WAYS */
};

int verdict_cache_new(size_t slots, VerdictCache **ret) {
        VerdictCache *c;

        if (slots < CACHE_WAYS)
                return -EINVAL;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->n_sets = slots / CACHE_WAYS;
        c->entries = calloc(c->n_sets * CACHE_WAYS, sizeof(CacheEntry));
        if (!c->entries) {
                free(c);
                return -ENOMEM;
        }
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

VerdictCache *verdict_cache_free(VerdictCache *c) {
        if (!c)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c->entries);
        free(c);
        return NULL;
}

static void key_add(EVP_MD_CTX *ctx, bool *ok, const void *p, size_t size) {
        *ok = *ok && EVP_DigestUpdate(ctx, p, size) == 1;
}

/* Each field with its length before it: no two different inputs give the same stream. */
static void key_add_sized(EVP_MD_CTX *ctx, bool *ok, const void *p, size_t size) {
        uint64_t n = htole64((uint64_t) size);

        key_add(ctx, ok, &n, sizeof(n));
        key_add(ctx, ok, p, size);
}

/* A log's part of the key: its digest, as sent or computed from its text; "-" for no log. */
static void key_add_log(EVP_MD_CTX *ctx, bool *ok, const char *text, const uint8_t *named) {
        uint8_t digest[PROTO_LOG_DIGEST_SIZE];

        if (!text && !named) {
                key_add(ctx, ok, "-", 1);
                return;
        }
        if (!named) {
                *ok = *ok && proto_log_digest(text, digest) >= 0;
                named = digest;
        }
        key_add(ctx, ok, "l", 1);
        key_add(ctx, ok, named, PROTO_LOG_DIGEST_SIZE);
}

/* What verdict_judge_logs() computes from, hashed: the bank, the selection, the quoted values, both logs' digests
 * (no log and an empty one are different inputs). */
static bool cache_key(const VerdictInput *in, uint8_t ret[static 32]) {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        const EVP_MD *md = digest_md("SHA256");
        uint32_t mask = htole32(in->mask);
        unsigned size = 0;
        bool ok = ctx && md && EVP_DigestInit_ex2(ctx, md, NULL) == 1;

        key_add_sized(ctx, &ok, "patela verdict logs 2", 21);
        key_add_sized(ctx, &ok, in->bank, strlen(in->bank));
        key_add(ctx, &ok, &mask, sizeof(mask));
        for (size_t i = 0; i < in->n_values; i++) {
                uint32_t index = htole32(in->values[i].index);

                key_add(ctx, &ok, &index, sizeof(index));
                key_add_sized(ctx, &ok, in->values[i].value, in->values[i].size);
        }
        key_add_log(ctx, &ok, in->firmware_log, in->firmware_log_sha256);
        key_add_log(ctx, &ok, in->userspace_log, in->userspace_log_sha256);
        ok = ok && EVP_DigestFinal_ex(ctx, ret, &size) == 1 && size == 32;
        EVP_MD_CTX_free(ctx);
        return ok;
}

static CacheEntry *cache_set(VerdictCache *c, const uint8_t key[static 32]) {
        uint64_t h;

        memcpy(&h, key, sizeof(h));
        return &c->entries[(h % c->n_sets) * CACHE_WAYS];
}

static bool cache_lookup(VerdictCache *c, const uint8_t key[static 32], VerdictLogs *l) {
        bool found = false;

        pthread_mutex_lock(&c->lock);
        CacheEntry *set = cache_set(c, key);
        for (unsigned w = 0; w < CACHE_WAYS; w++)
                if (set[w].used > 0 && memcmp(set[w].key, key, 32) == 0) {
                        set[w].used = ++c->clock;
                        l->n_apps = set[w].n_apps;
                        memcpy(l->apps, set[w].apps, sizeof(l->apps));
                        found = true;
                        break;
                }
        pthread_mutex_unlock(&c->lock);
        return found;
}

static void cache_store(VerdictCache *c, const uint8_t key[static 32], const VerdictLogs *l) {
        unsigned victim = 0;

        pthread_mutex_lock(&c->lock);
        CacheEntry *set = cache_set(c, key);
        for (unsigned w = 0; w < CACHE_WAYS; w++) {
                if (set[w].used > 0 && memcmp(set[w].key, key, 32) == 0) {
                        victim = w;
                        break;
                }
                if (set[w].used < set[victim].used)
                        victim = w;
        }
        memcpy(set[victim].key, key, 32);
        set[victim].used = ++c->clock;
        set[victim].n_apps = (uint32_t) MIN(l->n_apps, (size_t) UINT32_MAX);
        memcpy(set[victim].apps, l->apps, sizeof(set[victim].apps));
        pthread_mutex_unlock(&c->lock);
}

/* The logs must explain the quote (boot_logs_explain()). 1: go on with the registry; 0: judged
 * (LogMismatch); negative: out of memory. */
int verdict_judge_logs(VerdictCache *cache, const VerdictInput *in, VerdictLogs *l, Judgement *j) {
        _cleanup_free_ void *fw_data = NULL, *us_data = NULL;
        _cleanup_free_ char *reason = NULL;
        size_t fw_size, us_size;
        uint8_t key[32];
        bool keyed = false;
        int r;

        *j = (Judgement) {};

        if (!streq(in->bank, "sha256"))
                return judged(j, PROTO_VERDICT_LOG_MISMATCH, "the quote is over the %s bank; the verifier replays SHA-256",
                              in->bank);
        for (size_t i = 0; i < in->n_values; i++)
                if (pcr_values_set(&l->quoted, in->values[i].index, in->values[i].value, in->values[i].size) < 0)
                        return judged(j, PROTO_VERDICT_LOG_MISMATCH, "PCR %u is not a SHA-256 value", in->values[i].index);
        j->firmware_mask = in->mask & VERDICT_FIRMWARE_PCRS;
        for (unsigned p = 0; p < TCG_PCRS; p++)
                if (j->firmware_mask & (UINT32_C(1) << p))
                        memcpy(j->firmware[p], l->quoted.sha256[p], TCG_SHA256_SIZE);

        /* A log named by its digest is judged only from the cache: the verifier holds no log, only what it found. */
        if (in->firmware_log_sha256 || in->userspace_log_sha256) {
                if (!cache || !cache_key(in, key) || !cache_lookup(cache, key, l))
                        return -ENOKEY;
                l->cached = true;
                return 1;
        }
        if (!in->firmware_log)
                return judged(j, PROTO_VERDICT_LOG_MISMATCH, "the node sent no firmware event log");
        if (cache) {
                keyed = cache_key(in, key);
                if (keyed && cache_lookup(cache, key, l)) {
                        l->cached = true;
                        return 1;
                }
        }
        r = decode_log(in->firmware_log, TCG_LOG_SIZE_MAX, &fw_data, &fw_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return judged(j, PROTO_VERDICT_LOG_MISMATCH, "firmwareLog is not base64 of at most %u bytes",
                              TCG_LOG_SIZE_MAX);
        r = decode_log(in->userspace_log, USERSPACE_LOG_SIZE_MAX, &us_data, &us_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return judged(j, PROTO_VERDICT_LOG_MISMATCH, "userspaceLog is not base64 of at most %u bytes",
                              USERSPACE_LOG_SIZE_MAX);
        r = boot_logs_explain(fw_data, fw_size, us_data, us_size, &l->quoted, in->mask & ~VERDICT_NEVER_JUDGED,
                              &l->logs, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return judged(j, PROTO_VERDICT_LOG_MISMATCH, "%s", reason);
        pcr4_applications(l->logs.firmware, l);
        if (keyed)
                cache_store(cache, key, l);
        return 1;
}

/* What the logs say, against the registry and the node's pins; the caller holds the database. */
int verdict_judge_registry(Db *db, const VerdictInput *in, const VerdictLogs *l, Judgement *j) {
        int r;

        r = judge_image(db, l, in->mask, j);
        if (r >= 0 && j->verdict == PROTO_VERDICT_TRUSTED)
                r = judge_firmware(db, in->node_id, &l->quoted, j);
        return r;
}

int verdict_judge_db(Db *db, const VerdictInput *in, Judgement *ret) {
        _cleanup_(verdict_logs_done) VerdictLogs l = {};
        int r;

        r = verdict_judge_logs(/* cache= */ NULL, in, &l, ret);
        if (r <= 0)
                return r;
        return verdict_judge_registry(db, in, &l, ret);
}

int verdict_record(Db *db, int64_t node_id, const Judgement *j) {
        _cleanup_db_stmt_ DbStmt *s = NULL;
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "UPDATE nodes SET image_id = ?1, last_verdict = ?2, last_verdict_reason = ?3, "
                              "last_verdict_at = ?4, last_trusted_at = CASE WHEN ?2 = 'Trusted' THEN ?4 "
                              "ELSE last_trusted_at END WHERE id = ?5",
                              &s);
        if (r < 0)
                return r;
        if (j->image_id > 0)
                db_bind_int64(s, 1, j->image_id);
        else
                db_bind_null(s, 1);
        db_bind_text_static(s, 2, proto_verdict_to_string(j->verdict));
        db_bind_text(s, 3, j->reason);
        db_bind_int64(s, 4, now_sec());
        db_bind_int64(s, 5, node_id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        return verdict_pin(db, node_id, j);
}

int verdict_pin(Db *db, int64_t node_id, const Judgement *j) {
        _cleanup_db_stmt_ DbStmt *pin = NULL;
        int r, rc;

        if (!j->pin)
                return 0;

        /* Only a trusted attestation pins; a pin that exists stays until `node repin`. */
        r = db_stmt_prepare_cached(db,
                              "INSERT OR IGNORE INTO node_firmware_pins (node_id, pcr, value, pinned_at) "
                              "VALUES (?, ?, ?, ?)",
                              &pin);
        if (r < 0)
                return r;
        for (unsigned p = 0; p < TCG_PCRS; p++) {
                if (!(j->firmware_mask & (UINT32_C(1) << p)))
                        continue;
                db_stmt_reset(pin);
                db_bind_int64(pin, 1, node_id);
                db_bind_int64(pin, 2, p);
                db_bind_blob_static(pin, 3, j->firmware[p], TCG_SHA256_SIZE);
                db_bind_int64(pin, 4, now_sec());
                rc = db_step(pin);
                if (rc != DB_DONE)
                        return db_result(rc);
        }
        return 0;
}

typedef struct Unpin {
        int64_t node_id;
        const char *fingerprint;
        bool had_pins;
} Unpin;

static int unpin_tx(Db *db, void *userdata) {
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        _cleanup_free_ char *entry = NULL;
        Unpin *t = userdata;
        int r, rc;

        r = db_stmt_prepare(db, "DELETE FROM node_firmware_pins WHERE node_id = ?", &s);
        if (r < 0)
                return r;
        db_bind_int64(s, 1, t->node_id);
        rc = db_step(s);
        if (rc != DB_DONE)
                return db_result(rc);
        t->had_pins = (int) db_changes(db) > 0;
        /* In the transparency log when something was forgotten: the node's next firmware is taken as it comes. */
        if (!t->had_pins)
                return 0;
        r = tlog_entry_node(TLOG_NODE_REPINNED, t->fingerprint, now_sec(), &entry);
        if (r >= 0)
                r = server_tlog_append(db, TLOG_NODE_REPINNED, now_sec(), entry, NULL);
        return r;
}

int verdict_unpin(Db *db, int64_t node_id, const char *fingerprint) {
        Unpin t = { .node_id = node_id, .fingerprint = fingerprint };
        int r;

        r = db_transaction(db, unpin_tx, &t);
        return r < 0 ? r : t.had_pins;
}
