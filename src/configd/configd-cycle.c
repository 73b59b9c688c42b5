/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One cycle is the whole boot flow: identity (once) → enrol → activate + quote → attest → fetch → keys →
 * files → units. It runs on the event loop, step by step, and ends in cycle_finish(), which decides the
 * phase, tears the relays down if the server refused the node, answers Refresh calls and schedules the
 * next cycle: the re-attestation interval (±10 %) after success, capped exponential backoff (±20 %)
 * otherwise. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "alloc-util.h"
#include "configd-manager.h"
#include "log.h"

static void format_delay(uint64_t usec, char *buf, size_t size) {
        if (usec >= 60 * 1000000ULL)
                snprintf(buf, size, "%llumin %llus", (unsigned long long) (usec / 60000000ULL),
                         (unsigned long long) (usec / 1000000ULL % 60));
        else
                snprintf(buf, size, "%.1fs", (double) usec / 1e6);
}

void cycle_update_status(Manager *m) {
        size_t applied = relays_count(m, RELAY_APPLIED), failed = relays_count(m, RELAY_FAILED);
        char status[600], when[32] = "";

        if (m->next_cycle > 0) {
                uint64_t now = now_realtime();
                format_delay(m->next_cycle > now ? m->next_cycle - now : 0, when, sizeof(when));
        }

        switch (m->phase) {
        case PHASE_STARTING:
                snprintf(status, sizeof(status), "starting, asking patela-attestd for the node's identity");
                break;
        case PHASE_ENROLLING:
                snprintf(status, sizeof(status), "enrolling at %s", m->config.server_url);
                break;
        case PHASE_PENDING:
                snprintf(status, sizeof(status), "pending, fingerprint %s: enable the node on the server%s%s%s",
                         m->fingerprint ?: "?", when[0] ? " (next try in " : "", when, when[0] ? ")" : "");
                break;
        case PHASE_ATTESTING:
                snprintf(status, sizeof(status), "attesting to %s", m->config.server_url);
                break;
        case PHASE_CONFIGURING:
                snprintf(status, sizeof(status), "configuring %zu relays", m->n_relays);
                break;
        case PHASE_RUNNING:
                if (failed > 0)
                        snprintf(status, sizeof(status), "running %zu relays, %zu failed: %s", applied, failed,
                                 m->last_error ?: "");
                else
                        snprintf(status, sizeof(status), "running %zu relays", applied);
                break;
        case PHASE_REFUSED:
                snprintf(status, sizeof(status), "refused by the server: %s", m->last_error ?: "?");
                break;
        case PHASE_UNREACHABLE:
                snprintf(status, sizeof(status), "server unreachable: %s%s%s%s", m->last_error ?: "?",
                         when[0] ? " (next try in " : "", when, when[0] ? ")" : "");
                break;
        default:
                return;
        }
        (void) sd_notifyf(/* unset_environment= */ false, "STATUS=%s", status);
}

void manager_set_phase(Manager *m, Phase p) {
        if (m->phase == p)
                return;
        log_debug("Phase %s → %s.", phase_to_string(m->phase), phase_to_string(p));
        m->phase = p;
        cycle_update_status(m);
}

size_t relays_count(const Manager *m, RelayState s) {
        size_t n = 0;

        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == s)
                        n++;
        return n;
}

void cycle_schedule(Manager *m, uint64_t delay) {
        m->next_cycle = now_realtime() + delay;
        if (sd_event_source_set_time_relative(m->cycle_timer, delay) < 0 ||
            sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_ONESHOT) < 0)
                log_error("Failed to schedule the next cycle; exiting."), (void) sd_event_exit(m->event, 1);
}

static uint64_t backoff(const Manager *m) {
        uint64_t d = m->config.retry_usec;

        for (unsigned i = 1; i < m->failures && d < m->config.retry_max_usec; i++)
                d *= 2;
        return configd_jitter(MIN(d, m->config.retry_max_usec), 20);
}

