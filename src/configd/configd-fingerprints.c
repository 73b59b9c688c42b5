/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The last step of a cycle that configured relays: POST /v1/node/fingerprints with the RSA fingerprint and
 * the ed25519 identity patela-keyd returned for each relay whose keys are in place, so that the server can
 * publish the fleet's ContactInfo proof (patela-server contactinfo). Only when they differ from what the
 * server last accepted from this configd, or that was a day ago: the keys change rarely, and a cycle that
 * changes nothing sends nothing. The day bounds what configd cannot see: a relay the server deleted and
 * gave back under the same name between two cycles (a relay count lowered and raised again) lost its
 * identity there. A failed report does not fail the cycle (the relays run whatever the server knows of
 * them); it is sent again at the next cycle. */
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "log.h"

#define REPORT_MAX_AGE_USEC (24ULL * 3600ULL * 1000000ULL)

/* The report of the relays whose keys are in place, in the server's order; NULL body if there is none. */
static int report_build(Manager *m, char **ret, size_t *ret_n) {
        ProtoFingerprintsRequest r = {};

        for (size_t i = 0; i < m->n_relays && r.n_relays < PROTO_RELAYS_MAX; i++) {
                const Relay *relay = &m->relays[i];
                ProtoRelayFingerprint *f = &r.relays[r.n_relays];

                if (!relay->key_directory || !relay->rsa_fingerprint)
                        continue;
                /* keyd's values, checked: one the protocol refuses would spoil the others' report. */
                if (!tor_nickname_ok(relay->name) || !proto_rsa_fingerprint_ok(relay->rsa_fingerprint) ||
                    (relay->ed25519_identity && !proto_ed25519_identity_ok(relay->ed25519_identity))) {
                        log_warning("Relay %s: patela-keyd's identity is malformed; not reported.",
                                    relay->name);
                        continue;
                }
                snprintf(f->name, sizeof(f->name), "%s", relay->name);
                snprintf(f->rsa, sizeof(f->rsa), "%s", relay->rsa_fingerprint);
                snprintf(f->ed25519, sizeof(f->ed25519), "%s", relay->ed25519_identity ?: "");
                r.n_relays++;
        }
        *ret_n = r.n_relays;
        if (r.n_relays == 0) {
                *ret = NULL;
                return 0;
        }
        return proto_fingerprints_request_encode(&r, ret);
}

static void on_report(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(proto_error_reply_done) ProtoErrorReply error = {};
        _cleanup_free_ char *body = NULL;
        ProtoDiag diag = {};
        size_t n;

        if (response->error < 0)
                log_warning("Reporting the relays' fingerprints failed: %s; again at the next cycle.",
                            response->message);
        else if (response->status == 200) {
                /* The relays did not change during the request: the same report, kept to compare the
                 * next one with. */
                if (report_build(m, &body, &n) >= 0 && body) {
                        log_info("Reported the fingerprints of %zu relays to the server.", n);
                        free(m->fingerprints_reported);
                        m->fingerprints_reported = TAKE_PTR(body);
                        m->fingerprints_reported_at = now_realtime();
                }
        } else if (response->status >= 400 &&
                   proto_error_reply_decode(response->body, response->size, &error, &diag) >= 0)
                log_warning("The server did not take the relays' fingerprints: HTTP %ld %s: %s; again at the "
                            "next cycle.", response->status, error.code, error.message);
        else
                log_warning("The server did not take the relays' fingerprints: HTTP %ld; again at the next "
                            "cycle.", response->status);
        state_step_save(m);
}

void fingerprints_step_report(Manager *m) {
        _cleanup_free_ char *body = NULL;
        size_t n = 0;
        int r;

        r = report_build(m, &body, &n);
        if (r < 0) {
                log_warning_errno(r, "Cannot build the fingerprints report: %m");
                state_step_save(m);
                return;
        }
        if (!body || (m->fingerprints_reported && streq(body, m->fingerprints_reported) &&
                      now_realtime() < m->fingerprints_reported_at + REPORT_MAX_AGE_USEC)) {
                log_debug("The relays' fingerprints are as reported; nothing to send.");
                state_step_save(m);
                return;
        }
        r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_FINGERPRINTS), body, m->token, on_report,
                               m, &m->request);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the fingerprints report: %m");
                state_step_save(m);
                return;
        }
        log_debug("Reporting the fingerprints of %zu relays.", n);
}
