/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A private CA for operators without a PKI: an ECDSA P-256 CA key and self-signed certificate, and server
 * certificates with subjectAltNames signed by it. Nodes pin the CA certificate. */

#define CA_SAN_MAX 16

/* Creates DIR/ca.key (0600) and DIR/ca.crt, and DIR (0700) if it does not exist. -EEXIST if DIR/ca.crt exists
 * (never overwritten). */
int ca_init(const char *dir, const char *common_name, unsigned days);

/* Issues DIR/NAME.key (0600) and DIR/NAME.crt for the SANs ("DNS:host" or "IP:addr"), signed by the CA in
 * DIR. -EEXIST if the files exist, -EINVAL for a malformed SAN. */
int ca_issue(const char *dir, const char *name, char *const *sans, unsigned n_sans, unsigned days);
