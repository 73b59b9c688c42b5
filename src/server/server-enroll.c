/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enrolment and attestation: POST /v1/enroll and POST /v1/attest. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "identity.h"
#include "log-event.h"
#include "log.h"
#include "server-api.h"
#include "server-attestations.h"
#include "server-challenge.h"
#include "tpm2-credential.h"
#include "tpm2-ek-cert.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-templates.h"
#include "tpm2-util.h"

/* An EK as the TCG profile makes them: a restricted decryption key bound to this TPM, SHA-256 names,
 * AES-128-CFB for the credential, RSA-2048 or ECC P-256. make_credential relies on each of these. */
static int check_ek_public(const TPMT_PUBLIC *p) {
        const TPMA_OBJECT required = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_RESTRICTED |
                                     TPMA_OBJECT_DECRYPT;
        const TPMT_SYM_DEF_OBJECT *sym;

        if (tpm2_key_type_of_public(p) < 0 || p->nameAlg != TPM2_ALG_SHA256)
                return -EOPNOTSUPP;
        if ((p->objectAttributes & required) != required || (p->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT))
                return -EPERM;
        sym = p->type == TPM2_ALG_RSA ? &p->parameters.rsaDetail.symmetric : &p->parameters.eccDetail.symmetric;
        if (sym->algorithm != TPM2_ALG_AES || sym->keyBits.aes != 128 || sym->mode.aes != TPM2_ALG_CFB)
                return -EOPNOTSUPP;
        return 0;
}

/* A public area the protocol carried as bytes, unmarshalled: a 400 naming the field if it is not one. */
static int unmarshal_public(Request *req, const ProtoBlob *b, const char *field, TPM2B_PUBLIC *ret,
                            enum MHD_Result *ret_response) {
        if (tpm2_unmarshal_TPM2B_PUBLIC(b->data, b->size, ret) >= 0)
                return 0;
        *ret_response = respond_error(req, PROTO_ERROR_INVALID_FIELD,
                                      "enrolment request: field '%s' is not a marshalled TPM2B_PUBLIC.", field);
        return -EINVAL;
}

static enum MHD_Result reply_pending(Request *req, const Node *n) {
        ProtoEnrollReply reply = { .state = PROTO_ENROLL_PENDING };
        char *body = NULL;

        snprintf(reply.fingerprint, sizeof(reply.fingerprint), "%s", n->fingerprint);
        if (proto_enroll_reply_encode(&reply, &body) < 0)
                return MHD_NO;
        metrics_count_enrolment(&req->server->metrics, reply.state);
        return respond_body(req, MHD_HTTP_ACCEPTED, body);
}

/* fn inside one write transaction under the database lock: committed if it succeeds, rolled back otherwise, run
 * again when another server's transaction overlapped on PostgreSQL (db_transaction()). */
static int in_transaction(Server *server, int (*fn)(Db *db, void *userdata), void *userdata) {
        Db *db = server_db_lock(server);
        int r;

        r = db_transaction(db, fn, userdata);
        server_db_unlock(server);
        return r;
}

static int random_bytes(void *p, size_t n) {
        return RAND_bytes(p, (int) n) == 1 ? 0 : -EIO;
}

/* A credential of the identity's EK for its AK name, wrapping secret, as make_credential makes it: the blobs in the
 * reply. */
static int make_credential(const TPM2B_PUBLIC *ek_public, const TPM2B_NAME *ak_name,
                           const uint8_t secret[static PROTO_SECRET_SIZE], ProtoEnrollReply *reply) {
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET enc;
        int r;

        r = tpm2_make_credential(ek_public, ak_name, secret, PROTO_SECRET_SIZE, &blob, &enc);
        if (r >= 0)
                r = tpm2_marshal_TPM2B_ID_OBJECT(&blob, &reply->credential_blob.data, &reply->credential_blob.size);
        if (r >= 0)
                r = tpm2_marshal_TPM2B_ENCRYPTED_SECRET(&enc, &reply->encrypted_secret.data,
                                                        &reply->encrypted_secret.size);
        return r;
}

