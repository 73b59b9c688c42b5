/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/log/…: the transparency log for monitors, witnesses and nodes (docs/transparency.md). Public, as a
 * transparency log is: what it holds — image digests, node fingerprints, verdicts — is what the fleet wants
 * anyone to be able to check. Every answer reads the log in one read transaction. */
#include <inttypes.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "protocol-json.h"
#include "server-api.h"
#include "server-tlog.h"
#include "string-util.h"

/* A query argument as a number within 0 … max: -EINVAL names it for the error reply. */
static int query_number(Request *req, const char *name, uint64_t max, bool required, uint64_t *ret) {
        const char *v = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, name);
        unsigned long long n;

        if (!v)
                return required ? -EINVAL : 0;
        if (strlen(v) > 20 || safe_atou64(v, max, &n) < 0)
                return -EINVAL;
        *ret = n;
        return 1;
}

typedef struct LogRead {
        ProtoEndpoint endpoint;
        uint64_t a, b;          /* entries: start, count; inclusion: index, size; consistency: size1, size2 */
        const char *authenticode; /* registration */
        uint64_t size;
        TlogHash root;
        ProtoLogInclusion inclusion;
        ProtoLogConsistency consistency;
        ProtoLogRegistration registration;
        json_object *entries;
} LogRead;

static void log_read_done(LogRead *l) {
        proto_log_registration_done(&l->registration);
}

static int log_read(Db *db, LogRead *l) {
        int r;

        r = server_tlog_size(db, &l->size);
        if (r < 0)
                return r;
        switch (l->endpoint) {
        case PROTO_LOG_CHECKPOINT:
                return l->size == 0 ? -ENODATA : server_tlog_root(db, l->size, &l->root);
        case PROTO_LOG_ENTRIES:
                l->entries = json_object_new_array();
                if (!l->entries)
                        return -ENOMEM;
                for (uint64_t i = l->a; i < l->size && i < l->a + l->b; i++) {
                        _cleanup_free_ char *text = NULL;
                        json_object *e;

                        r = server_tlog_entry(db, i, &text, NULL, NULL);
                        if (r < 0)
                                return r;
                        e = json_object_new_object();
                        if (!e)
                                return -ENOMEM;
                        json_object_object_add(e, "index", json_object_new_int64((int64_t) i));
                        json_object_object_add(e, "entry", json_object_new_string(text));
                        json_object_array_add(l->entries, e);
                }
                return 0;
        case PROTO_LOG_INCLUSION: {
                ProtoLogInclusion *p = &l->inclusion;

                if (l->b > l->size || l->a >= l->b)
                        return -ERANGE;
                *p = (ProtoLogInclusion) { .index = l->a, .size = l->b };
                r = server_tlog_root(db, p->size, &p->root);
                return r < 0 ? r : server_tlog_prove_inclusion(db, p->index, p->size, p->proof, &p->n);
        }
        case PROTO_LOG_CONSISTENCY: {
                ProtoLogConsistency *p = &l->consistency;

                if (l->b > l->size || l->a == 0 || l->a > l->b)
                        return -ERANGE;
                *p = (ProtoLogConsistency) { .size1 = l->a, .size2 = l->b };
                r = server_tlog_root(db, p->size1, &p->root1);
                if (r >= 0)
                        r = server_tlog_root(db, p->size2, &p->root2);
                return r < 0 ? r : server_tlog_prove_consistency(db, p->size1, p->size2, p->proof, &p->n);
        }
        case PROTO_LOG_REGISTRATION:
                r = server_tlog_find_registration(db, l->authenticode, l->size, &l->registration.index,
                                                  &l->registration.entry);
                return r == -ENOENT ? -ENODATA : r;
        default:
                return -EINVAL;
        }
}

