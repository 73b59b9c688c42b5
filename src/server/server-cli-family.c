/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin CLI's family verbs: family init|show|rotate|retire (patela-server(8), FAMILY). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-cli.h"
#include "server-family.h"
#include "string-util.h"

/* "current" is the newest published key, "previous" an older one still published during a rotation. */
static const char *key_state(const FamilyKey *k, const FamilyKey *newest_published) {
        if (k->retired_at > 0)
                return "retired";
        return newest_published && k->id == newest_published->id ? "current" : "previous";
}

static json_object *key_to_json(const FamilyKey *k, const char *state) {
        json_object *o = json_object_new_object();
        char t[32];

        json_object_object_add(o, "familyId", json_object_new_string(k->family_id));
        cli_format_time(k->created_at / 1000000, t, sizeof(t));
        json_object_object_add(o, "created", json_object_new_string(t));
        cli_format_time(k->retired_at / 1000000, t, sizeof(t));
        json_object_object_add(o, "retired", k->retired_at > 0 ? json_object_new_string(t) : NULL);
        json_object_object_add(o, "state", json_object_new_string(state));
        return o;
}

/* What tor --keygen-family prints, so that the line can be pasted where a FamilyId line is wanted. */
static void print_key(Cli *cli, const FamilyKey *k, const char *state) {
        if (cli->json)
                cli_print_json(key_to_json(k, state));
        else
                printf("FamilyId %s\n", k->family_id);
}

static int family_show(Cli *cli, bool all) {
        static const char *const headers[] = { "FAMILYID", "STATE", "CREATED", "RETIRED" };
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ FamilyKey *keys = NULL;
        const FamilyKey *newest = NULL;
        json_object *arr;
        size_t n;
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r >= 0)
                r = family_list(db, all, &keys, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to read the family keys: %m"), cli_exit_status(r);
        for (size_t i = 0; i < n && !newest; i++)
                if (keys[i].retired_at == 0)
                        newest = &keys[i];
        if (!newest && !cli->json) {
                log_error("No family key: 'patela-server family init' makes the fleet's.");
                return EXIT_NOT_FOUND;
        }
        t = table_new(headers, ELEMENTSOF(headers));
        arr = json_object_new_array();
        if (!t || !arr) {
                json_object_put(arr);
                return log_oom(), EXIT_FAILURE;
        }
        for (size_t i = 0; i < n; i++) {
                char created[32], retired[32];
                const char *state = key_state(&keys[i], newest);

                cli_format_time(keys[i].created_at / 1000000, created, sizeof(created));
                cli_format_time(keys[i].retired_at / 1000000, retired, sizeof(retired));
                const char *row[] = { keys[i].family_id, state, created, retired };
                (void) table_add_row(t, row);
                json_object_array_add(arr, key_to_json(&keys[i], state));
        }
        cli_print_list(cli, arr, t);
        return EXIT_SUCCESS;
}

int verb_family(Cli *cli, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "show";
        FamilyKey k;
        Db *db;
        int r;

        if (streq(sub, "show")) {
                bool all = false;
                for (int i = 2; i < argc; i++) {
                        if (!streq(argv[i], "--all"))
                                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
                        all = true;
                }
                return family_show(cli, all);
        }
        if (streq(sub, "init") || streq(sub, "rotate")) {
                bool init = streq(sub, "init");

                if (argc > 2)
                        return log_error_errno(EINVAL, "family %s takes no arguments.", sub), EXIT_USAGE;
                r = cli_db(cli, &db);
                if (r >= 0)
                        r = init ? family_init(db, &k) : family_rotate(db, &k);
                if (r == -EEXIST)
                        return log_error_errno(r, "The fleet has a family key already ('family show'); "
                                               "'family rotate' makes a new one."), EXIT_REFUSED;
                if (r == -ENOENT)
                        return log_error_errno(r, "No family key to rotate: 'family init' makes the first."),
                               EXIT_NOT_FOUND;
                if (r == -EBUSY)
                        return log_error_errno(r, "A rotation is running: two family keys are published. "
                                               "'family retire' the previous one first."), EXIT_REFUSED;
                if (r < 0)
                        return log_error_errno(r, "Failed to make a family key: %m"), cli_exit_status(r);
                if (init)
                        log_info("The fleet's family key is made. Every relay of a node whose attestation is "
                                 "Trusted gets it and its FamilyId line at the node's next session check "
                                 "(CheckInterval=).");
                else
                        log_info("A new family key is published next to the previous one: running nodes get both "
                                 "at their next session check and restart their relays. Once every relay's descriptor "
                                 "lists the new family, 'family retire' the previous key.");
                print_key(cli, &k, "current");
                return EXIT_SUCCESS;
        }
        if (streq(sub, "retire")) {
                if (argc > 3)
                        return log_error_errno(EINVAL, "Usage: family retire [FAMILYID]"), EXIT_USAGE;
                r = cli_db(cli, &db);
                if (r >= 0)
                        r = family_retire(db, argc == 3 ? argv[2] : NULL, &k);
                if (r == -ENOENT)
                        return log_error_errno(r, argc == 3 ? "No family key %s." : "No family key.",
                                               argc == 3 ? argv[2] : ""), EXIT_NOT_FOUND;
                if (r == -EBUSY)
                        return log_error_errno(r, "That is the fleet's only published family key: 'family rotate' "
                                               "first, then retire the previous one."), EXIT_REFUSED;
                if (r < 0)
                        return log_error_errno(r, "Failed to retire the family key: %m"), cli_exit_status(r);
                if (r == 0)
                        log_info("Family key %s was retired already; unchanged.", k.family_id);
                else
                        log_info("Family key %s retired, its secret erased: running nodes drop it and its FamilyId "
                                 "line at their next session check (CheckInterval=).", k.family_id);
                if (cli->json)
                        cli_print_json(key_to_json(&k, "retired"));
                return EXIT_SUCCESS;
        }
        return log_error_errno(EINVAL, "Unknown family verb '%s': init, show, rotate or retire.", sub), EXIT_USAGE;
}
