/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "string-util.h"
#include "tor-nickname.h"

bool tor_nickname_ok(const char *name) {
        size_t n = name ? strnlen(name, TOR_NICKNAME_MAX + 1) : 0;

        return n >= 1 && n <= TOR_NICKNAME_MAX &&
               in_charset(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
}
