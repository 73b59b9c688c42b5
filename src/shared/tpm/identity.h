/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <tss2/tss2_tpm2_types.h>

/* The short fingerprint an operator compares between a node's console (patelactl identity) and the server
 * (node list): 80 bits of SHA-256("patela-identity-v1" || EK name || AK name), Crockford base32 in four
 * groups, e.g. "7K2Q-M9XD-4RTB-0HNZ". Both names are computed from the public areas, never taken from a
 * peer. */
#define PATELA_FINGERPRINT_LEN 19

int patela_identity_fingerprint(const TPMT_PUBLIC *ek, const TPMT_PUBLIC *ak, char **ret);
