/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The second half of a cycle: GET /v1/node/network and /v1/node/relays with the session token, keys from
 * patela-keyd for relays that have none yet (and for every relay when the fleet's family keys changed), then the
 * files: each relay's torrc and networkd drop-in are written, those of relays that went away removed. One bad
 * relay (a name, a torrc, keys that keyd refuses) fails alone; the others are configured. */
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc-util.h"
#include "configd-files.h"
#include "configd-manager.h"
#include "configd-resolver.h"
#include "log.h"
#include "tor-keys.h"
#include "torrc.h"

#define KEYD_TIMEOUT_USEC (300ULL * 1000000ULL) /* first boot: generating and sealing many relays */

static void relays_step_relays(Manager *m);
static void relays_apply(Manager *m);

static void relay_fail(Relay *r, const char *format, ...) _printf_(2, 3);
static void relay_fail(Relay *r, const char *format, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
        r->state = RELAY_FAILED;
        (void) free_and_strdup(&r->error, buf);
        log_error("Relay %s: %s", r->name, buf);
}

static void token_wipe(Manager *m) {
        if (m->token)
                m->token = erase_and_free_sized(m->token, strlen(m->token));
}

static char *network_dropin_dir(const Manager *m) {
        char *s;

        if (asprintf(&s, "%s/%s.d", m->config.network_directory, m->config.network_file) < 0)
                return NULL;
        return s;
}

/* A 401 on a configuration request: the session is gone (the node was disabled, or the token expired).
 * Enrol again, once; a second rejection in the same cycle is a refusal. */
static void handle_refusal(Manager *m, const ServerReply *reply) {
        if (reply->status == 401 && m->reenrolls < 1) {
                m->reenrolls++;
                log_notice("Session token rejected (%s); enrolling again.", reply->error.message);
                token_wipe(m);
                attest_step_enroll(m);
                return;
        }
        if (reply->error.known == PROTO_ERROR_NODE_DISABLED)
                (void) free_and_strdup(&m->node_state, "disabled");
        cycle_finish(m, OUTCOME_REFUSED, reply->error.code, "%s", reply->error.message);
}

static void on_network(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(server_reply_done) ServerReply reply = {};
        ProtoNetwork n = {};
        ProtoDiag diag = {};
        int r;

        r = server_reply_judge(m, response, "Network settings", &reply);
        if (r < 0)
                return;
        if (r > 0) {
                handle_refusal(m, &reply);
                return;
        }
        r = reply.status == 200 ? proto_network_decode(response->body, response->size, &n, &diag) : -EBADMSG;
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Network settings: HTTP %ld: %s", reply.status,
                             diag.message[0] ? diag.message : "unexpected status");
                return;
        }
        proto_network_done(&m->network);
        m->network = n;
        relays_step_relays(m);
}

void relays_step_network(Manager *m) {
        int r;

        manager_set_phase(m, PHASE_CONFIGURING);
        r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_NETWORK), NULL, m->token, on_network, m,
                               &m->request);
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the network settings request: %s", strerror(-r));
}

/* The FamilyIds of the family keys, space-separated, in the server's order: what keyd must report back and what
 * each relay's key directory holds. "" for none. */
