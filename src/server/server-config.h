/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define SERVER_CONFIG_FILE "/etc/patela/server.conf"
#define SERVER_CONFIG_DROPIN_DIR "/etc/patela/server.conf.d"
#define SERVER_LISTEN_MAX 8
#define SERVER_EK_CA_DIRECTORY "/etc/patela/ek-ca.d"

/* EkCertificate=: what an EK certificate must be for a new identity to become a pending node. */
typedef enum EkCertificatePolicy {
        EK_CERTIFICATE_VERIFY,  /* checked when present (refused if it does not verify), absence recorded */
        EK_CERTIFICATE_REQUIRE, /* present and verified */
        EK_CERTIFICATE_IGNORE,  /* not looked at */
        _EK_CERTIFICATE_POLICY_MAX,
        _EK_CERTIFICATE_POLICY_INVALID = -EINVAL,
} EkCertificatePolicy;

/* MeasuredBoot=: what a verdict other than Trusted does (docs/server.md, "Measured boot"). */
typedef enum MeasuredBootPolicy {
        MEASURED_BOOT_DEFAULT, /* unset: warn while no image is registered, enforce once one is */
        MEASURED_BOOT_ENFORCE, /* refused: 403 with the verdict as the error code, no session */
        MEASURED_BOOT_WARN,    /* recorded and logged, the node gets its session */
        _MEASURED_BOOT_POLICY_MAX,
        _MEASURED_BOOT_POLICY_INVALID = -EINVAL,
} MeasuredBootPolicy;

#define SERVER_CHECK_INTERVAL_DEFAULT_USEC (30ULL * 1000000ULL)
/* How often a node reports its relays' MetricsPort (RelayMetricsInterval=): tor's counters move slowly, the alerts
 * look at 10-15 minutes, /metrics/relays is scraped every 60 s; every 10th check at the default CheckInterval=. */
#define SERVER_RELAY_METRICS_INTERVAL_DEFAULT_USEC (300ULL * 1000000ULL)
/* A running node keeps its connection between two checks (CheckInterval=, with up to 10 % jitter) and reuses
 * it while idle for up to 60 s (patela-configd): the idle timeout outlasts both, so that a node does not meet
 * a connection the server has just closed. The limit holds 10,000 nodes' connections with room for nodes
 * reconnecting and for strangers. */
#define SERVER_IDLE_TIMEOUT_DEFAULT_USEC (90ULL * 1000000ULL)
#define SERVER_IDLE_TIMEOUT_MIN_USEC (5ULL * 1000000ULL)
#define SERVER_IDLE_TIMEOUT_MAX_USEC (3600ULL * 1000000ULL)
/* TLSTicketLifetime=: how long a TLS session ticket can be used to resume (server-tls.h). A node reconnects after
 * a lost connection or a server that closed it; the default covers a working day of those, and RFC 8446 caps a
 * ticket at 7 days. */
#define SERVER_TLS_TICKET_LIFETIME_DEFAULT_USEC (6ULL * 3600ULL * 1000000ULL)
#define SERVER_TLS_TICKET_LIFETIME_MAX_USEC (7ULL * 24ULL * 3600ULL * 1000000ULL)
#define SERVER_MAX_CONNECTIONS_DEFAULT 16384U
#define SERVER_MAX_CONNECTIONS_MAX 65536U
/* Relays on one address: the directory authorities list at most AuthDirMaxServersPerAddr relays per IPv4
 * address (and per IPv6 address, where they test IPv6), 8 on the public network since 2023 (tor's own default
 * for an authority is 2). Up to PROTO_RELAYS_MAX, a node's whole allocation. */
#define SERVER_RELAYS_PER_ADDRESS_DEFAULT 8U
/* Each relay's ORPort comes from this range: tor's customary 9001 and the ports after it. */
#define SERVER_OR_PORT_MIN_DEFAULT 9001U
#define SERVER_OR_PORT_MAX_DEFAULT 9099U

/* patela-server.conf(5): a [Server] section of Key=Value lines, read from SERVER_CONFIG_FILE and then the
 * drop-ins in SERVER_CONFIG_DROPIN_DIR in lexical order; later files win, command line flags win over all. */
typedef struct ServerConfig {
        char *database;
        char *listen[SERVER_LISTEN_MAX];
        unsigned n_listen;
        char *certificate;
        char *private_key;
        uint64_t session_lifetime_usec;
        uint64_t challenge_lifetime_usec;
        uint64_t pending_lifetime_usec; /* a pending node not seen for this long is removed */
        unsigned max_pending_nodes;
        unsigned enroll_rate_per_minute;
        uint32_t quote_pcr_mask;
        char *quote_bank;
        unsigned threads;
        unsigned max_body_size;
        unsigned max_connections_per_source; /* 0: no limit */
        unsigned max_connections;            /* open at once, per listening socket */
        uint64_t idle_timeout_usec;          /* a connection without traffic for this long is closed */
        uint64_t max_buffered_bytes;         /* request bodies held at once, all connections together */
        unsigned default_relay_count;
        unsigned relays_per_address;  /* RelaysPerAddress=: relays of one node sharing one address */
        unsigned or_port_min;         /* ORPortRange=: the ports relays' ORPorts are allocated from */
        unsigned or_port_max;
        EkCertificatePolicy ek_certificate;
        char *ek_ca_directory;
        char *log_key; /* LogKey=: the transparency log's signer key file; NULL: checkpoints not served */
        MeasuredBootPolicy measured_boot;
        uint64_t check_interval_usec; /* what a node is told between two GET /v1/node/check */
        uint64_t relay_metrics_interval_usec; /* what a node is told between two relay metrics reports */
        char *metrics_listen;         /* MetricsListen=: /metrics and /v1/status; NULL: not served */
        char *metrics_token_file;     /* MetricsTokenFile=: the scrapers' bearer token */
        char *ca_certificate;         /* CACertificate=: the CA of Certificate=, read for its expiry */
        uint64_t tls_ticket_lifetime_usec; /* TLSTicketLifetime=: TLS 1.3 session tickets; 0: none */
} ServerConfig;

void server_config_init(ServerConfig *c);
void server_config_done(ServerConfig *c);

/* Sets one option by its configuration-file key (e.g. "SessionLifetime"). -EINVAL for a bad value,
 * -ENOENT for an unknown key. */
int server_config_set(ServerConfig *c, const char *key, const char *value);

/* Parses one file's text. ret_line gets the line of an error. */
int server_config_parse(ServerConfig *c, const char *text, unsigned *ret_line);

/* Loads the main file (missing is fine) and the drop-ins. path overrides SERVER_CONFIG_FILE (then no
 * drop-ins are read). */
int server_config_load(ServerConfig *c, const char *path);
