/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "bench-node.h"
#include "bench-threads.h"
#include "hexdecoct.h"
#include "tpm2-marshal.h"
#include "tpm2-util.h"

#define FIELD_MAX 4096U

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

static json_object *new_base64(const void *p, size_t size) {
        _cleanup_free_ char *s = base64mem(p, size);
        return s ? json_object_new_string(s) : NULL;
}

/* Takes v, even on failure. */
static int add(json_object *o, const char *key, json_object *v) {
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int body_to_string(json_object *o, char **ret) {
        const char *s = json_object_to_json_string_ext(o,
                                                       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        char *copy;

        if (!s)
                return -ENOMEM;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int bench_enroll_body(const SoftwareKey *ek, const SoftwareKey *ak, char **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        _cleanup_free_ uint8_t *ek_buf = NULL, *ak_buf = NULL;
        size_t ek_size, ak_size;
        int r;

        if (!o)
                return -ENOMEM;
        r = tpm2_marshal_TPM2B_PUBLIC(&ek->public, &ek_buf, &ek_size);
        if (r < 0)
                return r;
        r = tpm2_marshal_TPM2B_PUBLIC(&ak->public, &ak_buf, &ak_size);
        if (r < 0)
                return r;
        r = add(o, "ekPublic", new_base64(ek_buf, ek_size));
        if (r >= 0)
                r = add(o, "akPublic", new_base64(ak_buf, ak_size));
        if (r < 0)
                return r;
        return body_to_string(o, ret);
}

size_t bench_pcr_values(TPMI_ALG_HASH bank, uint32_t mask, TPM2B_DIGEST *values) {
        size_t digest_size = tpm2_hash_alg_digest_size(bank), n = 0;

        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                if (mask & (1U << i)) {
                        values[n].size = (uint16_t) digest_size;
                        memset(values[n].buffer, (int) (i + 1), digest_size);
                        n++;
                }
        return n;
}

static int get_string(json_object *o, const char *key, const char **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = json_object_get_string(v);
        return 0;
}

static int get_base64(json_object *o, const char *key, void **ret, size_t *ret_size) {
        const char *s;
        int r;

        r = get_string(o, key, &s);
        if (r < 0)
                return r;
        r = unbase64mem(s, FIELD_MAX, ret, ret_size);
        return r < 0 ? -EBADMSG : 0;
}

/* The challenge's parts; *ret_credential false for a quote-only challenge (no credentialBlob, no
 * encryptedSecret). */
static int parse_challenge(json_object *o, bool *ret_credential, TPM2B_ID_OBJECT *ret_blob,
                           TPM2B_ENCRYPTED_SECRET *ret_secret, void **ret_nonce, size_t *ret_nonce_size,
                           TPMI_ALG_HASH *ret_bank, uint32_t *ret_mask) {
        _cleanup_free_ void *blob = NULL, *enc = NULL, *nonce = NULL;
        size_t blob_size = 0, enc_size = 0, nonce_size;
        bool credential = json_object_object_get_ex(o, "credentialBlob", NULL);
        json_object *pcrs;
        const char *bank;
        uint32_t mask = 0;
        int alg, r = 0;

        if (credential != json_object_object_get_ex(o, "encryptedSecret", NULL))
                return -EBADMSG;
        if (credential)
                r = get_base64(o, "credentialBlob", &blob, &blob_size);
        if (r >= 0 && credential)
                r = get_base64(o, "encryptedSecret", &enc, &enc_size);
        if (r >= 0)
                r = get_base64(o, "nonce", &nonce, &nonce_size);
        if (r >= 0)
                r = get_string(o, "bank", &bank);
        if (r < 0)
                return r;
        if (credential && (tpm2_unmarshal_TPM2B_ID_OBJECT(blob, blob_size, ret_blob) < 0 ||
                           tpm2_unmarshal_TPM2B_ENCRYPTED_SECRET(enc, enc_size, ret_secret) < 0))
                return -EBADMSG;
        *ret_credential = credential;
        alg = tpm2_hash_alg_from_string(bank);
        if (alg < 0)
                return -EBADMSG;

        if (!json_object_object_get_ex(o, "pcrs", &pcrs) || !json_object_is_type(pcrs, json_type_array))
                return -EBADMSG;
        for (size_t i = 0; i < json_object_array_length(pcrs); i++) {
                json_object *e = json_object_array_get_idx(pcrs, i);
                int index = json_object_get_int(e);

                if (!json_object_is_type(e, json_type_int) || index < 0 || index >= (int) TPM2_PCRS_MAX)
                        return -EBADMSG;
                mask |= 1U << index;
        }
        *ret_nonce = TAKE_PTR(nonce);
        *ret_nonce_size = nonce_size;
        *ret_bank = (TPMI_ALG_HASH) alg;
        *ret_mask = mask;
        return 0;
}

/* The attest body, written directly: json-c objects for it cost the load generator more than the server
 * spends parsing it. Every value is base64, lowercase hex or a number, none needs escaping. No secret for a
 * quote-only challenge (secret NULL). */
static int attest_body(const char *challenge, const TPM2B_DIGEST *secret, const uint8_t *attest, size_t attest_size,
                       const uint8_t *sig, size_t sig_size, uint32_t mask, const TPM2B_DIGEST *values,
                       const BenchBoot *boot, bool name_logs, char **ret) {
        _cleanup_free_ char *secret_b64 = secret ? base64mem(secret->buffer, secret->size) : NULL,
                            *attest_b64 = base64mem(attest, attest_size), *sig_b64 = base64mem(sig, sig_size);
        char *buf = NULL;
        size_t size = 0, n = 0;
        FILE *f;

        if ((secret && !secret_b64) || !attest_b64 || !sig_b64)
                return -ENOMEM;
        if (strspn(challenge, "0123456789abcdefABCDEF") != strlen(challenge))
                return -EBADMSG;
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "{\"challenge\":\"%s\",%s%s%s\"quoted\":\"%s\",\"signature\":\"%s\",\"pcrValues\":[", challenge,
                secret ? "\"secret\":\"" : "", secret ? secret_b64 : "", secret ? "\"," : "", attest_b64, sig_b64);
        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++) {
                if (!(mask & (1U << i)))
                        continue;
                /* One hexmem() per value: fprintf("%02x") per byte was 6 % of the load generator's CPU. */
                _cleanup_free_ char *hex = hexmem(values[n].buffer, values[n].size);
                if (!hex) {
                        fclose(f);
                        free(buf);
                        return -ENOMEM;
                }
                fprintf(f, "%s{\"index\":%u,\"value\":\"%s\"}", n > 0 ? "," : "", i, hex);
                n++;
        }
        fputc(']', f);
        if (boot && name_logs)
                fprintf(f, ",\"firmwareLogSha256\":\"%s\",\"userspaceLogSha256\":\"%s\"", boot->firmware_log_sha256,
                        boot->userspace_log_sha256);
        else if (boot)
                fprintf(f, ",\"firmwareLog\":\"%s\",\"userspaceLog\":\"%s\"", boot->firmware_log, boot->userspace_log);
        fputc('}', f);
        if (secret_b64)
                explicit_bzero(secret_b64, strlen(secret_b64));
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int bench_answer_challenge(const SoftwareKey *ek, const SoftwareKey *ak, const BenchBoot *boot, bool name_logs,
                           const char *reply, size_t size, char **ret_body, bool *ret_named) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ void *nonce = NULL;
        _cleanup_free_ uint8_t *attest = NULL, *sig_buf = NULL;
        TPM2B_DIGEST values[TPM2_PCRS_MAX], secret;
        TPM2B_ENCRYPTED_SECRET enc;
        TPM2B_ID_OBJECT blob;
        TPMT_SIGNATURE sig;
        TPMI_ALG_HASH bank = TPM2_ALG_SHA256;
        size_t nonce_size = 0, attest_size, sig_size, n_values;
        enum json_tokener_error e;
        const char *challenge;
        uint32_t mask = 0;
        bool credential = false;
        int r;

        o = json_tokener_parse_verbose(reply, &e);
        if (!o || !json_object_is_type(o, json_type_object) || strlen(reply) != size)
                return -EBADMSG;
        r = get_string(o, "challenge", &challenge);
        if (r >= 0)
                r = parse_challenge(o, &credential, &blob, &enc, &nonce, &nonce_size, &bank, &mask);
        if (r < 0)
                return r;

        secret.size = 0;
        if (credential) {
                r = software_activate_credential(ek, &ak->name, &blob, &enc, &secret);
                if (r < 0)
                        return r;
        }
        if (boot && bank != TPM2_ALG_SHA256)
                return -EBADMSG; /* the boot's values are SHA-256 */
        n_values = boot ? bench_boot_pcr_values(boot, mask, values) : bench_pcr_values(bank, mask, values);
        r = software_quote(ak, /* clock= */ NULL, nonce, nonce_size, bank, mask, values, n_values, &attest,
                           &attest_size, &sig);
        if (r >= 0)
                r = tpm2_marshal_TPMT_SIGNATURE(&sig, &sig_buf, &sig_size);
        if (r < 0) {
                explicit_bzero(&secret, sizeof(secret));
                return r;
        }

        /* Logs are named only in the answer to a quote-only challenge (a server that knows names), as configd does. */
        name_logs = name_logs && boot && !credential;
        r = attest_body(challenge, credential ? &secret : NULL, attest, attest_size, sig_buf, sig_size, mask, values,
                        boot, name_logs, ret_body);
        if (r >= 0 && ret_named)
                *ret_named = name_logs;
        explicit_bzero(&secret, sizeof(secret));
        return r;
}

int bench_parse_token(const char *reply, size_t size, char *ret_token) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        void *token = NULL;
        size_t token_size = 0, n;
        const char *s;
        int r;

        o = json_tokener_parse(reply);
        if (!o || strlen(reply) != size || get_string(o, "token", &s) < 0)
                return -EBADMSG;
        n = strlen(s);
        r = n < BENCH_TOKEN_B64_SIZE ? unbase64mem(s, FIELD_MAX, &token, &token_size) : -EBADMSG;
        if (token)
                erase_and_free_sized(token, token_size);
        if (r < 0 || token_size != PROTO_TOKEN_SIZE)
                return -EBADMSG;
        if (ret_token)
                memcpy(ret_token, s, n + 1);
        return 0;
}

