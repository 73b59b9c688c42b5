/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The node↔server protocol, declared once: patela-server and patela-configd both encode and decode
 * through this file, so that a field, a limit or an error code cannot differ between the two ends.
 * patela-server(8), section API, describes the same in words.
 *
 * Transport: HTTPS (TLS 1.3), bodies are one JSON object (json-c on both ends), binary values in base64,
 * hashes and ids in hex. Decoding is strict: one object with nothing after it, ASCII (\u escapes), at most
 * PROTO_JSON_DEPTH_MAX levels, no duplicate key, no unknown field, each field of its type and within its
 * bounds. Every decoder fills a ProtoDiag naming the field that failed. Decoded values are copies: the
 * structs own them; the *_done() functions free them and wipe what is secret. Nothing here logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"
#include "tor-keys.h"
#include "tlog.h"
#include "tor-metrics.h"
#include "tor-nickname.h"

/* ---- endpoints ------------------------------------------------------------------------------------ */

typedef enum ProtoEndpoint {
        PROTO_HEALTH,       /* GET  /v1/health        liveness, no authentication */
        PROTO_ENROLL,       /* POST /v1/enroll        identity → a credential challenge (to prove or to attest) */
        PROTO_ENROLL_PROOF, /* POST /v1/enroll/proof  a new identity's proof that it holds its EK and AK → pending */
        PROTO_ATTEST,       /* POST /v1/attest        secret + quote → session token */
        PROTO_NODE_NETWORK, /* GET  /v1/node/network  resolved network settings (bearer token) */
        PROTO_NODE_RELAYS,  /* GET  /v1/node/relays   relays with their resolved torrc (bearer token) */
        PROTO_NODE_CHECK,   /* GET  /v1/node/check    is the session still good, or re-attest now (bearer token) */
        PROTO_NODE_FINGERPRINTS, /* POST /v1/node/fingerprints  the relays' identities (bearer token) */
        PROTO_NODE_STATE,        /* GET  /v1/node/state         the relays' sealed tor state (bearer token, Trusted) */
        PROTO_NODE_STATE_SAVE,   /* POST /v1/node/state/save    store the relays' sealed tor state (bearer token, Trusted) */
        /* The transparency log, public (docs/transparency.md): a signed checkpoint (text/plain, a C2SP
         * signed note), entries ?start=&count=, an inclusion proof ?index=&size=, a consistency proof
         * ?size1=&size2= (JSON; hashes in base64). */
        PROTO_LOG_CHECKPOINT,  /* GET  /v1/log/checkpoint */
        PROTO_LOG_ENTRIES,     /* GET  /v1/log/entries */
        PROTO_LOG_INCLUSION,   /* GET  /v1/log/inclusion */
        PROTO_LOG_CONSISTENCY, /* GET  /v1/log/consistency */
        PROTO_LOG_REGISTRATION, /* GET  /v1/log/registration  an image's registration entry, by ?authenticode= */
        PROTO_NODE_RELAY_METRICS, /* POST /v1/node/relay-metrics  each relay's MetricsPort summary (bearer token) */
        _PROTO_ENDPOINT_MAX,
        _PROTO_ENDPOINT_INVALID = -EINVAL,
} ProtoEndpoint;

/* The TLS 1.3 key exchange groups a node offers patela-server, the first with its key share: those the server (GnuTLS)
 * negotiates. OpenSSL 3.5's default adds an X25519MLKEM768 share (1,216 bytes) that this server cannot take; GnuTLS
 * hashes the whole transcript again for each secret and Finished it derives, some 26 times per resumed handshake,
 * so those bytes alone cost the server some 75 µs of every new connection (docs/server.md). */
#define PROTO_TLS_GROUPS "X25519:P-256:P-384"

/* Quote-only re-attestation (docs/protocol.md): a node that can answer a challenge without a credential says so
 * in its enrolment request with this preference (RFC 7240), "Prefer: quote-only". A server that knows it
 * leaves the credential out of an enabled node's challenge when the node's TPM proved its EK and AK before (at
 * its enrolment proof, or by a credential answered since); the answer then carries no secret, and the quote
 * over the challenge's nonce, by the AK proven to be the TPM's, is the proof. A server that does not know the
 * preference ignores the header and sends the credential, which the node activates as before. */
