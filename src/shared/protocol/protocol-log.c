/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /v1/log/registration, /v1/log/inclusion, /v1/log/consistency: what a node reads of the transparency log to
 * prove its own image's registration (patelactl log verify). Public values only: nothing here is wiped. A node
 * trusts none of it as such: it checks the proofs against a checkpoint signed by the pinned key. */
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "protocol-json.h"
#include "string-util.h"

bool proto_authenticode_ok(const char *s) {
        return s && strnlen(s, 65) == 64 && in_charset(s, "0123456789abcdef");
}

void proto_log_registration_done(ProtoLogRegistration *r) {
        free(r->entry);
        r->entry = NULL;
}

/* An entry: printable ASCII and newlines, ending in one (the log writes nothing else). */
static bool entry_ok(const char *e) {
        size_t n = e ? strnlen(e, PROTO_LOG_ENTRY_MAX + 1) : 0;

        if (n == 0 || n > PROTO_LOG_ENTRY_MAX || e[n - 1] != '\n')
                return false;
        for (const char *p = e; *p; p++)
                if ((*p < ' ' && *p != '\n') || *p >= 0x7f)
                        return false;
        return true;
}

int proto_log_registration_encode(const ProtoLogRegistration *r, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (!entry_ok(r->entry) || r->index >= TLOG_SIZE_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "index", json_object_new_int64((int64_t) r->index));
        if (k >= 0)
                k = proto_json_add(o, "entry", json_object_new_string(r->entry));
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

/* A number of the log: 0 … max − 1. */
static int decode_number(json_object *v, const char *what, const char *field, uint64_t max, uint64_t *ret,
                         ProtoDiag *diag) {
        int64_t n = json_object_get_int64(v);

        /* json-c saturates what does not fit at INT64_MAX: that value could be any larger number, refused. */
        if (n < 0 || n == INT64_MAX || (uint64_t) n >= max)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: '%s' is out of range", what, field);
        *ret = (uint64_t) n;
        return 0;
}

int proto_log_registration_decode(const char *body, size_t size, ProtoLogRegistration *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "index", json_type_int, PROTO_REQUIRED },
                { "entry", json_type_string, PROTO_REQUIRED },
        };
        static const char what[] = "log registration";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        const char *entry;
        uint64_t index = 0;
        int k;

        k = proto_json_decode(body, size, PROTO_LOG_ENTRY_MAX * 2, /* sensitive= */ false, what, fields,
                              ELEMENTSOF(fields), &o, v, diag);
        if (k < 0)
                return k;
        k = decode_number(v[0], what, "index", TLOG_SIZE_MAX, &index, diag);
        if (k < 0)
                return k;
        k = proto_string(v[1], what, "entry", PROTO_LOG_ENTRY_MAX, &entry, diag);
        if (k < 0)
                return k;
        if (!entry_ok(entry))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "entry",
                                  "%s: 'entry' is not a log entry (printable ASCII lines)", what);
        *ret = (ProtoLogRegistration) { .index = index, .entry = strdup(entry) };
        return ret->entry ? 0 : -ENOMEM;
}

static int add_hash(json_object *o, const char *key, const TlogHash *h) {
        return proto_json_add(o, key, proto_json_base64(h->bytes, TLOG_HASH_SIZE));
}

static int add_proof(json_object *o, const TlogHash *proof, size_t n) {
        json_object *a = json_object_new_array_ext((int) n);
        int k = proto_json_add(o, "proof", a);

        for (size_t i = 0; k >= 0 && i < n; i++)
                if (!proto_json_append(a, proto_json_base64(proof[i].bytes, TLOG_HASH_SIZE)))
                        k = -ENOMEM;
        return k;
}

static int decode_hash(json_object *v, const char *what, const char *field, TlogHash *ret, ProtoDiag *diag) {
        const char *s;
        int k;

        k = proto_string(v, what, field, 64, &s, NULL);
        if (k == -ENOMEM)
                return k;
        if (k < 0 || tlog_hash_parse(s, ret) < 0)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: '%s' is not base64 of %u bytes", what,
                                  field, TLOG_HASH_SIZE);
        return 0;
}

