/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "protocol-json.h"

static _printf_(4, 0) void vfill(ProtoDiag *diag, ProtoErrorCode code, const char *field, const char *format, va_list ap) {
        if (!diag)
                return;
        diag->code = code;
        snprintf(diag->field, sizeof(diag->field), "%s", field ?: "");
        vsnprintf(diag->message, sizeof(diag->message), format, ap);
}

int proto_fail(ProtoDiag *diag, ProtoErrorCode code, const char *field, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfill(diag, code, field, format, ap);
        va_end(ap);
        if (diag)
                diag->too_large = false;
        return -EBADMSG;
}

int proto_fail_too_large(ProtoDiag *diag, const char *field, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        vfill(diag, PROTO_ERROR_INVALID_FIELD, field, format, ap);
        va_end(ap);
        if (diag)
                diag->too_large = true;
        return -E2BIG;
}

int proto_json_parse(const char *body, size_t size, size_t max, bool sensitive, const char *what, json_object **ret,
                     ProtoDiag *diag) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        char key[32];
        int r;

        if (!body || size == 0)
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL, "%s: empty body", what);
        if (size > max || size > INT32_MAX)
                return proto_fail_too_large(diag, NULL, "%s: body larger than %zu bytes", what, max);
        /* The wire is ASCII (docs/protocol.md): one pass over the body, without a branch per byte, instead of
         * json-c's UTF-8 validation (a third of its parse of an attestation). json-c's strict mode refuses
         * raw non-ASCII inside strings anyway, but not inside keys. */
        uint8_t high = 0;
        bool nul = false;
        for (size_t i = 0; i < size; i++) {
                high |= (uint8_t) body[i];
                nul |= body[i] == '\0';
        }
        if (nul)
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL, "%s: body contains a NUL byte", what);
        if (high & 0x80)
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL,
                                  "%s: body contains a byte beyond ASCII (write \\u escapes)", what);

        r = json_parse_one(body, size, PROTO_JSON_DEPTH_MAX, /* allow_utf8= */ false, sensitive, &o);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL,
                                  "%s: not JSON, or more than one JSON value", what);
        if (!json_object_is_type(o, json_type_object))
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL, "%s: not a JSON object", what);
        r = json_unique_keys(o, body, size, key, sizeof(key));
        if (r == -EBADMSG)
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL, "%s: not JSON (a single-quoted string)", what);
        if (r < 0)
                return r;
        if (r == 0) {
                if (sensitive)
                        json_put_erase(TAKE_PTR(o));
                return proto_fail(diag, PROTO_ERROR_MALFORMED_JSON, NULL, "%s: duplicate field '%s'", what, key);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

int proto_fields(json_object *o, const char *what, const ProtoField *fields, size_t n, json_object **ret,
                 ProtoDiag *diag) {
        if (!json_object_is_type(o, json_type_object))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, NULL, "%s: not a JSON object", what);

        json_object_object_foreach(o, key, value) {
                bool known = false;
                (void) value;
                for (size_t i = 0; i < n && !known; i++)
                        known = streq(fields[i].name, key);
                if (!known)
                        return proto_fail(diag, PROTO_ERROR_UNKNOWN_FIELD, key, "%s: unknown field '%.31s'", what, key);
        }
        for (size_t i = 0; i < n; i++) {
                json_object *v = NULL;
                bool present = json_object_object_get_ex(o, fields[i].name, &v);

                ret[i] = NULL;
                if (!present || (json_object_is_type(v, json_type_null) && (fields[i].flags & PROTO_NULLABLE))) {
                        if (!present && (fields[i].flags & PROTO_REQUIRED))
                                return proto_fail(diag, PROTO_ERROR_MISSING_FIELD, fields[i].name,
                                                  "%s: missing field '%s'", what, fields[i].name);
                        continue;
                }
                if (!json_object_is_type(v, fields[i].type))
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, fields[i].name,
                                          "%s: field '%s' has the wrong type", what, fields[i].name);
                ret[i] = v;
        }
        return 0;
}

int proto_string(json_object *v, const char *what, const char *field, size_t max, const char **ret, ProtoDiag *diag) {
        size_t n;

        if (!json_object_is_type(v, json_type_string))
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: field '%s' has the wrong type", what,
                                  field);
        n = (size_t) json_object_get_string_len(v);
        if (n > max)
                return proto_fail_too_large(diag, field, "%s: field '%s' is longer than %zu bytes", what, field, max);
        if (strlen(json_object_get_string(v)) != n)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: field '%s' contains a NUL byte", what,
                                  field);
        *ret = json_object_get_string(v);
        return 0;
}

