/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <strings.h>

#include "tor-options.h"

static int option_compare(const void *key, const void *member) {
        const TorOption *o = member;

        return strcasecmp(key, o->name);
}

const TorOption *tor_option_find(const char *name) {
        if (isempty(name))
                return NULL;
        /* The generator sorts by the lower-cased names in byte order, which is strcasecmp()'s order. */
        return bsearch(name, tor_options, tor_options_count, sizeof(TorOption), option_compare);
}

const TorOption *tor_option_group(const TorOption *o) {
        const TorOption *g;

        if (o->type != TOR_OPTION_DEPENDENT || !o->group)
                return o;
        g = tor_option_find(o->group);
        /* The generator refuses to write a Dependent option without its Virtual option. */
        return g ?: o;
}

bool tor_option_is_cumulative(const TorOption *o) {
        return o->type == TOR_OPTION_LINE_LIST || o->type == TOR_OPTION_DEPENDENT ||
                o->type == TOR_OPTION_VIRTUAL;
}

static const char *const type_names[_TOR_OPTION_TYPE_MAX] = {
        [TOR_OPTION_BOOLEAN] = "Boolean",
        [TOR_OPTION_AUTOBOOL] = "Boolean+Auto",
        [TOR_OPTION_COMMA_LIST] = "CommaList",
        [TOR_OPTION_DATA_SIZE] = "DataSize",
        [TOR_OPTION_DEPENDENT] = "Dependent",
        [TOR_OPTION_FILENAME] = "Filename",
        [TOR_OPTION_FLOAT] = "Float",
        [TOR_OPTION_INTEGER] = "Integer",
        [TOR_OPTION_LINE_LIST] = "LineList",
        [TOR_OPTION_ROUTER_LIST] = "RouterList",
        [TOR_OPTION_SIGNED_INTEGER] = "SignedInteger",
        [TOR_OPTION_STRING] = "String",
        [TOR_OPTION_TIME] = "Time",
        [TOR_OPTION_TIME_INTERVAL] = "TimeInterval",
        [TOR_OPTION_TIME_MSEC_INTERVAL] = "TimeMsecInterval",
        [TOR_OPTION_VIRTUAL] = "Virtual",
};

const char *tor_option_type_to_string(TorOptionType t) {
        if (t < 0 || t >= _TOR_OPTION_TYPE_MAX)
                return NULL;
        return type_names[t];
}
