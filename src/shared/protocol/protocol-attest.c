/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/enroll and POST /v1/attest: requests and replies. */
#include <stdio.h>
#include <tss2/tss2_tpm2_types.h>

#include <openssl/evp.h>

#include "alloc-util.h"
#include "digest-util.h"
#include "hexdecoct.h"
#include "protocol-json.h"

/* ---- POST /v1/enroll -------------------------------------------------------------------------------- */

void proto_enroll_request_done(ProtoEnrollRequest *r) {
        proto_blob_done(&r->ek_public);
        proto_blob_done(&r->ak_public);
        proto_blob_done(&r->ek_certificate);
}

int proto_enroll_request_encode(const ProtoEnrollRequest *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = proto_json_add(o, "ekPublic", proto_json_base64(r->ek_public.data, r->ek_public.size));
        if (k >= 0)
                k = proto_json_add(o, "akPublic", proto_json_base64(r->ak_public.data, r->ak_public.size));
        if (k >= 0 && r->ek_certificate.data)
                k = proto_json_add(o, "ekCertificate",
                                   proto_json_base64(r->ek_certificate.data, r->ek_certificate.size));
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_enroll_request_decode(const char *body, size_t size, ProtoEnrollRequest *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "ekPublic", json_type_string, PROTO_REQUIRED },
                { "akPublic", json_type_string, PROTO_REQUIRED },
                { "ekCertificate", json_type_string, PROTO_NULLABLE },
        };
        static const char what[] = "enrolment request";
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(proto_enroll_request_done) ProtoEnrollRequest r = {};
        json_object *v[ELEMENTSOF(fields)];
        int k;

        k = proto_json_decode(body, size, SIZE_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k >= 0)
                k = proto_base64(v[0], what, "ekPublic", 1, sizeof(TPM2B_PUBLIC), &r.ek_public, diag);
        if (k >= 0)
                k = proto_base64(v[1], what, "akPublic", 1, sizeof(TPM2B_PUBLIC), &r.ak_public, diag);
        if (k >= 0 && v[2])
                k = proto_base64(v[2], what, "ekCertificate", 0, PROTO_EK_CERTIFICATE_MAX, &r.ek_certificate, diag);
        if (k < 0)
                return k;
        *ret = r;
        r = (ProtoEnrollRequest) {};
        return 0;
}

void proto_enroll_reply_done(ProtoEnrollReply *r) {
        proto_blob_done_erase(&r->credential_blob);
        proto_blob_done_erase(&r->encrypted_secret);
        explicit_bzero(r, sizeof(*r));
}

static const char *const enroll_state_table[_PROTO_ENROLL_STATE_MAX] = {
        [PROTO_ENROLL_PENDING] = "pending",
        [PROTO_ENROLL_PROVE] = "prove",
        [PROTO_ENROLL_ENABLED] = "enabled",
};

/* The enrolment reply as proto_enroll_reply_encode_json() writes it, without json-c's objects; -EDOM when a string
 * would need an escape. */
static int enroll_reply_write(const ProtoEnrollReply *r, char **ret) {
        ProtoWriter w = {};
        bool credential = r->credential_blob.size > 0;

        if (r->state < 0 || r->state >= _PROTO_ENROLL_STATE_MAX)
                return -EINVAL;
        if (r->state != PROTO_ENROLL_PENDING &&
            (credential != (r->encrypted_secret.size > 0) || (!credential && r->state != PROTO_ENROLL_ENABLED)))
                return -EINVAL;
        proto_writer_raw(&w, "{");
        proto_writer_key(&w, "state");
        proto_writer_string(&w, enroll_state_table[r->state]);
        proto_writer_key(&w, "fingerprint");
        proto_writer_string(&w, r->fingerprint);
        if (r->state != PROTO_ENROLL_PENDING) {
                proto_writer_key(&w, "challenge");
                proto_writer_hex(&w, r->challenge, sizeof(r->challenge));
                if (credential) {
                        proto_writer_key(&w, "credentialBlob");
                        proto_writer_base64(&w, r->credential_blob.data, r->credential_blob.size);
                        proto_writer_key(&w, "encryptedSecret");
                        proto_writer_base64(&w, r->encrypted_secret.data, r->encrypted_secret.size);
                }
        }
        if (r->state == PROTO_ENROLL_ENABLED) {
                bool first = true;

                proto_writer_key(&w, "nonce");
                proto_writer_base64(&w, r->nonce, r->nonce_size);
                proto_writer_key(&w, "pcrs");
                proto_writer_raw(&w, "[");
                for (unsigned i = 0; i < PROTO_PCRS_MAX; i++)
                        if (r->pcr_mask & (1U << i)) {
                                if (!first)
                                        proto_writer_raw(&w, ",");
                                proto_writer_int(&w, i);
                                first = false;
                        }
                proto_writer_raw(&w, "]");
                proto_writer_key(&w, "bank");
                proto_writer_string(&w, r->bank);
        }
        proto_writer_raw(&w, "}");
        return proto_writer_finish(&w, ret);
}

