/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-pcrlock: the image side of the systemd-pcrlock policy that patela-keyd seals to. It describes the
 * running image (from the firmware's event log) and a new image (from its UKI) as variants of one
 * systemd-pcrlock component, has systemd-pcrlock turn them into the policy, and prints what a boot of an
 * image measures. */
#include <getopt.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "pcrlock-component.h"
#include "pcr-replay.h"
#include "pcrlock-image.h"
#include "pcrlock-pe.h"
#include "pcrlock-policy.h"
#include "pcrlock-reference.h"
#include "tpm2-util.h"

#define DEFAULT_EVENT_LOG "/sys/kernel/security/tpm0/binary_bios_measurements"
#define DEFAULT_COMPONENTS "/var/lib/pcrlock.d"
#define DEFAULT_POLICY "/var/lib/systemd/pcrlock.json"
#define DEFAULT_PCRLOCK "/usr/lib/systemd/systemd-pcrlock"
#define DEFAULT_KEYS_SOCKET "/run/patela/io.patela.Keys"
#define DEFAULT_PCRS "0,2,4,9,11"
/* From the state right after the firmware handed over (after 700-action-efi-exit-boot-services: what
 * make-policy sees at boot) through sysinit and ready, up to, not including, shutdown. */
#define DEFAULT_LOCATION "710-:940-"

static const char *arg_event_log = DEFAULT_EVENT_LOG;
static const char *arg_components = DEFAULT_COMPONENTS;
static bool arg_components_set = false;
static const char *arg_policy = DEFAULT_POLICY;
static const char *arg_pcrlock = DEFAULT_PCRLOCK;
static const char *arg_keys_socket = DEFAULT_KEYS_SOCKET;
static const char *arg_location = DEFAULT_LOCATION;
static uint32_t arg_pcrs;
static bool arg_keyd = true;
static bool arg_table = false;

static void help(void) {
        printf("patela-pcrlock [OPTIONS…] COMMAND\n\n"
               "Keeps the systemd-pcrlock policy that patela-keyd seals to in step with the images this node boots.\n\n"
               "Commands:\n"
               "  reference UKI     Print what booting UKI measures (JSON; --table for people)\n"
               "  lock-boot         Describe the running image from the firmware's event log (at boot)\n"
               "  predict UKI|REF   Allow an image (its UKI or its reference) next to the running one\n"
               "  commit            Allow only the running image again\n\n"
               "Options:\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --table               reference: a table instead of JSON\n"
               "     --pcrs=LIST           PCRs of the policy, all required (default: " DEFAULT_PCRS ")\n"
               "     --event-log=PATH      Firmware event log (default: " DEFAULT_EVENT_LOG ")\n"
               "     --components=DIR      Where the variants go (default: " DEFAULT_COMPONENTS ");\n"
               "                           if given, also systemd-pcrlock's only component directory\n"
               "     --policy=PATH         systemd-pcrlock's policy file (default: " DEFAULT_POLICY ")\n"
               "     --location=FROM:TO    systemd-pcrlock --location= (default: " DEFAULT_LOCATION ")\n"
               "     --systemd-pcrlock=PATH  (default: " DEFAULT_PCRLOCK ")\n"
               "     --keys-socket=PATH    patela-keyd's socket (default: " DEFAULT_KEYS_SOCKET ")\n"
               "     --no-keyd             Do not ask patela-keyd to unseal and keep the new policy\n\n"
               "See patela-pcrlock(8).\n");
}

static int read_uki(const char *path, uint8_t **ret, size_t *ret_size) {
        int r = read_full_file(path, PE_SIZE_MAX, (void **) ret, ret_size);

        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        return 0;
}

static int uki_measurements(const char *path, ImageMeasurements *m, char **ret_variant) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r;

        r = read_uki(path, &data, &size);
        if (r < 0)
                return r;
        r = image_measurements_from_uki(data, size, m);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s is not a UKI (a PE image with a .linux section).", path);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the measurements of %s: %m", path);
        if (ret_variant && component_uki_variant(data, size, ret_variant) < 0)
                return log_oom();
        return 0;
}

