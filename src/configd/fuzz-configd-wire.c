/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* patela-configd's decoding of server replies: a body through the JSON parser and every decoder, and each
 * decoded relay through the relay check (name, addresses, torrc parser). */
#include <stdlib.h>

#include "configd-wire.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        sd_json_variant *v = NULL;
        WireServerError se;
        WireEnroll en;
        WireAttest at;
        WireNetwork nw = {};
        WireRelay *relays = NULL;
        WireError e;
        size_t n = 0;

        if (wire_parse_body((const char *) data, size, false, &v, &e) < 0)
                return 0;
        (void) wire_decode_error(v, &se, &e);
        (void) wire_decode_enroll(v, false, &en, &e);
        (void) wire_decode_enroll(v, true, &en, &e);
        (void) wire_decode_attest(v, &at, &e);
        if (wire_decode_network(v, &nw, &e) >= 0)
                wire_network_done(&nw);
        if (wire_decode_relays(v, &relays, &n, &e) >= 0) {
                for (size_t i = 0; i < n; i++)
                        (void) wire_check_relay(&relays[i], &e);
                wire_relays_free(relays, n);
        }
        sd_json_variant_unref(v);
        return 0;
}
