/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/wait.h>
#include <systemd/sd-varlink.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "pcrlock-policy.h"
#include "tpm2-pcrlock.h"

#define PREDICTION_MAX (1024U * 1024U)

static int pcr_list(uint32_t mask, char buf[static 64]) {
        size_t n = 0;

        buf[0] = '\0';
        for (unsigned i = 0; i < 24; i++)
                if (mask & (1U << i))
                        n += (size_t) snprintf(buf + n, 64 - n, "%s%u", n > 0 ? "+" : "", i);
        return 0;
}

/* Runs systemd-pcrlock VERB with our options; its stdout into *ret_out if given. */
static int run_pcrlock(const PolicyArgs *a, const char *verb, char **ret_out) {
        char pcrs[64], *pcr_arg = NULL, *loc_arg = NULL, *comp_arg = NULL, *pol_arg = NULL;
        const char *argv[12];
        _cleanup_free_ char *out = NULL;
        size_t n = 0, size = 0;
        int pipefd[2] = { -1, -1 }, status, r = 0;
        pid_t pid;

        pcr_list(a->pcrs, pcrs);
        if (asprintf(&pcr_arg, "--pcr=%s", pcrs) < 0)
                return log_oom();
        argv[n++] = a->pcrlock;
        argv[n++] = verb;
        argv[n++] = pcr_arg;
        if (a->location && asprintf(&loc_arg, "--location=%s", a->location) >= 0)
                argv[n++] = loc_arg;
        if (a->components && asprintf(&comp_arg, "--components=%s", a->components) >= 0)
                argv[n++] = comp_arg;
        if (streq(verb, "make-policy") && a->policy && asprintf(&pol_arg, "--policy=%s", a->policy) >= 0)
                argv[n++] = pol_arg;
        if (streq(verb, "predict"))
                argv[n++] = "--json=short";
        argv[n] = NULL;

        if (ret_out && pipe2(pipefd, O_CLOEXEC) < 0) {
                r = log_error_errno(errno, "Failed to create a pipe: %m");
                goto finish;
        }
        pid = fork();
        if (pid < 0) {
                r = log_error_errno(errno, "Failed to fork: %m");
                goto finish;
        }
        if (pid == 0) {
                if (ret_out && dup2(pipefd[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execv(a->pcrlock, (char **) argv);
                fprintf(stderr, "Failed to execute %s: %m\n", a->pcrlock);
                _exit(127);
        }
        if (ret_out) {
                safe_close(pipefd[1]);
                pipefd[1] = -1;
                for (;;) {
                        char *p;
                        ssize_t k;

                        if (size >= PREDICTION_MAX) {
                                r = log_error_errno(E2BIG, "systemd-pcrlock %s printed too much.", verb);
                                break;
                        }
                        p = realloc(out, size + 4097);
                        if (!p) {
                                r = log_oom();
                                break;
                        }
                        out = p;
                        k = read(pipefd[0], out + size, 4096);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                break;
                        size += (size_t) k;
                        out[size] = '\0';
                }
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = log_error_errno(errno, "Failed to wait for systemd-pcrlock: %m");
                        goto finish;
                }
        if (r >= 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0))
                r = log_error_errno(EPROTO, "systemd-pcrlock %s failed (%s %d).", verb,
                                    WIFEXITED(status) ? "exit status" : "signal",
                                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        if (r >= 0 && ret_out)
                *ret_out = out ? TAKE_PTR(out) : strdup("");
finish:
        if (pipefd[0] >= 0)
                safe_close(pipefd[0]);
        if (pipefd[1] >= 0)
                safe_close(pipefd[1]);
        free(pcr_arg);
        free(loc_arg);
        free(comp_arg);
        free(pol_arg);
        return r;
}

int policy_predict(const PolicyArgs *a, sd_json_variant **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *top = NULL, *v = NULL;
        _cleanup_free_ char *out = NULL;
        uint32_t missing = a->pcrs;
        int r;

        r = run_pcrlock(a, "predict", &out);
        if (r < 0)
                return r;
        r = sd_json_parse(out, 0, &top, NULL, NULL);
        /* {"sha256": [{"pcr": N, "values": [...]}, ...]}: per bank, as pcrlock.json's pcrValues */
        v = sd_json_variant_ref(top ? sd_json_variant_by_key(top, "sha256") : NULL);
        if (r < 0 || !v || !sd_json_variant_is_array(v))
                return log_error_errno(r < 0 ? r : EBADMSG, "systemd-pcrlock predict printed no SHA-256 prediction.");
        for (size_t i = 0; i < sd_json_variant_elements(v); i++) {
                sd_json_variant *e = sd_json_variant_by_index(v, i), *pcr = sd_json_variant_by_key(e, "pcr");

                if (pcr && sd_json_variant_is_unsigned(pcr) && sd_json_variant_unsigned(pcr) < 24)
                        missing &= ~(1U << sd_json_variant_unsigned(pcr));
        }
        if (missing != 0) {
                char list[64];

                pcr_list(missing, list);
                return log_error_errno(EPERM,
                                       "systemd-pcrlock cannot predict PCR %s (unrecognised or missing events); "
                                       "refusing a policy without it. `systemd-pcrlock log` shows the events.",
                                       list);
        }
        if (ret)
                *ret = TAKE_PTR(v);
        return 0;
}

int policy_make(const PolicyArgs *a) {
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        uint32_t missing;
        int r;

        r = run_pcrlock(a, "make-policy", NULL);
        if (r < 0)
                return r;
        r = tpm2_pcrlock_policy_load(a->policy, &p);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s after make-policy: %m", a->policy);
        missing = a->pcrs & ~tpm2_pcrlock_pcr_mask(p);
        if (missing != 0) {
                char list[64];

                pcr_list(missing, list);
                return log_error_errno(EPERM, "The policy make-policy wrote does not cover PCR %s.", list);
        }
        return 0;
}

void policy_print_prediction(sd_json_variant *prediction) {
        for (size_t i = 0; i < sd_json_variant_elements(prediction); i++) {
                sd_json_variant *e = sd_json_variant_by_index(prediction, i),
                                *pcr = sd_json_variant_by_key(e, "pcr"), *values = sd_json_variant_by_key(e, "values");

                if (!pcr || !values)
                        continue;
                for (size_t j = 0; j < sd_json_variant_elements(values); j++) {
                        sd_json_variant *val = sd_json_variant_by_index(values, j);

                        if (sd_json_variant_is_string(val))
                                printf("PCR %2" PRIu64 "  %s\n", sd_json_variant_unsigned(pcr), sd_json_variant_string(val));
                }
        }
}

int policy_keyd_check(const char *socket) {
        _cleanup_(sd_varlink_unrefp) sd_varlink *vl = NULL;
        sd_json_variant *reply = NULL, *relays;
        const char *error = NULL;
        int r;

        r = sd_varlink_connect_address(&vl, socket);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to patela-keyd at %s: %m", socket);
        /* ListRelays unseals the key-encryption key; after a successful unseal keyd stores the policy file it
         * used in TPM NV. Nothing sealed yet answers an empty list. */
        r = sd_varlink_call(vl, "io.patela.Keys.ListRelays", NULL, &reply, &error);
        if (r < 0)
                return log_error_errno(r, "Failed to call io.patela.Keys.ListRelays: %m");
        if (error)
                return log_error_errno(EPERM, "patela-keyd cannot unseal the keys with the new policy: %s", error);
        relays = sd_json_variant_by_key(reply, "relays");
        return relays ? (int) MIN(sd_json_variant_elements(relays), (size_t) INT32_MAX) : 0;
}