static void waiters_take(sd_varlink ***dst, size_t *n_dst, sd_varlink ***src, size_t *n_src) {
        sd_varlink **l;

        if (*n_src == 0)
                return;
        l = realloc(*dst, (*n_dst + *n_src) * sizeof(sd_varlink *));
        if (!l) {
                /* Keep them where they are: they are answered after the next cycle. */
                log_oom();
                return;
        }
        memcpy(l + *n_dst, *src, *n_src * sizeof(sd_varlink *));
        *dst = l;
        *n_dst += *n_src;
        *n_src = 0;
}

int cycle_start(Manager *m) {
        if (m->busy || m->exiting)
                return 0;
        m->busy = true;
        m->refresh_queued = false;
        m->next_cycle = 0;
        m->reenrolls = 0;
        m->logs_required = false;
        m->check_in = 0;
        (void) sd_event_source_set_enabled(m->cycle_timer, SD_EVENT_OFF);
        /* The cycle makes a new session; the old one is not checked any more. */
        check_stop(m);
        waiters_take(&m->waiters, &m->n_waiters, &m->waiters_next, &m->n_waiters_next);

        if (m->identity)
                attest_step_enroll(m);
        else
                attest_step_identity(m);
        return 0;
}

int cycle_request_refresh(Manager *m, sd_varlink *link) {
        sd_varlink **l;

        if (link) {
                l = realloc(m->waiters_next, (m->n_waiters_next + 1) * sizeof(sd_varlink *));
                if (!l)
                        return -ENOMEM;
                m->waiters_next = l;
                m->waiters_next[m->n_waiters_next++] = sd_varlink_ref(link);
        }
        m->refresh_queued = true;
        log_info("Refresh requested%s.", m->busy ? "; after the running cycle" : "");
        if (!m->busy)
                cycle_schedule(m, 0);
        return 0;
}

static void reply_waiters(Manager *m, Outcome outcome, const char *code, const char *message) {
        for (size_t i = 0; i < m->n_waiters; i++) {
                sd_varlink *l = m->waiters[i];
                int r;

                /* sd_varlink_error*() return the error as a negative errno once it is queued: only a failed
                 * success reply means the client did not get its answer. */
                switch (outcome) {
                case OUTCOME_RUNNING:
                        r = sd_varlink_replybo(l, SD_JSON_BUILD_PAIR_STRING("phase", phase_to_string(m->phase)),
                                               SD_JSON_BUILD_PAIR_UNSIGNED("applied", relays_count(m, RELAY_APPLIED)),
                                               SD_JSON_BUILD_PAIR_UNSIGNED("failed", relays_count(m, RELAY_FAILED)));
                        if (r < 0)
                                log_debug_errno(r, "Failed to answer a Refresh call (client gone?): %m");
                        break;
                case OUTCOME_PENDING:
                        (void) sd_varlink_errorbo(l, "io.patela.Config.Pending",
                                                  SD_JSON_BUILD_PAIR_STRING("fingerprint", m->fingerprint ?: ""));
                        break;
                case OUTCOME_REFUSED:
                        (void) sd_varlink_errorbo(l, "io.patela.Config.Refused",
                                                  SD_JSON_BUILD_PAIR("code", SD_JSON_BUILD_STRING(code)),
                                                  SD_JSON_BUILD_PAIR_STRING("message", message));
                        break;
                case OUTCOME_UNREACHABLE:
                        (void) sd_varlink_errorbo(l, "io.patela.Config.Unreachable",
                                                  SD_JSON_BUILD_PAIR_STRING("message", message));
                        break;
                default:
                        (void) sd_varlink_errorbo(l, "io.patela.Config.Failed",
                                                  SD_JSON_BUILD_PAIR_STRING("message", message));
                        break;
                }
                sd_varlink_unref(l);
        }
        m->n_waiters = 0;
}

