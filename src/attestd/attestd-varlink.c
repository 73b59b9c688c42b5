/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-json.h>

#include "alloc-util.h"
#include "attestd-manager.h"
#include "attestd-varlink.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "log.h"
#include "tpm2-marshal.h"
#include "tpm2-nv.h"
#include "tpm2-tcti.h"


/* Logs how many TPM commands a method issued (debug level), for the numbers in patela-attestd(8). */
typedef struct TpmUsage {
        Manager *manager;
        const char *method;
        unsigned before;
} TpmUsage;

static void tpm_usage_done(TpmUsage *u) {
        if (u->manager && u->manager->tpm)
                log_debug("%s: %u TPM commands", u->method, u->manager->tpm->n_commands - u->before);
}

#define TRACK_TPM_USAGE(m, name)                                                                     \
        _cleanup_(tpm_usage_done) _unused_ TpmUsage _usage_ = {                                      \
                .manager = (m), .method = (name), .before = (m)->tpm ? (m)->tpm->n_commands : 0 }

/* Maps a failure to open or use the TPM to the declared errors. */
static int reply_tpm_error(sd_varlink *link, Manager *m, int error) {
        char buf[300];

        if (!m->tpm) {
                snprintf(buf, sizeof(buf), "Cannot open TPM '%s': %s", tpm2_tcti_select(m->tcti), strerror(-error));
                return sd_varlink_errorbo(link, "io.patela.Attest.TpmUnavailable", SD_JSON_BUILD_PAIR_STRING("message", buf));
        }

        snprintf(buf, sizeof(buf), "%s", tpm2_last_error(m->tpm));
        if (error == -EBUSY) {
                Tpm2DaState da;

                /* The AK is noDA: only an AK made before patela set noDA meets this. */
                if (tpm2_da_state(m->tpm, &da) >= 0)
                        snprintf(buf, sizeof(buf),
                                 "the TPM is in dictionary-attack lockout (%" PRIu32 " of %" PRIu32 " failures; one is "
                                 "forgotten every %" PRIu32 " s)",
                                 da.failed_tries, da.max_tries, da.recovery_interval_sec);
                return sd_varlink_errorbo(link, "io.patela.Attest.TpmLockout", SD_JSON_BUILD_PAIR_STRING("message", buf));
        }
        if ((m->tpm->last_rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
                manager_forget_tpm(m); /* the TPM went away (or was reset): reopen on the next call */
        return sd_varlink_errorbo(link, "io.patela.Attest.TpmFailure", SD_JSON_BUILD_PAIR_STRING("message", buf));
}

static int vl_method_get_identity(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                  void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_free_ uint8_t *ek_pub = NULL, *ak_pub = NULL;
        _cleanup_free_ char *ek_name = NULL, *ak_name = NULL;
        size_t ek_pub_size, ak_pub_size;
        Manager *m = userdata;
        AttestKeys *k;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;

        TRACK_TPM_USAGE(m, "GetIdentity");
        r = manager_acquire_keys(m, &k);
        if (r < 0)
                return reply_tpm_error(link, m, r);

        r = tpm2_marshal_TPM2B_PUBLIC(&k->ek_public, &ek_pub, &ek_pub_size);
        if (r < 0)
                return r;
        r = tpm2_marshal_TPM2B_PUBLIC(&k->ak_public, &ak_pub, &ak_pub_size);
        if (r < 0)
                return r;
        ek_name = hexmem(k->ek_name.name, k->ek_name.size);
        ak_name = hexmem(k->ak_name.name, k->ak_name.size);
        if (!ek_name || !ak_name)
                return -ENOMEM;

        return sd_varlink_replybo(
                        link,
                        SD_JSON_BUILD_PAIR_STRING("ekType", tpm2_key_type_to_string(k->ek_type)),
                        SD_JSON_BUILD_PAIR_BASE64("ekPublic", ek_pub, ek_pub_size),
                        SD_JSON_BUILD_PAIR_STRING("ekName", ek_name),
                        SD_JSON_BUILD_PAIR_CONDITION(!!k->ek_certificate, "ekCertificate",
                                                     SD_JSON_BUILD_BASE64(k->ek_certificate, k->ek_certificate_size)),
                        SD_JSON_BUILD_PAIR_CONDITION(k->ek_persistent != 0, "ekHandle",
                                                     SD_JSON_BUILD_UNSIGNED(k->ek_persistent)),
                        SD_JSON_BUILD_PAIR_STRING("akType", tpm2_key_type_to_string(k->ak_type)),
                        SD_JSON_BUILD_PAIR_BASE64("akPublic", ak_pub, ak_pub_size),
                        SD_JSON_BUILD_PAIR_STRING("akName", ak_name),
                        SD_JSON_BUILD_PAIR_STRING("fingerprint", k->fingerprint));
}

typedef struct ActivateParameters {
        const char *credential_blob;
        const char *encrypted_secret;
} ActivateParameters;

static int vl_method_activate_credential(sd_varlink *link, sd_json_variant *parameters,
                                         sd_varlink_method_flags_t flags, void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = {
                { "credentialBlob", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(ActivateParameters, credential_blob), SD_JSON_MANDATORY },
                { "encryptedSecret", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string,
                  offsetof(ActivateParameters, encrypted_secret), SD_JSON_MANDATORY },
                {}
        };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *reply = NULL;
        ActivateParameters p = {};
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET secret;
        TPM2B_DIGEST cert = {};
        Manager *m = userdata;
        AttestKeys *k;
        void *buf = NULL;
        size_t size;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, &p);
        if (r != 0)
                return r;

        /* Decoded sizes are bounded by the TPM structures before anything is allocated. */
        r = varlink_param_base64(p.credential_blob, sizeof(TPM2B_ID_OBJECT), &buf, &size);
        if (r >= 0)
                r = tpm2_unmarshal_TPM2B_ID_OBJECT(buf, size, &blob);
        buf = erase_and_free_sized(buf, r >= 0 ? size : 0);
        if (r < 0)
                return sd_varlink_error_invalid_parameter_name(link, "credentialBlob");

        r = varlink_param_base64(p.encrypted_secret, sizeof(TPM2B_ENCRYPTED_SECRET), &buf, &size);
        if (r >= 0)
                r = tpm2_unmarshal_TPM2B_ENCRYPTED_SECRET(buf, size, &secret);
        buf = erase_and_free_sized(buf, r >= 0 ? size : 0);
        if (r < 0)
                return sd_varlink_error_invalid_parameter_name(link, "encryptedSecret");

        TRACK_TPM_USAGE(m, "ActivateCredential");
        r = manager_acquire_keys(m, &k);
        if (r < 0)
                return reply_tpm_error(link, m, r);

        r = attest_activate_credential(m->tpm, k, &blob, &secret, &cert);
        explicit_bzero(&blob, sizeof(blob));
        if (r == -EBADMSG) {
                log_notice("TPM rejected a credential: %s", tpm2_last_error(m->tpm));
                return sd_varlink_error(link, "io.patela.Attest.CredentialRejected", NULL);
        }
        if (r < 0)
                return reply_tpm_error(link, m, r);

        r = sd_json_buildo(&reply, SD_JSON_BUILD_PAIR_BASE64("secret", cert.buffer, cert.size));
        explicit_bzero(&cert, sizeof(cert));
        if (r < 0)
                return r;
        sd_json_variant_sensitive(reply);
        return sd_varlink_reply(link, reply);
}

typedef struct QuoteParameters {
        const char *nonce;
        sd_json_variant *pcrs;
        const char *bank;
} QuoteParameters;

static int parse_pcr_list(sd_json_variant *v, uint32_t *ret) {
        uint32_t mask = 0;
        size_t n = sd_json_variant_elements(v);

        if (n == 0 || n > TPM2_PCRS_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                sd_json_variant *e = sd_json_variant_by_index(v, i);
                int64_t idx;

                if (!sd_json_variant_is_integer(e))
                        return -EINVAL;
                idx = sd_json_variant_integer(e);
                if (idx < 0 || idx >= (int64_t) TPM2_PCRS_MAX)
                        return -ERANGE;
                mask |= 1U << idx;
        }
        *ret = mask;
        return 0;
}

static int vl_method_quote(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                           void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = {
                { "nonce", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(QuoteParameters, nonce),
                  SD_JSON_MANDATORY },
                { "pcrs", SD_JSON_VARIANT_ARRAY, sd_json_dispatch_variant_noref, offsetof(QuoteParameters, pcrs),
                  SD_JSON_MANDATORY },
                { "bank", SD_JSON_VARIANT_STRING, sd_json_dispatch_const_string, offsetof(QuoteParameters, bank),
                  SD_JSON_NULLABLE },
                {}
        };
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *values = NULL;
        _cleanup_free_ uint8_t *sig = NULL;
        _cleanup_free_ void *nonce = NULL;
        QuoteParameters p = {};
        TPM2B_DATA qualifying = {};
        AttestQuote q;
        Manager *m = userdata;
        AttestKeys *k;
        size_t nonce_size, sig_size;
        uint32_t mask;
        int bank, r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, &p);
        if (r != 0)
                return r;

        /* qualifyingData is a TPM2B_DATA: 1…64 bytes. An empty nonce would make replays trivial. */
        r = varlink_param_base64(p.nonce, sizeof(qualifying.buffer), &nonce, &nonce_size);
        if (r < 0 || nonce_size == 0)
                return sd_varlink_error_invalid_parameter_name(link, "nonce");
        qualifying.size = (uint16_t) nonce_size;
        memcpy(qualifying.buffer, nonce, nonce_size);

        if (parse_pcr_list(p.pcrs, &mask) < 0)
                return sd_varlink_error_invalid_parameter_name(link, "pcrs");

        bank = p.bank ? tpm2_hash_alg_from_string(p.bank) : TPM2_ALG_SHA256;
        if (bank < 0)
                return sd_varlink_error_invalid_parameter_name(link, "bank");

        TRACK_TPM_USAGE(m, "Quote");
        r = manager_acquire_keys(m, &k);
        if (r < 0)
                return reply_tpm_error(link, m, r);

        r = attest_quote(m->tpm, k, (TPMI_ALG_HASH) bank, mask, &qualifying, &q);
        if (r == -EOPNOTSUPP)
                return sd_varlink_errorbo(link, "io.patela.Attest.PcrBankUnavailable",
                                          SD_JSON_BUILD_PAIR_STRING("bank", tpm2_hash_alg_to_string((TPMI_ALG_HASH) bank)));
        if (r < 0)
                return reply_tpm_error(link, m, r);

        r = tpm2_marshal_TPMT_SIGNATURE(&q.signature, &sig, &sig_size);
        if (r < 0)
                return r;

        for (unsigned b = 0, i = 0; b < TPM2_PCRS_MAX; b++) {
                if (!(mask & (1U << b)))
                        continue;
                r = sd_json_variant_append_arraybo(&values, SD_JSON_BUILD_PAIR_UNSIGNED("index", b),
                                                   SD_JSON_BUILD_PAIR_HEX("value", q.values[i].buffer, q.values[i].size));
                if (r < 0)
                        return r;
                i++;
        }

        return sd_varlink_replybo(link, SD_JSON_BUILD_PAIR_BASE64("quoted", q.quoted.attestationData, q.quoted.size),
                                  SD_JSON_BUILD_PAIR_BASE64("signature", sig, sig_size),
                                  SD_JSON_BUILD_PAIR_STRING("bank", tpm2_hash_alg_to_string((TPMI_ALG_HASH) bank)),
                                  SD_JSON_BUILD_PAIR_VARIANT("pcrValues", values));
}

