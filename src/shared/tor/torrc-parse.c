/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* torrc text → Torrc. The scanner follows tor's parse_config_line_from_str_verbose()
 * (lib/encoding/confline.c) and unescape_string() (lib/encoding/cstring.c) step by step, quirks
 * included, so that a value here is the value tor will see; doc/torrc_format.txt describes the same
 * rules. On top of tor we refuse what tor would take silently or warn about. */
#include <stdint.h>
#include <string.h>

#include "alloc-util.h"
#include "hexdecoct.h"
#include "torrc-internal.h"

typedef struct Parser {
        const char *counted; /* newlines before this have been counted in line */
        unsigned line;
} Parser;

/* TOR_ISSPACE(): isspace() in the C locale. */
static bool tor_isspace(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_octal(char c) {
        return c >= '0' && c <= '7';
}

/* The line of pos; positions are asked for in increasing order, so each newline is counted once. */
static unsigned parser_line(Parser *p, const char *pos) {
        for (; p->counted < pos; p->counted++)
                if (*p->counted == '\n')
                        p->line++;
        return p->line;
}

/* Before anything is copied: no NUL bytes (they would end the text early for tor) and no line
 * longer than TORRC_LINE_MAX. */
static int check_text(const char *text, size_t size, TorrcError *ret_error) {
        unsigned line = 1;
        size_t start = 0;

        for (size_t i = 0; i <= size; i++) {
                if (i == size || text[i] == '\n') {
                        if (i - start > TORRC_LINE_MAX)
                                return torrc_error(ret_error, line, -E2BIG, "Line is longer than %u bytes",
                                                   TORRC_LINE_MAX);
                        start = i + 1;
                        line++;
                } else if (text[i] == '\0')
                        return torrc_error(ret_error, line, -EINVAL, "Line contains a NUL byte");
        }
        return 0;
}

/* s points at a '"'. Decodes the C string up to the closing quote into a new buffer, which may contain
 * NUL bytes (from \0 or \x00) and is NUL-terminated after ret_size bytes, and returns the position after
 * the quote in ret_end. -EINVAL if the string is unterminated on its line or has an escape tor does not
 * know. */
static int unescape_quoted(const char *s, const char **ret_end, char **ret, size_t *ret_size) {
        const char *cp;
        char *out;
        size_t n = 0;

        /* First pass as tor's: where does it end, is every escape valid? No continuation here. */
        for (cp = s + 1; *cp != '"'; ) {
                if (*cp == '\0' || *cp == '\n')
                        return -EINVAL;
                if (*cp != '\\') {
                        cp++;
                        continue;
                }
                if (cp[1] == 'x' || cp[1] == 'X') {
                        if (unhexchar(cp[2]) < 0 || unhexchar(cp[3]) < 0)
                                return -EINVAL;
                        cp += 4;
                } else if (is_octal(cp[1])) {
                        cp += 2;
                        if (is_octal(*cp))
                                cp++;
                        if (is_octal(*cp))
                                cp++;
                } else if (cp[1] != '\0' && strchr("nrt\"\\'", cp[1]))
                        cp += 2;
                else
                        return -EINVAL;
        }

        out = malloc(cp - s);
        if (!out)
                return -ENOMEM;
        for (cp = s + 1; *cp != '"'; ) {
                if (*cp != '\\') {
                        out[n++] = *cp++;
                        continue;
                }
                switch (cp[1]) {
                case 'n':
                        out[n++] = '\n';
                        cp += 2;
                        break;
                case 'r':
                        out[n++] = '\r';
                        cp += 2;
                        break;
                case 't':
                        out[n++] = '\t';
                        cp += 2;
                        break;
                case 'x':
                case 'X':
                        out[n++] = (char) (unhexchar(cp[2]) << 4 | unhexchar(cp[3]));
                        cp += 4;
                        break;
                case '"':
                case '\\':
                case '\'':
                        out[n++] = cp[1];
                        cp += 2;
                        break;
                default: { /* octal, checked above */
                        unsigned v = (unsigned) (cp[1] - '0');

                        cp += 2;
                        for (unsigned k = 0; k < 2 && is_octal(*cp); k++)
                                v = v * 8 + (unsigned) (*cp++ - '0');
                        if (v > 255) {
                                free(out);
                                return -EINVAL;
                        }
                        out[n++] = (char) v;
                        break;
                }
                }
        }
        out[n] = '\0'; /* fits: the opening quote took a byte too */
        *ret_end = cp + 1;
        *ret = out;
        *ret_size = n;
        return 0;
}

/* Reads the next entry at *pos. Returns 1 with key and value, 0 at the end of the text. */
static int parse_line(Parser *p, const char **pos, char **ret_key, char **ret_value, size_t *ret_size,
                      unsigned *ret_line, TorrcError *ret_error) {
        _cleanup_free_ char *k = NULL, *v = NULL;
        const char *line = *pos, *key, *val, *cp;
        bool continuation = false;
        unsigned entry_line;
        char q[64];
        size_t size;
        int r;

        /* Blank lines and comment lines. */
        for (;;) {
                while (tor_isspace(*line))
                        line++;
                if (*line != '#')
                        break;
                while (*line && *line != '\n')
                        line++;
        }
        if (!*line) {
                *pos = line;
                return 0;
        }
        entry_line = parser_line(p, line);

        /* The keyword ends at a blank, a '#' or a backslash-newline ("Hello\<LF>World" is Hello World). */
        key = line;
        while (*line && !tor_isspace(*line) && *line != '#' && !(line[0] == '\\' && line[1] == '\n'))
                line++;
        k = strndup(key, line - key);
        if (!k)
                return -ENOMEM;

        while (*line == ' ' || *line == '\t')
                line++;
        val = line;

        if (*line == '"') {
                r = unescape_quoted(line, &line, &v, &size);
                if (r == -EINVAL)
                        return torrc_error(ret_error, entry_line, r,
                                           "Invalid escape sequence or missing closing quote in \"%s\"",
                                           torrc_error_quote(k, q, sizeof(q)));
                if (r < 0)
                        return r;
                while (*line == ' ' || *line == '\t')
                        line++;
                /* Tor's CRLF handling after a quoted value, exactly: the CR is passed even without LF. */
                if (*line == '\r' && *(++line) == '\n')
                        line++;
                if (*line && *line != '#' && *line != '\n')
                        return torrc_error(ret_error, entry_line, -EINVAL,
                                           "Excess data after quoted value of \"%s\"",
                                           torrc_error_quote(k, q, sizeof(q)));
        } else {
                /* Up to the end of the line or a comment. Once a backslash-newline has been seen, a
                 * comment no longer ends the value: it is skipped with its newline and the value goes
                 * on, on the next line (torrc_format.txt: "the really yucky part"). */
                while (*line && *line != '\n' && (*line != '#' || continuation)) {
                        if (line[0] == '\\' && line[1] == '\n') {
                                continuation = true;
                                line += 2;
                        } else if (*line == '#') {
                                while (*line && *line != '\n')
                                        line++;
                                if (*line == '\n')
                                        line++;
                        } else
                                line++;
                }
                cp = line;
                if (*line == '\n')
                        line++;
                while (cp > val && tor_isspace(cp[-1]))
                        cp--;
                if ((size_t) (cp - val) > TORRC_LINE_MAX)
                        return torrc_error(ret_error, entry_line, -E2BIG,
                                           "Value of \"%s\" is longer than %u bytes",
                                           torrc_error_quote(k, q, sizeof(q)), TORRC_LINE_MAX);
                v = strndup(val, cp - val);
                if (!v)
                        return -ENOMEM;
                if (continuation) {
                        /* Drop the comments (with their newline) and the backslash-newlines. */
                        char *in = v, *out = v;

                        while (*in) {
                                if (*in == '#') {
                                        while (*in && *in != '\n')
                                                in++;
                                        if (*in == '\n')
                                                in++;
                                } else if (in[0] == '\\' && in[1] == '\n')
                                        in += 2;
                                else
                                        *out++ = *in++;
                        }
                        *out = '\0';
                }
                size = strlen(v);
        }

        if (*line == '#')
                while (*line && *line != '\n')
                        line++;
        while (tor_isspace(*line))
                line++;

        *pos = line;
        *ret_key = TAKE_PTR(k);
        *ret_value = TAKE_PTR(v);
        *ret_size = size;
        *ret_line = entry_line;
        return 1;
}

static int torrc_parse_one(const char *text, size_t size, Torrc **ret, TorrcError *ret_error) {
        _cleanup_(torrc_freep) Torrc *t = NULL;
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ bool *seen = NULL;
        Parser p = { .line = 1 };
        const char *pos;
        int r;

        if (!ret || (!text && size > 0))
                return -EINVAL;
        if (size > TORRC_SIZE_MAX)
                return torrc_error(ret_error, 0, -E2BIG, "Configuration is larger than %u bytes",
                                   TORRC_SIZE_MAX);
        r = check_text(text, size, ret_error);
        if (r < 0)
                return r;

        /* Tor's scanner looks one character ahead (backslash-newline): give it a terminated copy. */
        buf = malloc(size + 1);
        if (!buf)
                return -ENOMEM;
        if (size > 0)
                memcpy(buf, text, size);
        buf[size] = '\0';

        r = torrc_new(&t);
        if (r < 0)
                return r;
        /* Which options' lists already have an entry in this text: only the first plain line replaces
         * the lower levels' lines (tor's "fragile" lists, lib/confmgt/type_defs.c). */
        seen = calloc(tor_options_count, sizeof(bool));
        if (!seen)
                return -ENOMEM;

        p.counted = pos = buf;
        for (;;) {
                _cleanup_free_ char *key = NULL, *value = NULL, *normalized = NULL;
                const TorOption *o;
                const char *name;
                TorrcOp op;
                size_t vsize = 0, g;
                unsigned line = 0; /* both set by parse_line() whenever it returns > 0 */

                r = parse_line(&p, &pos, &key, &value, &vsize, &line, ret_error);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                name = key;
                if (key[0] == '+') {
                        op = TORRC_OP_APPEND;
                        name++;
                } else if (key[0] == '/') {
                        op = TORRC_OP_UNSET;
                        name++;
                } else
                        op = TORRC_OP_SET;

                r = torrc_find_option(name, line, &o, ret_error);
                if (r < 0)
                        return r;
                g = tor_option_index(tor_option_group(o));

                if (op == TORRC_OP_UNSET) {
                        /* Tor ignores whatever follows "/Name"; a value there is a mistake. */
                        if (vsize > 0)
                                return torrc_error(ret_error, line, -EINVAL, "\"/%s\" takes no value",
                                                   o->name);
                } else {
                        r = torrc_normalize_value_full(o, value, vsize, line, &normalized, ret_error);
                        if (r < 0)
                                return r;
                        if (!tor_option_is_cumulative(o))
                                op = TORRC_OP_SET;
                        else if (op == TORRC_OP_SET && seen[g])
                                op = TORRC_OP_APPEND;
                }
                seen[g] = true;

                r = torrc_add_entry(t, op, o, TAKE_PTR(normalized), line);
                if (r == -E2BIG)
                        return torrc_error(ret_error, line, r, "More than %u entries", TORRC_ENTRIES_MAX);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(t);
        return 0;
}

int torrc_parse(const char *text, size_t size, Torrc **ret, TorrcError *ret_error) {
        TorrcError e = {};

        return torrc_error_finish(ret_error, &e, torrc_parse_one(text, size, ret, &e));
}
