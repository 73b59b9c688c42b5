/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.patela.Config.VerifyLog (`patelactl log verify`): the node proves, with nothing but the pinned LogKey= and
 * its own measurements, that the image it booted is registered in the fleet's transparency log
 * (docs/transparency.md). In order:
 *   1. what the node booted, from this boot's attestation (log_verify_take_measurement()): the applications the
 *      firmware started — PCR 4's events in the firmware log, which must replay to the PCR 4 the TPM quoted —
 *      and the quoted PCR 9 and PCR 11;
 *   2. GET /v1/log/registration?authenticode= for each of those applications: the server only finds the entry;
 *      its content must be this node's measurement (the UKI's and kernel's Authenticode, PCR 9, one of PCR 11's
 *      phases), and its leaf hash is computed here;
 *   3. GET /v1/log/checkpoint, opened under the pinned key, of the log the key names;
 *   4. GET /v1/log/inclusion of that entry in that checkpoint's tree, verified against the signed head;
 *   5. against the last checkpoint verified in this boot (StateDirectory=, a tmpfs): not smaller (a rollback),
 *      the same head at the same size, or a consistency proof from it (GET /v1/log/consistency) that verifies;
 *   6. the new checkpoint kept, atomically, and the answer.
 * One verification runs at a time; calls that come meanwhile get its answer. */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "boot-logs.h"
#include "configd-files.h"
#include "configd-log.h"
#include "configd-manager.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "string-util.h"
#include "tlog-note.h"

#define APPS_MAX 8U
#define LOG_BODY_MAX (64U * 1024U)

typedef struct Verification Verification;

struct ConfigdLog {
        bool measured;
        char measure_error[256];
        char apps[APPS_MAX][65]; /* PCR 4's applications, Authenticode SHA-256 in hex, in the order started */
        size_t n_apps;
        char pcr9[65], pcr11[65]; /* "" if not quoted */

        Verification *running;
        uint64_t last_at, last_size;
        char *last_error;
};

struct Verification {
        Manager *manager;
        sd_varlink **links;
        size_t n_links;
        HttpRequest *request;
        TlogKey key;
        size_t app; /* the application being looked up */
        uint64_t index;
        char *entry;
        char image[128], uki_sha256[65];
        char *note;
        TlogCheckpoint checkpoint;
        bool have_previous;
        TlogCheckpoint previous;
};

int log_verify_setup(Manager *m) {
        m->log = calloc(1, sizeof(ConfigdLog));
        if (!m->log)
                return -ENOMEM;
        snprintf(m->log->measure_error, sizeof(m->log->measure_error), "the node has not attested yet");
        return 0;
}

static Verification *verification_free(Verification *v) {
        if (!v)
                return NULL;
        for (size_t i = 0; i < v->n_links; i++)
                sd_varlink_unref(v->links[i]);
        free(v->links);
        http_request_free(v->request);
        free(v->entry);
        free(v->note);
        free(v);
        return NULL;
}

void log_verify_free(Manager *m) {
        if (!m->log)
                return;
        verification_free(m->log->running);
        free(m->log->last_error);
        free(m->log);
        m->log = NULL;
}

void log_verify_last_result(const Manager *m, uint64_t *ret_at, uint64_t *ret_size, const char **ret_error) {
        *ret_at = m->log ? m->log->last_at : 0;
        *ret_size = m->log ? m->log->last_size : 0;
        *ret_error = m->log ? m->log->last_error : NULL;
}

/* ---- what the node booted ------------------------------------------------------------------------------ */

/* Why the node has no measurement, for VerifyLog's NotMeasured: r. */
static int measure_fail(ConfigdLog *l, int r, const char *format, ...) _printf_(3, 4);
static int measure_fail(ConfigdLog *l, int r, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vsnprintf(l->measure_error, sizeof(l->measure_error), format, ap);
        va_end(ap);
        return r;
}

