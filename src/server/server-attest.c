/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* POST /v1/attest: the node proves the credential's secret and sends a quote over the challenge's nonce;
 * the server verifies both, records the PCR values, and issues a session token. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "log-event.h"
#include "log.h"
#include "server-api.h"
#include "server-attestations.h"
#include "server-json.h"
#include "server-tlog.h"
#include "server-verdict.h"
#include "tpm2-marshal.h"
#include "tpm2-quote.h"
#include "tpm2-util.h"

typedef struct Challenge {
        int64_t node_id;
        uint8_t secret_hash[32];
        uint8_t nonce[PROTO_NONCE_SIZE];
        size_t nonce_size;
        char bank[16];
        uint32_t mask;
        int64_t expires_at;
} Challenge;

/* Reads an open challenge. It is consumed (consume_challenge()) in the transaction that records the
 * verdict, whatever the verdict: an answer, right or wrong, is the challenge's only one. */
static int find_challenge(Db *db, const uint8_t *id, Challenge *ret) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        Challenge c = {};
        int r, rc;

        r = db_prepare_cached(db,
                              "SELECT node_id, secret_hash, nonce, pcr_bank, pcr_mask, expires_at "
                              "FROM challenges WHERE node_id = ? AND id = ?",
                              &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, node_key_prefix_get(id));
        sqlite3_bind_blob(s, 2, id, PROTO_CHALLENGE_ID_SIZE, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
        if (rc == SQLITE_DONE)
                return -ENOENT;
        if (rc != SQLITE_ROW)
                return db_errno(rc);
        if (sqlite3_column_bytes(s, 1) != 32 || sqlite3_column_bytes(s, 2) <= 0 ||
            (size_t) sqlite3_column_bytes(s, 2) > sizeof(c.nonce))
                return -EBADMSG;
        c.node_id = sqlite3_column_int64(s, 0);
        memcpy(c.secret_hash, sqlite3_column_blob(s, 1), 32);
        c.nonce_size = (size_t) sqlite3_column_bytes(s, 2);
        memcpy(c.nonce, sqlite3_column_blob(s, 2), c.nonce_size);
        snprintf(c.bank, sizeof(c.bank), "%s", (const char *) sqlite3_column_text(s, 3));
        c.mask = (uint32_t) sqlite3_column_int64(s, 4);
        c.expires_at = sqlite3_column_int64(s, 5);
        *ret = c;
        return 0;
}

/* Inside a write transaction: takes the challenge out of the table. Of two answers to one challenge, verified at
 * the same time, only the first to get here finds it: -ESTALE for the other (and for a challenge replaced by a
 * newer enrolment, or removed with its node, meanwhile). */
static int consume_challenge(Db *db, const uint8_t *id) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = db_prepare_cached(db, "DELETE FROM challenges WHERE node_id = ? AND id = ?", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, node_key_prefix_get(id));
        sqlite3_bind_blob(s, 2, id, PROTO_CHALLENGE_ID_SIZE, SQLITE_TRANSIENT);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return db_errno(rc);
        return sqlite3_changes(db->sqlite) == 1 ? 0 : -ESTALE;
}

/* The decoded pcrValues must be exactly the challenge's PCRs of its bank (the decoder checked that they
 * ascend); also their record for the attestation log, {"N": "hex", …}. */
static int check_pcr_values(const ProtoAttestRequest *a, const Challenge *c, TPMI_ALG_HASH bank, TPM2B_DIGEST *values,
                            unsigned *ret_n, json_object **ret_record) {
        _cleanup_(json_object_putp) json_object *record = json_object_new_object();
        size_t digest_size = tpm2_hash_alg_digest_size(bank);

        if (!record)
                return -ENOMEM;
        if (a->n_pcr_values != (size_t) __builtin_popcount(c->mask))
                return -EINVAL;
        for (size_t i = 0; i < a->n_pcr_values; i++) {
                const ProtoPcrValue *p = &a->pcr_values[i];
                _cleanup_free_ char *hex = NULL;
                char key[12];

                if (!(c->mask & (1U << p->index)) || p->size != digest_size)
                        return -EINVAL;
                values[i].size = (uint16_t) digest_size;
                memcpy(values[i].buffer, p->value, digest_size);
                hex = hexmem(p->value, p->size);
                if (!hex)
                        return -ENOMEM;
                snprintf(key, sizeof(key), "%u", p->index);
                json_object_object_add(record, key, json_object_new_string(hex));
        }
        *ret_n = (unsigned) a->n_pcr_values;
        *ret_record = TAKE_PTR(record);
        return 0;
}

