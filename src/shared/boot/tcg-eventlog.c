/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "tcg-eventlog.h"

/* A digest is a TPMU_HA: SHA-512 is the largest. */
#define DIGEST_SIZE_MAX 64U

/* The signatures of the EV_NO_ACTION events the parser acts on (PFP, EV_NO_ACTION events), NUL included. */
static const uint8_t spec_id_signature[16] = "Spec ID Event03";
static const uint8_t spec_id_signature_v2[16] = "Spec ID Event02";
static const uint8_t startup_locality_signature[16] = "StartupLocality";

static const TcgAlgorithm known_algorithms[] = {
        { TPM_ALG_SHA1, 20 },     { TPM_ALG_SHA256, 32 },   { TPM_ALG_SHA384, 48 },
        { TPM_ALG_SHA512, 64 },   { TPM_ALG_SM3_256, 32 },  { TPM_ALG_SHA3_256, 32 },
        { TPM_ALG_SHA3_384, 48 }, { TPM_ALG_SHA3_512, 64 },
};

static const struct {
        uint32_t type;
        const char *name;
} event_types[] = {
        { EV_PREBOOT_CERT, "EV_PREBOOT_CERT" },
        { EV_POST_CODE, "EV_POST_CODE" },
        { EV_UNUSED, "EV_UNUSED" },
        { EV_NO_ACTION, "EV_NO_ACTION" },
        { EV_SEPARATOR, "EV_SEPARATOR" },
        { EV_ACTION, "EV_ACTION" },
        { EV_EVENT_TAG, "EV_EVENT_TAG" },
        { EV_S_CRTM_CONTENTS, "EV_S_CRTM_CONTENTS" },
        { EV_S_CRTM_VERSION, "EV_S_CRTM_VERSION" },
        { EV_CPU_MICROCODE, "EV_CPU_MICROCODE" },
        { EV_PLATFORM_CONFIG_FLAGS, "EV_PLATFORM_CONFIG_FLAGS" },
        { EV_TABLE_OF_DEVICES, "EV_TABLE_OF_DEVICES" },
        { EV_COMPACT_HASH, "EV_COMPACT_HASH" },
        { EV_IPL, "EV_IPL" },
        { EV_IPL_PARTITION_DATA, "EV_IPL_PARTITION_DATA" },
        { EV_NONHOST_CODE, "EV_NONHOST_CODE" },
        { EV_NONHOST_CONFIG, "EV_NONHOST_CONFIG" },
        { EV_NONHOST_INFO, "EV_NONHOST_INFO" },
        { EV_OMIT_BOOT_DEVICE_EVENTS, "EV_OMIT_BOOT_DEVICE_EVENTS" },
        { EV_EFI_VARIABLE_DRIVER_CONFIG, "EV_EFI_VARIABLE_DRIVER_CONFIG" },
        { EV_EFI_VARIABLE_BOOT, "EV_EFI_VARIABLE_BOOT" },
        { EV_EFI_BOOT_SERVICES_APPLICATION, "EV_EFI_BOOT_SERVICES_APPLICATION" },
        { EV_EFI_BOOT_SERVICES_DRIVER, "EV_EFI_BOOT_SERVICES_DRIVER" },
        { EV_EFI_RUNTIME_SERVICES_DRIVER, "EV_EFI_RUNTIME_SERVICES_DRIVER" },
        { EV_EFI_GPT_EVENT, "EV_EFI_GPT_EVENT" },
        { EV_EFI_ACTION, "EV_EFI_ACTION" },
        { EV_EFI_PLATFORM_FIRMWARE_BLOB, "EV_EFI_PLATFORM_FIRMWARE_BLOB" },
        { EV_EFI_HANDOFF_TABLES, "EV_EFI_HANDOFF_TABLES" },
        { EV_EFI_PLATFORM_FIRMWARE_BLOB2, "EV_EFI_PLATFORM_FIRMWARE_BLOB2" },
        { EV_EFI_HANDOFF_TABLES2, "EV_EFI_HANDOFF_TABLES2" },
        { EV_EFI_VARIABLE_BOOT2, "EV_EFI_VARIABLE_BOOT2" },
        { EV_EFI_HCRTM_EVENT, "EV_EFI_HCRTM_EVENT" },
        { EV_EFI_VARIABLE_AUTHORITY, "EV_EFI_VARIABLE_AUTHORITY" },
        { EV_EFI_SPDM_FIRMWARE_BLOB, "EV_EFI_SPDM_FIRMWARE_BLOB" },
        { EV_EFI_SPDM_FIRMWARE_CONFIG, "EV_EFI_SPDM_FIRMWARE_CONFIG" },
};

