/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <systemd/sd-json.h>
#include <systemd/sd-varlink.h>

#include "configd-config.h"
#include "configd-http.h"
#include "protocol.h"
#include "varlink-service.h"

#define CONFIGD_STATE_DIRECTORY_DEFAULT "/run/patela"
#define CONFIGD_TORRC_DIRECTORY_DEFAULT PATELA_TORRC_DIRECTORY /* meson.build */
#define CONFIGD_NETWORK_DIRECTORY_DEFAULT PATELA_NETWORK_DIRECTORY /* meson.build, as tmpfiles.d */
#define CONFIGD_NETWORK_FILE_DEFAULT PATELA_NETWORK_FILE
#define CONFIGD_ATTEST_SOCKET_DEFAULT "/run/patela/io.patela.Attest"
#define CONFIGD_KEYS_SOCKET_DEFAULT "/run/patela/io.patela.Keys"
/* patela-tor@.service: systemd reads keyd's directory as root (LoadCredential=) and the instance's dynamic
 * user copies the keys into its RuntimeDirectory= (/run/patela-tor/NAME). With DynamicUser=, that path is a
 * symlink into /run/private, which tor refuses for its directories: they are subdirectories of it. */
#define CONFIGD_RELAY_USER_DEFAULT "root"
#define CONFIGD_DATA_DIRECTORY_DEFAULT "/run/patela-tor/%n/data"
#define CONFIGD_KEY_DIRECTORY_DEFAULT "/run/patela-tor/%n/keys"
#define CONFIGD_TOR_UNIT_PREFIX "patela-tor@"
/* The local resolver (meson.build): the include file of its outgoing addresses, which tmpfiles.d gives configd's
 * user, the unit configd reloads when it changes, and the resolv.conf every relay's tor reads. */
#define CONFIGD_RESOLVER_FILE_DEFAULT PATELA_RESOLVER_FILE
#define CONFIGD_RESOLVER_UNIT PATELA_RESOLVER_UNIT
#define CONFIGD_TOR_RESOLV_CONF PATELA_TOR_RESOLV_CONF
#define CONFIGD_TOR_ENVIRONMENT_FILE "tor.env"
#define CONFIGD_SOCKET_NAME "io.patela.Config"

/* The phases of the boot flow, as io.patela.Config reports them. */
typedef enum Phase {
        PHASE_STARTING,
        PHASE_ENROLLING,
        PHASE_PENDING,
        PHASE_ATTESTING,
        PHASE_CONFIGURING,
        PHASE_RUNNING,
        PHASE_REFUSED,
        PHASE_UNREACHABLE,
        _PHASE_MAX,
        _PHASE_INVALID = -EINVAL,
} Phase;

const char *phase_to_string(Phase p) _const_;

/* How a cycle (identity → enrol → attest → fetch → keys → files) ended. */
typedef enum Outcome {
        OUTCOME_RUNNING,     /* configured (some relays may have failed alone) */
        OUTCOME_PENDING,     /* the operator has not enabled the node */
        OUTCOME_REFUSED,     /* the server said no: relays torn down */
        OUTCOME_UNREACHABLE, /* network, TLS, server error or a malformed reply */
        OUTCOME_FAILED,      /* a local step: attestd, keyd, files */
        _OUTCOME_MAX,
        _OUTCOME_INVALID = -EINVAL,
} Outcome;

typedef enum RelayState {
        RELAY_CONFIGURING,
        RELAY_APPLIED,
        RELAY_FAILED,
        _RELAY_STATE_MAX,
        _RELAY_STATE_INVALID = -EINVAL,
} RelayState;

const char *relay_state_to_string(RelayState s) _const_;

/* A relay of the last fetched configuration, with its keys and the files made from it. */
typedef struct Relay {
        char *name;
        char *ipv4;
        char *ipv6;
        char *server_torrc; /* as the server rendered it */
        char *torrc;        /* the file's content; NULL until the keys are known */
        char *network;      /* the networkd drop-in's content; NULL if no address */
        char *rsa_fingerprint;
        char *ed25519_identity;
        char *key_directory;
        RelayState state;
        char *error;
        bool files_changed; /* the last apply rewrote a file: the tor instance must reload */
        char *family;       /* the FamilyIds (space-separated) whose keys keyd last wrote into key_directory */
        bool restart;       /* keyd changed the family key files: the tor instance must restart to copy them */
} Relay;

