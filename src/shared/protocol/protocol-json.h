/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The protocol's JSON layer on json-c, private to src/shared/protocol. */

#include <json-c/json.h>

#include "json-strict.h"
#include "protocol.h"

/* Fills diag (which may be NULL) and returns -EBADMSG, or -E2BIG when diag->too_large is set. */
int proto_fail(ProtoDiag *diag, ProtoErrorCode code, const char *field, const char *format, ...) _printf_(4, 5);
int proto_fail_too_large(ProtoDiag *diag, const char *field, const char *format, ...) _printf_(3, 4);

/* One JSON object of at most max bytes: ASCII without NUL, strict JSON, depth ≤ PROTO_JSON_DEPTH_MAX,
 * no duplicate key anywhere, nothing but whitespace after it (json_parse_one(), json_unique_keys()). sensitive:
 * json-c's scratch buffer is wiped (its strings are wiped by json_put_erase()). */
int proto_json_parse(const char *body, size_t size, size_t max, bool sensitive, const char *what, json_object **ret,
                     ProtoDiag *diag);


#define PROTO_REQUIRED (1U << 0)
#define PROTO_NULLABLE (1U << 1) /* null is the field's absence */

typedef struct ProtoField {
        const char *name;
        json_type type;
        unsigned flags;
} ProtoField;

/* Looks up an object's fields as declared: ret[i] is the value of fields[i] (NULL if absent or null). Refuses
 * a field not declared, a required field absent (or null when not NULLABLE), a value of another type. */
/* proto_json_parse() and proto_fields() in one: the body as one object with exactly these fields. */
int proto_json_decode(const char *body, size_t size, size_t max, bool sensitive, const char *what,
                      const ProtoField *fields, size_t n, json_object **ret, json_object **v, ProtoDiag *diag);

/* The relay reports' body, {relays: [...]} and nothing else: the array and its length, min_relays to
 * PROTO_RELAYS_MAX, counted before any element is decoded (the array is what grows; more is E2BIG, 413). */
int proto_relays_body(const char *body, size_t size, size_t min_relays, const char *what, json_object **ret_o,
                      json_object **ret_relays, size_t *ret_n, ProtoDiag *diag);
/* name is not among names[0..n): -EBADMSG naming it otherwise. */
int proto_relay_unique(const char *name, const char *const *names, size_t n, const char *what, ProtoDiag *diag);
int proto_fields(json_object *o, const char *what, const ProtoField *fields, size_t n, json_object **ret,
                 ProtoDiag *diag);

/* A string of at most max bytes without NUL. *ret points into v. */
int proto_string(json_object *v, const char *what, const char *field, size_t max, const char **ret, ProtoDiag *diag);
/* A copy of an optional string field (NULL stays NULL). */
int proto_string_dup(json_object *v, const char *what, const char *field, size_t max, char **ret, ProtoDiag *diag);
/* Base64 decoding to min…max bytes; the length is checked before anything is decoded. */
int proto_base64(json_object *v, const char *what, const char *field, size_t min, size_t max, ProtoBlob *ret,
                 ProtoDiag *diag);
/* Hex of exactly size bytes (lower or upper case). */
int proto_hex(json_object *v, const char *what, const char *field, size_t size, uint8_t *ret, ProtoDiag *diag);

/* Serialises (compact, "/" unescaped) into a string of the caller's. sensitive: json-c's copy is wiped and
 * the tree's strings too. Drops the reference to o in all cases. */
int proto_json_format(json_object *o, bool sensitive, char **ret);

/* An encoder's end: k < 0 (an OOM while building o) drops o and returns k; otherwise proto_json_format(). */
int proto_json_finish(json_object *o, int k, bool sensitive, char **ret);

/* json_object_new_string() of base64 / hex of data; NULL on OOM. */
json_object *proto_json_base64(const void *p, size_t size);
json_object *proto_json_hex(const void *p, size_t size);
/* Adds key → value to o; refuses a NULL value (OOM on the way) with -ENOMEM. */
int proto_json_add(json_object *o, const char *key, json_object *value);
/* Appends value to the array a and returns it, or NULL on OOM (value, if any, dropped): the arrays' counterpart. */
json_object *proto_json_append(json_object *a, json_object *value);

