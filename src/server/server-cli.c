/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin CLI: the database, exit codes, and the verbs on nodes, pools, the attestation log, the CA and run
 * (tables and JSON: server-cli-output.c; images: server-cli-images.c). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <systemd/sd-daemon.h>

#include "log-event.h"
#include "log.h"
#include "server-attestations.h"
#include "server-ca.h"
#include "server-family.h"
#include "server-cli.h"
#include "server-fingerprints.h"
#include "server-http.h"
#include "server-images.h"
#include "server-nodes.h"
#include "server-relays.h"
#include "server-state.h"
#include "server-verdict.h"
#include "string-util.h"

int cli_db(Cli *cli, Db **ret) {
        int r;

        if (!cli->db) {
                r = db_open(cli->config->database, &cli->db);
                if (r < 0)
                        return r;
                /* An acknowledged admin change (a node disabled, an image retired) survives a power cut, not
                 * only a crash: one fsync per command. */
                r = db_synchronous_full(cli->db);
                if (r < 0)
                        return log_error_errno(r, "Failed to configure database %s: %s", cli->config->database,
                                               db_error(cli->db));
        }
        *ret = cli->db;
        return 0;
}

int cli_exit_status(int r) {
        switch (r) {
        case 0:
                return EXIT_SUCCESS;
        case -EINVAL:
        case -ERANGE:
                return EXIT_USAGE;
        case -ENOENT:
                return EXIT_NOT_FOUND;
        case -ENOSPC:
        case -EEXIST:
        case -EBUSY:
                return EXIT_REFUSED;
        default:
                return EXIT_FAILURE;
        }
}

/* What an allocation may hand out, from patela-server.conf(5). */
static RelayAllocation cli_allocation(const Cli *cli) {
        return (RelayAllocation) {
                .relays_per_address = cli->config->relays_per_address,
                .or_port_min = cli->config->or_port_min,
                .or_port_max = cli->config->or_port_max,
        };
}

static json_object *node_to_json(const Node *n, const NodeBootStatus *b) {
        json_object *o = json_object_new_object();
        char t[32];

        json_object_object_add(o, "id", json_object_new_int64(n->id));
        json_object_object_add(o, "state", json_object_new_string(node_state_to_string(n->state)));
        json_object_object_add(o, "fingerprint", json_object_new_string(n->fingerprint));
        json_object_object_add(o, "ekType", json_object_new_string(n->ek_type));
        json_object_object_add(o, "ekCertificate", json_object_new_boolean(n->has_ek_certificate));
        json_object_object_add(o, "ekCertificateStatus",
                               n->ek_certificate_status[0] ? json_object_new_string(n->ek_certificate_status) : NULL);
        json_object_object_add(o, "relayCount", json_object_new_int((int) n->relay_count));
        cli_format_time(n->first_seen, t, sizeof(t));
        json_object_object_add(o, "firstSeen", json_object_new_string(t));
        cli_format_time(n->last_seen, t, sizeof(t));
        json_object_object_add(o, "lastSeen", json_object_new_string(t));
        json_object_object_add(o, "lastSource", json_object_new_string(n->last_source));
        /* What the verifier recorded; the attestation log's newest entry until it does (docs/server.md). */
        json_object_object_add(o, "image", b->image[0] ? json_object_new_string(b->image) : NULL);
        json_object_object_add(o, "lastVerdict", b->verdict[0] ? json_object_new_string(b->verdict) : NULL);
        json_object_object_add(o, "lastVerdictReason", b->reason[0] ? json_object_new_string(b->reason) : NULL);
        cli_format_time(b->at, t, sizeof(t));
        json_object_object_add(o, "lastVerdictTime", b->verdict[0] ? json_object_new_string(t) : NULL);
        return o;
}

