/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The first half of a cycle: the node's identity from patela-attestd, POST /v1/enroll, ActivateCredential
 * and Quote through attestd, POST /v1/attest. Ends with a session token in memory, or with the cycle
 * finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "log.h"

#define ATTESTD_TIMEOUT_USEC (120ULL * 1000000ULL) /* an RSA EK from a slow TPM takes seconds */
/* The server bounds request bodies (MaxBodySize=, 1 MiB by default); logs that would not fit are left out
 * rather than have the attestation refused. */
#define EVENT_LOGS_SEND_MAX (768U * 1024U)

/* The field of that name, taken over from another reply. */
#define FIELD_OF(name, from) SD_JSON_BUILD_PAIR_VARIANT(name, sd_json_variant_by_key(from, name))

static uint64_t now_realtime(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

void server_reply_done(ServerReply *r) {
        r->v = sd_json_variant_unref(r->v);
}

int server_reply_judge(Manager *m, const HttpResponse *response, const char *what, bool sensitive, ServerReply *ret) {
        WireError e = {};
        int r;

        *ret = (ServerReply) { .status = response->status };
        log_debug("%s: HTTP %ld in %.1f ms (TLS handshake %.1f ms).", what, response->status,
                  (double) response->total_usec / 1e3, (double) response->connect_usec / 1e3);
        if (response->error < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "%s: %s", what, response->message);
                return -1;
        }
        r = wire_parse_body(response->body, response->size, sensitive, &ret->v, &e);
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "%s: out of memory", what);
                return -1;
        }
        if (response->status >= 200 && response->status < 300) {
                if (r < 0) {
                        cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "%s: HTTP %ld: %s", what, response->status,
                                     e.message);
                        return -1;
                }
                return 0;
        }
        if (r >= 0)
                r = wire_decode_error(ret->v, &ret->error, &e);
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "%s: HTTP %ld: %s", what, response->status,
                             e.message);
                return -1;
        }
        /* Only what the server says about this node is a refusal; a 404 or a 5xx must not stop relays. */
        if (response->status == 401 || response->status == 403 || response->status == 409 ||
            (response->status == 400 &&
             (streq(ret->error.code, "EkRejected") || streq(ret->error.code, "AkRejected"))))
                return 1;
        cycle_finish(m, OUTCOME_UNREACHABLE, ret->error.code, "%s: HTTP %ld %s: %s", what, response->status,
                     ret->error.code, ret->error.message);
        return -1;
}

static void attest_step_activate(Manager *m);
static void attest_step_quote(Manager *m);
static void attest_step_event_logs(Manager *m);
static void attest_step_attest(Manager *m);

static void finish_attestd_error(Manager *m, const char *method, const char *error_id, sd_json_variant *parameters) {
        char buf[512];

        varlink_error_format(error_id, parameters, buf, sizeof(buf));
        cycle_finish(m, OUTCOME_FAILED, NULL, "patela-attestd %s failed: %s", method, buf);
}

static void finish_connect_error(Manager *m, const char *daemon, const char *socket, int error) {
        cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot call %s at %s: %s", daemon, socket, strerror(-error));
}