/* The verifier's errors (tpm2-quote.h), in words for the node and the attestation log. */
static const char *quote_error(int r) {
        switch (r) {
        case -EBADMSG:
                return "'quoted' is not a well-formed TPMS_ATTEST";
        case -EKEYREJECTED:
                return "the signature is not the enrolled AK's";
        case -EPROTO:
                return "not generated by a TPM (magic)";
        case -ENOMSG:
                return "not a quote (attestation type)";
        case -ESTALE:
                return "quote over another nonce (replay)";
        case -ECHRNG:
                return "quote over other PCRs than requested";
        case -EUCLEAN:
                return "pcrValues do not match the quoted pcrDigest";
        case -EPERM:
        case -EOPNOTSUPP:
                return "the enrolled AK cannot be verified";
        default:
                return "internal error";
        }
}

/* The challenge is consumed and the refusal logged, both or neither. */
static enum MHD_Result reject(Request *req, const uint8_t *challenge, const Node *n, ProtoErrorCode code,
                              const char *reason) {
        AttestationRecord rec = {
                .node_id = n->id, .fingerprint = n->fingerprint, .verdict = "rejected", .reason = reason,
                .reset_count = -1, .source = req->source,
        };
        Db *db = server_db_lock(req->server);
        int r;

        r = db_begin(db);
        if (r >= 0) {
                r = consume_challenge(db, challenge);
                if (r == -ESTALE) /* answered meanwhile: refused all the same, and logged */
                        r = 0;
                if (r >= 0)
                        r = attestation_log(db, &rec);
                if (r >= 0)
                        r = db_commit(db);
                if (r < 0)
                        db_rollback(db);
        }
        server_db_unlock(req->server);
        if (r < 0)
                log_warning_errno(r, "Failed to record the rejected attestation of node %" PRIi64 ": %m", n->id);
        char node[80];
        snprintf(node, sizeof(node), "PATELA_NODE=%s", n->fingerprint);
        log_event(LOG_EVENT_ATTESTATION_REJECTED, LOG_WARNING, (const char *const[]) { node, NULL },
                  "Attestation of node %" PRIi64 " (%s) rejected: %s", n->id, n->fingerprint, reason);
        return respond_error(req, code, "%s", reason);
}

/* Inside the write transaction: the node's counters, if it is still enabled and its TPM's resetCount did not go
 * down meanwhile (another attestation of the same node verified at the same time). -ESTALE otherwise. */
static int record_counters(Db *db, int64_t node_id, const TPMS_ATTEST *attest) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = db_prepare_cached(db,
                              "UPDATE nodes SET reset_count = ?1, restart_count = ?2, last_seen = ?3 "
                              "WHERE id = ?4 AND state = 'enabled' AND (reset_count IS NULL OR reset_count <= ?1)",
                              &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, attest->clockInfo.resetCount);
        sqlite3_bind_int64(s, 2, attest->clockInfo.restartCount);
        sqlite3_bind_int64(s, 3, now_sec());
        sqlite3_bind_int64(s, 4, node_id);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return db_errno(rc);
        return sqlite3_changes(db->sqlite) == 1 ? 0 : -ESTALE;
}

/* Inside the write transaction of a refusal, or before a new session: the node's sessions end, so that a token
 * of an earlier attestation cannot fetch the configuration of a node whose boot was just refused. */