int proto_enroll_reply_encode(const ProtoEnrollReply *r, char **ret) {
        int k = enroll_reply_write(r, ret);

        return k == -EDOM ? proto_enroll_reply_encode_json(r, ret) : k;
}

int proto_enroll_reply_encode_json(const ProtoEnrollReply *r, char **ret) {
        json_object *o = json_object_new_object(), *pcrs;
        int k = o ? 0 : -ENOMEM;

        if (r->state < 0 || r->state >= _PROTO_ENROLL_STATE_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "state", json_object_new_string(enroll_state_table[r->state]));
        if (k >= 0)
                k = proto_json_add(o, "fingerprint", json_object_new_string(r->fingerprint));
        if (k >= 0 && r->state != PROTO_ENROLL_PENDING) {
                bool credential = r->credential_blob.size > 0;

                /* A quote-only challenge (enabled only) has neither part of the credential; any other both. */
                if (credential != (r->encrypted_secret.size > 0) || (!credential && r->state != PROTO_ENROLL_ENABLED))
                        k = -EINVAL;
                if (k >= 0)
                        k = proto_json_add(o, "challenge", proto_json_hex(r->challenge, sizeof(r->challenge)));
                if (k >= 0 && credential)
                        k = proto_json_add(o, "credentialBlob",
                                           proto_json_base64(r->credential_blob.data, r->credential_blob.size));
                if (k >= 0 && credential)
                        k = proto_json_add(o, "encryptedSecret",
                                           proto_json_base64(r->encrypted_secret.data, r->encrypted_secret.size));
        }
        if (k >= 0 && r->state == PROTO_ENROLL_ENABLED) {
                k = proto_json_add(o, "nonce", proto_json_base64(r->nonce, r->nonce_size));
                if (k >= 0)
                        k = proto_json_add(o, "pcrs", pcrs = json_object_new_array());
                for (unsigned i = 0; k >= 0 && i < PROTO_PCRS_MAX; i++)
                        if (r->pcr_mask & (1U << i))
                                k = json_object_array_add(pcrs, json_object_new_int((int) i)) < 0 ? -ENOMEM : 0;
                if (k >= 0)
                        k = proto_json_add(o, "bank", json_object_new_string(r->bank));
        }
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

static int decode_pcrs(json_object *a, const char *what, uint32_t *ret, ProtoDiag *diag) {
        size_t n = json_object_array_length(a);
        uint32_t mask = 0;
        int64_t last = -1;

        if (n == 0 || n > PROTO_PCRS_MAX)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrs", "%s: 'pcrs' must list 1…24 PCRs", what);
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(a, i);
                int64_t idx;

                if (!json_object_is_type(p, json_type_int))
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrs", "%s: 'pcrs' holds a non-integer",
                                          what);
                idx = json_object_get_int64(p);
                if (idx <= last || idx >= (int64_t) PROTO_PCRS_MAX)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrs",
                                          "%s: 'pcrs' not ascending PCRs 0…23", what);
                last = idx;
                mask |= 1U << idx;
        }
        *ret = mask;
        return 0;
}