static int on_identity(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                       sd_varlink_reply_flags_t flags, void *userdata) {
        struct {
                const char *ek_public, *ak_public, *ek_certificate, *fingerprint;
        } id = {};
        static const sd_json_dispatch_field table[] = {
                { "ekPublic", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(id), ek_public), SD_JSON_MANDATORY },
                { "akPublic", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(id), ak_public), SD_JSON_MANDATORY },
                { "ekCertificate", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(id), ek_certificate), SD_JSON_NULLABLE },
                { "fingerprint", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(typeof(id), fingerprint), SD_JSON_MANDATORY },
                {}
        };
        Manager *m = userdata;
        int r;

        if (error_id) {
                finish_attestd_error(m, "GetIdentity", error_id, parameters);
                return 0;
        }
        /* Our own daemon: newer fields are fine (SD_JSON_ALLOW_EXTENSIONS), missing ones are not. */
        r = sd_json_dispatch(parameters, table, SD_JSON_ALLOW_EXTENSIONS | SD_JSON_DEBUG, &id);
        if (r >= 0)
                r = sd_json_buildo(&m->identity, SD_JSON_BUILD_PAIR_STRING("ekPublic", id.ek_public),
                                   SD_JSON_BUILD_PAIR_STRING("akPublic", id.ak_public),
                                   SD_JSON_BUILD_PAIR_CONDITION(!!id.ek_certificate, "ekCertificate",
                                                                SD_JSON_BUILD_STRING(id.ek_certificate)));
        if (r >= 0)
                r = free_and_strdup(&m->fingerprint, id.fingerprint);
        if (r < 0) {
                m->identity = sd_json_variant_unref(m->identity);
                cycle_finish(m, OUTCOME_FAILED, NULL, "patela-attestd GetIdentity: unusable reply: %s", strerror(-r));
                return 0;
        }
        log_info("Node identity from patela-attestd: fingerprint %s.", m->fingerprint);
        manager_call_done(m);
        attest_step_enroll(m);
        return 0;
}

void attest_step_identity(Manager *m) {
        int r;

        manager_set_phase(m, PHASE_STARTING);
        r = manager_call(m, m->config.attest_socket, "io.patela.Attest.GetIdentity", NULL, /* sensitive= */ false,
                         ATTESTD_TIMEOUT_USEC, on_identity);
        if (r < 0)
                finish_connect_error(m, "patela-attestd", m->config.attest_socket, r);
}

static void on_enroll(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(server_reply_done) ServerReply reply = {};
        WireEnroll e;
        WireError we = {};
        int r;

        r = server_reply_judge(m, response, "Enrolment", /* sensitive= */ true, &reply);
        if (r < 0)
                return;
        if (r > 0) {
                if (streq(reply.error.code, "NodeDisabled"))
                        (void) free_and_strdup(&m->node_state, "disabled");
                cycle_finish(m, OUTCOME_REFUSED, reply.error.code, "%s", reply.error.message);
                return;
        }
        if (reply.status != 200 && reply.status != 202) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Enrolment: unexpected HTTP status %ld", reply.status);
                return;
        }
        r = wire_decode_enroll(reply.v, reply.status == 200, &e, &we);
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Enrolment: HTTP %ld: %s", reply.status, we.message);
                return;
        }
        /* The server computes the fingerprint from the EK and AK it received; attestd from the TPM's. */
        if (!streq(e.fingerprint, m->fingerprint ?: ""))
                log_warning("The server shows fingerprint %s, patela-attestd says %s: the keys were altered on the way?",
                            e.fingerprint, m->fingerprint ?: "?");
        (void) free_and_strdup(&m->node_state, e.enabled ? "enabled" : "pending");
        if (!e.enabled) {
                cycle_finish(m, OUTCOME_PENDING, NULL, "pending, fingerprint %s", m->fingerprint ?: e.fingerprint);
                return;
        }
        m->enroll = sd_json_variant_unref(m->enroll);
        m->enroll = TAKE_PTR(reply.v); /* parsed as sensitive: wiped when dropped */
        attest_step_activate(m);
}

void attest_step_enroll(Manager *m) {
        _cleanup_free_ char *body = NULL;
        int r;

        manager_set_phase(m, m->phase == PHASE_RUNNING ? PHASE_ATTESTING : PHASE_ENROLLING);
        r = sd_json_variant_format(m->identity, 0, &body);
        if (r >= 0)
                r = http_request_start(m->http, "/v1/enroll", body, NULL, on_enroll, m, &m->request);
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the enrolment request: %s", strerror(-r));
}

