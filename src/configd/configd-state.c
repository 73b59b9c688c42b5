/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tor's state across reboots (issue 12, item 5; patela-configd(8), TOR STATE). Each relay's tor state file — its
 * bandwidth history — is sealed by patela-keyd under a key only this node's measured boot unseals; configd only
 * ever holds the ciphertext, and the server keeps it for a node it judges Trusted:
 *   - fetch: at the first cycle that reaches the keys step, GET /v1/node/state; keyd opens each blob in
 *     EnsureRelays and puts it where patela-tor@.service copies it into the DataDirectory before tor starts;
 *   - save: every StateSaveInterval= after the fingerprints step, keyd's SealStates (it reads the running
 *     instances' files) and POST /v1/node/state/save;
 *   - stop: on SIGTERM, keyd's SealStates (the copies it sealed when each instance stopped: the instances stop
 *     before configd) and the POST with the last good cycle's session, then exit.
 * A failure is logged and never fails the cycle or the relays: they run without their history. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "hexdecoct.h"
#include "log.h"

#define SEAL_TIMEOUT_USEC (60ULL * 1000000ULL)
#define STATE_EXIT_TIMEOUT_USEC (20ULL * 1000000ULL)

void state_done(Manager *m) {
        m->state_request = http_request_free(m->state_request);
        m->state_link = sd_varlink_flush_close_unref(m->state_link);
        m->exit_timer = sd_event_source_disable_unref(m->exit_timer);
        proto_relay_states_done(&m->states);
}

const ProtoRelayState *state_find(const Manager *m, const char *name) {
        for (size_t i = 0; i < m->states.n_relays; i++)
                if (streq(m->states.relays[i].name, name))
                        return &m->states.relays[i];
        return NULL;
}

/* ---- fetch ---------------------------------------------------------------------------------------------- */

static void on_fetched(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(proto_error_reply_done) ProtoErrorReply error = {};
        ProtoDiag diag = {};

        (void) request;
        proto_relay_states_done(&m->states);
        if (response->error < 0)
                log_warning("Fetching the relays' tor state failed: %s; the relays start without it.",
                            response->message);
        else if (response->status == 200 && proto_relay_states_decode(response->body, response->size,
                                                                      /* min_relays= */ 0, &m->states, &diag) >= 0) {
                m->states_fetched = true;
                log_info("Fetched the sealed tor state of %zu relays (%.1f ms).", m->states.n_relays,
                         (double) response->total_usec / 1000.0);
        } else if (response->status >= 400 &&
                   proto_error_reply_decode(response->body, response->size, &error, &diag) >= 0) {
                /* NotTrusted: the server holds it back from a boot it does not trust. Not asked again this boot. */
                m->states_fetched = true;
                log_warning("The server did not release the relays' tor state: HTTP %ld %s: %s; the relays start "
                            "without it.", response->status, error.code, error.message);
        } else
                log_warning("The server's tor state reply is unusable (HTTP %ld%s%s); the relays start without it.",
                            response->status, diag.message[0] ? ": " : "", diag.message);
        relays_step_keys(m);
}

void state_step_fetch(Manager *m) {
        bool wanted = false;
        int r;

        /* Once per boot, for relays whose keys (and so whose instance) are not in place yet. */
        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == RELAY_CONFIGURING && !m->relays[i].key_directory)
                        wanted = true;
        if (m->states_fetched || !wanted) {
                relays_step_keys(m);
                return;
        }
        r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_STATE), NULL, m->token, on_fetched, m,
                               &m->request);
        if (r < 0) {
                log_warning_errno(r, "Cannot start the tor state request: %m");
                relays_step_keys(m);
        }
}

/* ---- save ----------------------------------------------------------------------------------------------- */

/* keyd's SealStates reply as a save request's body; NULL if no relay has a state. */
static int states_body(sd_json_variant *parameters, char **ret, size_t *ret_n) {
        sd_json_variant *list = sd_json_variant_by_key(parameters, "states");
        _cleanup_(proto_relay_states_done) ProtoRelayStates s = {};
        int r;

        if (!list || !sd_json_variant_is_array(list))
                return -EBADMSG;
        for (size_t i = 0; i < sd_json_variant_elements(list); i++) {
                sd_json_variant *e = sd_json_variant_by_index(list, i);
                sd_json_variant *name = sd_json_variant_by_key(e, "name"), *state = sd_json_variant_by_key(e, "state");
                _cleanup_free_ void *blob = NULL;
                size_t size = 0;

                if (!name || !state || !sd_json_variant_is_string(name) || !sd_json_variant_is_string(state))
                        return -EBADMSG;
                r = varlink_param_base64(sd_json_variant_string(state), PROTO_SEALED_STATE_MAX, &blob, &size);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        r = proto_relay_states_add(&s, sd_json_variant_string(name), blob, size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return -EBADMSG;
        }
        *ret_n = s.n_relays;
        if (s.n_relays == 0) {
                *ret = NULL;
                return 0;
        }
        return proto_relay_states_encode(&s, ret);
}

static void save_done(Manager *m) {
        if (m->exiting) {
                (void) sd_event_exit(m->event, 0);
                return;
        }
        relays_finish(m);
}

static void on_saved(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->state_request);
        _cleanup_(proto_error_reply_done) ProtoErrorReply error = {};
        ProtoDiag diag = {};

        (void) request;
        if (response->error < 0)
                log_warning("Saving the relays' tor state failed: %s.", response->message);
        else if (response->status == 200) {
                m->state_saved_at = now_realtime();
                log_info("Saved the relays' sealed tor state at the server (%.1f ms).",
                         (double) response->total_usec / 1000.0);
        } else if (response->status >= 400 &&
                   proto_error_reply_decode(response->body, response->size, &error, &diag) >= 0)
                log_warning("The server did not take the relays' tor state: HTTP %ld %s: %s.", response->status,
                            error.code, error.message);
        else
                log_warning("The server did not take the relays' tor state: HTTP %ld.", response->status);
        save_done(m);
}