static int end_sessions(Db *db, int64_t node_id) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        r = db_prepare_cached(db, "DELETE FROM sessions WHERE node_id = ?", &s);
        if (r < 0)
                return r;
        sqlite3_bind_int64(s, 1, node_id);
        rc = sqlite3_step(s);
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* ret_token: the token's bytes, written only on success; the caller wipes them. */
static int issue_session(Db *db, int64_t node_id, uint64_t lifetime_usec, uint8_t ret_token[static PROTO_TOKEN_SIZE]) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        uint8_t token[PROTO_TOKEN_SIZE], hash[64];
        size_t hsize;
        int64_t now = (int64_t) now_usec();
        int r, rc;

        if (RAND_bytes(token, sizeof(token)) != 1)
                return -EIO;
        /* The node's id, then 24 random bytes (server-nodes.h). */
        node_key_prefix_put(token, node_id);
        r = tpm2_digest(TPM2_ALG_SHA256, token, sizeof(token), hash, &hsize);
        if (r < 0)
                return r;
        /* One session per node, its row keyed by the node: a new attestation replaces the previous token in
         * place, and a token that leaked from an earlier boot dies at the next attestation. Only the hash is
         * stored: a copy of the database does not hold usable tokens. */
        r = db_prepare_cached(db,
                              "INSERT INTO sessions (token_hash, node_id, created_at, expires_at) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT (node_id) DO UPDATE SET token_hash = excluded.token_hash, "
                              "created_at = excluded.created_at, expires_at = excluded.expires_at",
                              &s);
        if (r < 0)
                return r;
        sqlite3_bind_blob(s, 1, hash, (int) hsize, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, node_id);
        sqlite3_bind_int64(s, 3, now);
        sqlite3_bind_int64(s, 4, now + (int64_t) lifetime_usec);
        rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
                return db_errno(rc);

        memcpy(ret_token, token, sizeof(token));
        explicit_bzero(token, sizeof(token));
        return 0;
}

/* Whether a verdict other than Trusted refuses the node now: MeasuredBoot=, and without it whether an image is
 * registered (a new fleet's first boots are recorded, not refused). 1, 0, or a negative errno. */
int measured_boot_enforced(Db *db, const ServerConfig *config) {
        _cleanup_stmt_reset_ sqlite3_stmt *s = NULL;
        int r, rc;

        if (config->measured_boot != MEASURED_BOOT_DEFAULT)
                return config->measured_boot == MEASURED_BOOT_ENFORCE;
        r = db_prepare_cached(db, "SELECT EXISTS (SELECT 1 FROM images)", &s);
        if (r < 0)
                return r;
        rc = sqlite3_step(s);
        if (rc != SQLITE_ROW)
                return db_errno(rc);
        return sqlite3_column_int(s, 0) != 0;
}

/* The verified answer, in one write transaction: the verdict's registry part (when logs is set: the logs
 * explained the quote), the challenge consumed, the attestation logged with its verdict, the node's counters;
 * then either a session, or — a verdict that MeasuredBoot= refuses — the node's sessions ended. Judging and
 * recording in one transaction: an image retired or a pin changed meanwhile is seen by the verdict it
 * concerns. 0: accepted, ret_token set; 1: refused by the verdict; -ENOENT if the challenge is gone
 * (answered, replaced or removed meanwhile), -ESTALE if the node was disabled or its resetCount went down
 * meanwhile; nothing is written then. */
static int record_answer(Db *db, const Request *req, const uint8_t *challenge, const Node *n, const char *bank,
                         json_object *pcr_values, const TPMS_ATTEST *attest, const uint8_t quote_sha256[static 32],
                         const VerdictInput *in, const VerdictLogs *logs, Judgement *j,
                         uint8_t ret_token[static PROTO_TOKEN_SIZE]) {
        _cleanup_free_ char *entry = NULL;
        AttestationRecord rec = {
                .node_id = n->id, .fingerprint = n->fingerprint, .verdict = "accepted", .bank = bank,
                .reason = j->reason,
                .pcr_values = json_object_to_json_string_ext(pcr_values, JSON_C_TO_STRING_PLAIN),
                .reset_count = attest->clockInfo.resetCount, .restart_count = attest->clockInfo.restartCount,
                .source = req->source,
        };
        bool refused = false;
        int r;

        r = db_begin(db);
        if (r < 0)
                return r;
        if (logs) {
                r = verdict_judge_registry(db, in, logs, j);
                if (r < 0) {
                        db_rollback(db);
                        return r;
                }
        }
        rec.measured_verdict = proto_verdict_to_string(j->verdict);
        rec.image_id = j->image_id;
        if (j->verdict != PROTO_VERDICT_TRUSTED) {
                r = measured_boot_enforced(db, req->server->config);
                refused = r > 0;
                if (refused)
                        rec.verdict = "rejected";
        }
        if (r >= 0)
                r = consume_challenge(db, challenge);
        if (r == -ESTALE)
                r = -ENOENT;
        if (r >= 0)
                r = record_counters(db, n->id, attest);
        if (r >= 0)
                r = attestation_log(db, &rec);
        if (r >= 0)
                r = verdict_record(db, n->id, j);
        /* The verdict in the transparency log, in the same transaction: none without the other. */
        if (r >= 0)
                r = tlog_entry_verdict(n->fingerprint, j->image, proto_verdict_to_string(j->verdict), quote_sha256,
                                       now_sec(), &entry);
        if (r >= 0)
                r = server_tlog_append(db, TLOG_VERDICT, now_sec(), entry, NULL);
        if (r >= 0)
                r = refused ? end_sessions(db, n->id)
                            : issue_session(db, n->id, req->server->config->session_lifetime_usec, ret_token);
        if (r >= 0)
                r = db_commit(db);
        if (r < 0) {
                db_rollback(db);
                return r;
        }
        return refused;
}