int proto_string_dup(json_object *v, const char *what, const char *field, size_t max, char **ret, ProtoDiag *diag) {
        const char *s;
        int r;

        if (!v) {
                *ret = NULL;
                return 0;
        }
        r = proto_string(v, what, field, max, &s, diag);
        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int proto_base64(json_object *v, const char *what, const char *field, size_t min, size_t max, ProtoBlob *ret,
                 ProtoDiag *diag) {
        void *data = NULL;
        const char *s;
        size_t n = 0;
        int r;

        /* Base64 is 4/3 of the data: the encoded length is checked before anything is decoded. */
        r = proto_string(v, what, field, (max + 2) / 3 * 4, &s, diag);
        if (r < 0)
                return r;
        r = unbase64mem(s, max, &data, &n);
        if (r == -ENOMEM)
                return r;
        if (r == -E2BIG)
                return proto_fail_too_large(diag, field, "%s: field '%s' holds more than %zu bytes", what, field, max);
        if (r < 0 || n < min || n > max) {
                if (data)
                        erase_and_free_sized(data, n);
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field,
                                  "%s: field '%s' is not base64 of %zu to %zu bytes", what, field, min, max);
        }
        *ret = (ProtoBlob) { .data = data, .size = n };
        return 0;
}

int proto_hex(json_object *v, const char *what, const char *field, size_t size, uint8_t *ret, ProtoDiag *diag) {
        _cleanup_free_ void *buf = NULL;
        const char *s;
        size_t n = 0;
        int r;

        r = proto_string(v, what, field, size * 2, &s, diag);
        if (r == -E2BIG)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: field '%s' is not %zu bytes of hex",
                                  what, field, size);
        if (r < 0)
                return r;
        r = unhexmem(s, size, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || n != size)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, field, "%s: field '%s' is not %zu bytes of hex",
                                  what, field, size);
        memcpy(ret, buf, size);
        return 0;
}

/* The protocol's JSON is ASCII: json-c's strict parser, which both ends use, refuses any byte above 0x7f in a
 * string ("invalid string sequence"), so every other character travels as a \\u escape (a surrogate pair
 * above U+FFFF), which it decodes back to UTF-8. json-c writes non-ASCII characters as they are, and only inside
 * strings. -EINVAL for a byte sequence that is not UTF-8 (no string of ours holds one). */
static int json_ascii(const char *s, size_t n, char **ret) {
        static const char hex[] = "0123456789abcdef";
        char *out = malloc(n * 6 + 1), *w = out; /* a byte becomes at most 6 characters */

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n;) {
                const unsigned char *p = (const unsigned char *) s + i;
                unsigned len = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                             : p[0] >= 0xf0 && p[0] <= 0xf4                 ? 4
                                                                              : 0;
                uint32_t cp;

                if (len == 0 || i + len > n)
                        goto invalid;
                if (len == 1) {
                        *w++ = (char) p[0];
                        i++;
                        continue;
                }
                cp = p[0] & (0x7f >> len);
                for (unsigned k = 1; k < len; k++) {
                        if ((p[k] & 0xc0) != 0x80)
                                goto invalid;
                        cp = (cp << 6) | (p[k] & 0x3f);
                }
                /* overlong forms, surrogates, beyond Unicode */
                if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
                    cp > 0x10ffff)
                        goto invalid;
                for (int half = cp >= 0x10000 ? 2 : 1; half > 0; half--) {
                        uint32_t u = cp < 0x10000 ? cp : half == 2 ? 0xd800 + ((cp - 0x10000) >> 10)
                                                                   : 0xdc00 + ((cp - 0x10000) & 0x3ff);
                        *w++ = '\\';
                        *w++ = 'u';
                        for (int shift = 12; shift >= 0; shift -= 4)
                                *w++ = hex[(u >> shift) & 0xf];
                }
                i += len;
        }
        *w = '\0';
        *ret = out;
        return 0;
invalid:
        explicit_bzero(out, n * 6 + 1);
        free(out);
        return -EINVAL;
}