#define PROTO_PREFER_HEADER "Prefer"
#define PROTO_PREFER_QUOTE_ONLY "quote-only"
/* Whether a Prefer header's value (NULL: no header) holds the preference token: a comma-separated list of
 * preferences, each a token with optional "=value" and ";" parameters, as RFC 7240 writes them; tokens compared
 * without regard to case. Reads at most PROTO_PREFER_MAX bytes: a longer header holds nothing. */
#define PROTO_PREFER_MAX 1024U
bool proto_prefer_has(const char *header, const char *token) _pure_;

/* Entries per GET /v1/log/entries. */
#define PROTO_LOG_ENTRIES_MAX 256U

typedef struct ProtoEndpointInfo {
        const char *path;
        const char *method;  /* "GET" or "POST" */
        bool authenticated;  /* needs "Authorization: Bearer TOKEN" from an attestation */
} ProtoEndpointInfo;

const ProtoEndpointInfo *proto_endpoint(ProtoEndpoint e);
const char *proto_endpoint_path(ProtoEndpoint e);
ProtoEndpoint proto_endpoint_from_path(const char *path);

/* ---- limits ----------------------------------------------------------------------------------------- */

#define PROTO_JSON_DEPTH_MAX 8
#define PROTO_REPLY_MAX (4U * 1024U * 1024U)   /* a reply as configd reads it */
#define PROTO_CHALLENGE_ID_SIZE 32U
#define PROTO_SECRET_SIZE 32U                   /* the credential's secret: a TPM2B_DIGEST of SHA-256 */
#define PROTO_NONCE_SIZE 32U                    /* what the server issues … */
#define PROTO_NONCE_SIZE_MAX 64U                /* … and what a node accepts (TPM2B_DATA of SHA-512) */
#define PROTO_TOKEN_SIZE 32U                    /* session token */
#define PROTO_BLOB_MAX 4096U                    /* credentialBlob, encryptedSecret */
#define PROTO_EK_CERTIFICATE_MAX (16U * 1024U)
#define PROTO_EVENT_LOG_MAX (1024U * 1024U)     /* each of firmwareLog and userspaceLog, base64 */
#define PROTO_FINGERPRINT_MAX 64U
#define PROTO_ERROR_CODE_MAX 64U
#define PROTO_MESSAGE_MAX 4096U
#define PROTO_PCRS_MAX 24U
#define PROTO_DIGEST_MAX 64U                    /* SHA-512 */
#define PROTO_RELAYS_MAX 64U
#define PROTO_DNS_MAX 16U
#define PROTO_TORRC_MAX (1024U * 1024U)
#define PROTO_ADDRESS_MAX 64U
#define PROTO_INTERFACE_MAX 15U                 /* IFNAMSIZ - 1 */
#define PROTO_SESSION_LIFETIME_MAX_SEC (7U * 24U * 3600U)
#define PROTO_CHECK_INTERVAL_MAX_SEC 3600U       /* checkIn of a check reply: 1…this */
#define PROTO_REASON_MAX 320U                    /* a verdict's reason */
#define PROTO_FAMILY_KEYS_MAX 2U                 /* the fleet's family keys: the current one and, while a
                                                  * rotation runs, the previous one */
#define PROTO_FAMILY_KEY_SIZE 32U                /* a family key: an ed25519 secret seed */
/* A relay's tor state file as patela-keyd seals it (docs/keyd.md): opaque to the server. At most
 * PROTO_TOR_STATE_MAX bytes of tor's file, plus the seal's header (magic, nonce) and tag. */
#define PROTO_TOR_STATE_MAX (32U * 1024U)
#define PROTO_SEALED_STATE_OVERHEAD 32U
#define PROTO_SEALED_STATE_MIN PROTO_SEALED_STATE_OVERHEAD
#define PROTO_SEALED_STATE_MAX (PROTO_TOR_STATE_MAX + PROTO_SEALED_STATE_OVERHEAD)

/* ---- error codes: {"error": CODE, "message": TEXT} with every 4xx and 5xx ------------------------------ */

