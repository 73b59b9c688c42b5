/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-json.h>

#include "macro.h"

/* Decoding of patela-server's replies (patela-server(8), section API), strictly: a reply must be one JSON
 * object with exactly the documented fields, of the documented types and formats; anything else is an
 * error that names the field. Decoded strings point into the variant, which must outlive them.
 * Every decoder returns -EBADMSG with a message in ret_error (which may be NULL) on a bad reply. */

#define WIRE_BODY_MAX (4U * 1024U * 1024U)
#define WIRE_RELAYS_MAX 64U
#define WIRE_DNS_MAX 16U
#define WIRE_TORRC_MAX (1024U * 1024U)
#define WIRE_RELAY_NAME_MAX 19U

typedef struct WireError {
        char message[256];
} WireError;

/* One JSON object of at most WIRE_BODY_MAX bytes, without NUL bytes. A sensitive variant is wiped when
 * freed. */
int wire_parse_body(const char *body, size_t size, bool sensitive, sd_json_variant **ret, WireError *ret_error);

/* {"error": CODE, "message": TEXT}, what the server sends with every 4xx/5xx status. */
typedef struct WireServerError {
        const char *code;
        const char *message;
} WireServerError;
int wire_decode_error(sd_json_variant *v, WireServerError *ret, WireError *ret_error);

/* POST /v1/enroll: 202 {state: "pending", fingerprint}, or 200 {state: "enabled", fingerprint, challenge,
 * credentialBlob, encryptedSecret, nonce, pcrs, bank}. */
typedef struct WireEnroll {
        const char *state; /* "pending" or "enabled" */
        bool enabled;
        const char *fingerprint;
        const char *challenge;        /* 16 bytes, hex */
        const char *credential_blob;  /* base64 */
        const char *encrypted_secret; /* base64 */
        const char *nonce;            /* base64, 1…64 bytes */
        sd_json_variant *pcrs;        /* [0…23, …] ascending */
        const char *bank;
} WireEnroll;
int wire_decode_enroll(sd_json_variant *v, bool enabled, WireEnroll *ret, WireError *ret_error);

/* POST /v1/attest: 200 {token, expiresIn}. */
typedef struct WireAttest {
        const char *token; /* base64 of 32 bytes; sensitive */
        uint64_t expires_in;
} WireAttest;
int wire_decode_attest(sd_json_variant *v, WireAttest *ret, WireError *ret_error);

/* GET /v1/node/network: the node's resolved settings and its relays' addresses. */
typedef struct WireNetwork {
        char *interface;
        char *ipv4_gateway;
        char *ipv6_gateway;
        unsigned ipv4_prefix_length; /* 0: not set */
        unsigned ipv6_prefix_length; /* 0: not set */
        char *dns[WIRE_DNS_MAX];
        size_t n_dns;
        unsigned or_port; /* 0: not set */
} WireNetwork;
void wire_network_done(WireNetwork *n);
int wire_decode_network(sd_json_variant *v, WireNetwork *ret, WireError *ret_error);

/* GET /v1/node/relays: each relay's name, addresses and resolved torrc. Names are unique but not checked
 * further: a relay with a bad name or torrc fails alone (wire_check_relay()). */
typedef struct WireRelay {
        char *name;
        char *ipv4;
        char *ipv6;
        char *torrc;
} WireRelay;
void wire_relays_free(WireRelay *r, size_t n);
int wire_decode_relays(sd_json_variant *v, WireRelay **ret, size_t *ret_n, WireError *ret_error);

/* tor's nickname rule, which also makes the name safe in file and unit names. */
bool wire_relay_name_ok(const char *name);
/* A relay that configd can configure: a good name, addresses that parse, a torrc that patela's torrc
 * parser accepts and that leaves KeyDirectory and DataDirectory to configd. -EINVAL with the reason. */
int wire_check_relay(const WireRelay *r, WireError *ret_error);
