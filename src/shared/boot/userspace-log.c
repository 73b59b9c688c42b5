/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "hexdecoct.h"
#include "string-util.h"
#include "userspace-log.h"

#define RECORD_SEPARATOR 0x1E
#define DIGESTS_MAX 8U
#define BOOT_ID_LENGTH 32U

static const char *const event_type_table[_USERSPACE_EVENT_TYPE_MAX] = {
        [USERSPACE_EVENT_PHASE] = "phase",
        [USERSPACE_EVENT_FILESYSTEM] = "filesystem",
        [USERSPACE_EVENT_VOLUME_KEY] = "volume-key",
        [USERSPACE_EVENT_MACHINE_ID] = "machine-id",
};

const char *userspace_event_type_to_string(UserspaceEventType t) {
        return t >= 0 && t < _USERSPACE_EVENT_TYPE_MAX ? event_type_table[t] : NULL;
}

UserspaceEventType userspace_event_type_from_string(const char *s) {
        for (int t = 0; s && t < _USERSPACE_EVENT_TYPE_MAX; t++)
                if (streq(s, event_type_table[t]))
                        return t;
        return _USERSPACE_EVENT_TYPE_INVALID;
}

/* The banks systemd names in "hashAlg" (tpm2_hash_alg_to_string()). */
static const struct {
        const char *name;
        size_t size;
} banks[] = {
        { "sha1", 20 },
        { "sha256", 32 },
        { "sha384", 48 },
        { "sha512", 64 },
};

/* sd_json_dispatch_uint*() also take 11.0, 1e1 and "11": an integer only, as systemd writes it. */
static int dispatch_unsigned_strict(const char *name, sd_json_variant *v, sd_json_dispatch_flags_t flags,
                                    void *userdata) {
        sd_json_variant_type_t t = sd_json_variant_type(v);

        if ((t != SD_JSON_VARIANT_INTEGER && t != SD_JSON_VARIANT_UNSIGNED) || !sd_json_variant_is_unsigned(v))
                return -EBADMSG;
        *(uint64_t *) userdata = sd_json_variant_unsigned(v);
        return 0;
}

typedef struct RecordFields {
        uint64_t pcr;
        sd_json_variant *digests;
        const char *content_type;
        sd_json_variant *content;
} RecordFields;

typedef struct ContentFields {
        const char *string;
        const char *boot_id;
        uint64_t timestamp;
        const char *event_type;
} ContentFields;

typedef struct DigestFields {
        const char *hash_alg;
        const char *digest;
} DigestFields;

typedef struct ParseContext {
        UserspaceLog *log;
        BootError *reterr;
        size_t offset;                  /* of the current record */
        uint32_t pcr;                   /* of the current record, once known */
        char boot_id[BOOT_ID_LENGTH + 1];
} ParseContext;

static int record_error(ParseContext *ctx, int error, const char *reason) {
        return boot_error(ctx->reterr, error, BOOT_LOG_USERSPACE, ctx->log->n_records, ctx->offset, ctx->pcr,
                          BOOT_ERROR_NONE, reason);
}

/* sd_json_dispatch() refuses unknown, repeated, missing and mistyped fields with its own errno: all of them
 * are a malformed record here. */
static int dispatch(ParseContext *ctx, sd_json_variant *v, const sd_json_dispatch_field table[], void *fields,
                    const char *reason) {
        int r = sd_json_dispatch(v, table, 0, fields);
        if (r == -ENOMEM)
                return r;
        return r < 0 ? record_error(ctx, -EBADMSG, reason) : 0;
}