typedef enum ProtoErrorCode {
        PROTO_ERROR_MALFORMED_JSON,         /* 400 the body is not one JSON object */
        PROTO_ERROR_UNKNOWN_FIELD,          /* 400 */
        PROTO_ERROR_MISSING_FIELD,          /* 400 */
        PROTO_ERROR_INVALID_FIELD,          /* 400, or 413 for a field over its bound */
        PROTO_ERROR_BODY_TOO_LARGE,         /* 413 over MaxBodySize= */
        PROTO_ERROR_EK_REJECTED,            /* 400 not a TCG endorsement key: refuses the node */
        PROTO_ERROR_AK_REJECTED,            /* 400 not an attestation key: refuses the node */
        PROTO_ERROR_RATE_LIMITED,           /* 429 too many new identities from one source */
        PROTO_ERROR_TOO_MANY_PENDING_NODES, /* 503 */
        PROTO_ERROR_IDENTITY_CONFLICT,      /* 409 the fingerprint belongs to another node */
        PROTO_ERROR_AK_CHANGED,             /* 409 this EK is enrolled with another AK */
        PROTO_ERROR_NODE_DISABLED,          /* 403 */
        PROTO_ERROR_CHALLENGE_UNKNOWN,      /* 403 answered, replaced or never issued */
        PROTO_ERROR_CHALLENGE_EXPIRED,      /* 403 */
        PROTO_ERROR_SECRET_MISMATCH,        /* 403 this TPM does not hold the enrolled EK and AK */
        PROTO_ERROR_QUOTE_REJECTED,         /* 403 */
        PROTO_ERROR_UNKNOWN_IMAGE,          /* 403 the measured-boot verdicts that refuse the node, under */
        PROTO_ERROR_RETIRED_IMAGE,          /* 403   MeasuredBoot=enforce: same names as the verdicts */
        PROTO_ERROR_FIRMWARE_CHANGED,       /* 403 */
        PROTO_ERROR_LOG_MISMATCH,           /* 403 */
        PROTO_ERROR_TOKEN_MISSING,          /* 401 */
        PROTO_ERROR_TOKEN_REJECTED,         /* 401 unknown, expired, or the node is not enabled */
        PROTO_ERROR_METHOD_NOT_ALLOWED,     /* 405 */
        PROTO_ERROR_NOT_FOUND,              /* 404 */
        PROTO_ERROR_UNKNOWN_RELAY,          /* 409 a relay name that is not one of this node's relays now */
        PROTO_ERROR_FINGERPRINT_CONFLICT,   /* 409 another relay has this identity */
        PROTO_ERROR_NOT_TRUSTED,            /* 409 the node's boot is not judged Trusted: no tor state is
                                             *     released or stored (does not refuse the node) */
        PROTO_ERROR_EVENT_LOGS_REQUIRED,    /* 409 an attestation named its event logs by their SHA-256 and the
                                             *     server does not hold them: send the same answer with the logs
                                             *     (the challenge stays open; does not refuse the node) */
        PROTO_ERROR_RENDER_FAILED,          /* 500 a relay's torrc could not be rendered */
        PROTO_ERROR_INTERNAL_ERROR,         /* 500 */
        _PROTO_ERROR_MAX,
        _PROTO_ERROR_INVALID = -EINVAL,
} ProtoErrorCode;

const char *proto_error_to_string(ProtoErrorCode c);
ProtoErrorCode proto_error_from_string(const char *s);
/* The HTTP status the server sends the code with (an over-long field: 413 instead). */
unsigned proto_error_status(ProtoErrorCode c);
/* Whether a reply refuses this node (the node stops its relays), rather than being a failure of the server
 * or of the request: the refusing codes, and any unknown code with 401, 403 or 409. */
bool proto_reply_refuses_node(long status, const char *code);

/* What a decoder found wrong: the code the server answers with, the field, a message that names both. */
typedef struct ProtoDiag {
        ProtoErrorCode code;
        bool too_large;          /* the field or body is over its bound (HTTP 413) */
        char field[32];
        char message[256];
} ProtoDiag;

/* ---- values ---------------------------------------------------------------------------------------- */

/* Binary data of a base64 field; data is NULL for an absent optional field. */
typedef struct ProtoBlob {
        uint8_t *data;
        size_t size;
} ProtoBlob;
void proto_blob_done(ProtoBlob *b);        /* frees */
void proto_blob_done_erase(ProtoBlob *b);  /* wipes, then frees */

/* A PCR bank as the protocol names it: "sha1", "sha256", "sha384", "sha512". */
bool proto_bank_ok(const char *s);
/* Digest size of a bank, 0 if unknown. */
size_t proto_bank_digest_size(const char *s);
/* A node fingerprint as the server shows it: 4–64 characters of [0-9A-Z-]. */
bool proto_fingerprint_ok(const char *s);

/* ---- measured-boot verdicts: what the server judged the node to have booted ------------------------- */

