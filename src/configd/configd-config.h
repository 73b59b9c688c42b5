/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

#define CONFIGD_CONFIG_FILE "/etc/patela/patela.conf"
#define CONFIGD_CONFIG_DROPIN_DIR "/etc/patela/patela.conf.d"
/* systemd credentials that override the files, so that one image serves several fleets. */
#define CONFIGD_CREDENTIAL_SERVER_URL "patela.server-url"
#define CONFIGD_CREDENTIAL_CA "patela.ca"
#define CONFIGD_CREDENTIAL_LOG_KEY "patela.log-key"

#define CONFIGD_URL_MAX 2048U
#define CONFIGD_PATTERN_MAX 256U

/* The malloc tor runs with (patela-tor@.service preloads it): a busy relay's heap fragments badly under glibc's
 * allocator. */
typedef enum TorAllocator {
        TOR_ALLOCATOR_JEMALLOC,
        TOR_ALLOCATOR_MIMALLOC,
        TOR_ALLOCATOR_SYSTEM,
        _TOR_ALLOCATOR_MAX,
        _TOR_ALLOCATOR_INVALID = -EINVAL,
} TorAllocator;

/* patela.conf(5): a [Config] section of Key=Value lines, read from CONFIGD_CONFIG_FILE and the drop-ins in
 * CONFIGD_CONFIG_DROPIN_DIR in lexical order; then the credentials; then the command line. Later wins. */
typedef struct ConfigdConfig {
        char *server_url;      /* https://HOST[:PORT][/PREFIX], no trailing slash */
        char *ca_certificate;  /* PEM file: the only trust anchor for the server */
        char *log_key;         /* the fleet's transparency log verifier key (C2SP note form), or NULL */
        uint64_t reattest_usec;
        uint64_t state_save_usec; /* StateSaveInterval=: tor's state saved at the server at most this often */
        uint64_t retry_usec;     /* first retry after a failure or while pending */
        uint64_t retry_max_usec; /* cap of the exponential backoff */
        uint64_t connect_timeout_usec;
        uint64_t request_timeout_usec;
        char *state_directory; /* holds the io.patela.Config socket when not socket-activated */
        char *torrc_directory;
        char *network_directory;
        char *network_file; /* the .network file the address drop-ins extend */
        char *attest_socket;
        char *keys_socket;
        char *relay_user;     /* pattern: %n is the relay's name */
        char *data_directory; /* pattern: %n is the relay's name */
        char *key_directory;  /* pattern; "" (not NULL): the directory keyd wrote, used directly */
        TorAllocator tor_allocator;
        char *tpm_device;     /* TPMDevice=: patela-attestd's and patela-keyd's, checked here */
        uint32_t route_table; /* the relays' gateways' routing table */
        char *resolver_file;  /* the local resolver's outgoing addresses; "" (not NULL): not written */
        bool manage_units;
        bool relay_metrics;   /* RelayMetrics=: each relay's MetricsPort read after each check and reported */
} ConfigdConfig;

const char *tor_allocator_to_string(TorAllocator a) _const_;
TorAllocator tor_allocator_from_string(const char *s) _pure_;
/* The LD_PRELOAD value for the tor instances ("" for the system allocator). */
const char *tor_allocator_library(TorAllocator a) _const_;

void configd_config_init(ConfigdConfig *c);
void configd_config_done(ConfigdConfig *c);

/* Sets one option by its configuration-file key ("ServerURL"). -ENOENT for an unknown key, -EINVAL for a
 * bad value, -ENOMEM. */
int configd_config_set(ConfigdConfig *c, const char *key, const char *value);

/* Parses the text of one file (size bytes). On -ENOENT/-EINVAL/-EBADMSG (not a [Config] Key=Value line),
 * ret_line is the offending line. */
int configd_config_parse(ConfigdConfig *c, const char *text, size_t size, unsigned *ret_line);

/* Reads path (must exist), or, if path is NULL, main_file (may be missing) and then dropin_dir/\*.conf in
 * lexical order. Logs each failure with file:line. */
int configd_config_load(ConfigdConfig *c, const char *path, const char *main_file, const char *dropin_dir);

/* Applies CONFIGD_CREDENTIAL_SERVER_URL, CONFIGD_CREDENTIAL_CA and CONFIGD_CREDENTIAL_LOG_KEY from directory (NULL: nothing).
 * Returns the number of credentials applied. Logs failures. */
int configd_config_load_credentials(ConfigdConfig *c, const char *directory);

/* Whether everything needed to run is there (ServerURL, CACertificate); logs what is missing. */
int configd_config_check(const ConfigdConfig *c);

/* Paths end up in torrc lines, networkd files and varlink replies: absolute, printable ASCII without
 * blanks, quotes, backslashes or '#' (a torrc comment), no "." or ".." components. With pattern, "%n" and
 * "%%" are allowed. */
bool configd_path_ok(const char *p, bool pattern);

/* pattern with %n replaced by name and %% by %. */
int configd_expand_pattern(const char *pattern, const char *name, char **ret);

/* ReattestInterval= with ±10 % jitter, uniformly. */
uint64_t configd_jitter(uint64_t usec, unsigned percent);