static int family_ids_join(const ProtoFamilyKeys *f, char **ret) {
        char buf[PROTO_FAMILY_KEYS_MAX * (TOR_ED25519_ID_LEN + 1) + 1] = "";
        size_t len = 0;

        for (size_t i = 0; i < f->n; i++) {
                char id[TOR_ED25519_ID_LEN + 1];
                int r = tor_family_id(f->keys[i], PROTO_FAMILY_KEY_SIZE, id);

                if (r < 0)
                        return r;
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s", i > 0 ? " " : "", id);
        }
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* Whether word is one of the space-separated words of list. */
static bool word_in(const char *list, const char *word) {
        size_t n = strlen(word);

        for (const char *p = list; p && *p;) {
                size_t k = strcspn(p, " ");
                if (k == n && strneq(p, word, n))
                        return true;
                p += k + (p[k] == ' ');
        }
        return false;
}

/* A FamilyId line whose key the server did not send: tor would refuse to start. The relay keeps its last good
 * files instead, with a reason that says so. */
static void relay_check_family(Relay *r, const char *ids) {
        _cleanup_(torrc_freep) Torrc *t = NULL;

        if (r->state != RELAY_CONFIGURING || torrc_parse(r->server_torrc, strlen(r->server_torrc), &t, NULL) < 0)
                return; /* judged by proto_relay_check() already */
        for (size_t i = 0; i < t->n_entries; i++)
                if (streq(t->entries[i].option->name, "FamilyId") && t->entries[i].value &&
                    !word_in(ids, t->entries[i].value)) {
                        relay_fail(r, "its torrc names FamilyId %s, whose key the server did not send",
                                   t->entries[i].value);
                        return;
                }
}

static bool directory_exists(const char *path) {
        struct stat st;

        /* Unreadable counts as there: keyd's directories belong to the instances' users. */
        return stat(path, &st) >= 0 ? S_ISDIR(st.st_mode) : errno != ENOENT;
}

/* The fetched relays replace the last ones. Keys already in place are kept, so that keyd unseals only for
 * relays that are new (or whose key directory vanished). */
static int relays_update(Manager *m, ProtoRelay *w, size_t n) {
        Relay *relays;

        relays = calloc(n > 0 ? n : 1, sizeof(Relay));
        if (!relays)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                Relay *r = &relays[i];
                ProtoDiag e = {};
                int k;

                k = proto_relay_check(&w[i], &e);
                if (k == -ENOMEM) {
                        relays_free(relays, n);
                        return k;
                }
                *r = (Relay) {
                        .name = TAKE_PTR(w[i].name),
                        .ipv4 = TAKE_PTR(w[i].ipv4),
                        .ipv6 = TAKE_PTR(w[i].ipv6),
                        .server_torrc = TAKE_PTR(w[i].torrc),
                        .state = RELAY_CONFIGURING,
                };
                for (size_t j = 0; j < m->n_relays; j++) {
                        Relay *old = &m->relays[j];

                        if (!streq(old->name, r->name) || !old->key_directory || !directory_exists(old->key_directory))
                                continue;
                        r->key_directory = TAKE_PTR(old->key_directory);
                        r->rsa_fingerprint = TAKE_PTR(old->rsa_fingerprint);
                        r->ed25519_identity = TAKE_PTR(old->ed25519_identity);
                        r->family = TAKE_PTR(old->family);
                }
                if (k < 0)
                        relay_fail(r, "%s", e.message);
        }
        relays_free(m->relays, m->n_relays);
        m->relays = relays;
        m->n_relays = n;
        m->have_config = true;
        m->fetched = now_realtime();
        return 0;
}

static void on_relays(HttpRequest *request, const HttpResponse *response, void *userdata) {
        Manager *m = userdata;
        _cleanup_(http_request_freep) HttpRequest *done = TAKE_PTR(m->request);
        _cleanup_(server_reply_done) ServerReply reply = {};
        _cleanup_(proto_family_keys_done) ProtoFamilyKeys family = {};
        _cleanup_free_ char *ids = NULL;
        ProtoRelay *w = NULL;
        ProtoDiag diag = {};
        size_t n = 0;
        int r;

        r = server_reply_judge(m, response, "Relays", &reply);
        if (r < 0)
                return;
        if (r > 0) {
                handle_refusal(m, &reply);
                return;
        }
        r = reply.status == 200 ? proto_relays_decode(response->body, response->size, &w, &n, &family, &diag)
                                : -EBADMSG;
        if (r >= 0 && family_ids_join(&family, &ids) < 0) {
                proto_relays_free(w, n);
                r = -ENOMEM;
        }
        if (r == -ENOMEM) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        if (r < 0) {
                cycle_finish(m, OUTCOME_UNREACHABLE, NULL, "Relays: HTTP %ld: %s", reply.status,
                             diag.message[0] ? diag.message : "unexpected status");
                return;
        }
        /* Fetched. The session stays for the checks between cycles (configd-check.c) if the cycle ends
         * running; cycle_finish() wipes it otherwise. */
        r = relays_update(m, w, n);
        proto_relays_free(w, n);
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        /* The family keys stay for the keys step of this cycle only (cycle_wipe()). */
        proto_family_keys_done(&m->family);
        m->family = family;
        if (!streq(m->family_ids ?: "", ids))
                log_info("The fleet's family: %s.", ids[0] ? ids : "none released to this node");
        free(m->family_ids);
        m->family_ids = TAKE_PTR(ids);
        for (size_t i = 0; i < m->n_relays; i++)
                relay_check_family(&m->relays[i], m->family_ids);
        log_info("Fetched the configuration of %zu relays.", n);
        state_step_fetch(m);
}

