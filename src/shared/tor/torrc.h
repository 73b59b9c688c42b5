/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include "macro.h"
#include "tor-options.h"

/* torrc at three levels, the way tor itself layers torrc-defaults, torrc and its command line
 * (doc/torrc_format.txt, lib/confmgt/type_defs.c):
 *
 *   "Name value"   the first line of an accumulating option in a level replaces the lines of the
 *                  lower levels; further lines in the same level add to it. For a single-valued
 *                  option every line overrides.
 *   "+Name value"  adds to the lines of the lower levels.
 *   "/Name"        removes the option: tor falls back to its built-in default.
 *
 * A Torrc is one level (or one torrc file): an ordered list of those operations. torrc_merge()
 * applies the levels in order (global default → node → relay → forced) and gives the lines tor
 * would see, each with the level it came from; torrc_merged_render() writes them as a torrc.
 *
 * Accumulating are tor's LineList options (ExitPolicy, Log, MyFamily, OutboundBindAddress…) and the
 * Dependent ones, whose lines tor keeps in one list per Virtual option: ORPort with __ORPort
 * (ORPortLines), likewise SocksPort, ControlPort, DirPort…, and all HiddenService* options
 * (HiddenServiceOptions). Setting, appending or unsetting such an option acts on its whole list,
 * and the list keeps its relative order across names (a HiddenServicePort follows its
 * HiddenServiceDir). */

#define TORRC_SIZE_MAX (1024U * 1024U) /* a whole torrc */
#define TORRC_LINE_MAX (64U * 1024U)   /* one line of text, and one value */
#define TORRC_ENTRIES_MAX 10000U       /* operations in one Torrc */

/* Why a torrc was refused. line is 1-based, 0 when the problem is not about a line of text. */
typedef struct TorrcError {
        unsigned line;
        char message[256];
} TorrcError;

typedef enum TorrcOp {
        TORRC_OP_SET,    /* replace the option's lines of lower levels by this one */
        TORRC_OP_APPEND, /* add a line to those of lower levels (cumulative options only) */
        TORRC_OP_UNSET,  /* drop the option's lines of lower levels */
        _TORRC_OP_MAX,
        _TORRC_OP_INVALID = -EINVAL,
} TorrcOp;

typedef struct TorrcEntry {
        TorrcOp op;
        const TorOption *option;
        char *value;   /* normalized (booleans as 0/1/auto); NULL for TORRC_OP_UNSET */
        unsigned line; /* where it was parsed; 0 if added with torrc_set() and friends */
} TorrcEntry;

/* Read the fields, change them only through the functions below: they keep the invariants (a SET
 * is the first entry of its option's list in a Torrc; single-valued options have no APPEND). */
typedef struct Torrc {
        TorrcEntry *entries;
        size_t n_entries;
        size_t n_allocated;
} Torrc;

/* An empty Torrc. */
int torrc_new(Torrc **ret);
/* Frees the Torrc and its values. Accepts NULL, returns NULL. */
Torrc *torrc_free(Torrc *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Torrc *, torrc_free);

/* Parses torrc text (size bytes; NUL bytes are refused, no terminator needed) with tor's rules:
 * '#' comments anywhere outside a quoted value, backslash-newline continuation (comment lines
 * inside a continued value are dropped, as tor does), "…" values with C escapes (\n \r \t \\ \"
 * \' \xHH \ooo), "+Name" and "/Name" as above. Keywords are matched in any case and stored with
 * tor's spelling; unknown and Virtual options, %include, values that are empty or hold a NUL, a
 * line break or another control character (tab is fine), or are not UTF-8, are refused. At most
 * TORRC_SIZE_MAX bytes, lines of TORRC_LINE_MAX, TORRC_ENTRIES_MAX entries (-E2BIG).
 * Returns -EINVAL (or -E2BIG) with ret_error naming the line and the problem.
 *
 * Here and below, ret_error may be NULL; it is written only on failure, always with a message (for
 * -ENOMEM, strerror()'s). */
int torrc_parse(const char *text, size_t size, Torrc **ret, TorrcError *ret_error);

/* Validates a value for the option and returns it normalized: booleans accept 0/1, true/false,
 * yes/no, on/off in any case (and "auto" for Boolean+Auto) and become 0, 1 or auto, the form tor
 * accepts. -EINVAL (-E2BIG if longer than TORRC_LINE_MAX) with a message in ret_error. */
int torrc_normalize_value(const TorOption *option, const char *value, char **ret, TorrcError *ret_error);