/* An enabled node gets a fresh challenge, besides the ones it has open. A new challenge never replaces an open
 * one: the public areas are not secret, and a stranger who enrols with them must not void the challenge the
 * node is answering (issue 11, item 2). Nothing is written (server-challenge.h): the challenge is derived from
 * the server's key, and what bounds a stranger is in memory, per server: at most CHALLENGES_PER_NODE_MAX open
 * challenges per node until the oldest is answered or expires (then 429). A stranger can hold the node's slots
 * for a ChallengeLifetime=, delaying its next attestation, but takes nothing from it: the node keeps its session
 * and its relays (configd does not stop relays for a 429). The challenge is quote-only (no credential: no
 * make_credential here, no TPM2_ActivateCredential on the node) when the node asks for it and its TPM proved
 * its EK and AK to this server before (docs/server.md, "Challenges"). */
static enum MHD_Result send_challenge(Request *req, const Node *n) {
        const ServerConfig *c = req->server->config;
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply reply = { .state = PROTO_ENROLL_ENABLED };
        _cleanup_(challenge_done) Challenge ch = {};
        const char *bank = c->quote_bank ?: "sha256";
        uint64_t issued;
        char *body = NULL;
        bool quote_only;
        int r;

        uint8_t snapshot[NODE_SNAPSHOT_MAX];
        size_t snapshot_size = 0;

        /* What the answer needs of the row just read goes with the challenge (server-attest.c); without it the answer
         * reads the row. */
        if (node_snapshot(n, snapshot, &snapshot_size) < 0)
                snapshot_size = 0;
        r = challenge_limits_issue_with(&req->server->challenge_limits, n->id, n->challenge_floor_ms, now_ms(),
                                        snapshot_size > 0 ? snapshot : NULL, snapshot_size, &issued);
        if (r == -EUSERS)
                return respond_error(req, PROTO_ERROR_RATE_LIMITED,
                                     "Node %" PRIi64 " has %u open challenges; answer one or wait until they expire.",
                                     n->id, CHALLENGES_PER_NODE_MAX);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Counting the node's challenges failed.");
        r = challenge_make(&req->server->challenge_key, n->id, issued, reply.challenge, &ch);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Deriving the challenge failed.");
        memcpy(reply.nonce, ch.nonce, PROTO_NONCE_SIZE);
        reply.nonce_size = PROTO_NONCE_SIZE;
        quote_only = n->credential_proven &&
                proto_prefer_has(MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, PROTO_PREFER_HEADER),
                                 PROTO_PREFER_QUOTE_ONLY);
        if (!quote_only) {
                /* Bound to the AK name the server computes from the stored AK public area. */
                r = make_credential(&n->ek_public, &n->ak_name, ch.secret, &reply);
                if (r < 0)
                        return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "make_credential failed: %s",
                                             strerror(-r));
        }

        snprintf(reply.fingerprint, sizeof(reply.fingerprint), "%s", n->fingerprint);
        reply.pcr_mask = c->quote_pcr_mask;
        snprintf(reply.bank, sizeof(reply.bank), "%s", bank);
        r = proto_enroll_reply_encode(&reply, &body);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Encoding the challenge failed.");
        metrics_count_enrolment(&req->server->metrics, reply.state);
        metrics_count_challenge(&req->server->metrics, quote_only);
        return respond_body_applied(req, MHD_HTTP_OK, body, quote_only ? PROTO_PREFER_QUOTE_ONLY : NULL);
}

/* A new identity's EK certificate, as EkCertificate= asks: its status for the node's row, or -EKEYREJECTED with
 * the reason. */
static int judge_ek_certificate(const Request *req, NodeIdentity *id, char **ret_issuer, char *reason,
                                size_t reason_size) {
        EkCertificatePolicy policy = req->server->config->ek_certificate;
        int r;

        *ret_issuer = NULL;
        if (policy == EK_CERTIFICATE_IGNORE) {
                id->ek_certificate_status = "ignored";
                return 0;
        }
        if (!id->ek_certificate) {
                if (policy == EK_CERTIFICATE_REQUIRE) {
                        snprintf(reason, reason_size, "no EK certificate, and EkCertificate=require");
                        return -EKEYREJECTED;
                }
                id->ek_certificate_status = "absent";
                return 0;
        }
        r = ek_certificate_verify(id->ek_certificate, id->ek_certificate_size, &id->ek_public.publicArea,
                                  req->server->ek_roots, ret_issuer, reason, reason_size);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -EKEYREJECTED;
        id->ek_certificate_status = "verified";
        id->ek_certificate_issuer = *ret_issuer;
        return 0;
}