/* Reads one event log; *ret stays NULL if the machine has none. */
static int read_event_log(const char *path, void **ret, size_t *ret_size) {
        int r;

        *ret = NULL;
        *ret_size = 0;
        if (!path)
                return 0;
        r = read_full_file(path, ATTESTD_EVENT_LOG_MAX, ret, ret_size);
        if (r == -ENOENT)
                return 0;
        return r;
}

static int vl_method_get_event_logs(sd_varlink *link, sd_json_variant *parameters, sd_varlink_method_flags_t flags,
                                    void *userdata) {
        static const sd_json_dispatch_field dispatch_table[] = { {} };
        _cleanup_free_ void *fw = NULL, *ul = NULL;
        size_t fw_size, ul_size;
        Manager *m = userdata;
        const char *fw_path = m->firmware_log ?: ATTESTD_FIRMWARE_LOG_DEFAULT;
        const char *ul_path = m->measure_log ?: ATTESTD_MEASURE_LOG_DEFAULT;
        int r;

        (void) flags;
        r = sd_varlink_dispatch(link, parameters, dispatch_table, NULL);
        if (r != 0)
                return r;

        r = read_event_log(fw_path, &fw, &fw_size);
        if (r < 0)
                return sd_varlink_errorbo(link, "io.patela.Attest.EventLogUnreadable", SD_JSON_BUILD_PAIR_STRING("path", fw_path),
                                          SD_JSON_BUILD_PAIR_STRING("message", strerror(-r)));
        r = read_event_log(ul_path, &ul, &ul_size);
        if (r < 0)
                return sd_varlink_errorbo(link, "io.patela.Attest.EventLogUnreadable", SD_JSON_BUILD_PAIR_STRING("path", ul_path),
                                          SD_JSON_BUILD_PAIR_STRING("message", strerror(-r)));

        return sd_varlink_replybo(link,
                                  SD_JSON_BUILD_PAIR_CONDITION(!!fw, "firmwareLog", SD_JSON_BUILD_BASE64(fw, fw_size)),
                                  SD_JSON_BUILD_PAIR_CONDITION(!fw, "firmwareLog", SD_JSON_BUILD_NULL),
                                  SD_JSON_BUILD_PAIR_CONDITION(!!ul, "userspaceLog", SD_JSON_BUILD_BASE64(ul, ul_size)),
                                  SD_JSON_BUILD_PAIR_CONDITION(!ul, "userspaceLog", SD_JSON_BUILD_NULL));
}

int attestd_bind_methods(sd_varlink_server *s) {
        return sd_varlink_server_bind_method_many(
                        s,
                        "io.patela.Attest.GetIdentity", vl_method_get_identity,
                        "io.patela.Attest.ActivateCredential", vl_method_activate_credential,
                        "io.patela.Attest.Quote", vl_method_quote,
                        "io.patela.Attest.GetEventLogs", vl_method_get_event_logs);
}