int bench_answer_proof(const SoftwareKey *ek, const SoftwareKey *ak, long status, const char *reply, size_t size,
                       char **ret_body) {
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply e = {};
        ProtoProofRequest proof = {};
        ProtoDiag diag = {};
        TPM2B_ENCRYPTED_SECRET enc;
        TPM2B_ID_OBJECT blob;
        TPM2B_DIGEST secret;
        int r;

        r = proto_enroll_reply_decode(reply, size, status, &e, &diag);
        if (r < 0 || e.state != PROTO_ENROLL_PROVE)
                return -EBADMSG;
        if (tpm2_unmarshal_TPM2B_ID_OBJECT(e.credential_blob.data, e.credential_blob.size, &blob) < 0 ||
            tpm2_unmarshal_TPM2B_ENCRYPTED_SECRET(e.encrypted_secret.data, e.encrypted_secret.size, &enc) < 0)
                return -EBADMSG;
        r = software_activate_credential(ek, &ak->name, &blob, &enc, &secret);
        if (r < 0)
                return r;
        memcpy(proof.challenge, e.challenge, sizeof(proof.challenge));
        proof.secret = (ProtoBlob) { .data = secret.buffer, .size = secret.size };
        r = proto_proof_request_encode(&proof, ret_body);
        explicit_bzero(&secret, sizeof(secret));
        return r;
}

