/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "configd-files.h"
#include "torrc.h"
#include "fd-util.h"
#include "hexdecoct.h"
#include "string-util.h"
#include "tor-nickname.h"

#define DIFF_LINES_MAX 5000U

void strv_free(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

bool strv_contains(char *const *l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static int strv_push(char ***l, size_t *n, char *s) {
        char **p = realloc(*l, (*n + 2) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        p[(*n)++] = s;
        p[*n] = NULL;
        *l = p;
        return 0;
}

int relay_torrc_render(const char *name, const char *server_url, const char *server_torrc, const char *key_directory,
                       const char *data_directory, const char *resolv_conf, char **ret) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *body = NULL;
        int r;

        /* Written from the parsed representation, not the server's text: nothing of the text but the options
         * it holds reaches tor (no comment, no continuation that would join configd's own lines into a value),
         * and the node's policy (torrc_check_node_policy()) is checked on exactly what is written. */
        r = torrc_parse(server_torrc, strlen(server_torrc), &t, NULL);
        if (r < 0)
                return r;
        r = torrc_check_node_policy(t, NULL);
        if (r < 0)
                return r;
        r = torrc_render(t, &body);
        if (r < 0)
                return r;
        /* The paths were checked (configd_config_set(), the keyd reply, meson.build): no blanks, quotes or '#'.
         * ServerDNSResolvConfFile: an exit resolves through the node's own validating resolver on loopback
         * (patela-resolver.service), never through what the node's /etc/resolv.conf names; the server cannot
         * set it (a Filename option, torrc_check_node_policy()). */
        if (asprintf(ret,
                     CONFIGD_FILE_HEADER " for relay %s from %s; changes are overwritten.\n"
                     "%s"
                     "# Local to this node (patela-configd):\n"
                     "KeyDirectory %s\n"
                     "DataDirectory %s\n"
                     "%s%s%s",
                     name, server_url, body, key_directory, data_directory,
                     resolv_conf ? "ServerDNSResolvConfFile " : "", resolv_conf ?: "", resolv_conf ? "\n" : "") < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int relay_network_render(const char *name, const char *ipv4, unsigned prefix4, const char *ipv6, unsigned prefix6,
                         bool route4, bool route6, uint32_t table, char **ret) {
        char a4[64] = "", a6[80] = "", r4[128] = "", r6[160] = "";
        char *s;

        if (!ipv4 && !ipv6) {
                *ret = NULL;
                return 0;
        }
        if (ipv4)
                snprintf(a4, sizeof(a4), "Address=%s/%u\n", ipv4, prefix4 ?: 32);
        if (ipv6)
                snprintf(a6, sizeof(a6), "Address=%s/%u\n", ipv6, prefix6 ?: 128);
        /* Source routing: what the relay sends leaves through the server's gateway, whatever the node's own
         * routes say; nothing else is routed differently. */
        if (ipv4 && route4)
                snprintf(r4, sizeof(r4), "\n[RoutingPolicyRule]\nFrom=%s/32\nTable=%" PRIu32 "\n", ipv4, table);
        if (ipv6 && route6)
                snprintf(r6, sizeof(r6), "\n[RoutingPolicyRule]\nFrom=%s/128\nTable=%" PRIu32 "\n", ipv6, table);
        if (asprintf(&s,
                     CONFIGD_FILE_HEADER " for relay %s; removed when the relay goes away.\n"
                     "[Network]\n"
                     "%s%s%s%s",
                     name, a4, a6, r4, r6) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int routes_network_render(const char *gateway4, const char *gateway6, uint32_t table, char **ret) {
        char g4[160] = "", g6[192] = "";
        char *s;

        if (!gateway4 && !gateway6) {
                *ret = NULL;
                return 0;
        }
        if (gateway4)
                snprintf(g4, sizeof(g4), "\n[Route]\nGateway=%s\nGatewayOnLink=yes\nTable=%" PRIu32 "\n", gateway4,
                         table);
        if (gateway6)
                snprintf(g6, sizeof(g6), "\n[Route]\nGateway=%s\nGatewayOnLink=yes\nTable=%" PRIu32 "\n", gateway6,
                         table);
        if (asprintf(&s,
                     CONFIGD_FILE_HEADER ": the relays' gateways, used only by their addresses (RoutingPolicyRule "
                     "in patela-relay-*.conf); removed with the last relay.\n"
                     "%s%s",
                     g4, g6) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int uplink_network_render(const char *interface, char *const *dns, size_t n_dns, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (!interface && n_dns == 0) {
                *ret = NULL;
                return 0;
        }
        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs(CONFIGD_FILE_HEADER ": the server's Interface and DNS settings for the uplink; removed with the "
              "relays.\n", f);
        /* In addition to the main file's other [Match] conditions (all must hold): the relays' addresses (the
         * other drop-ins) go on this link only. Name= lists add up (any name matches), so the empty assignment
         * first drops a Name= of the main file, or a file matching two links would keep matching both (found by
         * the nspawn test). */
        if (interface)
                fprintf(f, "\n[Match]\nName=\nName=%s\n", interface);
        /* The node's own name resolution, for systemd-resolved where the image has it: never the relays'
         * resolver, which is patela-resolver.service, recursive on its own. */
        if (n_dns > 0)
                fputs("\n[Network]\n", f);
        for (size_t i = 0; i < n_dns; i++)
                fprintf(f, "DNS=%s\n", dns[i]);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int resolver_render(char *const *addresses, char **ret) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs(CONFIGD_FILE_HEADER ": the node's own addresses, which patela-resolver.service sends its queries "
              "from;\n# never a relay's (patela-configd(8)).\nserver:\n", f);
        /* With outgoing-interface: lines, unbound sends a query of a family only from the addresses of that
         * family it is given, and none of a family it has none of. Without any line it would let the kernel
         * choose, possibly a relay's address: with no address of the node's own, 127.0.0.1 keeps every
         * query on the node (none can leave from it), so resolution fails rather than speak for a relay. */
        if (strv_length(addresses) == 0)
                fputs("    outgoing-interface: 127.0.0.1\n", f);
        for (char *const *a = addresses; a && *a; a++)
                fprintf(f, "    outgoing-interface: %s\n", *a);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int relay_file_path(const char *dir, const char *prefix, const char *name, const char *suffix, char **ret) {
        char *s;

        if (asprintf(&s, "%s/%s%s%s", dir, prefix, name, suffix) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int relay_torrc_path(const char *dir, const char *name, char **ret) {
        return relay_file_path(dir, "", name, CONFIGD_TORRC_SUFFIX, ret);
}

int relay_network_path(const char *dropin_dir, const char *name, char **ret) {
        return relay_file_path(dropin_dir, CONFIGD_NETWORK_PREFIX, name, CONFIGD_NETWORK_SUFFIX, ret);
}

int mkdir_parents(const char *dir, mode_t mode) {
        _cleanup_free_ char *p = strdup(dir);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                bool end = *s == '\0';

                if (*s != '/' && !end)
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                if (end)
                        break;
                *s = '/';
        }
        return 0;
}

int file_read(const char *path, char **ret) {
        char *s = NULL;
        size_t size;
        int r;

        r = read_full_file(path, CONFIGD_FILE_MAX, (void **) &s, &size);
        if (r < 0)
                return r;
        if (strlen(s) != size) {
                free(s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

int file_write_atomic(const char *path, const char *content) {
        _cleanup_free_ char *old = NULL, *dir = NULL;
        const char *slash;
        int r;

        r = file_read(path, &old);
        if (r >= 0 && streq(old, content))
                return 0;

        slash = strrchr(path, '/');
        if (!slash)
                return -EINVAL;
        dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return r;
        /* Readable by the tor instances' users whatever the umask; the content is not secret. The temporary is
         * hidden: neither tor's instances nor networkd pick it up. */
        r = write_file_atomic(path, content, 0644);
        return r < 0 ? r : 1;
}

static bool is_ours(const char *path) {
        _cleanup_close_ int fd = -EBADF;
        char buf[sizeof(CONFIGD_FILE_HEADER) - 1];
        ssize_t n;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return false;
        n = read(fd, buf, sizeof(buf));
        return n == (ssize_t) sizeof(buf) && memcmp(buf, CONFIGD_FILE_HEADER, sizeof(buf)) == 0;
}

int files_list_ours(const char *dir, const char *prefix, const char *suffix, char ***ret) {
        _cleanup_(strv_freep) char **names = NULL;
        size_t n = 0;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return negative_errno();
                names = calloc(1, sizeof(char *));
                if (!names)
                        return -ENOMEM;
                *ret = TAKE_PTR(names);
                return 0;
        }
        names = calloc(1, sizeof(char *));
        if (!names) {
                closedir(d);
                return -ENOMEM;
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *name = NULL, *path = NULL;
                const char *s = startswith(de->d_name, prefix);
                size_t l;

                if (!s)
                        continue;
                l = strlen(s);
                if (l <= strlen(suffix) || !streq(s + l - strlen(suffix), suffix))
                        continue;
                name = strndup(s, l - strlen(suffix));
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                if (!tor_nickname_ok(name))
                        continue;
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
                        path = NULL;
                        r = -ENOMEM;
                        break;
                }
                if (!is_ours(path))
                        continue;
                r = strv_push(&names, &n, name);
                if (r < 0)
                        break;
                name = NULL;
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(names);
        return 0;
}

int file_remove_ours(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISREG(st.st_mode) || !is_ours(path))
                return -EPERM;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        return 1;
}

static int split_lines(const char *text, char ***ret, size_t *ret_n) {
        _cleanup_(strv_freep) char **l = NULL;
        size_t n = 0;
        int r;

        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (const char *p = text; *p;) {
                const char *e = strchrnul(p, '\n');
                char *s = strndup(p, (size_t) (e - p));

                if (!s)
                        return -ENOMEM;
                r = strv_push(&l, &n, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
                if (n > DIFF_LINES_MAX)
                        return -E2BIG;
                p = *e ? e + 1 : e;
        }
        *ret = TAKE_PTR(l);
        *ret_n = n;
        return 0;
}

/* Lines of a not matched by a line of b, each line of b matching at most once. */
static int unmatched(char **a, size_t na, char **b, size_t nb, char ***ret) {
        _cleanup_(strv_freep) char **out = NULL;
        _cleanup_free_ bool *used = NULL;
        size_t n = 0;
        int r;

        out = calloc(1, sizeof(char *));
        used = calloc(MAX(nb, (size_t) 1), sizeof(bool));
        if (!out || !used)
                return -ENOMEM;
        for (size_t i = 0; i < na; i++) {
                bool found = false;
                char *s;

                for (size_t j = 0; j < nb && !found; j++)
                        if (!used[j] && streq(a[i], b[j]))
                                used[j] = found = true;
                if (found)
                        continue;
                s = strdup(a[i]);
                if (!s)
                        return -ENOMEM;
                r = strv_push(&out, &n, s);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int text_diff(const char *old, const char *new, char ***ret_removed, char ***ret_added) {
        _cleanup_(strv_freep) char **a = NULL, **b = NULL, **removed = NULL, **added = NULL;
        size_t na, nb;
        int r;

        r = split_lines(old ?: "", &a, &na);
        if (r < 0)
                return r;
        r = split_lines(new ?: "", &b, &nb);
        if (r < 0)
                return r;
        r = unmatched(a, na, b, nb, &removed);
        if (r < 0)
                return r;
        r = unmatched(b, nb, a, na, &added);
        if (r < 0)
                return r;
        *ret_removed = TAKE_PTR(removed);
        *ret_added = TAKE_PTR(added);
        return 0;
}