static int verb_reference(int argc, char *argv[]) {
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_free_ char *text = NULL;
        const char *problem = NULL;
        const ImageMeasurements *m;
        ImageReference ref;
        size_t size;
        int r;

        if (argc != 2)
                return log_error_errno(EINVAL, "reference takes one UKI.");
        r = read_uki(argv[1], &data, &size);
        if (r < 0)
                return r;
        r = reference_from_uki(data, size, &ref, &problem);
        if (r == -EBADMSG)
                return log_error_errno(r, "%s: %s.", argv[1], problem);
        if (r < 0)
                return log_error_errno(r, "Failed to compute the measurements of %s: %m", argv[1]);
        if (!arg_table) {
                r = image_reference_format(&ref, &text);
                if (r < 0)
                        return log_error_errno(r, "Failed to format the reference: %m");
                fputs(text, stdout);
                return 0;
        }

        m = &ref.measurements;
        {
                _cleanup_free_ char *h = hexmem(ref.uki_sha256, 32);
                printf("UKI %s: %zu bytes, SHA-256 %s\n", argv[1], size, h ? h : "?");
        }
        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                if (ref.os_release.values[f][0] != '\0')
                        printf("os-release %s=%s\n", os_release_field_to_string(f), ref.os_release.values[f]);
        printf("%-4s %-14s %s\n", "PCR", "EVENT", "SHA-256");
        for (size_t i = 0; i < m->n; i++) {
                _cleanup_free_ char *h = hexmem(m->records[i].sha256, 32);
                printf("%-4" PRIu32 " %-14s %s\n", m->records[i].pcr, m->records[i].what, h ? h : "?");
        }
        {
                const struct {
                        const char *what;
                        const uint8_t *value;
                } rows[] = {
                        { "PCR 9 (initrd, command line)", ref.pcr9 },
                        { "PCR 11 after the stub", ref.pcr11[IMAGE_PHASE_BOOT] },
                        { "PCR 11 after sysinit", ref.pcr11[IMAGE_PHASE_SYSINIT] },
                        { "PCR 11 after ready", ref.pcr11[IMAGE_PHASE_READY] },
                };
                for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                        _cleanup_free_ char *h = hexmem(rows[i].value, 32);
                        printf("%-31s %s\n", rows[i].what, h ? h : "?");
                }
        }
        printf("PCR 4 = the firmware's events with the authenticode digest above.\n");
        return 0;
}

static int verb_lock_boot(int argc, char *argv[]) {
        _cleanup_free_ uint8_t *log = NULL;
        _cleanup_(tcg_log_freep) TcgLog *fw = NULL;
        ImageMeasurements m;
        PcrValues values;
        BootError e = {};
        size_t size;
        int r;

        if (argc != 1)
                return log_error_errno(EINVAL, "lock-boot takes no arguments.");
        r = read_full_file(arg_event_log, TCG_LOG_SIZE_MAX, (void **) &log, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read the firmware event log %s: %m", arg_event_log);
        r = tcg_log_parse(log, size, &fw, &e);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                _cleanup_free_ char *why = boot_error_to_string(&e);
                return log_error_errno(r, "Failed to parse the firmware event log %s: %s", arg_event_log,
                                       why ?: e.reason);
        }
        r = image_measurements_from_log(fw->events, fw->n_events, &m);
        if (r < 0)
                return log_error_errno(r, "Too many image events in %s: %m", arg_event_log);
        if (m.n == 0)
                return log_error_errno(ENOMSG, "No UKI measurements in %s: not booted from a UKI?", arg_event_log);
        r = component_write_image(arg_components, VARIANT_BOOT, &m, m.early_load);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/%s.pcrlock.d/%s.pcrlock: %m", arg_components,
                                       COMPONENT_NAME, VARIANT_BOOT);
        if (m.early_load) {
                log_info("The firmware measured the UKI before its separator (as OVMF does for qemu -kernel): "
                         "its event is component %s.", COMPONENT_LOAD_NAME);
                r = component_unlock_firmware_uki(arg_components, m.records[0].sha256);
                if (r < 0)
                        return log_error_errno(r, "Failed to take the UKI's event out of %s/%s: %m", arg_components,
                                               FIRMWARE_EARLY_FILE);
                if (r > 0)
                        log_info("Moved the UKI's event from %s to %s.", FIRMWARE_EARLY_FILE, COMPONENT_LOAD_NAME);
        }

        /* For the console and the journal: what this boot measured, to compare with the image's reference. */
        pcr_replay(fw, /* userspace= */ NULL, &values);
        for (uint32_t pcr = 0; pcr < 24; pcr++) {
                _cleanup_free_ char *h = NULL;

                if (!(arg_pcrs & (1U << pcr)))
                        continue;
                h = hexmem(values.sha256[pcr], 32);
                if (!h)
                        return log_oom();
                log_info("Booted image: PCR %" PRIu32 " from the firmware log: %s", pcr, h);
        }
        for (size_t i = 0; i < m.n; i++) {
                _cleanup_free_ char *h = hexmem(m.records[i].sha256, 32);

                log_info("Booted image: PCR %" PRIu32 " event %s %s", m.records[i].pcr, m.records[i].what, h ? h : "?");
        }
        log_info("Locked the running image (%zu events on PCR 4, 9, 11) in %s/%s.pcrlock.d/%s.pcrlock.", m.n,
                 arg_components, COMPONENT_NAME, VARIANT_BOOT);
        return 0;
}