static int parse_digests(ParseContext *ctx, sd_json_variant *digests, UserspaceRecord *rec) {
        static const sd_json_dispatch_field table[] = {
                { "hashAlg", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(DigestFields, hash_alg), SD_JSON_MANDATORY },
                { "digest", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(DigestFields, digest), SD_JSON_MANDATORY },
                {},
        };
        bool seen[ELEMENTSOF(banks)] = {};
        size_t n = sd_json_variant_elements(digests);
        int r;

        if (n == 0 || n > DIGESTS_MAX)
                return record_error(ctx, -EBADMSG, "no digests, or more than there are banks");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ void *digest = NULL;
                DigestFields f = {};
                size_t k, size;

                r = dispatch(ctx, sd_json_variant_by_index(digests, i), table, &f, "malformed digest");
                if (r < 0)
                        return r;
                for (k = 0; k < ELEMENTSOF(banks) && !streq(f.hash_alg, banks[k].name); k++)
                        ;
                if (k == ELEMENTSOF(banks))
                        return record_error(ctx, -EBADMSG, "a digest of an unknown bank");
                if (seen[k])
                        return record_error(ctx, -EBADMSG, "two digests of one bank");
                seen[k] = true;
                r = unhexmem(f.digest, banks[k].size, &digest, &size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || size != banks[k].size)
                        return record_error(ctx, -EBADMSG, "a digest that is not hex of its bank's size");
                if (streq(banks[k].name, "sha256"))
                        memcpy(rec->sha256, digest, TCG_SHA256_SIZE);
        }
        if (!seen[1])
                return record_error(ctx, -EOPNOTSUPP, "no SHA-256 digest");
        return 0;
}

static int parse_content(ParseContext *ctx, sd_json_variant *content, UserspaceRecord *rec) {
        static const sd_json_dispatch_field table[] = {
                { "string", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(ContentFields, string), 0 },
                { "bootId", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(ContentFields, boot_id), 0 },
                { "timestamp", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_unsigned_strict,
                  offsetof(ContentFields, timestamp), 0 },
                { "eventType", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(ContentFields, event_type), 0 },
                {},
        };
        ContentFields f = {};
        int r;

        r = dispatch(ctx, content, table, &f, "malformed content");
        if (r < 0)
                return r;

        if (f.boot_id) {
                /* The log lives in /run: one boot. A log that mixes boots was not written by this one. */
                if (strlen(f.boot_id) != BOOT_ID_LENGTH || !in_charset(f.boot_id, "0123456789abcdef"))
                        return record_error(ctx, -EBADMSG, "bootId is not 32 lower-case hex digits");
                if (ctx->boot_id[0] == '\0')
                        memcpy(ctx->boot_id, f.boot_id, BOOT_ID_LENGTH + 1);
                else if (!streq(ctx->boot_id, f.boot_id))
                        return record_error(ctx, -EBADMSG, "records of two boots");
        }
        if (f.string) {
                if (strlen(f.string) > USERSPACE_STRING_MAX)
                        return record_error(ctx, -E2BIG, "content string longer than the limit");
                rec->string = strdup(f.string);
                if (!rec->string)
                        return -ENOMEM;
        }
        rec->type = userspace_event_type_from_string(f.event_type);
        if (f.event_type) {
                rec->event_type = strdup(f.event_type);
                if (!rec->event_type)
                        return -ENOMEM;
        }
        return 0;
}

static void record_done(UserspaceRecord *rec) {
        free(rec->string);
        free(rec->event_type);
}

