/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* The only files patela-configd writes: one torrc per relay (TORRC_DIRECTORY/NAME.torrc), one
 * systemd-networkd drop-in per relay with addresses (NETWORK_DIRECTORY/NETWORK_FILE.d/patela-relay-NAME.conf;
 * an address that several relays share is in the first one's only) and one with the relays' routes
 * (…/patela-routes.conf), one with the server's Interface and DNS settings (…/patela-uplink.conf), and the local
 * resolver's outgoing addresses (ResolverFile=, patela-resolver.service).
 * Each starts with CONFIGD_FILE_HEADER; configd removes a file only if its name is one of these and its
 * first line is that header, so nothing it did not write is ever touched. */

#define CONFIGD_FILE_HEADER "# Written by patela-configd"
#define CONFIGD_TORRC_SUFFIX PATELA_TORRC_SUFFIX /* meson.build, which the tor unit shares */
#define CONFIGD_NETWORK_PREFIX "patela-relay-"
#define CONFIGD_NETWORK_SUFFIX ".conf"
#define CONFIGD_ROUTES_FILE "patela-routes.conf"
#define CONFIGD_UPLINK_FILE "patela-uplink.conf"
#define CONFIGD_FILE_MAX (2U * 1024U * 1024U)
/* The routing table of the relays' gateways ("patela" on a phone keypad), RouteTable= of patela.conf. */
#define CONFIGD_ROUTE_TABLE_DEFAULT 728352U

/* The torrc as written: header, the server's torrc as patela's parser reads it (rendered again, so that only its
 * options reach tor), then KeyDirectory, DataDirectory and, unless resolv_conf is NULL, ServerDNSResolvConfFile.
 * -EINVAL if the server's torrc does not parse, -EPERM if the node's policy refuses it
 * (torrc_check_node_policy()). */
int relay_torrc_render(const char *name, const char *server_url, const char *server_torrc, const char *key_directory,
                       const char *data_directory, const char *resolv_conf, char **ret);

/* The networkd drop-in: [Network] Address= of the relay's IPv4 (/prefix4, 32 if 0) and IPv6 (/prefix6, 128
 * if 0), and for each address whose family has a gateway (route4, route6) a [RoutingPolicyRule] sending what
 * leaves from it to table. *ret = NULL if the relay has no address. */
int relay_network_render(const char *name, const char *ipv4, unsigned prefix4, const char *ipv6, unsigned prefix6,
                         bool route4, bool route6, uint32_t table, char **ret);

/* The routes drop-in: a default route via each gateway (NULL: none of that family) in table, on-link, so that
 * only traffic from the relays' addresses uses them and the node's own routes stay as they are. *ret = NULL
 * without a gateway. */
int routes_network_render(const char *gateway4, const char *gateway6, uint32_t table, char **ret);

/* The uplink drop-in of the server's Interface and DNS settings: [Match] Name=interface (NULL: none), [Network]
 * DNS= per entry of dns. *ret = NULL if there is neither. */
int uplink_network_render(const char *interface, char *const *dns, size_t n_dns, char **ret);

/* The local resolver's include file: one unbound outgoing-interface: line per address (NULL-terminated), or
 * 127.0.0.1 alone if there is none (no query leaves the node). */
int resolver_render(char *const *addresses, char **ret);

/* dir/PREFIX NAME SUFFIX. */
int relay_file_path(const char *dir, const char *prefix, const char *name, const char *suffix, char **ret);
/* A relay's torrc, dir/NAME.torrc, as patela-tor@.service reads it; and its networkd drop-in in dropin_dir. */
int relay_torrc_path(const char *dir, const char *name, char **ret);
int relay_network_path(const char *dropin_dir, const char *name, char **ret);

/* Creates dir and its missing parents (0755). */
int mkdir_parents(const char *dir, mode_t mode);

/* Replaces path atomically (a temporary file in the same directory, then rename) with content, mode 0644,
 * unless it already holds exactly that. Returns 1 if written, 0 if it was up to date. */
int file_write_atomic(const char *path, const char *content);

/* Reads path (at most CONFIGD_FILE_MAX); -ENOENT if absent. */
int file_read(const char *path, char **ret);

/* The relay names of configd's files in dir: PREFIX NAME SUFFIX with a valid relay name and the header.
 * A missing dir is an empty list. The array is NULL-terminated. */
int files_list_ours(const char *dir, const char *prefix, const char *suffix, char ***ret);

/* Removes path if it is configd's (its first line is the header). 1 removed, 0 absent, -EPERM if the file
 * is not ours. */
int file_remove_ours(const char *path);

/* Lines of old not in new (removed) and of new not in old (added), each matched once, in order.
 * NULL-terminated arrays. */
int text_diff(const char *old, const char *new, char ***ret_removed, char ***ret_added);

void strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