/* A UKI (a PE file: "MZ") or its reference JSON. */
static int image_or_reference(const char *path, ImageMeasurements *m, char **ret_variant) {
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *hex = NULL;
        BootError e = { .reason = "?" };
        ImageReference ref;
        size_t size;
        int r;

        r = read_full_file(path, PE_SIZE_MAX, (void **) &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        if (size >= 2 && text[0] == 'M' && text[1] == 'Z')
                return uki_measurements(path, m, ret_variant);
        r = image_reference_parse(text, size, &ref, &e);
        if (r < 0)
                return log_error_errno(r, "%s is neither a UKI nor an image reference (%s): %m", path, e.reason);
        *m = ref.measurements;
        hex = hexmem(ref.uki_sha256, 8);
        if (!hex || asprintf(ret_variant, "2-uki-%s", hex) < 0)
                return log_oom();
        return 0;
}

static PolicyArgs policy_args(void) {
        return (PolicyArgs) {
                .pcrlock = arg_pcrlock,
                .components = arg_components_set ? arg_components : NULL,
                .policy = arg_policy,
                .location = arg_location,
                .pcrs = arg_pcrs,
        };
}

/* Prediction check, make-policy, keyd. */
static int remake_policy(void) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *prediction = NULL;
        PolicyArgs a = policy_args();
        int r;

        r = policy_predict(&a, &prediction);
        if (r < 0)
                return r;
        r = policy_make(&a);
        if (r < 0)
                return r;
        printf("Policy %s allows:\n", arg_policy);
        policy_print_prediction(prediction);
        if (!arg_keyd)
                return 0;
        r = policy_keyd_check(arg_keys_socket);
        if (r < 0)
                return r;
        if (r == 0)
                log_info("No relay keys are sealed yet; patela-keyd will seal to this policy.");
        else
                log_info("patela-keyd unseals the keys of %d relay(s) with the new policy and keeps it in TPM NV.", r);
        return 0;
}

static int boot_variant_present(void) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s.pcrlock.d/%s.pcrlock", arg_components, COMPONENT_NAME, VARIANT_BOOT) < 0)
                return log_oom();
        if (access(p, F_OK) < 0)
                return log_error_errno(errno,
                                       "%s is missing (%m): the running image is not described, and a policy "
                                       "without it would lock this boot out. Run `patela-pcrlock lock-boot` first.",
                                       p);
        return 0;
}

