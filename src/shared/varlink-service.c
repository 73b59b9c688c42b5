/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "hexdecoct.h"
#include "varlink-service.h"

static int on_idle_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        VarlinkService *s = userdata;

        (void) usec;
        if (sd_varlink_server_current_connections(s->server) > 0 || (s->keep_alive && s->keep_alive(s->userdata) > 0)) {
                /* A client is still connected, or the daemon has a reason to stay: look again later. */
                (void) sd_event_source_set_time_relative(source, s->idle_usec);
                return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
        }
        return sd_event_exit(sd_event_source_get_event(source), 0);
}

static void arm_idle_timer(VarlinkService *s) {
        if (!s->idle_timer)
                return;
        (void) sd_event_source_set_time_relative(s->idle_timer, s->idle_usec);
        (void) sd_event_source_set_enabled(s->idle_timer, SD_EVENT_ONESHOT);
}

static int on_connect(sd_varlink_server *server, sd_varlink *link, void *userdata) {
        VarlinkService *s = sd_varlink_server_get_userdata(server);

        (void) userdata;
        if (!s)
                return 0;
        /* Method handlers receive the connection's userdata: the daemon's manager. */
        sd_varlink_set_userdata(link, s->userdata);
        if (s->idle_timer)
                (void) sd_event_source_set_enabled(s->idle_timer, SD_EVENT_OFF);
        return 0;
}

static void on_disconnect(sd_varlink_server *server, sd_varlink *link, void *userdata) {
        VarlinkService *s = sd_varlink_server_get_userdata(server);

        (void) link, (void) userdata;
        if (s)
                arm_idle_timer(s);
}

int varlink_service_new(const sd_varlink_interface *interface, sd_varlink_server_flags_t flags, void *userdata,
                        uint64_t idle_usec, VarlinkService **ret) {
        _cleanup_(varlink_service_freep) VarlinkService *s = NULL;
        sigset_t mask;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->idle_usec = idle_usec;
        s->userdata = userdata;

        r = sd_event_default(&s->event);
        if (r < 0)
                return r;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return negative_errno();
        r = sd_event_add_signal(s->event, &s->signals[0], SIGTERM, NULL, NULL);
        if (r < 0)
                return r;
        r = sd_event_add_signal(s->event, &s->signals[1], SIGINT, NULL, NULL);
        if (r < 0)
                return r;

        /* The server's userdata is this service, for the connect/disconnect callbacks. */
        r = sd_varlink_server_new(&s->server, flags);
        if (r < 0)
                return r;
        r = sd_varlink_server_set_info(s->server, "patela", "patela", PROJECT_VERSION, "https://patela.invalid/");
        if (r < 0)
                return r;
        r = sd_varlink_server_add_interface(s->server, interface);
        if (r < 0)
                return r;
        sd_varlink_server_set_userdata(s->server, s);
        r = sd_varlink_server_bind_connect(s->server, on_connect);
        if (r < 0)
                return r;
        r = sd_varlink_server_bind_disconnect(s->server, on_disconnect);
        if (r < 0)
                return r;
        r = sd_varlink_server_attach_event(s->server, s->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return r;

        if (idle_usec > 0) {
                r = sd_event_add_time_relative(s->event, &s->idle_timer, CLOCK_MONOTONIC, idle_usec, 0, on_idle_timer,
                                               s);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(s);
        return 0;
}

VarlinkService *varlink_service_free(VarlinkService *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->idle_timer);
        for (size_t i = 0; i < ELEMENTSOF(s->signals); i++)
                sd_event_source_disable_unref(s->signals[i]);
        sd_varlink_server_unref(s->server);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

int varlink_service_set_signal_handler(VarlinkService *s, sd_event_signal_handler_t handler) {
        static const int signals[] = { SIGTERM, SIGINT };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(signals); i++) {
                s->signals[i] = sd_event_source_disable_unref(s->signals[i]);
                r = sd_event_add_signal(s->event, &s->signals[i], signals[i], handler, s->userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

int varlink_service_listen(VarlinkService *s, const char *address) {
        int n, r;

        n = sd_listen_fds(/* unset_environment= */ true);
        if (n < 0)
                return n;
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                r = sd_varlink_server_listen_fd(s->server, fd);
                if (r < 0)
                        return r;
        }
        if (n > 0)
                return n;

        if (!address)
                return -ENXIO;
        r = sd_varlink_server_listen_address(s->server, address, 0600);
        if (r < 0)
                return r;
        return 1;
}

int varlink_service_run(VarlinkService *s) {
        int r;

        arm_idle_timer(s);
        (void) sd_notify(/* unset_environment= */ false, "READY=1");
        r = sd_event_loop(s->event);
        (void) sd_notify(/* unset_environment= */ false, "STOPPING=1");
        return r;
}

int varlink_param_base64(const char *value, size_t max, void **ret, size_t *ret_size) {
        if (!value)
                return -EINVAL;
        return unbase64mem(value, max, ret, ret_size);
}