enum MHD_Result api_log(Request *req, ProtoEndpoint e) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(log_read_done) LogRead l = { .endpoint = e };
        char *body = NULL;
        Db *db;
        int r;

        switch (e) {
        case PROTO_LOG_CHECKPOINT:
                if (!req->server->log_key.has_seed)
                        return respond_error(req, PROTO_ERROR_NOT_FOUND,
                                             "This server signs no checkpoints: LogKey= is not set.");
                break;
        case PROTO_LOG_ENTRIES:
                if (query_number(req, "start", TLOG_SIZE_MAX, true, &l.a) < 0 ||
                    query_number(req, "count", PROTO_LOG_ENTRIES_MAX, false, &l.b) < 0)
                        return respond_error(req, PROTO_ERROR_INVALID_FIELD,
                                             "?start=N is required, ?count= is 1…%u.", PROTO_LOG_ENTRIES_MAX);
                if (l.b == 0)
                        l.b = PROTO_LOG_ENTRIES_MAX;
                break;
        case PROTO_LOG_INCLUSION:
                if (query_number(req, "index", TLOG_SIZE_MAX, true, &l.a) < 0 ||
                    query_number(req, "size", TLOG_SIZE_MAX, true, &l.b) < 0)
                        return respond_error(req, PROTO_ERROR_INVALID_FIELD, "?index=I&size=N are required numbers.");
                break;
        case PROTO_LOG_REGISTRATION:
                l.authenticode = MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, "authenticode");
                if (!proto_authenticode_ok(l.authenticode))
                        return respond_error(req, PROTO_ERROR_INVALID_FIELD,
                                             "?authenticode= is the UKI's Authenticode SHA-256, 64 lower-case hex digits.");
                break;
        case PROTO_LOG_CONSISTENCY:
                if (query_number(req, "size1", TLOG_SIZE_MAX, true, &l.a) < 0 ||
                    query_number(req, "size2", TLOG_SIZE_MAX, true, &l.b) < 0)
                        return respond_error(req, PROTO_ERROR_INVALID_FIELD,
                                             "?size1=M&size2=N are required numbers.");
                break;
        default:
                return respond_error(req, PROTO_ERROR_NOT_FOUND, "No such endpoint.");
        }

        db = server_db_lock(req->server);
        r = db_begin_read(db);
        if (r >= 0) {
                r = log_read(db, &l);
                (void) db_commit(db);
        }
        server_db_unlock(req->server);
        o = l.entries; /* freed with o from here on */
        if (r == -ENODATA)
                return respond_error(req, PROTO_ERROR_NOT_FOUND,
                                     e == PROTO_LOG_REGISTRATION ? "The log registered no image with this UKI."
                                                                 : "The log is empty.");
        if (r == -ERANGE)
                return respond_error(req, PROTO_ERROR_NOT_FOUND,
                                     "Beyond the log (%" PRIu64 " entries), or sizes out of order.", l.size);
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Reading the log failed.");

        if (e == PROTO_LOG_CHECKPOINT) {
                _cleanup_free_ char *text = NULL, *note = NULL;

                /* Signed per request: an Ed25519 signature is cheaper than keeping signed heads in sync. */
                if (tlog_checkpoint_format(req->server->log_key.name, l.size, &l.root, &text) < 0 ||
                    tlog_note_sign(&req->server->log_key, text, &note) < 0)
                        return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Signing the checkpoint failed.");
                return respond_text(req, MHD_HTTP_OK, note);
        }

        switch (e) {
        case PROTO_LOG_ENTRIES: {
                json_object *reply = json_object_new_object();
                if (!reply)
                        return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Out of memory.");
                json_object_object_add(reply, "size", json_object_new_int64((int64_t) l.size));
                json_object_object_add(reply, "entries", json_object_get(l.entries));
                r = proto_json_format(reply, /* sensitive= */ false, &body);
                break;
        }
        case PROTO_LOG_INCLUSION:
                r = proto_log_inclusion_encode(&l.inclusion, &body);
                break;
        case PROTO_LOG_CONSISTENCY:
                r = proto_log_consistency_encode(&l.consistency, &body);
                break;
        default:
                r = proto_log_registration_encode(&l.registration, &body);
                break;
        }
        if (r < 0)
                return respond_error(req, PROTO_ERROR_INTERNAL_ERROR, "Encoding failed.");
        return respond_body(req, MHD_HTTP_OK, body);
}