int bench_enrol(BenchHttp *h, const BenchIdentity *id) {
        const char *enroll = proto_endpoint_path(PROTO_ENROLL), *prove = proto_endpoint_path(PROTO_ENROLL_PROOF),
                   *reply;
        char *proof = NULL;
        size_t size;
        long status;
        int r;

        r = bench_http_post(h, enroll, id->enroll_body, &status, &reply, &size);
        if (r < 0) {
                bench_report_failure("POST %s: %s", enroll, r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 200) {
                bench_report_failure("POST %s: HTTP %ld, expected 200 with a proof challenge: %.200s", enroll,
                                     status, reply);
                return -EPROTO;
        }
        r = bench_answer_proof(id->ek, id->ak, status, reply, size, &proof);
        if (r < 0) {
                bench_report_failure("Answering the proof challenge failed: %s: %.200s", strerror(-r), reply);
                return r;
        }
        r = bench_http_post(h, prove, proof, &status, &reply, &size);
        erase_and_free_sized(proof, strlen(proof));
        if (r < 0) {
                bench_report_failure("POST %s: %s", prove, r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 202) {
                bench_report_failure("POST %s: HTTP %ld, expected 202 pending: %.200s", prove, status, reply);
                return -EPROTO;
        }
        return 0;
}

static bool arg_quote_only = true;

void bench_set_quote_only(bool quote_only) {
        arg_quote_only = quote_only;
}

int bench_authenticate(BenchHttp *h, BenchIdentity *id, const BenchBoot *boot, char *ret_token) {
        _cleanup_free_ char *attest = NULL, *challenge = NULL;
        const char *reply;
        bool named = false;
        size_t size;
        long status;
        int r;

        r = bench_http_post_prefer(h, "/v1/enroll", arg_quote_only ? PROTO_PREFER_QUOTE_ONLY : NULL, id->enroll_body,
                                   &status, &reply, &size);
        if (r < 0) {
                bench_report_failure("POST /v1/enroll: %s", r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 200) {
                bench_report_failure("POST /v1/enroll: HTTP %ld, expected 200 with a challenge: %.200s", status,
                                     reply);
                return -EPROTO;
        }
        r = bench_answer_challenge(id->ek, id->ak, boot, id->logs_accepted, reply, size, &attest, &named);
        if (r < 0) {
                bench_report_failure("Answering the challenge failed: %s: %.200s", strerror(-r), reply);
                return r;
        }
        /* Kept for a second answer with the logs, should the server not hold the ones named. */
        if (named && !(challenge = strndup(reply, size)))
                return -ENOMEM;
        r = bench_http_post(h, "/v1/attest", attest, &status, &reply, &size);
        if (r >= 0 && named && status == 409 && strstr(reply, "\"EventLogsRequired\"")) {
                free(attest);
                attest = NULL;
                r = bench_answer_challenge(id->ek, id->ak, boot, /* name_logs= */ false, challenge, strlen(challenge),
                                           &attest, /* ret_named= */ NULL);
                if (r < 0) {
                        bench_report_failure("Answering the challenge again failed: %s", strerror(-r));
                        return r;
                }
                r = bench_http_post(h, "/v1/attest", attest, &status, &reply, &size);
        }
        if (r < 0) {
                bench_report_failure("POST /v1/attest: %s", r == -EIO ? bench_http_error(h) : strerror(-r));
                return r;
        }
        if (status != 200 || bench_parse_token(reply, size, ret_token) < 0) {
                bench_report_failure("POST /v1/attest: HTTP %ld, expected 200 with a token: %.200s", status,
                                     reply);
                return -EPROTO;
        }
        id->logs_accepted = boot != NULL;
        return 0;
}
