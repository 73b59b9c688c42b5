/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tor instances: patela-tor@NAME.service started, reloaded or stopped over D-Bus after the files
 * changed, systemd-networkd told to reload its files, and the instances' states followed for GetStatus.
 *
 * Everything here is asynchronous: configd's event loop never waits for PID 1. Replies are only logged,
 * the states come from ListUnitsByPatterns, asked again whenever systemd says one of our units changed
 * (Subscribe + PropertiesChanged). No unit file is written, so there is no daemon-reload. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configd-files.h"
#include "configd-manager.h"
#include "configd-resolver.h"
#include "log-event.h"
#include "log.h"

/* The object paths of patela-tor@….service: bus_label_escape() of "patela-tor@" */
#define TOR_UNIT_PATH_PREFIX "/org/freedesktop/systemd1/unit/patela_2dtor_40"

void unit_states_free(UnitState *s, size_t n) {
        for (size_t i = 0; s && i < n; i++) {
                free(s[i].name);
                free(s[i].active_state);
                free(s[i].sub_state);
        }
        free(s);
}

const UnitState *unit_state_find(const Manager *m, const char *relay) {
        for (size_t i = 0; i < m->n_unit_states; i++)
                if (streq(m->unit_states[i].name, relay))
                        return &m->unit_states[i];
        return NULL;
}

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

/* An asynchronous call whose reply goes to callback. The slot floats (the bus owns it) and frees userdata
 * when it goes, whether a reply came or the bus was closed first. */
static int call_async(Manager *m, const char *destination, const char *path, const char *interface,
                      const char *method, sd_bus_message_handler_t callback, char *userdata, const char *types,
                      const char *arg1, const char *arg2) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        int r;

        r = types[0] ? sd_bus_call_method_async(m->bus, &slot, destination, path, interface, method, callback,
                                                userdata, types, arg1, arg2)
                     : sd_bus_call_method_async(m->bus, &slot, destination, path, interface, method, callback,
                                                userdata, NULL);
        if (r < 0) {
                free(userdata);
                return r;
        }
        (void) sd_bus_slot_set_destroy_callback(slot, free);
        return sd_bus_slot_set_floating(slot, 1);
}

static int units_refresh(Manager *m);

static int on_list_units(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(reply);
        UnitState *states = NULL;
        size_t n = 0;
        int r;

        m->units_listing = false;
        if (e) {
                log_warning("Cannot list the tor instances: %s", e->message ?: e->name);
                goto again;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ssssssouso)");
        if (r < 0)
                goto fail;
        for (;;) {
                const char *unit, *active, *sub;
                size_t plen = strlen(CONFIGD_TOR_UNIT_PREFIX), ulen;
                UnitState *p;

                r = sd_bus_message_read(reply, "(ssssssouso)", &unit, NULL, NULL, &active, &sub, NULL, NULL, NULL,
                                        NULL, NULL);
                if (r < 0)
                        goto fail;
                if (r == 0)
                        break;
                ulen = strlen(unit);
                if (ulen <= plen + strlen(".service") || !strneq(unit, CONFIGD_TOR_UNIT_PREFIX, plen) ||
                    !streq(unit + ulen - strlen(".service"), ".service"))
                        continue;
                p = reallocarray(states, n + 1, sizeof(UnitState));
                if (!p) {
                        r = -ENOMEM;
                        goto fail;
                }
                states = p;
                states[n] = (UnitState) {
                        .name = strndup(unit + plen, ulen - plen - strlen(".service")),
                        .active_state = strdup(active),
                        .sub_state = strdup(sub),
                };
                n++;
                if (!states[n - 1].name || !states[n - 1].active_state || !states[n - 1].sub_state) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        unit_states_free(m->unit_states, m->n_unit_states);
        m->unit_states = states;
        m->n_unit_states = n;
        log_debug("%zu tor instance(s) known to systemd.", n);
        goto again;

fail:
        unit_states_free(states, n);
        log_warning_errno(r, "Cannot parse the list of tor instances: %m");
again:
        /* Something changed while the list was on its way: ask again. */
        if (m->units_changed)
                (void) units_refresh(m);
        return 0;
}

static int units_refresh(Manager *m) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *msg = NULL;
        int r;

        if (!m->bus)
                return 0;
        if (m->units_listing) {
                m->units_changed = true;
                return 0;
        }
        m->units_changed = false;
        r = sd_bus_message_new_method_call(m->bus, &msg, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "ListUnitsByPatterns");
        if (r >= 0)
                r = sd_bus_message_append(msg, "as", 0);
        if (r >= 0)
                r = sd_bus_message_append(msg, "as", 1, CONFIGD_TOR_UNIT_PREFIX "*.service");
        if (r >= 0)
                r = sd_bus_call_async(m->bus, NULL, msg, on_list_units, m, 0);
        if (r < 0)
                return log_warning_errno(r, "Cannot ask systemd for the tor instances: %m");
        m->units_listing = true;
        return 0;
}