int proto_json_format(json_object *o, bool sensitive, char **ret) {
        const char *s;
        size_t n = 0;
        char *copy = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        r = s ? json_ascii(s, n, &copy) : -ENOMEM;
        if (sensitive) {
                /* The serialisation lives in the object's own buffer until it is freed. */
                if (s)
                        explicit_bzero((char *) s, n);
                json_put_erase(o);
        } else
                json_object_put(o);
        if (r < 0)
                return r;
        *ret = copy;
        return 0;
}

int proto_json_finish(json_object *o, int k, bool sensitive, char **ret) {
        if (k >= 0)
                return proto_json_format(o, sensitive, ret);
        if (sensitive)
                json_put_erase(o);
        else
                json_object_put(o);
        return k;
}

json_object *proto_json_base64(const void *p, size_t size) {
        _cleanup_free_ char *s = base64mem(p, size);
        json_object *o = s ? json_object_new_string(s) : NULL;

        if (s)
                explicit_bzero(s, strlen(s));
        return o;
}

json_object *proto_json_hex(const void *p, size_t size) {
        _cleanup_free_ char *s = hexmem(p, size);
        return s ? json_object_new_string(s) : NULL;
}

int proto_json_add(json_object *o, const char *key, json_object *value) {
        if (!value)
                return -ENOMEM;
        if (json_object_object_add(o, key, value) < 0) {
                json_object_put(value);
                return -ENOMEM;
        }
        return 0;
}

json_object *proto_json_append(json_object *a, json_object *value) {
        if (!value)
                return NULL;
        if (json_object_array_add(a, value) < 0) {
                json_object_put(value);
                return NULL;
        }
        return value;
}

int proto_json_decode(const char *body, size_t size, size_t max, bool sensitive, const char *what,
                      const ProtoField *fields, size_t n, json_object **ret, json_object **v, ProtoDiag *diag) {
        int k = proto_json_parse(body, size, max, sensitive, what, ret, diag);

        return k < 0 ? k : proto_fields(*ret, what, fields, n, v, diag);
}

int proto_relays_body(const char *body, size_t size, size_t min_relays, const char *what, json_object **ret_o,
                      json_object **ret_relays, size_t *ret_n, ProtoDiag *diag) {
        static const ProtoField fields[] = {
                { "relays", json_type_array, PROTO_REQUIRED },
        };
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *v[ELEMENTSOF(fields)];
        size_t n;
        int k;

        k = proto_json_decode(body, size, SIZE_MAX, /* sensitive= */ false, what, fields, ELEMENTSOF(fields), &o, v,
                              diag);
        if (k < 0)
                return k;
        n = json_object_array_length(v[0]);
        if (n < min_relays)
                return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "relays", "%s: no relays", what);
        if (n > PROTO_RELAYS_MAX)
                return proto_fail_too_large(diag, "relays", "%s: more than %u relays", what, PROTO_RELAYS_MAX);
        *ret_relays = v[0];
        *ret_n = n;
        *ret_o = TAKE_PTR(o);
        return 0;
}

int proto_relay_unique(const char *name, const char *const *names, size_t n, const char *what, ProtoDiag *diag) {
        for (size_t j = 0; j < n; j++)
                if (streq(names[j], name))
                        return proto_fail(diag, PROTO_ERROR_INVALID_FIELD, "relays", "%s: relay %s listed twice", what,
                                          name);
        return 0;
}

/* ---- requests read in place ---------------------------------------------------------------------------------------- */

void proto_scan_ws(ProtoScan *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

bool proto_scan_char(ProtoScan *s, char c) {
        proto_scan_ws(s);
        if (s->p >= s->end || *s->p != c)
                return false;
        s->p++;
        return true;
}

bool proto_scan_string(ProtoScan *s, ProtoSlice *ret) {
        const char *start;

        if (!proto_scan_char(s, '"'))
                return false;
        start = s->p;
        while (s->p < s->end && *s->p != '"') {
                unsigned char c = (unsigned char) *s->p;

                if (c < 0x20 || c > 0x7e || c == '\\')
                        return false;
                s->p++;
        }
        if (s->p >= s->end)
                return false;
        *ret = (ProtoSlice) { start, (size_t) (s->p - start) };
        s->p++;
        return true;
}

bool proto_scan_null(ProtoScan *s) {
        proto_scan_ws(s);
        if (s->end - s->p < 4 || memcmp(s->p, "null", 4) != 0)
                return false;
        s->p += 4;
        return true;
}

bool proto_scan_u64(ProtoScan *s, unsigned max_digits, uint64_t *ret) {
        const char *start;
        uint64_t v = 0;
        unsigned n = 0;

        assert(max_digits >= 1 && max_digits <= 18);
        proto_scan_ws(s);
        start = s->p;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9' && n <= max_digits) {
                v = v * 10 + (uint64_t) (*s->p - '0');
                s->p++;
                n++;
        }
        if (n == 0 || n > max_digits || (n > 1 && *start == '0'))
                return false;
        *ret = v;
        return true;
}

