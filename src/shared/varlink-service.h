/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <systemd/sd-event.h>
#include <systemd/sd-varlink.h>

#include "macro.h"

/* The common frame of patela's socket-activated varlink daemons: an sd-event loop, one varlink server on
 * the sockets systemd passed (or on an address, for running by hand), SIGTERM/SIGINT handling, and exit
 * after idle_usec without connections (0: never). */
typedef struct VarlinkService {
        sd_event *event;
        sd_varlink_server *server;
        sd_event_source *idle_timer;
        sd_event_source *signals[2]; /* SIGTERM, SIGINT */
        uint64_t idle_usec;
        /* Consulted when idle_usec passed without connections: > 0 keeps the daemon running (patela-keyd while a
         * relay instance exists: it seals the instance's tor state when it stops, and a socket does not start a
         * service while the system shuts down). NULL: exit. */
        int (*keep_alive)(void *userdata);
        void *userdata; /* given to every connection, and so to the method handlers */
} VarlinkService;

int varlink_service_new(const sd_varlink_interface *interface, sd_varlink_server_flags_t flags, void *userdata,
                        uint64_t idle_usec, VarlinkService **ret);
VarlinkService *varlink_service_free(VarlinkService *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(VarlinkService *, varlink_service_free);

/* Listens on the passed sockets ($LISTEN_FDS); if there are none, on address (a socket path) if given.
 * -ENXIO if there is nothing to listen on. Returns the number of sockets. */
int varlink_service_listen(VarlinkService *s, const char *address);
/* Runs until a signal or the idle timeout; sends READY=1 / STOPPING=1 to the service manager. */
int varlink_service_run(VarlinkService *s);

/* SIGTERM and SIGINT call handler (with the service's userdata) instead of ending the loop at once: a daemon with
 * something to finish (patela-configd saves tor's state) calls sd_event_exit() itself. */
int varlink_service_set_signal_handler(VarlinkService *s, sd_event_signal_handler_t handler);

/* Decodes a base64 parameter of at most max bytes; -EINVAL/-E2BIG as unbase64mem(). */
int varlink_param_base64(const char *value, size_t max, void **ret, size_t *ret_size);