int proto_enroll_reply_decode(const char *body, size_t size, long status, ProtoEnrollReply *ret, ProtoDiag *diag) {
        /* Each state has its fields and no other: a challenge next to "pending" is a confused server. */
        static const ProtoField fields[] = {
                { "state", json_type_string, PROTO_REQUIRED },
                { "fingerprint", json_type_string, PROTO_REQUIRED },
                { "challenge", json_type_string, PROTO_REQUIRED },
                /* required in "prove"; in "enabled" both or neither (a quote-only challenge) */
                { "credentialBlob", json_type_string, 0 },
                { "encryptedSecret", json_type_string, 0 },
                { "nonce", json_type_string, PROTO_REQUIRED },
                { "pcrs", json_type_array, PROTO_REQUIRED },
                { "bank", json_type_string, PROTO_REQUIRED },
        };
        static const size_t n_fields[_PROTO_ENROLL_STATE_MAX] = {
                [PROTO_ENROLL_PENDING] = 2, [PROTO_ENROLL_PROVE] = 5, [PROTO_ENROLL_ENABLED] = 8,
        };
        static const char what[] = "enrolment reply";
        _cleanup_(json_put_erasep) json_object *o = NULL;
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply r = {};
        json_object *v[ELEMENTSOF(fields)], *sv = NULL;
        const char *state = NULL, *fingerprint, *bank;
        ProtoBlob nonce = {};
        int k;

        k = proto_json_parse(body, size, PROTO_REPLY_MAX, /* sensitive= */ true, what, &o, diag);
        if (k < 0)
                return k;
        /* The state says which fields the reply has; it must agree with the HTTP status. */
        r.state = _PROTO_ENROLL_STATE_INVALID;
        if (json_object_object_get_ex(o, "state", &sv) && json_object_is_type(sv, json_type_string))
                for (ProtoEnrollState s = 0; s < _PROTO_ENROLL_STATE_MAX; s++)
                        if (streq(json_object_get_string(sv), enroll_state_table[s]))
                                r.state = s;
        if (r.state < 0 || (r.state == PROTO_ENROLL_PENDING) != (status == 202))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "state",
                                  "%s: state '%.16s' does not match the HTTP status %ld", what,
                                  sv ? json_object_get_string(sv) : "", status);
        k = proto_fields(o, what, fields, n_fields[r.state], v, diag);
        if (k < 0)
                return k;
        if (proto_string(v[0], what, "state", 16, &state, diag) < 0)
                return -EBADMSG;
        if (proto_string(v[1], what, "fingerprint", PROTO_FINGERPRINT_MAX, &fingerprint, NULL) < 0 ||
            !proto_fingerprint_ok(fingerprint))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "fingerprint", "%s: malformed 'fingerprint'", what);
        snprintf(r.fingerprint, sizeof(r.fingerprint), "%s", fingerprint);
        if (r.state != PROTO_ENROLL_PENDING) {
                k = proto_hex(v[2], what, "challenge", sizeof(r.challenge), r.challenge, diag);
                if (k < 0)
                        return k;
                /* Both parts of the credential, or (a quote-only challenge, enabled only) neither. */
                if ((!v[3] || !v[4]) && (r.state == PROTO_ENROLL_PROVE || v[3] || v[4])) {
                        const char *missing = v[3] ? "encryptedSecret" : "credentialBlob";
                        return proto_fail(diag, PROTO_ERROR_MISSING_FIELD, missing, "%s: missing field '%s'", what,
                                          missing);
                }
                if (v[3])
                        k = proto_base64(v[3], what, "credentialBlob", 1, PROTO_BLOB_MAX, &r.credential_blob, diag);
                if (k >= 0 && v[4])
                        k = proto_base64(v[4], what, "encryptedSecret", 1, PROTO_BLOB_MAX, &r.encrypted_secret, diag);
                if (k < 0)
                        return k;
        }
        if (r.state == PROTO_ENROLL_ENABLED) {
                k = proto_base64(v[5], what, "nonce", 1, PROTO_NONCE_SIZE_MAX, &nonce, diag);
                if (k < 0)
                        return k;
                memcpy(r.nonce, nonce.data, nonce.size);
                r.nonce_size = nonce.size;
                proto_blob_done(&nonce);
                k = decode_pcrs(v[6], what, &r.pcr_mask, diag);
                if (k < 0)
                        return k;
                if (proto_string(v[7], what, "bank", 16, &bank, NULL) < 0 || !proto_bank_ok(bank))
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "bank", "%s: unknown PCR bank '%.16s'",
                                          what, json_object_get_string(v[7]));
                snprintf(r.bank, sizeof(r.bank), "%s", bank);
        }
        *ret = r;
        r = (ProtoEnrollReply) {};
        return 0;
}

/* ---- POST /v1/enroll/proof ---------------------------------------------------------------------------- */

/* The two fields every answer to a challenge starts with: {challenge, secret, …}; the secret left out when it has
 * none (a quote-only challenge's answer). */
static int encode_answer(json_object *o, const uint8_t challenge[static PROTO_CHALLENGE_ID_SIZE],
                         const ProtoBlob *secret) {
        int k = proto_json_add(o, "challenge", proto_json_hex(challenge, PROTO_CHALLENGE_ID_SIZE));
        if (k >= 0 && secret->size > 0)
                k = proto_json_add(o, "secret", proto_json_base64(secret->data, secret->size));
        return k;
}

static int decode_answer(json_object *const v[static 2], const char *what,
                         uint8_t challenge[static PROTO_CHALLENGE_ID_SIZE], ProtoBlob *secret, ProtoDiag *diag) {
        int k = proto_hex(v[0], what, "challenge", PROTO_CHALLENGE_ID_SIZE, challenge, diag);
        if (k >= 0 && v[1])
                k = proto_base64(v[1], what, "secret", 1, PROTO_SECRET_SIZE, secret, diag);
        return k;
}

void proto_proof_request_done(ProtoProofRequest *r) {
        proto_blob_done_erase(&r->secret);
        *r = (ProtoProofRequest) {};
}

int proto_proof_request_encode(const ProtoProofRequest *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (k >= 0 && r->secret.size == 0) /* a proof is its secret */
                k = -EINVAL;
        if (k >= 0)
                k = encode_answer(o, r->challenge, &r->secret);
        return proto_json_finish(o, k, /* sensitive= */ true, ret);
}

int proto_proof_request_decode(const char *body, size_t size, ProtoProofRequest *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "challenge", json_type_string, PROTO_REQUIRED },
                { "secret", json_type_string, PROTO_REQUIRED },
        };
        static const char what[] = "proof request";
        _cleanup_(json_put_erasep) json_object *o = NULL;
        _cleanup_(proto_proof_request_done) ProtoProofRequest r = {};
        json_object *v[ELEMENTSOF(fields)];
        int k;

        k = proto_json_decode(body, size, SIZE_MAX, /* sensitive= */ true, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k >= 0)
                k = decode_answer(v, what, r.challenge, &r.secret, diag);
        if (k < 0)
                return k;
        *ret = r;
        r = (ProtoProofRequest) {};
        return 0;
}