static int node_status_to_json(Db *db, const Node *n, json_object **ret) {
        NodeBootStatus b;
        FamilyIds family;
        int r = node_boot_status(db, n->id, &b), released = 0;

        if (r >= 0)
                r = family_published(db, &family, NULL);
        if (r >= 0)
                r = released = family_released(db, n->id);
        if (r < 0)
                return log_error_errno(r, "Failed to read node %" PRIi64 "'s image, verdict and family: %m", n->id);
        *ret = node_to_json(n, &b);
        /* Whether its relays carry the fleet's family now (server-family.h); null while the fleet has none. */
        json_object_object_add(*ret, "family",
                               family.n == 0 ? NULL : json_object_new_string(released ? "released" : "withheld"));
        return 0;
}

static int list_nodes(Cli *cli, const char *state) {
        static const char *const headers[] = { "ID", "STATE", "FINGERPRINT", "EK", "EK CERT", "RELAYS", "LAST SEEN",
                                               "FROM", "IMAGE", "VERDICT" };
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_db_stmt_free_ DbStmt *s = NULL;
        json_object *arr;
        Db *db;
        int r, rc;

        if (state && node_state_from_string(state) < 0)
                return log_error_errno(EINVAL, "Unknown state '%s': pending, enabled or disabled.", state), EXIT_USAGE;
        r = cli_db(cli, &db);
        if (r < 0)
                return cli_exit_status(r);
        r = db_stmt_prepare(db, "SELECT id FROM nodes WHERE (?1 IS NULL OR state = ?1) ORDER BY id", &s);
        if (r < 0)
                return EXIT_FAILURE;
        if (state)
                db_bind_text(s, 1, state);
        t = table_new(headers, ELEMENTSOF(headers));
        arr = json_object_new_array();
        if (!t || !arr) {
                json_object_put(arr);
                return log_oom(), EXIT_FAILURE;
        }
        /* One snapshot: a node enabled or removed meanwhile is listed as it was, or not at all. */
        r = db_begin_read(db);
        if (r < 0) {
                json_object_put(arr);
                return log_error_errno(r, "Failed to read the nodes: %m"), cli_exit_status(r);
        }
        while ((rc = db_step(s)) == DB_ROW) {
                char id[24], relays[8], seen[32];
                NodeBootStatus b;
                Node n;

                if (node_get(db, db_column_int64(s, 0), &n) < 0 || node_boot_status(db, n.id, &b) < 0)
                        continue;
                snprintf(id, sizeof(id), "%" PRIi64, n.id);
                snprintf(relays, sizeof(relays), "%u", n.relay_count);
                cli_format_time(n.last_seen, seen, sizeof(seen));
                const char *row[] = { id, node_state_to_string(n.state), n.fingerprint, n.ek_type,
                                      n.ek_certificate_status[0] ? n.ek_certificate_status : NULL, relays, seen,
                                      n.last_source, b.image[0] ? b.image : NULL, b.verdict[0] ? b.verdict : NULL };
                (void) table_add_row(t, row);
                json_object_array_add(arr, node_to_json(&n, &b));
        }
        r = rc == DB_DONE ? 0 : db_result(rc);
        db_rollback(db); /* read only: nothing to commit */
        if (r < 0) {
                json_object_put(arr);
                return log_error_errno(r, "Failed to read the nodes: %s", db_error(db)), EXIT_FAILURE;
        }
        cli_print_list(cli, arr, t);
        return EXIT_SUCCESS;
}

