/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "hexdecoct.h"
#include "json-strict.h"
#include "string-util.h"
#include "userspace-log.h"

#define RECORD_SEPARATOR 0x1E
#define DIGESTS_MAX 8U
#define BOOT_ID_LENGTH 32U
/* A record, its digests array, a digest object: 3 levels; a little room. */
#define RECORD_DEPTH_MAX 4U

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

/* A field of an object as systemd writes it: its JSON type, whether it must be there. */
typedef struct Field {
        const char *name;
        json_type type;
        bool mandatory;
} Field;

/* ret[i]: the value of fields[i], or NULL when absent. false for an unknown field, a mandatory one absent, or a
 * value of another type (null included: systemd writes none). Keys cannot repeat: json_unique_keys() saw to
 * that for the whole record. */
static bool dispatch(json_object *o, const Field *fields, size_t n, json_object **ret) {
        json_object_object_foreach(o, key, value) {
                size_t i;

                (void) value;
                for (i = 0; i < n && !streq(fields[i].name, key); i++)
                        ;
                if (i == n)
                        return false;
        }
        for (size_t i = 0; i < n; i++) {
                /* A null value is there, as a NULL object. */
                bool present = json_object_object_get_ex(o, fields[i].name, &ret[i]);

                if (!present ? fields[i].mandatory : !json_object_is_type(ret[i], fields[i].type))
                        return false;
                if (!present)
                        ret[i] = NULL;
        }
        return true;
}

/* An integer as systemd writes it: json-c reads 11.0 and 1e1 as doubles, "11" as a string, and neither is one.
 * Negative numbers are refused; beyond INT64_MAX json-c keeps the value as unsigned. */
static bool unsigned_value(json_object *v, uint64_t *ret) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return false;
        *ret = json_object_get_uint64(v);
        return true;
}

/* A string without NUL (json-c decodes \u0000 into one, which would cut it short). */
static const char *string_value(json_object *v) {
        const char *s = json_object_get_string(v);

        return s && strlen(s) == (size_t) json_object_get_string_len(v) ? s : NULL;
}