static void relays_step_relays(Manager *m) {
        int r;

        r = http_request_start(m->http, proto_endpoint_path(PROTO_NODE_RELAYS), NULL, m->token, on_relays, m,
                               &m->request);
        if (r < 0)
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot start the relays request: %s", strerror(-r));
}

static size_t keys_batch(const Manager *m) {
        return m->keys_one_by_one ? MIN(m->n_keys_queue, (size_t) 1) : m->n_keys_queue;
}

static void keys_pop(Manager *m, size_t n) {
        memmove(m->keys_queue, m->keys_queue + n, (m->n_keys_queue - n) * sizeof(size_t));
        m->n_keys_queue -= n;
}

static int on_keys(sd_varlink *link, sd_json_variant *parameters, const char *error_id, sd_varlink_reply_flags_t flags,
                   void *userdata);

static void keys_call(Manager *m) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *list = NULL, *p = NULL, *family = NULL;
        sd_json_variant *keys[PROTO_FAMILY_KEYS_MAX] = {};
        size_t n = keys_batch(m);
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                Relay *relay = &m->relays[m->keys_queue[i]];
                _cleanup_free_ char *user = NULL;

                const ProtoRelayState *state = state_find(m, relay->name);

                r = configd_expand_pattern(m->config.relay_user, relay->name, &user);
                /* The sealed state keyd puts back before the instance starts: only for a relay without keys in
                 * place, whose instance has not run in this boot. */
                if (r >= 0)
                        r = sd_json_variant_append_arraybo(
                                        &list, SD_JSON_BUILD_PAIR_STRING("name", relay->name),
                                        SD_JSON_BUILD_PAIR_STRING("user", user),
                                        SD_JSON_BUILD_PAIR_CONDITION(state && !relay->key_directory, "state",
                                                                     SD_JSON_BUILD_BASE64(state ? state->state.data : NULL,
                                                                                          state ? state->state.size : 0)));
        }
        /* The server's family keys, as they are: none is a list too, so that keyd drops what it held. Each key
         * is sensitive from the start, and the array made of them is so too (sd-json passes it on). */
        for (size_t i = 0; r >= 0 && i < m->family.n; i++) {
                r = sd_json_variant_new_base64(&keys[i], m->family.keys[i], PROTO_FAMILY_KEY_SIZE);
                if (r >= 0)
                        sd_json_variant_sensitive(keys[i]);
        }
        if (r >= 0)
                r = sd_json_variant_new_array(&family, keys, m->family.n);
        for (size_t i = 0; i < m->family.n; i++)
                sd_json_variant_unref(keys[i]);
        if (r >= 0)
                r = sd_json_buildo(&p, SD_JSON_BUILD_PAIR_VARIANT("relays", list),
                                   SD_JSON_BUILD_PAIR_VARIANT("familyKeys", family));
        if (r >= 0) {
                /* Wiped when freed, and so is the message sd-varlink makes of it. */
                sd_json_variant_sensitive(family);
                sd_json_variant_sensitive(p);
                r = manager_call(m, m->config.keys_socket, "io.patela.Keys.EnsureRelays", p, /* sensitive= */ true,
                                 KEYD_TIMEOUT_USEC, on_keys);
        }
        if (r < 0) {
                /* keyd cannot be reached: the relays that need keys fail, those with keys go on. */
                for (size_t i = 0; i < m->n_keys_queue; i++)
                        relay_fail(&m->relays[m->keys_queue[i]], "cannot call patela-keyd at %s: %s",
                                   m->config.keys_socket, strerror(-r));
                m->n_keys_queue = 0;
                relays_apply(m);
        }
}

typedef struct KeysReply {
        const char *name;
        const char *rsa_fingerprint;
        const char *ed25519_identity;
        const char *key_directory;
        int created;
        int family_changed;
} KeysReply;