/* ---- POST /v1/attest -------------------------------------------------------------------------------- */

int proto_log_digest(const char *log, uint8_t ret[static PROTO_LOG_DIGEST_SIZE]) {
        const EVP_MD *md = digest_md("SHA256");
        unsigned n = 0;

        if (!log)
                return -EINVAL;
        if (!md || EVP_Digest(log, strlen(log), ret, &n, md, NULL) != 1 || n != PROTO_LOG_DIGEST_SIZE)
                return -EIO;
        return 0;
}

void proto_attest_request_done(ProtoAttestRequest *r) {
        proto_blob_done_erase(&r->secret);
        proto_blob_done(&r->quoted);
        proto_blob_done(&r->signature);
        free(r->firmware_log);
        free(r->userspace_log);
        *r = (ProtoAttestRequest) {};
}

int proto_attest_request_encode(const ProtoAttestRequest *r, char **ret) {
        json_object *o = json_object_new_object(), *pcrs = NULL;
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = encode_answer(o, r->challenge, &r->secret);
        if (k >= 0)
                k = proto_json_add(o, "quoted", proto_json_base64(r->quoted.data, r->quoted.size));
        if (k >= 0)
                k = proto_json_add(o, "signature", proto_json_base64(r->signature.data, r->signature.size));
        if (k >= 0)
                k = proto_json_add(o, "pcrValues", pcrs = json_object_new_array());
        for (size_t i = 0; k >= 0 && i < r->n_pcr_values; i++) {
                json_object *e = proto_json_append(pcrs, json_object_new_object());

                if (!e) {
                        k = -ENOMEM;
                        break;
                }
                k = proto_json_add(e, "index", json_object_new_int((int) r->pcr_values[i].index));
                if (k >= 0)
                        k = proto_json_add(e, "value", proto_json_hex(r->pcr_values[i].value, r->pcr_values[i].size));
        }
        /* A log is sent, or named by its digest, or absent: never both. */
        if (k >= 0 && ((r->firmware_log && r->firmware_log_named) || (r->userspace_log && r->userspace_log_named)))
                k = -EINVAL;
        if (k >= 0 && r->firmware_log)
                k = proto_json_add(o, "firmwareLog", json_object_new_string(r->firmware_log));
        if (k >= 0 && r->firmware_log_named)
                k = proto_json_add(o, "firmwareLogSha256",
                                   proto_json_hex(r->firmware_log_sha256, PROTO_LOG_DIGEST_SIZE));
        if (k >= 0 && r->userspace_log)
                k = proto_json_add(o, "userspaceLog", json_object_new_string(r->userspace_log));
        if (k >= 0 && r->userspace_log_named)
                k = proto_json_add(o, "userspaceLogSha256",
                                   proto_json_hex(r->userspace_log_sha256, PROTO_LOG_DIGEST_SIZE));
        return proto_json_finish(o, k, /* sensitive= */ true, ret);
}

static int decode_pcr_values(json_object *a, const char *what, ProtoAttestRequest *r, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "index", json_type_int, PROTO_REQUIRED },
                { "value", json_type_string, PROTO_REQUIRED },
        };
        size_t n = json_object_array_length(a);
        int64_t last = -1;

        if (n > PROTO_PCRS_MAX)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrValues", "%s: more than %u pcrValues", what,
                                  PROTO_PCRS_MAX);
        for (size_t i = 0; i < n; i++) {
                json_object *v[ELEMENTSOF(fields)];
                ProtoPcrValue *p = &r->pcr_values[i];
                ProtoBlob b = {};
                const char *hex;
                int64_t idx;
                int k;

                k = proto_fields(json_object_array_get_idx(a, i), "attestation request: pcrValues", fields,
                                 ELEMENTSOF(fields), v, diag);
                if (k < 0)
                        return k;
                idx = json_object_get_int64(v[0]);
                if (idx <= last || idx >= (int64_t) PROTO_PCRS_MAX)
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrValues",
                                          "%s: pcrValues not ascending PCRs 0…23", what);
                last = idx;
                k = proto_string(v[1], what, "pcrValues", PROTO_DIGEST_MAX * 2, &hex, diag);
                if (k < 0)
                        return k;
                k = unhexmem(hex, PROTO_DIGEST_MAX, (void **) &b.data, &b.size);
                if (k == -ENOMEM)
                        return k;
                if (k < 0 || (b.size != 20 && b.size != 32 && b.size != 48 && b.size != 64)) {
                        proto_blob_done(&b);
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "pcrValues",
                                          "%s: a pcrValues value is not the hex of a digest", what);
                }
                p->index = (unsigned) idx;
                memcpy(p->value, b.data, b.size);
                p->size = b.size;
                proto_blob_done(&b);
        }
        r->n_pcr_values = n;
        return 0;
}