static int list_relays(Cli *cli) {
        static const char *const headers[] = { "NAME", "NODE", "SLOT", "IPV4", "IPV6", "RSA FINGERPRINT",
                                               "REPORTED" };
        _cleanup_(table_freep) Table *t = table_new(headers, ELEMENTSOF(headers));
        _cleanup_free_ Relay *relays = NULL;
        _cleanup_free_ RelayFingerprint *fps = NULL;
        _cleanup_free_ RelayStateSaved *saved = NULL;
        json_object *arr = json_object_new_array();
        size_t n = 0, n_fps = 0, n_saved = 0;
        Db *db;
        int r;

        if (!t || !arr) {
                json_object_put(arr);
                return log_oom(), EXIT_FAILURE;
        }
        /* One snapshot: relays and their identities as they were together. */
        r = cli_db(cli, &db);
        if (r >= 0)
                r = db_begin_read(db);
        if (r >= 0) {
                r = relays_list(db, -1, &relays, &n);
                if (r >= 0)
                        r = fingerprints_list(db, &fps, &n_fps);
                if (r >= 0)
                        r = relay_states_saved(db, &saved, &n_saved);
                db_rollback(db); /* read only */
        }
        if (r < 0) {
                json_object_put(arr);
                return log_error_errno(r, "Failed to read the relays: %m"), cli_exit_status(r);
        }
        for (size_t i = 0; i < n; i++) {
                const RelayFingerprint *fp = fingerprints_find(fps, n_fps, relays[i].id);
                const RelayStateSaved *st = relay_states_saved_find(saved, n_saved, relays[i].id);
                char node[24], slot[8], reported[32], state_saved[32], v4[INET_ADDRSTRLEN + 8],
                        v6[INET6_ADDRSTRLEN + 10];
                json_object *o = json_object_new_object();

                /* Where the relay listens: each of its addresses with its ORPort; without an address, every
                 * address of the node. */
                snprintf(node, sizeof(node), "%" PRIi64, relays[i].node_id);
                snprintf(slot, sizeof(slot), "%u", relays[i].slot);
                snprintf(v4, sizeof(v4), "%s:%u", relays[i].ipv4[0] ? relays[i].ipv4 : "*", relays[i].or_port);
                snprintf(v6, sizeof(v6), "[%s]:%u", relays[i].ipv6, relays[i].or_port);
                cli_format_time(fp ? fp->reported_at : 0, reported, sizeof(reported));
                const char *row[] = { relays[i].name, node, slot, relays[i].ipv4[0] || !relays[i].ipv6[0] ? v4 : NULL,
                                      relays[i].ipv6[0] ? v6 : NULL, fp ? fp->rsa : NULL, fp ? reported : NULL };
                (void) table_add_row(t, row);
                json_object_object_add(o, "name", json_object_new_string(relays[i].name));
                json_object_object_add(o, "node", json_object_new_int64(relays[i].node_id));
                json_object_object_add(o, "slot", json_object_new_int((int) relays[i].slot));
                json_object_object_add(o, "ipv4", relays[i].ipv4[0] ? json_object_new_string(relays[i].ipv4) : NULL);
                json_object_object_add(o, "ipv6", relays[i].ipv6[0] ? json_object_new_string(relays[i].ipv6) : NULL);
                json_object_object_add(o, "orPort", json_object_new_int((int) relays[i].or_port));
                /* As the node reported them after patela-keyd made the keys; null until it has. */
                json_object_object_add(o, "rsaFingerprint", fp ? json_object_new_string(fp->rsa) : NULL);
                json_object_object_add(o, "ed25519Identity",
                                       fp && fp->ed25519[0] ? json_object_new_string(fp->ed25519) : NULL);
                json_object_object_add(o, "fingerprintsReported", fp ? json_object_new_string(reported) : NULL);
                /* The last save of its sealed tor state (its bandwidth history); null if none. */
                cli_format_time(st ? st->saved_at : 0, state_saved, sizeof(state_saved));
                json_object_object_add(o, "stateSaved", st ? json_object_new_string(state_saved) : NULL);
                json_object_array_add(arr, o);
        }
        cli_print_list(cli, arr, t);
        return EXIT_SUCCESS;
}

/* "--state=X" or "--state X" among the arguments. */
static int parse_state_option(int argc, char **argv, int first, const char **ret) {
        *ret = NULL;
        for (int i = first; i < argc; i++) {
                const char *v;
                if ((v = startswith(argv[i], "--state=")))
                        *ret = v;
                else if (streq(argv[i], "--state") && i + 1 < argc)
                        *ret = argv[++i];
                else
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]);
        }
        return 0;
}

int verb_list(Cli *cli, int argc, char **argv) {
        const char *what = argc > 1 && argv[1][0] != '-' ? argv[1] : "nodes", *state;
        int first = argc > 1 && argv[1][0] != '-' ? 2 : 1;

        if (parse_state_option(argc, argv, first, &state) < 0)
                return EXIT_USAGE;
        if (streq(what, "nodes") || streq(what, "node"))
                return list_nodes(cli, state);
        if (streq(what, "relays") || streq(what, "relay")) {
                if (state)
                        return log_error_errno(EINVAL, "--state applies to nodes."), EXIT_USAGE;
                return list_relays(cli);
        }
        return log_error_errno(EINVAL, "list what? nodes or relays, not '%s'.", what), EXIT_USAGE;
}

