/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The protocol's tables: endpoints, error codes, and the rules for its values and node settings. */
#include <arpa/inet.h>
#include <assert.h>
#include <strings.h>

#include "alloc-util.h"
#include "protocol-json.h"
#include "string-util.h"

static const ProtoEndpointInfo endpoint_table[_PROTO_ENDPOINT_MAX] = {
        [PROTO_HEALTH] = { "/v1/health", "GET", false },
        [PROTO_ENROLL] = { "/v1/enroll", "POST", false },
        [PROTO_ENROLL_PROOF] = { "/v1/enroll/proof", "POST", false },
        [PROTO_ATTEST] = { "/v1/attest", "POST", false },
        [PROTO_NODE_NETWORK] = { "/v1/node/network", "GET", true },
        [PROTO_NODE_RELAYS] = { "/v1/node/relays", "GET", true },
        [PROTO_NODE_CHECK] = { "/v1/node/check", "GET", true },
        [PROTO_NODE_FINGERPRINTS] = { "/v1/node/fingerprints", "POST", true },
        [PROTO_NODE_STATE] = { "/v1/node/state", "GET", true },
        [PROTO_NODE_STATE_SAVE] = { "/v1/node/state/save", "POST", true },
        [PROTO_LOG_CHECKPOINT] = { "/v1/log/checkpoint", "GET", false },
        [PROTO_LOG_ENTRIES] = { "/v1/log/entries", "GET", false },
        [PROTO_LOG_INCLUSION] = { "/v1/log/inclusion", "GET", false },
        [PROTO_LOG_CONSISTENCY] = { "/v1/log/consistency", "GET", false },
        [PROTO_LOG_REGISTRATION] = { "/v1/log/registration", "GET", false },
        [PROTO_NODE_RELAY_METRICS] = { "/v1/node/relay-metrics", "POST", true },
};

const ProtoEndpointInfo *proto_endpoint(ProtoEndpoint e) {
        assert(e >= 0 && e < _PROTO_ENDPOINT_MAX);
        return &endpoint_table[e];
}

const char *proto_endpoint_path(ProtoEndpoint e) {
        return proto_endpoint(e)->path;
}

ProtoEndpoint proto_endpoint_from_path(const char *path) {
        for (ProtoEndpoint e = 0; e < _PROTO_ENDPOINT_MAX; e++)
                if (path && streq(path, endpoint_table[e].path))
                        return e;
        return _PROTO_ENDPOINT_INVALID;
}

static const struct {
        const char *code;
        unsigned status;
        bool refuses; /* the server says no to this node, not to this request */
} error_table[_PROTO_ERROR_MAX] = {
        [PROTO_ERROR_MALFORMED_JSON] = { "MalformedJson", 400, false },
        [PROTO_ERROR_UNKNOWN_FIELD] = { "UnknownField", 400, false },
        [PROTO_ERROR_MISSING_FIELD] = { "MissingField", 400, false },
        [PROTO_ERROR_INVALID_FIELD] = { "InvalidField", 400, false },
        [PROTO_ERROR_BODY_TOO_LARGE] = { "BodyTooLarge", 413, false },
        [PROTO_ERROR_EK_REJECTED] = { "EkRejected", 400, true },
        [PROTO_ERROR_AK_REJECTED] = { "AkRejected", 400, true },
        [PROTO_ERROR_RATE_LIMITED] = { "RateLimited", 429, false },
        [PROTO_ERROR_TOO_MANY_PENDING_NODES] = { "TooManyPendingNodes", 503, false },
        [PROTO_ERROR_IDENTITY_CONFLICT] = { "IdentityConflict", 409, true },
        [PROTO_ERROR_AK_CHANGED] = { "AkChanged", 409, true },
        [PROTO_ERROR_NODE_DISABLED] = { "NodeDisabled", 403, true },
        [PROTO_ERROR_CHALLENGE_UNKNOWN] = { "ChallengeUnknown", 403, true },
        [PROTO_ERROR_CHALLENGE_EXPIRED] = { "ChallengeExpired", 403, true },
        [PROTO_ERROR_SECRET_MISMATCH] = { "SecretMismatch", 403, true },
        [PROTO_ERROR_QUOTE_REJECTED] = { "QuoteRejected", 403, true },
        [PROTO_ERROR_UNKNOWN_IMAGE] = { "UnknownImage", 403, true },
        [PROTO_ERROR_RETIRED_IMAGE] = { "RetiredImage", 403, true },
        [PROTO_ERROR_FIRMWARE_CHANGED] = { "FirmwareChanged", 403, true },
        [PROTO_ERROR_LOG_MISMATCH] = { "LogMismatch", 403, true },
        [PROTO_ERROR_TOKEN_MISSING] = { "TokenMissing", 401, true },
        [PROTO_ERROR_TOKEN_REJECTED] = { "TokenRejected", 401, true },
        [PROTO_ERROR_METHOD_NOT_ALLOWED] = { "MethodNotAllowed", 405, false },
        [PROTO_ERROR_NOT_FOUND] = { "NotFound", 404, false },
        [PROTO_ERROR_UNKNOWN_RELAY] = { "UnknownRelay", 409, false },
        [PROTO_ERROR_FINGERPRINT_CONFLICT] = { "FingerprintConflict", 409, false },
        [PROTO_ERROR_NOT_TRUSTED] = { "NotTrusted", 409, false },
        [PROTO_ERROR_EVENT_LOGS_REQUIRED] = { "EventLogsRequired", 409, false },
        [PROTO_ERROR_RENDER_FAILED] = { "RenderFailed", 500, false },
        [PROTO_ERROR_INTERNAL_ERROR] = { "InternalError", 500, false },
};