/* keyd's familyIds, space-separated as m->family_ids. */
static int keys_family_ids(sd_json_variant *v, char **ret) {
        sd_json_variant *ids = sd_json_variant_by_key(v, "familyIds");
        char buf[PROTO_FAMILY_KEYS_MAX * (TOR_ED25519_ID_LEN + 1) + 1] = "";
        size_t len = 0;

        if (!ids || !sd_json_variant_is_array(ids) || sd_json_variant_elements(ids) > PROTO_FAMILY_KEYS_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < sd_json_variant_elements(ids); i++) {
                sd_json_variant *e = sd_json_variant_by_index(ids, i);

                if (!sd_json_variant_is_string(e) || strlen(sd_json_variant_string(e)) != TOR_ED25519_ID_LEN)
                        return -EBADMSG;
                len += (size_t) snprintf(buf + len, sizeof(buf) - len, "%s%s", i > 0 ? " " : "",
                                         sd_json_variant_string(e));
        }
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

static int take_keys(Manager *m, sd_json_variant *v, size_t n) {
        static const sd_json_dispatch_field table[] = {
                { "name", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(KeysReply, name), SD_JSON_MANDATORY },
                { "rsaFingerprint", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(KeysReply, rsa_fingerprint), SD_JSON_MANDATORY },
                { "ed25519Identity", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(KeysReply, ed25519_identity), SD_JSON_MANDATORY },
                { "keyDirectory", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(KeysReply, key_directory), SD_JSON_MANDATORY },
                { "created", SD_JSON_VARIANT_BOOLEAN, sd_json_dispatch_intbool, offsetof(KeysReply, created), SD_JSON_NULLABLE },
                { "familyChanged", SD_JSON_VARIANT_BOOLEAN, sd_json_dispatch_intbool, offsetof(KeysReply, family_changed), SD_JSON_NULLABLE },
                {}
        };
        sd_json_variant *list = sd_json_variant_by_key(v, "relays");
        _cleanup_free_ char *family = NULL;
        int r;

        /* keyd wrote the family keys it holds now into each directory: they must be the server's. */
        r = keys_family_ids(v, &family);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !streq(family, m->family_ids ?: "")) {
                for (size_t j = 0; j < n; j++)
                        relay_fail(&m->relays[m->keys_queue[j]], "patela-keyd holds the family keys '%s', not the "
                                   "server's '%s'", r < 0 ? "?" : family, m->family_ids ?: "");
                return 0;
        }

        for (size_t i = 0; list && i < sd_json_variant_elements(list); i++) {
                KeysReply k = { .created = -1, .family_changed = -1 };
                Relay *relay = NULL;

                if (sd_json_dispatch(sd_json_variant_by_index(list, i), table,
                                     SD_JSON_ALLOW_EXTENSIONS | SD_JSON_DEBUG, &k) < 0)
                        continue;
                for (size_t j = 0; j < n; j++)
                        if (streq(m->relays[m->keys_queue[j]].name, k.name))
                                relay = &m->relays[m->keys_queue[j]];
                if (!relay)
                        continue;
                /* The directory goes into a torrc line: the same rules as configured paths. */
                if (!configd_path_ok(k.key_directory, /* pattern= */ false) || strlen(k.rsa_fingerprint) != 40) {
                        relay_fail(relay, "patela-keyd returned an unusable key directory or fingerprint");
                        continue;
                }
                /* patela-tor@.service loads the keys from one directory, fixed when it was built. */
                if (m->config.manage_units) {
                        char want[PATH_MAX];

                        snprintf(want, sizeof(want), "%s/%s", PATELA_KEYS_DIRECTORY, relay->name);
                        if (!streq(k.key_directory, want)) {
                                relay_fail(relay, "patela-keyd keeps its keys in %s, but patela-tor@.service loads them "
                                           "from %s; with ManageUnits=yes they must be the same", k.key_directory,
                                           want);
                                continue;
                        }
                }
                if (free_and_strdup(&relay->key_directory, k.key_directory) < 0 ||
                    free_and_strdup(&relay->rsa_fingerprint, k.rsa_fingerprint) < 0 ||
                    free_and_strdup(&relay->ed25519_identity, k.ed25519_identity) < 0 ||
                    free_and_strdup(&relay->family, family) < 0)
                        return -ENOMEM;
                /* A running tor has its own copy of the key files, made when it started. */
                relay->restart = k.family_changed > 0;
                log_info("Relay %s: keys %s, fingerprint %s.", relay->name,
                         k.created > 0 ? "generated and sealed" : "unsealed", relay->rsa_fingerprint);
        }
        for (size_t j = 0; j < n; j++) {
                Relay *relay = &m->relays[m->keys_queue[j]];
                if (relay->state == RELAY_CONFIGURING && !relay->key_directory)
                        relay_fail(relay, "patela-keyd returned no keys for it");
        }
        return 0;
}

