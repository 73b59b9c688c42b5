/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The first half of a cycle: the node's identity from patela-attestd, POST /v1/enroll, ActivateCredential
 * and Quote through attestd, POST /v1/attest. Ends with a session token in memory, or with the cycle
 * finished. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "configd-log.h"
#include "configd-manager.h"
#include "log.h"

#define ATTESTD_TIMEOUT_USEC (120ULL * 1000000ULL) /* an RSA EK from a slow TPM takes seconds */
/* The server bounds request bodies (MaxBodySize=, 1 MiB by default); logs that would not fit are left out
 * rather than have the attestation refused. */
#define EVENT_LOGS_SEND_MAX (768U * 1024U)

void server_reply_done(ServerReply *r) {
        proto_error_reply_done(&r->error);
}

int server_reply_judge(Manager *m, const HttpResponse *response, const char *what, ServerReply *ret) {
        ProtoDiag diag = {};
        int r;

        *ret = (ServerReply) { .status = response->status };
        log_debug("%s: HTTP %ld in %.1f ms (TLS handshake %.1f ms).", what, response->status,
                  (double) response->total_usec / 1e3, (double) response->connect_usec / 1e3);
        if (response->error < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "%s: %s", what, response->message);
                return -1;
        }
        if (response->status >= 200 && response->status < 300)
                return 0;
        r = proto_error_reply_decode(response->body, response->size, &ret->error, &diag);
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "%s: out of memory", what);
                return -1;
        }
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "%s: HTTP %ld: %s", what, response->status, diag.message);
                return -1;
        }
        /* Only what the server says about this node is a refusal; a 404 or a 5xx must not stop relays. */
        if (proto_reply_refuses_node(response->status, ret->error.code))
                return 1;
        cycle_finish(m, OUTCOME_UNREACHABLE, ret->error.code, "%s: HTTP %ld %s: %s", what, response->status,
                     ret->error.code, ret->error.message);
        return -1;
}

/* Base64 from patela-attestd (a varlink string) as the bytes the protocol carries. */
static int blob_from_base64(sd_json_variant *v, size_t max, ProtoBlob *ret) {
        void *data = NULL;
        size_t n = 0;
        int r;

        if (!sd_json_variant_is_string(v))
                return -EBADMSG;
        r = unbase64mem(sd_json_variant_string(v), max, &data, &n);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        *ret = (ProtoBlob) { .data = data, .size = n };
        return 0;
}

static void attest_step_activate(Manager *m);
static void attest_step_proof(Manager *m);
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
        ProtoEnrollReply e = {};
        ProtoDiag diag = {};
        int r;

        r = server_reply_judge(m, response, "Enrolment", &reply);
        if (r < 0)
                return;
        if (r > 0) {
                if (reply.error.known == PROTO_ERROR_NODE_DISABLED)
                        (void) free_and_strdup(&m->node_state, "disabled");
                cycle_finish(m, OUTCOME_REFUSED, reply.error.code, "%s", reply.error.message);
                return;
        }
        if (reply.status != 200 && reply.status != 202) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Enrolment: unexpected HTTP status %ld", reply.status);
                return;
        }
        r = proto_enroll_reply_decode(response->body, response->size, reply.status, &e, &diag);
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Enrolment: out of memory");
                return;
        }
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Enrolment: HTTP %ld: %s", reply.status, diag.message);
                return;
        }
        /* The server computes the fingerprint from the EK and AK it received; attestd from the TPM's. */
        if (!streq(e.fingerprint, m->fingerprint ?: ""))
                log_warning("The server shows fingerprint %s, patela-attestd says %s: the keys were altered on the way?",
                            e.fingerprint, m->fingerprint ?: "?");
        if (e.state == PROTO_ENROLL_PENDING) {
                (void) free_and_strdup(&m->node_state, "pending");
                cycle_finish(m, OUTCOME_PENDING, NULL, "pending, fingerprint %s", m->fingerprint ?: e.fingerprint);
                proto_enroll_reply_done(&e);
                return;
        }
        /* A new identity proves that this TPM holds its EK and AK before the server lists it as pending; an
         * enabled node attests. Both start by activating the credential, unless the server made the challenge
         * quote-only (this TPM proved its EK and AK to it before): then the quote alone answers it. */
        if (e.state == PROTO_ENROLL_ENABLED)
                (void) free_and_strdup(&m->node_state, "enabled");
        proto_enroll_reply_done(&m->enroll);
        m->enroll = e;
        m->secret = sd_json_variant_unref(m->secret);
        if (e.state == PROTO_ENROLL_ENABLED && e.credential_blob.size == 0) {
                log_debug("The server's challenge is quote-only: no credential to activate.");
                manager_set_phase(m, PHASE_ATTESTING);
                attest_step_quote(m);
                return;
        }
        attest_step_activate(m);
}

