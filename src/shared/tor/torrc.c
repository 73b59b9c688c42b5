/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "alloc-util.h"
#include "torrc-internal.h"

int torrc_error(TorrcError *e, unsigned line, int r, const char *format, ...) {
        va_list ap;

        if (e) {
                e->line = line;
                va_start(ap, format);
                (void) vsnprintf(e->message, sizeof(e->message), format, ap);
                va_end(ap);
        }
        return r;
}

int torrc_error_finish(TorrcError *ret_error, const TorrcError *e, int r) {
        if (r >= 0 || !ret_error)
                return r;
        *ret_error = *e;
        if (ret_error->message[0] == '\0')
                (void) snprintf(ret_error->message, sizeof(ret_error->message), "%s", strerror(-r));
        return r;
}

char *torrc_error_quote(const char *s, char *buf, size_t size) {
        size_t n = 0;

        for (; *s && n < size - 1; s++) {
                unsigned char c = *s;

                buf[n++] = c >= 0x20 && c < 0x7f ? (char) c : '?';
        }
        if (*s) /* cut short (n is size - 1): say so */
                memcpy(buf + size - 4, "...", 3);
        buf[n] = '\0';
        return buf;
}

int torrc_new(Torrc **ret) {
        Torrc *t;

        t = calloc(1, sizeof(Torrc));
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

Torrc *torrc_free(Torrc *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_entries; i++)
                free(t->entries[i].value);
        free(t->entries);
        free(t);
        return NULL;
}

int torrc_add_entry(Torrc *t, TorrcOp op, const TorOption *option, char *value, unsigned line) {
        _cleanup_free_ char *v = value;

        if (t->n_entries >= TORRC_ENTRIES_MAX)
                return -E2BIG;
        if (t->n_entries == t->n_allocated) {
                size_t n = MAX(t->n_allocated * 2, (size_t) 16);
                TorrcEntry *e;

                e = reallocarray(t->entries, n, sizeof(TorrcEntry));
                if (!e)
                        return -ENOMEM;
                t->entries = e;
                t->n_allocated = n;
        }
        t->entries[t->n_entries++] = (TorrcEntry) {
                .op = op,
                .option = option,
                .value = TAKE_PTR(v),
                .line = line,
        };
        return 0;
}

static size_t torrc_count_group(const Torrc *t, const TorOption *group) {
        size_t n = 0;

        for (size_t i = 0; i < t->n_entries; i++)
                n += tor_option_group(t->entries[i].option) == group;
        return n;
}

/* Drops the entries of the option's list; returns how many. */
static size_t torrc_drop_group(Torrc *t, const TorOption *group) {
        size_t k = 0, dropped;

        for (size_t i = 0; i < t->n_entries; i++) {
                if (tor_option_group(t->entries[i].option) == group) {
                        free(t->entries[i].value);
                        continue;
                }
                t->entries[k++] = t->entries[i];
        }
        dropped = t->n_entries - k;
        t->n_entries = k;
        return dropped;
}

int torrc_find_option(const char *name, unsigned line, const TorOption **ret, TorrcError *ret_error) {
        const TorOption *o;
        char q[80];

        if (name && name[0] == '%')
                /* %include pulls in files of the host that renders: never in a managed torrc. */
                return torrc_error(ret_error, line, -EINVAL, "\"%s\" is not supported",
                                   torrc_error_quote(name, q, sizeof(q)));
        o = tor_option_find(name);
        if (!o)
                return torrc_error(ret_error, line, -EINVAL, "Unknown option \"%s\"",
                                   torrc_error_quote(name ?: "", q, sizeof(q)));
        if (o->type == TOR_OPTION_VIRTUAL)
                return torrc_error(ret_error, line, -EINVAL,
                                   "%s is a virtual option and cannot be set, set the options it lists",
                                   o->name);
        *ret = o;
        return 0;
}

/* Length of the UTF-8 sequence at s (at most n bytes), or 0 if it is not a valid, shortest one. */
static size_t utf8_sequence_length(const uint8_t *s, size_t n) {
        uint32_t c;
        size_t len;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                c = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                c = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                c = s[0] & 0x07;
        } else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        return len;
}

static int normalize_boolean(const TorOption *option, const char *value, unsigned line, char **ret,
                             TorrcError *ret_error) {
        static const char *const yes[] = { "1", "true", "yes", "on" };
        static const char *const no[] = { "0", "false", "no", "off" };
        const char *v = NULL;
        char q[40];

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(value, yes[i]) == 0)
                        v = "1";
                else if (strcasecmp(value, no[i]) == 0)
                        v = "0";
        }
        if (!v && option->type == TOR_OPTION_AUTOBOOL && strcasecmp(value, "auto") == 0)
                v = "auto";
        if (!v)
                return torrc_error(ret_error, line, -EINVAL, "%s takes %s, not \"%s\"", option->name,
                                   option->type == TOR_OPTION_AUTOBOOL ? "1, 0 or auto" : "1 or 0",
                                   torrc_error_quote(value, q, sizeof(q)));
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