static int on_sealed(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                     sd_varlink_reply_flags_t flags, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *body = NULL;
        const char *token = m->token; /* the cycle's, or on the way out the last good cycle's (state_on_signal()) */
        size_t n = 0;
        char buf[512];
        int r;

        (void) link;
        (void) flags;
        if (error_id) {
                varlink_error_format(error_id, parameters, buf, sizeof(buf));
                log_warning("patela-keyd did not seal the relays' tor state: %s.", buf);
                r = -EBADMSG;
        } else {
                r = states_body(parameters, &body, &n);
                if (r < 0)
                        log_warning_errno(r, "patela-keyd's sealed tor states are unusable: %m");
                else if (!body)
                        log_debug("No relay has a tor state to save yet.");
                else if (!token)
                        log_warning("No session to save the tor state of %zu relays with.", n);
                else {
                        m->state_request = http_request_free(m->state_request);
                        r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_STATE_SAVE), body, token,
                                               on_saved, m, &m->state_request);
                        if (r >= 0) {
                                log_debug("Saving the sealed tor state of %zu relays.", n);
                                m->state_link = sd_varlink_flush_close_unref(m->state_link);
                                return 0;
                        }
                        log_warning_errno(r, "Cannot start the tor state save: %m");
                }
        }
        m->state_link = sd_varlink_flush_close_unref(m->state_link);
        save_done(m);
        return 0;
}

/* SealStates for the relays whose keys are in place. 0 if the call went out (on_sealed() follows), 1 if there is
 * nothing to seal, negative if keyd cannot be called. */
static int seal_call(Manager *m) {
        _cleanup_(sd_varlink_flush_close_unrefp) sd_varlink *link = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *names = NULL;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < m->n_relays && n < PROTO_RELAYS_MAX && r >= 0; i++)
                if (m->relays[i].key_directory) {
                        r = sd_json_variant_append_arrayb(&names, SD_JSON_BUILD_STRING(m->relays[i].name));
                        n++;
                }
        if (r < 0)
                return r;
        if (n == 0)
                return 1;
        r = sd_varlink_connect_address(&link, m->config.keys_socket);
        if (r >= 0) {
                sd_varlink_set_userdata(link, m);
                r = sd_varlink_set_relative_timeout(link, SEAL_TIMEOUT_USEC);
        }
        if (r >= 0)
                r = sd_varlink_bind_reply(link, on_sealed);
        if (r >= 0)
                r = sd_varlink_attach_event(link, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_varlink_invokebo(link, "io.patela.Keys.SealStates", SD_JSON_BUILD_PAIR_VARIANT("relays", names));
        if (r < 0)
                return r;
        m->state_link = sd_varlink_flush_close_unref(m->state_link);
        m->state_link = TAKE_PTR(link);
        return 0;
}

void state_step_save(Manager *m) {
        int r;

        /* Cycles come every ReattestInterval= ± 10 %: one due within a tenth of the interval saves, or with both at
         * their default of 1 h an early cycle would put the save off by another hour. */
        if (m->config.state_save_usec == 0 ||
            now_realtime() + m->config.state_save_usec / 10 < m->state_saved_at + m->config.state_save_usec) {
                relays_finish(m);
                return;
        }
        /* Once per interval, whatever the outcome: a server that refuses is not asked at every cycle. */
        m->state_saved_at = now_realtime();
        r = seal_call(m);
        if (r < 0)
                log_warning_errno(r, "Cannot call patela-keyd at %s to seal the tor state: %m", m->config.keys_socket);
        if (r != 0)
                relays_finish(m);
}

/* ---- stop ----------------------------------------------------------------------------------------------- */

static int on_exit_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) s;
        (void) usec;
        log_warning("Saving the relays' tor state did not finish within %llu s; stopping without.",
                    (unsigned long long) (STATE_EXIT_TIMEOUT_USEC / 1000000ULL));
        return sd_event_exit(m->event, 0);
}

/* The save on the way out, once no cycle runs. */
void state_exit_save(Manager *m) {
        int r;

        assert(m->exiting && !m->busy);
        (void) sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_OFF);
        if (!m->session_token || m->state_link || m->state_request) {
                log_debug("Stopping without saving the tor state (%s).",
                          m->session_token ? "a save runs" : "no session");
                (void) sd_event_exit(m->event, 0);
                return;
        }
        /* The session of the checks is the save's now; no check runs any more (check_stop() wipes what it holds). */
        free(m->token);
        m->token = TAKE_PTR(m->session_token);
        check_stop(m);
        r = seal_call(m);
        if (r != 0) {
                if (r < 0)
                        log_warning_errno(r, "Cannot save the relays' tor state on the way out: %m");
                (void) sd_event_exit(m->event, 0);
                return;
        }
        log_info("Stopping: saving the relays' tor state at the server first.");
}

int state_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        (void) s;
        (void) si;
        if (m->exiting) /* a second signal: now */
                return sd_event_exit(m->event, 0);
        m->exiting = true;
        r = sd_event_add_time_relative(m->event, &m->exit_timer, CLOCK_MONOTONIC, STATE_EXIT_TIMEOUT_USEC, 0,
                                       on_exit_timeout, m);
        if (r < 0)
                return sd_event_exit(m->event, 0);
        /* A running cycle holds the connections to keyd and the server: it ends first (cycle_finish()). */
        if (m->busy)
                log_info("Stopping once the running cycle ends, to save the relays' tor state.");
        else
                state_exit_save(m);
        return 0;
}
