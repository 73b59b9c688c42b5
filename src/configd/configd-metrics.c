/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instead of a session check (RelayMetrics=yes), once the interval the server asked for (its
 * RelayMetricsInterval=, reportIn in the answer to the last report) has passed: each configured relay's tor
 * MetricsPort, which the server puts in every relay's torrc on 127.0.0.1 with a policy that admits loopback
 * alone (server-render.c), read one relay after the other, summed up (src/shared/tor/tor-metrics.c) and sent
 * to the server with the session token (POST /v1/node/relay-metrics), so that one scrape of the server
 * covers the whole fleet and no node opens a port for it. The report is that check: its answer carries the
 * check's (reattest, checkIn), and a 401/403 that refuses the node ends the session as a check's would;
 * whatever else goes wrong (no tor answered, the server did not take the report, a server too old to answer
 * the check) is followed by a plain check at once, so the session is checked every interval whatever becomes
 * of the report. A relay whose tor does not answer (starting, stopped, failed) is left out of that report;
 * nothing here touches the relays. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "log.h"
#include "string-util.h"
#include "torrc.h"

/* Each MetricsPort answers from memory in a millisecond; a tor that hangs must not hold the next check. */
#define METRICS_FETCH_TIMEOUT_USEC (2ULL * 1000000ULL)

static ProtoRelayMetricsRequest *report_free(ProtoRelayMetricsRequest *r) {
        free(r);
        return NULL;
}

/* The relay's MetricsPort as its torrc has it, if it is on 127.0.0.1: configd reads nothing else. 0: none. */
static unsigned relay_metrics_port(const Relay *r) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        unsigned long long port;
        const char *p;

        if (!r->server_torrc || torrc_parse(r->server_torrc, strlen(r->server_torrc), &t, NULL) < 0)
                return 0;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TorrcEntry *e = &t->entries[i];

                if (e->op == TORRC_OP_UNSET || !e->value || !streq(e->option->name, "MetricsPort"))
                        continue;
                p = startswith(e->value, "127.0.0.1:");
                if (p && p[strcspn(p, " ")] == '\0' && safe_atou64(p, 65535, &port) >= 0 && port > 0)
                        return (unsigned) port;
        }
        return 0;
}

void relay_metrics_stop(Manager *m) {
        m->metrics_request = http_request_free(m->metrics_request);
        m->metrics_report = report_free(m->metrics_report);
}

static uint64_t now_monotonic(Manager *m) {
        uint64_t t = 0;

        (void) sd_event_now(m->event, CLOCK_MONOTONIC, &t);
        return t;
}

static void on_post(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->metrics_request);
        _cleanup_(proto_error_reply_done) ProtoErrorReply error = {};
        ProtoRelayMetricsReply reply = {};
        ProtoDiag diag = {};
        char why[PROTO_MESSAGE_MAX + 128];

        m->metrics_report = report_free(m->metrics_report);
        if (response->error < 0) {
                /* The check retries on a fresh connection itself; the report waits for the next check. */
                log_debug("Reporting the relays' metrics failed: %s; checking now, the report later.",
                          response->message);
                check_now(m);
                return;
        }
        /* The server was reached: the next report once reportIn has passed (0, a server before it: at the next
         * check), whether it took this one or not. */
        m->metrics_reported = now_monotonic(m);
        if (response->status == 200 &&
            proto_relay_metrics_reply_decode(response->body, response->size, &reply, &diag) >= 0) {
                m->metrics_report_in = reply.report_in * 1000000ULL;
                log_debug("Reported the relays' metrics; the next report in %" PRIu64 " s.", reply.report_in);
                if (reply.has_check)
                        check_answered(m, &reply.check);
                else
                        check_now(m); /* a server that does not answer the check with it */
                return;
        }
        if (response->status >= 400 && proto_error_reply_decode(response->body, response->size, &error, &diag) >= 0) {
                if (proto_reply_refuses_node(response->status, error.code)) {
                        m->last_check = now_realtime();
                        snprintf(why, sizeof(why), "Check: the server ended the session (%s: %s)", error.code,
                                 error.message);
                        check_refused(m, why);
                        return;
                }
                log_warning("The server did not take the relays' metrics: HTTP %ld %s: %s.", response->status,
                            error.code, error.message);
        } else
                log_warning("The server did not take the relays' metrics: HTTP %ld%s%s.", response->status,
                            diag.message[0] ? ": " : "", diag.message);
        check_now(m);
}