/* POST /v1/attest's decoders, each on its own (proto_attest_request_decode() is the first, else the second): for the
 * tests and the fuzzer, which compare them. The fast one: 1 decoded, 0 not taken (nothing written), -ENOMEM. */
int proto_attest_request_decode_fast(const char *body, size_t size, ProtoAttestRequest *ret);
int proto_attest_request_decode_json(const char *body, size_t size, ProtoAttestRequest *ret, ProtoDiag *diag);
/* Two decoded requests are the same request (every field, the secret's bytes included). */
bool proto_attest_request_equal(const ProtoAttestRequest *a, const ProtoAttestRequest *b);

/* Requests read in place: the scanner of the fast paths that decode the requests of every authentication and relay
 * report without json-c's objects. Each takes what both ends write and nothing the json-c decoder refuses; anything
 * else (a false, a 0) sends the request to the json-c decoder, which decides. */
typedef struct ProtoScan {
        const char *p, *end;
} ProtoScan;
typedef struct ProtoSlice {
        const char *p;
        size_t n;
} ProtoSlice;
void proto_scan_ws(ProtoScan *s);              /* JSON's whitespace */
bool proto_scan_char(ProtoScan *s, char c);    /* after whitespace */
/* A string of printable ASCII without escapes (an escape, a control byte or one past ASCII: false): its text. */
bool proto_scan_string(ProtoScan *s, ProtoSlice *ret);
bool proto_scan_null(ProtoScan *s);
/* A non-negative integer of 1 to max_digits (≤ 18) decimal digits, no sign, fraction, exponent or leading zero. */
bool proto_scan_u64(ProtoScan *s, unsigned max_digits, uint64_t *ret);
bool proto_slice_is(ProtoSlice k, const char *name);
/* The slice as a C string in scratch, which has room for it and its NUL. */
const char *proto_slice_str(ProtoSlice v, char *scratch);

/* A reply written directly, as json-c writes it (JSON_C_TO_STRING_PLAIN, NOSLASHESCAPE): keys in the order written,
 * no whitespace. For the replies of every authentication, where json-c's objects cost more than the reply is worth.
 * A string that json-c would escape is not written: the writer fails with -EDOM, and the caller writes the reply
 * with json-c instead. The buffer is wiped when it grows or fails (a reply may hold a token). */
typedef struct ProtoWriter {
        char *buf;
        size_t size, allocated;
        int error;
} ProtoWriter;
void proto_writer_raw(ProtoWriter *w, const char *s);
void proto_writer_raw_n(ProtoWriter *w, const char *s, size_t n);
void proto_writer_key(ProtoWriter *w, const char *key); /* with the comma before it when needed */
void proto_writer_string(ProtoWriter *w, const char *s);
void proto_writer_int(ProtoWriter *w, int64_t v);
void proto_writer_base64(ProtoWriter *w, const void *p, size_t size);
void proto_writer_hex(ProtoWriter *w, const void *p, size_t size);
/* The reply (*ret, the caller's to free; erase it if it holds a secret), or the first error: -ENOMEM, -EDOM. */
int proto_writer_finish(ProtoWriter *w, char **ret);

/* The replies each encoder writes with json-c, for the tests that compare them with the direct ones. */
int proto_enroll_reply_encode_json(const ProtoEnrollReply *r, char **ret);
int proto_attest_reply_encode_json(const ProtoAttestReply *r, char **ret);

/* POST /v1/node/relay-metrics's decoders, each on its own, and the reply as json-c writes it: for the tests and the
 * fuzzer, which compare them (as the attestation request's). */
int proto_relay_metrics_request_decode_fast(const char *body, size_t size, ProtoRelayMetricsRequest *ret);
int proto_relay_metrics_request_decode_json(const char *body, size_t size, ProtoRelayMetricsRequest *ret,
                                            ProtoDiag *diag);
int proto_relay_metrics_reply_encode_json(const ProtoRelayMetricsReply *r, char **ret);
bool proto_relay_metrics_request_equal(const ProtoRelayMetricsRequest *a, const ProtoRelayMetricsRequest *b);