/* PropertiesChanged of any unit: one of ours → list them again. */
static int on_properties_changed(sd_bus_message *message, void *userdata, sd_bus_error *ret_error) {
        Manager *m = userdata;
        const char *path = sd_bus_message_get_path(message);

        if (path && strneq(path, TOR_UNIT_PATH_PREFIX, strlen(TOR_UNIT_PATH_PREFIX)))
                (void) units_refresh(m);
        return 0;
}

static int bus_acquire(Manager *m) {
        int r;

        if (m->bus)
                return 0;
        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_match_signal_async(m->bus, NULL, "org.freedesktop.systemd1", NULL,
                                              "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                              on_properties_changed, NULL, m);
        /* Without Subscribe, systemd sends no unit signals. */
        if (r >= 0)
                r = call_async(m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                               "org.freedesktop.systemd1.Manager", "Subscribe", on_job_reply, strdup("Subscribe"), "",
                               NULL, NULL);
        if (r < 0) {
                m->bus = sd_bus_flush_close_unref(m->bus);
                return log_error_errno(r, "Failed to set up the system bus connection: %m");
        }
        return units_refresh(m);
}

/* Asynchronous: the reply (the job path, or an error) is only logged. */
static int unit_call(Manager *m, const char *method, const char *name) {
        _cleanup_free_ char *unit = NULL;
        char *what;
        int r;

        if (asprintf(&unit, CONFIGD_TOR_UNIT_PREFIX "%s.service", name) < 0 ||
            asprintf(&what, "%s %s", method, unit) < 0)
                return log_oom();
        r = call_async(m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                       method, on_job_reply, what, "ss", unit, "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to call %s for %s: %m", method, unit);
        /* A relay started or stopped is an event an operator searches for; a reload is not. */
        char relay_field[64], unit_field[96];
        snprintf(relay_field, sizeof(relay_field), "PATELA_RELAY=%s", name);
        snprintf(unit_field, sizeof(unit_field), "UNIT=%s", unit);
        if (streq(method, "StopUnit") || streq(method, "StartUnit") || streq(method, "RestartUnit"))
                log_event(streq(method, "StopUnit") ? LOG_EVENT_RELAY_STOPPED : LOG_EVENT_RELAY_STARTED, LOG_INFO,
                          (const char *const[]) { relay_field, unit_field, NULL }, "%s %s.",
                          streq(method, "StopUnit") ? "Stopping" : streq(method, "StartUnit") ? "Starting" : "Restarting",
                          unit);
        else
                log_info("Reloading or restarting %s.", unit);
        return 0;
}

/* tor's SIGINT (the unit's KillSignal=) stops a relay gracefully: no new connections, exit after
 * ShutdownWaitLength (30 s). After a refusal the relays stop now: SIGTERM to tor first, then the StopUnit. */
static int unit_kill_now(Manager *m, const char *name) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_free_ char *unit = NULL;
        char *what;
        int r;

        if (asprintf(&unit, CONFIGD_TOR_UNIT_PREFIX "%s.service", name) < 0 ||
            asprintf(&what, "KillUnit %s", unit) < 0)
                return log_oom();
        r = sd_bus_call_method_async(m->bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "KillUnit", on_job_reply, what, "ssi", unit,
                                     "main", (int32_t) SIGTERM);
        if (r < 0) {
                free(what);
                return log_error_errno(r, "Failed to call KillUnit for %s: %m", unit);
        }
        (void) sd_bus_slot_set_destroy_callback(slot, free);
        char relay_field[64], unit_field[96];
        snprintf(relay_field, sizeof(relay_field), "PATELA_RELAY=%s", name);
        snprintf(unit_field, sizeof(unit_field), "UNIT=%s", unit);
        log_event(LOG_EVENT_RELAY_STOPPED, LOG_INFO, (const char *const[]) { relay_field, unit_field, NULL },
                  "Stopping %s at once (SIGTERM): the server refused the node.", unit);
        return sd_bus_slot_set_floating(slot, 1);
}