/* Makes the level say "Name value": drops the level's own entries for the option's list and adds a
 * SET, so that the lower levels' lines are replaced by this one. name in any case; the value is
 * validated as by torrc_parse(). -EINVAL (unknown or Virtual option, bad value) or -E2BIG with
 * ret_error filled in. */
int torrc_set(Torrc *t, const char *name, const char *value, TorrcError *ret_error);

/* Adds a line to an accumulating option ("+Name value"); for a single-valued option the same as
 * torrc_set(). Errors as torrc_set(). */
int torrc_append(Torrc *t, const char *name, const char *value, TorrcError *ret_error);

/* Makes the level say "/Name": drops the level's own entries for the option's list and removes the
 * lower levels' lines. Errors as torrc_set(). */
int torrc_unset(Torrc *t, const char *name, TorrcError *ret_error);

/* Drops the level's own entries for the option's list, so that the level inherits it again.
 * Returns the number of entries dropped, or -EINVAL for an unknown option. */
int torrc_remove(Torrc *t, const char *name, TorrcError *ret_error);

/* Whether a relay's torrc from the server is safe to run on a node: no option that names a path (Filename
 * options, ControlSocket, HiddenServiceDir, Log to a file), runs a program (the transport plugins), or
 * opens a control, metrics or client listener off loopback. -EPERM with the line and the reason. */
int torrc_check_node_policy(const Torrc *t, TorrcError *ret_error);

/* Writes the level's operations in order as torrc text that torrc_parse() reads back as the same
 * Torrc: "Name value", "+Name value" or "/Name", values quoted where needed. */
int torrc_render(const Torrc *t, char **ret);

/* True if both hold the same operations in the same order (parsed line numbers are ignored). */
bool torrc_equal(const Torrc *a, const Torrc *b) _pure_;

typedef enum TorrcLevel {
        TORRC_LEVEL_DEFAULT, /* the global default */
        TORRC_LEVEL_NODE,
        TORRC_LEVEL_RELAY,
        TORRC_LEVEL_FORCED, /* from the relay's allocation (Nickname, ORPort, Address…): applied last */
        _TORRC_LEVEL_MAX,
        _TORRC_LEVEL_INVALID = -EINVAL,
} TorrcLevel;

/* "default", "node", "relay", "forced"; NULL if out of range. */
const char *torrc_level_to_string(TorrcLevel l) _const_;
/* The reverse; _TORRC_LEVEL_INVALID for an unknown name. */
TorrcLevel torrc_level_from_string(const char *s) _pure_;

/* One line of the resulting torrc and where it came from. */
typedef struct TorrcLine {
        const TorOption *option;
        char *value;
        TorrcLevel level; /* the level whose entry made this line */
        unsigned line;    /* that entry's line in its level's text, 0 if not parsed */
} TorrcLine;

/* The merged configuration: lines sorted by option name (the name of its list for Dependent options),
 * an accumulating option's lines in the order the levels gave them. */
typedef struct TorrcMerged {
        TorrcLine *lines;
        size_t n_lines;
} TorrcMerged;

/* tor's first-match policies (ExitPolicy, SocksPolicy, DirPolicy, MetricsPortPolicy). */
bool tor_option_is_first_match(const TorOption *o) _pure_;

/* Applies levels[TORRC_LEVEL_DEFAULT] … levels[TORRC_LEVEL_FORCED] in that order; a NULL level is
 * empty. The lines of a first-match policy come out in the order operators mean a cascade: each level's
 * own lines before those of the levels below it (a node's "reject *:25" overrides the fleet's "accept *:25"),
 * and every level's catch-all tail ("reject *:*" and the like at the end of its lines) after all of them, the
 * most specific level's first. A SET still replaces the lines of the levels below. Entries of the forced level made with torrc_set() replace whatever the other levels said.
 * The result owns copies of the values. */
int torrc_merge(const Torrc *const levels[static _TORRC_LEVEL_MAX], TorrcMerged **ret);
/* Accepts NULL, returns NULL. */
TorrcMerged *torrc_merged_free(TorrcMerged *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(TorrcMerged *, torrc_merged_free);

/* Writes the merged lines as a torrc for tor, "Name value" per line in the merged order; parsing it
 * and merging it as a single level gives the same lines. */
int torrc_merged_render(const TorrcMerged *m, char **ret);

/* True if both have the same lines (option and value) in the same order; provenance is ignored. */
bool torrc_merged_equal(const TorrcMerged *a, const TorrcMerged *b) _pure_;