static int get_node_arg(Cli *cli, const char *ref, Node *ret) {
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r < 0)
                return r;
        r = node_get_by_ref(db, ref, ret);
        if (r == -ENOENT)
                return log_error_errno(r, "No node '%s'.", ref);
        if (r == -EINVAL)
                return log_error_errno(r, "'%s' is neither a node id nor a fingerprint.", ref);
        if (r < 0)
                return log_error_errno(r, "Failed to look up node '%s': %m", ref);
        return 0;
}

int node_setting_verb(Cli *cli, int argc, char **argv);

int verb_node(Cli *cli, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "list";
        Node n;
        Db *db;
        int r;

        if (streq(sub, "list")) {
                const char *state;
                if (parse_state_option(argc, argv, 2, &state) < 0)
                        return EXIT_USAGE;
                return list_nodes(cli, state);
        }
        if (streq(sub, "set") || streq(sub, "get") || streq(sub, "unset") || streq(sub, "clear"))
                return node_setting_verb(cli, argc - 1, argv + 1);

        if (argc != 3 && !(streq(sub, "relays") && argc == 4))
                return log_error_errno(EINVAL, "Usage: node %s ID|FINGERPRINT%s", sub,
                                       streq(sub, "relays") ? " COUNT" : ""), EXIT_USAGE;
        r = get_node_arg(cli, argv[2], &n);
        if (r < 0)
                return cli_exit_status(r);
        db = cli->db;

        if (streq(sub, "show")) {
                _cleanup_free_ Relay *relays = NULL;
                size_t nr = 0;
                json_object *o = NULL, *arr;

                /* The node as read above, its image, verdict and relays from one snapshot. */
                r = db_begin_read(db);
                if (r >= 0)
                        r = node_get(db, n.id, &n);
                if (r >= 0)
                        r = node_status_to_json(db, &n, &o);
                if (r >= 0 && relays_list(db, n.id, &relays, &nr) < 0)
                        nr = 0;
                db_rollback(db);
                if (r == -ENOENT)
                        return log_error_errno(r, "Node %" PRIi64 " was removed meanwhile.", n.id), EXIT_NOT_FOUND;
                if (r < 0)
                        return log_error_errno(r, "Failed to read node %" PRIi64 ": %m", n.id), EXIT_FAILURE;
                arr = json_object_new_array();
                for (size_t i = 0; i < nr; i++)
                        json_object_array_add(arr, json_object_new_string(relays[i].name));
                json_object_object_add(o, "relays", arr);
                if (cli->json)
                        cli_print_json(o);
                else {
                        cli_print_fields(o);
                        json_object_put(o);
                }
                return EXIT_SUCCESS;
        }
        if (streq(sub, "enable") || streq(sub, "disable")) {
                NodeState state = streq(sub, "enable") ? NODE_ENABLED : NODE_DISABLED;
                /* The first enable is the operator's comparison of the fingerprint with the node's console: it
                 * cannot be skipped by naming the node by its id. */
                if (state == NODE_ENABLED && n.state == NODE_PENDING && strcasecmp(argv[2], n.fingerprint) != 0)
                        return log_error_errno(EINVAL,
                                               "Node %" PRIi64 " is pending: enable it by the fingerprint that its "
                                               "console shows (patelactl identity), after comparing it with %s.",
                                               n.id, n.fingerprint), EXIT_USAGE;
                RelayAllocation a = cli_allocation(cli);
                r = node_set_state(db, n.id, state, &a);
                if (r < 0)
                        return log_error_errno(r, "Failed to %s node %" PRIi64 ": %m", sub, n.id), cli_exit_status(r);
                char node_field[80];
                snprintf(node_field, sizeof(node_field), "PATELA_NODE=%s", n.fingerprint);
                log_event_audit(state == NODE_ENABLED ? LOG_EVENT_NODE_ENABLED : LOG_EVENT_NODE_DISABLED, LOG_INFO,
                                (const char *const[]) { node_field, NULL }, "Node %" PRIi64 " (%s) %sd.", n.id,
                                n.fingerprint, sub);
                json_object *o = NULL;
                if (cli->json && node_get(db, n.id, &n) >= 0 && node_status_to_json(db, &n, &o) >= 0)
                        cli_print_json(o);
                return EXIT_SUCCESS;
        }
        if (streq(sub, "remove")) {
                r = node_remove(db, n.id);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove node %" PRIi64 ": %m", n.id), cli_exit_status(r);
                log_info("Node %" PRIi64 " (%s) removed; its relays' names and addresses are free again.", n.id,
                         n.fingerprint);
                return EXIT_SUCCESS;
        }
        if (streq(sub, "repin")) {
                /* After the operator looked at why the firmware PCRs changed (a firmware update, a changed
                 * setting): the node's next trusted attestation pins what it quotes. */
                r = verdict_unpin(db, n.id, n.fingerprint);
                if (r < 0)
                        return log_error_errno(r, "Failed to forget the firmware pins of node %" PRIi64 ": %m", n.id),
                               cli_exit_status(r);
                log_info("Node %" PRIi64 " (%s): %s; its next trusted attestation pins its firmware PCRs.", n.id,
                         n.fingerprint, r > 0 ? "firmware pins forgotten" : "no firmware pins yet");
                return EXIT_SUCCESS;
        }
        if (streq(sub, "relays")) {
                unsigned long long count;
                if (safe_atou64(argv[3], 64, &count) < 0)
                        return log_error_errno(EINVAL, "Relay count must be 0…64, not '%s'.", argv[3]), EXIT_USAGE;
                RelayAllocation a = cli_allocation(cli);
                r = node_set_relay_count(db, n.id, (unsigned) count, &a);
                if (r < 0)
                        return log_error_errno(r, "Failed to set the relay count: %m"), cli_exit_status(r);
                return EXIT_SUCCESS;
        }
        return log_error_errno(EINVAL, "Unknown node verb '%s'.", sub), EXIT_USAGE;
}