static int on_keys(sd_varlink *link, sd_json_variant *parameters, const char *error_id, sd_varlink_reply_flags_t flags,
                   void *userdata) {
        Manager *m = userdata;
        size_t n = keys_batch(m);
        char buf[512];

        if (error_id) {
                varlink_error_format(error_id, parameters, buf, sizeof(buf));
                if (streq(error_id, "io.patela.Keys.StateRejected") && m->states.n_relays > 0) {
                        /* The relays come up without their history rather than not at all. */
                        log_warning("patela-keyd refused a relay's saved tor state (%s); starting without the saved "
                                    "states.", buf);
                        proto_relay_states_done(&m->states);
                        manager_call_done(m);
                        keys_call(m);
                        return 0;
                }
                if (!m->keys_one_by_one && n > 1) {
                        /* One relay can spoil a batch (a user that does not exist…): ask for each alone. */
                        log_warning("patela-keyd EnsureRelays for %zu relays failed (%s); asking for each relay alone.",
                                    n, buf);
                        m->keys_one_by_one = true;
                        manager_call_done(m);
                        keys_call(m);
                        return 0;
                }
                for (size_t i = 0; i < n; i++)
                        relay_fail(&m->relays[m->keys_queue[i]], "patela-keyd: %s", buf);
        } else if (take_keys(m, parameters, n) < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return 0;
        }
        keys_pop(m, n);
        manager_call_done(m);
        if (m->n_keys_queue > 0)
                keys_call(m);
        else
                relays_apply(m);
        return 0;
}

void relays_step_keys(Manager *m) {
        free(m->keys_queue);
        m->keys_queue = calloc(m->n_relays > 0 ? m->n_relays : 1, sizeof(size_t));
        if (!m->keys_queue) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        m->n_keys_queue = 0;
        m->keys_one_by_one = false;
        /* Relays without keys in place, and those whose key directory holds another family than the server's. */
        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == RELAY_CONFIGURING &&
                    (!m->relays[i].key_directory || !streq(m->relays[i].family ?: "?", m->family_ids ?: "")))
                        m->keys_queue[m->n_keys_queue++] = i;
        if (m->n_keys_queue == 0)
                relays_apply(m);
        else
                keys_call(m);
}

/* The addresses already in a networkd drop-in of this cycle: an address that several relays share (the server
 * puts up to RelaysPerAddress= relays on one) is configured once, in the drop-in of the first relay that carries
 * it, and its routing rule with it; removing one of those relays leaves it to the next. The strings are the
 * relays'. */
typedef struct Claimed {
        const char **addresses;
        size_t n;
} Claimed;

static bool claimed_has(const Claimed *c, const char *address) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->addresses[i], address))
                        return true;
        return false;
}

static void claim(Claimed *c, const char *address) {
        /* Room for two addresses per relay was made by the caller. */
        if (address && !claimed_has(c, address))
                c->addresses[c->n++] = address;
}

/* A failed relay keeps the files of its last good configuration: the addresses its drop-in names stay there,
 * and no other relay's drop-in names them again. */
static void claim_kept(Manager *m, const Relay *r, const char *dropin_dir, Claimed *c) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *const addresses[] = { r->ipv4, r->ipv6 };

        if (relay_network_path(dropin_dir, r->name, &path) < 0 || file_read(path, &text) < 0)
                return;
        for (size_t i = 0; i < ELEMENTSOF(addresses); i++) {
                _cleanup_free_ char *line = NULL;

                if (addresses[i] && asprintf(&line, "\nAddress=%s/", addresses[i]) >= 0 && strstr(text, line))
                        claim(c, addresses[i]);
        }
}

/* Writes one relay's files, its drop-in with those of its addresses that no relay before it claimed. Returns
 * whether the networkd drop-in changed. */