static int decode_proof(json_object *a, const char *what, TlogHash ret[static TLOG_PROOF_MAX], size_t *ret_n,
                        ProtoDiag *diag) {
        size_t n = json_object_array_length(a);
        int k;

        if (n > TLOG_PROOF_MAX)
                return proto_fail_too_large(diag, "proof", "%s: more than %u hashes", what, TLOG_PROOF_MAX);
        for (size_t i = 0; i < n; i++) {
                k = decode_hash(json_object_array_get_idx(a, i), what, "proof", &ret[i], diag);
                if (k < 0)
                        return k;
        }
        *ret_n = n;
        return 0;
}

/* A proof's reply is small: TLOG_PROOF_MAX hashes of 44 base64 characters and the rest. */
#define PROOF_REPLY_MAX (TLOG_PROOF_MAX * 48U + 512U)

int proto_log_inclusion_encode(const ProtoLogInclusion *p, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (p->index >= p->size || p->size > TLOG_SIZE_MAX || p->n > TLOG_PROOF_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "index", json_object_new_int64((int64_t) p->index));
        if (k >= 0)
                k = proto_json_add(o, "size", json_object_new_int64((int64_t) p->size));
        if (k >= 0)
                k = add_hash(o, "root", &p->root);
        if (k >= 0)
                k = add_proof(o, p->proof, p->n);
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_log_inclusion_decode(const char *body, size_t size, ProtoLogInclusion *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "index", json_type_int, PROTO_REQUIRED },
                { "size", json_type_int, PROTO_REQUIRED },
                { "root", json_type_string, PROTO_REQUIRED },
                { "proof", json_type_array, PROTO_REQUIRED },
        };
        static const char what[] = "inclusion proof";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        ProtoLogInclusion p = {};
        int k;

        k = proto_json_decode(body, size, PROOF_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields),
                              &o, v, diag);
        if (k >= 0)
                k = decode_number(v[1], what, "size", TLOG_SIZE_MAX + 1, &p.size, diag);
        if (k >= 0)
                k = decode_number(v[0], what, "index", p.size, &p.index, diag);
        if (k >= 0)
                k = decode_hash(v[2], what, "root", &p.root, diag);
        if (k >= 0)
                k = decode_proof(v[3], what, p.proof, &p.n, diag);
        if (k < 0)
                return k;
        *ret = p;
        return 0;
}

int proto_log_consistency_encode(const ProtoLogConsistency *p, char **ret) {
        json_object *o = json_object_new_object();
        int k = o ? 0 : -ENOMEM;

        if (p->size1 == 0 || p->size1 > p->size2 || p->size2 > TLOG_SIZE_MAX || p->n > TLOG_PROOF_MAX)
                k = -EINVAL;
        if (k >= 0)
                k = proto_json_add(o, "size1", json_object_new_int64((int64_t) p->size1));
        if (k >= 0)
                k = proto_json_add(o, "size2", json_object_new_int64((int64_t) p->size2));
        if (k >= 0)
                k = add_hash(o, "root1", &p->root1);
        if (k >= 0)
                k = add_hash(o, "root2", &p->root2);
        if (k >= 0)
                k = add_proof(o, p->proof, p->n);
        return proto_json_finish(o, k, /* sensitive= */ false, ret);
}

int proto_log_consistency_decode(const char *body, size_t size, ProtoLogConsistency *ret, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "size1", json_type_int, PROTO_REQUIRED },
                { "size2", json_type_int, PROTO_REQUIRED },
                { "root1", json_type_string, PROTO_REQUIRED },
                { "root2", json_type_string, PROTO_REQUIRED },
                { "proof", json_type_array, PROTO_REQUIRED },
        };
        static const char what[] = "consistency proof";
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        ProtoLogConsistency p = {};
        int k;

        k = proto_json_decode(body, size, PROOF_REPLY_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields),
                              &o, v, diag);
        if (k >= 0)
                k = decode_number(v[1], what, "size2", TLOG_SIZE_MAX + 1, &p.size2, diag);
        if (k >= 0)
                k = decode_number(v[0], what, "size1", p.size2 + 1, &p.size1, diag);
        if (k >= 0 && p.size1 == 0)
                k = proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "size1", "%s: 'size1' is 0", what);
        if (k >= 0)
                k = decode_hash(v[2], what, "root1", &p.root1, diag);
        if (k >= 0)
                k = decode_hash(v[3], what, "root2", &p.root2, diag);
        if (k >= 0)
                k = decode_proof(v[4], what, p.proof, &p.n, diag);
        if (k < 0)
                return k;
        *ret = p;
        return 0;
}