typedef enum ProtoVerdict {
        PROTO_VERDICT_TRUSTED,          /* a registered image, firmware as pinned, logs replay to the quote */
        PROTO_VERDICT_UNKNOWN_IMAGE,    /* PCR 4 shows no registered image (or more than one UKI) */
        PROTO_VERDICT_RETIRED_IMAGE,    /* a registered image that the operator retired */
        PROTO_VERDICT_FIRMWARE_CHANGED, /* a pinned firmware PCR (0–3, 5, 7) differs */
        PROTO_VERDICT_LOG_MISMATCH,     /* the event logs are missing, malformed, or do not replay to the quote */
        _PROTO_VERDICT_MAX,
        _PROTO_VERDICT_INVALID = -EINVAL,
} ProtoVerdict;

const char *proto_verdict_to_string(ProtoVerdict v) _const_;
ProtoVerdict proto_verdict_from_string(const char *s) _pure_;
/* The error code a refused verdict is sent with (the same name); _PROTO_ERROR_INVALID for Trusted. */
ProtoErrorCode proto_verdict_error(ProtoVerdict v) _const_;

/* ---- POST /v1/enroll -------------------------------------------------------------------------------- */

/* {ekPublic, akPublic: marshalled TPM2B_PUBLIC; ekCertificate: optional DER (or what the TPM holds)} */
typedef struct ProtoEnrollRequest {
        ProtoBlob ek_public;
        ProtoBlob ak_public;
        ProtoBlob ek_certificate;
} ProtoEnrollRequest;
void proto_enroll_request_done(ProtoEnrollRequest *r);
int proto_enroll_request_encode(const ProtoEnrollRequest *r, char **ret);
/* Bounds: TPM2B_PUBLIC's size for the public areas, PROTO_EK_CERTIFICATE_MAX. */
int proto_enroll_request_decode(const char *body, size_t size, ProtoEnrollRequest *ret, ProtoDiag *diag);

/* What the server answers an enrolment with:
 *   202 {state: "pending", fingerprint}: a known node the operator has not enabled; nothing else.
 *   200 {state: "prove", fingerprint, challenge, credentialBlob, encryptedSecret}: an identity the server does not
 *       know. Before it becomes a pending node it proves that one TPM holds both its EK and its AK: it activates
 *       the credential and sends the secret to POST /v1/enroll/proof.
 *   200 {state: "enabled", fingerprint, challenge, credentialBlob, encryptedSecret, nonce, pcrs, bank}: an
 *       enabled node, answered at POST /v1/attest. Without credentialBlob and encryptedSecret (both or neither)
 *       when the node asked for quote-only re-attestation (PROTO_PREFER_QUOTE_ONLY) and its TPM proved its EK and
 *       AK before: the answer then has no secret. */
typedef enum ProtoEnrollState {
        PROTO_ENROLL_PENDING,
        PROTO_ENROLL_PROVE,
        PROTO_ENROLL_ENABLED,
        _PROTO_ENROLL_STATE_MAX,
        _PROTO_ENROLL_STATE_INVALID = -EINVAL,
} ProtoEnrollState;

typedef struct ProtoEnrollReply {
        ProtoEnrollState state;
        char fingerprint[PROTO_FINGERPRINT_MAX + 1];
        /* prove and enabled: */
        uint8_t challenge[PROTO_CHALLENGE_ID_SIZE];
        ProtoBlob credential_blob;  /* marshalled TPM2B_ID_OBJECT; enabled: size 0 for a quote-only challenge */
        ProtoBlob encrypted_secret; /* marshalled TPM2B_ENCRYPTED_SECRET; the same */
        /* enabled only: */
        uint8_t nonce[PROTO_NONCE_SIZE_MAX];
        size_t nonce_size;
        uint32_t pcr_mask;          /* "pcrs": [0…23, ascending], at least one */
        char bank[8];
} ProtoEnrollReply;
void proto_enroll_reply_done(ProtoEnrollReply *r);
int proto_enroll_reply_encode(const ProtoEnrollReply *r, char **ret);
/* status: the HTTP status, 202 (pending) or 200 (prove or enabled, as the state field says). */
int proto_enroll_reply_decode(const char *body, size_t size, long status, ProtoEnrollReply *ret, ProtoDiag *diag);

/* ---- POST /v1/enroll/proof ---------------------------------------------------------------------------- */

/* {challenge, secret}: the secret of a "prove" challenge, as only the TPM holding the EK and AK recovers it.
 * Answered 202 {state: "pending", fingerprint} (the node now exists, pending), or 403 ChallengeUnknown,
 * ChallengeExpired, SecretMismatch, 503 TooManyPendingNodes, 409 IdentityConflict. */