int verb_pool(Cli *cli, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "list";
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r < 0)
                return cli_exit_status(r);

        if (streq(sub, "add")) {
                const char *bad = NULL;
                if (argc < 4)
                        return log_error_errno(EINVAL, "Usage: pool add names|ipv4|ipv6 VALUE..."), EXIT_USAGE;
                r = pool_add(db, argv[2], argv + 3, (size_t) (argc - 3), &bad);
                if (r == -EINVAL && !bad)
                        return log_error_errno(r, "Unknown pool '%s': names, ipv4 or ipv6.", argv[2]), EXIT_USAGE;
                if (r == -EINVAL)
                        return log_error_errno(r, "Invalid %s entry '%s'%s; nothing added.", argv[2], bad,
                                               streq(argv[2], "names") ? " (tor nicknames: 1-19 letters and digits)" : ""),
                               EXIT_USAGE;
                if (r == -EEXIST)
                        return log_error_errno(r, "'%s' is already in a pool; nothing added.", bad), EXIT_REFUSED;
                if (r < 0)
                        return log_error_errno(r, "Failed to add to the pool: %m"), EXIT_FAILURE;
                return EXIT_SUCCESS;
        }
        if (streq(sub, "list")) {
                static const char *const headers[] = { "POOL", "VALUE", "NODE", "USE", "RELAYS" };
                _cleanup_(table_freep) Table *t = table_new(headers, ELEMENTSOF(headers));
                const char *kind = argc > 2 ? argv[2] : NULL;
                PoolEntry *e = NULL;
                json_object *arr;
                size_t n;

                if (kind && !streq(kind, "names") && !streq(kind, "ipv4") && !streq(kind, "ipv6"))
                        return log_error_errno(EINVAL, "Unknown pool '%s': names, ipv4 or ipv6.", kind), EXIT_USAGE;
                r = pool_list(db, kind, &e, &n);
                if (r < 0)
                        return log_error_errno(r, "Failed to read the pools: %m"), cli_exit_status(r);
                arr = json_object_new_array();
                for (size_t i = 0; i < n; i++) {
                        /* A name goes to one relay; an address to up to RelaysPerAddress= relays of one node. */
                        unsigned capacity = streq(e[i].kind, "names") ? 1 : cli->config->relays_per_address;
                        json_object *o = json_object_new_object(), *names = json_object_new_array();
                        char node[24], use[24];

                        snprintf(node, sizeof(node), "%" PRIi64, e[i].node_id);
                        snprintf(use, sizeof(use), "%u/%u", e[i].n_relays, capacity);
                        const char *row[] = { e[i].kind, e[i].value, e[i].node_id >= 0 ? node : NULL, use, e[i].relays };
                        (void) table_add_row(t, row);
                        for (char *p = e[i].relays, *end; p && *p; p = *end ? end + 1 : end) {
                                end = strchrnul(p, ' ');
                                json_object_array_add(names, json_object_new_string_len(p, (int) (end - p)));
                        }
                        json_object_object_add(o, "pool", json_object_new_string(e[i].kind));
                        json_object_object_add(o, "value", json_object_new_string(e[i].value));
                        json_object_object_add(o, "node", e[i].node_id >= 0 ? json_object_new_int64(e[i].node_id) : NULL);
                        json_object_object_add(o, "relayCount", json_object_new_int((int) e[i].n_relays));
                        json_object_object_add(o, "capacity", json_object_new_int((int) capacity));
                        json_object_object_add(o, "relays", names);
                        json_object_array_add(arr, o);
                }
                pool_entries_free(e, n);
                cli_print_list(cli, arr, t);
                return EXIT_SUCCESS;
        }
        return log_error_errno(EINVAL, "Unknown pool verb '%s'.", sub), EXIT_USAGE;
}

