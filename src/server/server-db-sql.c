/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SQLite → PostgreSQL, by tokens: a tokenizer that knows SQL's literals, quoted identifiers and comments, then
 * rewrites of the few constructs patela's SQL uses that PostgreSQL spells differently or not at all. What it does
 * not know it refuses (-EOPNOTSUPP) rather than pass on: a statement PostgreSQL would accept with other semantics
 * (GLOB's pattern as a string, `IS` between values) must never slip through. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc-util.h"
#include "log.h"
#include "server-db-sql.h"

const char db_sql_pg_preamble[] =
        "CREATE SEQUENCE IF NOT EXISTS patela_rowid AS BIGINT;\n"
        /* randomblob(): pgcrypto's gen_random_bytes() (a trusted extension: the database's owner may create it;
         * Debian's postgresql-17 ships it), from the server's strong random source. */
        "CREATE EXTENSION IF NOT EXISTS pgcrypto;\n"
        /* SQLite's NOCASE folds ASCII only; ICU's secondary strength folds case everywhere, which is what the one
         * use (a torrc option's name) wants. Not deterministic: = compares by it, indexes cannot. */
        "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);\n";

typedef enum TokenType {
        TOKEN_SPACE, /* whitespace and comments */
        TOKEN_WORD,  /* keywords, identifiers, numbers */
        TOKEN_STRING,
        TOKEN_QUOTED, /* "identifier" */
        TOKEN_PARAM,
        TOKEN_PUNCT,
} TokenType;

typedef struct Token {
        TokenType type;
        const char *p;
        size_t n;
} Token;

typedef struct Tokens {
        Token *t;
        size_t n, allocated;
} Tokens;

static void tokens_done(Tokens *ts) {
        free(ts->t);
}

static int tokens_add(Tokens *ts, TokenType type, const char *p, size_t n) {
        if (ts->n == ts->allocated) {
                size_t a = ts->allocated ? ts->allocated * 2 : 64;
                Token *t = reallocarray(ts->t, a, sizeof(Token));
                if (!t)
                        return -ENOMEM;
                ts->t = t;
                ts->allocated = a;
        }
        ts->t[ts->n++] = (Token) { type, p, n };
        return 0;
}

static bool is_word_char(char c) {
        return isalnum((unsigned char) c) || c == '_' || (unsigned char) c >= 0x80;
}

static int tokenize(const char *sql, Tokens *ret) {
        const char *p = sql;
        int r;

        while (*p) {
                const char *s = p;
                TokenType type;

                if (isspace((unsigned char) *p)) {
                        while (isspace((unsigned char) *p))
                                p++;
                        type = TOKEN_SPACE;
                } else if (p[0] == '-' && p[1] == '-') {
                        while (*p && *p != '\n')
                                p++;
                        type = TOKEN_SPACE;
                } else if (p[0] == '/' && p[1] == '*') {
                        const char *e = strstr(p + 2, "*/");
                        if (!e)
                                return log_debug_errno(EINVAL, "Unterminated comment in SQL.");
                        p = e + 2;
                        type = TOKEN_SPACE;
                } else if (*p == '\'' || *p == '"') {
                        char q = *p++;
                        for (;;) {
                                if (!*p)
                                        return log_debug_errno(EINVAL, "Unterminated %s in SQL.",
                                                               q == '\'' ? "string literal" : "quoted identifier");
                                if (*p == q && p[1] == q)
                                        p += 2;
                                else if (*p++ == q)
                                        break;
                        }
                        type = q == '\'' ? TOKEN_STRING : TOKEN_QUOTED;
                } else if (*p == '?') {
                        p++;
                        while (isdigit((unsigned char) *p))
                                p++;
                        type = TOKEN_PARAM;
                } else if (is_word_char(*p)) {
                        while (is_word_char(*p))
                                p++;
                        type = TOKEN_WORD;
                } else {
                        static const char *const two[] = { "!=", "<=", ">=", "<>", "||", "==", "<<", ">>" };
                        p++;
                        for (size_t i = 0; i < ELEMENTSOF(two); i++)
                                if (s[0] == two[i][0] && s[1] == two[i][1]) {
                                        p++;
                                        break;
                                }
                        type = TOKEN_PUNCT;
                }
                r = tokens_add(ret, type, s, (size_t) (p - s));
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool token_is(const Token *t, const char *word) {
        if (t->type == TOKEN_WORD)
                return strlen(word) == t->n && strncasecmp(t->p, word, t->n) == 0;
        if (t->type == TOKEN_PUNCT)
                return strlen(word) == t->n && memcmp(t->p, word, t->n) == 0;
        return false;
}

/* The index of the next token at or after i in [i, end) that is not space, or end. */
static size_t skip_space(const Tokens *ts, size_t i, size_t end) {
        while (i < end && ts->t[i].type == TOKEN_SPACE)
                i++;
        return i;
}

/* [*a, *b) without the space at either end. */
static void trim_space(const Tokens *ts, size_t *a, size_t *b) {
        while (*a < *b && ts->t[*a].type == TOKEN_SPACE)
                (*a)++;
        while (*b > *a && ts->t[*b - 1].type == TOKEN_SPACE)
                (*b)--;
}

/* The index of the ")" matching the "(" at i, or end. */
static size_t matching_paren(const Tokens *ts, size_t i, size_t end) {
        unsigned depth = 0;

        for (; i < end; i++) {
                if (token_is(&ts->t[i], "("))
                        depth++;
                else if (token_is(&ts->t[i], ")") && --depth == 0)
                        return i;
        }
        return end;
}

static int emit(ByteBuffer *out, const char *p, size_t n) {
        return byte_buffer_append(out, p, n);
}

static int emits(ByteBuffer *out, const char *s) {
        return emit(out, s, strlen(s));
}

static int emit_token(ByteBuffer *out, const Token *t) {
        return emit(out, t->p, t->n);
}

/* A GLOB pattern (a string token, quotes included) → an anchored POSIX regular expression, as a string literal. */
static int emit_glob_regex(ByteBuffer *out, const Token *t) {
        bool in_class = false;
        size_t class_start = 0;
        int r;

        r = emits(out, "'^");
        for (size_t i = 1; r >= 0 && i + 1 < t->n; i++) {
                char c = t->p[i];

                if (c == '\'') /* '' in the literal: one quote, written doubled again */
                        i++;
                if (in_class) {
                        if (c == ']' && i > class_start)
                                in_class = false;
                        r = c == '\\' ? emits(out, "\\\\") : c == '\'' ? emits(out, "''") : emit(out, &c, 1);
                        continue;
                }
                switch (c) {
                case '*':
                        r = emits(out, ".*");
                        break;
                case '?':
                        r = emits(out, ".");
                        break;
                case '[':
                        in_class = true;
                        r = emits(out, "[");
                        if (r >= 0 && i + 2 < t->n && t->p[i + 1] == '^') {
                                r = emits(out, "^");
                                i++;
                        }
                        class_start = i + 1; /* a ] right after [ or [^ is a member */
                        break;
                case '\'':
                        r = emits(out, "''");
                        break;
                default:
                        if (strchr(".^$+(){}|\\", c))
                                r = emits(out, "\\");
                        if (r >= 0)
                                r = emit(out, &c, 1);
                }
        }
        if (r >= 0 && in_class)
                return log_debug_errno(EOPNOTSUPP, "Unterminated [ in GLOB pattern %.*s.", (int) t->n, t->p);
        if (r >= 0)
                r = emits(out, "$'");
        return r;
}

/* A query's parameters as they are renumbered; NULL in a migration, which has none. */
typedef struct ParamState {
        unsigned next, max;
} ParamState;

static int emit_param(ByteBuffer *out, const Token *t, ParamState *params) {
        char num[16];
        unsigned v;

        if (t->n == 1)
                v = params->next;
        else {
                if (t->n > 4)
                        return log_debug_errno(EINVAL, "Parameter number too large in SQL.");
                v = 0;
                for (size_t k = 1; k < t->n; k++)
                        v = v * 10 + (unsigned) (t->p[k] - '0');
                if (v == 0)
                        return log_debug_errno(EINVAL, "Parameter ?0 in SQL.");
        }
        /* SQLite: a bare ? takes the number after the largest so far. */
        params->max = v > params->max ? v : params->max;
        params->next = params->max + 1;
        snprintf(num, sizeof(num), "$%u", v);
        return emits(out, num);
}

/* The first comma at depth 0 in (a, b), or b. */
static size_t top_level_comma(const Tokens *ts, size_t a, size_t b) {
        unsigned depth = 0;

        for (size_t i = a; i < b; i++) {
                if (token_is(&ts->t[i], "("))
                        depth++;
                else if (token_is(&ts->t[i], ")"))
                        depth--;
                else if (depth == 0 && token_is(&ts->t[i], ","))
                        return i;
        }
        return b;
}

static int translate_range(const Tokens *ts, ParamState *params, size_t a, size_t b, ByteBuffer *out);

/* before, then tokens a..b translated without the spaces at either end, then after. */
static int translate_between(const Tokens *ts, ParamState *params, const char *before, size_t a, size_t b,
                             const char *after, ByteBuffer *out) {
        int r;

        trim_space(ts, &a, &b);
        r = emits(out, before);
        if (r >= 0)
                r = translate_range(ts, params, a, b, out);
        if (r >= 0)
                r = emits(out, after);
        return r;
}

/* name(args) with args rewritten: ifnull → COALESCE; randomblob → gen_random_bytes (pgcrypto); max/min of several
 * values → GREATEST/LEAST (SQLite's scalar forms; NULL arguments differ: SQLite answers NULL, PostgreSQL ignores
 * them); group_concat → string_agg (with SQLite's default separator); instr(a, b) → position(b IN a). 0 if t is
 * none of these. */
static int translate_function(const Tokens *ts, ParamState *params, size_t *i, size_t b, ByteBuffer *out) {
        const Token *t = &ts->t[*i];
        size_t open = *i + 1, close, comma, x, y;
        int r;

        if (open >= b || !token_is(&ts->t[open], "("))
                return 0;
        close = matching_paren(ts, open, b);
        if (close == b)
                return 0;
        comma = top_level_comma(ts, open + 1, close);

        if (token_is(t, "ifnull"))
                r = emits(out, "COALESCE(");
        else if (token_is(t, "randomblob") && comma == close)
                r = emits(out, "gen_random_bytes(");
        else if ((token_is(t, "max") || token_is(t, "min")) && comma < close)
                r = emits(out, token_is(t, "max") ? "GREATEST(" : "LEAST(");
        else if (token_is(t, "group_concat")) {
                size_t order = close;

                for (size_t k = open + 1; k < close; k++)
                        if (token_is(&ts->t[k], "ORDER") && top_level_comma(ts, open + 1, k) == k) {
                                order = k;
                                break;
                        }
                x = open + 1;
                y = comma < close ? close : order;
                trim_space(ts, &x, &y);
                r = emits(out, "string_agg(");
                if (r >= 0)
                        r = translate_range(ts, params, x, y, out);
                if (r >= 0 && comma == close)
                        r = emits(out, ", ','");
                if (r >= 0 && y < close)
                        r = translate_range(ts, params, y, close, out);
                if (r >= 0)
                        r = emits(out, ")");
                *i = close;
                return r < 0 ? r : 1;
        } else if (token_is(t, "instr") && comma < close) {
                r = translate_between(ts, params, "position(", comma + 1, close, " IN ", out);
                if (r >= 0)
                        r = translate_between(ts, params, "", open + 1, comma, ")", out);
                *i = close;
                return r < 0 ? r : 1;
        } else
                return 0;
        if (r >= 0)
                r = translate_range(ts, params, open + 1, close + 1, out);
        *i = close;
        return r < 0 ? r : 1;
}

/* Expressions and plain statements: the rewrites that apply anywhere. */
static int translate_range(const Tokens *ts, ParamState *params, size_t a, size_t b, ByteBuffer *out) {
        int r = 0;

        for (size_t i = a; r >= 0 && i < b; i++) {
                const Token *t = &ts->t[i];
                size_t j, k;

                if (t->type == TOKEN_WORD && (r = translate_function(ts, params, &i, b, out)) != 0)
                        continue;
                if (t->type == TOKEN_PARAM && params)
                        r = emit_param(out, t, params);
                else if (token_is(t, "INTEGER"))
                        r = emits(out, "BIGINT");
                else if (token_is(t, "BLOB"))
                        r = emits(out, "BYTEA");
                else if ((token_is(t, "x") || token_is(t, "X")) && i + 1 < b && ts->t[i + 1].type == TOKEN_STRING) {
                        /* x'0a1b': a blob literal in SQLite, a bit string in PostgreSQL. */
                        r = emits(out, "'\\x");
                        if (r >= 0)
                                r = emit(out, ts->t[i + 1].p + 1, ts->t[i + 1].n - 1);
                        if (r >= 0)
                                r = emits(out, "::bytea");
                        i++;
                } else if (token_is(t, "=="))
                        r = emits(out, "=");
                else if (token_is(t, "CAST") && (j = skip_space(ts, i + 1, b)) < b && token_is(&ts->t[j], "(")) {
                        size_t close = matching_paren(ts, j, b), as = 0, type = 0;

                        if (close == b)
                                return log_debug_errno(EOPNOTSUPP, "Unbalanced CAST in SQL.");
                        /* CAST(x AS BLOB): SQLite takes a text's bytes; PostgreSQL's text::bytea would parse
                         * backslash escapes. */
                        for (k = j + 1; k < close; k++)
                                if (token_is(&ts->t[k], "AS"))
                                        as = k;
                        if (as > 0)
                                type = skip_space(ts, as + 1, close);
                        if (as > 0 && token_is(&ts->t[type], "BLOB")) {
                                r = translate_between(ts, params, "convert_to(", j + 1, as, ", 'UTF8')", out);
                                i = close;
                        } else
                                r = emit_token(out, t);
                } else if (token_is(t, "GLOB") || (token_is(t, "NOT") && skip_space(ts, i + 1, b) < b &&
                                                    token_is(&ts->t[skip_space(ts, i + 1, b)], "GLOB"))) {
                        bool negate = token_is(t, "NOT");

                        j = negate ? skip_space(ts, i + 1, b) : i;
                        k = skip_space(ts, j + 1, b);
                        if (k == b || ts->t[k].type != TOKEN_STRING)
                                return log_debug_errno(EOPNOTSUPP, "GLOB with a pattern that is not a literal.");
                        r = emits(out, negate ? "!~ " : "~ ");
                        if (r >= 0)
                                r = emit_glob_regex(out, &ts->t[k]);
                        i = k;
                } else if (token_is(t, "IS")) {
                        bool negate = false;

                        j = skip_space(ts, i + 1, b);
                        if (j < b && token_is(&ts->t[j], "NOT")) {
                                negate = true;
                                j = skip_space(ts, j + 1, b);
                        }
                        if (j < b && (token_is(&ts->t[j], "NULL") || token_is(&ts->t[j], "TRUE") ||
                                      token_is(&ts->t[j], "FALSE")))
                                r = emit_token(out, t);
                        else {
                                /* SQLite's IS between two values is PostgreSQL's IS NOT DISTINCT FROM. */
                                r = emits(out, negate ? "IS DISTINCT FROM " : "IS NOT DISTINCT FROM ");
                                i = j - 1;
                        }
                } else if (token_is(t, "RAISE") || token_is(t, "AUTOINCREMENT") || token_is(t, "PRAGMA") ||
                           t->type == TOKEN_PARAM ||
                           /* INSERT OR IGNORE|REPLACE|…, REPLACE INTO: PostgreSQL says ON CONFLICT */
                           (token_is(t, "OR") && (j = skip_space(ts, i + 1, b)) < b &&
                            (token_is(&ts->t[j], "IGNORE") || token_is(&ts->t[j], "REPLACE") ||
                             token_is(&ts->t[j], "ABORT") || token_is(&ts->t[j], "FAIL") ||
                             token_is(&ts->t[j], "ROLLBACK"))) ||
                           (token_is(t, "REPLACE") && (j = skip_space(ts, i + 1, b)) < b && token_is(&ts->t[j], "INTO")))
                        return log_debug_errno(EOPNOTSUPP, "No PostgreSQL translation for '%.*s' here.", (int) t->n,
                                               t->p);
                else
                        r = emit_token(out, t);
        }
        return r;
}

/* CREATE TABLE name (defs) [WITHOUT ROWID]. */
static int translate_create_table(const Tokens *ts, size_t a, size_t b, ByteBuffer *out) {
        size_t open = a, close, i, def;
        bool integer_key = false, without_rowid = false;
        int r;

        while (open < b && !token_is(&ts->t[open], "("))
                open++;
        close = matching_paren(ts, open, b);
        if (close == b)
                return log_debug_errno(EOPNOTSUPP, "CREATE TABLE without its columns.");
        i = skip_space(ts, close + 1, b);
        if (i < b && token_is(&ts->t[i], "WITHOUT")) {
                i = skip_space(ts, i + 1, b);
                if (i == b || !token_is(&ts->t[i], "ROWID"))
                        return log_debug_errno(EOPNOTSUPP, "CREATE TABLE … WITHOUT what?");
                without_rowid = true;
                i = skip_space(ts, i + 1, b);
        }
        if (i != b)
                return log_debug_errno(EOPNOTSUPP, "Table options after CREATE TABLE's columns.");

        r = translate_range(ts, NULL, a, open + 1, out);
        /* Each definition: a column whose type is INTEGER PRIMARY KEY becomes an identity column. */
        for (def = open + 1; r >= 0 && def < close;) {
                size_t end = def, name, type, pk, key;
                unsigned depth = 0;

                for (; end < close; end++) {
                        if (token_is(&ts->t[end], "("))
                                depth++;
                        else if (token_is(&ts->t[end], ")"))
                                depth--;
                        else if (depth == 0 && token_is(&ts->t[end], ","))
                                break;
                }
                name = skip_space(ts, def, end);
                type = skip_space(ts, name + 1, end);
                pk = type < end ? skip_space(ts, type + 1, end) : end;
                key = pk < end ? skip_space(ts, pk + 1, end) : end;
                if (type < end && token_is(&ts->t[type], "INTEGER") && pk < end && token_is(&ts->t[pk], "PRIMARY") &&
                    key < end && token_is(&ts->t[key], "KEY")) {
                        integer_key = true;
                        r = translate_range(ts, NULL, def, type, out);
                        if (r >= 0)
                                r = emits(out, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                        if (r >= 0)
                                r = translate_range(ts, NULL, key + 1, end, out);
                } else
                        r = translate_range(ts, NULL, def, end, out);
                if (r >= 0 && end < close)
                        r = emits(out, ",");
                def = end + 1;
        }
        /* SQLite numbers a table's rows even without an integer key; the server orders some by it. */
        if (r >= 0 && !integer_key && !without_rowid)
                r = emits(out, ",\n        rowid BIGINT NOT NULL DEFAULT nextval('patela_rowid')");
        if (r >= 0)
                r = emits(out, ")");
        return r;
}

/* CREATE TRIGGER name timing event ON table [FOR EACH ROW] [WHEN expr] BEGIN SELECT RAISE(…); … END: a PL/pgSQL
 * function of the same name with the WHEN as an IF (PostgreSQL's WHEN cannot hold a subquery), and the trigger. */
static int translate_create_trigger(const Tokens *ts, size_t a, size_t b, ByteBuffer *out) {
        size_t name, timing, on, table, when = 0, begin = 0, end = 0, i;
        bool delete = false;
        int r;

        name = skip_space(ts, a, b); /* CREATE */
        name = skip_space(ts, name + 1, b); /* TRIGGER */
        name = skip_space(ts, name + 1, b);
        if (name == b || token_is(&ts->t[name], "IF") || ts->t[name].type != TOKEN_WORD)
                return log_debug_errno(EOPNOTSUPP, "CREATE TRIGGER: unexpected name.");
        timing = skip_space(ts, name + 1, b);
        if (timing == b || !(token_is(&ts->t[timing], "BEFORE") || token_is(&ts->t[timing], "AFTER")))
                return log_debug_errno(EOPNOTSUPP, "CREATE TRIGGER %.*s: BEFORE or AFTER only.", (int) ts->t[name].n,
                                       ts->t[name].p);
        for (on = timing + 1; on < b && !token_is(&ts->t[on], "ON"); on++)
                if (token_is(&ts->t[on], "DELETE"))
                        delete = true;
        table = skip_space(ts, on + 1, b);
        for (i = table + 1; i < b; i++) {
                if (!when && token_is(&ts->t[i], "WHEN"))
                        when = i;
                if (token_is(&ts->t[i], "BEGIN")) {
                        begin = i;
                        break;
                }
        }
        for (i = b; i > begin; i--)
                if (token_is(&ts->t[i - 1], "END")) {
                        end = i - 1;
                        break;
                }
        if (table == b || !begin || !end)
                return log_debug_errno(EOPNOTSUPP, "CREATE TRIGGER %.*s: no ON, BEGIN or END.", (int) ts->t[name].n,
                                       ts->t[name].p);

        r = emits(out, "CREATE OR REPLACE FUNCTION ");
        if (r >= 0)
                r = emit_token(out, &ts->t[name]);
        if (r >= 0)
                r = emits(out, "() RETURNS trigger LANGUAGE plpgsql AS $patela$\nBEGIN\n");
        if (r >= 0 && when)
                r = translate_between(ts, NULL, "IF ", when + 1, begin, " THEN\n", out);
        /* The body: SELECT RAISE(ABORT|FAIL|ROLLBACK, 'message'); or RAISE(IGNORE) (the row skipped). */
        for (i = skip_space(ts, begin + 1, end); r >= 0 && i < end; i = skip_space(ts, i + 1, end)) {
                size_t raise, open, kind, comma, msg, close, semi;

                raise = skip_space(ts, i + 1, end);
                open = skip_space(ts, raise + 1, end);
                kind = skip_space(ts, open + 1, end);
                if (!token_is(&ts->t[i], "SELECT") || raise == end || !token_is(&ts->t[raise], "RAISE") || open == end ||
                    !token_is(&ts->t[open], "(") || kind == end)
                        return log_debug_errno(EOPNOTSUPP, "Trigger %.*s: a body other than SELECT RAISE(…).",
                                               (int) ts->t[name].n, ts->t[name].p);
                if (token_is(&ts->t[kind], "IGNORE")) {
                        close = skip_space(ts, kind + 1, end);
                        r = emits(out, "RETURN NULL;\n");
                } else {
                        if (!token_is(&ts->t[kind], "ABORT") && !token_is(&ts->t[kind], "FAIL") &&
                            !token_is(&ts->t[kind], "ROLLBACK"))
                                return log_debug_errno(EOPNOTSUPP, "Trigger %.*s: unknown RAISE.", (int) ts->t[name].n,
                                                       ts->t[name].p);
                        comma = skip_space(ts, kind + 1, end);
                        msg = comma < end ? skip_space(ts, comma + 1, end) : end;
                        close = msg < end ? skip_space(ts, msg + 1, end) : end;
                        if (msg == end || ts->t[msg].type != TOKEN_STRING)
                                return log_debug_errno(EOPNOTSUPP, "Trigger %.*s: RAISE without a literal message.",
                                                       (int) ts->t[name].n, ts->t[name].p);
                        /* SQLite reports RAISE(ABORT) as SQLITE_CONSTRAINT: the same class here. */
                        r = emits(out, "RAISE EXCEPTION USING ERRCODE = '23000', MESSAGE = ");
                        if (r >= 0)
                                r = emit_token(out, &ts->t[msg]);
                        if (r >= 0)
                                r = emits(out, ";\n");
                }
                semi = close < end ? skip_space(ts, close + 1, end) : end;
                if (close == end || !token_is(&ts->t[close], ")") || semi == end || !token_is(&ts->t[semi], ";"))
                        return log_debug_errno(EOPNOTSUPP, "Trigger %.*s: malformed RAISE.", (int) ts->t[name].n,
                                               ts->t[name].p);
                i = semi;
        }
        if (r >= 0 && when)
                r = emits(out, "END IF;\n");
        if (r >= 0)
                r = emits(out, delete ? "RETURN OLD;\nEND $patela$;\nCREATE TRIGGER " :
                                        "RETURN NEW;\nEND $patela$;\nCREATE TRIGGER ");
        if (r >= 0)
                r = emit_token(out, &ts->t[name]);
        if (r >= 0)
                r = emits(out, " ");
        /* timing, event [OF columns] ON table: the same words in both. */
        if (r >= 0)
                r = translate_range(ts, NULL, timing, table + 1, out);
        if (r >= 0)
                r = emits(out, " FOR EACH ROW EXECUTE FUNCTION ");
        if (r >= 0)
                r = emit_token(out, &ts->t[name]);
        if (r >= 0)
                r = emits(out, "()");
        return r;
}

int db_sql_schema_to_pg(const char *sql, char **ret) {
        _cleanup_(tokens_done) Tokens ts = {};
        _cleanup_(byte_buffer_done) ByteBuffer out = {};
        size_t a = 0;
        int r;

        r = tokenize(sql, &ts);
        if (r < 0)
                return r;
        while (a < ts.n) {
                size_t first = skip_space(&ts, a, ts.n), second, end;
                bool trigger, table;
                unsigned depth = 0;

                if (first == ts.n)
                        break;
                second = skip_space(&ts, first + 1, ts.n);
                trigger = token_is(&ts.t[first], "CREATE") && second < ts.n && token_is(&ts.t[second], "TRIGGER");
                table = token_is(&ts.t[first], "CREATE") && second < ts.n && token_is(&ts.t[second], "TABLE");
                /* The statement's end: a ; outside parentheses (and, in a trigger, after its END). */
                for (end = first; end < ts.n; end++) {
                        if (token_is(&ts.t[end], "("))
                                depth++;
                        else if (token_is(&ts.t[end], ")"))
                                depth--;
                        else if (depth == 0 && token_is(&ts.t[end], ";")) {
                                size_t prev = end;

                                if (!trigger)
                                        break;
                                while (prev > first && ts.t[prev - 1].type == TOKEN_SPACE)
                                        prev--;
                                if (prev > first && token_is(&ts.t[prev - 1], "END"))
                                        break;
                        }
                }
                r = trigger ? translate_create_trigger(&ts, first, end, &out) :
                    table   ? translate_create_table(&ts, first, end, &out) :
                              translate_range(&ts, NULL, first, end, &out);
                if (r >= 0)
                        r = emits(&out, ";\n");
                if (r < 0)
                        return r;
                a = end + 1;
        }
        r = emit(&out, "", 1);
        if (r < 0)
                return r;
        *ret = (char *) TAKE_PTR(out.data);
        return 0;
}

int db_sql_query_to_pg(const char *sql, char **ret, unsigned *ret_n_params) {
        _cleanup_(tokens_done) Tokens ts = {};
        _cleanup_(byte_buffer_done) ByteBuffer out = {};
        ParamState params = { .next = 1 };
        size_t first, second, third, end, returning;
        int r;

        r = tokenize(sql, &ts);
        if (r < 0)
                return r;
        end = ts.n;
        first = skip_space(&ts, 0, end);
        second = first < end ? skip_space(&ts, first + 1, end) : end;
        third = second < end ? skip_space(&ts, second + 1, end) : end;
        if (first < end && token_is(&ts.t[first], "INSERT") && second < end && token_is(&ts.t[second], "OR") &&
            third < end && token_is(&ts.t[third], "IGNORE")) {
                /* INSERT OR IGNORE … [RETURNING …] → INSERT … ON CONFLICT DO NOTHING [RETURNING …] (what a
                 * constraint other than a unique one refuses stays an error, as in SQLite's IGNORE it would not:
                 * patela's uses are about duplicates). */
                unsigned depth = 0;

                while (end > third && (ts.t[end - 1].type == TOKEN_SPACE || token_is(&ts.t[end - 1], ";")))
                        end--;
                for (returning = third + 1; returning < end; returning++) {
                        if (token_is(&ts.t[returning], "("))
                                depth++;
                        else if (token_is(&ts.t[returning], ")"))
                                depth--;
                        else if (depth == 0 && token_is(&ts.t[returning], "RETURNING"))
                                break;
                }
                r = emits(&out, "INSERT");
                if (r >= 0)
                        r = translate_range(&ts, &params, third + 1, returning, &out);
                if (r >= 0)
                        r = emits(&out, returning < end ? "ON CONFLICT DO NOTHING " : " ON CONFLICT DO NOTHING");
                if (r >= 0)
                        r = translate_range(&ts, &params, returning, end, &out);
        } else
                r = translate_range(&ts, &params, 0, end, &out);
        if (r >= 0)
                r = emit(&out, "", 1);
        if (r < 0)
                return r;
        *ret = (char *) TAKE_PTR(out.data);
        if (ret_n_params)
                *ret_n_params = params.max;
        return 0;
}