static bool relay_write(Manager *m, Relay *r, const char *dropin_dir, Claimed *claimed) {
        _cleanup_free_ char *data = NULL, *keys = NULL, *torrc = NULL, *network = NULL, *torrc_path = NULL,
                            *network_path = NULL;
        const char *ipv4 = r->ipv4 && !claimed_has(claimed, r->ipv4) ? r->ipv4 : NULL,
                   *ipv6 = r->ipv6 && !claimed_has(claimed, r->ipv6) ? r->ipv6 : NULL;
        int k, w;

        if (configd_expand_pattern(m->config.data_directory, r->name, &data) < 0 ||
            configd_expand_pattern(isempty(m->config.key_directory) ? r->key_directory : m->config.key_directory,
                                   r->name, &keys) < 0 ||
            relay_torrc_render(r->name, m->config.server_url, r->server_torrc, keys, data, CONFIGD_TOR_RESOLV_CONF,
                               &torrc) < 0 ||
            relay_network_render(r->name, ipv4, m->network.ipv4_prefix_length, ipv6, m->network.ipv6_prefix_length,
                                 m->network.ipv4_gateway, m->network.ipv6_gateway, m->config.route_table,
                                 &network) < 0 ||
            relay_torrc_path(m->config.torrc_directory, r->name, &torrc_path) < 0 ||
            relay_network_path(dropin_dir, r->name, &network_path) < 0) {
                relay_fail(r, "out of memory");
                return false;
        }
        free(r->torrc);
        r->torrc = TAKE_PTR(torrc);
        free(r->network);
        r->network = TAKE_PTR(network);

        w = file_write_atomic(torrc_path, r->torrc);
        if (w < 0) {
                relay_fail(r, "cannot write %s: %s", torrc_path, strerror(-w));
                return false;
        }
        k = r->network ? file_write_atomic(network_path, r->network) : file_remove_ours(network_path);
        if (k < 0) {
                relay_fail(r, "cannot %s %s: %s", r->network ? "write" : "remove", network_path, strerror(-k));
                return false;
        }
        claim(claimed, ipv4);
        claim(claimed, ipv6);
        r->files_changed = w > 0 || k > 0;
        r->state = RELAY_APPLIED;
        (void) free_and_strdup(&r->error, NULL);
        if (r->files_changed)
                log_info("Relay %s: wrote %s%s%s.", r->name, torrc_path, r->network ? " and " : "",
                         r->network ? network_path : "");
        return k > 0;
}

/* Removes the files of a relay that is gone. Returns whether a networkd drop-in was removed. */
static bool relay_remove_files(Manager *m, const char *name, const char *dropin_dir) {
        _cleanup_free_ char *torrc_path = NULL, *network_path = NULL;
        int a, b;

        if (relay_torrc_path(m->config.torrc_directory, name, &torrc_path) < 0 ||
            relay_network_path(dropin_dir, name, &network_path) < 0) {
                log_oom();
                return false;
        }
        a = file_remove_ours(torrc_path);
        if (a < 0)
                log_error_errno(a, "Failed to remove %s: %m", torrc_path);
        b = file_remove_ours(network_path);
        if (b < 0)
                log_error_errno(b, "Failed to remove %s: %m", network_path);
        if (a > 0 || b > 0)
                log_info("Relay %s: removed its files.", name);
        return b > 0;
}

/* Relay names of configd's files on disk that are not in keep (NULL: all). */
static int files_gone(Manager *m, const char *dropin_dir, bool keep_current, char ***ret) {
        _cleanup_(strv_freep) char **torrcs = NULL, **networks = NULL, **gone = NULL;
        size_t n = 0;
        int r;

        r = files_list_ours(m->config.torrc_directory, "", CONFIGD_TORRC_SUFFIX, &torrcs);
        if (r >= 0)
                r = files_list_ours(dropin_dir, CONFIGD_NETWORK_PREFIX, CONFIGD_NETWORK_SUFFIX, &networks);
        if (r < 0)
                return r;
        gone = calloc(strv_length(torrcs) + strv_length(networks) + m->n_relays + 1, sizeof(char *));
        if (!gone)
                return -ENOMEM;
        for (char **l = torrcs;; l = networks) {
                for (char **s = l; *s; s++) {
                        bool current = false;
                        for (size_t i = 0; i < m->n_relays; i++)
                                if (streq(m->relays[i].name, *s))
                                        current = true;
                        if ((current && keep_current) || strv_contains(gone, *s))
                                continue;
                        gone[n] = strdup(*s);
                        if (!gone[n])
                                return -ENOMEM;
                        n++;
                }
                if (l == networks)
                        break;
        }
        if (!keep_current)
                for (size_t i = 0; i < m->n_relays; i++)
                        if (!strv_contains(gone, m->relays[i].name)) {
                                gone[n] = strdup(m->relays[i].name);
                                if (!gone[n])
                                        return -ENOMEM;
                                n++;
                        }
        *ret = TAKE_PTR(gone);
        return 0;
}

