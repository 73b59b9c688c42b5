/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* io.patela.Config: GetStatus, Refresh, ShowConfig, Diff. */
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "configd-files.h"
#include "configd-log.h"
#include "configd-manager.h"
#include "configd-varlink.h"
#include "log.h"

/* SD_JSON_BUILD_STRING(NULL) builds a JSON null: what the IDL's nullable strings want. */
#define JSON_STRING_OR_NULL(s) SD_JSON_BUILD_STRING(s)

static int strv_to_json(char **l, sd_json_variant **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *a = NULL;
        int r;

        r = sd_json_variant_new_array(&a, NULL, 0);
        for (char **s = l; r >= 0 && s && *s; s++)
                r = sd_json_variant_append_arrayb(&a, SD_JSON_BUILD_STRING(*s));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

static int relay_status_json(Manager *m, const Relay *relay, const char *dropin_dir, sd_json_variant **ret) {
        _cleanup_free_ char *torrc_path = NULL, *network_path = NULL;
        bool written = relay->state == RELAY_APPLIED;
        const UnitState *u = unit_state_find(m, relay->name);
        /* Managed but unknown to systemd: never started, or stopped and garbage-collected. */
        const char *unit_state = !m->config.manage_units ? NULL : u ? u->active_state : "inactive";

        if (relay_torrc_path(m->config.torrc_directory, relay->name, &torrc_path) < 0 ||
            relay_network_path(dropin_dir, relay->name, &network_path) < 0)
                return -ENOMEM;
        return sd_json_buildo(ret, SD_JSON_BUILD_PAIR_STRING("name", relay->name),
                              SD_JSON_BUILD_PAIR("ipv4", JSON_STRING_OR_NULL(relay->ipv4)),
                              SD_JSON_BUILD_PAIR("ipv6", JSON_STRING_OR_NULL(relay->ipv6)),
                              SD_JSON_BUILD_PAIR_STRING("state", relay_state_to_string(relay->state)),
                              SD_JSON_BUILD_PAIR("error", JSON_STRING_OR_NULL(relay->error)),
                              SD_JSON_BUILD_PAIR("rsaFingerprint", JSON_STRING_OR_NULL(relay->rsa_fingerprint)),
                              SD_JSON_BUILD_PAIR("ed25519Identity", JSON_STRING_OR_NULL(relay->ed25519_identity)),
                              SD_JSON_BUILD_PAIR("keyDirectory", JSON_STRING_OR_NULL(relay->key_directory)),
                              SD_JSON_BUILD_PAIR("torrcPath", JSON_STRING_OR_NULL(written ? torrc_path : NULL)),
                              SD_JSON_BUILD_PAIR("networkPath",
                                                 JSON_STRING_OR_NULL(written && relay->network ? network_path : NULL)),
                              SD_JSON_BUILD_PAIR("unitState", JSON_STRING_OR_NULL(unit_state)));
}

static char *dropin_dir(const Manager *m) {
        char *s;

        if (asprintf(&s, "%s/%s.d", m->config.network_directory, m->config.network_file) < 0)
                return NULL;
        return s;
}

#define PAIR_UNSIGNED_OR_NULL(name, cond, v)                                                                   \
        SD_JSON_BUILD_PAIR_CONDITION((cond), (name), SD_JSON_BUILD_UNSIGNED(v)),                                 \
                SD_JSON_BUILD_PAIR_CONDITION(!(cond), (name), SD_JSON_BUILD_NULL)

static int vl_method_get_status(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *relays = NULL, *family = NULL;
        _cleanup_free_ char *dir = NULL;
        Manager *m = userdata;
        uint64_t log_at, log_size;
        const char *log_error;
        int r;

        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        log_verify_last_result(m, &log_at, &log_size, &log_error);
        dir = dropin_dir(m);
        if (!dir)
                return -ENOMEM;
        r = sd_json_variant_new_array(&relays, NULL, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_relays; i++) {
                _cleanup_(sd_json_variant_unrefp) sd_json_variant *j = NULL;

                r = relay_status_json(m, &m->relays[i], dir, &j);
                if (r >= 0)
                        r = sd_json_variant_append_array(&relays, j);
                if (r < 0)
                        return r;
        }

        r = sd_json_variant_new_array(&family, NULL, 0);
        for (const char *p = m->family_ids; r >= 0 && p && *p;) {
                size_t k = strcspn(p, " ");
                _cleanup_free_ char *id = strndup(p, k);

                r = id ? sd_json_variant_append_arrayb(&family, SD_JSON_BUILD_STRING(id)) : -ENOMEM;
                p += k + (p[k] == ' ');
        }
        if (r < 0)
                return r;

        return sd_varlink_replybo(
                        link,
                        SD_JSON_BUILD_PAIR_STRING("phase", phase_to_string(m->phase)),
                        SD_JSON_BUILD_PAIR_STRING("serverUrl", m->config.server_url),
                        SD_JSON_BUILD_PAIR("nodeState", JSON_STRING_OR_NULL(m->node_state)),
                        SD_JSON_BUILD_PAIR("fingerprint", JSON_STRING_OR_NULL(m->fingerprint)),
                        SD_JSON_BUILD_PAIR_VARIANT("relays", relays),
                        SD_JSON_BUILD_PAIR_VARIANT("familyIds", family),
                        PAIR_UNSIGNED_OR_NULL("lastAttestation", m->last_attestation > 0, m->last_attestation),
                        SD_JSON_BUILD_PAIR("lastVerdict", JSON_STRING_OR_NULL(m->last_verdict)),
                        SD_JSON_BUILD_PAIR("lastVerdictReason", JSON_STRING_OR_NULL(m->last_verdict_reason)),
                        SD_JSON_BUILD_PAIR("bootVerdict", JSON_STRING_OR_NULL(m->boot_verdict)),
                        SD_JSON_BUILD_PAIR("bootVerdictReason", JSON_STRING_OR_NULL(m->boot_verdict_reason)),
                        PAIR_UNSIGNED_OR_NULL("lastCheck", m->last_check > 0, m->last_check),
                        PAIR_UNSIGNED_OR_NULL("nextCheck", m->next_check > 0, m->next_check),
                        SD_JSON_BUILD_PAIR("lastError", JSON_STRING_OR_NULL(m->last_error)),
                        SD_JSON_BUILD_PAIR("lastErrorCode", JSON_STRING_OR_NULL(m->last_error_code)),
                        SD_JSON_BUILD_PAIR_UNSIGNED("failedAttempts", m->failures),
                        PAIR_UNSIGNED_OR_NULL("nextAttempt", !m->busy && m->next_cycle > 0, m->next_cycle),
                        SD_JSON_BUILD_PAIR_BOOLEAN("manageUnits", m->config.manage_units),
                        PAIR_UNSIGNED_OR_NULL("logVerified", log_at > 0, log_at),
                        PAIR_UNSIGNED_OR_NULL("logTreeSize", log_at > 0, log_size),
                        SD_JSON_BUILD_PAIR("logError", JSON_STRING_OR_NULL(log_error)));
}

static int vl_method_refresh(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                             void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        Manager *m = userdata;
        int r;

        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        /* Answered by cycle_finish(), unless nobody waits for the answer (oneway). */
        return cycle_request_refresh(m, flags & SD_VARLINK_METHOD_ONEWAY ? NULL : link);
}

static int vl_method_show_config(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                 void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *relays = NULL, *dns = NULL, *network = NULL;
        Manager *m = userdata;
        ProtoNetwork *n = &m->network;
        int r;

        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        if (!m->have_config)
                return sd_varlink_error(link, "io.patela.Config.NoConfiguration", NULL);

        r = sd_json_variant_new_array(&dns, NULL, 0);
        for (size_t i = 0; r >= 0 && i < n->n_dns; i++)
                r = sd_json_variant_append_arrayb(&dns, SD_JSON_BUILD_STRING(n->dns[i]));
        if (r < 0)
                return r;
        r = sd_json_buildo(&network, SD_JSON_BUILD_PAIR("interface", JSON_STRING_OR_NULL(n->interface)),
                           SD_JSON_BUILD_PAIR("ipv4Gateway", JSON_STRING_OR_NULL(n->ipv4_gateway)),
                           SD_JSON_BUILD_PAIR("ipv6Gateway", JSON_STRING_OR_NULL(n->ipv6_gateway)),
                           PAIR_UNSIGNED_OR_NULL("ipv4PrefixLength", n->ipv4_prefix_length > 0, n->ipv4_prefix_length),
                           PAIR_UNSIGNED_OR_NULL("ipv6PrefixLength", n->ipv6_prefix_length > 0, n->ipv6_prefix_length),
                           SD_JSON_BUILD_PAIR_VARIANT("dns", dns),
                           PAIR_UNSIGNED_OR_NULL("orPort", n->or_port > 0, n->or_port));
        if (r < 0)
                return r;

        r = sd_json_variant_new_array(&relays, NULL, 0);
        for (size_t i = 0; r >= 0 && i < m->n_relays; i++) {
                const Relay *relay = &m->relays[i];
                r = sd_json_variant_append_arraybo(&relays, SD_JSON_BUILD_PAIR_STRING("name", relay->name),
                                                   SD_JSON_BUILD_PAIR("ipv4", JSON_STRING_OR_NULL(relay->ipv4)),
                                                   SD_JSON_BUILD_PAIR("ipv6", JSON_STRING_OR_NULL(relay->ipv6)),
                                                   SD_JSON_BUILD_PAIR_STRING("serverTorrc", relay->server_torrc),
                                                   SD_JSON_BUILD_PAIR("torrc", JSON_STRING_OR_NULL(relay->torrc)),
                                                   SD_JSON_BUILD_PAIR("network", JSON_STRING_OR_NULL(relay->network)));
        }
        if (r < 0)
                return r;
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_UNSIGNED("fetched", m->fetched),
                                  SD_JSON_BUILD_PAIR_VARIANT("network", network),
                                  SD_JSON_BUILD_PAIR_VARIANT("relays", relays));
}

