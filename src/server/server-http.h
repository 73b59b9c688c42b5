/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "tlog-note.h"

#include <microhttpd.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "protocol.h"
#include "server-challenge.h"
#include "server-checkpoint.h"
#include "server-config.h"
#include "server-db.h"
#include "server-metrics.h"
#include "server-relay-metrics.h"
#include "server-tls.h"
#include "server-tls-wait.h"

/* server-verdict.h */
typedef struct VerdictCache VerdictCache;

typedef struct RateLimit RateLimit;

/* Sockets served at once: Listen= addresses, or the sockets systemd passes (ListenStream= lines). */
#define SERVER_SOCKETS_MAX 16U

typedef struct Server {
        const ServerConfig *config;
        struct MHD_Daemon *daemons[SERVER_SOCKETS_MAX];
        unsigned n_daemons;
        char *cert_pem;
        char *key_pem;
        RateLimit *enroll_limit;
        /* The request threads' database connections, each behind its mutex: one on SQLite, one per request thread
         * on PostgreSQL (server_db_lock() below). dbs[0] is also the start-up's and the checkpointer's. */
        struct ServerDb {
                pthread_mutex_t lock;
                Db *db;
        } *dbs;
        unsigned n_dbs;
        _Atomic unsigned db_next; /* the slot the next thread to ask gets, modulo n_dbs */
        ChallengeKey challenge_key;       /* server_keys 'challenge': the challenges' HMAC key */
        ChallengeLimits challenge_limits; /* open challenges and logged refusals per node, behind a mutex of its own */
        _Atomic uint64_t buffered; /* request body bytes reserved by all requests: MaxBufferedBytes= */
        Checkpointer *checkpointer;
        X509_STORE *ek_roots; /* EkCaDirectory=; empty if it holds none */
        unsigned n_ek_roots;
        TlogKey log_key; /* LogKey=: signs the transparency log's checkpoints; has_seed false without it */
        Metrics metrics;
        /* Each relay's last MetricsPort report (POST /v1/node/relay-metrics), behind a mutex of its own. */
        RelayMetricsStore relay_metrics;
        /* MetricsListen=: /metrics and /v1/status, in one thread of their own, on a database connection of their
         * own (metrics_db, used by that thread alone), behind the bearer token whose SHA-256 is metrics_token.
         * metrics_scratch and metrics_spare are that thread's too: what one scrape of /metrics/relays allocated,
         * kept for the next (some 40 MB with 40,000 relays: allocating and faulting it in anew each time was a
         * third of the scrape's time). */
        struct MHD_Daemon *metrics_daemon;
        Db *metrics_db;
        MetricsRelayScratch metrics_scratch;
        MetricsBuf metrics_spare;
        uint8_t metrics_token[32];
        int64_t tls_not_after; /* Certificate='s notAfter, seconds since the epoch */
        int64_t ca_not_after;  /* CACertificate='s; 0 without it */
        TlsTickets *tickets;   /* TLSTicketLifetime=: the session ticket key; NULL with tickets off */
        TlsWaits *tls_waits;   /* TLS handshakes waiting for their peer, out of libmicrohttpd's loop */
        VerdictCache *verdict_cache; /* the logs that explained their quote, by what they were judged from */
} Server;

/* On SQLite the request threads share one connection, one thread at a time: server_db_lock() waits for it,
 * server_db_unlock() hands it on. Hold it around database work only, never around crypto or network I/O.
 * With a connection per thread, each commit made the other connections drop their page caches and read
 * their pages again (SQLite's WAL mode does that on every change by another connection); one connection
 * keeps one warm cache. On PostgreSQL a statement is a round trip to another process, which one shared
 * connection would make every request thread wait for: there each thread gets a connection of its own (the
 * first time it asks; more threads than connections share them, each behind its mutex), and PostgreSQL
 * serialises what must be (SERIALIZABLE transactions, db_transaction()'s retries). A thread holds at most one
 * at a time. */
Db *server_db_lock(Server *s);
void server_db_unlock(Server *s);

/* How long a TLS handshake may take from the TCP connection (server-tls-wait.h): IdleTimeout=, at most
 * SERVER_HANDSHAKE_TIMEOUT_MAX_USEC. A node's handshake is two round trips. */
#define SERVER_HANDSHAKE_TIMEOUT_MAX_USEC (30ULL * 1000000ULL)
uint64_t server_handshake_timeout_usec(const ServerConfig *config);

/* Starts listening (sockets passed by systemd, else config->listen) and serving in MHD's threads. */
int server_start(Server *s, const ServerConfig *config);
void server_stop(Server *s);

/* Request context given to the API handlers. */
typedef struct Request {
        Server *server;
        struct MHD_Connection *connection;
        const char *method;
        const char *url;
        char source[64]; /* client address, for logs, rate limits and the attestation log */
        char *body;
        size_t size;
        bool too_large;
        bool over_budget; /* MaxBufferedBytes= reached: the body is read and dropped, the answer is 429 */
        size_t reserved;  /* of Server.buffered */
        unsigned endpoint; /* for the metrics: a ProtoEndpoint, or METRICS_ENDPOINT_OTHER */
        unsigned result;   /* for the metrics: the error code answered, or METRICS_RESULT_OK */
        uint64_t start_usec;
} Request;

/* Responses, as src/shared/protocol encodes them. respond_body() takes over body (a protocol encoder's output)
 * and wipes it after copying it into the response. respond_error() sends {"error": CODE, "message": …} with
 * the code's status; respond_error_status() with another (an over-long field: 413); respond_diag() a
 * decoder's refusal. Return MHD_YES/NO for MHD. */
enum MHD_Result respond_body(Request *req, unsigned status, char *body);
/* The same with a Preference-Applied header (RFC 7240) naming the request's preference that shaped the body. */
enum MHD_Result respond_body_applied(Request *req, unsigned status, char *body, const char *applied);
/* A public text body (the transparency log's checkpoint), text/plain; copied. */
enum MHD_Result respond_text(Request *req, unsigned status, const char *text);
enum MHD_Result respond_error(Request *req, ProtoErrorCode code, const char *fmt, ...) _printf_(3, 4);
enum MHD_Result respond_error_status(Request *req, unsigned status, ProtoErrorCode code, const char *fmt, ...)
        _printf_(4, 5);
enum MHD_Result respond_diag(Request *req, const ProtoDiag *diag);

/* The client's address as text ("unknown" if none). */
void server_format_source(struct MHD_Connection *c, char *buf, size_t size);
/* "ADDRESS:PORT", "[IPv6]:PORT" → a socket address; its family, or -EINVAL. */
int server_parse_listen(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* MetricsListen= (server-metrics-http.c): fd is a socket systemd passed, or -EBADF to listen on MetricsListen=. */
int metrics_listener_start(Server *s, int fd);
void metrics_listener_stop(Server *s);
/* Reads a bearer token file (one line, ≥ 16 printable characters) into its SHA-256. */
int metrics_token_load(const char *path, uint8_t ret[static 32]);
/* notAfter of the first certificate of a PEM text, seconds since the epoch. */
int certificate_not_after(const char *pem, size_t size, int64_t *ret);

/* Token bucket per source address: true if an action is allowed now. */
int ratelimit_new(unsigned per_minute, RateLimit **ret);
RateLimit *ratelimit_free(RateLimit *r);
/* Takes one token of the source's bucket; sources are counted per IPv4 address and per IPv6 /64. */
bool ratelimit_allow(RateLimit *r, const char *address);
void ratelimit_source_key(const char *address, char *buf, size_t size);
