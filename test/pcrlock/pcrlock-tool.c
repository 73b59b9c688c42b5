/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/shared/tpm/tpm2-pcrlock.c on files, for the shell tests that hold it against systemd-pcrlock, swtpm and
 * tpm2-tools. Not installed.
 *
 *   seal POLICY.json OUT.pub OUT.priv     seal the secret on stdin (1–128 bytes)
 *   unseal POLICY.json IN.pub IN.priv     print the secret
 *   mask POLICY.json                      the PCRs the policy covers, e.g. "0,1,2,3,4,5,7"
 *   authpolicy POLICY.json                the sealed object's authPolicy, hex
 *   pcr-policy POLICY.json                the PCR policy digest make-policy writes to the NV index, hex
 *
 * POLICY.json is systemd-pcrlock's pcrlock.json; PUB and PRIV are marshalled TPM2B_PUBLIC/TPM2B_PRIVATE (as
 * tpm2_create -u/-r write them). The TPM is $PATELA_TPM2_TCTI, else $TPM2TOOLS_TCTI. seal and unseal report
 * "VERB: N TPM commands, T ms" (for the library call alone) on stderr; a failure prints the errno's name, and for unseal's -EPERM the PCRs
 * whose current value the policy does not allow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "tpm2-pcrlock.h"
#include "tpm2-util.h"

#define BLOB_FILE_MAX (16U * 1024U)

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

static int fail(const char *verb, int r, const char *what) {
        fprintf(stderr, "%s: %s: %s (%s)\n", verb, what, strerrorname_np(-r) ?: "?", strerror(-r));
        return EXIT_FAILURE;
}

static int write_file(const char *path, const void *p, size_t size) {
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                return negative_errno();
        if (fwrite(p, 1, size, f) != size || fflush(f) != 0)
                return -EIO;
        return 0;
}

static int print_mask(uint32_t mask) {
        bool first = true;

        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                if (mask & (1U << i)) {
                        printf("%s%u", first ? "" : ",", i);
                        first = false;
                }
        printf("\n");
        return EXIT_SUCCESS;
}

static int print_digest(const TPM2B_DIGEST *d) {
        _cleanup_free_ char *hex = hexmem(d->buffer, d->size);

        if (!hex)
                return EXIT_FAILURE;
        printf("%s\n", hex);
        return EXIT_SUCCESS;
}

static int open_tpm(Tpm2Context **ret) {
        const char *tcti = getenv("PATELA_TPM2_TCTI") ?: getenv("TPM2TOOLS_TCTI");

        if (!tcti)
                return -ENODEV;
        return tpm2_context_new(tcti, ret);
}

static int read_secret(SecretBuffer **ret) {
        _cleanup_(secret_buffer_freep) SecretBuffer *b = NULL;
        size_t n = 0;
        ssize_t k;
        int r;

        /* One byte more than fits, to tell "too large" from "exactly the maximum". */
        r = secret_buffer_new(TPM2_PCRLOCK_SECRET_MAX + 1, &b);
        if (r < 0)
                return r;
        while (n < b->size && (k = read(STDIN_FILENO, b->data + n, b->size - n)) != 0) {
                if (k < 0)
                        return negative_errno();
                n += (size_t) k;
        }
        b->size = n;
        *ret = TAKE_PTR(b);
        return 0;
}

static int verb_seal(Tpm2PcrlockPolicy *p, char **args) {
        _cleanup_(secret_buffer_freep) SecretBuffer *secret = NULL;
        _cleanup_(tpm2_context_freep) Tpm2Context *c = NULL;
        _cleanup_free_ uint8_t *pub = NULL, *priv = NULL;
        Tpm2SealedObject o;
        size_t pub_size, priv_size;
        unsigned before;
        double start;
        int r;

        r = read_secret(&secret);
        if (r < 0)
                return fail("seal", r, "reading the secret from stdin");
        r = open_tpm(&c);
        if (r < 0)
                return fail("seal", r, "opening the TPM");

        before = c->n_commands;
        start = now_ms();
        r = tpm2_pcrlock_seal(c, p, secret->data, secret->size, &o);
        if (r < 0) {
                fprintf(stderr, "seal: %s\n", tpm2_last_error(c));
                return fail("seal", r, "sealing to the pcrlock policy");
        }
        fprintf(stderr, "seal: %u TPM commands, %.1f ms\n", c->n_commands - before, now_ms() - start);

        r = tpm2_sealed_object_marshal(&o, &pub, &pub_size, &priv, &priv_size);
        if (r >= 0)
                r = write_file(args[0], pub, pub_size);
        if (r >= 0)
                r = write_file(args[1], priv, priv_size);
        if (r < 0)
                return fail("seal", r, "writing the sealed object");
        return EXIT_SUCCESS;
}