void relay_done(Relay *r);
void relays_free(Relay *relays, size_t n);

/* What systemd says of a patela-tor@NAME.service. */
typedef struct UnitState {
        char *name; /* the relay's, i.e. the instance */
        char *active_state;
        char *sub_state;
} UnitState;

void unit_states_free(UnitState *s, size_t n);

typedef struct Manager {
        ConfigdConfig config;
        const char *listen_address;

        VarlinkService *service;
        sd_event *event; /* the service's */
        HttpClient *http;
        HttpRequest *request; /* the HTTP request of the running step */
        sd_varlink *link;     /* the call to attestd or keyd of the running step */
        sd_varlink *drop_link; /* keyd's DropKeyFiles after a refusal, outside any step */
        sd_event_source *cycle_timer;
        sd_bus *bus; /* system bus, only with ManageUnits=yes */
        UnitState *unit_states; /* the loaded patela-tor@ units, from ListUnitsByPatterns */
        size_t n_unit_states;
        bool units_listing; /* a ListUnitsByPatterns is on its way */
        bool units_changed; /* … and a unit changed meanwhile: list again when it is back */

        /* the boot flow */
        Phase phase;
        bool busy;           /* a cycle is running */
        bool refresh_queued; /* a Refresh came in during a cycle: run another one right after it */
        unsigned failures;   /* consecutive cycles that did not end in running */
        unsigned reenrolls;  /* restarts of this cycle from the enrolment (token rejected, challenge lost) */
        uint64_t next_cycle; /* CLOCK_REALTIME µs, 0 while a cycle runs */
        bool ready_sent;

        /* what the node and the server said */
        sd_json_variant *identity; /* attestd's GetIdentity reply */
        char *fingerprint;
        char *node_state;
        char *last_error;
        char *last_error_code;
        uint64_t last_attestation; /* CLOCK_REALTIME µs */
        char *last_verdict;        /* accepted or rejected */
        char *last_verdict_reason;
        char *boot_verdict;        /* the server's measured-boot verdict (Trusted, UnknownImage…), NULL if none */
        char *boot_verdict_reason;

        /* between cycles: GET /v1/node/check with the last good cycle's session (configd-check.c) */
        char *session_token;         /* memory only, wiped */
        sd_event_source *check_timer;
        HttpRequest *check_request;
        bool check_fresh;            /* the running check is on a fresh connection (a retry) */
        uint64_t check_usec;         /* the server's checkIn */
        uint64_t last_check;         /* CLOCK_REALTIME µs of the last answer, 0 if none */
        uint64_t next_check;         /* CLOCK_REALTIME µs, 0 if none planned */
        uint64_t check_in;           /* checkIn of the running cycle's attestation, µs */

        /* in place of a check, once the server's reportIn has passed: the relays' MetricsPorts, then the
         * report (configd-metrics.c) */
        HttpClient *loopback;        /* plain HTTP to 127.0.0.1; NULL with RelayMetrics=no */
        HttpRequest *metrics_request;
        ProtoRelayMetricsRequest *metrics_report; /* the report being put together, or sent */
        size_t metrics_next;         /* the relay read next */
        uint64_t metrics_reported;   /* CLOCK_MONOTONIC µs of the last report answered, 0 if none */
        uint64_t metrics_report_in;  /* the server's reportIn, µs; 0: at every check (a server before it) */

        /* The event logs of the last attestation the server accepted, by their SHA-256 (proto_log_digest(); [0]
         * firmware, [1] userspace): while they stay the same, an answer to a quote-only challenge names them
         * instead of sending them (docs/protocol.md). */
        bool logs_accepted;
        bool logs_accepted_has[2];
        uint8_t logs_accepted_sha256[2][PROTO_LOG_DIGEST_SIZE];

        /* within one cycle; wiped at its end */
        bool logs_sent_has[2];       /* the logs of the answer in flight, sent or named */
        uint8_t logs_sent_sha256[2][PROTO_LOG_DIGEST_SIZE];
        bool logs_named;             /* that answer named them */
        bool logs_required;          /* the server asked for the logs themselves (EventLogsRequired) */
        ProtoEnrollReply enroll;     /* the challenge; enroll.enabled once there is one */
        sd_json_variant *secret;     /* the activated credential (sensitive) */
        sd_json_variant *quote;
        sd_json_variant *event_logs; /* GetEventLogs, or NULL */
        char *token;                 /* session token: memory only, wiped */

        /* the fleet's family keys of the last relays reply (wiped when the cycle ends), and their FamilyIds
         * (space-separated, the server's order; "" for none), which every relay's key directory must hold */
        ProtoFamilyKeys family;
        char *family_ids;

        /* the last fetched configuration */
        bool have_config;
        uint64_t fetched; /* CLOCK_REALTIME µs */
        ProtoNetwork network;
        Relay *relays;
        size_t n_relays;
        char *fingerprints_reported; /* the last fingerprints report the server took (configd-fingerprints.c) */
        uint64_t fingerprints_reported_at; /* CLOCK_REALTIME µs */
        size_t *keys_queue; /* relays waiting for keyd, in the keys step */
        size_t n_keys_queue;
        bool keys_one_by_one; /* the batch call failed: ask for each relay alone */

        /* what VerifyLog knows: this boot's measurement, the verification under way, the last result
         * (configd-log.c) */
        struct ConfigdLog *log;

        /* tor's state (configd-state.c): the sealed states fetched at the first cycle for keyd to put back (freed
         * when the cycle ends), when the last save was, and the save when configd stops */
        ProtoRelayStates states;
        bool states_fetched;
        uint64_t state_saved_at; /* CLOCK_REALTIME µs */
        bool exiting;
        sd_varlink *state_link;
        HttpRequest *state_request;
        sd_event_source *exit_timer;

        /* Refresh calls answered when the current cycle ends, and those for the next one */
        sd_varlink **waiters;
        size_t n_waiters;
        sd_varlink **waiters_next;
        size_t n_waiters_next;
} Manager;