/* ---- the attestation request's fast path -------------------------------------------------------------------------
 * Every authentication's request is decoded here: through json-c's objects (a hash table for each of the
 * pcrValues' objects), the decoding was ~8 % of the server's CPU per kept-alive authentication (perf, 10,000
 * nodes). The fast path reads the body in place and takes what both ends write (configd: compact, no escapes, base64
 * and hex), and nothing that proto_attest_request_decode_json() refuses: on anything it does not take as valid —
 * an escape, a byte outside printable ASCII, a key twice, an unknown or missing field, another type, a value that
 * does not decode — it steps aside and the json-c decoder decides, with its diagnostics. Both give the same request
 * for every body the fast path takes (test-protocol, fuzz-protocol compare them). */

/* 1: exactly size bytes of hex, as proto_hex() takes them. */
static int slice_hex(ProtoSlice v, size_t size, uint8_t *ret, char *scratch) {
        _cleanup_free_ void *buf = NULL;
        size_t n = 0;
        int r;

        if (v.n > size * 2)
                return 0;
        r = unhexmem(proto_slice_str(v, scratch), size, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n != size)
                return 0;
        memcpy(ret, buf, size);
        return 1;
}

/* 1: base64 of min to max bytes, as proto_base64() takes it. */
static int slice_base64(ProtoSlice v, size_t min, size_t max, ProtoBlob *ret, char *scratch) {
        void *data = NULL;
        size_t n = 0;
        int r;

        if (v.n > (max + 2) / 3 * 4)
                return 0;
        r = unbase64mem(proto_slice_str(v, scratch), max, &data, &n);
        explicit_bzero(scratch, v.n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n < min || n > max) {
                if (data)
                        erase_and_free_sized(data, n);
                return 0;
        }
        *ret = (ProtoBlob) { .data = data, .size = n };
        return 1;
}

/* pcrValues: [{index, value}, …], as decode_pcr_values() takes it. */
static int scan_pcr_values(ProtoScan *s, ProtoAttestRequest *r, char *scratch) {
        int64_t last = -1;

        if (!proto_scan_char(s, '['))
                return 0;
        if (proto_scan_char(s, ']'))
                return 1;
        do {
                ProtoPcrValue *p;
                bool have_index = false, have_value = false;
                uint64_t idx = 0;
                ProtoSlice value = {};
                _cleanup_free_ void *b = NULL;
                size_t size = 0;
                int k;

                if (r->n_pcr_values >= PROTO_PCRS_MAX || !proto_scan_char(s, '{'))
                        return 0;
                do {
                        ProtoSlice key;

                        if (!proto_scan_string(s, &key) || !proto_scan_char(s, ':'))
                                return 0;
                        if (proto_slice_is(key, "index") && !have_index) {
                                if (!proto_scan_u64(s, 2, &idx))
                                        return 0;
                                have_index = true;
                        } else if (proto_slice_is(key, "value") && !have_value) {
                                if (!proto_scan_string(s, &value))
                                        return 0;
                                have_value = true;
                        } else
                                return 0;
                } while (proto_scan_char(s, ','));
                if (!proto_scan_char(s, '}') || !have_index || !have_value)
                        return 0;
                if ((int64_t) idx <= last || idx >= PROTO_PCRS_MAX || value.n > PROTO_DIGEST_MAX * 2)
                        return 0;
                last = idx;
                k = unhexmem(proto_slice_str(value, scratch), PROTO_DIGEST_MAX, &b, &size);
                if (k == -ENOMEM)
                        return k;
                if (k < 0 || (size != 20 && size != 32 && size != 48 && size != 64))
                        return 0;
                p = &r->pcr_values[r->n_pcr_values++];
                p->index = (unsigned) idx;
                memcpy(p->value, b, size);
                p->size = size;
        } while (proto_scan_char(s, ','));
        return proto_scan_char(s, ']') ? 1 : 0;
}

enum {
        FIELD_CHALLENGE,
        FIELD_SECRET,
        FIELD_QUOTED,
        FIELD_SIGNATURE,
        FIELD_PCR_VALUES,
        FIELD_FIRMWARE_LOG,
        FIELD_USERSPACE_LOG,
        FIELD_FIRMWARE_LOG_SHA256,
        FIELD_USERSPACE_LOG_SHA256,
        _FIELD_MAX,
};

static const char *const attest_field_names[_FIELD_MAX] = {
        [FIELD_CHALLENGE] = "challenge",
        [FIELD_SECRET] = "secret",
        [FIELD_QUOTED] = "quoted",
        [FIELD_SIGNATURE] = "signature",
        [FIELD_PCR_VALUES] = "pcrValues",
        [FIELD_FIRMWARE_LOG] = "firmwareLog",
        [FIELD_USERSPACE_LOG] = "userspaceLog",
        [FIELD_FIRMWARE_LOG_SHA256] = "firmwareLogSha256",
        [FIELD_USERSPACE_LOG_SHA256] = "userspaceLogSha256",
};

/* The request's fields as slices of the body (pcrValues decoded into r as they come). 1: the body is one object
 * of these fields, each once, of its type; 0: it is not (or not as the fast path reads it). */