/* Under the database lock: the node of this identity, 0. An unknown identity is not stored: 1, and it gets a
 * proof challenge (send_proof_challenge()), unless its source is over the rate limit (-EUSERS) or its EK
 * certificate is refused (-EKEYREJECTED, reason). -EXDEV if the EK is enrolled with another AK. A pending or
 * disabled node is touched here; an enabled one in its challenge's transaction. */
static int lookup_node(Db *db, const Request *req, NodeIdentity *id, Node *ret, char **ret_issuer, char *reason,
                       size_t reason_size) {
        int r;

        r = node_get_by_ek_name(db, &id->ek_name, ret);
        if (r == -ENOENT) {
                _cleanup_free_ char *fp = NULL;

                if (!ratelimit_allow(req->server->enroll_limit, req->source))
                        return -EUSERS;
                /* A known node's fingerprint is in its row; a new one's is computed here, from the public areas
                 * the server received. */
                r = patela_identity_fingerprint(&id->ek_public.publicArea, &id->ak_public.publicArea, &fp);
                if (r < 0)
                        return r;
                /* Before anything is stored: a stranger whose certificate does not verify leaves nothing behind. */
                r = judge_ek_certificate(req, id, ret_issuer, reason, reason_size);
                if (r < 0)
                        return r;
                snprintf(id->fingerprint, sizeof(id->fingerprint), "%s", fp);
                return 1;
        }
        if (r < 0)
                return r;
        /* Same EK, other AK: not the identity the operator enabled. */
        if (ret->ak_name.size != id->ak_name.size || memcmp(ret->ak_name.name, id->ak_name.name, ret->ak_name.size) != 0)
                return -EXDEV;
        if (ret->state != NODE_ENABLED)
                (void) node_touch(db, ret->id, req->source);
        return 0;
}

/* A proof challenge: a random id and a credential of a random secret, whose SHA-256 is in ret_hash. */
static int make_proof_challenge(const TPM2B_PUBLIC *ek_public, const TPM2B_NAME *ak_name, ProtoEnrollReply *reply,
                                uint8_t ret_hash[static 32]) {
        uint8_t secret[PROTO_SECRET_SIZE];
        size_t hsize;
        int r;

        if (random_bytes(reply->challenge, sizeof(reply->challenge)) < 0 || random_bytes(secret, sizeof(secret)) < 0)
                return -EIO;
        r = make_credential(ek_public, ak_name, secret, reply);
        if (r >= 0)
                r = tpm2_digest(TPM2_ALG_SHA256, secret, sizeof(secret), ret_hash, &hsize);
        explicit_bzero(secret, sizeof(secret));
        return r;
}

/* Inside a write transaction: expired proofs go, and a new one is stored unless MaxPendingNodes= proofs are
 * open (-ENOSPC): the table is bounded like the pending nodes it leads to. */