static int measure(ConfigdLog *l, sd_json_variant *quote, sd_json_variant *event_logs) {
        sd_json_variant *values = sd_json_variant_by_key(quote, "pcrValues"),
                        *bank = sd_json_variant_by_key(quote, "bank"),
                        *firmware = sd_json_variant_by_key(event_logs, "firmwareLog");
        _cleanup_(boot_logs_done) BootLogs logs = {};
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ void *fw = NULL;
        PcrValues quoted = {};
        size_t fw_size = 0;
        int r;

        if (!sd_json_variant_is_string(bank) || !streq(sd_json_variant_string(bank), "sha256"))
                return measure_fail(l, -EBADMSG, "the quote is not of the SHA-256 bank");
        for (size_t i = 0; i < sd_json_variant_elements(values); i++) {
                sd_json_variant *e = sd_json_variant_by_index(values, i);
                _cleanup_free_ void *d = NULL;
                size_t n = 0;

                if (!sd_json_variant_is_unsigned(sd_json_variant_by_key(e, "index")) ||
                    !sd_json_variant_is_string(sd_json_variant_by_key(e, "value")) ||
                    unhexmem(sd_json_variant_string(sd_json_variant_by_key(e, "value")), 64, &d, &n) < 0 ||
                    pcr_values_set(&quoted, (unsigned) sd_json_variant_unsigned(sd_json_variant_by_key(e, "index")),
                                   d, n) < 0)
                        return measure_fail(l, -EBADMSG, "patela-attestd's quote has a PCR value that is not SHA-256");
        }
        if (!(quoted.mask & (UINT32_C(1) << 4)))
                return measure_fail(l, -ENODATA,
                                    "PCR 4 was not quoted: the server asks for no PCR that names the image");
        if (!sd_json_variant_is_string(firmware))
                return measure_fail(l, -ENODATA,
                                    "patela-attestd gave no firmware event log: the UKI the firmware started is unknown");
        r = unbase64mem(sd_json_variant_string(firmware), PROTO_EVENT_LOG_MAX, &fw, &fw_size);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                r = boot_logs_explain(fw, fw_size, NULL, 0, &quoted, UINT32_C(1) << 4, &logs, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return measure_fail(l, -EBADMSG, "the firmware event log does not explain the quoted PCR 4: %s",
                                    reason ?: "malformed");

        l->n_apps = 0;
        for (size_t i = 0; i < logs.firmware->n_events; i++) {
                const TcgEvent *e = &logs.firmware->events[i];

                if (e->pcr != 4 || e->type != EV_EFI_BOOT_SERVICES_APPLICATION)
                        continue;
                if (l->n_apps == APPS_MAX)
                        return measure_fail(l, -E2BIG, "PCR 4 holds more than %u applications", APPS_MAX);
                hexmem_to(e->sha256, 32, l->apps[l->n_apps++]);
        }
        if (l->n_apps == 0)
                return measure_fail(l, -ENODATA, "PCR 4 shows no application started by the firmware");
        l->pcr9[0] = l->pcr11[0] = '\0';
        if (quoted.mask & (UINT32_C(1) << 9))
                hexmem_to(quoted.sha256[9], 32, l->pcr9);
        if (quoted.mask & (UINT32_C(1) << 11))
                hexmem_to(quoted.sha256[11], 32, l->pcr11);
        return 0;
}

void log_verify_take_measurement(Manager *m, sd_json_variant *quote, sd_json_variant *event_logs) {
        ConfigdLog *l = m->log;

        if (!l)
                return;
        l->measured = measure(l, quote, event_logs) >= 0;
        if (!l->measured)
                log_debug("No measurement for VerifyLog: %s", l->measure_error);
}

/* ---- the verification ---------------------------------------------------------------------------------- */

static void finish(Verification *v, const char *error_id, const char *format, ...) _printf_(3, 4);
static void finish(Verification *v, const char *error_id, const char *format, ...) {
        ConfigdLog *l = v->manager->log;
        char message[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        log_warning("Transparency log not verified (%s): %s", error_id + strlen("io.patela.Config."), message);
        free(l->last_error);
        l->last_error = strdup(message);
        for (size_t i = 0; i < v->n_links; i++)
                (void) sd_varlink_errorbo(v->links[i], error_id, SD_JSON_BUILD_PAIR_STRING("message", message));
        l->running = NULL;
        verification_free(v);
}

/* The entry the server gave, against what this node measured: NULL if it is this node's image, else why not. */
static const char *entry_mismatch(const ConfigdLog *l, const char *entry, const char *uki, char *why, size_t size) {
        char kind[32], value[80], kernel[80];
        bool pcr11 = false;

        if (!startswith(entry, "patela-log-entry/1\n") || !tlog_entry_field(entry, "kind", kind, sizeof(kind)) ||
            !streq(kind, "image-registered"))
                return "it is not an image registration";
        if (!tlog_entry_field(entry, "uki-authenticode", value, sizeof(value)) || !streq(value, uki))
                return "its UKI is not the one the firmware started (PCR 4)";
        if (!tlog_entry_field(entry, "kernel-authenticode", kernel, sizeof(kernel)))
                return "it names no kernel";
        for (size_t i = 0; i < l->n_apps; i++)
                if (!streq(l->apps[i], uki) && !streq(l->apps[i], kernel)) {
                        snprintf(why, size, "PCR 4 holds an application it does not name (Authenticode %.16s…)",
                                 l->apps[i]);
                        return why;
                }
        if (l->pcr9[0] && (!tlog_entry_field(entry, "pcr9", value, sizeof(value)) || !streq(value, l->pcr9)))
                return "its PCR 9 (initrd and command line) is not this boot's";
        if (l->pcr11[0]) {
                static const char *const phases[] = { "pcr11-boot", "pcr11-sysinit", "pcr11-ready" };
                for (size_t i = 0; i < ELEMENTSOF(phases); i++)
                        pcr11 = pcr11 || (tlog_entry_field(entry, phases[i], value, sizeof(value)) &&
                                          streq(value, l->pcr11));
                if (!pcr11)
                        return "none of its PCR 11 values (UKI sections and boot phases) is this boot's";
        }
        return NULL;
}

static char *state_path(const Manager *m) {
        char *p;
        return asprintf(&p, "%s/" CONFIGD_LOG_STATE_DIRECTORY "/" CONFIGD_LOG_STATE_FILE, m->config.state_directory) < 0
                       ? NULL
                       : p;
}

/* The last checkpoint verified: "origin O\nsize N\nroot BASE64\n". 0 with it, -ENOENT for none, -EBADMSG. */
static int state_load(const Manager *m, TlogCheckpoint *ret) {
        _cleanup_free_ char *path = state_path(m), *text = NULL;
        char origin[256], root[64];
        unsigned long long size;
        size_t n;
        int r, end = 0;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 1024, (void **) &text, &n);
        if (r < 0)
                return r;
        if (strlen(text) != n ||
            sscanf(text, "origin %255s\nsize %llu\nroot %63s\n%n", origin, &size, root, &end) != 3 ||
            (size_t) end != n || size == 0 || size > TLOG_SIZE_MAX || tlog_hash_parse(root, &ret->root) < 0)
                return -EBADMSG;
        snprintf(ret->origin, sizeof(ret->origin), "%s", origin);
        ret->size = size;
        return 0;
}

static int state_save(const Manager *m, const TlogCheckpoint *c) {
        _cleanup_free_ char *path = state_path(m), *root = base64mem(c->root.bytes, TLOG_HASH_SIZE), *text = NULL,
                            *dir = NULL;
        int r;

        if (!path || !root || asprintf(&text, "origin %s\nsize %" PRIu64 "\nroot %s\n", c->origin, c->size, root) < 0)
                return -ENOMEM;
        /* tmpfiles.d makes it on a node; a manual run may not have it yet. */
        if (asprintf(&dir, "%s/" CONFIGD_LOG_STATE_DIRECTORY, m->config.state_directory) < 0)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        return r < 0 ? r : write_file_atomic(path, text, 0644);
}

static void step_registration(Verification *v);
static void step_checkpoint(Verification *v);
static void step_inclusion(Verification *v);
static void step_consistency(Verification *v);
static void succeed(Verification *v);

/* Each request at most this long (if Timeout= is not shorter): the four of a verification then end within
 * patelactl's 45 s. */
#define LOG_REQUEST_TIMEOUT_USEC (10ULL * 1000000ULL)

static int get(Verification *v, const char *path, HttpCallback callback) {
        const HttpRequestOptions options = { .timeout_usec = LOG_REQUEST_TIMEOUT_USEC };

        v->request = http_request_free(v->request);
        return http_request_start_full(v->manager->http, path, NULL, NULL, &options, callback, v, &v->request);
}

/* A 200 with its body, or the verification finished with the reason. */
static bool answered(Verification *v, const HttpResponse *response, const char *what) {
        if (response->error < 0) {
                finish(v, "io.patela.Config.Unreachable", "%s: %s", what, response->message);
                return false;
        }
        if (response->status != 200) {
                finish(v, "io.patela.Config.Unreachable", "%s: HTTP %ld", what, response->status);
                return false;
        }
        return true;
}

static void on_registration(HttpRequest *request, const HttpResponse *response, void *userdata) {
        _cleanup_(proto_log_registration_done) ProtoLogRegistration reg = {};
        Verification *v = userdata;
        ConfigdLog *l = v->manager->log;
        ProtoDiag diag = {};
        const char *why;
        char buf[160];

        if (response->error >= 0 && response->status == 404) {
                /* Not this application: the next one (the kernel systemd-stub started has no registration). */
                if (++v->app < l->n_apps) {
                        step_registration(v);
                        return;
                }
                finish(v, "io.patela.Config.NotRegistered",
                       "the log registered no image whose UKI is the one this node booted (Authenticode %s)",
                       l->apps[0]);
                return;
        }
        if (!answered(v, response, "GET /v1/log/registration"))
                return;
        if (proto_log_registration_decode(response->body, response->size, &reg, &diag) < 0) {
                finish(v, "io.patela.Config.Unreachable", "%s", diag.message);
                return;
        }
        why = entry_mismatch(l, reg.entry, l->apps[v->app], buf, sizeof(buf));
        if (why) {
                finish(v, "io.patela.Config.EntryMismatch",
                       "the server gave entry %" PRIu64 " as this image's registration, but %s", reg.index, why);
                return;
        }
        v->index = reg.index;
        v->entry = TAKE_PTR(reg.entry);
        if (!tlog_entry_field(v->entry, "name", v->image, sizeof(v->image)))
                snprintf(v->image, sizeof(v->image), "-");
        if (!tlog_entry_field(v->entry, "uki-sha256", v->uki_sha256, sizeof(v->uki_sha256)))
                snprintf(v->uki_sha256, sizeof(v->uki_sha256), "-");
        step_checkpoint(v);
}

static void step_registration(Verification *v) {
        char path[160];

        snprintf(path, sizeof(path), "%s?authenticode=%s", proto_endpoint_path(PROTO_LOG_REGISTRATION),
                 v->manager->log->apps[v->app]);
        if (get(v, path, on_registration) < 0)
                finish(v, "io.patela.Config.Failed", "Cannot start a request to the server");
}

static void on_checkpoint(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Verification *v = userdata;
        size_t text_size;
        int r;

        if (!answered(v, response, "GET /v1/log/checkpoint"))
                return;
        r = tlog_note_open(response->body, response->size, &v->key, &text_size);
        if (r < 0) {
                finish(v, "io.patela.Config.BadCheckpoint",
                       "the checkpoint is not signed by the pinned key %s+%08" PRIx32 " (%s)", v->key.name, v->key.id,
                       r == -ENOKEY ? "no signature by it" : "malformed or forged");
                return;
        }
        if (tlog_checkpoint_parse(response->body, text_size, &v->checkpoint) < 0 ||
            !streq(v->checkpoint.origin, v->key.name)) {
                finish(v, "io.patela.Config.BadCheckpoint", "the signed note is not a checkpoint of the log %s",
                       v->key.name);
                return;
        }
        if (v->index >= v->checkpoint.size) {
                finish(v, "io.patela.Config.ProofInvalid",
                       "the registration's index %" PRIu64 " is beyond the signed checkpoint of %" PRIu64 " entries",
                       v->index, v->checkpoint.size);
                return;
        }
        v->note = strndup(response->body, response->size);
        if (!v->note) {
                finish(v, "io.patela.Config.Failed", "Out of memory");
                return;
        }
        step_inclusion(v);
}

static void step_checkpoint(Verification *v) {
        if (get(v, proto_endpoint_path(PROTO_LOG_CHECKPOINT), on_checkpoint) < 0)
                finish(v, "io.patela.Config.Failed", "Cannot start a request to the server");
}

static void on_inclusion(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Verification *v = userdata;
        ProtoLogInclusion p;
        ProtoDiag diag = {};
        TlogHash leaf;

        if (!answered(v, response, "GET /v1/log/inclusion"))
                return;
        if (proto_log_inclusion_decode(response->body, response->size, &p, &diag) < 0) {
                finish(v, "io.patela.Config.Unreachable", "%s", diag.message);
                return;
        }
        if (!tlog_leaf_hash(v->entry, strlen(v->entry), &leaf)) {
                finish(v, "io.patela.Config.Failed", "Out of memory");
                return;
        }
        /* Against the signed head, never the head the proof's reply carries. */
        if (p.index != v->index || p.size != v->checkpoint.size ||
            !tlog_verify_inclusion(&leaf, v->index, v->checkpoint.size, p.proof, p.n, &v->checkpoint.root)) {
                finish(v, "io.patela.Config.ProofInvalid",
                       "entry %" PRIu64 " as served is not in the signed tree of %" PRIu64 " entries: the inclusion "
                       "proof does not verify",
                       v->index, v->checkpoint.size);
                return;
        }

        switch (state_load(v->manager, &v->previous)) {
        case 0:
                v->have_previous = true;
                break;
        case -ENOENT:
                succeed(v);
                return;
        case -ENOMEM:
                finish(v, "io.patela.Config.Failed", "Out of memory");
                return;
        default:
                finish(v, "io.patela.Config.Failed",
                       "%s/" CONFIGD_LOG_STATE_DIRECTORY "/" CONFIGD_LOG_STATE_FILE
                       " is not a checkpoint this daemon wrote",
                       v->manager->config.state_directory);
                return;
        }
        if (!streq(v->previous.origin, v->checkpoint.origin)) {
                finish(v, "io.patela.Config.Inconsistent",
                       "the last checkpoint verified is of the log %s, this one of %s", v->previous.origin,
                       v->checkpoint.origin);
                return;
        }
        if (v->checkpoint.size < v->previous.size) {
                finish(v, "io.patela.Config.Rollback",
                       "the log went back from %" PRIu64 " entries (verified before) to %" PRIu64, v->previous.size,
                       v->checkpoint.size);
                return;
        }
        if (v->checkpoint.size == v->previous.size) {
                if (!tlog_hash_equal(&v->checkpoint.root, &v->previous.root)) {
                        finish(v, "io.patela.Config.Inconsistent",
                               "two signed checkpoints of %" PRIu64 " entries with different heads: the log forked",
                               v->checkpoint.size);
                        return;
                }
                succeed(v);
                return;
        }
        step_consistency(v);
}

static void step_inclusion(Verification *v) {
        char path[160];

        snprintf(path, sizeof(path), "%s?index=%" PRIu64 "&size=%" PRIu64, proto_endpoint_path(PROTO_LOG_INCLUSION),
                 v->index, v->checkpoint.size);
        if (get(v, path, on_inclusion) < 0)
                finish(v, "io.patela.Config.Failed", "Cannot start a request to the server");
}

static void on_consistency(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Verification *v = userdata;
        ProtoLogConsistency p;
        ProtoDiag diag = {};

        if (!answered(v, response, "GET /v1/log/consistency"))
                return;
        if (proto_log_consistency_decode(response->body, response->size, &p, &diag) < 0) {
                finish(v, "io.patela.Config.Unreachable", "%s", diag.message);
                return;
        }
        if (p.size1 != v->previous.size || p.size2 != v->checkpoint.size ||
            !tlog_verify_consistency(v->previous.size, v->checkpoint.size, &v->previous.root, &v->checkpoint.root,
                                     p.proof, p.n)) {
                finish(v, "io.patela.Config.Inconsistent",
                       "the checkpoint of %" PRIu64 " entries does not extend the one of %" PRIu64
                       " verified before: the consistency proof does not verify",
                       v->checkpoint.size, v->previous.size);
                return;
        }
        succeed(v);
}

static void step_consistency(Verification *v) {
        char path[160];

        snprintf(path, sizeof(path), "%s?size1=%" PRIu64 "&size2=%" PRIu64, proto_endpoint_path(PROTO_LOG_CONSISTENCY),
                 v->previous.size, v->checkpoint.size);
        if (get(v, path, on_consistency) < 0)
                finish(v, "io.patela.Config.Failed", "Cannot start a request to the server");
}

static void succeed(Verification *v) {
        ConfigdLog *l = v->manager->log;
        _cleanup_free_ char *root = base64mem(v->checkpoint.root.bytes, TLOG_HASH_SIZE);
        int r;

        r = root ? state_save(v->manager, &v->checkpoint) : -ENOMEM;
        if (r < 0) {
                finish(v, "io.patela.Config.Failed", "Failed to keep the checkpoint in %s: %s",
                       v->manager->config.state_directory, strerror(-r));
                return;
        }
        log_info("Transparency log verified: image %s is entry %" PRIu64 " of %s, in its signed checkpoint of %" PRIu64
                 " entries.", v->image, v->index, v->checkpoint.origin, v->checkpoint.size);
        l->last_at = now_realtime();
        l->last_size = v->checkpoint.size;
        free(l->last_error);
        l->last_error = NULL;
        for (size_t i = 0; i < v->n_links; i++)
                (void) sd_varlink_replybo(
                                v->links[i], SD_JSON_BUILD_PAIR_STRING("origin", v->checkpoint.origin),
                                SD_JSON_BUILD_PAIR_UNSIGNED("treeSize", v->checkpoint.size),
                                SD_JSON_BUILD_PAIR_STRING("rootHash", root),
                                SD_JSON_BUILD_PAIR_STRING("checkpoint", v->note),
                                SD_JSON_BUILD_PAIR_STRING("image", v->image),
                                SD_JSON_BUILD_PAIR_UNSIGNED("entryIndex", v->index),
                                SD_JSON_BUILD_PAIR_STRING("entry", v->entry),
                                SD_JSON_BUILD_PAIR_STRING("ukiAuthenticode", l->apps[v->app]),
                                SD_JSON_BUILD_PAIR_STRING("ukiSha256", v->uki_sha256),
                                SD_JSON_BUILD_PAIR_CONDITION(v->have_previous, "previousTreeSize",
                                                             SD_JSON_BUILD_UNSIGNED(v->previous.size)),
                                SD_JSON_BUILD_PAIR_CONDITION(!v->have_previous, "previousTreeSize",
                                                             SD_JSON_BUILD_NULL));
        l->running = NULL;
        verification_free(v);
}

int vl_method_verify_log(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                         void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        Manager *m = userdata;
        ConfigdLog *l = m->log;
        Verification *v;
        sd_varlink **links;
        int r;

        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        if (!m->config.log_key)
                return sd_varlink_error(link, "io.patela.Config.NoLogKey", NULL);
        if (!l->measured)
                return sd_varlink_errorbo(link, "io.patela.Config.NotMeasured",
                                          SD_JSON_BUILD_PAIR_STRING("message", l->measure_error));

        v = l->running;
        if (!v) {
                v = calloc(1, sizeof(Verification));
                if (!v)
                        return -ENOMEM;
                v->manager = m;
                /* Checked when the configuration was read. */
                r = tlog_key_parse_verifier(m->config.log_key, &v->key);
                assert(r >= 0);
        }
        links = reallocarray(v->links, v->n_links + 1, sizeof(sd_varlink *));
        if (!links) {
                if (!l->running)
                        verification_free(v);
                return -ENOMEM;
        }
        v->links = links;
        v->links[v->n_links++] = sd_varlink_ref(link);
        if (!l->running) {
                l->running = v;
                step_registration(v);
        }
        return 0;
}