static int scan_attest_request(ProtoScan *s, ProtoSlice v[static _FIELD_MAX], bool present[static _FIELD_MAX],
                               ProtoAttestRequest *r, char *scratch) {
        /* Only an object from the body's first byte: whatever json-c makes of anything before it, it decides. */
        if (s->p >= s->end || *s->p != '{')
                return 0;
        s->p++;
        if (proto_scan_char(s, '}'))
                return 0; /* no fields: required ones missing */
        do {
                ProtoSlice key;
                int f = -1, k;

                if (!proto_scan_string(s, &key) || !proto_scan_char(s, ':'))
                        return 0;
                for (int i = 0; i < _FIELD_MAX && f < 0; i++)
                        if (proto_slice_is(key, attest_field_names[i]))
                                f = i;
                if (f < 0 || present[f])
                        return 0;
                present[f] = true;
                if (f == FIELD_PCR_VALUES) {
                        k = scan_pcr_values(s, r, scratch);
                        if (k <= 0)
                                return k;
                } else if ((f == FIELD_FIRMWARE_LOG || f == FIELD_USERSPACE_LOG) && proto_scan_null(s))
                        v[f] = (ProtoSlice) {}; /* null: absent */
                else if (!proto_scan_string(s, &v[f]))
                        return 0;
        } while (proto_scan_char(s, ','));
        if (!proto_scan_char(s, '}'))
                return 0;
        proto_scan_ws(s);
        return s->p == s->end ? 1 : 0;
}

/* 1: decoded into *ret; 0: not taken, the json-c decoder decides; -ENOMEM. */
int proto_attest_request_decode_fast(const char *body, size_t size, ProtoAttestRequest *ret) {
        _cleanup_(proto_attest_request_done) ProtoAttestRequest r = {};
        ProtoSlice v[_FIELD_MAX] = {};
        bool present[_FIELD_MAX] = {};
        _cleanup_free_ char *scratch = NULL;
        ProtoScan s = { body, body + size };
        int k;

        if (!body || size == 0 || size > INT32_MAX)
                return 0;
        scratch = malloc(size + 1);
        if (!scratch)
                return -ENOMEM;
        k = scan_attest_request(&s, v, present, &r, scratch);
        if (k <= 0)
                goto finish;
        k = 0;
        if (!present[FIELD_CHALLENGE] || !present[FIELD_QUOTED] || !present[FIELD_SIGNATURE] ||
            !present[FIELD_PCR_VALUES])
                goto finish;
        /* A log and its SHA-256 together (a null log is no log). */
        if ((v[FIELD_FIRMWARE_LOG].p && present[FIELD_FIRMWARE_LOG_SHA256]) ||
            (v[FIELD_USERSPACE_LOG].p && present[FIELD_USERSPACE_LOG_SHA256]))
                goto finish;
        k = slice_hex(v[FIELD_CHALLENGE], PROTO_CHALLENGE_ID_SIZE, r.challenge, scratch);
        if (k > 0 && present[FIELD_SECRET])
                k = slice_base64(v[FIELD_SECRET], 1, PROTO_SECRET_SIZE, &r.secret, scratch);
        if (k > 0)
                k = slice_base64(v[FIELD_QUOTED], 1, sizeof(TPMS_ATTEST), &r.quoted, scratch);
        if (k > 0)
                k = slice_base64(v[FIELD_SIGNATURE], 1, sizeof(TPMT_SIGNATURE), &r.signature, scratch);
        for (int f = FIELD_FIRMWARE_LOG; k > 0 && f <= FIELD_USERSPACE_LOG; f++) {
                char **log = f == FIELD_FIRMWARE_LOG ? &r.firmware_log : &r.userspace_log;

                if (!v[f].p)
                        continue;
                if (v[f].n > PROTO_EVENT_LOG_MAX) {
                        k = 0;
                        break;
                }
                *log = strndup(v[f].p, v[f].n);
                if (!*log)
                        k = -ENOMEM;
        }
        if (k > 0 && present[FIELD_FIRMWARE_LOG_SHA256]) {
                k = slice_hex(v[FIELD_FIRMWARE_LOG_SHA256], PROTO_LOG_DIGEST_SIZE, r.firmware_log_sha256, scratch);
                r.firmware_log_named = k > 0;
        }
        if (k > 0 && present[FIELD_USERSPACE_LOG_SHA256]) {
                k = slice_hex(v[FIELD_USERSPACE_LOG_SHA256], PROTO_LOG_DIGEST_SIZE, r.userspace_log_sha256,
                              scratch);
                r.userspace_log_named = k > 0;
        }
        if (k > 0) {
                *ret = r;
                r = (ProtoAttestRequest) {};
        }
finish:
        /* The scratch held the secret's base64 for a moment (slice_base64() wiped it); the body is the caller's. */
        return k;
}