typedef struct ProtoProofRequest {
        uint8_t challenge[PROTO_CHALLENGE_ID_SIZE];
        ProtoBlob secret; /* sensitive */
} ProtoProofRequest;
void proto_proof_request_done(ProtoProofRequest *r); /* wipes the secret */
int proto_proof_request_encode(const ProtoProofRequest *r, char **ret); /* ret: erase_and_free() it */
int proto_proof_request_decode(const char *body, size_t size, ProtoProofRequest *ret, ProtoDiag *diag);

/* ---- POST /v1/attest -------------------------------------------------------------------------------- */

typedef struct ProtoPcrValue {
        unsigned index;
        uint8_t value[PROTO_DIGEST_MAX];
        size_t size;
} ProtoPcrValue;

/* {challenge, secret, quoted: TPMS_ATTEST as the TPM signed it, signature: marshalled TPMT_SIGNATURE,
 * pcrValues: [{index, value}] ascending, firmwareLog and userspaceLog: optional, base64 of the logs}. No secret
 * in the answer to a quote-only challenge (one without a credential).
 * firmwareLogSha256 and userspaceLogSha256 (hex): a log named by the SHA-256 of its field's text instead of sent,
 * each in place of its log (never both), by a node whose logs this server accepted before in this boot
 * (docs/protocol.md); 409 EventLogsRequired if the server does not hold them. */
#define PROTO_LOG_DIGEST_SIZE 32U
typedef struct ProtoAttestRequest {
        uint8_t challenge[PROTO_CHALLENGE_ID_SIZE];
        ProtoBlob secret; /* sensitive; size 0: none (a quote-only challenge's answer) */
        ProtoBlob quoted;
        ProtoBlob signature;
        ProtoPcrValue pcr_values[PROTO_PCRS_MAX];
        size_t n_pcr_values;
        char *firmware_log;  /* base64 text, or NULL */
        char *userspace_log; /* base64 text, or NULL */
        bool firmware_log_named;  /* firmware_log_sha256 stands for the log (firmware_log is NULL) */
        bool userspace_log_named; /* the same for the userspace log */
        uint8_t firmware_log_sha256[PROTO_LOG_DIGEST_SIZE];
        uint8_t userspace_log_sha256[PROTO_LOG_DIGEST_SIZE];
} ProtoAttestRequest;
/* The SHA-256 that names a log: of its field's text, as the node would send it. */
int proto_log_digest(const char *log, uint8_t ret[static PROTO_LOG_DIGEST_SIZE]);
void proto_attest_request_done(ProtoAttestRequest *r); /* wipes the secret */
int proto_attest_request_encode(const ProtoAttestRequest *r, char **ret); /* ret: erase_and_free() it */
int proto_attest_request_decode(const char *body, size_t size, ProtoAttestRequest *ret, ProtoDiag *diag);

/* 200 {token, expiresIn: seconds, 1…PROTO_SESSION_LIFETIME_MAX_SEC, checkIn: seconds until the first GET
 * /v1/node/check, 1…PROTO_CHECK_INTERVAL_MAX_SEC, verdict: the measured-boot verdict, reason: why}. A verdict
 * other than Trusted is accepted only by a server with MeasuredBoot=warn (or no image registered yet). */
typedef struct ProtoAttestReply {
        uint8_t token[PROTO_TOKEN_SIZE]; /* sensitive */
        uint64_t expires_in;
        uint64_t check_in;
        ProtoVerdict verdict;
        char reason[PROTO_REASON_MAX + 1];
} ProtoAttestReply;
void proto_attest_reply_done(ProtoAttestReply *r); /* wipes */
int proto_attest_reply_encode(const ProtoAttestReply *r, char **ret); /* ret: erase_and_free() it */
int proto_attest_reply_decode(const char *body, size_t size, ProtoAttestReply *ret, ProtoDiag *diag);

/* ---- GET /v1/node/check ------------------------------------------------------------------------------ */

/* 200 {reattest: the server wants fresh evidence now (the image of the last attestation was retired, or
 * its verdict is not accepted any more), checkIn: seconds until the next check, 1…PROTO_CHECK_INTERVAL_MAX_SEC}.
 * No TPM operation on either end. 401 means the session is gone (node disabled, expired): attest again. */
typedef struct ProtoCheckReply {
        bool reattest;
        uint64_t check_in;
} ProtoCheckReply;
int proto_check_reply_encode(const ProtoCheckReply *r, char **ret);
int proto_check_reply_decode(const char *body, size_t size, ProtoCheckReply *ret, ProtoDiag *diag);