/* One record's JSON text, without its RS and final LF, NUL-terminated. */
static int parse_record(ParseContext *ctx, const char *text, UserspaceRecord *ret) {
        static const sd_json_dispatch_field table[] = {
                { "pcr", _SD_JSON_VARIANT_TYPE_INVALID, dispatch_unsigned_strict,
                  offsetof(RecordFields, pcr), SD_JSON_MANDATORY },
                { "digests", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref,
                  offsetof(RecordFields, digests), SD_JSON_MANDATORY },
                { "content_type", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(RecordFields, content_type), SD_JSON_MANDATORY },
                { "content", SD_JSON_VARIANT_OBJECT, sd_json_dispatch_variant_noref,
                  offsetof(RecordFields, content), SD_JSON_MANDATORY },
                {},
        };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        UserspaceRecord rec = { .offset = ctx->offset, .type = _USERSPACE_EVENT_TYPE_INVALID };
        RecordFields f = {};
        int r;

        r = sd_json_parse(text, 0, &v, NULL, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return record_error(ctx, -EBADMSG, "not a JSON text");
        if (!sd_json_variant_is_object(v))
                return record_error(ctx, -EBADMSG, "not a JSON object");
        r = dispatch(ctx, v, table, &f, "malformed record: a field missing, unknown, repeated or mistyped");
        if (r < 0)
                return r;
        if (f.pcr >= TCG_PCRS)
                return record_error(ctx, -EBADMSG, "PCR beyond 23");
        rec.pcr = ctx->pcr = (uint32_t) f.pcr;
        if (!streq(f.content_type, "systemd"))
                return record_error(ctx, -EBADMSG, "content_type is not \"systemd\"");

        r = parse_digests(ctx, f.digests, &rec);
        if (r >= 0)
                r = parse_content(ctx, f.content, &rec);
        if (r < 0) {
                record_done(&rec);
                return r;
        }
        *ret = rec;
        return 0;
}

int userspace_log_parse(const void *data, size_t size, UserspaceLog **ret, BootError *reterr) {
        _cleanup_(userspace_log_freep) UserspaceLog *log = NULL;
        const uint8_t *p = data, *end = p + size;
        size_t allocated = 0;
        int r;

        assert(data || size == 0);
        assert(ret);

        if (size > USERSPACE_LOG_SIZE_MAX)
                return boot_error(reterr, -E2BIG, BOOT_LOG_USERSPACE, SIZE_MAX, 0, BOOT_ERROR_NONE,
                                  BOOT_ERROR_NONE, "log larger than the limit");
        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;

        ParseContext ctx = { .log = log, .reterr = reterr };
        while (p < end) {
                _cleanup_free_ char *text = NULL;
                const uint8_t *next;
                size_t length;

                ctx.offset = (size_t) (p - (const uint8_t *) data);
                ctx.pcr = BOOT_ERROR_NONE;
                if (*p != RECORD_SEPARATOR)
                        return record_error(&ctx, -EBADMSG, "a record does not start with RS");
                if (log->n_records >= USERSPACE_RECORDS_MAX)
                        return record_error(&ctx, -E2BIG, "more records than the limit");
                next = memchr(p + 1, RECORD_SEPARATOR, (size_t) (end - p - 1));
                if (!next)
                        next = end;
                /* RS, the JSON text, LF: an empty text or a record cut before its LF is refused. */
                length = (size_t) (next - p - 1);
                if (length > USERSPACE_RECORD_SIZE_MAX)
                        return record_error(&ctx, -E2BIG, "record larger than the limit");
                if (length < 2 || p[length] != '\n')
                        return record_error(&ctx, -EBADMSG, "a record does not end with LF");
                if (memchr(p + 1, '\0', length))
                        return record_error(&ctx, -EBADMSG, "a NUL byte in a record");
                text = strndup((const char *) p + 1, length - 1);
                if (!text)
                        return -ENOMEM;

                if (log->n_records == allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 16);
                        UserspaceRecord *a = reallocarray(log->records, want, sizeof(UserspaceRecord));
                        if (!a)
                                return -ENOMEM;
                        log->records = a;
                        allocated = want;
                }
                r = parse_record(&ctx, text, &log->records[log->n_records]);
                if (r < 0)
                        return r;
                log->n_records++;
                p = next;
        }

        *ret = TAKE_PTR(log);
        return 0;
}

UserspaceLog *userspace_log_free(UserspaceLog *log) {
        if (!log)
                return NULL;
        for (size_t i = 0; i < log->n_records; i++)
                record_done(&log->records[i]);
        free(log->records);
        free(log);
        return NULL;
}

int userspace_record_check_digest(const UserspaceRecord *r) {
        uint8_t d[SHA256_DIGEST_LENGTH];

        assert(r);

        switch (r->type) {
        case USERSPACE_EVENT_PHASE:
        case USERSPACE_EVENT_FILESYSTEM:
        case USERSPACE_EVENT_MACHINE_ID:
                break;
        default:
                return 0;
        }
        if (!r->string)
                return -EBADMSG;
        if (!sha256_digest(r->string, strlen(r->string), d))
                return -ENOMEM;
        return memcmp(d, r->sha256, sizeof(d)) == 0 ? 1 : -EBADMSG;
}

int userspace_log_check_digests(const UserspaceLog *log, uint32_t pcr_mask, BootError *reterr) {
        assert(log);

        for (size_t i = 0; i < log->n_records; i++) {
                const UserspaceRecord *rec = &log->records[i];

                if (!(pcr_mask & (UINT32_C(1) << rec->pcr)))
                        continue;
                if (userspace_record_check_digest(rec) < 0)
                        return boot_error(reterr, -EBADMSG, BOOT_LOG_USERSPACE, i, rec->offset, rec->pcr,
                                          BOOT_ERROR_NONE,
                                          "the digest is not the SHA-256 of the content string");
        }
        return 0;
}