static int parse_digests(ParseContext *ctx, json_object *digests, UserspaceRecord *rec) {
        static const Field fields[] = {
                { "hashAlg", json_type_string, true },
                { "digest", json_type_string, true },
        };
        bool seen[ELEMENTSOF(banks)] = {};
        size_t n = json_object_array_length(digests);
        int r;

        if (n == 0 || n > DIGESTS_MAX)
                return record_error(ctx, -EBADMSG, "no digests, or more than there are banks");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ void *digest = NULL;
                json_object *d = json_object_array_get_idx(digests, i), *v[ELEMENTSOF(fields)];
                const char *alg, *hex;
                size_t k, size;

                if (!json_object_is_type(d, json_type_object) || !dispatch(d, fields, ELEMENTSOF(fields), v) ||
                    !(alg = string_value(v[0])) || !(hex = string_value(v[1])))
                        return record_error(ctx, -EBADMSG, "malformed digest");
                for (k = 0; k < ELEMENTSOF(banks) && !streq(alg, banks[k].name); k++)
                        ;
                if (k == ELEMENTSOF(banks))
                        return record_error(ctx, -EBADMSG, "a digest of an unknown bank");
                if (seen[k])
                        return record_error(ctx, -EBADMSG, "two digests of one bank");
                seen[k] = true;
                r = unhexmem(hex, banks[k].size, &digest, &size);
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

static int parse_content(ParseContext *ctx, json_object *content, UserspaceRecord *rec) {
        enum { STRING, BOOT_ID, TIMESTAMP, EVENT_TYPE };
        static const Field fields[] = {
                [STRING] = { "string", json_type_string, false },
                [BOOT_ID] = { "bootId", json_type_string, false },
                [TIMESTAMP] = { "timestamp", json_type_int, false },
                [EVENT_TYPE] = { "eventType", json_type_string, false },
        };
        json_object *v[ELEMENTSOF(fields)];
        const char *string = NULL, *boot_id = NULL, *event_type = NULL;
        uint64_t timestamp;

        if (!dispatch(content, fields, ELEMENTSOF(fields), v) ||
            (v[STRING] && !(string = string_value(v[STRING]))) ||
            (v[BOOT_ID] && !(boot_id = string_value(v[BOOT_ID]))) ||
            (v[TIMESTAMP] && !unsigned_value(v[TIMESTAMP], &timestamp)) ||
            (v[EVENT_TYPE] && !(event_type = string_value(v[EVENT_TYPE]))))
                return record_error(ctx, -EBADMSG, "malformed content");

        if (boot_id) {
                /* The log lives in /run: one boot. A log that mixes boots was not written by this one. */
                if (strlen(boot_id) != BOOT_ID_LENGTH || !in_charset(boot_id, "0123456789abcdef"))
                        return record_error(ctx, -EBADMSG, "bootId is not 32 lower-case hex digits");
                if (ctx->boot_id[0] == '\0')
                        memcpy(ctx->boot_id, boot_id, BOOT_ID_LENGTH + 1);
                else if (!streq(ctx->boot_id, boot_id))
                        return record_error(ctx, -EBADMSG, "records of two boots");
        }
        if (string) {
                if (strlen(string) > USERSPACE_STRING_MAX)
                        return record_error(ctx, -E2BIG, "content string longer than the limit");
                rec->string = strdup(string);
                if (!rec->string)
                        return -ENOMEM;
        }
        rec->type = userspace_event_type_from_string(event_type);
        if (event_type) {
                rec->event_type = strdup(event_type);
                if (!rec->event_type)
                        return -ENOMEM;
        }
        return 0;
}

static void record_done(UserspaceRecord *rec) {
        free(rec->string);
        free(rec->event_type);
}

/* One record's JSON text, without its RS and final LF (and no NUL in it). json-c rather than sd-json: the verifier parses every
 * node's log at every attestation, and sd_json_parse() took 4 times as long (39 against 9 µs for our image's
 * three records, test/bench). */
static int parse_record(ParseContext *ctx, const char *text, size_t size, UserspaceRecord *ret) {
        enum { PCR, DIGESTS, CONTENT_TYPE, CONTENT };
        static const Field fields[] = {
                [PCR] = { "pcr", json_type_int, true },
                [DIGESTS] = { "digests", json_type_array, true },
                [CONTENT_TYPE] = { "content_type", json_type_string, true },
                [CONTENT] = { "content", json_type_object, true },
        };
        _cleanup_(json_object_putp) json_object *o = NULL;
        UserspaceRecord rec = { .offset = ctx->offset, .type = _USERSPACE_EVENT_TYPE_INVALID };
        json_object *v[ELEMENTSOF(fields)];
        const char *content_type;
        uint64_t pcr;
        int r;

        r = json_parse_one(text, size, RECORD_DEPTH_MAX, /* allow_utf8= */ true, /* sensitive= */ false, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return record_error(ctx, -EBADMSG, "not a JSON text");
        if (!json_object_is_type(o, json_type_object))
                return record_error(ctx, -EBADMSG, "not a JSON object");
        r = json_unique_keys(o, text, size, NULL, 0);
        if (r == -EBADMSG)
                return record_error(ctx, -EBADMSG, "not a JSON text");
        if (r < 0)
                return r;
        if (r == 0 || !dispatch(o, fields, ELEMENTSOF(fields), v) || !unsigned_value(v[PCR], &pcr) ||
            !(content_type = string_value(v[CONTENT_TYPE])))
                return record_error(ctx, -EBADMSG, "malformed record: a field missing, unknown, repeated or mistyped");
        if (pcr >= TCG_PCRS)
                return record_error(ctx, -EBADMSG, "PCR beyond 23");
        rec.pcr = ctx->pcr = (uint32_t) pcr;
        if (!streq(content_type, "systemd"))
                return record_error(ctx, -EBADMSG, "content_type is not \"systemd\"");

        r = parse_digests(ctx, v[DIGESTS], &rec);
        if (r >= 0)
                r = parse_content(ctx, v[CONTENT], &rec);
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

                if (log->n_records == allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 16);
                        UserspaceRecord *a = reallocarray(log->records, want, sizeof(UserspaceRecord));
                        if (!a)
                                return -ENOMEM;
                        log->records = a;
                        allocated = want;
                }
                r = parse_record(&ctx, (const char *) p + 1, length - 1, &log->records[log->n_records]);
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
