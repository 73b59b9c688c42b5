/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Admin verbs on the configuration cascade: torrc import/get/set/append/unset/clear/render, node settings,
 * and diff (render and diff show the fleet's FamilyId lines as the node API renders them for the node). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "server-cli.h"
#include "server-render.h"
#include "server-json.h"
#include "string-util.h"

/* "default" | "node --id N" | "--id N" | "relay --id NAME", starting at argv[*i]; advances *i. */
static int parse_scope(Cli *cli, int argc, char **argv, int *i, ConfigScope *ret) {
        const char *what = *i < argc ? argv[*i] : NULL;
        Db *db;
        int r;

        if (!what)
                return log_error_errno(EINVAL, "Missing level: default, node --id N or relay --id NAME.");
        if (streq(what, "default")) {
                (*i)++;
                *ret = (ConfigScope) { .level = LEVEL_DEFAULT };
                return 0;
        }
        if (streq(what, "node") || streq(what, "relay"))
                (*i)++;
        else if (!streq(what, "--id"))
                return log_error_errno(EINVAL, "Unknown level '%s': default, node --id N or relay --id NAME.", what);
        if (*i + 1 >= argc || !streq(argv[*i], "--id"))
                return log_error_errno(EINVAL, "Expected --id after '%s'.", what);

        r = cli_db(cli, &db);
        if (r < 0)
                return r;
        if (streq(what, "relay")) {
                Relay relay;
                r = relay_get_by_name(db, argv[*i + 1], &relay);
                if (r == -EINVAL)
                        return log_error_errno(r, "'%s' is not a relay name (1-19 letters and digits).", argv[*i + 1]);
                if (r < 0)
                        return log_error_errno(r, "No relay '%s'.", argv[*i + 1]);
                *ret = (ConfigScope) { .level = LEVEL_RELAY, .relay_id = relay.id };
        } else {
                Node node;
                r = node_get_by_ref(db, argv[*i + 1], &node);
                if (r < 0)
                        return log_error_errno(r == -EINVAL ? r : -ENOENT, "No node '%s'.", argv[*i + 1]);
                *ret = (ConfigScope) { .level = LEVEL_NODE, .node_id = node.id };
        }
        *i += 2;
        return 0;
}

/* The FamilyIds a node's relays get now, as the node API renders them: the published keys' if the node's last
 * attestation was Trusted on an image in service, none otherwise (said once, when a family exists). *ret_family
 * is NULL or ids. */
static int node_family(Db *db, const Node *node, FamilyIds *ids, const FamilyIds **ret_family) {
        int r, released = 0;

        r = family_published(db, ids, NULL);
        if (r >= 0)
                r = released = family_released(db, node->id);
        if (r < 0)
                return log_error_errno(r, "Failed to read the fleet's family keys: %m");
        if (!released && ids->n > 0)
                log_notice("Node %" PRIi64 " gets no FamilyId line: the family keys go only to a node whose last "
                           "attestation was judged Trusted on an image in service.", node->id);
        *ret_family = released ? ids : NULL;
        return 0;
}

static int read_input(const char *path, char **ret, size_t *ret_size) {
        if (!streq(path, "-"))
                return read_full_file(path, TORRC_SIZE_MAX, (void **) ret, ret_size);
        return read_full_file("/dev/stdin", TORRC_SIZE_MAX, (void **) ret, ret_size);
}

typedef struct SaveLevel {
        const ConfigScope *scope;
        const Torrc *t;
} SaveLevel;

static int save_level_tx(Db *db, void *userdata) {
        const SaveLevel *l = userdata;
        return torrc_level_save(db, l->scope, l->t);
}

static int save_level(Cli *cli, const ConfigScope *scope, const Torrc *t) {
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r < 0)
                return r;
        return db_transaction(db, save_level_tx, &(SaveLevel) { scope, t });
}