/* Two decoded requests are the same request. */
bool proto_attest_request_equal(const ProtoAttestRequest *a, const ProtoAttestRequest *b) {
        if (memcmp(a->challenge, b->challenge, sizeof(a->challenge)) != 0 || a->secret.size != b->secret.size ||
            a->quoted.size != b->quoted.size || a->signature.size != b->signature.size ||
            a->n_pcr_values != b->n_pcr_values || a->firmware_log_named != b->firmware_log_named ||
            a->userspace_log_named != b->userspace_log_named || !a->firmware_log != !b->firmware_log ||
            !a->userspace_log != !b->userspace_log)
                return false;
        if ((a->secret.size > 0 && memcmp(a->secret.data, b->secret.data, a->secret.size) != 0) ||
            (a->quoted.size > 0 && memcmp(a->quoted.data, b->quoted.data, a->quoted.size) != 0) ||
            (a->signature.size > 0 && memcmp(a->signature.data, b->signature.data, a->signature.size) != 0))
                return false;
        for (size_t i = 0; i < a->n_pcr_values; i++)
                if (a->pcr_values[i].index != b->pcr_values[i].index ||
                    a->pcr_values[i].size != b->pcr_values[i].size ||
                    memcmp(a->pcr_values[i].value, b->pcr_values[i].value, a->pcr_values[i].size) != 0)
                        return false;
        if ((a->firmware_log && strcmp(a->firmware_log, b->firmware_log) != 0) ||
            (a->userspace_log && strcmp(a->userspace_log, b->userspace_log) != 0))
                return false;
        if ((a->firmware_log_named && memcmp(a->firmware_log_sha256, b->firmware_log_sha256, 32) != 0) ||
            (a->userspace_log_named && memcmp(a->userspace_log_sha256, b->userspace_log_sha256, 32) != 0))
                return false;
        return true;
}

int proto_attest_request_decode(const char *body, size_t size, ProtoAttestRequest *ret, ProtoDiag *diag) {
        int k = proto_attest_request_decode_fast(body, size, ret);

        if (k != 0)
                return k < 0 ? k : 0;
        return proto_attest_request_decode_json(body, size, ret, diag);
}

int proto_attest_request_decode_json(const char *body, size_t size, ProtoAttestRequest *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "challenge", json_type_string, PROTO_REQUIRED },
                { "secret", json_type_string, 0 }, /* none: the answer to a quote-only challenge */
                { "quoted", json_type_string, PROTO_REQUIRED },
                { "signature", json_type_string, PROTO_REQUIRED },
                { "pcrValues", json_type_array, PROTO_REQUIRED },
                { "firmwareLog", json_type_string, PROTO_NULLABLE },
                { "userspaceLog", json_type_string, PROTO_NULLABLE },
                { "firmwareLogSha256", json_type_string, 0 },
                { "userspaceLogSha256", json_type_string, 0 },
        };
        static const char what[] = "attestation request";
        _cleanup_(json_put_erasep) json_object *o = NULL;
        _cleanup_(proto_attest_request_done) ProtoAttestRequest r = {};
        json_object *v[ELEMENTSOF(fields)];
        int k;

        k = proto_json_decode(body, size, SIZE_MAX, /* sensitive= */ true, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k >= 0)
                k = decode_answer(v, what, r.challenge, &r.secret, diag);
        if (k >= 0)
                k = proto_base64(v[2], what, "quoted", 1, sizeof(TPMS_ATTEST), &r.quoted, diag);
        if (k >= 0)
                k = proto_base64(v[3], what, "signature", 1, sizeof(TPMT_SIGNATURE), &r.signature, diag);
        if (k >= 0)
                k = decode_pcr_values(v[4], what, &r, diag);
        if (k >= 0)
                k = proto_string_dup(v[5], what, "firmwareLog", PROTO_EVENT_LOG_MAX, &r.firmware_log, diag);
        if (k >= 0)
                k = proto_string_dup(v[6], what, "userspaceLog", PROTO_EVENT_LOG_MAX, &r.userspace_log, diag);
        if (k < 0)
                return k;
        if ((v[5] && v[7]) || (v[6] && v[8]))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD,
                                  v[5] && v[7] ? "firmwareLogSha256" : "userspaceLogSha256",
                                  "%s: a log and its SHA-256 together", what);
        if (v[7]) {
                k = proto_hex(v[7], what, "firmwareLogSha256", PROTO_LOG_DIGEST_SIZE, r.firmware_log_sha256, diag);
                r.firmware_log_named = k >= 0;
        }
        if (k >= 0 && v[8]) {
                k = proto_hex(v[8], what, "userspaceLogSha256", PROTO_LOG_DIGEST_SIZE, r.userspace_log_sha256, diag);
                r.userspace_log_named = k >= 0;
        }
        if (k < 0)
                return k;
        *ret = r;
        r = (ProtoAttestRequest) {};
        return 0;
}

void proto_attest_reply_done(ProtoAttestReply *r) {
        explicit_bzero(r, sizeof(*r));
}

/* The attestation reply as proto_attest_reply_encode_json() writes it, without json-c's objects; -EDOM when the
 * reason would need an escape. */
