/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node↔server protocol, both ends: one body through every decoder the server runs on requests and
 * patela-configd runs on replies, then what each end does next with the result — the server unmarshals the
 * TPM structures, the node checks each relay (nickname, addresses, torrc parser) and takes the family keys,
 * and the transparency log's replies a node reads decode, encode and decode again to the same values. */
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "fuzz.h"
#include "protocol-json.h"
#include "protocol.h"
#include "tpm2-marshal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *) data;
        ProtoEnrollRequest enroll = {};
        ProtoAttestRequest attest = {};
        ProtoProofRequest proof = {};
        ProtoFingerprintsRequest fingerprints;
        ProtoRelayStates states;
        ProtoRelayMetricsRequest relay_metrics;
        ProtoEnrollReply enroll_reply = {};
        ProtoAttestReply attest_reply = {};
        ProtoNetwork network = {};
        ProtoErrorReply error = {};
        ProtoCheckReply check;
        ProtoRelayMetricsReply metrics_reply;
        ProtoFamilyKeys family = {};
        ProtoRelay *relays = NULL;
        ProtoLogRegistration registration = {};
        ProtoLogInclusion *inclusion = malloc(sizeof(ProtoLogInclusion));
        ProtoLogConsistency *consistency = malloc(sizeof(ProtoLogConsistency));
        ProtoDiag diag;
        size_t n = 0;

        /* the server's side */
        if (proto_enroll_request_decode(body, size, &enroll, &diag) >= 0) {
                TPM2B_PUBLIC pub;
                (void) tpm2_unmarshal_TPM2B_PUBLIC(enroll.ek_public.data, enroll.ek_public.size, &pub);
                (void) tpm2_unmarshal_TPM2B_PUBLIC(enroll.ak_public.data, enroll.ak_public.size, &pub);
                proto_enroll_request_done(&enroll);
        }
        if (proto_proof_request_decode(body, size, &proof, &diag) >= 0)
                proto_proof_request_done(&proof);
        if (proto_attest_request_decode(body, size, &attest, &diag) >= 0) {
                TPMT_SIGNATURE sig;
                TPMS_ATTEST a;
                (void) tpm2_unmarshal_TPMT_SIGNATURE(attest.signature.data, attest.signature.size, &sig);
                (void) tpm2_unmarshal_TPMS_ATTEST(attest.quoted.data, attest.quoted.size, &a);
                proto_attest_request_done(&attest);
        }
        /* its two decoders, and the relay report's: the fast path takes nothing the json-c decoder refuses, and gives
         * the same request */
        {
                ProtoAttestRequest fast = {}, slow = {};
                int kf = proto_attest_request_decode_fast(body, size, &fast),
                    ks = proto_attest_request_decode_json(body, size, &slow, &diag);

                if ((kf != 0 && kf != 1 && kf != -ENOMEM) ||
                    (kf == 1 && (ks < 0 || !proto_attest_request_equal(&fast, &slow))))
                        abort();
                proto_attest_request_done(&fast);
                proto_attest_request_done(&slow);
        }
        {
                ProtoRelayMetricsRequest fast, slow;
                int kf = proto_relay_metrics_request_decode_fast(body, size, &fast),
                    ks = proto_relay_metrics_request_decode_json(body, size, &slow, &diag);

                if ((kf != 0 && kf != 1) || (kf == 1 && (ks < 0 || !proto_relay_metrics_request_equal(&fast, &slow))))
                        abort();
        }
        /* and what it stores of a fingerprints report: each relay's values pass the rules the table checks again */
        if (proto_fingerprints_request_decode(body, size, &fingerprints, &diag) >= 0)
                for (size_t i = 0; i < fingerprints.n_relays; i++)
                        if (!tor_nickname_ok(fingerprints.relays[i].name) ||
                            !proto_rsa_fingerprint_ok(fingerprints.relays[i].rsa) ||
                            (fingerprints.relays[i].ed25519[0] &&
                             !proto_ed25519_identity_ok(fingerprints.relays[i].ed25519)))
                                abort();
        /* a save of the relays' sealed tor state (both ends: the node decodes the same shape from GET), encoded
         * back as the server answers it */
        for (size_t min = 0; min <= 1; min++)
                if (proto_relay_states_decode(body, size, min, &states, &diag) >= 0) {
                        char *again = NULL;
                        if ((min == 1 && states.n_relays == 0) || proto_relay_states_encode(&states, &again) < 0)
                                abort();
                        free(again);
                        proto_relay_states_done(&states);
                }

        /* a relay metrics report: what the server stores is within its bounds, and encodes back */
        if (proto_relay_metrics_request_decode(body, size, &relay_metrics, &diag) >= 0) {
                char *again = NULL;

                for (size_t i = 0; i < relay_metrics.n_relays; i++)
                        if (!tor_nickname_ok(relay_metrics.relays[i].name) ||
                            (relay_metrics.relays[i].m.flags >> _TOR_RELAY_FLAG_MAX) != 0)
                                abort();
                if (proto_relay_metrics_request_encode(&relay_metrics, &again) < 0)
                        abort();
                free(again);
        }

        /* the node's side */
        if (proto_error_reply_decode(body, size, &error, &diag) >= 0)
                proto_error_reply_done(&error);
        for (long status = 200; status <= 202; status += 2)
                if (proto_enroll_reply_decode(body, size, status, &enroll_reply, &diag) >= 0)
                        proto_enroll_reply_done(&enroll_reply);
        if (proto_attest_reply_decode(body, size, &attest_reply, &diag) >= 0)
                proto_attest_reply_done(&attest_reply);
        (void) proto_check_reply_decode(body, size, &check, &diag);
        (void) proto_relay_metrics_reply_decode(body, size, &metrics_reply, &diag);
        if (proto_network_decode(body, size, &network, &diag) >= 0)
                proto_network_done(&network);
        if (proto_relays_decode(body, size, &relays, &n, &family, &diag) >= 0) {
                for (size_t i = 0; i < n; i++)
                        (void) proto_relay_check(&relays[i], &diag);
                proto_relays_free(relays, n);
                proto_family_keys_done(&family);
        }
        /* the log's replies (patelactl log verify): what decodes encodes again to the same values */
        if (proto_log_registration_decode(body, size, &registration, &diag) >= 0) {
                _cleanup_(proto_log_registration_done) ProtoLogRegistration again = {};
                _cleanup_free_ char *text = NULL;
                if (proto_log_registration_encode(&registration, &text) < 0 ||
                    proto_log_registration_decode(text, strlen(text), &again, &diag) < 0 ||
                    again.index != registration.index || strcmp(again.entry, registration.entry) != 0)
                        abort();
                proto_log_registration_done(&registration);
        }
        if (inclusion && proto_log_inclusion_decode(body, size, inclusion, &diag) >= 0) {
                _cleanup_free_ char *text = NULL;
                ProtoLogInclusion again;
                if (proto_log_inclusion_encode(inclusion, &text) < 0 ||
                    proto_log_inclusion_decode(text, strlen(text), &again, &diag) < 0 || again.n != inclusion->n ||
                    again.index != inclusion->index || again.size != inclusion->size ||
                    memcmp(again.proof, inclusion->proof, again.n * sizeof(TlogHash)) != 0)
                        abort();
        }
        if (consistency && proto_log_consistency_decode(body, size, consistency, &diag) >= 0) {
                _cleanup_free_ char *text = NULL;
                ProtoLogConsistency again;
                if (proto_log_consistency_encode(consistency, &text) < 0 ||
                    proto_log_consistency_decode(text, strlen(text), &again, &diag) < 0 ||
                    again.n != consistency->n || again.size1 != consistency->size1 ||
                    again.size2 != consistency->size2 ||
                    memcmp(again.proof, consistency->proof, again.n * sizeof(TlogHash)) != 0)
                        abort();
        }
        free(inclusion);
        free(consistency);
        return 0;
}