static int verb_predict(int argc, char *argv[]) {
        _cleanup_free_ char *variant = NULL;
        ImageMeasurements m;
        int r;

        if (argc != 2)
                return log_error_errno(EINVAL, "predict takes one UKI or reference.");
        r = boot_variant_present();
        if (r < 0)
                return r;
        r = image_or_reference(argv[1], &m, &variant);
        if (r < 0)
                return r;
        r = component_write_image(arg_components, variant, &m, component_early_load(arg_components));
        if (r < 0)
                return log_error_errno(r, "Failed to write the variant %s: %m", variant);
        log_info("Added %s as variant %s of %s.", argv[1], variant, COMPONENT_NAME);
        r = remake_policy();
        if (r < 0) {
                /* Leave no variant behind that the policy does not have. */
                const char *names[] = { COMPONENT_NAME, COMPONENT_LOAD_NAME };
                for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s/%s.pcrlock.d/%s.pcrlock", arg_components, names[i], variant) >= 0)
                                (void) unlink(p);
                }
                return r;
        }
        return 0;
}

static int verb_commit(int argc, char *argv[]) {
        int r;

        if (argc != 1)
                return log_error_errno(EINVAL, "commit takes no arguments.");
        r = boot_variant_present();
        if (r < 0)
                return r;
        r = component_prune(arg_components, VARIANT_BOOT);
        if (r < 0)
                return log_error_errno(r, "Failed to remove the other variants: %m");
        log_info("Removed %d other variant(s).", r);
        return remake_policy();
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_TABLE,
                ARG_PCRS,
                ARG_EVENT_LOG,
                ARG_COMPONENTS,
                ARG_POLICY,
                ARG_LOCATION,
                ARG_PCRLOCK,
                ARG_KEYS_SOCKET,
                ARG_NO_KEYD,
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "table", no_argument, NULL, ARG_TABLE },
                { "pcrs", required_argument, NULL, ARG_PCRS },
                { "event-log", required_argument, NULL, ARG_EVENT_LOG },
                { "components", required_argument, NULL, ARG_COMPONENTS },
                { "policy", required_argument, NULL, ARG_POLICY },
                { "location", required_argument, NULL, ARG_LOCATION },
                { "systemd-pcrlock", required_argument, NULL, ARG_PCRLOCK },
                { "keys-socket", required_argument, NULL, ARG_KEYS_SOCKET },
                { "no-keyd", no_argument, NULL, ARG_NO_KEYD },
                {}
        };
        int opt, r;

        r = tpm2_parse_pcr_list(DEFAULT_PCRS, &arg_pcrs);
        if (r < 0)
                return log_error_errno(r, "Bad default PCR list: %m");
        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        puts("patela-pcrlock " PROJECT_VERSION);
                        return 0;
                case ARG_TABLE:
                        arg_table = true;
                        break;
                case ARG_PCRS:
                        r = tpm2_parse_pcr_list(optarg, &arg_pcrs);
                        if (r < 0 || arg_pcrs == 0)
                                return log_error_errno(EINVAL, "Invalid --pcrs=%s", optarg);
                        if (arg_pcrs & (1U << 15))
                                return log_error_errno(EINVAL, "PCR 15 holds the machine ID, new on every "
                                                               "stateless boot: not in a policy.");
                        break;
                case ARG_EVENT_LOG:
                        arg_event_log = optarg;
                        break;
                case ARG_COMPONENTS:
                        arg_components = optarg;
                        arg_components_set = true;
                        break;
                case ARG_POLICY:
                        arg_policy = optarg;
                        break;
                case ARG_LOCATION:
                        arg_location = optarg;
                        break;
                case ARG_PCRLOCK:
                        arg_pcrlock = optarg;
                        break;
                case ARG_KEYS_SOCKET:
                        arg_keys_socket = optarg;
                        break;
                case ARG_NO_KEYD:
                        arg_keyd = false;
                        break;
                case '?':
                        return -EINVAL;
                default:
                        return log_error_errno(EINVAL, "Unhandled option %d", opt);
                }
        return 1;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int (*func)(int argc, char *argv[]);
        } verbs[] = {
                { "reference", verb_reference },
                { "lock-boot", verb_lock_boot },
                { "predict", verb_predict },
                { "commit", verb_commit },
        };
        int r;

        log_parse_environment();
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        if (optind >= argc) {
                log_error("Missing command; see --help.");
                return 2;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(verbs[i].name, argv[optind]))
                        return verbs[i].func(argc - optind, argv + optind) < 0 ? 1 : 0;
        log_error("Unknown command %s; see --help.", argv[optind]);
        return 2;
}