/* One file: the fetched content (NULL: the file should not exist) against what is on disk. */
static int diff_file(const char *path, const char *relay, const char *kind, const char *want, sd_json_variant **files) {
        _cleanup_(strv_freep) char **removed = NULL, **added = NULL;
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *jr = NULL, *ja = NULL;
        _cleanup_free_ char *have = NULL;
        const char *change;
        int r;

        r = file_read(path, &have);
        if (r == -ENOENT) {
                if (!want)
                        return 0;
                change = "added";
        } else if (r < 0)
                return r;
        else if (!want)
                change = "removed";
        else
                change = streq(have, want) ? "unchanged" : "changed";

        r = text_diff(have, want, &removed, &added);
        if (r == -E2BIG) /* too long to compare line by line: only the verdict */
                r = strv_to_json(NULL, &jr) < 0 ? -ENOMEM : strv_to_json(NULL, &ja);
        else if (r >= 0)
                r = strv_to_json(removed, &jr) < 0 ? -ENOMEM : strv_to_json(added, &ja);
        if (r < 0)
                return r;
        return sd_json_variant_append_arraybo(files, SD_JSON_BUILD_PAIR_STRING("path", path),
                                              SD_JSON_BUILD_PAIR_STRING("relay", relay),
                                              SD_JSON_BUILD_PAIR_STRING("kind", kind),
                                              SD_JSON_BUILD_PAIR_STRING("change", change),
                                              SD_JSON_BUILD_PAIR_VARIANT("removedLines", jr),
                                              SD_JSON_BUILD_PAIR_VARIANT("addedLines", ja));
}