/* The routes drop-in: the server's gateways, while an applied relay has an address of that family. Returns
 * whether it changed (networkd must reload), or a negative errno. */
static int routes_write(Manager *m, const char *dropin_dir) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        bool v4 = false, v6 = false;
        int r;

        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == RELAY_APPLIED) {
                        v4 = v4 || m->relays[i].ipv4;
                        v6 = v6 || m->relays[i].ipv6;
                }
        if (relay_file_path(dropin_dir, "", CONFIGD_ROUTES_FILE, "", &path) < 0 ||
            routes_network_render(v4 ? m->network.ipv4_gateway : NULL, v6 ? m->network.ipv6_gateway : NULL,
                                  m->config.route_table, &text) < 0)
                return -ENOMEM;
        r = text ? file_write_atomic(path, text) : file_remove_ours(path);
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %m", text ? "write" : "remove", path);
        if (r > 0)
                log_info("%s %s.", text ? "Wrote" : "Removed", path);
        return r > 0;
}

/* The uplink drop-in: the server's Interface (the link the relays' addresses go on) and DNS (the node's own
 * resolution), while there is a relay; an Interface the node does not have is not written, or the uplink's file
 * would match no link and the node would lose its own address with the relays'. Returns whether it changed. */
static int uplink_write(Manager *m, const char *dropin_dir, bool have_relays) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        const char *interface = have_relays ? m->network.interface : NULL;
        int r;

        if (interface && if_nametoindex(interface) == 0) {
                log_warning("The server's Interface=%s names no link of this node: the relays' addresses stay on "
                            "every link the uplink's .network file matches.", interface);
                interface = NULL;
        }
        if (relay_file_path(dropin_dir, "", CONFIGD_UPLINK_FILE, "", &path) < 0 ||
            uplink_network_render(interface, m->network.dns, have_relays ? m->network.n_dns : 0, &text) < 0)
                return -ENOMEM;
        r = text ? file_write_atomic(path, text) : file_remove_ours(path);
        if (r < 0)
                return log_error_errno(r, "Failed to %s %s: %m", text ? "write" : "remove", path);
        if (r > 0)
                log_info("%s %s.", text ? "Wrote" : "Removed", path);
        return r > 0;
}

static void relays_apply(Manager *m) {
        _cleanup_(strv_freep) char **gone = NULL, **relay_addresses = NULL;
        _cleanup_free_ char *dropin_dir = network_dropin_dir(m);
        _cleanup_free_ const char **addresses = calloc(2 * m->n_relays + 1, sizeof(char *));
        Claimed claimed = { .addresses = addresses };
        bool network_changed = false;
        int r;

        manager_call_done(m);
        if (!dropin_dir || !addresses) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Out of memory");
                return;
        }
        /* Before any drop-in changes: the addresses of relays that go away now are still on the link a moment. */
        r = resolver_relay_addresses(m, dropin_dir, &relay_addresses);
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot list the relays' addresses in %s: %s", dropin_dir,
                             strerror(-r));
                return;
        }
        /* A relay that failed keeps the files of its last good configuration, if it has any. The others are
         * written in the server's order, so each shared address stays in the drop-in of the same relay (the
         * first that carries it) from one cycle to the next. */
        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == RELAY_FAILED)
                        claim_kept(m, &m->relays[i], dropin_dir, &claimed);
        for (size_t i = 0; i < m->n_relays; i++)
                if (m->relays[i].state == RELAY_CONFIGURING && relay_write(m, &m->relays[i], dropin_dir, &claimed))
                        network_changed = true;

        r = files_gone(m, dropin_dir, /* keep_current= */ true, &gone);
        if (r < 0) {
                cycle_finish(m, OUTCOME_FAILED, NULL, "Cannot list %s or %s: %s", m->config.torrc_directory,
                             dropin_dir, strerror(-r));
                return;
        }
        for (char **s = gone; *s; s++)
                if (relay_remove_files(m, *s, dropin_dir))
                        network_changed = true;
        if (routes_write(m, dropin_dir) > 0)
                network_changed = true;
        if (uplink_write(m, dropin_dir, relays_count(m, RELAY_APPLIED) > 0) > 0)
                network_changed = true;
        /* The resolver learns the node's own addresses before networkd is asked to add the relays' (a fresh boot
         * has none of them yet): its reload is queued first. */
        (void) resolver_update(m, relay_addresses);

        (void) relays_apply_units(m, gone, network_changed, /* at_once= */ false);
        fingerprints_step_report(m);
}