static int store_proof(Db *db, const Request *req, const NodeIdentity *id, const uint8_t *challenge,
                       const uint8_t *hash) {
        const ServerConfig *c = req->server->config;
        _cleanup_db_stmt_ DbStmt *sweep = NULL, *count = NULL, *ins = NULL;
        _cleanup_free_ uint8_t *ek = NULL, *ak = NULL;
        size_t ek_size, ak_size;
        int r, rc;

        r = tpm2_marshal_TPM2B_PUBLIC(&id->ek_public, &ek, &ek_size);
        if (r >= 0)
                r = tpm2_marshal_TPM2B_PUBLIC(&id->ak_public, &ak, &ak_size);
        if (r >= 0)
                r = db_stmt_prepare_cached(db, "DELETE FROM enrolment_proofs WHERE expires_at <= ?", &sweep);
        if (r < 0)
                return r;
        db_bind_int64(sweep, 1, (int64_t) now_usec());
        rc = db_step(sweep);
        if (rc != DB_DONE)
                return db_result(rc);
        r = db_stmt_prepare_cached(db, "SELECT count(*) FROM enrolment_proofs", &count);
        if (r < 0)
                return r;
        rc = db_step(count);
        if (rc != DB_ROW)
                return db_result(rc);
        if ((uint64_t) db_column_int64(count, 0) >= c->max_pending_nodes)
                return -ENOSPC;
        r = db_stmt_prepare_cached(db,
                              "INSERT INTO enrolment_proofs (id, ek_public, ak_public, ek_certificate, "
                              "ek_certificate_status, ek_certificate_issuer, secret_hash, source, expires_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              &ins);
        if (r < 0)
                return r;
        db_bind_blob(ins, 1, challenge, PROTO_CHALLENGE_ID_SIZE);
        db_bind_blob(ins, 2, ek, (int) ek_size);
        db_bind_blob(ins, 3, ak, (int) ak_size);
        if (id->ek_certificate)
                db_bind_blob(ins, 4, id->ek_certificate, (int) id->ek_certificate_size);
        else
                db_bind_null(ins, 4);
        db_bind_text(ins, 5, id->ek_certificate_status);
        db_bind_text(ins, 6, id->ek_certificate_issuer);
        db_bind_blob(ins, 7, hash, 32);
        db_bind_text(ins, 8, req->source);
        db_bind_int64(ins, 9, (int64_t) (now_usec() + c->challenge_lifetime_usec));
        rc = db_step(ins);
        return rc == DB_DONE ? 0 : db_result(rc);
}

typedef struct StoreProof {
        const Request *req;
        const NodeIdentity *id;
        const uint8_t *challenge, *hash;
} StoreProof;

static int store_proof_tx(Db *db, void *userdata) {
        const StoreProof *p = userdata;
        return store_proof(db, p->req, p->id, p->challenge, p->hash);
}

/* An identity the server does not know proves that one TPM holds its EK and AK before it becomes a pending
 * node: a public area alone (they are not secret) creates nothing. */
static enum MHD_Result send_proof_challenge(Request *req, const NodeIdentity *id) {
        _cleanup_(proto_enroll_reply_done) ProtoEnrollReply reply = { .state = PROTO_ENROLL_PROVE };
        uint8_t hash[32];
        char *body = NULL;
        int r;

        r = make_proof_challenge(&id->ek_public, &id->ak_name, &reply, hash);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "make_credential failed: %s", strerror(-r));
        r = in_transaction(req->server, store_proof_tx, &(StoreProof) { req, id, reply.challenge, hash });
        if (r == -ENOSPC)
                return respond_error(req, PROTO_ERROR_TOO_MANY_PENDING_NODES,
                                     "%u identities are proving themselves or waiting to be enabled; try later.",
                                     req->server->config->max_pending_nodes);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Storing the proof challenge failed.");
        snprintf(reply.fingerprint, sizeof(reply.fingerprint), "%s", id->fingerprint);
        if (proto_enroll_reply_encode(&reply, &body) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Encoding the challenge failed.");
        metrics_count_enrolment(&req->server->metrics, reply.state);
        return respond_body(req, MHD_HTTP_OK, body);
}

typedef struct Proof {
        TPM2B_PUBLIC ek_public, ak_public;
        uint8_t *ek_certificate;
        size_t ek_certificate_size;
        char ek_certificate_status[16];
        char *ek_certificate_issuer;
        uint8_t secret_hash[32];
        int64_t expires_at;
} Proof;

static void proof_done(Proof *p) {
        free(p->ek_certificate);
        free(p->ek_certificate_issuer);
        *p = (Proof) {};
}

/* In one write transaction: the proof challenge read and removed, whatever the answer (it is answered once).
 * -ENOENT if there is none. */
static int take_proof(Db *db, const uint8_t *id, Proof *ret) {
        _cleanup_db_stmt_ DbStmt *s = NULL, *del = NULL;
        _cleanup_(proof_done) Proof p = {};
        int r, rc;

        r = db_stmt_prepare_cached(db,
                              "SELECT ek_public, ak_public, ek_certificate, ek_certificate_status, "
                              "ek_certificate_issuer, secret_hash, expires_at FROM enrolment_proofs WHERE id = ?",
                              &s);
        if (r < 0)
                return r;
        db_bind_blob(s, 1, id, PROTO_CHALLENGE_ID_SIZE);
        rc = db_step(s);
        if (rc == DB_DONE)
                return -ENOENT;
        if (rc != DB_ROW)
                return db_result(rc);
        if (tpm2_unmarshal_TPM2B_PUBLIC(db_column_blob(s, 0), (size_t) (int) db_column_bytes(s, 0),
                                        &p.ek_public) < 0 ||
            tpm2_unmarshal_TPM2B_PUBLIC(db_column_blob(s, 1), (size_t) (int) db_column_bytes(s, 1),
                                        &p.ak_public) < 0 ||
            (int) db_column_bytes(s, 5) != 32)
                return -EBADMSG;
        if (db_column_type(s, 2) == DB_TYPE_BLOB) {
                p.ek_certificate_size = (size_t) (int) db_column_bytes(s, 2);
                p.ek_certificate = memdup(db_column_blob(s, 2), p.ek_certificate_size);
                if (!p.ek_certificate)
                        return -ENOMEM;
        }
        snprintf(p.ek_certificate_status, sizeof(p.ek_certificate_status), "%s",
                 db_column_text(s, 3) ?: "absent");
        if (db_column_type(s, 4) == DB_TYPE_TEXT && !(p.ek_certificate_issuer =
                                                               strdup(db_column_text(s, 4))))
                return -ENOMEM;
        memcpy(p.secret_hash, db_column_blob(s, 5), 32);
        p.expires_at = db_column_int64(s, 6);

        r = db_stmt_prepare_cached(db, "DELETE FROM enrolment_proofs WHERE id = ?", &del);
        if (r < 0)
                return r;
        db_bind_blob(del, 1, id, PROTO_CHALLENGE_ID_SIZE);
        rc = db_step(del);
        if (rc != DB_DONE)
                return db_result(rc);
        *ret = p;
        p = (Proof) {};
        return 0;
}

typedef struct TakeProof {
        const uint8_t *id;
        Proof *proof;
} TakeProof;

static int take_proof_tx(Db *db, void *userdata) {
        TakeProof *t = userdata;
        return take_proof(db, t->id, t->proof);
}

enum MHD_Result api_enroll_proof(Request *req) {
        _cleanup_(proto_proof_request_done) ProtoProofRequest request = {};
        _cleanup_(proof_done) Proof p = {};
        _cleanup_free_ char *fp = NULL;
        const ServerConfig *c = req->server->config;
        NodeIdentity id = {};
        ProtoDiag diag = {};
        uint8_t hash[64];
        size_t hsize;
        bool secret_ok;
        Node n;
        Db *db;
        int r;

        if (proto_proof_request_decode(req->body, req->size, &request, &diag) < 0)
                return respond_diag(req, &diag);

        r = in_transaction(req->server, take_proof_tx, &(TakeProof) { request.challenge, &p });
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_CHALLENGE_UNKNOWN,
                                     "No open proof challenge with this id: it was answered already, or never issued.");
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Proof lookup failed.");
        if (p.expires_at <= (int64_t) now_usec())
                return respond_error(req, PROTO_ERROR_CHALLENGE_EXPIRED, "The proof challenge expired.");
        r = tpm2_digest(TPM2_ALG_SHA256, request.secret.data, request.secret.size, hash, &hsize);
        secret_ok = r >= 0 && request.secret.size == PROTO_SECRET_SIZE && CRYPTO_memcmp(hash, p.secret_hash, 32) == 0;
        proto_blob_done_erase(&request.secret);
        if (!secret_ok) {
                log_warning("Proof of an identity from %s refused: the secret does not match.", req->source);
                return respond_error(req, PROTO_ERROR_SECRET_MISMATCH,
                                     "The secret does not match the credential: no TPM holds both this EK and AK.");
        }

        /* Proven: the pending node, from what was stored when the challenge was made. */
        id = (NodeIdentity) {
                .ek_public = p.ek_public, .ak_public = p.ak_public,
                .ek_certificate = p.ek_certificate, .ek_certificate_size = p.ek_certificate_size,
                .ek_certificate_status = p.ek_certificate_status, .ek_certificate_issuer = p.ek_certificate_issuer,
                .ek_type = tpm2_key_type_to_string(tpm2_key_type_of_public(&p.ek_public.publicArea)),
        };
        if (tpm2_public_name(&id.ek_public.publicArea, &id.ek_name) < 0 ||
            tpm2_public_name(&id.ak_public.publicArea, &id.ak_name) < 0 ||
            patela_identity_fingerprint(&id.ek_public.publicArea, &id.ak_public.publicArea, &fp) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Name computation failed.");
        snprintf(id.fingerprint, sizeof(id.fingerprint), "%s", fp);

        db = server_db_lock(req->server);
        r = node_get_by_ek_name(db, &id.ek_name, &n);
        if (r == -ENOENT) {
                r = node_create_pending(db, &id, req->source, c->max_pending_nodes,
                                        c->pending_lifetime_usec / 1000000ULL, c->default_relay_count, &n);
                if (r >= 0) {
                        char node[80], source[96];

                        snprintf(node, sizeof(node), "PATELA_NODE=%s", n.fingerprint);
                        snprintf(source, sizeof(source), "PATELA_SOURCE=%s", req->source);
                        log_event(LOG_EVENT_NODE_PENDING, LOG_NOTICE, (const char *const[]) { node, source, NULL },
                                  "New node %" PRIi64 " from %s is pending, fingerprint %s (its TPM proved that it "
                                  "holds the EK and AK).",
                                  n.id, req->source, n.fingerprint);
                }
        }
        server_db_unlock(req->server);
        if (r == -ENOSPC)
                return respond_error(req, PROTO_ERROR_TOO_MANY_PENDING_NODES,
                                     "%u nodes are waiting to be enabled; enable or remove some first.",
                                     c->max_pending_nodes);
        if (r == -EEXIST)
                return respond_error(req, PROTO_ERROR_IDENTITY_CONFLICT, "This fingerprint belongs to another node.");
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Creating the pending node failed.");
        /* Proven twice (or enabled meanwhile): the node's next enrolment says what it is. */
        return reply_pending(req, &n);
}

enum MHD_Result api_enroll(Request *req) {
        _cleanup_(proto_enroll_request_done) ProtoEnrollRequest request = {};
        enum MHD_Result response;
        NodeIdentity id = {};
        ProtoDiag diag = {};
        _cleanup_free_ char *issuer = NULL;
        char reason[256] = "";
        Node n;
        Db *db;
        int r;

        if (proto_enroll_request_decode(req->body, req->size, &request, &diag) < 0)
                return respond_diag(req, &diag);
        if (unmarshal_public(req, &request.ek_public, "ekPublic", &id.ek_public, &response) < 0 ||
            unmarshal_public(req, &request.ak_public, "akPublic", &id.ak_public, &response) < 0)
                return response;
        id.ek_certificate = request.ek_certificate.data;
        id.ek_certificate_size = request.ek_certificate.size;

        r = check_ek_public(&id.ek_public.publicArea);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_EK_REJECTED,
                                     "ekPublic is not a TCG endorsement key (restricted decrypt, fixedTPM, SHA-256, "
                                     "AES-128-CFB, RSA-2048 or ECC P-256).");
        /* Never trust a name or attributes sent by the client: both are derived from the public areas. */
        r = tpm2_ak_check_public(&id.ak_public.publicArea);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_AK_REJECTED,
                                     "akPublic is not an attestation key: it must be restricted, sign-only, fixedTPM, "
                                     "fixedParent and sensitiveDataOrigin, with SHA-256 (%s).",
                                     r == -EPERM ? "attributes" : "algorithms");
        id.ek_type = tpm2_key_type_to_string(tpm2_key_type_of_public(&id.ek_public.publicArea));
        if (tpm2_public_name(&id.ek_public.publicArea, &id.ek_name) < 0 ||
            tpm2_public_name(&id.ak_public.publicArea, &id.ak_name) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Name computation failed.");

        db = server_db_lock(req->server);
        r = lookup_node(db, req, &id, &n, &issuer, reason, sizeof(reason));
        server_db_unlock(req->server);
        if (r == -EKEYREJECTED)
                return respond_error(req, PROTO_ERROR_EK_REJECTED, "The EK certificate is refused: %s.", reason);
        if (r == -EUSERS)
                return respond_error(req, PROTO_ERROR_RATE_LIMITED,
                                     "Too many new identities from %s; try later.", req->source);
        if (r == -EXDEV)
                return respond_error(req, PROTO_ERROR_AK_CHANGED,
                                     "This EK is enrolled with another AK (node %" PRIi64 "); the operator must "
                                     "remove the node before it can enrol again.", n.id);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Node lookup failed.");
        if (r > 0)
                return send_proof_challenge(req, &id);

        switch (n.state) {
        case NODE_PENDING:
                return reply_pending(req, &n);
        case NODE_DISABLED:
                return respond_error(req, PROTO_ERROR_NODE_DISABLED, "Node %" PRIi64 " is disabled.", n.id);
        default:
                return send_challenge(req, &n); /* writes nothing: the answer records the contact */
        }
}