/* Whatever the outcome, nothing of the attestation outlives the cycle. */
static void cycle_wipe(Manager *m) {
        m->request = http_request_free(m->request);
        manager_call_done(m);
        proto_enroll_reply_done(&m->enroll);
        m->secret = sd_json_variant_unref(m->secret);
        m->quote = sd_json_variant_unref(m->quote);
        m->event_logs = sd_json_variant_unref(m->event_logs);
        if (m->token)
                m->token = erase_and_free_sized(m->token, strlen(m->token));
        free(m->keys_queue);
        m->keys_queue = NULL;
        m->n_keys_queue = 0;
        proto_family_keys_done(&m->family);
        proto_relay_states_done(&m->states);
}

void cycle_finish(Manager *m, Outcome outcome, const char *code, const char *format, ...) {
        char message[1024] = "", when[32];
        uint64_t delay;
        va_list ap;

        if (format) {
                va_start(ap, format);
                vsnprintf(message, sizeof(message), format, ap);
                va_end(ap);
        }
        /* A cycle that ends running keeps its session for the checks until the next one; any other wipes it. */
        if (outcome == OUTCOME_RUNNING)
                check_start(m, &m->token, m->check_in);
        else
                check_stop(m);
        cycle_wipe(m);
        m->busy = false;

        if (outcome == OUTCOME_RUNNING)
                m->failures = 0;
        else
                m->failures++;
        (void) free_and_strdup(&m->last_error, message[0] ? message : NULL);
        (void) free_and_strdup(&m->last_error_code, code);

        switch (outcome) {
        case OUTCOME_RUNNING:
                /* A relay that failed alone is retried on the backoff, not an hour later. */
                delay = relays_count(m, RELAY_FAILED) > 0 ? MIN(backoff(m), m->config.reattest_usec)
                                                           : configd_jitter(m->config.reattest_usec, 10);
                manager_set_phase(m, PHASE_RUNNING);
                break;
        case OUTCOME_PENDING:
                delay = backoff(m);
                manager_set_phase(m, PHASE_PENDING);
                break;
        case OUTCOME_REFUSED:
                relays_teardown(m);
                delay = backoff(m);
                manager_set_phase(m, PHASE_REFUSED);
                break;
        case OUTCOME_UNREACHABLE:
                delay = backoff(m);
                manager_set_phase(m, PHASE_UNREACHABLE);
                break;
        default:
                /* A local step failed: the phase says where. */
                delay = backoff(m);
                break;
        }

        /* A Refresh that came in during this cycle gets a fresh one. */
        if (m->refresh_queued)
                delay = 0;
        cycle_schedule(m, delay);
        cycle_update_status(m);
        format_delay(delay, when, sizeof(when));

        switch (outcome) {
        case OUTCOME_RUNNING:
                log_info("Running %zu relays%s%s; next attestation in %s.", relays_count(m, RELAY_APPLIED),
                         message[0] ? ": " : "", message, when);
                break;
        case OUTCOME_PENDING:
                /* The operator needs this once in the journal, not every retry. */
                log_full(m->failures == 1 ? LOG_NOTICE : LOG_DEBUG,
                         "Node pending on %s, fingerprint %s: enable it there (next try in %s).", m->config.server_url,
                         m->fingerprint ?: "?", when);
                break;
        case OUTCOME_REFUSED:
                log_warning("Refused by the server (%s): %s; relays stopped, their files removed. Next try in %s.",
                            code ?: "no code", message, when);
                break;
        case OUTCOME_UNREACHABLE:
                log_warning("Server %s unreachable: %s. Next try in %s.", m->config.server_url, message, when);
                break;
        default:
                log_error("%s. Next try in %s.", message, when);
                break;
        }

        if (!m->ready_sent) {
                /* Started once the first cycle ended, whatever its outcome: the relays are configured, or the
                 * operator's move is next, or configd keeps retrying (STATUS= says why). Holding READY=1
                 * back would hold patela-client.target and with it multi-user.target: a server that does not
                 * answer must not block the boot. */
                (void) sd_notify(/* unset_environment= */ false, "READY=1");
                m->ready_sent = true;
        }
        reply_waiters(m, outcome, code, message);
        if (m->exiting) /* a stop came during the cycle: no next one, the save on the way out */
                state_exit_save(m);
}
