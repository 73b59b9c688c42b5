/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Enrolment and attestation: POST /v1/enroll and POST /v1/attest. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "hexdecoct.h"
#include "identity.h"
#include "log.h"
#include "server-api.h"
#include "server-attestations.h"
#include "server-wire.h"
#include "tpm2-credential.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-templates.h"
#include "tpm2-util.h"

#define EK_CERTIFICATE_MAX (16U * 1024U)
#define CHALLENGE_SWEEP_INTERVAL_USEC (1000U * 1000U)

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

static enum MHD_Result bad_field(Request *req, const char *field, int r) {
        return respond_error(req, r == -E2BIG ? MHD_HTTP_CONTENT_TOO_LARGE : MHD_HTTP_BAD_REQUEST,
                             r == -ENOENT ? "MissingField" : "InvalidField", "Field '%s' %s.", field,
                             r == -ENOENT ? "is required" : r == -E2BIG ? "is too large" : "is malformed");
}

/* Decodes a base64 field holding a marshalled TPM structure. */
#define GET_TPM_FIELD(req, o, key, type, dst)                                                                \
        do {                                                                                                 \
                _cleanup_free_ void *_buf = NULL;                                                            \
                size_t _size;                                                                                \
                int _r = wire_get_base64(o, key, true, sizeof(type), &_buf, &_size);                        \
                if (_r >= 0)                                                                                 \
                        _r = tpm2_unmarshal_##type(_buf, _size, dst);                                        \
                if (_r < 0)                                                                                  \
                        return bad_field(req, key, _r == -EBADMSG ? -EINVAL : _r);                          \
        } while (0)

static enum MHD_Result reply_pending(Request *req, const Node *n) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();

        json_object_object_add(o, "state", json_object_new_string("pending"));
        json_object_object_add(o, "fingerprint", json_object_new_string(n->fingerprint));
        return respond_json(req, MHD_HTTP_ACCEPTED, TAKE_PTR(o));
}

static int random_bytes(void *p, size_t n) {
        return RAND_bytes(p, (int) n) == 1 ? 0 : -EIO;
}

/* An enabled node gets a fresh challenge; it replaces any earlier one of the node, so that a node has at
 * most one open challenge and a flood of enrolments cannot grow the table. */
/* Inside a write transaction, under the database lock: the node's last contact, and its challenge replacing
 * any earlier one. */