static int on_activate(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                       sd_varlink_reply_flags_t flags, void *userdata) {
        Manager *m = userdata;
        sd_json_variant *s;
        int r;

        if (error_id && streq(error_id, "io.patela.Attest.CredentialRejected")) {
                /* Made for another EK or AK: ask attestd for the identity again next time. */
                m->identity = sd_json_variant_unref(m->identity);
                cycle_finish(m, OUTCOME_FAILED, NULL,
                             "The TPM refused the server's credential: it was made for another EK or AK name");
                return 0;
        }
        if (error_id) {
                finish_attestd_error(m, "ActivateCredential", error_id, parameters);
                return 0;
        }
        s = sd_json_variant_by_key(parameters, "secret");
        if (!s || !sd_json_variant_is_string(s)) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "patela-attestd ActivateCredential: no secret in the reply");
                return 0;
        }
        /* A copy of our own, marked sensitive: a reference to a child of the reply would outlive the
         * reply's wiping. */
        r = sd_json_variant_new_string(&m->secret, sd_json_variant_string(s));
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return 0;
        }
        sd_json_variant_sensitive(m->secret);
        manager_call_done(m);
        attest_step_quote(m);
        return 0;
}

static void attest_step_activate(Manager *m) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *p = NULL;
        int r;

        manager_set_phase(m, PHASE_ATTESTING);
        r = sd_json_buildo(&p, FIELD_OF("credentialBlob", m->enroll), FIELD_OF("encryptedSecret", m->enroll));
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        sd_json_variant_sensitive(p);
        r = manager_call(m, m->config.attest_socket, "io.patela.Attest.ActivateCredential", p, /* sensitive= */ true,
                         ATTESTD_TIMEOUT_USEC, on_activate);
        if (r < 0)
                finish_connect_error(m, "patela-attestd", m->config.attest_socket, r);
}

static int on_quote(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                    sd_varlink_reply_flags_t flags, void *userdata) {
        Manager *m = userdata;

        if (error_id) {
                finish_attestd_error(m, "Quote", error_id, parameters);
                return 0;
        }
        if (!sd_json_variant_is_string(sd_json_variant_by_key(parameters, "quoted")) ||
            !sd_json_variant_is_string(sd_json_variant_by_key(parameters, "signature")) ||
            !sd_json_variant_is_array(sd_json_variant_by_key(parameters, "pcrValues"))) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "patela-attestd Quote: incomplete reply");
                return 0;
        }
        m->quote = sd_json_variant_unref(m->quote);
        m->quote = sd_json_variant_ref(parameters);
        manager_call_done(m);
        attest_step_event_logs(m);
        return 0;
}

static void attest_step_quote(Manager *m) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *p = NULL;
        int r;

        r = sd_json_buildo(&p, FIELD_OF("nonce", m->enroll), FIELD_OF("pcrs", m->enroll), FIELD_OF("bank", m->enroll));
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        r = manager_call(m, m->config.attest_socket, "io.patela.Attest.Quote", p, /* sensitive= */ false,
                         ATTESTD_TIMEOUT_USEC, on_quote);
        if (r < 0)
                finish_connect_error(m, "patela-attestd", m->config.attest_socket, r);
}

static size_t string_size(sd_json_variant *v) {
        return sd_json_variant_is_string(v) ? strlen(sd_json_variant_string(v)) : 0;
}

static int on_event_logs(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                         sd_varlink_reply_flags_t flags, void *userdata) {
        Manager *m = userdata;
        char buf[512];
        size_t size;

        m->event_logs = sd_json_variant_unref(m->event_logs);
        if (error_id) {
                /* The server does not require them (yet): attest without. */
                varlink_error_format(error_id, parameters, buf, sizeof(buf));
                log_warning("patela-attestd GetEventLogs failed, attesting without event logs: %s", buf);
        } else {
                size = string_size(sd_json_variant_by_key(parameters, "firmwareLog")) +
                       string_size(sd_json_variant_by_key(parameters, "userspaceLog"));
                if (size > EVENT_LOGS_SEND_MAX)
                        log_warning("Event logs of %zu bytes (base64) exceed %u, attesting without them.", size,
                                    EVENT_LOGS_SEND_MAX);
                else
                        m->event_logs = sd_json_variant_ref(parameters);
        }
        manager_call_done(m);
        attest_step_attest(m);
        return 0;
}