void relays_finish(Manager *m) {
        char failures[800] = "";
        size_t len = 0;

        for (size_t i = 0; i < m->n_relays && len < sizeof(failures); i++)
                if (m->relays[i].state == RELAY_FAILED)
                        len += (size_t) snprintf(failures + len, sizeof(failures) - len, "%s%s: %s", len ? "; " : "",
                                                 m->relays[i].name, m->relays[i].error ?: "?");
        cycle_finish(m, OUTCOME_RUNNING, NULL, "%s", failures);
}

static int on_key_files_dropped(sd_varlink *link, sd_json_variant *parameters, const char *error_id,
                                sd_varlink_reply_flags_t flags, void *userdata) {
        Manager *m = userdata;
        char buf[512];

        if (error_id) {
                varlink_error_format(error_id, parameters, buf, sizeof(buf));
                log_error("patela-keyd could not remove the relays' key files: %s", buf);
        } else
                log_info("patela-keyd removed the key files of %zu relays.",
                         sd_json_variant_elements(sd_json_variant_by_key(parameters, "dropped")));
        m->drop_link = sd_varlink_flush_close_unref(m->drop_link);
        return 0;
}

/* The relays' key files go from tmpfs at once: a refused node keeps its keys sealed in the TPM, nothing
 * else. A call of its own, so that the next cycle's calls do not cut it short. */
static int drop_key_files(Manager *m) {
        _cleanup_(sd_varlink_flush_close_unrefp) sd_varlink *link = NULL;
        int r;

        m->drop_link = sd_varlink_flush_close_unref(m->drop_link);
        r = sd_varlink_connect_address(&link, m->config.keys_socket);
        if (r < 0)
                return r;
        sd_varlink_set_userdata(link, m);
        r = sd_varlink_set_relative_timeout(link, KEYD_TIMEOUT_USEC);
        if (r >= 0)
                r = sd_varlink_bind_reply(link, on_key_files_dropped);
        if (r >= 0)
                r = sd_varlink_attach_event(link, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_varlink_invoke(link, "io.patela.Keys.DropKeyFiles", NULL);
        if (r < 0)
                return r;
        m->drop_link = TAKE_PTR(link);
        return 0;
}

void relays_teardown(Manager *m) {
        _cleanup_(strv_freep) char **gone = NULL;
        _cleanup_free_ char *dropin_dir = network_dropin_dir(m);
        bool network_changed = false;
        int r;

        if (!dropin_dir) {
                log_oom();
                return;
        }
        r = files_gone(m, dropin_dir, /* keep_current= */ false, &gone);
        if (r < 0)
                log_error_errno(r, "Failed to list the relays' files: %m");
        for (char **s = gone; s && *s; s++)
                if (relay_remove_files(m, *s, dropin_dir))
                        network_changed = true;

        /* The keys stay sealed in the TPM (keyd): a re-enabled node gets its relays back unchanged. Their files
         * go. */
        r = drop_key_files(m);
        if (r < 0)
                log_error_errno(r, "Cannot ask patela-keyd at %s to remove the relays' key files: %m",
                                m->config.keys_socket);
        relays_free(m->relays, m->n_relays);
        m->relays = NULL;
        m->n_relays = 0;
        m->have_config = false;
        /* Enabled again, the node reports its relays' fingerprints anew, whatever the server kept meanwhile. */
        free(m->fingerprints_reported);
        m->fingerprints_reported = NULL;
        proto_network_done(&m->network);
        proto_family_keys_done(&m->family);
        free(m->family_ids);
        m->family_ids = NULL;
        if (routes_write(m, dropin_dir) > 0)
                network_changed = true;
        if (uplink_write(m, dropin_dir, /* have_relays= */ false) > 0)
                network_changed = true;

        /* With no relay left, this only stops: nothing is started again. */
        if (gone || network_changed)
                (void) relays_apply_units(m, gone, network_changed, /* at_once= */ true);
}