static int attest_reply_write(const ProtoAttestReply *r, char **ret) {
        ProtoWriter w = {};

        if (!proto_verdict_to_string(r->verdict))
                return -EINVAL;
        proto_writer_raw(&w, "{");
        proto_writer_key(&w, "token");
        proto_writer_base64(&w, r->token, sizeof(r->token));
        proto_writer_key(&w, "expiresIn");
        proto_writer_int(&w, (int64_t) r->expires_in);
        proto_writer_key(&w, "checkIn");
        proto_writer_int(&w, (int64_t) r->check_in);
        proto_writer_key(&w, "verdict");
        proto_writer_string(&w, proto_verdict_to_string(r->verdict));
        proto_writer_key(&w, "reason");
        proto_writer_string(&w, r->reason);
        proto_writer_raw(&w, "}");
        return proto_writer_finish(&w, ret);
}

int proto_attest_reply_encode(const ProtoAttestReply *r, char **ret) {
        int k = attest_reply_write(r, ret);

        return k == -EDOM ? proto_attest_reply_encode_json(r, ret) : k;
}

int proto_attest_reply_encode_json(const ProtoAttestReply *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = proto_json_add(o, "token", proto_json_base64(r->token, sizeof(r->token)));
        if (k >= 0)
                k = proto_json_add(o, "expiresIn", json_object_new_int64((int64_t) r->expires_in));
        if (k >= 0)
                k = proto_json_add(o, "checkIn", json_object_new_int64((int64_t) r->check_in));
        if (k >= 0 && !proto_verdict_to_string(r->verdict))
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "verdict", json_object_new_string(proto_verdict_to_string(r->verdict)));
        if (k >= 0)
                k = proto_json_add(o, "reason", json_object_new_string(r->reason));
        return proto_json_finish(o, k, /* sensitive= */ true, ret);
}

int proto_attest_reply_decode(const char *body, size_t size, ProtoAttestReply *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "token", json_type_string, PROTO_REQUIRED },
                { "expiresIn", json_type_int, PROTO_REQUIRED },
                { "checkIn", json_type_int, PROTO_REQUIRED },
                { "verdict", json_type_string, PROTO_REQUIRED },
                { "reason", json_type_string, PROTO_REQUIRED },
        };
        static const char what[] = "attestation reply";
        const char *verdict, *reason;
        _cleanup_(json_put_erasep) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        ProtoBlob token = {};
        int64_t expires, check_in;
        int k;

        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ true, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k < 0)
                return k;
        if (proto_base64(v[0], what, "token", PROTO_TOKEN_SIZE, PROTO_TOKEN_SIZE, &token, NULL) < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "token", "%s: malformed 'token'", what);
        expires = json_object_get_int64(v[1]);
        if (expires <= 0 || expires > (int64_t) PROTO_SESSION_LIFETIME_MAX_SEC) {
                proto_blob_done_erase(&token);
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "expiresIn", "%s: 'expiresIn' out of range",
                                  what);
        }
        check_in = json_object_get_int64(v[2]);
        k = check_in > 0 && check_in <= (int64_t) PROTO_CHECK_INTERVAL_MAX_SEC
                    ? 0
                    : proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "checkIn", "%s: 'checkIn' out of range", what);
        if (k >= 0)
                k = proto_string(v[3], what, "verdict", PROTO_ERROR_CODE_MAX, &verdict, diag);
        if (k >= 0 && proto_verdict_from_string(verdict) < 0)
                k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "verdict", "%s: unknown 'verdict'", what);
        if (k >= 0)
                k = proto_string(v[4], what, "reason", PROTO_REASON_MAX, &reason, diag);
        if (k < 0) {
                proto_blob_done_erase(&token);
                return k;
        }
        memcpy(ret->token, token.data, PROTO_TOKEN_SIZE);
        ret->expires_in = (uint64_t) expires;
        ret->check_in = (uint64_t) check_in;
        ret->verdict = proto_verdict_from_string(verdict);
        snprintf(ret->reason, sizeof(ret->reason), "%s", reason);
        proto_blob_done_erase(&token);
        return 0;
}

int proto_check_reply_encode(const ProtoCheckReply *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (k >= 0)
                k = proto_json_add(o, "reattest", json_object_new_boolean(r->reattest));
        if (k >= 0)
                k = proto_json_add(o, "checkIn", json_object_new_int64((int64_t) r->check_in));
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_check_reply_decode(const char *body, size_t size, ProtoCheckReply *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "reattest", json_type_boolean, PROTO_REQUIRED },
                { "checkIn", json_type_int, PROTO_REQUIRED },
        };
        static const char what[] = "check reply";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        int64_t check_in;
        int k;

        k = proto_json_decode(body, size, PROTO_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o,
                             v, diag);
        if (k < 0)
                return k;
        check_in = json_object_get_int64(v[1]);
        if (check_in <= 0 || check_in > (int64_t) PROTO_CHECK_INTERVAL_MAX_SEC)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "checkIn", "%s: 'checkIn' out of range", what);
        *ret = (ProtoCheckReply) { .reattest = json_object_get_boolean(v[0]), .check_in = (uint64_t) check_in };
        return 0;
}