enum MHD_Result api_attest(Request *req) {
        _cleanup_(proto_attest_request_done) ProtoAttestRequest a = {};
        _cleanup_(json_object_putp) json_object *record = NULL;
        _cleanup_(proto_attest_reply_done) ProtoAttestReply reply = {};
        _cleanup_(verdict_logs_done) VerdictLogs logs = {};
        const uint8_t *id = a.challenge;
        uint8_t hash[64], quote_sha256[64];
        TPM2B_DIGEST values[TPM2_PCRS_MAX];
        size_t hsize;
        TPMT_SIGNATURE sig;
        TPMS_ATTEST attest;
        ProtoDiag diag = {};
        Judgement judgement;
        Challenge c;
        unsigned n_values;
        bool secret_ok, still_enabled = false;
        char *body = NULL;
        int bank, judged_logs, r;
        Node n;
        Db *db;

        if (proto_attest_request_decode(req->body, req->size, &a, &diag) < 0)
                return respond_diag(req, &diag);
        if (tpm2_unmarshal_TPMT_SIGNATURE(a.signature.data, a.signature.size, &sig) < 0)
                return respond_error(req, PROTO_ERROR_INVALID_FIELD,
                                     "attestation request: field 'signature' is not a marshalled TPMT_SIGNATURE.");