static int network_reload(Manager *m) {
        char *what = strdup("systemd-networkd Reload");
        int r;

        if (!what)
                return log_oom();
        r = call_async(m, "org.freedesktop.network1", "/org/freedesktop/network1", "org.freedesktop.network1.Manager",
                       "Reload", on_job_reply, what, "", NULL, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to ask systemd-networkd to reload: %m");
        return 0;
}

int resolver_reload(Manager *m) {
        char *what;
        int r;

        if (!m->config.manage_units) {
                log_info("Not managing units (--no-units): would reload " CONFIGD_RESOLVER_UNIT ".");
                return 0;
        }
        r = bus_acquire(m);
        if (r < 0)
                return r;
        what = strdup("ReloadOrRestartUnit " CONFIGD_RESOLVER_UNIT);
        if (!what)
                return log_oom();
        /* unbound reads its configuration again on SIGHUP (the unit's ExecReload=), the include file with it. */
        r = call_async(m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                       "ReloadOrRestartUnit", on_job_reply, what, "ss", CONFIGD_RESOLVER_UNIT, "replace");
        if (r < 0)
                return log_error_errno(r, "Failed to ask systemd to reload " CONFIGD_RESOLVER_UNIT ": %m");
        log_info("Reloading or restarting " CONFIGD_RESOLVER_UNIT ".");
        return 0;
}

/* The allocator tor runs with: an EnvironmentFile= of patela-tor@.service beside the torrc files, in the one
 * directory of /run/patela that configd's user may write. Read when an instance starts; a change reaches
 * running instances when they restart. */
static int write_tor_environment(Manager *m) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *lib = tor_allocator_library(m->config.tor_allocator);
        int r;

        if (asprintf(&path, "%s/%s", m->config.torrc_directory, CONFIGD_TOR_ENVIRONMENT_FILE) < 0 ||
            asprintf(&text, CONFIGD_FILE_HEADER " for patela-tor@.service: TorAllocator=%s.\n%s%s%s",
                     tor_allocator_to_string(m->config.tor_allocator), isempty(lib) ? "" : "LD_PRELOAD=",
                     lib ?: "", isempty(lib) ? "" : "\n") < 0)
                return log_oom();
        r = file_write_atomic(path, text);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", path);
        if (r > 0)
                log_info("Wrote %s (TorAllocator=%s).", path, tor_allocator_to_string(m->config.tor_allocator));
        return 0;
}

int relays_apply_units(Manager *m, char *const *removed, bool network_changed, bool at_once) {
        int r, ret = 0;

        if (!m->config.manage_units) {
                for (size_t i = 0; i < m->n_relays; i++)
                        if (m->relays[i].state == RELAY_APPLIED)
                                log_info("Not managing units (--no-units): would %s " CONFIGD_TOR_UNIT_PREFIX
                                         "%s.service.",
                                         m->relays[i].restart         ? "restart"
                                         : m->relays[i].files_changed ? "reload or restart"
                                                                      : "start",
                                         m->relays[i].name);
                for (char *const *s = removed; s && *s; s++)
                        log_info("Not managing units (--no-units): would stop " CONFIGD_TOR_UNIT_PREFIX "%s.service.",
                                 *s);
                if (network_changed)
                        log_info("Not managing units (--no-units): would ask systemd-networkd to reload.");
                return 0;
        }

        r = bus_acquire(m);
        if (r < 0)
                return r;
        /* Stop first: a relay's address may move to another relay in the same change. */
        for (char *const *s = removed; s && *s; s++) {
                /* A unit that is not running answers KillUnit with an error, which is only logged. */
                if (at_once)
                        (void) unit_kill_now(m, *s);
                r = unit_call(m, "StopUnit", *s);
                if (r < 0)
                        ret = r;
        }
        if (network_changed) {
                r = network_reload(m);
                if (r < 0)
                        ret = r;
        }
        if (relays_count(m, RELAY_APPLIED) > 0) {
                r = write_tor_environment(m);
                if (r < 0)
                        ret = r;
        }
        for (size_t i = 0; i < m->n_relays; i++) {
                const UnitState *u;

                if (m->relays[i].state != RELAY_APPLIED)
                        continue;
                u = unit_state_find(m, m->relays[i].name);
                /* Starting a running unit is a no-op, and so is this call then; a changed torrc needs tor to
                 * read it again; a unit that failed (e.g. tor refused the torrc) gets another start. Changed family
                 * keys need a restart: the instance copies its key files when it starts, and tor refuses a
                 * FamilyId whose key it lacks. */
                if (!m->relays[i].files_changed && !m->relays[i].restart && u && streq(u->active_state, "active"))
                        continue;
                r = unit_call(m, m->relays[i].restart         ? "RestartUnit"
                                 : m->relays[i].files_changed ? "ReloadOrRestartUnit"
                                                              : "StartUnit",
                              m->relays[i].name);
                if (r < 0)
                        ret = r;
        }
        return ret;
}