static int diff_relay(Manager *m, const char *name, const char *dir, const char *torrc, const char *network,
                      sd_json_variant **files) {
        _cleanup_free_ char *torrc_path = NULL, *network_path = NULL;
        int r;

        if (relay_torrc_path(m->config.torrc_directory, name, &torrc_path) < 0 ||
            relay_network_path(dir, name, &network_path) < 0)
                return -ENOMEM;
        r = diff_file(torrc_path, name, "torrc", torrc, files);
        if (r >= 0)
                r = diff_file(network_path, name, "network", network, files);
        return r;
}

static int vl_method_diff(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                          void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *files = NULL;
        _cleanup_(strv_freep) char **torrcs = NULL, **networks = NULL;
        _cleanup_free_ char *dir = NULL;
        Manager *m = userdata;
        int r;

        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;
        if (!m->have_config)
                return sd_varlink_error(link, "io.patela.Config.NoConfiguration", NULL);
        dir = dropin_dir(m);
        if (!dir)
                return -ENOMEM;
        r = sd_json_variant_new_array(&files, NULL, 0);
        if (r < 0)
                return r;

        for (size_t i = 0; i < m->n_relays; i++) {
                const Relay *relay = &m->relays[i];

                /* A relay that could not be rendered (no keys, bad torrc) has nothing to compare with. */
                if (!relay->torrc)
                        continue;
                r = diff_relay(m, relay->name, dir, relay->torrc, relay->network, &files);
                if (r < 0)
                        return r;
        }

        /* Files of relays that are no longer in the configuration. */
        r = files_list_ours(m->config.torrc_directory, "", CONFIGD_TORRC_SUFFIX, &torrcs);
        if (r >= 0)
                r = files_list_ours(dir, CONFIGD_NETWORK_PREFIX, CONFIGD_NETWORK_SUFFIX, &networks);
        if (r < 0)
                return r;
        for (char **l = torrcs;; l = networks) {
                for (char **s = l; *s; s++) {
                        bool current = false;

                        for (size_t i = 0; i < m->n_relays; i++)
                                if (streq(m->relays[i].name, *s))
                                        current = true;
                        if (current || (l == networks && strv_contains(torrcs, *s)))
                                continue;
                        r = diff_relay(m, *s, dir, NULL, NULL, &files);
                        if (r < 0)
                                return r;
                }
                if (l == networks)
                        break;
        }
        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_VARIANT("files", files));
}

int configd_bind_methods(sd_varlink_server *s) {
        return sd_varlink_server_bind_method_many(
                        s,
                        "io.patela.Config.GetStatus", vl_method_get_status,
                        "io.patela.Config.Refresh", vl_method_refresh,
                        "io.patela.Config.ShowConfig", vl_method_show_config,
                        "io.patela.Config.Diff", vl_method_diff,
                        "io.patela.Config.VerifyLog", vl_method_verify_log);
}
