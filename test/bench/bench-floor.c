/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bench-floor.h"
#include "bench-node.h"
#include "bench-stats.h"
#include "identity.h"
#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-util.h"

/* The sizes of server-api.h: challenge id, credential secret, quote nonce, session token. */
#define CHALLENGE_ID_BYTES 16
#define SECRET_BYTES 32
#define NONCE_BYTES 32
#define TOKEN_BYTES 32

typedef struct Round {
        uint8_t secret[SECRET_BYTES];
        uint8_t secret_hash[64];
        uint8_t nonce[NONCE_BYTES];
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET enc;
} Round;

/* POST /v1/enroll of an enabled node: names and fingerprint from the posted public areas, a challenge. Its
 * make_credential is timed apart (a quote-only challenge has none). */
static int server_enroll(const BenchIdentity *id, Round *round, uint64_t *make_credential_nsec) {
        uint8_t challenge_id[CHALLENGE_ID_BYTES];
        TPM2B_NAME ek_name, ak_name;
        _cleanup_free_ char *fp = NULL;
        uint64_t t;
        size_t hsize;
        int r;

        if (tpm2_public_name(&id->ek->public.publicArea, &ek_name) < 0 ||
            tpm2_public_name(&id->ak->public.publicArea, &ak_name) < 0 ||
            patela_identity_fingerprint(&id->ek->public.publicArea, &id->ak->public.publicArea, &fp) < 0)
                return -EIO;
        if (RAND_bytes(challenge_id, sizeof(challenge_id)) != 1 ||
            RAND_bytes(round->secret, SECRET_BYTES) != 1 || RAND_bytes(round->nonce, NONCE_BYTES) != 1)
                return -EIO;
        t = now_monotonic_nsec();
        r = tpm2_make_credential(&id->ek->public, &ak_name, round->secret, SECRET_BYTES, &round->blob,
                                 &round->enc);
        *make_credential_nsec += now_monotonic_nsec() - t;
        if (r < 0)
                return r;
        return tpm2_digest(TPM2_ALG_SHA256, round->secret, SECRET_BYTES, round->secret_hash, &hsize);
}

/* POST /v1/attest: the secret (none: a quote-only answer), the quote, a session token. */
static int server_attest(const BenchIdentity *id, const Round *round, const TPM2B_DIGEST *secret,
                         const uint8_t *attest, size_t attest_size, const TPMT_SIGNATURE *sig,
                         const TPM2B_DIGEST *values, size_t n_values, uint64_t *quote_verify_nsec) {
        uint8_t hash[64], token[TOKEN_BYTES];
        TPMS_ATTEST parsed;
        size_t hsize;
        uint64_t t;
        int r;

        if (secret) {
                r = tpm2_digest(TPM2_ALG_SHA256, secret->buffer, secret->size, hash, &hsize);
                if (r < 0)
                        return r;
                if (CRYPTO_memcmp(hash, round->secret_hash, 32) != 0)
                        return -EBADMSG;
        }
        t = now_monotonic_nsec();
        r = tpm2_quote_verify(&id->ak->public, attest, attest_size, sig, round->nonce, NONCE_BYTES,
                              TPM2_ALG_SHA256, BENCH_DEFAULT_PCR_MASK, values, n_values, &parsed);
        *quote_verify_nsec += now_monotonic_nsec() - t;
        if (r < 0)
                return -EBADMSG;
        if (RAND_bytes(token, sizeof(token)) != 1)
                return -EIO;
        return tpm2_digest(TPM2_ALG_SHA256, token, sizeof(token), hash, &hsize);
}

int bench_floor_measure(const BenchIdentities *ids, const BenchBoot *boot, unsigned iterations, bool quote_only,
                        BenchFloor *ret) {
        BenchFloor f = { .iterations = iterations, .quote_only = quote_only };
        TPM2B_DIGEST values[TPM2_PCRS_MAX];
        size_t n_values;
        int r;

        if (ids->n == 0 || iterations == 0)
                return -EINVAL;
        n_values = boot ? bench_boot_pcr_values(boot, BENCH_DEFAULT_PCR_MASK, values)
                        : bench_pcr_values(TPM2_ALG_SHA256, BENCH_DEFAULT_PCR_MASK, values);

        for (unsigned i = 0; i < iterations; i++) {
                const BenchIdentity *id = &ids->items[i % ids->n];
                _cleanup_free_ uint8_t *attest = NULL;
                TPMT_SIGNATURE sig;
                TPM2B_DIGEST secret;
                size_t attest_size;
                uint64_t t, mc = 0;
                Round round;

                t = now_monotonic_nsec();
                r = server_enroll(id, &round, &mc);
                f.total_nsec += now_monotonic_nsec() - t - (quote_only ? mc : 0);
                f.make_credential_nsec += mc;
                if (r < 0)
                        return r;

                /* The node, untimed. Every credential is activated and checked, also where the answer leaves it
                 * out. */
                r = software_activate_credential(id->ek, &id->ak->name, &round.blob, &round.enc, &secret);
                if (r < 0)
                        return -EBADMSG;
                r = software_quote(id->ak, /* clock= */ NULL, round.nonce, NONCE_BYTES, TPM2_ALG_SHA256,
                                   BENCH_DEFAULT_PCR_MASK, values, n_values, &attest, &attest_size, &sig);
                if (r < 0)
                        return r;

                t = now_monotonic_nsec();
                r = server_attest(id, &round, quote_only ? NULL : &secret, attest, attest_size, &sig, values, n_values,
                                  &f.quote_verify_nsec);
                f.total_nsec += now_monotonic_nsec() - t;
                explicit_bzero(&round, sizeof(round));
                explicit_bzero(&secret, sizeof(secret));
                if (r < 0)
                        return r;
                if (boot) {
                        t = now_monotonic_nsec();
                        r = bench_boot_explain(boot, BENCH_DEFAULT_PCR_MASK);
                        t = now_monotonic_nsec() - t;
                        f.event_logs_nsec += t;
                        f.total_nsec += t;
                        if (r < 0)
                                return -EBADMSG;
                }
        }
        *ret = f;
        return 0;
}
