/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs: one varlink call each (three for status), the reply as JSON or as tables. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-json.h"
#include "ctl-table.h"
#include "ctl-verbs.h"
#include "log.h"

#define CALL_TIMEOUT_USEC (45ULL * 1000000ULL)
/* Refresh runs a whole cycle: enrolment, activation, quote, fetching configuration, keys. */
#define REFRESH_TIMEOUT_USEC (300ULL * 1000000ULL)
#define LABEL_WIDTH 14

static bool want_json(const Ctl *c) {
        return !(c->json_format & SD_JSON_FORMAT_OFF);
}

static int dump_json(const Ctl *c, sd_json_variant *v) {
        int r = sd_json_variant_dump(v, c->json_format | SD_JSON_FORMAT_NEWLINE, stdout, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to print JSON: %m");
        return 0;
}

static void field(const char *label, const char *value) {
        printf("%*s: %s\n", LABEL_WIDTH, label, value ?: "-");
}

static const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static const char *or_dash(const char *s) {
        return s ?: "-";
}

static int print_relays_table(const Ctl *c, sd_json_variant *status) {
        _cleanup_(table_freep) Table *t = NULL;
        size_t n;
        sd_json_variant *relays = json_array(status, "relays", &n);

        t = table_new(6, "NAME", "STATE", "UNIT", "IPV4", "IPV6", "RSA FINGERPRINT");
        if (!t)
                return log_oom();
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *r = sd_json_variant_by_index(relays, i);
                if (table_add_row(t, json_str(r, "name"), json_str(r, "state"), json_str(r, "unitState"),
                            json_str(r, "ipv4"), json_str(r, "ipv6"), json_str(r, "rsaFingerprint")) < 0)
                        return log_oom();
        }
        if (n > 0)
                table_print(t, c->legend);
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *r = sd_json_variant_by_index(relays, i);
                if (json_str(r, "error"))
                        printf("%s failed: %s\n", or_dash(json_str(r, "name")), json_str(r, "error"));
        }
        if (c->legend)
                printf("%s%zu relays listed.\n", n > 0 ? "\n" : "", n);
        return 0;
}

static void print_config_status(sd_json_variant *s) {
        char buf[64];
        size_t n, applied = 0, failed = 0, n_family;
        sd_json_variant *relays = json_array(s, "relays", &n), *family;

        field("Phase", json_str(s, "phase"));
        field("Server", json_str(s, "serverUrl"));
        field("Node", json_str(s, "nodeState") ?: "unknown");
        field("Fingerprint", json_str(s, "fingerprint"));
        printf("%*s: %s", LABEL_WIDTH, "Attestation", format_usec(s, "lastAttestation", buf, sizeof(buf)));
        if (json_str(s, "lastVerdict"))
                printf(" (%s%s%s)", json_str(s, "lastVerdict"), json_str(s, "lastVerdictReason") ? ": " : "",
                        json_str(s, "lastVerdictReason") ?: "");
        putchar('\n');
        if (json_str(s, "bootVerdict"))
                printf("%*s: %s%s%s\n", LABEL_WIDTH, "Boot verdict", json_str(s, "bootVerdict"),
                       json_str(s, "bootVerdictReason") ? ": " : "", json_str(s, "bootVerdictReason") ?: "");
        family = json_array(s, "familyIds", &n_family);
        printf("%*s: ", LABEL_WIDTH, "Family");
        for (size_t i = 0; i < n_family; i++)
                printf("%s%s", i > 0 ? ", " : "", or_dash(sd_json_variant_string(sd_json_variant_by_index(family, i))));
        puts(n_family > 0 ? "" : "none");
        if (json_int(s, "lastCheck", NULL) > 0 || json_int(s, "nextCheck", NULL) > 0) {
                printf("%*s: %s", LABEL_WIDTH, "Session check", format_usec(s, "lastCheck", buf, sizeof(buf)));
                if (json_int(s, "nextCheck", NULL) > 0)
                        printf(", next %s", format_usec(s, "nextCheck", buf, sizeof(buf)));
                putchar('\n');
        }
        if (json_str(s, "lastError")) {
                printf("%*s: %s", LABEL_WIDTH, "Last error", json_str(s, "lastError"));
                if (json_str(s, "lastErrorCode"))
                        printf(" (%s)", json_str(s, "lastErrorCode"));
                printf(", %jd failed attempts\n", (intmax_t) json_int(s, "failedAttempts", NULL));
        }
        if (json_int(s, "nextAttempt", NULL) > 0)
                field("Next attempt", format_usec(s, "nextAttempt", buf, sizeof(buf)));
        if (json_str(s, "logError"))
                printf("%*s: not verified: %s\n", LABEL_WIDTH, "Log", json_str(s, "logError"));
        else if (json_int(s, "logVerified", NULL) > 0)
                printf("%*s: verified %s, image in the signed checkpoint of %jd entries\n", LABEL_WIDTH, "Log",
                       format_usec(s, "logVerified", buf, sizeof(buf)), (intmax_t) json_int(s, "logTreeSize", NULL));
        for (size_t i = 0; i < n; i++) {
                const char *st = json_str(sd_json_variant_by_index(relays, i), "state");
                applied += st && streq(st, "applied");
                failed += st && streq(st, "failed");
        }
        printf("%*s: %zu (%zu applied, %zu failed)%s\n", LABEL_WIDTH, "Relays", n, applied, failed,
                json_bool(s, "manageUnits") ? "" : ", units not managed");
}