/* ---- node settings: the network settings of the configuration cascade -------------------------------- */

/* Interface, IPv4Gateway, IPv6Gateway, IPv4PrefixLength, IPv6PrefixLength, DNS (accumulates), ORPort. The
 * server stores a setting only if it passes here; configd refuses a reply whose settings do not. -ENOENT
 * for an unknown key (compared without case; ret_canonical_key gets the protocol's spelling), -EINVAL for a
 * bad value. value NULL: the key alone. */
int proto_setting_validate(const char *key, const char *value, const char **ret_canonical_key);
bool proto_setting_accumulates(const char *key);

/* ---- GET /v1/node/network and /v1/node/relays ------------------------------------------------------ */

/* A relay: name (checked by the receiver relay by relay, see proto_relay_check()), its addresses (null if
 * none), and in the relays reply its resolved torrc. */
typedef struct ProtoRelay {
        char *name;
        char *ipv4;
        char *ipv6;
        char *torrc;
} ProtoRelay;
void proto_relays_free(ProtoRelay *r, size_t n);

/* {Interface?, IPv4Gateway?, IPv6Gateway?, IPv4PrefixLength?, IPv6PrefixLength?, DNS?: [..], ORPort?,
 * relays: [{name, ipv4, ipv6}]}; numbers travel as strings, as the operator set them. */
typedef struct ProtoNetwork {
        char *interface;
        char *ipv4_gateway;
        char *ipv6_gateway;
        unsigned ipv4_prefix_length; /* 0: not set */
        unsigned ipv6_prefix_length; /* 0: not set */
        char *dns[PROTO_DNS_MAX];
        size_t n_dns;
        unsigned or_port;            /* 0: not set */
        ProtoRelay *relays;          /* without torrc */
        size_t n_relays;
} ProtoNetwork;
void proto_network_done(ProtoNetwork *n);
/* Sets one setting (validated as proto_setting_validate() does; DNS appends); -E2BIG past PROTO_DNS_MAX. */
int proto_network_set(ProtoNetwork *n, const char *key, const char *value);
int proto_network_encode(const ProtoNetwork *n, char **ret);
int proto_network_decode(const char *body, size_t size, ProtoNetwork *ret, ProtoDiag *diag);

/* The fleet's Happy Family keys (tor ≥ 0.4.9), as the relays reply carries them to a node whose session rests on
 * a Trusted verdict: each the 32-byte ed25519 seed of a key whose public half, in unpadded base64, is the
 * FamilyId in every relay's torrc (tor_family_id()). Secret: wiped by proto_family_keys_done(). */
typedef struct ProtoFamilyKeys {
        uint8_t keys[PROTO_FAMILY_KEYS_MAX][PROTO_FAMILY_KEY_SIZE];
        size_t n;
} ProtoFamilyKeys;
void proto_family_keys_done(ProtoFamilyKeys *f); /* wipes */

/* {relays: [{name, ipv4, ipv6, torrc}], familyKeys?: [base64 of a family key]}: names unique, at most
 * PROTO_RELAYS_MAX; at most PROTO_FAMILY_KEYS_MAX distinct family keys (absent, null or empty: the node gets
 * none). family may be NULL (none) for the encoder; a reply with family keys is encoded, and every reply
 * decoded, as a secret (json-c's copies wiped). */
int proto_relays_encode(const ProtoRelay *relays, size_t n, const ProtoFamilyKeys *family, char **ret);
int proto_relays_decode(const char *body, size_t size, ProtoRelay **ret, size_t *ret_n, ProtoFamilyKeys *ret_family,
                        ProtoDiag *diag);

/* A relay a node can configure: a tor nickname, addresses that parse, a torrc that patela's torrc parser
 * accepts and that leaves KeyDirectory and DataDirectory to the node. -EINVAL with the reason in diag. */
int proto_relay_check(const ProtoRelay *r, ProtoDiag *diag);

/* ---- POST /v1/node/fingerprints --------------------------------------------------------------------- */

