/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tor instances: tor@NAME.service started, reloaded or stopped over D-Bus after the files changed,
 * and systemd-networkd told to reload its files.
 *
 * NOT EXERCISED BY THIS PART'S TESTS: they run without a systemd PID 1, with ManageUnits=no (--no-units,
 * the default for now), where relays_apply_units() only logs. The D-Bus calls are exercised by the
 * systemd-nspawn end-to-end test of the next part (issue 5). No unit files are written, so there is no
 * daemon-reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configd-manager.h"
#include "log.h"

static int on_job_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        const char *what = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        /* One instance that does not start never holds up the others: log and go on. */
        if (e)
                log_error("%s failed: %s", what, e->message ?: e->name);
        else
                log_debug("%s queued.", what);
        return 0;
}

/* An asynchronous call whose reply is only logged. The slot floats (the bus owns it) and frees what when it
 * goes, whether a reply came or the bus was closed first. */
static int call_async(Manager *m, const char *destination, const char *path, const char *interface,
                      const char *method, char *what, const char *types, const char *arg1, const char *arg2) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        int r;

        r = types[0] ? sd_bus_call_method_async(m->bus, &slot, destination, path, interface, method, on_job_reply,
                                                what, types, arg1, arg2)
                     : sd_bus_call_method_async(m->bus, &slot, destination, path, interface, method, on_job_reply,
                                                what, NULL);
        if (r < 0) {
                free(what);
                return r;
        }
        (void) sd_bus_slot_set_destroy_callback(slot, free);
        return sd_bus_slot_set_floating(slot, 1);
}

static int bus_acquire(Manager *m) {
        int r;

        if (m->bus)
                return 0;
        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        }
        return 0;
}

/* Asynchronous: the reply (the job path, or an error) is only logged. */
static int unit_call(Manager *m, const char *method, const char *name) {
        _cleanup_free_ char *unit = NULL;
        char *what;
        int r;

        if (asprintf(&unit, "tor@%s.service", name) < 0 || asprintf(&what, "%s %s", method, unit) < 0)
                return log_oom();
        r = call_async(m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                       method, what, "ss", unit, "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to call %s for %s: %m", method, unit);
        return 0;
}

static int network_reload(Manager *m) {
        char *what = strdup("systemd-networkd Reload");
        int r;

        if (!what)
                return log_oom();
        r = call_async(m, "org.freedesktop.network1", "/org/freedesktop/network1", "org.freedesktop.network1.Manager",
                       "Reload", what, "", NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to ask systemd-networkd to reload: %m");
        return 0;
}

int relays_apply_units(Manager *m, char *const *removed, bool network_changed) {
        int r, ret = 0;

        if (!m->config.manage_units) {
                for (size_t i = 0; i < m->n_relays; i++)
                        if (m->relays[i].state == RELAY_APPLIED)
                                log_info("Not managing units (--no-units): would %s tor@%s.service.",
                                         m->relays[i].files_changed ? "reload or restart" : "start", m->relays[i].name);
                for (char *const *s = removed; s && *s; s++)
                        log_info("Not managing units (--no-units): would stop tor@%s.service.", *s);
                if (network_changed)
                        log_info("Not managing units (--no-units): would ask systemd-networkd to reload.");
                return 0;
        }

        r = bus_acquire(m);
        if (r < 0)
                return r;
        /* Stop first: a relay's address may move to another relay in the same change. */
        for (char *const *s = removed; s && *s; s++) {
                r = unit_call(m, "StopUnit", *s);
                if (r < 0)
                        ret = r;
        }
        if (network_changed) {
                r = network_reload(m);
                if (r < 0)
                        ret = r;
        }
        for (size_t i = 0; i < m->n_relays; i++) {
                if (m->relays[i].state != RELAY_APPLIED)
                        continue;
                /* Starting a running unit is a no-op; a changed torrc needs tor to read it again. */
                r = unit_call(m, m->relays[i].files_changed ? "ReloadOrRestartUnit" : "StartUnit", m->relays[i].name);
                if (r < 0)
                        ret = r;
        }
        return ret;
}