const char *tcg_event_type_to_string(uint32_t type) {
        for (size_t i = 0; i < ELEMENTSOF(event_types); i++)
                if (event_types[i].type == type)
                        return event_types[i].name;
        return NULL;
}

/* Reads advance only after the bounds check: a Cursor never points past its end. */
typedef struct Cursor {
        const uint8_t *p;
        size_t left;
} Cursor;

static bool take(Cursor *c, size_t n, const uint8_t **ret) {
        if (n > c->left)
                return false;
        *ret = c->p;
        c->p += n;
        c->left -= n;
        return true;
}

static bool take_le(Cursor *c, size_t n, uint32_t *ret) {
        const uint8_t *p;
        uint32_t v = 0;

        assert(n <= 4);
        if (!take(c, n, &p))
                return false;
        for (size_t i = 0; i < n; i++)
                v |= (uint32_t) p[i] << (8 * i);
        *ret = v;
        return true;
}

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i] != 0)
                        return false;
        return true;
}

static int header_error(BootError *reterr, int error, const char *reason) {
        return boot_error(reterr, error, BOOT_LOG_FIRMWARE, SIZE_MAX, 0, 0, EV_NO_ACTION, reason);
}

/* The TCG_EfiSpecIDEvent inside the header (PFP §10.4.5.1): signature, platformClass, specVersionMinor,
 * specVersionMajor, specErrata, uintnSize, numberOfAlgorithms, {algorithmId, digestSize}…, vendorInfoSize,
 * vendorInfo. Only the banks matter for parsing; the version fields are not judged. */
static int parse_spec_id(TcgLog *log, const uint8_t *event, size_t size, BootError *reterr) {
        Cursor c = { event, size };
        const uint8_t *p;
        uint32_t n, vendor_size;
        bool sha256 = false;

        if (!take(&c, 16, &p) || memcmp(p, spec_id_signature, 16) != 0)
                return header_error(reterr, -EBADMSG, "no Spec ID Event03 header");
        if (!take(&c, 8, &p) || !take_le(&c, 4, &n))
                return header_error(reterr, -EBADMSG, "truncated Spec ID header");
        if (n == 0 || n > TCG_ALGORITHMS_MAX)
                return header_error(reterr, -EBADMSG, "Spec ID header announces no bank or too many");

        for (uint32_t i = 0; i < n; i++) {
                uint32_t id, digest_size;

                if (!take_le(&c, 2, &id) || !take_le(&c, 2, &digest_size))
                        return header_error(reterr, -EBADMSG, "truncated Spec ID header");
                if (digest_size == 0 || digest_size > DIGEST_SIZE_MAX)
                        return header_error(reterr, -EBADMSG,
                                            "Spec ID header announces an impossible digest size");
                /* A bank we know must have its own size: a log that lies about it would shift every digest
                 * after it. An unknown bank is taken at its word; its digests are skipped, never used. */
                for (size_t k = 0; k < ELEMENTSOF(known_algorithms); k++)
                        if (known_algorithms[k].id == id && known_algorithms[k].digest_size != digest_size)
                                return header_error(
                                                reterr, -EBADMSG,
                                                "Spec ID header announces a known bank with the wrong digest size");
                for (size_t k = 0; k < i; k++)
                        if (log->algorithms[k].id == id)
                                return header_error(reterr, -EBADMSG, "Spec ID header announces a bank twice");
                log->algorithms[i] = (TcgAlgorithm) { (uint16_t) id, (uint16_t) digest_size };
                if (id == TPM_ALG_SHA256)
                        sha256 = true;
        }
        log->n_algorithms = n;

        if (!take_le(&c, 1, &vendor_size) || !take(&c, vendor_size, &p))
                return header_error(reterr, -EBADMSG, "truncated Spec ID header");
        if (c.left != 0)
                return header_error(reterr, -EBADMSG, "trailing bytes in the Spec ID header");
        if (!sha256)
                return header_error(reterr, -EOPNOTSUPP, "the log has no SHA-256 bank");
        return 0;
}