int verb_torrc(Cli *cli, int argc, char **argv) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *text = NULL;
        const char *sub = argc > 1 ? argv[1] : "";
        TorrcError err = {};
        ConfigScope scope;
        size_t size;
        int i = 2, r;
        Db *db;

        if (streq(sub, "import")) {
                if (argc < 4)
                        return log_error_errno(EINVAL, "Usage: torrc import FILE|- default|node --id N|relay --id NAME"),
                               EXIT_USAGE;
                i = 3;
                r = parse_scope(cli, argc, argv, &i, &scope);
                if (r < 0 || i != argc)
                        return r < 0 ? cli_exit_status(r) : (log_error("Trailing arguments."), EXIT_USAGE);
                r = read_input(argv[2], &text, &size);
                if (r == -E2BIG)
                        return log_error_errno(r, "%s is larger than %u bytes.", argv[2], TORRC_SIZE_MAX), EXIT_USAGE;
                if (r < 0)
                        return log_error_errno(r, "Failed to read %s: %m", argv[2]), cli_exit_status(r);
                r = torrc_parse(text, size, &t, &err);
                if (r < 0)
                        return log_error_errno(r, "%s:%u: %s", argv[2], err.line, err.message), EXIT_USAGE;
                r = save_level(cli, &scope, t);
                if (r < 0)
                        return log_error_errno(r, "Failed to store the torrc: %m"), EXIT_FAILURE;
                log_info("Imported %zu entries into the %s level.", t->n_entries, config_level_to_string(scope.level));
                return EXIT_SUCCESS;
        }

        if (streq(sub, "render")) {
                _cleanup_free_ char *out = NULL;
                const FamilyIds *family = NULL;
                FamilyIds ids;
                Relay relay;
                Node node;

                if (argc != 4 || !streq(argv[2], "--relay"))
                        return log_error_errno(EINVAL, "Usage: torrc render --relay NAME"), EXIT_USAGE;
                r = cli_db(cli, &db);
                if (r >= 0)
                        r = relay_get_by_name(db, argv[3], &relay);
                if (r >= 0)
                        r = node_get(db, relay.node_id, &node);
                if (r < 0)
                        return log_error_errno(r, "No relay '%s'.", argv[3]), cli_exit_status(r == -EINVAL ? r : -ENOENT);
                r = node_family(db, &node, &ids, &family);
                if (r < 0)
                        return EXIT_FAILURE;
                r = render_relay_torrc(db, &node, &relay, family, &out, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to render: %m"), EXIT_FAILURE;
                if (cli->json) {
                        json_object *o = json_object_new_object();
                        json_object_object_add(o, "relay", json_object_new_string(relay.name));
                        json_object_object_add(o, "torrc", json_object_new_string(out));
                        cli_print_json(o);
                } else
                        fputs(out, stdout);
                return EXIT_SUCCESS;
        }

        /* get|set|append|unset|clear [NAME [VALUE]] SCOPE */
        const char *name = NULL, *value = NULL;
        bool wants_value = streq(sub, "set") || streq(sub, "append");
        bool wants_name = wants_value || streq(sub, "unset") || streq(sub, "clear");

        if (!wants_name && !streq(sub, "get"))
                return log_error_errno(EINVAL, "Unknown torrc verb '%s'.", sub), EXIT_USAGE;
        if (wants_name) {
                if (i >= argc)
                        return log_error_errno(EINVAL, "Missing option name."), EXIT_USAGE;
                name = argv[i++];
        }
        if (wants_value) {
                if (i >= argc)
                        return log_error_errno(EINVAL, "Missing value."), EXIT_USAGE;
                value = argv[i++];
        }
        r = parse_scope(cli, argc, argv, &i, &scope);
        if (r < 0)
                return cli_exit_status(r);
        if (i != argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;

        r = cli_db(cli, &db);
        if (r >= 0)
                r = torrc_level_load(db, &scope, &t);
        if (r < 0)
                return log_error_errno(r, "Failed to load the level: %m"), EXIT_FAILURE;

        if (streq(sub, "get")) {
                if (cli->json) {
                        json_object *arr = json_object_new_array();
                        for (size_t k = 0; k < t->n_entries; k++) {
                                json_object *o = json_object_new_object();
                                const TorrcEntry *e = &t->entries[k];
                                json_object_object_add(o, "op", json_object_new_string(
                                        e->op == TORRC_OP_SET ? "set" : e->op == TORRC_OP_APPEND ? "append" : "unset"));
                                json_object_object_add(o, "option", json_object_new_string(e->option->name));
                                json_object_object_add(o, "value", e->value ? json_object_new_string(e->value) : NULL);
                                json_object_array_add(arr, o);
                        }
                        cli_print_json(arr);
                        return EXIT_SUCCESS;
                }
                r = torrc_render(t, &text);
                if (r < 0)
                        return EXIT_FAILURE;
                fputs(text, stdout);
                return EXIT_SUCCESS;
        }

        r = streq(sub, "set")      ? torrc_set(t, name, value, &err)
            : streq(sub, "append") ? torrc_append(t, name, value, &err)
            : streq(sub, "unset")  ? torrc_unset(t, name, &err)
                                   : torrc_remove(t, name, &err);
        if (r < 0)
                return log_error_errno(r, "%s", err.message[0] ? err.message : "invalid option"), EXIT_USAGE;
        r = save_level(cli, &scope, t);
        if (r < 0)
                return log_error_errno(r, "Failed to store the torrc: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}

typedef struct StoreSetting {
        const char *verb;
        const ConfigScope *scope;
        const char *key, *value;
} StoreSetting;

static int store_setting_tx(Db *db, void *userdata) {
        const StoreSetting *s = userdata;

        if (streq(s->verb, "clear"))
                return config_ops_clear(db, s->scope, KIND_SETTING, s->key);
        if (streq(s->verb, "unset"))
                return config_op_record(db, s->scope, KIND_SETTING, OP_UNSET, s->key, NULL);
        /* "set" on an accumulating setting (DNS) adds a server; "node clear DNS" starts over. */
        return config_op_record(db, s->scope, KIND_SETTING, setting_accumulates(s->key) ? OP_APPEND : OP_SET, s->key,
                                s->value);
}

int node_setting_verb(Cli *cli, int argc, char **argv);
int node_setting_verb(Cli *cli, int argc, char **argv) {
        const char *sub = argv[0], *key, *value = NULL, *canonical = NULL;
        _cleanup_(json_object_putp) json_object *resolved = NULL;
        ConfigScope scope;
        int i = 1, r;
        Db *db;

        if (i >= argc)
                return log_error_errno(EINVAL, "Usage: node %s KEY%s default|--id N", sub,
                                       streq(sub, "set") ? " VALUE" : ""), EXIT_USAGE;
        key = argv[i++];
        if (streq(sub, "set")) {
                if (i >= argc)
                        return log_error_errno(EINVAL, "Missing value."), EXIT_USAGE;
                value = argv[i++];
        }
        r = parse_scope(cli, argc, argv, &i, &scope);
        if (r < 0)
                return cli_exit_status(r);
        if (i != argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;

        r = setting_validate(key, value, &canonical);
        if (r == -ENOENT)
                return log_error_errno(r, "Unknown setting '%s' (Interface, IPv4Gateway, IPv6Gateway, IPv4PrefixLength, "
                                       "IPv6PrefixLength, DNS).", key), EXIT_USAGE;
        if (r == -EPERM)
                return log_error_errno(r, "ORPort is not a setting any more: each relay's ORPort is allocated from "
                                       "ORPortRange= (patela-server.conf(5)); 'list relays' shows them."), EXIT_USAGE;
        if (r < 0)
                return log_error_errno(r, "Invalid value '%s' for %s.", value, canonical), EXIT_USAGE;

        r = cli_db(cli, &db);
        if (r < 0)
                return cli_exit_status(r);

        if (streq(sub, "get")) {
                json_object *v;
                r = settings_resolve(db, scope.level == LEVEL_NODE ? scope.node_id : -1,
                                     scope.level == LEVEL_RELAY ? scope.relay_id : -1, &resolved);
                if (r < 0)
                        return EXIT_FAILURE;
                if (!json_object_object_get_ex(resolved, canonical, &v))
                        return log_error_errno(ENOENT, "%s is not set.", canonical), EXIT_NOT_FOUND;
                if (cli->json)
                        cli_print_json(json_object_get(v));
                else if (json_object_is_type(v, json_type_array))
                        for (size_t k = 0; k < json_object_array_length(v); k++)
                                puts(json_object_get_string(json_object_array_get_idx(v, k)));
                else
                        puts(json_object_get_string(v));
                return EXIT_SUCCESS;
        }

        r = db_transaction(db, store_setting_tx, &(StoreSetting) { sub, &scope, canonical, value });
        if (r < 0)
                return log_error_errno(r, "Failed to store the setting: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}

int verb_diff(Cli *cli, int argc, char **argv) {
        _cleanup_free_ Relay *relays = NULL;
        json_object *out = json_object_new_object();
        const FamilyIds *family = NULL;
        FamilyIds ids;
        size_t n;
        Node node;
        Db *db;
        int r;

        if (argc != 3 || !streq(argv[1], "--node")) {
                json_object_put(out);
                return log_error_errno(EINVAL, "Usage: diff --node ID|FINGERPRINT"), EXIT_USAGE;
        }
        r = cli_db(cli, &db);
        if (r >= 0)
                r = node_get_by_ref(db, argv[2], &node);
        if (r >= 0)
                r = relays_list(db, node.id, &relays, &n);
        if (r < 0) {
                json_object_put(out);
                return log_error_errno(r, "No node '%s'.", argv[2]), cli_exit_status(r == -EINVAL ? r : -ENOENT);
        }
        if (n == 0)
                log_notice("Node %" PRIi64 " has no relays yet (they are allocated when it is enabled).", node.id);
        else if (node_family(db, &node, &ids, &family) < 0) {
                json_object_put(out);
                return EXIT_FAILURE;
        }

        for (size_t k = 0; k < n; k++) {
                _cleanup_(torrc_merged_freep) TorrcMerged *m = NULL;
                json_object *lines = json_object_new_array();

                r = render_relay_torrc(db, &node, &relays[k], family, NULL, &m);
                if (r < 0) {
                        json_object_put(lines);
                        json_object_put(out);
                        return log_error_errno(r, "Failed to merge the torrc of %s: %m", relays[k].name), EXIT_FAILURE;
                }
                if (!cli->json)
                        printf("%s# relay %s\n", k > 0 ? "\n" : "", relays[k].name);
                for (size_t l = 0; l < m->n_lines; l++) {
                        json_object *o = json_object_new_object();
                        const char *level = torrc_level_to_string(m->lines[l].level);

                        if (!cli->json)
                                printf("%-8s %s %s\n", level, m->lines[l].option->name, m->lines[l].value);
                        json_object_object_add(o, "level", json_object_new_string(level));
                        json_object_object_add(o, "option", json_object_new_string(m->lines[l].option->name));
                        json_object_object_add(o, "value", json_object_new_string(m->lines[l].value));
                        json_object_array_add(lines, o);
                }
                json_object_object_add(out, relays[k].name, lines);
        }
        if (cli->json)
                cli_print_json(out);
        else
                json_object_put(out);
        return EXIT_SUCCESS;
}