static int verb_unseal(Tpm2PcrlockPolicy *p, char **args) {
        _cleanup_(secret_buffer_freep) SecretBuffer *secret = NULL;
        _cleanup_(tpm2_context_freep) Tpm2Context *c = NULL;
        _cleanup_free_ void *pub = NULL, *priv = NULL;
        Tpm2SealedObject o;
        size_t pub_size, priv_size;
        unsigned before;
        double start;
        int r;

        r = read_full_file(args[0], BLOB_FILE_MAX, &pub, &pub_size);
        if (r >= 0)
                r = read_full_file(args[1], BLOB_FILE_MAX, &priv, &priv_size);
        if (r >= 0)
                r = tpm2_sealed_object_unmarshal(pub, pub_size, priv, priv_size, &o);
        if (r < 0)
                return fail("unseal", r, "reading the sealed object");
        r = open_tpm(&c);
        if (r < 0)
                return fail("unseal", r, "opening the TPM");

        before = c->n_commands;
        start = now_ms();
        r = tpm2_pcrlock_unseal(c, p, &o, &secret);
        fprintf(stderr, "unseal: %u TPM commands, %.1f ms\n", c->n_commands - before, now_ms() - start);
        if (r == -EPERM) {
                uint32_t mismatch = 0;

                fprintf(stderr, "unseal: %s\n", tpm2_last_error(c));
                if (tpm2_pcrlock_check_pcrs(c, p, &mismatch) >= 0) {
                        fprintf(stderr, "unseal: PCRs whose value the policy does not allow: ");
                        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                                if (mismatch & (1U << i))
                                        fprintf(stderr, "%u ", i);
                        fprintf(stderr, "\n");
                }
                return fail("unseal", r, "PCRs do not satisfy the pcrlock policy");
        }
        if (r < 0) {
                fprintf(stderr, "unseal: %s\n", tpm2_last_error(c));
                return fail("unseal", r, "unsealing");
        }

        if (fwrite(secret->data, 1, secret->size, stdout) != secret->size || fflush(stdout) != 0)
                return fail("unseal", -EIO, "writing the secret");
        return EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                int n_args;
        } verbs[] = {
                { "seal", 2 }, { "unseal", 2 }, { "mask", 0 }, { "authpolicy", 0 }, { "pcr-policy", 0 },
        };
        _cleanup_(tpm2_pcrlock_policy_freep) Tpm2PcrlockPolicy *p = NULL;
        TPM2B_DIGEST d;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (argc < 2 || !streq(argv[1], verbs[i].name))
                        continue;
                if (argc != 3 + verbs[i].n_args)
                        break;

                r = tpm2_pcrlock_policy_load(argv[2], &p);
                if (r < 0)
                        return fail(argv[1], r, "loading the pcrlock policy");

                if (streq(argv[1], "seal"))
                        return verb_seal(p, argv + 3);
                if (streq(argv[1], "unseal"))
                        return verb_unseal(p, argv + 3);
                if (streq(argv[1], "mask"))
                        return print_mask(tpm2_pcrlock_pcr_mask(p));
                if (streq(argv[1], "authpolicy"))
                        r = tpm2_pcrlock_auth_policy(p, &d);
                else
                        r = tpm2_pcrlock_pcr_policy(p, &d);
                if (r < 0)
                        return fail(argv[1], r, "computing the digest");
                return print_digest(&d);
        }

        fprintf(stderr, "usage: %s seal|unseal POLICY.json PUB PRIV\n"
                        "       %s mask|authpolicy|pcr-policy POLICY.json\n",
                argv[0], argv[0]);
        return EXIT_FAILURE;
}