/* TCG_PCClientPCREvent, the SHA-1 layout of the first event (PFP). */
static int parse_header(TcgLog *log, Cursor *c, BootError *reterr) {
        const uint8_t *digest, *event;
        uint32_t pcr, type, size;

        if (!take_le(c, 4, &pcr) || !take_le(c, 4, &type) || !take(c, 20, &digest) || !take_le(c, 4, &size))
                return header_error(reterr, -EBADMSG, "truncated Spec ID header");
        if (pcr != 0 || type != EV_NO_ACTION)
                return header_error(reterr, -EBADMSG,
                                    "no Spec ID Event03 header: the first event is not EV_NO_ACTION on PCR 0");
        if (!all_zero(digest, 20))
                return header_error(reterr, -EBADMSG, "the Spec ID header's digest is not zero");
        if (!take(c, size, &event))
                return header_error(reterr, -EBADMSG, "truncated Spec ID header");
        return parse_spec_id(log, event, size, reterr);
}

typedef struct EventContext {
        TcgLog *log;
        BootError *reterr;
        bool extended;          /* an event other than EV_NO_ACTION has been seen */
} EventContext;

static int event_error(EventContext *ctx, int error, const TcgEvent *e, const char *reason) {
        return boot_error(ctx->reterr, error, BOOT_LOG_FIRMWARE, ctx->log->n_events, e->offset, e->pcr, e->type,
                          reason);
}

/* EV_NO_ACTION events are never extended (PFP), but two of them change what the replay does: a
 * second Spec ID header would change how the rest is parsed, and StartupLocality sets PCR 0's starting
 * value, which only makes sense once and before anything was measured. */
static int check_no_action(EventContext *ctx, const TcgEvent *e) {
        if (e->data_size >= 16 && (memcmp(e->data, spec_id_signature, 16) == 0 ||
                                   memcmp(e->data, spec_id_signature_v2, 16) == 0))
                return event_error(ctx, -EBADMSG, e, "a second Spec ID header");
        if (e->data_size < 16 || memcmp(e->data, startup_locality_signature, 16) != 0)
                return 0;

        if (e->data_size != 17 || e->pcr != 0)
                return event_error(ctx, -EBADMSG, e, "malformed StartupLocality event");
        if (ctx->log->have_startup_locality)
                return event_error(ctx, -EBADMSG, e, "a second StartupLocality event");
        if (ctx->extended)
                return event_error(ctx, -EBADMSG, e, "StartupLocality event after a measurement");
        /* TPM2_Startup from locality 0 or 3, or 4 after an H-CRTM sequence. */
        if (e->data[16] != 0 && e->data[16] != 3 && e->data[16] != 4)
                return event_error(ctx, -EBADMSG, e, "StartupLocality is not 0, 3 or 4");
        ctx->log->have_startup_locality = true;
        ctx->log->startup_locality = e->data[16];
        return 0;
}

