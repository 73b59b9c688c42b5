/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "alloc-util.h"
#include "configd-log.h"
#include "configd-manager.h"
#include "configd-varlink.h"
#include "io.patela.Config.h"
#include "log.h"

static const char *const phase_table[_PHASE_MAX] = {
        [PHASE_STARTING] = "starting",       [PHASE_ENROLLING] = "enrolling", [PHASE_PENDING] = "pending",
        [PHASE_ATTESTING] = "attesting",     [PHASE_CONFIGURING] = "configuring", [PHASE_RUNNING] = "running",
        [PHASE_REFUSED] = "refused",         [PHASE_UNREACHABLE] = "unreachable",
};

const char *phase_to_string(Phase p) {
        return p >= 0 && p < _PHASE_MAX ? phase_table[p] : NULL;
}

static const char *const relay_state_table[_RELAY_STATE_MAX] = {
        [RELAY_CONFIGURING] = "configuring",
        [RELAY_APPLIED] = "applied",
        [RELAY_FAILED] = "failed",
};

const char *relay_state_to_string(RelayState s) {
        return s >= 0 && s < _RELAY_STATE_MAX ? relay_state_table[s] : NULL;
}

int free_and_strdup(char **dst, const char *s) {
        char *c = NULL;

        if (s) {
                c = strdup(s);
                if (!c)
                        return -ENOMEM;
        }
        free(*dst);
        *dst = c;
        return 0;
}

void relay_done(Relay *r) {
        free(r->name);
        free(r->ipv4);
        free(r->ipv6);
        free(r->server_torrc);
        free(r->torrc);
        free(r->network);
        free(r->rsa_fingerprint);
        free(r->ed25519_identity);
        free(r->key_directory);
        free(r->error);
        free(r->family);
        *r = (Relay) {};
}

void relays_free(Relay *relays, size_t n) {
        for (size_t i = 0; relays && i < n; i++)
                relay_done(&relays[i]);
        free(relays);
}

static int set_default(char **dst, const char *value) {
        return *dst ? 0 : free_and_strdup(dst, value);
}

int manager_new(Manager **ret) {
        Manager *m;

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        configd_config_init(&m->config);
        m->phase = PHASE_STARTING;
        *ret = m;
        return 0;
}

static void waiters_free(sd_varlink **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                sd_varlink_unref(l[i]);
        free(l);
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        log_verify_free(m); /* its request, before the client */
        http_request_free(m->request);
        state_done(m);
        relay_metrics_stop(m);
        http_client_free(m->loopback);
        http_client_free(m->http);
        manager_call_done(m);
        sd_event_source_disable_unref(m->cycle_timer);
        waiters_free(m->waiters, m->n_waiters);
        waiters_free(m->waiters_next, m->n_waiters_next);
        sd_bus_flush_close_unref(m->bus);
        unit_states_free(m->unit_states, m->n_unit_states);
        varlink_service_free(m->service);

        sd_varlink_flush_close_unref(m->drop_link);
        sd_json_variant_unref(m->identity);
        proto_enroll_reply_done(&m->enroll);
        sd_json_variant_unref(m->secret);
        sd_json_variant_unref(m->quote);
        sd_json_variant_unref(m->event_logs);
        if (m->token)
                erase_and_free_sized(m->token, strlen(m->token));
        if (m->session_token)
                erase_and_free_sized(m->session_token, strlen(m->session_token));
        http_request_free(m->check_request);
        sd_event_source_disable_unref(m->check_timer);
        free(m->fingerprint);
        free(m->node_state);
        free(m->last_error);
        free(m->last_error_code);
        free(m->last_verdict);
        free(m->last_verdict_reason);
        free(m->boot_verdict);
        free(m->boot_verdict_reason);
        proto_network_done(&m->network);
        proto_family_keys_done(&m->family);
        free(m->family_ids);
        relays_free(m->relays, m->n_relays);
        free(m->fingerprints_reported);
        free(m->keys_queue);
        configd_config_done(&m->config);
        free(m);
        return NULL;
}

uint64_t now_realtime(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000ULL;
}

const char *manager_listen_address(Manager *m, char **buffer) {
        if (m->listen_address)
                return m->listen_address;
        if (asprintf(buffer, "%s/%s", m->config.state_directory, CONFIGD_SOCKET_NAME) < 0) {
                *buffer = NULL;
                return NULL;
        }
        return *buffer;
}

static int on_cycle_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) cycle_start(m);
        return 0;
}