static void on_proof(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(server_reply_done) ServerReply reply = {};
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply e = {};
        ProtoDiag diag = {};
        int r;

        r = server_reply_judge(m, response, "Proof of the identity", &reply);
        if (r < 0)
                return;
        if (r > 0) {
                /* A proof challenge lost (expired, answered twice): a new enrolment next time; not a refusal. */
                if (reply.error.known == PROTO_ERROR_CHALLENGE_EXPIRED ||
                    reply.error.known == PROTO_ERROR_CHALLENGE_UNKNOWN) {
                        cycle_finish(m, OUTCOME_UNREACHABLE, reply.error.code, "Proof of the identity: %s",
                                     reply.error.message);
                        return;
                }
                cycle_finish(m, OUTCOME_REFUSED, reply.error.code, "%s", reply.error.message);
                return;
        }
        r = proto_enroll_reply_decode(response->body, response->size, reply.status, &e, &diag);
        if (r >= 0 && e.state != PROTO_ENROLL_PENDING) {
                snprintf(diag.message, sizeof(diag.message), "a state other than pending after the proof");
                r = -EBADMSG;
        }
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Proof of the identity: out of memory");
                return;
        }
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Proof of the identity: HTTP %ld: %s", reply.status,
                             diag.message);
                return;
        }
        log_info("This TPM proved that it holds the EK and AK of fingerprint %s; the node is pending.", e.fingerprint);
        (void) free_and_strdup(&m->node_state, "pending");
        cycle_finish(m, OUTCOME_PENDING, NULL, "pending, fingerprint %s", m->fingerprint ?: e.fingerprint);
}

/* The activated secret of a "prove" challenge goes to POST /v1/enroll/proof. */
static void attest_step_proof(Manager *m) {
        _cleanup_(proto_proof_request_done) ProtoProofRequest request = {};
        char *text = NULL;
        int r;

        memcpy(request.challenge, m->enroll.challenge, sizeof(request.challenge));
        r = blob_from_base64(m->secret, PROTO_SECRET_SIZE, &request.secret);
        m->secret = sd_json_variant_unref(m->secret);
        if (r >= 0)
                r = proto_proof_request_encode(&request, &text);
        if (r >= 0) {
                r = http_request_start(m->http, proto_endpoint_path(PROTO_ENROLL_PROOF), text, NULL, on_proof, m,
                                       &m->request);
                erase_and_free_sized(text, strlen(text));
        }
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the proof request: %s", strerror(-r));
}