static int print_keys_status(sd_json_variant *s) {
        sd_json_variant *da;
        _cleanup_free_ char *policy = json_int_list(s, "policyPcrs"),
                            *required = json_int_list(s, "requiredPcrs");

        if (!policy || !required)
                return log_oom();
        printf("%*s: %s", LABEL_WIDTH, "Policy", or_dash(json_str(s, "policyPath")));
        if (json_str(s, "policyNvIndex"))
                printf(" (NV index %s)", json_str(s, "policyNvIndex"));
        else
                printf(" (none)");
        putchar('\n');
        field("Policy PCRs", policy);
        field("Required PCRs", required);
        field("Sealed", yes_no(json_bool(s, "sealed")));
        if (json_str(s, "nvProblem"))
                field("NV problem", json_str(s, "nvProblem"));
        printf("%*s: %jd of %jd bytes per index used\n", LABEL_WIDTH, "NV",
                (intmax_t) json_int(s, "nvUsed", NULL), (intmax_t) json_int(s, "nvIndexMax", NULL));
        printf("%*s: %jd relays (%jd per index)\n", LABEL_WIDTH, "Capacity",
                (intmax_t) json_int(s, "capacity", NULL), (intmax_t) json_int(s, "relaysPerIndex", NULL));
        da = sd_json_variant_by_key(s, "dictionaryAttack");
        if (da && sd_json_variant_is_object(da))
                printf("%*s: %s, %jd of %jd failures (one forgotten every %jd s)\n", LABEL_WIDTH, "TPM lockout",
                       json_bool(da, "inLockout") ? "yes: DA-protected keys refused (patela's are noDA)" : "no",
                       (intmax_t) json_int(da, "failedTries", NULL), (intmax_t) json_int(da, "maxTries", NULL),
                       (intmax_t) json_int(da, "recoveryIntervalSec", NULL));
        return 0;
}

/* The part of GetIdentity that status shows; the public areas stay with `identity --json`. */
static int identity_summary(sd_json_variant *id, sd_json_variant **ret) {
        return sd_json_buildo(ret,
                SD_JSON_BUILD_PAIR("fingerprint", SD_JSON_BUILD_STRING(json_str(id, "fingerprint"))),
                SD_JSON_BUILD_PAIR("ekType", SD_JSON_BUILD_STRING(json_str(id, "ekType"))),
                SD_JSON_BUILD_PAIR("akType", SD_JSON_BUILD_STRING(json_str(id, "akType"))),
                SD_JSON_BUILD_PAIR("akName", SD_JSON_BUILD_STRING(json_str(id, "akName"))),
                SD_JSON_BUILD_PAIR(
                        "ekCertificate", SD_JSON_BUILD_BOOLEAN(json_str(id, "ekCertificate") != NULL)));
}

static int error_object(const CtlError *e, sd_json_variant **ret) {
        if (!e->message) {
                *ret = NULL;
                return 0;
        }
        return sd_json_buildo(ret,
                SD_JSON_BUILD_PAIR("error", SD_JSON_BUILD_STRING(e->id)), /* null if unreachable */
                SD_JSON_BUILD_PAIR("parameters", SD_JSON_BUILD_VARIANT(e->parameters)),
                SD_JSON_BUILD_PAIR("message", SD_JSON_BUILD_STRING(e->message)));
}

/* The worst outcome of the three calls decides status's exit code: unreachable, then a declared error,
 * then any other failure. */
