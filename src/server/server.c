/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <malloc.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server-cli.h"
#include "string-util.h"

#define DATABASE_DEFAULT "/var/lib/patela/server.db"

static void help(void) {
        printf("%s [OPTIONS...] VERB [ARGS...]\n\n"
               "patela's configuration server and its admin CLI.\n\n"
               "Verbs:\n"
               "  run                                  Serve the HTTPS API\n"
               "  node list|show|enable|disable|remove|relays ...\n"
               "  node set|get|unset KEY [VALUE] default|--id N   Node settings (network)\n"
               "  list [nodes|relays] [--state=STATE]\n"
               "  torrc import FILE|- default|node --id N|relay --id NAME\n"
               "  torrc get|set|append|unset|clear ...\n"
               "  diff --node N                        What each relay's torrc gets from which level\n"
               "  pool add names|ipv4|ipv6 VALUE...    Relay names and addresses to allocate\n"
               "  pool list [names|ipv4|ipv6]\n"
               "  attestations [--node N] [--limit N]  The attestation log\n"
               "  status [--after ID] [--limit N]      Each node: state, image, verdict, relays\n"
               "  image add FILE [--name NAME]         Register an image from its patela.reference.json\n"
               "  image list|show NAME|retire NAME     The images nodes may boot\n"
               "  contactinfo rsa-fingerprints [--output FILE]  The relays' rsa-fingerprint.txt (proof:uri-rsa)\n"
               "  family init|rotate                   Make the fleet's (first, next) Happy Family key\n"
               "  family show [--all]|retire [FAMILYID] Its FamilyIds; stop publishing one\n"
               "  ca init [--dir DIR] | ca issue NAME --san DNS:NAME|IP:ADDR... [--dir DIR]\n\n"
               "Options (each also a [Server] key of patela-server.conf(5)):\n"
               "  -h --help                  Show this help\n"
               "     --version               Show the version\n"
               "     --config=FILE           Read FILE instead of %s and its drop-ins\n"
               "     --json                  JSON output\n"
               "     --no-legend             No table header\n"
               "     --database=PATH         Database= (default %s)\n"
               "     --listen=ADDR:PORT      Listen= (repeatable)\n"
               "     --certificate=PEM       Certificate=\n"
               "     --private-key=PEM       PrivateKey=\n"
               "     --session-lifetime=T    SessionLifetime= (default 1h)\n"
               "     --challenge-lifetime=T  ChallengeLifetime= (default 60s)\n"
               "     --max-pending-nodes=N   MaxPendingNodes= (default 100)\n"
               "     --enroll-rate=N         EnrollRatePerMinute= per source address (default 30)\n"
               "     --quote-pcrs=LIST       QuotePCRs= (default 0-5,7,9,11,12)\n"
               "     --quote-bank=BANK       QuoteBank= (default sha256)\n"
               "     --threads=N             Threads= (default: one per CPU)\n"
               "     --max-body-size=BYTES   MaxBodySize= (default 1048576)\n"
               "     --max-connections-per-source=N  MaxConnectionsPerSource= (default 32)\n"
               "     --max-connections=N     MaxConnections= per listening socket (default 16384)\n"
               "     --idle-timeout=T        IdleTimeout= (default 90s)\n"
               "     --tls-ticket-lifetime=T TLSTicketLifetime= (TLS session resumption; default 6h, 0: off)\n"
               "     --max-buffered-bytes=BYTES  MaxBufferedBytes= (default 67108864)\n"
               "     --default-relay-count=N DefaultRelayCount= (default 1)\n"
               "     --relays-per-address=N  RelaysPerAddress= (default 8)\n"
               "     --orport-range=LOW-HIGH ORPortRange= (default 9001-9099)\n"
               "     --ek-certificate=POLICY EkCertificate= verify, require or ignore (default verify)\n"
               "     --ek-ca-directory=DIR   EkCaDirectory= (default " SERVER_EK_CA_DIRECTORY ")\n"
               "     --metrics-listen=ADDR:PORT  MetricsListen= (/metrics and /v1/status; default off)\n"
               "     --metrics-token-file=FILE   MetricsTokenFile= (their bearer token)\n"
               "     --ca-certificate=PEM    CACertificate= (its expiry in /metrics)\n"
               "\nSee patela-server(8) and patela-server.conf(5).\n",
               program_invocation_short_name, SERVER_CONFIG_FILE, DATABASE_DEFAULT);
}