void attest_step_enroll(Manager *m) {
        _cleanup_(proto_enroll_request_done) ProtoEnrollRequest request = {};
        _cleanup_free_ char *body = NULL;
        sd_json_variant *cert;
        int r;

        manager_set_phase(m, m->phase == PHASE_RUNNING ? PHASE_ATTESTING : PHASE_ENROLLING);
        /* attestd's identity, checked by the protocol's own bounds before it goes out */
        r = blob_from_base64(sd_json_variant_by_key(m->identity, "ekPublic"), PROTO_BLOB_MAX, &request.ek_public);
        if (r >= 0)
                r = blob_from_base64(sd_json_variant_by_key(m->identity, "akPublic"), PROTO_BLOB_MAX,
                                     &request.ak_public);
        cert = sd_json_variant_by_key(m->identity, "ekCertificate");
        if (r >= 0 && cert)
                r = blob_from_base64(cert, PROTO_EK_CERTIFICATE_MAX, &request.ek_certificate);
        if (r >= 0)
                r = proto_enroll_request_encode(&request, &body);
        if (r >= 0)
                r = http_request_start_full(m->http, proto_endpoint_path(PROTO_ENROLL), body, NULL,
                                            &(HttpRequestOptions) { .prefer = PROTO_PREFER_QUOTE_ONLY }, on_enroll, m,
                                            &m->request);
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
        if (m->enroll.state == PROTO_ENROLL_PROVE)
                attest_step_proof(m);
        else
                attest_step_quote(m);
        return 0;
}

static int json_base64(sd_json_variant **ret, const ProtoBlob *b) {
        _cleanup_free_ char *s = base64mem(b->data, b->size);
        return s ? sd_json_variant_new_string(ret, s) : -ENOMEM;
}