const char *proto_error_to_string(ProtoErrorCode c) {
        return c >= 0 && c < _PROTO_ERROR_MAX ? error_table[c].code : NULL;
}

ProtoErrorCode proto_error_from_string(const char *s) {
        for (ProtoErrorCode c = 0; c < _PROTO_ERROR_MAX; c++)
                if (s && streq(s, error_table[c].code))
                        return c;
        return _PROTO_ERROR_INVALID;
}

unsigned proto_error_status(ProtoErrorCode c) {
        assert(c >= 0 && c < _PROTO_ERROR_MAX);
        return error_table[c].status;
}

bool proto_reply_refuses_node(long status, const char *code) {
        ProtoErrorCode c = proto_error_from_string(code);

        if (c >= 0)
                return error_table[c].refuses;
        /* A code of a newer server: its status says whether it is about the node. */
        return status == 401 || status == 403 || status == 409;
}

static const struct {
        const char *name;
        ProtoErrorCode error;
} verdict_table[_PROTO_VERDICT_MAX] = {
        [PROTO_VERDICT_TRUSTED] = { "Trusted", _PROTO_ERROR_INVALID },
        [PROTO_VERDICT_UNKNOWN_IMAGE] = { "UnknownImage", PROTO_ERROR_UNKNOWN_IMAGE },
        [PROTO_VERDICT_RETIRED_IMAGE] = { "RetiredImage", PROTO_ERROR_RETIRED_IMAGE },
        [PROTO_VERDICT_FIRMWARE_CHANGED] = { "FirmwareChanged", PROTO_ERROR_FIRMWARE_CHANGED },
        [PROTO_VERDICT_LOG_MISMATCH] = { "LogMismatch", PROTO_ERROR_LOG_MISMATCH },
};

const char *proto_verdict_to_string(ProtoVerdict v) {
        return v >= 0 && v < _PROTO_VERDICT_MAX ? verdict_table[v].name : NULL;
}

ProtoVerdict proto_verdict_from_string(const char *s) {
        for (ProtoVerdict v = 0; v < _PROTO_VERDICT_MAX; v++)
                if (s && streq(s, verdict_table[v].name))
                        return v;
        return _PROTO_VERDICT_INVALID;
}

ProtoErrorCode proto_verdict_error(ProtoVerdict v) {
        return v >= 0 && v < _PROTO_VERDICT_MAX ? verdict_table[v].error : _PROTO_ERROR_INVALID;
}

void proto_blob_done(ProtoBlob *b) {
        free(b->data);
        *b = (ProtoBlob) {};
}

void proto_blob_done_erase(ProtoBlob *b) {
        if (b->data)
                erase_and_free_sized(b->data, b->size);
        *b = (ProtoBlob) {};
}

static const struct {
        const char *name;
        size_t size;
} bank_table[] = {
        { "sha1", 20 },
        { "sha256", 32 },
        { "sha384", 48 },
        { "sha512", 64 },
};