int verb_attestations(Cli *cli, int argc, char **argv) {
        static const char *const headers[] = { "ID", "NODE", "FINGERPRINT", "TIME", "VERDICT", "REASON" };
        _cleanup_(table_freep) Table *t = table_new(headers, ELEMENTSOF(headers));
        _cleanup_free_ AttestationEntry *e = NULL;
        unsigned long long limit = 50;
        int64_t node_id = -1;
        json_object *arr;
        size_t n;
        Db *db;
        int r;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--node") && i + 1 < argc) {
                        Node node;
                        r = get_node_arg(cli, argv[++i], &node);
                        if (r < 0)
                                return cli_exit_status(r);
                        node_id = node.id;
                } else if (streq(argv[i], "--limit") && i + 1 < argc) {
                        if (safe_atou64(argv[++i], 100000, &limit) < 0)
                                return log_error_errno(EINVAL, "Invalid --limit."), EXIT_USAGE;
                } else
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
        }
        r = cli_db(cli, &db);
        if (r >= 0)
                r = attestation_list(db, node_id, (unsigned) limit, &e, &n);
        if (r < 0)
                return cli_exit_status(r);
        arr = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                char id[24], node[24], at[32];
                json_object *o = json_object_new_object();
                snprintf(id, sizeof(id), "%" PRIi64, e[i].id);
                snprintf(node, sizeof(node), "%" PRIi64, e[i].node_id);
                cli_format_time(e[i].at, at, sizeof(at));
                const char *row[] = { id, node, e[i].fingerprint, at, e[i].verdict, e[i].reason[0] ? e[i].reason : NULL };
                (void) table_add_row(t, row);
                json_object_object_add(o, "id", json_object_new_int64(e[i].id));
                json_object_object_add(o, "node", json_object_new_int64(e[i].node_id));
                json_object_object_add(o, "fingerprint", json_object_new_string(e[i].fingerprint));
                json_object_object_add(o, "time", json_object_new_string(at));
                json_object_object_add(o, "verdict", json_object_new_string(e[i].verdict));
                json_object_object_add(o, "reason", e[i].reason[0] ? json_object_new_string(e[i].reason) : NULL);
                json_object_array_add(arr, o);
        }
        cli_print_list(cli, arr, t);
        return EXIT_SUCCESS;
}