static void attest_step_activate(Manager *m) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *p = NULL, *blob = NULL, *secret = NULL;
        int r;

        manager_set_phase(m, m->enroll.state == PROTO_ENROLL_PROVE ? PHASE_ENROLLING : PHASE_ATTESTING);
        r = json_base64(&blob, &m->enroll.credential_blob);
        if (r >= 0)
                r = json_base64(&secret, &m->enroll.encrypted_secret);
        if (r >= 0)
                r = sd_json_buildo(&p, SD_JSON_BUILD_PAIR_VARIANT("credentialBlob", blob),
                                   SD_JSON_BUILD_PAIR_VARIANT("encryptedSecret", secret));
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
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *p = NULL, *pcrs = NULL;
        _cleanup_free_ char *nonce = base64mem(m->enroll.nonce, m->enroll.nonce_size);
        int r = nonce ? 0 : -ENOMEM;

        for (unsigned i = 0; r >= 0 && i < PROTO_PCRS_MAX; i++)
                if (m->enroll.pcr_mask & (1U << i))
                        r = sd_json_variant_append_arrayb(&pcrs, SD_JSON_BUILD_UNSIGNED(i));
        if (r >= 0)
                r = sd_json_buildo(&p, SD_JSON_BUILD_PAIR_STRING("nonce", nonce), SD_JSON_BUILD_PAIR_VARIANT("pcrs", pcrs),
                                   SD_JSON_BUILD_PAIR_STRING("bank", m->enroll.bank));
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
        _cleanup_(proto_attest_reply_done) ProtoAttestReply a = {};
        ProtoDiag diag = {};
        int r;

        /* Logs named by their digests that this server does not hold (it restarted, or another one answers): the
         * same answer again, with the logs. Once per cycle; otherwise the 409 ends it as any other. */
        if (response->error >= 0 && response->status == 409 && m->logs_named && !m->logs_required &&
            proto_error_reply_decode(response->body, response->size, &reply.error, &(ProtoDiag) {}) >= 0 &&
            reply.error.known == PROTO_ERROR_EVENT_LOGS_REQUIRED) {
                log_info("Attestation: HTTP 409 EventLogsRequired: %s; sending the event logs.", reply.error.message);
                m->logs_required = true;
                attest_step_attest(m);
                return;
        }
        server_reply_done(&reply);
        r = server_reply_judge(m, response, "Attestation", &reply);
        if (r < 0)
                return;
        if (r > 0) {
                /* A challenge lost (answered late, or taken by someone else: the node's public areas are not
                 * secret): a new one. It is not a refusal of this node, so it never stops the relays: after
                 * two more tries the cycle ends as if the server were unreachable, and the relays keep running
                 * with the last good configuration until the next try. */
                if (reply.error.known == PROTO_ERROR_CHALLENGE_EXPIRED ||
                    reply.error.known == PROTO_ERROR_CHALLENGE_UNKNOWN) {
                        if (m->reenrolls >= 2) {
                                cycle_finish(m, OUTCOME_UNREACHABLE, reply.error.code,
                                             "Attestation: %s (three challenges lost in a row)", reply.error.message);
                                return;
                        }
                        m->reenrolls++;
                        log_notice("Attestation: %s; enrolling again.", reply.error.message);
                        proto_enroll_reply_done(&m->enroll);
                        m->quote = sd_json_variant_unref(m->quote);
                        attest_step_enroll(m);
                        return;
                }
                m->last_attestation = now_realtime();
                (void) free_and_strdup(&m->last_verdict, "rejected");
                (void) free_and_strdup(&m->last_verdict_reason, reply.error.message);
                /* Refused for what it booted: the code is the measured-boot verdict. Otherwise the server
                 * did not get as far as judging the boot. */
                bool judged = proto_verdict_from_string(reply.error.code) >= 0;
                (void) free_and_strdup(&m->boot_verdict, judged ? reply.error.code : NULL);
                (void) free_and_strdup(&m->boot_verdict_reason, judged ? reply.error.message : NULL);
                if (reply.error.known == PROTO_ERROR_NODE_DISABLED)
                        (void) free_and_strdup(&m->node_state, "disabled");
                cycle_finish(m, OUTCOME_REFUSED, reply.error.code, "%s", reply.error.message);
                return;
        }
        r = reply.status == 200 ? proto_attest_reply_decode(response->body, response->size, &a, &diag) : -EBADMSG;
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Attestation: HTTP %ld: %s", reply.status,
                             diag.message[0] ? diag.message : "unexpected status");
                return;
        }
        /* The bearer header's form of the token, in memory only. */
        m->token = base64mem(a.token, sizeof(a.token));
        if (!m->token) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        m->last_attestation = now_realtime();
        m->check_in = a.check_in * 1000000ULL;
        /* Logs the server judged to explain the quote are the ones it can be named next time. */
        m->logs_accepted = m->logs_sent_has[0] && a.verdict != PROTO_VERDICT_LOG_MISMATCH;
        memcpy(m->logs_accepted_has, m->logs_sent_has, sizeof(m->logs_accepted_has));
        memcpy(m->logs_accepted_sha256, m->logs_sent_sha256, sizeof(m->logs_accepted_sha256));
        if (m->logs_named)
                log_debug("The event logs were named by their SHA-256; the server held them.");
        (void) free_and_strdup(&m->last_verdict, "accepted");
        (void) free_and_strdup(&m->last_verdict_reason, NULL);
        (void) free_and_strdup(&m->boot_verdict, proto_verdict_to_string(a.verdict));
        (void) free_and_strdup(&m->boot_verdict_reason, a.reason[0] ? a.reason : NULL);
        if (a.verdict == PROTO_VERDICT_TRUSTED)
                log_info("Attestation accepted by %s: %s; session valid for %" PRIu64 "s, checked every %" PRIu64 "s.",
                         m->config.server_url, a.reason[0] ? a.reason : "Trusted", a.expires_in, a.check_in);
        else
                log_warning("Attestation accepted by %s although its verdict is %s (%s): the server does not "
                            "enforce measured boot. Session valid for %" PRIu64 "s, checked every %" PRIu64 "s.",
                            m->config.server_url, proto_verdict_to_string(a.verdict), a.reason, a.expires_in,
                            a.check_in);
        relays_step_network(m);
}

