/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patelactl: asks patela-attestd, patela-keyd and patela-configd over varlink what the node is doing. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-verbs.h"
#include "log.h"

static const char *const socket_name[_CTL_SERVICE_MAX] = {
        [CTL_ATTEST] = "io.patela.Attest",
        [CTL_KEYS] = "io.patela.Keys",
        [CTL_CONFIG] = "io.patela.Config",
};

typedef struct Verb {
        const char *name;
        const char *sub; /* second word, NULL if none */
        int (*func)(const Ctl *c);
} Verb;

static const Verb verbs[] = {
        { "status", NULL, verb_status },
        { "identity", NULL, verb_identity },
        { "keys", "list", verb_keys_list },
        { "keys", "reseal-check", verb_keys_reseal_check },
        { "config", "show", verb_config_show },
        { "config", "diff", verb_config_diff },
        { "attest", NULL, verb_attest },
        { "relays", NULL, verb_relays },
        { "log", "verify", verb_log_verify },
};

static void help(void) {
        printf("patelactl [OPTIONS…] COMMAND\n\n"
               "Shows what the patela daemons of this node are doing.\n\n"
               "Commands:\n"
               "  status               Status of patela-configd, patela-keyd and patela-attestd (default)\n"
               "  identity             The node's TPM identity and the fingerprint to compare\n"
               "  keys list            Relays whose keys are sealed in the TPM\n"
               "  keys reseal-check    Whether the keys unseal now under a strong enough policy\n"
               "  config show          The configuration as last fetched from the server\n"
               "  config diff          How the applied files differ from it\n"
               "  attest               Re-attest and re-apply the configuration now\n"
               "  relays               The relays and their state\n"
               "  log verify           Prove that the booted image is registered in the fleet's transparency log\n\n"
               "Options:\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --json=pretty|short|off Print the daemon's reply as JSON\n"
               "     --no-legend             Do not print column headers and hints\n"
               "     --attest-socket=PATH    patela-attestd's socket\n"
               "     --keys-socket=PATH      patela-keyd's socket\n"
               "     --config-socket=PATH    patela-configd's socket\n\n"
               "Exit status: 0 success, 1 failure, 2 usage, 3 daemon not reachable,\n"
               "4 the daemon answered with an error. See patelactl(1).\n");
}

static void ctl_done(Ctl *c) {
        for (CtlService s = 0; s < _CTL_SERVICE_MAX; s++) {
                free(c->socket[s]);
                c->socket[s] = NULL;
        }
}

static int set_socket(Ctl *c, CtlService s, const char *path) {
        char *p;

        if (isempty(path))
                return log_error_errno(EINVAL, "Empty socket path for %s.", ctl_service_daemon(s));
        p = strdup(path);
        if (!p)
                return log_oom();
        free(c->socket[s]);
        c->socket[s] = p;
        return 0;
}

/* Returns 1 to go on, 0 to exit successfully (--help), negative errno on usage errors. */
static int parse_argv(int argc, char *argv[], Ctl *c) {
        enum {
                ARG_VERSION = 0x100,
                ARG_JSON,
                ARG_NO_LEGEND,
                ARG_ATTEST_SOCKET,
                ARG_KEYS_SOCKET,
                ARG_CONFIG_SOCKET,
        };
        static const struct option options[] = { { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION }, { "json", required_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "attest-socket", required_argument, NULL, ARG_ATTEST_SOCKET },
                { "keys-socket", required_argument, NULL, ARG_KEYS_SOCKET },
                { "config-socket", required_argument, NULL, ARG_CONFIG_SOCKET }, {} };
        const char *dir = getenv("PATELA_RUNTIME_DIRECTORY");
        int opt, r;

        if (isempty(dir))
                dir = "/run/patela";
        for (CtlService s = 0; s < _CTL_SERVICE_MAX; s++) {
                if (asprintf(&c->socket[s], "%s/%s", dir, socket_name[s]) < 0) {
                        c->socket[s] = NULL;
                        return log_oom();
                }
        }

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("patelactl " PROJECT_VERSION);
                        return 0;
                case ARG_JSON:
                        if (streq(optarg, "pretty"))
                                c->json_format = SD_JSON_FORMAT_PRETTY | SD_JSON_FORMAT_COLOR_AUTO;
                        else if (streq(optarg, "short"))
                                c->json_format = 0;
                        else if (streq(optarg, "off"))
                                c->json_format = SD_JSON_FORMAT_OFF;
                        else
                                return log_error_errno(
                                        EINVAL, "Unknown --json= mode: %s (pretty, short or off)", optarg);
                        break;
                case ARG_NO_LEGEND:
                        c->legend = false;
                        break;
                case ARG_ATTEST_SOCKET:
                case ARG_KEYS_SOCKET:
                case ARG_CONFIG_SOCKET:
                        r = set_socket(c,
                                opt == ARG_ATTEST_SOCKET         ? CTL_ATTEST
                                        : opt == ARG_KEYS_SOCKET ? CTL_KEYS
                                                                 : CTL_CONFIG,
                                optarg);
                        if (r < 0)
                                return r;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unhandled option %d", opt);
                }
        return 1;
}

static int dispatch_verb(int argc, char *argv[], const Ctl *c) {
        const char *name = argc > 0 ? argv[0] : "status", *sub = argc > 1 ? argv[1] : NULL;
        bool known = false;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                const Verb *v = &verbs[i];

                if (!streq(v->name, name))
                        continue;
                known = true;
                if (v->sub && (!sub || !streq(v->sub, sub)))
                        continue;
                if (argc > (v->sub ? 2 : 1))
                        return log_error_errno(EINVAL, "Too many arguments for '%s%s%s'.", v->name,
                                v->sub ? " " : "", v->sub ?: "");
                return v->func(c);
        }
        if (known)
                return log_error_errno(EINVAL, "'%s' needs one of: %s", name,
                        streq(name, "keys") ? "list, reseal-check" : streq(name, "log") ? "verify" : "show, diff");
        return log_error_errno(EINVAL, "Unknown command '%s'. See patelactl --help.", name);
}

int main(int argc, char *argv[]) {
        _cleanup_(ctl_done) Ctl c = {
                .json_format = SD_JSON_FORMAT_OFF,
                .legend = true,
        };
        int r;

        log_parse_environment();
        r = parse_argv(argc, argv, &c);
        if (r <= 0)
                return r == 0 ? EXIT_SUCCESS : CTL_EXIT_USAGE;

        r = dispatch_verb(argc - optind, argv + optind, &c);
        return ctl_exit_code(r);
}
