/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-c/json.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>

#include "server-checkpoint.h"
#include "server-config.h"
#include "server-db.h"

typedef struct RateLimit RateLimit;

typedef struct Server {
        const ServerConfig *config;
        struct MHD_Daemon *daemons[SERVER_LISTEN_MAX + 8];
        unsigned n_daemons;
        char *cert_pem;
        char *key_pem;
        RateLimit *enroll_limit;
        pthread_key_t db_key;
        pthread_mutex_t write_lock; /* the write transactions of all server threads (Db.write_lock) */
        Checkpointer *checkpointer;
} Server;

/* One SQLite connection per server thread, opened on first use; their write transactions take turns on
 * Server.write_lock. */
int server_db(Server *s, Db **ret);

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
} Request;

/* Responses: JSON bodies (respond_json() consumes body); errors as {"error": "Code", "message": "…"}.
 * Return MHD_YES/NO for MHD. */
enum MHD_Result respond_json(Request *req, unsigned status, json_object *body);
enum MHD_Result respond_error(Request *req, unsigned status, const char *code, const char *fmt, ...)
        _printf_(4, 5);

/* Token bucket per source address: true if an action is allowed now. */
int ratelimit_new(unsigned per_minute, RateLimit **ret);
RateLimit *ratelimit_free(RateLimit *r);
bool ratelimit_allow(RateLimit *r, const char *source);