static int status_rank(int r) {
        return r >= 0 ? 0 : r == -EHOSTUNREACH ? 3 : r == -EREMOTEIO ? 2 : 1;
}

int verb_status(const Ctl *c) {
        static const CtlService order[] = { CTL_CONFIG, CTL_KEYS, CTL_ATTEST };
        static const char *const methods[_CTL_SERVICE_MAX] = {
                [CTL_ATTEST] = "GetIdentity",
                [CTL_KEYS] = "GetStatus",
                [CTL_CONFIG] = "GetStatus",
        };
        sd_json_variant *reply[_CTL_SERVICE_MAX] = {}, *err[_CTL_SERVICE_MAX] = {};
        CtlError e[_CTL_SERVICE_MAX] = {};
        int rs[_CTL_SERVICE_MAX], ret = 0, r;

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                CtlService s = order[i];
                rs[s] = ctl_call(c, s, methods[s], CALL_TIMEOUT_USEC, &reply[s], &e[s]);
                if (status_rank(rs[s]) > status_rank(ret))
                        ret = rs[s];
        }
        if (reply[CTL_ATTEST]) {
                sd_json_variant *summary = NULL;
                r = identity_summary(reply[CTL_ATTEST], &summary);
                sd_json_variant_unref(reply[CTL_ATTEST]);
                reply[CTL_ATTEST] = summary;
                if (r < 0) {
                        ret = log_error_errno(r, "Failed to build JSON: %m");
                        goto finish;
                }
        }

        if (want_json(c)) {
                _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
                for (CtlService s = 0; s < _CTL_SERVICE_MAX; s++) {
                        r = error_object(&e[s], &err[s]);
                        if (r < 0) {
                                ret = log_error_errno(r, "Failed to build JSON: %m");
                                goto finish;
                        }
                }
                r = sd_json_buildo(&v,
                        SD_JSON_BUILD_PAIR("config", SD_JSON_BUILD_VARIANT(reply[CTL_CONFIG])),
                        SD_JSON_BUILD_PAIR("keys", SD_JSON_BUILD_VARIANT(reply[CTL_KEYS])),
                        SD_JSON_BUILD_PAIR("attest", SD_JSON_BUILD_VARIANT(reply[CTL_ATTEST])),
                        SD_JSON_BUILD_PAIR("errors",
                                SD_JSON_BUILD_OBJECT(
                                        SD_JSON_BUILD_PAIR("config", SD_JSON_BUILD_VARIANT(err[CTL_CONFIG])),
                                        SD_JSON_BUILD_PAIR("keys", SD_JSON_BUILD_VARIANT(err[CTL_KEYS])),
                                        SD_JSON_BUILD_PAIR(
                                                "attest", SD_JSON_BUILD_VARIANT(err[CTL_ATTEST])))));
                if (r < 0) {
                        ret = log_error_errno(r, "Failed to build JSON: %m");
                        goto finish;
                }
                r = dump_json(c, v);
                if (r < 0)
                        ret = r;
                goto finish;
        }

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                CtlService s = order[i];
                if (i > 0)
                        putchar('\n');
                printf("%s %s (%s)\n", reply[s] ? "●" : "×", ctl_service_daemon(s), c->socket[s]);
                if (!reply[s]) {
                        field(rs[s] == -EHOSTUNREACH ? "Reachable" : "Error",
                              rs[s] == -EHOSTUNREACH ? "no" : e[s].id ?: "failed");
                        field("Message", e[s].message);
                        continue;
                }
                switch (s) {
                case CTL_CONFIG:
                        print_config_status(reply[s]);
                        break;
                case CTL_KEYS:
                        r = print_keys_status(reply[s]);
                        if (r < 0)
                                ret = r;
                        break;
                case CTL_ATTEST:
                        field("Reachable", "yes");
                        field("Fingerprint", json_str(reply[s], "fingerprint"));
                        break;
                default:
                        break;
                }
        }
        if (reply[CTL_CONFIG]) {
                size_t n;
                (void) json_array(reply[CTL_CONFIG], "relays", &n);
                if (n > 0) {
                        putchar('\n');
                        r = print_relays_table(c, reply[CTL_CONFIG]);
                        if (r < 0)
                                ret = r;
                }
        }

finish:
        for (CtlService s = 0; s < _CTL_SERVICE_MAX; s++) {
                sd_json_variant_unref(reply[s]);
                sd_json_variant_unref(err[s]);
                ctl_error_done(&e[s]);
        }
        return ret;
}

