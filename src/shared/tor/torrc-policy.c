/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a relay's torrc from the server may not do on a node: the server is trusted with the relays'
 * configuration, not with the node. A hostile or compromised server must not run a program on a node, make
 * tor write or read a path of its choosing, or open a control, metrics or client listener beyond loopback.
 * Everything else is tor's to judge (tor --verify-config in the tests). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "string-util.h"
#include "torrc.h"

static int refuse(TorrcError *e, const TorrcEntry *entry, const char *why) {
        if (e) {
                e->line = entry->line;
                snprintf(e->message, sizeof(e->message), "%s %s", entry->option->name, why);
        }
        return -EPERM;
}

/* The first word of a value: "127.0.0.1:9035", "[::1]:9035", "unix:/path", "9050", "0", "auto". */
static void first_word(const char *value, char *buf, size_t size) {
        size_t n = strcspn(value, " \t");

        snprintf(buf, size, "%.*s", (int) MIN(n, size - 1), value);
}

/* A listener that stays on the node: disabled ("0"), or bound to a loopback address with a port. A bare port
 * or "auto" listens on every address for ControlPort and MetricsPort… no: tor binds a bare port to
 * 127.0.0.1 for client ports but not for every listener, so only explicit loopback addresses count. */
static bool listener_on_loopback(const char *value) {
        char w[80], host[64];
        struct in_addr a4;
        struct in6_addr a6;
        const char *colon;

        first_word(value, w, sizeof(w));
        if (streq(w, "0"))
                return true;
        if (w[0] == '[') {
                const char *end = strchr(w, ']');

                if (!end || end[1] != ':' || (size_t) (end - w - 1) >= sizeof(host))
                        return false;
                snprintf(host, sizeof(host), "%.*s", (int) (end - w - 1), w + 1);
                return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
        }
        colon = strrchr(w, ':');
        if (!colon || (size_t) (colon - w) >= sizeof(host))
                return false;
        snprintf(host, sizeof(host), "%.*s", (int) (colon - w), w);
        return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* "Log [domain] severity dest…": the destinations stdout, stderr and syslog only, no "file PATH". */
static bool log_to_file(const char *value) {
        const char *p = value;

        while (*p) {
                size_t n;

                p += strspn(p, " \t");
                n = strcspn(p, " \t");
                if (n == 4 && strncasecmp(p, "file", 4) == 0)
                        return true;
                p += n;
        }
        return false;
}

int torrc_check_node_policy(const Torrc *t, TorrcError *ret_error) {
        /* Listeners that must stay on loopback (or be off): control and metrics, and the client ports that
         * would make the relay an open proxy or resolver. */
        static const char *const loopback_only[] = {
                "ControlPort", "MetricsPort", "SocksPort", "TransPort", "NATDPort", "DNSPort", "HTTPTunnelPort",
                "ExtORPort",
        };
        /* Options that run a program. */
        static const char *const programs[] = {
                "ServerTransportPlugin", "ClientTransportPlugin",
        };
        /* Options that name a path although their type is not Filename. */
        static const char *const paths[] = {
                "ControlSocket", "HiddenServiceDir", "%include",
        };

        for (size_t i = 0; i < t->n_entries; i++) {
                const TorrcEntry *e = &t->entries[i];
                const char *name = e->option->name;

                if (e->op == TORRC_OP_UNSET)
                        continue;
                /* The node points these at its key store's tmpfs directory and the instance's data directory. */
                if (streq(name, "KeyDirectory") || streq(name, "DataDirectory"))
                        return refuse(ret_error, e, "is set by patela-configd, not by the server");
                if (e->option->type == TOR_OPTION_FILENAME)
                        return refuse(ret_error, e, "names a path on the node: not from the server");
                for (size_t j = 0; j < ELEMENTSOF(paths); j++)
                        if (streq(name, paths[j]) && !streq(e->value, "0"))
                                return refuse(ret_error, e, "names a path on the node: not from the server");
                for (size_t j = 0; j < ELEMENTSOF(programs); j++)
                        if (streq(name, programs[j]))
                                return refuse(ret_error, e, "runs a program on the node: not from the server");
                for (size_t j = 0; j < ELEMENTSOF(loopback_only); j++)
                        if (streq(name, loopback_only[j]) && !listener_on_loopback(e->value))
                                return refuse(ret_error, e,
                                              "must be 0 or on a loopback address (127.0.0.1:PORT, [::1]:PORT): a "
                                              "listener beyond the node is not the server's to open");
                if (streq(name, "Log") && log_to_file(e->value))
                        return refuse(ret_error, e, "writes to a file on the node: stdout, stderr or syslog only");
        }
        return 0;
}