int verb_ca(Cli *cli, int argc, char **argv) {
        const char *dir = "/etc/patela/tls", *name = NULL, *cn = "patela CA";
        char *sans[CA_SAN_MAX];
        unsigned n_sans = 0;
        unsigned long long days = 0;
        int r;

        (void) cli;
        if (argc < 2)
                return log_error_errno(EINVAL, "Usage: ca init|issue ..."), EXIT_USAGE;
        for (int i = 2; i < argc; i++) {
                if (streq(argv[i], "--dir") && i + 1 < argc)
                        dir = argv[++i];
                else if (streq(argv[i], "--cn") && i + 1 < argc)
                        cn = argv[++i];
                else if (streq(argv[i], "--days") && i + 1 < argc) {
                        if (safe_atou64(argv[++i], 36500, &days) < 0 || days == 0)
                                return log_error_errno(EINVAL, "Invalid --days."), EXIT_USAGE;
                } else if (streq(argv[i], "--san") && i + 1 < argc) {
                        if (n_sans >= CA_SAN_MAX)
                                return log_error_errno(E2BIG, "At most %d --san.", CA_SAN_MAX), EXIT_USAGE;
                        sans[n_sans++] = argv[++i];
                } else if (!name && argv[i][0] != '-')
                        name = argv[i];
                else
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
        }

        if (streq(argv[1], "init")) {
                r = ca_init(dir, cn, days ? (unsigned) days : 3650);
                if (r == -EEXIST)
                        return log_error_errno(r, "%s already holds a CA; not overwritten.", dir), EXIT_REFUSED;
                if (r < 0)
                        return log_error_errno(r, "Failed to create the CA in %s: %m", dir), EXIT_FAILURE;
                log_info("CA created: %s/ca.crt (pin it on the nodes), %s/ca.key.", dir, dir);
                return EXIT_SUCCESS;
        }
        if (streq(argv[1], "issue")) {
                if (!name || n_sans == 0)
                        return log_error_errno(EINVAL, "Usage: ca issue NAME --san DNS:HOST|IP:ADDR... [--dir DIR]"),
                               EXIT_USAGE;
                r = ca_issue(dir, name, sans, n_sans, days ? (unsigned) days : 825);
                if (r == -EEXIST)
                        return log_error_errno(r, "%s/%s.crt or .key exists; not overwritten.", dir, name), EXIT_REFUSED;
                if (r == -EINVAL)
                        return log_error_errno(r, "Invalid name or SAN (use DNS:host or IP:address)."), EXIT_USAGE;
                if (r == -ENOENT)
                        return log_error_errno(r, "No CA in %s: run 'ca init' first.", dir), EXIT_NOT_FOUND;
                if (r < 0)
                        return log_error_errno(r, "Failed to issue the certificate: %m"), EXIT_FAILURE;
                log_info("Issued %s/%s.crt and %s/%s.key.", dir, name, dir, name);
                return EXIT_SUCCESS;
        }
        return log_error_errno(EINVAL, "Unknown ca verb '%s'.", argv[1]), EXIT_USAGE;
}

int verb_run(Cli *cli, int argc, char **argv) {
        Server server = {};
        sigset_t mask;
        Db *db;
        int sig, r;

        (void) argv;
        if (argc > 1)
                return log_error_errno(EINVAL, "run takes no arguments."), EXIT_USAGE;

        /* Migrate once, before any thread opens the database; the server opens connections of its own (on
         * PostgreSQL this one would hold a connection slot for nothing). */
        r = cli_db(cli, &db);
        if (r < 0)
                return EXIT_FAILURE;
        cli->db = db_close(cli->db);

        /* Block the signals before MHD starts its threads, so that only sigwait() below sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);

        r = server_start(&server, cli->config);
        if (r < 0) {
                server_stop(&server);
                return EXIT_FAILURE;
        }
        (void) sd_notify(0, "READY=1\nSTATUS=Serving");
        (void) sigwait(&mask, &sig);
        (void) sd_notify(0, "STOPPING=1");
        log_info("Stopping on signal %d.", sig);
        server_stop(&server);
        return EXIT_SUCCESS;
}
