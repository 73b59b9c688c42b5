/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server-render.h"
#include "server-json.h"

int torrc_level_load(Db *db, const ConfigScope *scope, Torrc **ret) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        ConfigOp *ops = NULL;
        size_t n = 0;
        int r;

        r = torrc_new(&t);
        if (r < 0)
                return r;
        r = config_ops_load(db, scope, KIND_TORRC, &ops, &n);
        if (r < 0)
                return r;
        /* Stored entries were valid when saved; a tor upgrade may have dropped an option since. */
        for (size_t i = 0; i < n && r >= 0; i++)
                r = ops[i].op == OP_SET      ? torrc_set(t, ops[i].key, ops[i].value, NULL)
                    : ops[i].op == OP_APPEND ? torrc_append(t, ops[i].key, ops[i].value, NULL)
                                             : torrc_unset(t, ops[i].key, NULL);
        config_ops_free(ops, n);
        if (r < 0)
                return -EBADMSG;
        *ret = TAKE_PTR(t);
        return 0;
}

int torrc_level_save(Db *db, const ConfigScope *scope, const Torrc *t) {
        int r;

        r = config_ops_clear(db, scope, KIND_TORRC, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_entries; i++) {
                const TorrcEntry *e = &t->entries[i];
                ConfigOpType op = e->op == TORRC_OP_SET ? OP_SET : e->op == TORRC_OP_APPEND ? OP_APPEND : OP_UNSET;

                r = config_op_insert(db, scope, KIND_TORRC, op, e->option->name, e->value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int forced_level(const Relay *relay, const FamilyIds *family, Torrc **ret) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        char buf[128];
        int r;

        r = torrc_new(&t);
        if (r < 0)
                return r;
        r = torrc_set(t, "Nickname", relay->name, NULL);
        /* The relay's ORPort on its own addresses with its own port (an address carries up to
         * RelaysPerAddress= relays, each on another port), and its outgoing traffic from them too: tor
         * otherwise picks the host's primary address, shared by all relays of the node. */
        if (r >= 0 && relay->ipv4[0]) {
                snprintf(buf, sizeof(buf), "%s:%u", relay->ipv4, relay->or_port);
                r = torrc_set(t, "ORPort", buf, NULL);
                if (r >= 0)
                        r = torrc_set(t, "Address", relay->ipv4, NULL);
                if (r >= 0)
                        r = torrc_set(t, "OutboundBindAddress", relay->ipv4, NULL);
        } else if (r >= 0) {
                snprintf(buf, sizeof(buf), "%u", relay->or_port);
                r = torrc_set(t, "ORPort", buf, NULL);
        }
        if (r >= 0 && relay->ipv6[0]) {
                snprintf(buf, sizeof(buf), "[%s]:%u", relay->ipv6, relay->or_port);
                r = torrc_append(t, "ORPort", buf, NULL);
                if (r >= 0) {
                        snprintf(buf, sizeof(buf), "[%s]", relay->ipv6);
                        r = relay->ipv4[0] ? torrc_append(t, "OutboundBindAddress", buf, NULL)
                                           : torrc_set(t, "OutboundBindAddress", buf, NULL);
                }
        }
        /* Metrics for the node's own reader (configd, issue 13), never beyond the node: tor's MetricsPort on
         * loopback, one port per relay, and a policy that admits loopback alone. Forced: no level can move or
         * open it. */
        if (r >= 0) {
                snprintf(buf, sizeof(buf), "127.0.0.1:%u", METRICS_PORT_BASE + relay->slot);
                r = torrc_set(t, "MetricsPort", buf, NULL);
        }
        if (r >= 0)
                r = torrc_set(t, "MetricsPortPolicy", "accept 127.0.0.1", NULL);
        if (r >= 0)
                r = torrc_append(t, "MetricsPortPolicy", "reject *", NULL);
        /* The fleet's family: a FamilyId line for each published key, for a node the keys are released to. For
         * any other node none, not even a level's own: no node holds a key but the fleet's, and tor refuses to
         * start on a FamilyId whose key it lacks. */
        for (size_t i = 0; r >= 0 && family && i < family->n; i++)
                r = i == 0 ? torrc_set(t, "FamilyId", family->ids[i], NULL) : torrc_append(t, "FamilyId", family->ids[i], NULL);
        if (r >= 0 && (!family || family->n == 0))
                r = torrc_unset(t, "FamilyId", NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

/* Whether any line of the merged torrc is in the list of this option (SocksPort: SocksPort and __SocksPort). */
static bool merged_has_list(const TorrcMerged *m, const char *name) {
        const TorOption *list = tor_option_group(tor_option_find(name));

        assert(list);
        for (size_t i = 0; i < m->n_lines; i++)
                if (tor_option_group(m->lines[i].option) == list)
                        return true;
        return false;
}

int render_relay_torrc(Db *db, const Node *node, const Relay *relay, const FamilyIds *family, char **ret_torrc,
                       TorrcMerged **ret_merged) {
        _cleanup_(torrc_freep) Torrc *def = NULL, *nod = NULL, *rel = NULL, *forced = NULL;
        _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
        const ConfigScope s_def = { .level = LEVEL_DEFAULT }, s_node = { .level = LEVEL_NODE, .node_id = node->id },
                          s_relay = { .level = LEVEL_RELAY, .relay_id = relay->id };
        int r;

        if ((r = torrc_level_load(db, &s_def, &def)) < 0 || (r = torrc_level_load(db, &s_node, &nod)) < 0 ||
            (r = torrc_level_load(db, &s_relay, &rel)) < 0 || (r = forced_level(relay, family, &forced)) < 0)
                return r;

        const Torrc *const levels[_TORRC_LEVEL_MAX] = { def, nod, rel, forced };
        r = torrc_merge(levels, &m);
        if (r < 0)
                return r;
        /* A relay opens no SocksPort unless a level gives it one: tor's default, 127.0.0.1:9050, is one port for
         * every relay of the node, and all but the first tor would fail to start (with the network on; found by
         * the nspawn test with 8 relays). Forced only where no level says anything, so a SocksPort that an
         * operator gives a relay (on loopback: configd's policy) stays. */
        if (!merged_has_list(m, "SocksPort")) {
                r = torrc_set(forced, "SocksPort", "0", NULL);
                if (r < 0)
                        return r;
                m = torrc_merged_free(m);
                r = torrc_merge(levels, &m);
                if (r < 0)
                        return r;
        }
        if (ret_torrc) {
                r = torrc_merged_render(m, ret_torrc);
                if (r < 0)
                        return r;
        }
        if (ret_merged)
                *ret_merged = TAKE_PTR(m);
        return 0;
}

int settings_resolve(Db *db, int64_t node_id, int64_t relay_id, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        ConfigOp *ops = NULL;
        size_t n = 0;
        int r;

        if (!o)
                return -ENOMEM;
        r = config_ops_load_cascade(db, node_id, relay_id, KIND_SETTING, &ops, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *key = ops[i].key;
                json_object *cur = NULL;

                if (ops[i].op == OP_UNSET) {
                        json_object_object_del(o, key);
                        continue;
                }
                if (!setting_accumulates(key)) {
                        json_object_object_add(o, key, json_object_new_string(ops[i].value));
                        continue;
                }
                if (ops[i].op == OP_SET || !json_object_object_get_ex(o, key, &cur)) {
                        cur = json_object_new_array();
                        json_object_object_add(o, key, cur);
                }
                json_object_array_add(cur, json_object_new_string(ops[i].value));
        }
        config_ops_free(ops, n);
        *ret = TAKE_PTR(o);
        return 0;
}