static int parse_event(EventContext *ctx, Cursor *c, TcgEvent *ret) {
        TcgLog *log = ctx->log;
        TcgEvent e = {
                .offset = (size_t) (c->p - log->buffer),
                .pcr = BOOT_ERROR_NONE,
                .type = BOOT_ERROR_NONE,
        };
        bool seen[TCG_ALGORITHMS_MAX] = {};
        uint32_t count;
        const uint8_t *p;

        if (!take_le(c, 4, &e.pcr) || !take_le(c, 4, &e.type) || !take_le(c, 4, &count))
                return event_error(ctx, -EBADMSG, &e, "truncated event");
        if (e.pcr >= TCG_PCRS)
                return event_error(ctx, -EBADMSG, &e, "PCR beyond 23");
        if (count != log->n_algorithms)
                return event_error(ctx, -EBADMSG, &e, "the event's digests are not one per bank of the header");

        for (uint32_t i = 0; i < count; i++) {
                uint32_t id;
                size_t k;

                if (!take_le(c, 2, &id))
                        return event_error(ctx, -EBADMSG, &e, "truncated event");
                for (k = 0; k < log->n_algorithms && log->algorithms[k].id != id; k++)
                        ;
                if (k == log->n_algorithms)
                        return event_error(ctx, -EBADMSG, &e, "a digest of a bank the header did not announce");
                if (seen[k])
                        return event_error(ctx, -EBADMSG, &e, "two digests of one bank");
                seen[k] = true;
                if (!take(c, log->algorithms[k].digest_size, &p))
                        return event_error(ctx, -EBADMSG, &e, "truncated event");
                if (id == TPM_ALG_SHA256)
                        memcpy(e.sha256, p, TCG_SHA256_SIZE);
        }

        if (!take_le(c, 4, &e.data_size))
                return event_error(ctx, -EBADMSG, &e, "truncated event");
        if (e.data_size > TCG_EVENT_DATA_MAX)
                return event_error(ctx, -E2BIG, &e, "event data larger than the limit");
        if (!take(c, e.data_size, &e.data))
                return event_error(ctx, -EBADMSG, &e, "truncated event");

        if (e.type == EV_NO_ACTION) {
                int r = check_no_action(ctx, &e);
                if (r < 0)
                        return r;
        } else
                ctx->extended = true;

        *ret = e;
        return 0;
}

int tcg_log_parse(const void *data, size_t size, TcgLog **ret, BootError *reterr) {
        _cleanup_(tcg_log_freep) TcgLog *log = NULL;
        size_t allocated = 0;
        Cursor c;
        int r;

        assert(data || size == 0);
        assert(ret);

        if (size > TCG_LOG_SIZE_MAX)
                return header_error(reterr, -E2BIG, "log larger than the limit");

        log = calloc(1, sizeof(*log));
        if (!log)
                return -ENOMEM;
        log->buffer = memdup(data, size);
        if (!log->buffer)
                return -ENOMEM;
        log->size = size;

        c = (Cursor) { log->buffer, size };
        r = parse_header(log, &c, reterr);
        if (r < 0)
                return r;

        EventContext ctx = { .log = log, .reterr = reterr };
        while (c.left > 0) {
                TcgEvent e;

                if (log->n_events >= TCG_EVENTS_MAX)
                        return boot_error(reterr, -E2BIG, BOOT_LOG_FIRMWARE, log->n_events,
                                          (size_t) (c.p - log->buffer), BOOT_ERROR_NONE, BOOT_ERROR_NONE,
                                          "more events than the limit");
                r = parse_event(&ctx, &c, &e);
                if (r < 0)
                        return r;
                if (log->n_events == allocated) {
                        size_t want = MAX(allocated * 2, (size_t) 64);
                        TcgEvent *a = reallocarray(log->events, want, sizeof(TcgEvent));
                        if (!a)
                                return -ENOMEM;
                        log->events = a;
                        allocated = want;
                }
                log->events[log->n_events++] = e;
        }

        *ret = TAKE_PTR(log);
        return 0;
}

TcgLog *tcg_log_free(TcgLog *log) {
        if (!log)
                return NULL;
        free(log->events);
        free(log->buffer);
        free(log);
        return NULL;
}