static int store_challenge(Db *db, const Request *req, const Node *n, const uint8_t *id, const uint8_t *hash,
                           size_t hsize, const uint8_t *nonce, const char *bank) {
        const ServerConfig *c = req->server->config;
        _cleanup_stmt_reset_ sqlite3_stmt *del = NULL, *ins = NULL;
        int r, rc;

        r = node_touch(db, n->id, req->source);
        if (r < 0)
                return r;
        r = db_prepare_cached(db, "DELETE FROM challenges WHERE node_id = ?", &del);
        if (r < 0)
                return r;
        sqlite3_bind_int64(del, 1, n->id);
        rc = sqlite3_step(del);
        if (rc != SQLITE_DONE)
                return db_errno(rc);

        /* Expired challenges of other nodes: a scan of the table (expires_at has no index), so at most once a
         * second rather than in every enrolment — with thousands of nodes enrolling at once (a power cut),
         * a scan per enrolment would grow with the square of the fleet. */
        if (now_usec() >= req->server->next_challenge_sweep_usec) {
                _cleanup_stmt_reset_ sqlite3_stmt *sweep = NULL;

                r = db_prepare_cached(db, "DELETE FROM challenges WHERE expires_at < ?", &sweep);
                if (r < 0)
                        return r;
                sqlite3_bind_int64(sweep, 1, (int64_t) now_usec());
                rc = sqlite3_step(sweep);
                if (rc != SQLITE_DONE)
                        return db_errno(rc);
                req->server->next_challenge_sweep_usec = now_usec() + CHALLENGE_SWEEP_INTERVAL_USEC;
        }

        r = db_prepare_cached(db,
                              "INSERT INTO challenges (id, node_id, secret_hash, nonce, pcr_bank, pcr_mask, expires_at) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)",
                              &ins);
        if (r < 0)
                return r;
        sqlite3_bind_blob(ins, 1, id, CHALLENGE_ID_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, n->id);
        sqlite3_bind_blob(ins, 3, hash, (int) hsize, SQLITE_TRANSIENT);
        sqlite3_bind_blob(ins, 4, nonce, QUOTE_NONCE_BYTES, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 5, bank, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 6, c->quote_pcr_mask);
        sqlite3_bind_int64(ins, 7, (int64_t) (now_usec() + c->challenge_lifetime_usec));
        rc = sqlite3_step(ins);
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

static enum MHD_Result send_challenge(Request *req, const Node *n) {
        const ServerConfig *c = req->server->config;
        _cleanup_(json_object_putp) json_object *o = NULL, *pcrs = NULL;
        _cleanup_free_ uint8_t *blob_bytes = NULL, *enc_bytes = NULL;
        uint8_t id[CHALLENGE_ID_BYTES], secret[CHALLENGE_SECRET_BYTES], nonce[QUOTE_NONCE_BYTES], hash[64];
        size_t hsize, blob_size, enc_size;
        TPM2B_ID_OBJECT blob;
        TPM2B_ENCRYPTED_SECRET enc;
        const char *bank = c->quote_bank ?: "sha256";
        Db *db;
        int r;

        if (random_bytes(id, sizeof(id)) < 0 || random_bytes(secret, sizeof(secret)) < 0 ||
            random_bytes(nonce, sizeof(nonce)) < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "No randomness.");

        /* Bound to the AK name the server computes from the stored AK public area. */
        r = tpm2_make_credential(&n->ek_public, &n->ak_name, secret, sizeof(secret), &blob, &enc);
        if (r >= 0)
                r = tpm2_digest(TPM2_ALG_SHA256, secret, sizeof(secret), hash, &hsize);
        explicit_bzero(secret, sizeof(secret));
        if (r >= 0)
                r = tpm2_marshal_TPM2B_ID_OBJECT(&blob, &blob_bytes, &blob_size);
        if (r >= 0)
                r = tpm2_marshal_TPM2B_ENCRYPTED_SECRET(&enc, &enc_bytes, &enc_size);
        if (r < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError",
                                     "make_credential failed: %s", strerror(-r));

        /* One write transaction per enrolment: the node's last contact and its new challenge. */
        db = server_db_lock(req->server);
        r = db_begin(db);
        if (r >= 0) {
                r = store_challenge(db, req, n, id, hash, hsize, nonce, bank);
                if (r >= 0)
                        r = db_commit(db);
                if (r < 0)
                        db_rollback(db);
        }
        server_db_unlock(req->server);
        if (r < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "Storing the challenge failed.");

        o = json_object_new_object();
        pcrs = json_object_new_array();
        for (unsigned i = 0; i < TPM2_PCRS_MAX; i++)
                if (c->quote_pcr_mask & (1U << i))
                        json_object_array_add(pcrs, json_object_new_int((int) i));
        json_object_object_add(o, "state", json_object_new_string("enabled"));
        json_object_object_add(o, "fingerprint", json_object_new_string(n->fingerprint));
        json_object_object_add(o, "challenge", wire_new_hex(id, sizeof(id)));
        json_object_object_add(o, "credentialBlob", wire_new_base64(blob_bytes, blob_size));
        json_object_object_add(o, "encryptedSecret", wire_new_base64(enc_bytes, enc_size));
        json_object_object_add(o, "nonce", wire_new_base64(nonce, sizeof(nonce)));
        json_object_object_add(o, "pcrs", TAKE_PTR(pcrs));
        json_object_object_add(o, "bank", json_object_new_string(bank));
        return respond_json(req, MHD_HTTP_OK, TAKE_PTR(o));
}

/* Under the database lock: the node of this identity. An unknown identity becomes a pending node (1), unless
 * its source is over the rate limit (-EUSERS) or too many nodes are pending (-ENOSPC). -EXDEV if the EK is
 * enrolled with another AK. A pending or disabled node is touched here; an enabled one in its challenge's
 * transaction. */
static int lookup_node(Db *db, const Request *req, NodeIdentity *id, Node *ret) {
        const ServerConfig *c = req->server->config;
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
                snprintf(id->fingerprint, sizeof(id->fingerprint), "%s", fp);
                r = node_create_pending(db, id, req->source, c->max_pending_nodes, c->default_relay_count, ret);
                return r < 0 ? r : 1;
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

enum MHD_Result api_enroll(Request *req) {
        static const char *const allowed[] = { "ekPublic", "ekCertificate", "akPublic", NULL };
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ void *cert = NULL;
        NodeIdentity id = {};
        const char *field;
        Node n;
        Db *db;
        int r;

        if (wire_parse(req->body, req->size, &o) < 0)
                return respond_error(req, MHD_HTTP_BAD_REQUEST, "MalformedJson", "The body must be one JSON object.");
        if (wire_check_fields(o, allowed, &field) < 0)
                return respond_error(req, MHD_HTTP_BAD_REQUEST, "UnknownField", "Unknown field '%s'.", field);

        GET_TPM_FIELD(req, o, "ekPublic", TPM2B_PUBLIC, &id.ek_public);
        GET_TPM_FIELD(req, o, "akPublic", TPM2B_PUBLIC, &id.ak_public);
        r = wire_get_base64(o, "ekCertificate", false, EK_CERTIFICATE_MAX, &cert, &id.ek_certificate_size);
        if (r < 0)
                return bad_field(req, "ekCertificate", r);
        id.ek_certificate = cert;

        r = check_ek_public(&id.ek_public.publicArea);
        if (r < 0)
                return respond_error(req, MHD_HTTP_BAD_REQUEST, "EkRejected",
                                     "ekPublic is not a TCG endorsement key (restricted decrypt, fixedTPM, SHA-256, "
                                     "AES-128-CFB, RSA-2048 or ECC P-256).");
        /* Never trust a name or attributes sent by the client: both are derived from the public areas. */
        r = tpm2_ak_check_public(&id.ak_public.publicArea);
        if (r < 0)
                return respond_error(req, MHD_HTTP_BAD_REQUEST, "AkRejected",
                                     "akPublic is not an attestation key: it must be restricted, sign-only, fixedTPM, "
                                     "fixedParent and sensitiveDataOrigin, with SHA-256 (%s).",
                                     r == -EPERM ? "attributes" : "algorithms");
        id.ek_type = tpm2_key_type_to_string(tpm2_key_type_of_public(&id.ek_public.publicArea));
        if (tpm2_public_name(&id.ek_public.publicArea, &id.ek_name) < 0 ||
            tpm2_public_name(&id.ak_public.publicArea, &id.ak_name) < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "Name computation failed.");

        db = server_db_lock(req->server);
        r = lookup_node(db, req, &id, &n);
        server_db_unlock(req->server);
        if (r == -EUSERS)
                return respond_error(req, MHD_HTTP_TOO_MANY_REQUESTS, "RateLimited",
                                     "Too many new identities from %s; try later.", req->source);
        if (r == -ENOSPC)
                return respond_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "TooManyPendingNodes",
                                     "%u nodes are waiting to be enabled; enable or remove some first.",
                                     req->server->config->max_pending_nodes);
        if (r == -EEXIST)
                return respond_error(req, MHD_HTTP_CONFLICT, "IdentityConflict",
                                     "This fingerprint belongs to another node.");
        if (r == -EXDEV)
                return respond_error(req, MHD_HTTP_CONFLICT, "AkChanged",
                                     "This EK is enrolled with another AK (node %" PRIi64 "); the operator must "
                                     "remove the node before it can enrol again.", n.id);
        if (r < 0)
                return respond_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "InternalError", "Node lookup failed.");
        if (r > 0) {
                log_notice("New node %" PRIi64 " from %s is pending, fingerprint %s.", n.id, req->source, n.fingerprint);
                return reply_pending(req, &n);
        }

        switch (n.state) {
        case NODE_PENDING:
                return reply_pending(req, &n);
        case NODE_DISABLED:
                return respond_error(req, MHD_HTTP_FORBIDDEN, "NodeDisabled", "Node %" PRIi64 " is disabled.", n.id);
        default:
                return send_challenge(req, &n); /* touches the node in its transaction */
        }
}