size_t proto_bank_digest_size(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(bank_table); i++)
                if (s && streq(s, bank_table[i].name))
                        return bank_table[i].size;
        return 0;
}

bool proto_bank_ok(const char *s) {
        return proto_bank_digest_size(s) > 0;
}

bool proto_fingerprint_ok(const char *s) {
        size_t n = s ? strnlen(s, PROTO_FINGERPRINT_MAX + 1) : 0;
        return n >= 4 && n <= PROTO_FINGERPRINT_MAX && in_charset(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-");
}

static bool is_tchar(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

bool proto_prefer_has(const char *header, const char *token) {
        size_t n, len = token ? strlen(token) : 0;

        if (!header || len == 0)
                return false;
        n = strnlen(header, PROTO_PREFER_MAX + 1);
        if (n > PROTO_PREFER_MAX)
                return false;
        /* At the start of each list element: optional whitespace, the preference's token, then its value and
         * parameters up to the next comma outside a quoted string. */
        for (size_t i = 0; i < n;) {
                size_t start;
                bool quoted = false;

                while (i < n && (header[i] == ' ' || header[i] == '\t' || header[i] == ','))
                        i++;
                start = i;
                while (i < n && is_tchar(header[i]))
                        i++;
                if (i - start == len && strncasecmp(header + start, token, len) == 0 &&
                    (i == n || strchr(" \t=;,", header[i])))
                        return true;
                for (; i < n && (quoted || header[i] != ','); i++)
                        if (quoted && header[i] == '\\' && i + 1 < n)
                                i++;
                        else if (header[i] == '"')
                                quoted = !quoted;
        }
        return false;
}

/* ---- node settings ---------------------------------------------------------------------------------- */

static bool is_ip(int family, const char *v) {
        unsigned char buf[16];
        return v && strlen(v) <= PROTO_ADDRESS_MAX && inet_pton(family, v, buf) == 1;
}

static bool is_uint_in(const char *v, unsigned long long lo, unsigned long long hi) {
        unsigned long long x;
        return v && safe_atou64(v, hi, &x) >= 0 && x >= lo;
}

static bool interface_ok(const char *v) {
        /* A Linux interface name: IFNAMSIZ-1, no '/', no whitespace, not "." or "..". */
        return !isempty(v) && strlen(v) <= PROTO_INTERFACE_MAX && !streq(v, ".") && !streq(v, "..") &&
               in_charset(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-@");
}

static bool ipv4_ok(const char *v) {
        return is_ip(AF_INET, v);
}

static bool ipv6_ok(const char *v) {
        return is_ip(AF_INET6, v);
}

static bool ipv4_prefix_ok(const char *v) {
        return is_uint_in(v, 1, 32);
}

static bool ipv6_prefix_ok(const char *v) {
        return is_uint_in(v, 1, 128);
}

static bool dns_ok(const char *v) {
        return is_ip(AF_INET, v) || is_ip(AF_INET6, v);
}

static bool port_ok(const char *v) {
        return is_uint_in(v, 1, 65535);
}

static const struct {
        const char *key;
        bool accumulates;
        bool (*ok)(const char *value);
} setting_table[] = {
        { "Interface", false, interface_ok },
        { "IPv4Gateway", false, ipv4_ok },
        { "IPv6Gateway", false, ipv6_ok },
        { "IPv4PrefixLength", false, ipv4_prefix_ok },
        { "IPv6PrefixLength", false, ipv6_prefix_ok },
        { "DNS", true, dns_ok },
        { "ORPort", false, port_ok },
};

static int setting_find(const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(setting_table); i++)
                if (key && strcasecmp(key, setting_table[i].key) == 0)
                        return (int) i;
        return -ENOENT;
}

bool proto_setting_accumulates(const char *key) {
        int i = setting_find(key);
        return i >= 0 && setting_table[i].accumulates;
}

int proto_setting_validate(const char *key, const char *value, const char **ret_canonical_key) {
        int i = setting_find(key);

        if (i < 0)
                return i;
        if (ret_canonical_key)
                *ret_canonical_key = setting_table[i].key;
        if (!value)
                return 0;
        return setting_table[i].ok(value) ? 0 : -EINVAL;
}