int manager_new(Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Listens on io.patela.Config, sets up HTTP and schedules the first cycle. */
int manager_start(Manager *m);
int manager_run(Manager *m);

/* The io.patela.Config socket when not socket-activated: --listen= or STATE_DIRECTORY/io.patela.Config. */
const char *manager_listen_address(Manager *m, char **buffer);

void manager_set_phase(Manager *m, Phase p);
uint64_t now_realtime(void); /* CLOCK_REALTIME in µs */
/* Frees and sets *dst to a copy of s (NULL allowed); -ENOMEM. */
int free_and_strdup(char **dst, const char *s);

/* A call to attestd or keyd: connects (the socket activates the daemon), sends, and hands the reply to
 * callback; the connection is closed after the reply so that the daemons can exit when idle. A failure to
 * connect is returned. */
int manager_call(Manager *m, const char *address, const char *method, sd_json_variant *parameters, bool sensitive,
                 uint64_t timeout_usec, sd_varlink_reply_t callback);
void manager_call_done(Manager *m);
/* "io.patela.Keys.PolicyMismatch: the message" from a varlink error reply. */
void varlink_error_format(const char *error_id, sd_json_variant *parameters, char *buf, size_t size);

/* configd-cycle.c: the cycle's start and end */
int cycle_start(Manager *m);
void cycle_finish(Manager *m, Outcome outcome, const char *code, const char *format, ...) _printf_(4, 5);
/* A Refresh: a cycle now (or right after the running one); link gets the reply when it ends. */
int cycle_request_refresh(Manager *m, sd_varlink *link);
void cycle_update_status(Manager *m);
/* The next cycle in delay µs (0: now). */
void cycle_schedule(Manager *m, uint64_t delay);

/* configd-check.c: GET /v1/node/check between cycles */
int check_setup(Manager *m);
/* Takes the session token of a cycle that ended running, and checks every interval from now on. */
void check_start(Manager *m, char **token, uint64_t interval_usec);
/* No more checks, the session token wiped. */
void check_stop(Manager *m);
/* The session check's answer, as GET /v1/node/check or a relay report (which carries one) got it:
 * reattest, or the next check in reply->check_in seconds. */
void check_answered(Manager *m, const ProtoCheckReply *reply);
/* The session ended (a 401/403 the protocol says refuses the node): a cycle now. */
void check_refused(Manager *m, const char *why);
/* A check now, on the kept-alive connection: after a report that did not carry one. */
void check_now(Manager *m);

/* A reply of the server, judged: see server_reply_judge(). */
typedef struct ServerReply {
        long status;
        ProtoErrorReply error; /* status >= 400 */
} ServerReply;
void server_reply_done(ServerReply *r);
/* 0: a 2xx reply, for the caller to decode (response->body). 1: a refusal about this node
 * (proto_reply_refuses_node()) with the server's error in ret->error; the caller decides. Negative: anything
 * else (transport, TLS, 5xx, 429, other 4xx, malformed error body); the cycle has been finished as
 * unreachable. */
int server_reply_judge(Manager *m, const HttpResponse *response, const char *what, ServerReply *ret);

/* configd-attest.c: identity, enrolment, activation, quote, attestation */
void attest_step_identity(Manager *m);
void attest_step_enroll(Manager *m);

/* configd-relays.c: configuration, keys, files */
void relays_step_network(Manager *m);
/* Ends the cycle running, naming the relays that failed alone. */
void relays_finish(Manager *m);
/* Removes every file of configd's in the torrc and network directories and stops the relays: the server
 * refused the node. */
void relays_teardown(Manager *m);
size_t relays_count(const Manager *m, RelayState s);

/* configd-fingerprints.c: after the files, the relays' identities to the server if they changed; then
 * state_step_save(). */
void fingerprints_step_report(Manager *m);

/* configd-relays.c: keyd's EnsureRelays for the relays without keys (after state_step_fetch()). */
void relays_step_keys(Manager *m);

/* configd-state.c: tor's state. Before the first keys step, the sealed states from the server (a node judged
 * Trusted gets them), then relays_step_keys(). */
void state_step_fetch(Manager *m);
/* The sealed state of a relay fetched in this cycle, NULL if none. */
const ProtoRelayState *state_find(const Manager *m, const char *name);
/* After the fingerprints: every StateSaveInterval=, keyd seals the relays' state and it is saved at the server;
 * then relays_finish(). */
void state_step_save(Manager *m);
/* SIGTERM/SIGINT: the relays' state (keyd's copies, sealed when each instance stopped) saved at the server with
 * the session of the last good cycle, then the loop ends; within STATE_EXIT_TIMEOUT_USEC. */
int state_on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata);
/* After a signal, once no cycle runs (cycle_finish() calls it when one ended): the save, then the loop ends. */
void state_exit_save(Manager *m);
void state_done(Manager *m);
/* configd-metrics.c: each relay's MetricsPort to the server, sent instead of a session check (it carries
 * one) once the server's reportIn has passed. relay_metrics_due(): whether this check should be a report;
 * relay_metrics_collect(): reads the MetricsPorts, then sends the report, or a plain check if none did. */
bool relay_metrics_due(Manager *m);
void relay_metrics_collect(Manager *m);
void relay_metrics_stop(Manager *m);

/* configd-units.c: the tor instances. With ManageUnits=no (--no-units), only logs what it would do. at_once: the
 * removed relays' tor exits at once (SIGTERM), not after its graceful ShutdownWaitLength. */
int relays_apply_units(Manager *m, char *const *removed, bool network_changed, bool at_once);
/* NULL when systemd does not know the relay's instance (never started, or stopped and unloaded). */
const UnitState *unit_state_find(const Manager *m, const char *relay);
