/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A packet capture for the resolver test (test-node-nspawn.sh): which address a DNS query left from. Not
 * installed; needs CAP_NET_RAW, in the test's own network namespace.
 *
 *   dns-capture-tool INTERFACE PORT SECONDS
 *
 * Prints "SOURCE DESTINATION QNAME" (addresses as inet_ntop() writes them; the question's name of a UDP query in
 * lower case with its final dot, "-" for TCP or what does not parse) for every UDP or TCP packet to PORT seen on
 * INTERFACE during SECONDS, each once (a loopback packet is seen leaving and arriving: only the arrival counts),
 * then exits 0. "ready" on stderr once the socket is bound, so that the test starts its queries after it. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"

#define IPPROTO_UDP_ 17
#define IPPROTO_TCP_ 6

/* The destination port of a UDP or TCP header at l4 (len bytes left), or -1. */
static int transport_dport(uint8_t proto, const uint8_t *l4, size_t len) {
        if ((proto != IPPROTO_UDP_ && proto != IPPROTO_TCP_) || len < 4)
                return -1;
        return (l4[2] << 8) | l4[3];
}

/* The question's name of a DNS message (dns, len bytes) into buf: labels in lower case, each followed by a dot
 * ("." for the root); "-" if it does not parse (compression has no place in a question). */
static void question_name(const uint8_t *dns, size_t len, char *buf, size_t size) {
        size_t i = 12, o = 0;

        snprintf(buf, size, "-");
        if (len < 12 || (dns[4] << 8 | dns[5]) != 1)
                return;
        for (;;) {
                size_t l;

                if (i >= len)
                        return;
                l = dns[i++];
                if (l == 0)
                        break;
                if (l > 63 || i + l > len || o + l + 2 > size)
                        return;
                for (size_t k = 0; k < l; k++) {
                        uint8_t c = dns[i + k];
                        buf[o++] = c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c > ' ' && c < 127 ? (char) c : '?';
                }
                buf[o++] = '.';
                i += l;
        }
        if (o == 0)
                buf[o++] = '.';
        buf[o] = '\0';
}

/* One IP packet (no link header: SOCK_DGRAM): prints it if it goes to port. */
static void packet(const uint8_t *p, size_t n, int port) {
        char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], qname[256];
        const uint8_t *l4;
        size_t l4len;
        uint8_t proto;

        if (n < 1)
                return;
        if (p[0] >> 4 == 4) {
                size_t ihl = (size_t) (p[0] & 0xf) * 4;

                if (ihl < 20 || n < ihl || transport_dport(p[9], p + ihl, n - ihl) != port)
                        return;
                if (!inet_ntop(AF_INET, p + 12, src, sizeof(src)) || !inet_ntop(AF_INET, p + 16, dst, sizeof(dst)))
                        return;
                proto = p[9], l4 = p + ihl, l4len = n - ihl;
        } else if (p[0] >> 4 == 6) {
                /* No extension headers: a DNS query has none. */
                if (n < 40 || transport_dport(p[6], p + 40, n - 40) != port)
                        return;
                if (!inet_ntop(AF_INET6, p + 8, src, sizeof(src)) || !inet_ntop(AF_INET6, p + 24, dst, sizeof(dst)))
                        return;
                proto = p[6], l4 = p + 40, l4len = n - 40;
        } else
                return;
        snprintf(qname, sizeof(qname), "-");
        if (proto == IPPROTO_UDP_ && l4len >= 8)
                question_name(l4 + 8, l4len - 8, qname, sizeof(qname));
        printf("%s %s %s\n", src, dst, qname);
        fflush(stdout);
}

int main(int argc, char *argv[]) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
        struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
        struct timespec start, now;
        char *end;
        long port, seconds;

        if (argc != 4) {
                fprintf(stderr, "usage: %s INTERFACE PORT SECONDS\n", argv[0]);
                return 2;
        }
        errno = 0;
        port = strtol(argv[2], &end, 10);
        if (errno || *end || port < 1 || port > 65535)
                return fprintf(stderr, "bad port: %s\n", argv[2]), 2;
        seconds = strtol(argv[3], &end, 10);
        if (errno || *end || seconds < 1 || seconds > 3600)
                return fprintf(stderr, "bad duration: %s\n", argv[3]), 2;
        sll.sll_ifindex = (int) if_nametoindex(argv[1]);
        if (sll.sll_ifindex == 0)
                return fprintf(stderr, "no interface %s: %m\n", argv[1]), 1;

        fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (fd < 0)
                return fprintf(stderr, "socket(AF_PACKET): %m\n"), 1;
        if (bind(fd, (struct sockaddr *) &sll, sizeof(sll)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
                return fprintf(stderr, "bind/setsockopt: %m\n"), 1;
        fprintf(stderr, "ready\n");

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                uint8_t buf[65536];
                struct sockaddr_ll from;
                socklen_t fl = sizeof(from);
                ssize_t n;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec >= seconds)
                        break;
                n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *) &from, &fl);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                continue;
                        return fprintf(stderr, "recvfrom: %m\n"), 1;
                }
                if (from.sll_pkttype == PACKET_OUTGOING)
                        continue;
                packet(buf, (size_t) n, (int) port);
        }
        return 0;
}