int manager_start(Manager *m) {
        _cleanup_free_ char *address_buffer = NULL;
        const char *address;
        HttpOptions http;
        int r;

        /* Defaults for what no file, credential or flag set. */
        if (set_default(&m->config.state_directory, CONFIGD_STATE_DIRECTORY_DEFAULT) < 0 ||
            set_default(&m->config.torrc_directory, CONFIGD_TORRC_DIRECTORY_DEFAULT) < 0 ||
            set_default(&m->config.network_directory, CONFIGD_NETWORK_DIRECTORY_DEFAULT) < 0 ||
            set_default(&m->config.network_file, CONFIGD_NETWORK_FILE_DEFAULT) < 0 ||
            set_default(&m->config.attest_socket, CONFIGD_ATTEST_SOCKET_DEFAULT) < 0 ||
            set_default(&m->config.keys_socket, CONFIGD_KEYS_SOCKET_DEFAULT) < 0 ||
            set_default(&m->config.relay_user, CONFIGD_RELAY_USER_DEFAULT) < 0 ||
            set_default(&m->config.data_directory, CONFIGD_DATA_DIRECTORY_DEFAULT) < 0 ||
            set_default(&m->config.key_directory, CONFIGD_KEY_DIRECTORY_DEFAULT) < 0 ||
            set_default(&m->config.resolver_file, CONFIGD_RESOLVER_FILE_DEFAULT) < 0)
                return log_oom();

        /* patela-tor@.service reads each relay's torrc from one directory, fixed when it was built: a torrc
         * written elsewhere would start nothing, silently. */
        if (m->config.manage_units && !streq(m->config.torrc_directory, PATELA_TORRC_DIRECTORY))
                return log_error_errno(EINVAL, "TorrcDirectory=%s, but patela-tor@.service reads the torrc from "
                                       PATELA_TORRC_DIRECTORY "; with ManageUnits=yes they must be the same.",
                                       m->config.torrc_directory);

        /* Long-running: no idle exit. The flow's state lives here and nowhere else. */
        r = varlink_service_new(&vl_interface_io_patela_Config, SD_VARLINK_SERVER_ROOT_ONLY, m, /* idle_usec= */ 0,
                                &m->service);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the varlink server: %m");
        m->event = m->service->event;
        /* A stop saves tor's state at the server first (configd-state.c). */
        r = varlink_service_set_signal_handler(m->service, state_on_signal);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the signal handlers: %m");
        m->state_saved_at = now_realtime();
        r = configd_bind_methods(m->service->server);
        if (r < 0)
                return log_error_errno(r, "Failed to bind varlink methods: %m");

        address = manager_listen_address(m, &address_buffer);
        if (!address)
                return log_oom();
        r = varlink_service_listen(m->service, address);
        if (r < 0)
                return log_error_errno(r, "Failed to listen on %s: %m", address);

        http = (HttpOptions) {
                .base_url = m->config.server_url,
                .ca_file = m->config.ca_certificate,
                .connect_timeout_usec = m->config.connect_timeout_usec,
                .timeout_usec = m->config.request_timeout_usec,
                .body_max = PROTO_REPLY_MAX,
        };
        r = http_client_new(m->event, &http, &m->http);
        if (r < 0)
                return log_error_errno(r, "Failed to set up libcurl: %m");
        if (m->config.relay_metrics) {
                r = http_client_new(m->event,
                                    &(HttpOptions) { .loopback = true, .connect_timeout_usec = 1000000ULL,
                                                     .timeout_usec = 2000000ULL, .body_max = TOR_METRICS_MAX },
                                    &m->loopback);
                if (r < 0)
                        return log_error_errno(r, "Failed to set up libcurl: %m");
        }

        /* The first cycle starts as soon as the loop runs. */
        /* 1 ms accuracy: a Refresh or a retry starts now, not when sd-event's default 250 ms window ends. */
        r = sd_event_add_time_relative(m->event, &m->cycle_timer, CLOCK_MONOTONIC, 0, 1000, on_cycle_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add a timer: %m");
        (void) sd_event_source_set_description(m->cycle_timer, "cycle");
        r = check_setup(m);
        if (r < 0)
                return log_error_errno(r, "Failed to add a timer: %m");
        r = log_verify_setup(m);
        if (r < 0)
                return log_oom();
        cycle_update_status(m);
        log_info("patela-configd %s: server %s, CA %s, torrc in %s, units %s.", PROJECT_VERSION,
                 m->config.server_url, m->config.ca_certificate, m->config.torrc_directory,
                 m->config.manage_units ? "managed" : "not managed");
        return 0;
}

int manager_run(Manager *m) {
        int r;

        /* Not varlink_service_run(): READY=1 waits for the end of the first cycle, see cycle_finish(). */
        r = sd_event_loop(m->event);
        (void) sd_notify(/* unset_environment= */ false, "STOPPING=1");
        return r;
}

void manager_call_done(Manager *m) {
        m->link = sd_varlink_flush_close_unref(m->link);
}

int manager_call(Manager *m, const char *address, const char *method, sd_json_variant *parameters, bool sensitive,
                 uint64_t timeout_usec, sd_varlink_reply_t callback) {
        _cleanup_(sd_varlink_flush_close_unrefp) sd_varlink *link = NULL;
        int r;

        manager_call_done(m);
        r = sd_varlink_connect_address(&link, address);
        if (r < 0)
                return r;
        sd_varlink_set_userdata(link, m);
        if (sensitive) {
                r = sd_varlink_set_input_sensitive(link);
                if (r < 0)
                        return r;
        }
        r = sd_varlink_set_relative_timeout(link, timeout_usec);
        if (r >= 0)
                r = sd_varlink_bind_reply(link, callback);
        if (r >= 0)
                r = sd_varlink_attach_event(link, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_varlink_invoke(link, method, parameters);
        if (r < 0)
                return r;
        m->link = TAKE_PTR(link);
        return 0;
}

void varlink_error_format(const char *error_id, sd_json_variant *parameters, char *buf, size_t size) {
        sd_json_variant *message = sd_json_variant_by_key(parameters, "message");
        sd_json_variant *parameter = sd_json_variant_by_key(parameters, "parameter");

        if (message && sd_json_variant_is_string(message))
                snprintf(buf, size, "%s: %s", error_id, sd_json_variant_string(message));
        else if (parameter && sd_json_variant_is_string(parameter))
                snprintf(buf, size, "%s: parameter '%s'", error_id, sd_json_variant_string(parameter));
        else
                snprintf(buf, size, "%s", error_id);
}