/* What a node reports once patela-keyd has made (or unsealed) its relays' keys, and again whenever they
 * change: {relays: [{name, rsaFingerprint, ed25519Identity}]}, 1…PROTO_RELAYS_MAX relays, names unique.
 * name: one of the node's relays, as the relays reply named it; rsaFingerprint: the RSA identity's
 * fingerprint (SHA-1 of the DER PKCS#1 RSAPublicKey), 40 upper-case hex digits, as in tor's
 * DataDirectory/fingerprint; ed25519Identity: the ed25519 master identity key, unpadded base64 of 32 bytes
 * (43 characters, as tor's fingerprint-ed25519), or null. The server replaces what it holds for each relay
 * named, all or nothing, and answers 200 {}; 409 UnknownRelay names a relay that is not the node's, 409
 * FingerprintConflict one whose identity another relay has. Neither refuses the node. */
typedef struct ProtoRelayFingerprint {
        char name[TOR_NICKNAME_MAX + 1];
        char rsa[TOR_RSA_FINGERPRINT_LEN + 1];
        char ed25519[TOR_ED25519_ID_LEN + 1]; /* "" if not known */
} ProtoRelayFingerprint;

typedef struct ProtoFingerprintsRequest {
        ProtoRelayFingerprint relays[PROTO_RELAYS_MAX];
        size_t n_relays;
} ProtoFingerprintsRequest;

/* 40 upper-case hex digits. */
bool proto_rsa_fingerprint_ok(const char *s) _pure_;
/* 43 characters of unpadded base64 that decode to 32 bytes, no bits set past them (one spelling per key). */
bool proto_ed25519_identity_ok(const char *s);
/* -EINVAL if a relay does not pass the rules above (a caller's bug: configd checks keyd's values first). */
int proto_fingerprints_request_encode(const ProtoFingerprintsRequest *r, char **ret);
int proto_fingerprints_request_decode(const char *body, size_t size, ProtoFingerprintsRequest *ret,
                                      ProtoDiag *diag);

/* ---- GET /v1/log/… ------------------------------------------------------------------------------------ */

/* An entry as the log stores it (canonical ASCII text, docs/transparency.md). */
#define PROTO_LOG_ENTRY_MAX 4096U

/* GET /v1/log/registration?authenticode=HEX: the last entry that registered the image whose UKI has this
 * Authenticode digest (64 lower-case hex digits, as PCR 4 measures it), {index, entry}; 404 NotFound when
 * the log registered no such image. The server only finds it: a node checks the entry's content against its
 * own measurements, hashes it itself and proves it under a signed checkpoint (GET /v1/log/inclusion). */
typedef struct ProtoLogRegistration {
        uint64_t index;
        char *entry;
} ProtoLogRegistration;
void proto_log_registration_done(ProtoLogRegistration *r);
int proto_log_registration_encode(const ProtoLogRegistration *r, char **ret);
int proto_log_registration_decode(const char *body, size_t size, ProtoLogRegistration *ret, ProtoDiag *diag);
/* 64 lower-case hex digits. */
bool proto_authenticode_ok(const char *s) _pure_;

/* GET /v1/log/inclusion?index=I&size=N: {index, size, root, proof: [hash…]}, hashes in base64; index < size ≤
 * TLOG_SIZE_MAX, at most TLOG_PROOF_MAX hashes. */
typedef struct ProtoLogInclusion {
        uint64_t index, size;
        TlogHash root;
        TlogHash proof[TLOG_PROOF_MAX];
        size_t n;
} ProtoLogInclusion;
int proto_log_inclusion_encode(const ProtoLogInclusion *p, char **ret);
int proto_log_inclusion_decode(const char *body, size_t size, ProtoLogInclusion *ret, ProtoDiag *diag);

/* GET /v1/log/consistency?size1=M&size2=N: {size1, size2, root1, root2, proof}; 1 ≤ size1 ≤ size2 ≤
 * TLOG_SIZE_MAX. */
typedef struct ProtoLogConsistency {
        uint64_t size1, size2;
        TlogHash root1, root2;
        TlogHash proof[TLOG_PROOF_MAX];
        size_t n;
} ProtoLogConsistency;
int proto_log_consistency_encode(const ProtoLogConsistency *p, char **ret);
int proto_log_consistency_decode(const char *body, size_t size, ProtoLogConsistency *ret, ProtoDiag *diag);

/* ---- GET /v1/node/state, POST /v1/node/state/save ------------------------------------------------------- */

/* Each relay's tor state file (its bandwidth history), sealed by patela-keyd under a key only the node's measured
 * boot unseals: {relays: [{name, state}]}, state the sealed blob in base64, PROTO_SEALED_STATE_MIN…MAX bytes;
 * names unique, at most PROTO_RELAYS_MAX. The server never has the key: it keeps the last blob of each relay as
 * it came. POST (at least one relay) replaces the blobs of the relays named, all or nothing, and answers 200 {};
 * GET answers every relay of the node that has one (possibly none). Both only for a node whose last attestation
 * was judged Trusted on an image in service: 409 NotTrusted otherwise (the node goes on without). 409
 * UnknownRelay names a relay that is not the node's. */