static void attest_step_event_logs(Manager *m) {
        int r;

        r = manager_call(m, m->config.attest_socket, "io.patela.Attest.GetEventLogs", NULL, /* sensitive= */ false,
                         ATTESTD_TIMEOUT_USEC, on_event_logs);
        if (r < 0)
                finish_connect_error(m, "patela-attestd", m->config.attest_socket, r);
}

static void on_attest(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(server_reply_done) ServerReply reply = {};
        WireError we = {};
        WireAttest a;
        int r;

        r = server_reply_judge(m, response, "Attestation", /* sensitive= */ true, &reply);
        if (r < 0)
                return;
        if (r > 0) {
                /* A challenge lost in a race (answered late, replaced by another enrolment): a new one. */
                if ((streq(reply.error.code, "ChallengeExpired") || streq(reply.error.code, "ChallengeUnknown")) &&
                    m->reenrolls < 2) {
                        m->reenrolls++;
                        log_notice("Attestation: %s; enrolling again.", reply.error.message);
                        m->enroll = sd_json_variant_unref(m->enroll);
                        m->quote = sd_json_variant_unref(m->quote);
                        attest_step_enroll(m);
                        return;
                }
                m->last_attestation = now_realtime();
                (void) free_and_strdup(&m->last_verdict, "rejected");
                (void) free_and_strdup(&m->last_verdict_reason, reply.error.message);
                if (streq(reply.error.code, "NodeDisabled"))
                        (void) free_and_strdup(&m->node_state, "disabled");
                cycle_finish(m, OUTCOME_REFUSED, reply.error.code, "%s", reply.error.message);
                return;
        }
        r = reply.status == 200 ? wire_decode_attest(reply.v, &a, &we) : -EBADMSG;
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Attestation: HTTP %ld: %s", reply.status,
                             we.message[0] ? we.message : "unexpected status");
                return;
        }
        m->token = strdup(a.token);
        if (!m->token) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        m->last_attestation = now_realtime();
        (void) free_and_strdup(&m->last_verdict, "accepted");
        (void) free_and_strdup(&m->last_verdict_reason, NULL);
        log_info("Attestation accepted by %s; session valid for %" PRIu64 "s.", m->config.server_url, a.expires_in);
        relays_step_network(m);
}

static void attest_step_attest(Manager *m) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *body = NULL;
        sd_json_variant *fw = sd_json_variant_by_key(m->event_logs, "firmwareLog"),
                        *ul = sd_json_variant_by_key(m->event_logs, "userspaceLog");
        char *text = NULL;
        int r;

        r = sd_json_buildo(&body, FIELD_OF("challenge", m->enroll), SD_JSON_BUILD_PAIR_VARIANT("secret", m->secret),
                           FIELD_OF("quoted", m->quote), FIELD_OF("signature", m->quote), FIELD_OF("pcrValues", m->quote),
                           SD_JSON_BUILD_PAIR_CONDITION(sd_json_variant_is_string(fw), "firmwareLog",
                                                        SD_JSON_BUILD_VARIANT(fw)),
                           SD_JSON_BUILD_PAIR_CONDITION(sd_json_variant_is_string(ul), "userspaceLog",
                                                        SD_JSON_BUILD_VARIANT(ul)));
        if (r >= 0) {
                sd_json_variant_sensitive(body);
                r = sd_json_variant_format(body, 0, &text);
        }
        if (r >= 0) {
                r = http_request_start(m->http, "/v1/attest", text, NULL, on_attest, m, &m->request);
                erase_and_free_sized(text, strlen(text));
        }
        /* The secret has been used: the request holds its own copy (wiped with it). */
        m->secret = sd_json_variant_unref(m->secret);
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the attestation request: %s", strerror(-r));
}