static void post(Manager *m) {
        _cleanup_free_ char *body = NULL;
        int r;

        if (m->metrics_report->n_relays == 0 || !m->session_token) {
                m->metrics_report = report_free(m->metrics_report);
                check_now(m); /* no tor answered: the check alone */
                return;
        }
        r = proto_relay_metrics_request_encode(m->metrics_report, &body);
        if (r >= 0)
                r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_RELAY_METRICS), body, m->session_token,
                                       on_post, m, &m->metrics_request);
        if (r < 0) {
                log_warning_errno(r, "Cannot report the relays' metrics: %m");
                m->metrics_report = report_free(m->metrics_report);
                check_now(m);
        }
}

static void fetch_next(Manager *m);

/* Adds relay i's answer to the report, if it is one. */
static void take(Manager *m, size_t i, const HttpResponse *response) {
        ProtoRelayMetrics *out;
        int r;

        if (i >= m->n_relays) /* the relays changed meanwhile */
                return;
        if (response->error < 0 || response->status != 200) {
                log_debug("Relay %s: no answer from its MetricsPort (%s); left out of this report.", m->relays[i].name,
                          response->error < 0 ? response->message : "HTTP error");
                return;
        }
        out = &m->metrics_report->relays[m->metrics_report->n_relays];
        r = tor_metrics_parse(response->body, response->size, &out->m);
        if (r < 0) {
                log_warning_errno(r, "Relay %s: its MetricsPort's answer is not tor's: %m", m->relays[i].name);
                return;
        }
        snprintf(out->name, sizeof(out->name), "%s", m->relays[i].name);
        m->metrics_report->n_relays++;
}

static void on_fetch(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->metrics_request);

        take(m, m->metrics_next++, response);
        fetch_next(m);
}

static void fetch_next(Manager *m) {
        char path[32];
        int r;

        for (; m->metrics_next < m->n_relays && m->metrics_next < PROTO_RELAYS_MAX; m->metrics_next++) {
                Relay *relay = &m->relays[m->metrics_next];
                unsigned port = relay_metrics_port(relay);

                if (relay->state != RELAY_APPLIED || port == 0 || !tor_nickname_ok(relay->name))
                        continue;
                snprintf(path, sizeof(path), ":%u/metrics", port);
                r = http_request_start_full(m->loopback, path, NULL, NULL,
                                            &(HttpRequestOptions) { .timeout_usec = METRICS_FETCH_TIMEOUT_USEC },
                                            on_fetch, m, &m->metrics_request);
                if (r >= 0)
                        return;
                log_debug_errno(r, "Relay %s: cannot read its MetricsPort: %m", relay->name);
        }
        post(m);
}

bool relay_metrics_due(Manager *m) {
        if (!m->loopback || m->metrics_request || m->metrics_report || !m->session_token || m->n_relays == 0)
                return false; /* off, or the last round still running */
        /* Not before reportIn has passed, less half a check: the check nearest to it reports, whatever the jitter. */
        return m->metrics_reported == 0 || m->metrics_report_in == 0 ||
               now_monotonic(m) + m->check_usec / 2 >= m->metrics_reported + m->metrics_report_in;
}

void relay_metrics_collect(Manager *m) {
        assert(relay_metrics_due(m));

        m->metrics_report = calloc(1, sizeof(*m->metrics_report));
        if (!m->metrics_report) {
                log_oom();
                check_now(m);
                return;
        }
        m->metrics_next = 0;
        fetch_next(m);
}
