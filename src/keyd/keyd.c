/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyd-manager.h"
#include "keyd-pcrlock-state.h"
#include "log.h"
#include "string-util.h"
#include "tpm2-tcti.h"
#include "tpm2-util.h"

static const char *arg_listen = NULL;
static bool arg_restore = false;
static const char *arg_config = NULL;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Holds the relays' identity keys, sealed in TPM NV, and answers io.patela.Keys over varlink.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --tcti=TCTI            TPM to use (default: $PATELA_TPM2_TCTI, else TPMDevice= of\n"
               "                            patela.conf, else device:/dev/tpmrm0)\n"
               "     --config=FILE          Read TPMDevice= from FILE (default: %s and %s/*.conf)\n"
               "     --pcrlock-policy=PATH  systemd-pcrlock policy (default: %s)\n"
               "     --required-pcrs=LIST   PCRs the policy must cover (default: 0,2,4,9,11)\n"
               "     --key-directory=PATH   tmpfs directory of the relays' key directories (default: %s)\n"
               "     --tor-directory=PATH   the tor instances' runtime directories, NAME/data/state (default: %s)\n"
               "     --state-directory=PATH where the last sealed tor state of each relay is kept (default: %s)\n"
               "     --idle-timeout=TIME    Exit after this long without clients; 0 never (default: 30s)\n"
               "     --listen=PATH          Listen on this socket when not socket-activated\n"
               "     --restore-pcrlock-policy  Put the pcrlock policy file back from TPM NV if it is missing, exit\n"
               "\nSee the patela-keyd(8) man page for details.\n",
               program_invocation_short_name, TPM2_TCTI_CONFIG_FILE, TPM2_TCTI_CONFIG_DROPIN_DIR, KEYD_POLICY_DEFAULT,
               KEYD_KEY_DIRECTORY_DEFAULT, KEYD_TOR_DIRECTORY_DEFAULT, KEYD_STATE_DIRECTORY_DEFAULT);
}

static int set_string(char **dst, const char *value) {
        char *s = strdup(value);
        if (!s)
                return log_oom();
        free(*dst);
        *dst = s;
        return 0;
}

static int parse_argv(Manager *m, int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_TCTI, ARG_POLICY, ARG_REQUIRED, ARG_KEYDIR, ARG_IDLE, ARG_LISTEN, ARG_RESTORE,
               ARG_CONFIG, ARG_TORDIR, ARG_STATEDIR };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "tcti", required_argument, NULL, ARG_TCTI },
                { "pcrlock-policy", required_argument, NULL, ARG_POLICY },
                { "required-pcrs", required_argument, NULL, ARG_REQUIRED },
                { "key-directory", required_argument, NULL, ARG_KEYDIR },
                { "tor-directory", required_argument, NULL, ARG_TORDIR },
                { "state-directory", required_argument, NULL, ARG_STATEDIR },
                { "idle-timeout", required_argument, NULL, ARG_IDLE },
                { "listen", required_argument, NULL, ARG_LISTEN },
                { "restore-pcrlock-policy", no_argument, NULL, ARG_RESTORE },
                { "config", required_argument, NULL, ARG_CONFIG },
                {}
        };
        unsigned long long usec;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("patela-keyd %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_TCTI:
                        if ((r = set_string(&m->tcti, optarg)) < 0)
                                return r;
                        break;
                case ARG_POLICY:
                        if ((r = set_string(&m->policy_path, optarg)) < 0)
                                return r;
                        break;
                case ARG_REQUIRED:
                        r = tpm2_parse_pcr_list(optarg, &m->required_pcrs);
                        if (r < 0)
                                return log_error_errno(r, "Invalid PCR list '%s'.", optarg);
                        if (m->required_pcrs & (1U << 15))
                                return log_error_errno(EINVAL, "PCR 15 holds the machine-id, random on every stateless boot: "
                                                       "requiring it would make every key unsealable after a reboot.");
                        break;
                case ARG_KEYDIR:
                        if ((r = set_string(&m->key_directory, optarg)) < 0)
                                return r;
                        break;
                case ARG_TORDIR:
                        if ((r = set_string(&m->tor_directory, optarg)) < 0)
                                return r;
                        break;
                case ARG_STATEDIR:
                        if ((r = set_string(&m->state_directory, optarg)) < 0)
                                return r;
                        break;
                case ARG_IDLE:
                        r = parse_duration_usec(optarg, &usec);
                        if (r < 0)
                                return log_error_errno(r, "Invalid idle timeout '%s': %m", optarg);
                        m->idle_usec = usec;
                        break;
                case ARG_LISTEN:
                        arg_listen = optarg;
                        break;
                case ARG_RESTORE:
                        arg_restore = true;
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "%s takes no positional arguments.", program_invocation_short_name);
        r = tpm2_tcti_configure(&m->tcti, arg_config);
        if (r < 0)
                return r;
        return 1;
}

int main(int argc, char *argv[]) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        log_parse_environment();
        (void) setenv("TSS2_LOG", "all+NONE", /* overwrite= */ 0);

        r = manager_new(&m);
        if (r < 0)
                return log_oom(), EXIT_FAILURE;
        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        if (arg_restore) {
                /* At boot, before systemd-pcrlock-make-policy.service: a make-policy without the old file would
                 * allocate a new NV index and orphan the sealed key. */
                Tpm2Context *c;
                r = manager_tpm(m, &c);
                if (r < 0)
                        return EXIT_FAILURE;
                TPM2_HANDLE bad = 0;
                r = pcrlock_state_restore(c, m->policy_path, &bad);
                if (r == -ENOENT) {
                        log_info("No copy of a pcrlock policy in TPM NV: first boot of this TPM.");
                        return EXIT_SUCCESS;
                }
                if (r == -EKEYREJECTED)
                        return log_error("The copy of the pcrlock policy in TPM NV 0x%08x was not written through the "
                                         "policy it names: planted, or written by an older patela-keyd. Not restored: "
                                         "patela-keyd refuses to unseal or generate keys until the node is "
                                         "provisioned anew (docs/keyd.md).",
                                         bad),
                               EXIT_FAILURE;
                if (r < 0)
                        return log_error_errno(r, "Failed to restore %s: %m", m->policy_path), EXIT_FAILURE;
                log_info(r > 0 ? "Restored %s from TPM NV." : "%s exists, left as it is.", m->policy_path);
                return EXIT_SUCCESS;
        }

        r = manager_start(m, arg_listen);
        if (r < 0)
                return EXIT_FAILURE;
        r = varlink_service_run(m->service);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}