static const struct {
        const char *option;
        const char *key;
} option_keys[] = {
        { "database", "Database" },
        { "listen", "Listen" },
        { "certificate", "Certificate" },
        { "private-key", "PrivateKey" },
        { "session-lifetime", "SessionLifetime" },
        { "challenge-lifetime", "ChallengeLifetime" },
        { "pending-lifetime", "PendingLifetime" },
        { "max-pending-nodes", "MaxPendingNodes" },
        { "enroll-rate", "EnrollRatePerMinute" },
        { "quote-pcrs", "QuotePCRs" },
        { "quote-bank", "QuoteBank" },
        { "threads", "Threads" },
        { "max-body-size", "MaxBodySize" },
        { "max-connections-per-source", "MaxConnectionsPerSource" },
        { "max-connections", "MaxConnections" },
        { "idle-timeout", "IdleTimeout" },
        { "tls-ticket-lifetime", "TLSTicketLifetime" },
        { "max-buffered-bytes", "MaxBufferedBytes" },
        { "default-relay-count", "DefaultRelayCount" },
        { "relays-per-address", "RelaysPerAddress" },
        { "orport-range", "ORPortRange" },
        { "ek-certificate", "EkCertificate" },
        { "ek-ca-directory", "EkCaDirectory" },
        { "measured-boot", "MeasuredBoot" },
        { "check-interval", "CheckInterval" },
        { "relay-metrics-interval", "RelayMetricsInterval" },
        { "log-key", "LogKey" },
        { "metrics-listen", "MetricsListen" },
        { "metrics-token-file", "MetricsTokenFile" },
        { "ca-certificate", "CACertificate" },
};

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_CONFIG, ARG_JSON, ARG_NO_LEGEND, ARG_KEY };
        struct option options[ELEMENTSOF(option_keys) + 6] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "json", no_argument, NULL, ARG_JSON },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
        };
        static const struct {
                const char *name;
                int (*func)(Cli *cli, int argc, char **argv);
        } verbs[] = {
                { "run", verb_run },     { "node", verb_node },   { "list", verb_list },
                { "pool", verb_pool },   { "torrc", verb_torrc }, { "diff", verb_diff },
                { "ca", verb_ca },       { "attestations", verb_attestations },
                { "image", verb_image }, { "contactinfo", verb_contactinfo },
                { "log", verb_log },
                { "family", verb_family },
                { "status", verb_status },
        };
        const char *flag_keys[64], *flag_values[64], *config_path = NULL;
        unsigned n_flags = 0;
        ServerConfig config;
        Cli cli = { .config = &config };
        int c, r, index;

        log_parse_environment();
        /* SQLite's allocation statistics take a global mutex on every allocation, and nothing here reads
         * them. Before the first sqlite3_open(), or it does not apply. */
        (void) sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        /* glibc gives a thread arena's free top back to the kernel (madvise, and a TLB shootdown on the
         * other CPU) as soon as it passes 128 KiB: an authentication's 15 KB body, its parsed logs and SQLite's
         * buffers crossed that on every request, 4 % of the server's CPU in the benchmark. Keep up to 4 MiB
         * per arena; allocations from 1 MiB (none on the request path, whose bodies are smaller) are mapped. */
        (void) mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
        (void) mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
        for (size_t i = 0; i < ELEMENTSOF(option_keys); i++)
                options[5 + i] = (struct option) { option_keys[i].option, required_argument, NULL, ARG_KEY };

        /* "+": options end at the verb; each verb parses its own. */
        while ((c = getopt_long(argc, argv, "+h", options, &index)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("patela-server %s\n", PROJECT_VERSION);
                        return EXIT_SUCCESS;
                case ARG_CONFIG:
                        config_path = optarg;
                        break;
                case ARG_JSON:
                        cli.json = true;
                        break;
                case ARG_NO_LEGEND:
                        cli.no_legend = true;
                        break;
                case ARG_KEY:
                        if (n_flags >= ELEMENTSOF(flag_keys))
                                return log_error_errno(E2BIG, "Too many options."), EXIT_USAGE;
                        flag_keys[n_flags] = option_keys[index - 5].key;
                        flag_values[n_flags++] = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }

        server_config_init(&config);
        r = server_config_load(&config, config_path);
        if (r < 0) {
                server_config_done(&config);
                return EXIT_FAILURE;
        }
        /* Flags win over the files. */
        for (unsigned i = 0; i < n_flags; i++) {
                r = server_config_set(&config, flag_keys[i], flag_values[i]);
                if (r < 0) {
                        log_error_errno(r, "Invalid value '%s' for --%s.", flag_values[i], flag_keys[i]);
                        server_config_done(&config);
                        return EXIT_USAGE;
                }
        }
        if (!config.database && server_config_set(&config, "Database", DATABASE_DEFAULT) < 0)
                return log_oom(), EXIT_FAILURE;

        if (optind >= argc) {
                help();
                server_config_done(&config);
                return EXIT_USAGE;
        }

        const char *verb = argv[optind];
        bool found = false;
        for (size_t i = 0; i < ELEMENTSOF(verbs) && !found; i++)
                if (streq(verb, verbs[i].name)) {
                        /* The verb parses its own options: its argv[0] is the verb. */
                        int vargc = argc - optind;
                        char **vargv = argv + optind;

                        found = true;
                        optind = 0;
                        r = verbs[i].func(&cli, vargc, vargv);
                }
        if (!found) {
                log_error("Unknown verb '%s'; see --help.", verb);
                r = EXIT_USAGE;
        }

        db_close(cli.db);
        server_config_done(&config);
        return r;
}