/* attestd's Quote reply {quoted, signature: base64, pcrValues: [{index, value: hex}]} as the protocol's. */
static int quote_to_request(sd_json_variant *quote, ProtoAttestRequest *r) {
        sd_json_variant *values = sd_json_variant_by_key(quote, "pcrValues");
        int k;

        k = blob_from_base64(sd_json_variant_by_key(quote, "quoted"), PROTO_BLOB_MAX, &r->quoted);
        if (k >= 0)
                k = blob_from_base64(sd_json_variant_by_key(quote, "signature"), PROTO_BLOB_MAX, &r->signature);
        if (k < 0)
                return k;
        if (!sd_json_variant_is_array(values) || sd_json_variant_elements(values) > PROTO_PCRS_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < sd_json_variant_elements(values); i++) {
                sd_json_variant *e = sd_json_variant_by_index(values, i),
                                *index = sd_json_variant_by_key(e, "index"), *value = sd_json_variant_by_key(e, "value");
                _cleanup_free_ void *digest = NULL;
                size_t size = 0;

                if (!sd_json_variant_is_unsigned(index) || sd_json_variant_unsigned(index) >= PROTO_PCRS_MAX ||
                    !sd_json_variant_is_string(value) ||
                    unhexmem(sd_json_variant_string(value), PROTO_DIGEST_MAX, &digest, &size) < 0)
                        return -EBADMSG;
                r->pcr_values[i].index = (unsigned) sd_json_variant_unsigned(index);
                memcpy(r->pcr_values[i].value, digest, size);
                r->pcr_values[i].size = size;
        }
        r->n_pcr_values = sd_json_variant_elements(values);
        return 0;
}

/* The logs of this answer: sent, or named by their SHA-256 when the challenge is quote-only (a server of this
 * protocol) and they are the logs of the last attestation the server accepted, unless it asked for the logs. */
static int logs_to_request(Manager *m, ProtoAttestRequest *r) {
        const char *text[2] = {
                sd_json_variant_string(sd_json_variant_by_key(m->event_logs, "firmwareLog")),
                sd_json_variant_string(sd_json_variant_by_key(m->event_logs, "userspaceLog")),
        };
        bool same = m->logs_accepted;
        int k;

        for (unsigned i = 0; i < 2; i++) {
                m->logs_sent_has[i] = text[i] != NULL;
                if (text[i]) {
                        k = proto_log_digest(text[i], m->logs_sent_sha256[i]);
                        if (k < 0)
                                return k;
                }
                same = same && m->logs_accepted_has[i] == m->logs_sent_has[i] &&
                       (!text[i] ||
                        memcmp(m->logs_accepted_sha256[i], m->logs_sent_sha256[i], PROTO_LOG_DIGEST_SIZE) == 0);
        }
        m->logs_named = same && text[0] && m->enroll.credential_blob.size == 0 && !m->logs_required;
        if (m->logs_named) {
                r->firmware_log_named = true;
                memcpy(r->firmware_log_sha256, m->logs_sent_sha256[0], PROTO_LOG_DIGEST_SIZE);
                r->userspace_log_named = text[1] != NULL;
                memcpy(r->userspace_log_sha256, m->logs_sent_sha256[1], PROTO_LOG_DIGEST_SIZE);
                return 0;
        }
        k = text[0] ? ((r->firmware_log = strdup(text[0])) ? 0 : -ENOMEM) : 0;
        if (k >= 0 && text[1])
                k = (r->userspace_log = strdup(text[1])) ? 0 : -ENOMEM;
        return k;
}

static void attest_step_attest(Manager *m) {
        _cleanup_(proto_attest_request_done) ProtoAttestRequest request = {};
        char *text = NULL;
        int r;

        /* What this node booted, as its own TPM and firmware log say: for VerifyLog, whatever the server judges. */
        log_verify_take_measurement(m, m->quote, m->event_logs);
        memcpy(request.challenge, m->enroll.challenge, sizeof(request.challenge));
        /* No secret: the challenge was quote-only. */
        r = m->secret ? blob_from_base64(m->secret, PROTO_SECRET_SIZE, &request.secret) : 0;
        if (r >= 0)
                r = quote_to_request(m->quote, &request);
        if (r >= 0)
                r = logs_to_request(m, &request);
        if (r >= 0)
                r = proto_attest_request_encode(&request, &text);
        if (r >= 0) {
                r = http_request_start(m->http, proto_endpoint_path(PROTO_ATTEST), text, NULL, on_attest, m,
                                       &m->request);
                erase_and_free_sized(text, strlen(text));
        }
        /* The secret has been used: the request holds its own copy (wiped with it). */
        m->secret = sd_json_variant_unref(m->secret);
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the attestation request: %s", strerror(-r));
}