int torrc_normalize_value_full(const TorOption *option, const char *value, size_t size, unsigned line,
                               char **ret, TorrcError *ret_error) {
        const uint8_t *p = (const uint8_t *) value;
        char *v;

        if (size == 0)
                return torrc_error(ret_error, line, -EINVAL, "%s has no value (\"/%s\" unsets it)",
                                   option->name, option->name);
        if (size > TORRC_LINE_MAX)
                return torrc_error(ret_error, line, -E2BIG, "Value of %s is longer than %u bytes",
                                   option->name, TORRC_LINE_MAX);

        /* Tor ends a value at a newline and tells nothing of other control characters; a NUL would cut
         * the value short where tor reads it as a C string. Refusing them all keeps the rendered torrc
         * one line per value and the value exactly what tor will see. Tabs are ordinary blanks to tor. */
        for (size_t i = 0; i < size;) {
                size_t n;

                if (p[i] == '\0')
                        return torrc_error(ret_error, line, -EINVAL, "Value of %s contains a NUL byte",
                                           option->name);
                if (p[i] == '\n' || p[i] == '\r')
                        return torrc_error(ret_error, line, -EINVAL, "Value of %s contains a line break",
                                           option->name);
                if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f)
                        return torrc_error(ret_error, line, -EINVAL,
                                           "Value of %s contains the control character 0x%02x", option->name,
                                           p[i]);
                n = utf8_sequence_length(p + i, size - i);
                if (n == 0)
                        return torrc_error(ret_error, line, -EINVAL, "Value of %s is not valid UTF-8",
                                           option->name);
                i += n;
        }

        if (option->type == TOR_OPTION_BOOLEAN || option->type == TOR_OPTION_AUTOBOOL)
                return normalize_boolean(option, value, line, ret, ret_error);

        v = strndup(value, size);
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

int torrc_normalize_value(const TorOption *option, const char *value, char **ret, TorrcError *ret_error) {
        TorrcError e = {};

        if (!option || !value || !ret)
                return torrc_error(ret_error, 0, -EINVAL, "No option or value");
        return torrc_error_finish(ret_error, &e,
                                  torrc_normalize_value_full(option, value, strlen(value), 0, ret, &e));
}

static int torrc_add_one(Torrc *t, TorrcOp op, const char *name, const char *value, TorrcError *ret_error) {
        const TorOption *o;
        char *v = NULL;
        size_t dropped;
        int r;

        if (!t || (op != TORRC_OP_UNSET && !value))
                return -EINVAL;
        r = torrc_find_option(name, 0, &o, ret_error);
        if (r < 0)
                return r;
        if (op != TORRC_OP_UNSET) {
                r = torrc_normalize_value(o, value, &v, ret_error);
                if (r < 0)
                        return r;
        }
        if (op == TORRC_OP_APPEND && !tor_option_is_cumulative(o))
                op = TORRC_OP_SET;

        /* SET and UNSET say everything this level says about the list: its earlier entries go, which
         * also keeps a SET first in its list, as a parsed Torrc has it. Checked before anything
         * changes, so that a failure leaves the Torrc as it was. */
        dropped = op == TORRC_OP_APPEND ? 0 : torrc_count_group(t, tor_option_group(o));
        if (t->n_entries - dropped >= TORRC_ENTRIES_MAX) {
                free(v);
                return torrc_error(ret_error, 0, -E2BIG, "More than %u entries", TORRC_ENTRIES_MAX);
        }
        if (dropped > 0)
                (void) torrc_drop_group(t, tor_option_group(o));

        /* Cannot fail after a drop: the array has room for the dropped entries. */
        return torrc_add_entry(t, op, o, v, 0);
}

static int torrc_add(Torrc *t, TorrcOp op, const char *name, const char *value, TorrcError *ret_error) {
        TorrcError e = {};

        return torrc_error_finish(ret_error, &e, torrc_add_one(t, op, name, value, &e));
}

int torrc_set(Torrc *t, const char *name, const char *value, TorrcError *ret_error) {
        return torrc_add(t, TORRC_OP_SET, name, value, ret_error);
}

int torrc_append(Torrc *t, const char *name, const char *value, TorrcError *ret_error) {
        return torrc_add(t, TORRC_OP_APPEND, name, value, ret_error);
}

int torrc_unset(Torrc *t, const char *name, TorrcError *ret_error) {
        return torrc_add(t, TORRC_OP_UNSET, name, NULL, ret_error);
}

int torrc_remove(Torrc *t, const char *name, TorrcError *ret_error) {
        const TorOption *o;
        TorrcError e = {};
        int r;

        if (!t)
                return torrc_error(ret_error, 0, -EINVAL, "No torrc");
        r = torrc_find_option(name, 0, &o, &e);
        if (r < 0)
                return torrc_error_finish(ret_error, &e, r);
        return (int) torrc_drop_group(t, tor_option_group(o));
}

bool torrc_equal(const Torrc *a, const Torrc *b) {
        if (a->n_entries != b->n_entries)
                return false;
        for (size_t i = 0; i < a->n_entries; i++) {
                const TorrcEntry *x = a->entries + i, *y = b->entries + i;

                if (x->op != y->op || x->option != y->option)
                        return false;
                if (!x->value != !y->value || (x->value && !streq(x->value, y->value)))
                        return false;
        }
        return true;
}

static const char *const level_names[_TORRC_LEVEL_MAX] = {
        [TORRC_LEVEL_DEFAULT] = "default",
        [TORRC_LEVEL_NODE] = "node",
        [TORRC_LEVEL_RELAY] = "relay",
        [TORRC_LEVEL_FORCED] = "forced",
};

const char *torrc_level_to_string(TorrcLevel l) {
        if (l < 0 || l >= _TORRC_LEVEL_MAX)
                return NULL;
        return level_names[l];
}

TorrcLevel torrc_level_from_string(const char *s) {
        if (!s)
                return _TORRC_LEVEL_INVALID;
        for (TorrcLevel l = 0; l < _TORRC_LEVEL_MAX; l++)
                if (streq(s, level_names[l]))
                        return l;
        return _TORRC_LEVEL_INVALID;
}
