/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Between two attestations, the node asks the server every checkIn seconds (CheckInterval= on the server,
 * 30 s by default) whether its session still stands: GET /v1/node/check with the session token of the last
 * good cycle, kept in memory for this; when a relay report is due (configd-metrics.c), the report is the
 * check (its answer carries the check's, and 401/403 mean the same). No TPM operation on either end. A
 * refusal by the operator (node disable, image retire, a policy that now refuses the node's verdict) thus
 * reaches the relays within one interval and one attestation, not at the next ReattestInterval=. What the
 * answer does:
 *   200, reattest false   the next check in checkIn seconds
 *   200, reattest true    a cycle now: the server's verdict of a fresh attestation decides
 *   401/403 (the session is gone: disabled, expired, refused)   a cycle now, likewise
 *   anything else (transport, 5xx, 429, malformed)   the relays keep running; the next check as planned
 * The check never tears relays down itself: only a cycle that the server refuses does. It rides the connection
 * of the previous check (configd-http.c keeps connections for 60 s, the server for its IdleTimeout=), has a
 * timeout of its own, and a transport failure on a reused connection is retried at once on a fresh one. */
#include <string.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "log.h"

static void session_wipe(Manager *m) {
        if (m->session_token)
                m->session_token = erase_and_free_sized(m->session_token, strlen(m->session_token));
}

void check_stop(Manager *m) {
        m->check_request = http_request_free(m->check_request);
        relay_metrics_stop(m);
        (void) sd_event_source_set_enabled(m->check_timer, SD_EVENT_OFF);
        m->next_check = 0;
        session_wipe(m);
}

static void check_arm(Manager *m, uint64_t delay) {
        m->next_check = now_realtime() + delay;
        if (sd_event_source_set_time_relative(m->check_timer, delay) < 0 ||
            sd_event_source_set_enabled(m->check_timer, SD_EVENT_ONESHOT) < 0) {
                /* The next attestation still comes at ReattestInterval=. */
                log_warning("Failed to schedule the next check; checking again at the next attestation.");
                m->next_check = 0;
        }
}

void check_start(Manager *m, char **token, uint64_t interval_usec) {
        check_stop(m);
        if (!*token || interval_usec == 0)
                return;
        m->session_token = TAKE_PTR(*token);
        m->check_usec = interval_usec;
        check_arm(m, configd_jitter(interval_usec, 10));
}

/* A cycle now, with a fresh attestation: the session it replaces is not used again. */
static void check_reattest(Manager *m, const char *why) {
        log_notice("%s; attesting again now.", why);
        check_stop(m);
        cycle_schedule(m, 0);
}

void check_refused(Manager *m, const char *why) {
        check_reattest(m, why);
}

void check_answered(Manager *m, const ProtoCheckReply *reply) {
        m->last_check = now_realtime();
        if (reply->reattest) {
                check_reattest(m, "The server asks for a fresh attestation");
                return;
        }
        m->check_usec = reply->check_in * 1000000ULL;
        check_arm(m, configd_jitter(m->check_usec, 10));
}

#define CHECK_TIMEOUT_USEC (10ULL * 1000000ULL)

static int check_send(Manager *m, bool fresh);

static void on_check(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->check_request);
        _cleanup_(proto_error_reply_done) ProtoErrorReply error = {};
        ProtoCheckReply reply = {};
        ProtoDiag diag = {};
        char why[PROTO_MESSAGE_MAX + 128];

        if (response->error < 0 && !m->check_fresh && check_send(m, /* fresh= */ true) >= 0) {
                log_debug("Check: %s on a kept-alive connection; again on a fresh one.", response->message);
                return;
        }
        if (response->error < 0) {
                log_warning("Check: %s; the relays keep running, next check in %" PRIu64 "s.", response->message,
                            (uint64_t) (m->check_usec / 1000000ULL));
                check_arm(m, configd_jitter(m->check_usec, 10));
                return;
        }
        m->last_check = now_realtime();
        if (response->status == 200 && proto_check_reply_decode(response->body, response->size, &reply, &diag) >= 0) {
                check_answered(m, &reply);
                return;
        }
        if (response->status >= 400 && proto_error_reply_decode(response->body, response->size, &error, &diag) >= 0 &&
            proto_reply_refuses_node(response->status, error.code)) {
                snprintf(why, sizeof(why), "Check: the server ended the session (%s: %s)", error.code, error.message);
                check_reattest(m, why);
                return;
        }
        log_warning("Check: HTTP %ld%s%s; the relays keep running, next check in %" PRIu64 "s.", response->status,
                    diag.message[0] ? ": " : "", diag.message, (uint64_t) (m->check_usec / 1000000ULL));
        check_arm(m, configd_jitter(m->check_usec, 10));
}

static int check_send(Manager *m, bool fresh) {
        m->check_fresh = fresh;
        return http_request_start_full(m->http, proto_endpoint_path(PROTO_NODE_CHECK), NULL, m->session_token,
                                       &(HttpRequestOptions) { .timeout_usec = CHECK_TIMEOUT_USEC,
                                                               .fresh_connection = fresh },
                                       on_check, m, &m->check_request);
}

void check_now(Manager *m) {
        int r;

        if (!m->session_token)
                return;
        r = check_send(m, /* fresh= */ false);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the check: %m");
                check_arm(m, configd_jitter(m->check_usec, 10));
        }
}

static int on_check_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        m->next_check = 0;
        if (m->busy || !m->session_token)
                return 0; /* the running cycle makes a new session, and checks resume after it */
        /* A report due is this check: it carries one (configd-metrics.c). */
        if (relay_metrics_due(m))
                relay_metrics_collect(m);
        else
                check_now(m);
        return 0;
}

int check_setup(Manager *m) {
        int r;

        r = sd_event_add_time_relative(m->event, &m->check_timer, CLOCK_MONOTONIC, 0, 1000, on_check_timer,
                                       m);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(m->check_timer, "check");
        return sd_event_source_set_enabled(m->check_timer, SD_EVENT_OFF);
}