        db = server_db_lock(req->server);
        r = db_begin_read(db);
        if (r >= 0) {
                r = find_challenge(db, id, &c);
                if (r >= 0)
                        r = node_get(db, c.node_id, &n) < 0 ? -ENXIO : 0;
                (void) db_commit(db);
        }
        server_db_unlock(req->server);
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_CHALLENGE_UNKNOWN,
                                     "No open challenge with this id: it was answered already, replaced, or never issued.");
        if (r == -ENXIO)
                return respond_error(req, PROTO_ERROR_CHALLENGE_UNKNOWN, "The challenge's node is gone.");
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Challenge lookup failed.");

        if (c.expires_at <= (int64_t) now_usec())
                return reject(req, id, &n, PROTO_ERROR_CHALLENGE_EXPIRED, "The challenge expired before it was answered.");
        if (n.state != NODE_ENABLED)
                return reject(req, id, &n, PROTO_ERROR_NODE_DISABLED, "The node is not enabled.");

        r = tpm2_digest(TPM2_ALG_SHA256, a.secret.data, a.secret.size, hash, &hsize);
        secret_ok = r >= 0 && a.secret.size == PROTO_SECRET_SIZE && CRYPTO_memcmp(hash, c.secret_hash, 32) == 0;
        proto_blob_done_erase(&a.secret);
        if (!secret_ok)
                return reject(req, id, &n, PROTO_ERROR_SECRET_MISMATCH,
                              "The secret does not match the credential: this TPM does not hold the enrolled EK and AK.");

        bank = tpm2_hash_alg_from_string(c.bank);
        if (bank < 0 || check_pcr_values(&a, &c, (TPMI_ALG_HASH) bank, values, &n_values, &record) < 0)
                return reject(req, id, &n, PROTO_ERROR_QUOTE_REJECTED, "pcrValues does not list exactly the requested PCRs.");

        r = tpm2_quote_verify(&n.ak_public, a.quoted.data, a.quoted.size, &sig, c.nonce, c.nonce_size, (TPMI_ALG_HASH) bank,
                              c.mask, values, n_values, &attest);
        if (r < 0) {
                char reason[160];
                snprintf(reason, sizeof(reason), "Quote verification failed: %s.", quote_error(r));
                return reject(req, id, &n, PROTO_ERROR_QUOTE_REJECTED, reason);
        }
        /* The TPM's reset and restart counters only grow (until TPM2_Clear). Going back means a replayed
         * or foreign quote. */
        if (n.reset_count >= 0 && (int64_t) attest.clockInfo.resetCount < n.reset_count)
                return reject(req, id, &n, PROTO_ERROR_QUOTE_REJECTED, "The TPM's resetCount went down since the last attestation.");

        /* The quote is the TPM's: now what it says the node booted. Recorded with the attestation; a verdict
         * other than Trusted refuses the node unless MeasuredBoot= says warn (docs/server.md, "Measured boot"). */
        /* What the transparency log's verdict entry names: the quote the TPM signed. */
        if (tpm2_digest(TPM2_ALG_SHA256, a.quoted.data, a.quoted.size, quote_sha256, &hsize) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Hashing the quote failed.");
        VerdictInput in = { .node_id = n.id, .bank = c.bank, .mask = c.mask, .values = a.pcr_values,
                            .n_values = a.n_pcr_values, .firmware_log = a.firmware_log,
                            .userspace_log = a.userspace_log };
        /* The logs' parsing and replay outside the lock: the expensive part of the verdict. */
        judged_logs = verdict_judge_logs(&in, &logs, &judgement);
        if (judged_logs < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Judging the event logs failed.");

        /* One write transaction: the verdict's registry part, the challenge consumed, the verdict logged, the
         * node's counters, the session or the refusal. */
        db = server_db_lock(req->server);
        r = record_answer(db, req, id, &n, c.bank, record, &attest, quote_sha256, &in, judged_logs > 0 ? &logs : NULL,
                          &judgement, reply.token);
        if (r == -ESTALE) {
                Node now;

                /* The node changed while this answer was verified. */
                still_enabled = node_get(db, n.id, &now) >= 0 && now.state == NODE_ENABLED;
        }
        server_db_unlock(req->server);
        if (r == -ENOENT)
                return respond_error(req, PROTO_ERROR_CHALLENGE_UNKNOWN,
                                     "No open challenge with this id: it was answered already, replaced, or never issued.");
        if (r == -ESTALE && still_enabled)
                return reject(req, id, &n, PROTO_ERROR_QUOTE_REJECTED, "The TPM's resetCount went down since the last attestation.");
        if (r == -ESTALE)
                return reject(req, id, &n, PROTO_ERROR_NODE_DISABLED, "The node is not enabled.");
        if (r < 0) {
                log_error_errno(r, "Recording the attestation of node %" PRIi64 " (%s) failed: %m", n.id, n.fingerprint);
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Issuing the session failed.");
        }
        metrics_count_verdict(&req->server->metrics, judgement.verdict, /* refused= */ r > 0);
        char node_field[80], verdict_field[64], image_field[96];
        const char *const fields[] = { node_field, verdict_field, image_field, NULL };
        snprintf(node_field, sizeof(node_field), "PATELA_NODE=%s", n.fingerprint);
        snprintf(verdict_field, sizeof(verdict_field), "PATELA_VERDICT=%s", proto_verdict_to_string(judgement.verdict));
        snprintf(image_field, sizeof(image_field), "PATELA_IMAGE=%s", judgement.image);
        if (r > 0) {
                log_event(LOG_EVENT_NODE_REFUSED, LOG_WARNING, fields, "Attestation of node %" PRIi64 " (%s) from %s refused: %s: %s.",
                          n.id, n.fingerprint, req->source, proto_verdict_to_string(judgement.verdict), judgement.reason);
                return respond_error(req, proto_verdict_error(judgement.verdict), "%s.", judgement.reason);
        }

        if (judgement.verdict != PROTO_VERDICT_TRUSTED)
                log_event(LOG_EVENT_NODE_NOT_TRUSTED, LOG_WARNING, fields,
                          "Node %" PRIi64 " (%s) attested from %s; not refused (MeasuredBoot=warn, or no image "
                          "registered): %s: %s.",
                          n.id, n.fingerprint, req->source, proto_verdict_to_string(judgement.verdict), judgement.reason);
        else
                log_event(LOG_EVENT_NODE_TRUSTED, LOG_INFO, fields, "Node %" PRIi64 " (%s) attested from %s: Trusted, image %s.",
                          n.id, n.fingerprint, req->source, judgement.image);
        reply.expires_in = req->server->config->session_lifetime_usec / 1000000ULL;
        reply.check_in = req->server->config->check_interval_usec / 1000000ULL;
        reply.verdict = judgement.verdict;
        snprintf(reply.reason, sizeof(reply.reason), "%s", judgement.reason);
        if (proto_attest_reply_encode(&reply, &body) < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Encoding the session failed.");
        return respond_body(req, MHD_HTTP_OK, body);
}