bool proto_slice_is(ProtoSlice k, const char *name) {
        return k.n == strlen(name) && memcmp(k.p, name, k.n) == 0;
}

const char *proto_slice_str(ProtoSlice v, char *scratch) {
        memcpy(scratch, v.p, v.n);
        scratch[v.n] = '\0';
        return scratch;
}

/* ---- replies written directly ------------------------------------------------------------------------------------ */

void proto_writer_key(ProtoWriter *w, const char *key) {
        proto_writer_raw(w, w->size > 1 && w->buf[w->size - 1] != '{' && w->buf[w->size - 1] != '[' ? ",\"" : "\"");
        proto_writer_raw(w, key);
        proto_writer_raw(w, "\":");
}

void proto_writer_raw_n(ProtoWriter *w, const char *s, size_t n) {
        if (w->error < 0)
                return;
        if (w->size + n + 1 > w->allocated) {
                size_t a = MAX(w->allocated * 2, w->size + n + 1);
                char *b = malloc(MAX(a, 256U));

                if (!b) {
                        w->error = -ENOMEM;
                        return;
                }
                if (w->buf) {
                        memcpy(b, w->buf, w->size);
                        erase_and_free_sized(w->buf, w->allocated);
                }
                w->buf = b;
                w->allocated = MAX(a, 256U);
        }
        memcpy(w->buf + w->size, s, n);
        w->size += n;
        w->buf[w->size] = '\0';
}

void proto_writer_raw(ProtoWriter *w, const char *s) {
        proto_writer_raw_n(w, s, strlen(s));
}

void proto_writer_string(ProtoWriter *w, const char *s) {
        /* json-c's escapes (and json_ascii()'s for bytes past ASCII) are not repeated here: a string that needs
         * one is the json-c encoder's to write. */
        for (const char *c = s; *c; c++)
                if ((unsigned char) *c < 0x20 || (unsigned char) *c > 0x7e || *c == '"' || *c == '\\') {
                        if (w->error >= 0)
                                w->error = -EDOM;
                        return;
                }
        proto_writer_raw(w, "\"");
        proto_writer_raw(w, s);
        proto_writer_raw(w, "\"");
}

void proto_writer_int(ProtoWriter *w, int64_t v) {
        char b[24]; /* -9223372036854775808 and its NUL */

        snprintf(b, sizeof(b), "%" PRIi64, v);
        proto_writer_raw(w, b);
}

/* s between quotes, then freed (wiped first if erase); s NULL: out of memory. */
static void writer_quoted_free(ProtoWriter *w, char *s, bool erase) {
        if (!s) {
                if (w->error >= 0)
                        w->error = -ENOMEM;
                return;
        }
        proto_writer_raw(w, "\"");
        proto_writer_raw(w, s);
        proto_writer_raw(w, "\"");
        if (erase)
                explicit_bzero(s, strlen(s));
        free(s);
}

void proto_writer_base64(ProtoWriter *w, const void *p, size_t size) {
        writer_quoted_free(w, base64mem(p, size), /* erase= */ true); /* a token's, a secret's */
}

void proto_writer_hex(ProtoWriter *w, const void *p, size_t size) {
        writer_quoted_free(w, hexmem(p, size), /* erase= */ false);
}

int proto_writer_finish(ProtoWriter *w, char **ret) {
        int r = w->error;

        if (r >= 0 && !w->buf)
                r = -EINVAL;
        if (r < 0) {
                if (w->buf)
                        erase_and_free_sized(w->buf, w->allocated);
                *w = (ProtoWriter) {};
                return r;
        }
        *ret = TAKE_PTR(w->buf);
        *w = (ProtoWriter) {};
        return 0;
}
