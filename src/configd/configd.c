/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "configd-files.h"
#include "configd-manager.h"
#include "log.h"

#define OVERRIDES_MAX 64

/* Command line flags are configuration keys, applied after the files and the credentials. */
typedef struct Override {
        const char *key;
        const char *value;
        const char *flag;
} Override;

static const char *arg_config = NULL;
static const char *arg_listen = NULL;
static Override arg_overrides[OVERRIDES_MAX];
static size_t arg_n_overrides = 0;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Enrols and attests the node at patela-server, fetches its relays' configuration, gets their keys\n"
               "from patela-keyd and writes their torrc and network files; answers io.patela.Config over varlink.\n\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --config=FILE           Read only FILE (default: %s and %s/*.conf)\n"
               "     --listen=PATH           Listen on this socket when not socket-activated\n"
               "                             (default: STATE_DIRECTORY/%s)\n"
               "     --server-url=URL        ServerURL=\n"
               "     --ca-certificate=PEM    CACertificate=, the only trust anchor\n"
               "     --reattest-interval=T   ReattestInterval= (default 1h, ±10%%)\n"
               "     --state-save-interval=T StateSaveInterval= (default 1h; 0: only when stopping)\n"
               "     --retry-interval=T      RetryInterval= (default 5s)\n"
               "     --retry-interval-max=T  RetryIntervalMax= (default 5min)\n"
               "     --connect-timeout=T     ConnectTimeout= (default 10s)\n"
               "     --timeout=T             Timeout= (default 60s)\n"
               "     --state-directory=DIR   StateDirectory= (default %s)\n"
               "     --torrc-directory=DIR   TorrcDirectory= (default %s)\n"
               "     --network-directory=DIR NetworkDirectory= (default %s)\n"
               "     --network-file=NAME     NetworkFile= (default %s)\n"
               "     --attest-socket=PATH    AttestSocket= (default %s)\n"
               "     --keys-socket=PATH      KeysSocket= (default %s)\n"
               "     --relay-user=PATTERN    RelayUser= (default %s)\n"
               "     --data-directory=PATTERN DataDirectory= (default %s)\n"
               "     --key-directory=PATTERN KeyDirectory= (default %s; empty: keyd's directory)\n"
               "     --tor-allocator=NAME    TorAllocator= jemalloc|mimalloc|system (default jemalloc)\n"
               "     --route-table=N         RouteTable= of the relays' gateways (default %u)\n"
               "     --units / --no-units    ManageUnits= (default: yes)\n"
               "\nSee the patela-configd(8) and patela.conf(5) man pages for details.\n",
               program_invocation_short_name, CONFIGD_CONFIG_FILE, CONFIGD_CONFIG_DROPIN_DIR, CONFIGD_SOCKET_NAME,
               CONFIGD_STATE_DIRECTORY_DEFAULT, CONFIGD_TORRC_DIRECTORY_DEFAULT, CONFIGD_NETWORK_DIRECTORY_DEFAULT,
               CONFIGD_NETWORK_FILE_DEFAULT, CONFIGD_ATTEST_SOCKET_DEFAULT, CONFIGD_KEYS_SOCKET_DEFAULT,
               CONFIGD_RELAY_USER_DEFAULT, CONFIGD_DATA_DIRECTORY_DEFAULT, CONFIGD_KEY_DIRECTORY_DEFAULT,
               CONFIGD_ROUTE_TABLE_DEFAULT);
}

static int parse_argv(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_LISTEN, ARG_UNITS, ARG_NO_UNITS, ARG_KEY_FIRST };
        /* Flag → configuration key, in the order of patela.conf(5). */
        static const struct {
                const char *flag;
                const char *key;
        } keys[] = {
                { "server-url", "ServerURL" },
                { "ca-certificate", "CACertificate" },
                { "reattest-interval", "ReattestInterval" },
                { "state-save-interval", "StateSaveInterval" },
                { "retry-interval", "RetryInterval" },
                { "retry-interval-max", "RetryIntervalMax" },
                { "connect-timeout", "ConnectTimeout" },
                { "timeout", "Timeout" },
                { "state-directory", "StateDirectory" },
                { "torrc-directory", "TorrcDirectory" },
                { "network-directory", "NetworkDirectory" },
                { "network-file", "NetworkFile" },
                { "attest-socket", "AttestSocket" },
                { "keys-socket", "KeysSocket" },
                { "relay-user", "RelayUser" },
                { "data-directory", "DataDirectory" },
                { "key-directory", "KeyDirectory" },
                { "tor-allocator", "TorAllocator" },
                { "route-table", "RouteTable" },
        };
        struct option options[ELEMENTSOF(keys) + 7] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "units", no_argument, NULL, ARG_UNITS },
                { "no-units", no_argument, NULL, ARG_NO_UNITS },
        };
        int c;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                options[6 + i] = (struct option) { keys[i].flag, required_argument, NULL, ARG_KEY_FIRST + (int) i };

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                if (c >= ARG_KEY_FIRST && c < ARG_KEY_FIRST + (int) ELEMENTSOF(keys)) {
                        if (arg_n_overrides >= OVERRIDES_MAX)
                                return log_error_errno(E2BIG, "Too many options.");
                        arg_overrides[arg_n_overrides++] = (Override) {
                                keys[c - ARG_KEY_FIRST].key, optarg, keys[c - ARG_KEY_FIRST].flag };
                        continue;
                }
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("patela-configd %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_LISTEN:
                        arg_listen = optarg;
                        break;
                case ARG_UNITS:
                case ARG_NO_UNITS:
                        if (arg_n_overrides >= OVERRIDES_MAX)
                                return log_error_errno(E2BIG, "Too many options.");
                        arg_overrides[arg_n_overrides++] = (Override) {
                                "ManageUnits", c == ARG_UNITS ? "yes" : "no", c == ARG_UNITS ? "units" : "no-units" };
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.", program_invocation_short_name);
        return 1;
}

static int load_config(Manager *m) {
        int r;

        r = configd_config_load(&m->config, arg_config, CONFIGD_CONFIG_FILE, CONFIGD_CONFIG_DROPIN_DIR);
        if (r < 0)
                return r;
        r = configd_config_load_credentials(&m->config, getenv("CREDENTIALS_DIRECTORY"));
        if (r < 0)
                return r;
        if (r > 0)
                log_debug("Applied %d systemd credentials.", r);
        for (size_t i = 0; i < arg_n_overrides; i++) {
                r = configd_config_set(&m->config, arg_overrides[i].key, arg_overrides[i].value);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return log_error_errno(r, "Invalid --%s=%s.", arg_overrides[i].flag, arg_overrides[i].value);
        }
        m->listen_address = arg_listen;
        return configd_config_check(&m->config);
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_parse_environment();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return log_error_errno(EIO, "Failed to initialize libcurl."), EXIT_FAILURE;

        r = manager_new(&m);
        if (r < 0)
                return log_oom(), EXIT_FAILURE;
        r = load_config(m);
        if (r >= 0)
                r = manager_start(m);
        if (r >= 0) {
                r = manager_run(m);
                if (r < 0)
                        log_error_errno(r, "Event loop failed: %m");
        }
        m = manager_free(m);
        curl_global_cleanup();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
