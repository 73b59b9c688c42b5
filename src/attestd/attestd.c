/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "attestd-manager.h"
#include "log.h"
#include "string-util.h"
#include "tpm2-tcti.h"

static const char *arg_listen = NULL;
static const char *arg_config = NULL;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Holds the node's TPM attestation keys and answers io.patela.Attest over varlink.\n\n"
               "  -h --help                 Show this help\n"
               "     --version              Show the version\n"
               "     --tcti=TCTI            TPM to use (default: $" "PATELA_TPM2_TCTI, else TPMDevice= of\n"
               "                            patela.conf, else device:/dev/tpmrm0)\n"
               "     --config=FILE          Read TPMDevice= from FILE (default: %s and %s/*.conf)\n"
               "     --ek-type=TYPE         auto, rsa2048 or ecc-p256 (default: auto)\n"
               "     --ak-type=TYPE         rsa2048 or ecc-p256 (default: ecc-p256)\n"
               "     --firmware-log=PATH    Firmware TCG event log (default: %s)\n"
               "     --measure-log=PATH     systemd userspace measurement log (default: %s)\n"
               "     --idle-timeout=TIME    Exit after this long without clients; 0 never (default: 30s)\n"
               "     --listen=PATH          Listen on this socket when not socket-activated\n"
               "\nSee the patela-attestd(8) man page for details.\n",
               program_invocation_short_name, TPM2_TCTI_CONFIG_FILE, TPM2_TCTI_CONFIG_DROPIN_DIR,
               ATTESTD_FIRMWARE_LOG_DEFAULT, ATTESTD_MEASURE_LOG_DEFAULT);
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
        enum {
                ARG_VERSION = 0x100,
                ARG_TCTI,
                ARG_EK_TYPE,
                ARG_AK_TYPE,
                ARG_FIRMWARE_LOG,
                ARG_MEASURE_LOG,
                ARG_IDLE_TIMEOUT,
                ARG_LISTEN,
                ARG_CONFIG,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "tcti", required_argument, NULL, ARG_TCTI },
                { "ek-type", required_argument, NULL, ARG_EK_TYPE },
                { "ak-type", required_argument, NULL, ARG_AK_TYPE },
                { "firmware-log", required_argument, NULL, ARG_FIRMWARE_LOG },
                { "measure-log", required_argument, NULL, ARG_MEASURE_LOG },
                { "idle-timeout", required_argument, NULL, ARG_IDLE_TIMEOUT },
                { "listen", required_argument, NULL, ARG_LISTEN },
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
                        printf("patela-attestd %s\n", PROJECT_VERSION);
                        return 0;
                case ARG_TCTI:
                        r = set_string(&m->tcti, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_EK_TYPE:
                        if (streq(optarg, "auto"))
                                m->ek_type = _TPM2_KEY_TYPE_INVALID;
                        else {
                                m->ek_type = tpm2_key_type_from_string(optarg);
                                if (m->ek_type < 0)
                                        return log_error_errno(EINVAL, "Unknown EK type '%s': use auto, rsa2048 or ecc-p256.", optarg);
                        }
                        break;
                case ARG_AK_TYPE:
                        m->ak_type = tpm2_key_type_from_string(optarg);
                        if (m->ak_type < 0)
                                return log_error_errno(EINVAL, "Unknown AK type '%s': use rsa2048 or ecc-p256.", optarg);
                        break;
                case ARG_FIRMWARE_LOG:
                        r = set_string(&m->firmware_log, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_MEASURE_LOG:
                        r = set_string(&m->measure_log, optarg);
                        if (r < 0)
                                return r;
                        break;
                case ARG_IDLE_TIMEOUT:
                        r = parse_duration_usec(optarg, &usec);
                        if (r < 0)
                                return log_error_errno(r, "Invalid idle timeout '%s': %m", optarg);
                        m->idle_usec = usec;
                        break;
                case ARG_LISTEN:
                        arg_listen = optarg;
                        break;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case '?':
                        return -EINVAL;
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
        /* tpm2-tss logs to stderr on its own; our errors carry the decoded TPM codes already. */
        (void) setenv("TSS2_LOG", "all+NONE", /* overwrite= */ 0);

        r = manager_new(&m);
        if (r < 0)
                return log_oom(), EXIT_FAILURE;

        r = parse_argv(m, argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        r = manager_start(m, arg_listen);
        if (r < 0)
                return EXIT_FAILURE;

        r = varlink_service_run(m->service);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m"), EXIT_FAILURE;
        return EXIT_SUCCESS;
}
