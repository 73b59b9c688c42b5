/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node's local resolver (patela-resolver.service, unbound on loopback) sends its queries from the node's own
 * addresses and never from a relay's: a relay's address speaks for the relay, and a resolver that used it would
 * mix the node's lookups with the relay's and tie the two together for every authoritative server. The relays'
 * addresses are configd's to add (networkd drop-ins), so configd knows which addresses of the uplink are not the
 * node's own: it writes them into unbound's outgoing-interface: lines (ResolverFile=) and asks systemd to reload
 * the resolver when they change. (docs/resolver.md) */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "configd-files.h"
#include "configd-resolver.h"
#include "log.h"
#include "string-util.h"

/* An address as inet_ntop() writes it, so that "2001:DB8::0010" from a file and "2001:db8::10" from the kernel
 * compare equal. NULL if it is no address. */
static char *address_normalize(const char *s) {
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        struct in_addr a4;

        if (inet_pton(AF_INET, s, &a4) == 1)
                return inet_ntop(AF_INET, &a4, buf, sizeof(buf)) ? strdup(buf) : NULL;
        if (inet_pton(AF_INET6, s, &a6) == 1)
                return inet_ntop(AF_INET6, &a6, buf, sizeof(buf)) ? strdup(buf) : NULL;
        return NULL;
}

static int strv_add(char ***l, size_t *n, const char *s) {
        char **p;

        if (strv_contains(*l, s))
                return 0;
        p = reallocarray(*l, *n + 2, sizeof(char *));
        if (!p)
                return -ENOMEM;
        *l = p;
        p[*n] = strdup(s);
        if (!p[*n])
                return -ENOMEM;
        p[++*n] = NULL;
        return 0;
}

static int add_normalized(char ***l, size_t *n, const char *s) {
        _cleanup_free_ char *a = NULL;

        if (!s)
                return 0;
        a = address_normalize(s);
        if (!a)
                return 0; /* not an address: nothing it could be confused with */
        return strv_add(l, n, a);
}

/* The Address= values (without the prefix length) of one of configd's drop-ins. */
static int dropin_addresses(const char *path, char ***l, size_t *n) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = file_read(path, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (const char *p = text; p && *p;) {
                const char *e = strchrnul(p, '\n'), *v = startswith(p, "Address=");

                if (v && v < e) {
                        _cleanup_free_ char *a = strndup(v, (size_t) (e - v));

                        if (!a)
                                return -ENOMEM;
                        a[strcspn(a, "/")] = '\0';
                        r = add_normalized(l, n, a);
                        if (r < 0)
                                return r;
                }
                p = *e ? e + 1 : e;
        }
        return 0;
}

int resolver_relay_addresses(const Manager *m, const char *dropin_dir, char ***ret) {
        _cleanup_(strv_freep) char **names = NULL, **l = NULL;
        size_t n = 0;
        int r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_relays; i++) {
                r = add_normalized(&l, &n, m->relays[i].ipv4);
                if (r >= 0)
                        r = add_normalized(&l, &n, m->relays[i].ipv6);
                if (r < 0)
                        return r;
        }
        /* A relay that goes away in this cycle loses its drop-in now, but its address leaves the link only when
         * networkd has reloaded: it is still a relay's address until then. */
        r = files_list_ours(dropin_dir, CONFIGD_NETWORK_PREFIX, CONFIGD_NETWORK_SUFFIX, &names);
        if (r < 0)
                return r;
        for (char **s = names; *s; s++) {
                _cleanup_free_ char *path = NULL;

                r = relay_network_path(dropin_dir, *s, &path);
                if (r >= 0)
                        r = dropin_addresses(path, &l, &n);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

bool address_is_node_candidate(int family, const void *address) {
        if (family == AF_INET) {
                uint32_t a = ntohl(((const struct in_addr *) address)->s_addr);

                /* 0/8 "this network", 127/8 loopback, 169.254/16 link-local, 224/4 multicast and above. */
                return (a >> 24) != 0 && (a >> 24) != 127 && (a >> 16) != 0xa9feU && (a >> 28) < 0xeU;
        }
        if (family == AF_INET6) {
                const struct in6_addr *a = address;

                return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_LINKLOCAL(a) &&
                       !IN6_IS_ADDR_MULTICAST(a) && !IN6_IS_ADDR_V4MAPPED(a);
        }
        return false;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int node_own_addresses(const char *interface, char *const *relay_addresses, char ***ret) {
        _cleanup_(strv_freep) char **l = NULL;
        struct ifaddrs *ifa = NULL;
        size_t n = 0;
        int r = 0;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        if (getifaddrs(&ifa) < 0)
                return negative_errno();
        for (struct ifaddrs *i = ifa; i && r >= 0; i = i->ifa_next) {
                char buf[INET6_ADDRSTRLEN];
                const void *a;
                int family;

                if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || (interface && !streq(i->ifa_name, interface)))
                        continue;
                family = i->ifa_addr->sa_family;
                if (family == AF_INET)
                        a = &((const struct sockaddr_in *) i->ifa_addr)->sin_addr;
                else if (family == AF_INET6)
                        a = &((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;
                else
                        continue;
                if (!address_is_node_candidate(family, a) || !inet_ntop(family, a, buf, sizeof(buf)) ||
                    strv_contains(relay_addresses, buf))
                        continue;
                r = strv_add(&l, &n, buf);
        }
        freeifaddrs(ifa);
        if (r < 0)
                return r;
        qsort(l, n, sizeof(char *), compare_strings);
        *ret = TAKE_PTR(l);
        return 0;
}

int resolver_update(Manager *m, char *const *relay_addresses) {
        _cleanup_(strv_freep) char **own = NULL;
        _cleanup_free_ char *text = NULL;
        const char *interface = m->network.interface;
        int r;

        if (isempty(m->config.resolver_file))
                return 0;
        /* An Interface the node does not have would leave nothing: the node's addresses on every link then. */
        if (interface && if_nametoindex(interface) == 0) {
                log_warning("The server's Interface=%s names no link of this node; the resolver's addresses are "
                            "taken from every link.", interface);
                interface = NULL;
        }
        r = node_own_addresses(interface, relay_addresses, &own);
        if (r < 0)
                return log_error_errno(r, "Cannot list the node's own addresses for the resolver: %m");
        if (strv_length(own) == 0)
                log_warning("No address of the node's own on %s: the local resolver sends no query until there "
                            "is one.", interface ?: "any link");
        r = resolver_render(own, &text);
        if (r < 0)
                return log_oom();
        r = file_write_atomic(m->config.resolver_file, text);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s: %m", m->config.resolver_file);
        if (r == 0)
                return 0;
        log_info("Wrote %s: the resolver sends its queries from %zu address(es) of the node's own.",
                 m->config.resolver_file, strv_length(own));
        (void) resolver_reload(m);
        return 1;
}