typedef struct ProtoRelayState {
        char name[TOR_NICKNAME_MAX + 1];
        ProtoBlob state;
} ProtoRelayState;

typedef struct ProtoRelayStates {
        ProtoRelayState relays[PROTO_RELAYS_MAX];
        size_t n_relays;
} ProtoRelayStates;

void proto_relay_states_done(ProtoRelayStates *s);
/* Adds a copy of data under name; -EINVAL past the bounds, a bad name or a name twice, -E2BIG past
 * PROTO_RELAYS_MAX. */
int proto_relay_states_add(ProtoRelayStates *s, const char *name, const void *data, size_t size);
int proto_relay_states_encode(const ProtoRelayStates *s, char **ret);
/* min_relays: 1 for the POST body, 0 for the GET reply. */
int proto_relay_states_decode(const char *body, size_t size, size_t min_relays, ProtoRelayStates *ret,
                              ProtoDiag *diag);

/* ---- POST /v1/node/relay-metrics -------------------------------------------------------------------- */

/* What a node reports after a session check, at most every reportIn seconds: each running relay's MetricsPort, summed up (TorRelayMetrics,
 * src/shared/tor/tor-metrics.h). {relays: [{name, onionskinsDropped, oomBytes, tcpExhaustion,
 * rateLimitReached, dnsQueries, readBytes, writtenBytes: integers 0…2^64-1, dnsErrors: {REASON: integer} with
 * tor's reasons only (tor_dns_reason_from_string()), each at most once, flags: [FLAG] tor's flag names, each at
 * most once}]}, 1…PROTO_RELAYS_MAX relays, names unique. The server keeps the last report of each relay named
 * and answers 200 {reportIn}; 409 UnknownRelay names a relay that is not the node's (nothing is kept then). */
typedef struct ProtoRelayMetrics {
        char name[TOR_NICKNAME_MAX + 1];
        TorRelayMetrics m;
} ProtoRelayMetrics;

typedef struct ProtoRelayMetricsRequest {
        ProtoRelayMetrics relays[PROTO_RELAYS_MAX];
        size_t n_relays;
} ProtoRelayMetricsRequest;

/* -EINVAL for no relay, too many, or a name that is no nickname (a caller's bug). */
int proto_relay_metrics_request_encode(const ProtoRelayMetricsRequest *r, char **ret);
int proto_relay_metrics_request_decode(const char *body, size_t size, ProtoRelayMetricsRequest *ret, ProtoDiag *diag);

/* 200 {reportIn: seconds, 1…PROTO_RELAY_METRICS_INTERVAL_MAX_SEC, reattest, checkIn}: the server's
 * RelayMetricsInterval=, when it wants the node's next report, and the session check's answer (the report is a
 * check too: the node sends it instead of its GET /v1/node/check when a report is due; 401 and 403 as for a
 * check). A server before these fields answered {}: decoded as report_in 0 (a report after every check, as that
 * server expected) and has_check false (the node checks as well). reattest and checkIn come together or not at
 * all. */
#define PROTO_RELAY_METRICS_INTERVAL_MAX_SEC 3600U
typedef struct ProtoRelayMetricsReply {
        uint64_t report_in; /* 0: not said */
        bool has_check;     /* reattest and check_in are the session check's answer */
        ProtoCheckReply check;
} ProtoRelayMetricsReply;
int proto_relay_metrics_reply_encode(const ProtoRelayMetricsReply *r, char **ret);
int proto_relay_metrics_reply_decode(const char *body, size_t size, ProtoRelayMetricsReply *ret, ProtoDiag *diag);

/* ---- errors ------------------------------------------------------------------------------------------ */

typedef struct ProtoErrorReply {
        char code[PROTO_ERROR_CODE_MAX + 1]; /* as sent: a code of a newer server is kept */
        ProtoErrorCode known;                /* _PROTO_ERROR_INVALID for a code this build does not know */
        char *message;
} ProtoErrorReply;
void proto_error_reply_done(ProtoErrorReply *e);
int proto_error_reply_encode(ProtoErrorCode code, const char *message, char **ret);
int proto_error_reply_decode(const char *body, size_t size, ProtoErrorReply *ret, ProtoDiag *diag);