int verb_identity(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        bool has_handle;
        int64_t handle;
        int r;

        r = ctl_call_log(c, CTL_ATTEST, "GetIdentity", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        /* The line the operator compares with `patela-server list nodes` before enabling the node. */
        field("Fingerprint", json_str(v, "fingerprint"));
        field("EK type", json_str(v, "ekType"));
        field("EK certificate", yes_no(json_str(v, "ekCertificate") != NULL));
        handle = json_int(v, "ekHandle", &has_handle);
        if (has_handle)
                printf("%*s: 0x%08jx\n", LABEL_WIDTH, "EK handle", (uintmax_t) handle);
        else
                field("EK handle", "none (derived from the template)");
        field("EK name", json_str(v, "ekName"));
        field("AK type", json_str(v, "akType"));
        field("AK name", json_str(v, "akName"));
        return 0;
}

int verb_keys_list(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        sd_json_variant *relays;
        size_t n;
        int r;

        r = ctl_call_log(c, CTL_KEYS, "ListRelays", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        t = table_new(3, "NAME", "RSA FINGERPRINT", "ED25519 IDENTITY");
        if (!t)
                return log_oom();
        relays = json_array(v, "relays", &n);
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(relays, i);
                if (table_add_row(t, json_str(e, "name"), json_str(e, "rsaFingerprint"),
                            json_str(e, "ed25519Identity")) < 0)
                        return log_oom();
        }
        if (n > 0)
                table_print(t, c->legend);
        if (c->legend)
                printf("%s%zu relays with sealed keys listed.\n", n > 0 ? "\n" : "", n);
        return 0;
}

int verb_keys_reseal_check(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        _cleanup_free_ char *policy = NULL, *missing = NULL;
        size_t n_missing;
        bool ok;
        int r;

        r = ctl_call_log(c, CTL_KEYS, "CheckReseal", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        (void) json_array(v, "missingPcrs", &n_missing);
        ok = n_missing == 0 && json_bool(v, "unsealable");
        if (want_json(c)) {
                r = dump_json(c, v);
                return r < 0 ? r : ok ? 0 : CTL_EXIT_FAILURE;
        }

        policy = json_int_list(v, "policyPcrs");
        missing = json_int_list(v, "missingPcrs");
        if (!policy || !missing)
                return log_oom();
        field("Policy PCRs", policy);
        field("Missing PCRs", missing);
        field("Unsealable", yes_no(json_bool(v, "unsealable")));
        if (c->legend)
                printf("\n%s\n",
                        ok ? "The keys unseal now and the policy covers every required PCR."
                                : n_missing > 0
                                ? "The policy lacks required PCRs: reseal with a stronger policy."
                                : "The keys do not unseal with the current PCR values.");
        return ok ? 0 : CTL_EXIT_FAILURE;
}

int verb_config_show(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        sd_json_variant *net, *relays, *dns;
        char buf[64];
        size_t n, n_dns;
        bool present;
        int64_t i64;
        int r;

        r = ctl_call_log(c, CTL_CONFIG, "ShowConfig", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        net = sd_json_variant_by_key(v, "network");
        field("Fetched", format_usec(v, "fetched", buf, sizeof(buf)));
        field("Interface", json_str(net, "interface"));
        field("IPv4 gateway", json_str(net, "ipv4Gateway"));
        field("IPv6 gateway", json_str(net, "ipv6Gateway"));
        i64 = json_int(net, "ipv4PrefixLength", &present);
        printf("%*s: /%jd\n", LABEL_WIDTH, "IPv4 prefix", present ? (intmax_t) i64 : 32);
        i64 = json_int(net, "ipv6PrefixLength", &present);
        printf("%*s: /%jd\n", LABEL_WIDTH, "IPv6 prefix", present ? (intmax_t) i64 : 128);
        dns = json_array(net, "dns", &n_dns);
        printf("%*s:", LABEL_WIDTH, "DNS");
        for (size_t i = 0; i < n_dns; i++)
                printf(" %s", or_dash(sd_json_variant_string(sd_json_variant_by_index(dns, i))));
        printf("%s\n", n_dns == 0 ? " -" : "");
        i64 = json_int(net, "orPort", &present);
        if (present)
                printf("%*s: %jd\n", LABEL_WIDTH, "ORPort", (intmax_t) i64);
        else
                field("ORPort", "from the torrc");

        relays = json_array(v, "relays", &n);
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(relays, i);
                const char *torrc = json_str(e, "torrc"), *network = json_str(e, "network");

                printf("\n# %s (%s, %s)%s\n", or_dash(json_str(e, "name")), or_dash(json_str(e, "ipv4")),
                        or_dash(json_str(e, "ipv6")), torrc ? "" : ": no keys yet, the server's torrc");
                fputs(torrc ?: or_dash(json_str(e, "serverTorrc")), stdout);
                if (network)
                        printf("# %s: systemd-networkd drop-in\n%s", or_dash(json_str(e, "name")), network);
        }
        return 0;
}

static void print_lines(sd_json_variant *file, const char *key, char sign) {
        size_t n;
        sd_json_variant *a = json_array(file, key, &n);

        for (size_t i = 0; i < n; i++)
                printf("%c%s\n", sign, or_dash(sd_json_variant_string(sd_json_variant_by_index(a, i))));
}

int verb_config_diff(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        sd_json_variant *files;
        size_t n, n_changed = 0;
        int r;

        r = ctl_call_log(c, CTL_CONFIG, "Diff", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        t = table_new(4, "CHANGE", "RELAY", "KIND", "PATH");
        if (!t)
                return log_oom();
        files = json_array(v, "files", &n);
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *f = sd_json_variant_by_index(files, i);
                const char *change = json_str(f, "change");

                if (change && streq(change, "unchanged"))
                        continue;
                n_changed++;
                if (table_add_row(
                            t, change, json_str(f, "relay"), json_str(f, "kind"), json_str(f, "path")) < 0)
                        return log_oom();
        }
        if (n_changed > 0)
                table_print(t, c->legend);
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *f = sd_json_variant_by_index(files, i);
                size_t n_added, n_removed;

                (void) json_array(f, "addedLines", &n_added);
                (void) json_array(f, "removedLines", &n_removed);
                if (n_added + n_removed == 0)
                        continue;
                printf("\n--- %s (applied)\n+++ %s (fetched)\n", or_dash(json_str(f, "path")),
                        or_dash(json_str(f, "path")));
                print_lines(f, "removedLines", '-');
                print_lines(f, "addedLines", '+');
        }
        if (c->legend) {
                if (n_changed == 0)
                        printf("No differences: the applied files are the fetched configuration (%zu "
                               "files).\n",
                                n);
                else
                        printf("\n%zu of %zu files differ.\n", n_changed, n);
        }
        return 0;
}

int verb_attest(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        int r;

        r = ctl_call_log(c, CTL_CONFIG, "Refresh", REFRESH_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        printf("Attested and applied: phase %s, %jd relays applied, %jd failed.\n",
                or_dash(json_str(v, "phase")), (intmax_t) json_int(v, "applied", NULL),
                (intmax_t) json_int(v, "failed", NULL));
        return 0;
}

int verb_relays(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL, *relays = NULL;
        int r;

        r = ctl_call_log(c, CTL_CONFIG, "GetStatus", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c)) {
                relays = sd_json_variant_ref(sd_json_variant_by_key(v, "relays"));
                if (!relays) {
                        r = sd_json_variant_new_array(&relays, NULL, 0);
                        if (r < 0)
                                return log_oom();
                }
                return dump_json(c, relays);
        }
        return print_relays_table(c, v);
}

int verb_log_verify(const Ctl *c) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL;
        bool previous;
        int64_t size;
        int r;

        /* A declared error (not registered, bad signature, rollback…) is logged with its reason: exit 4. */
        r = ctl_call_log(c, CTL_CONFIG, "VerifyLog", CALL_TIMEOUT_USEC, &v);
        if (r < 0)
                return r;
        if (want_json(c))
                return dump_json(c, v);

        field("Verified", "yes: the image this node booted is registered in the log");
        field("Log", json_str(v, "origin"));
        printf("%*s: %jd entries, root %s\n", LABEL_WIDTH, "Checkpoint", (intmax_t) json_int(v, "treeSize", NULL),
               or_dash(json_str(v, "rootHash")));
        size = json_int(v, "previousTreeSize", &previous);
        if (previous)
                printf("%*s: extends the one of %jd entries verified before\n", LABEL_WIDTH, "Consistency",
                       (intmax_t) size);
        else
                field("Consistency", "first checkpoint verified in this boot");
        field("Image", json_str(v, "image"));
        printf("%*s: %jd\n", LABEL_WIDTH, "Entry", (intmax_t) json_int(v, "entryIndex", NULL));
        field("Authenticode", json_str(v, "ukiAuthenticode"));
        field("UKI SHA-256", json_str(v, "ukiSha256"));
        return 0;
}
