/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* tor's nickname rule (MAX_NICKNAME_LEN, is_legal_nickname() in tor's src/core/or/dirlist.c): 1–19
 * characters of [A-Za-z0-9]. patela names relays, their files, units and key directories after their
 * nickname, so the rule also keeps "/", "..", NUL and spaces out of paths and unit names. */
#define TOR_NICKNAME_MAX 19

bool tor_nickname_ok(const char *name);
