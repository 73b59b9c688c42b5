/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A relay's MetricsPort answer as patela-configd reads it (src/shared/tor/tor-metrics.c). */
#include <stdlib.h>

#include "fuzz.h"
#include "tor-metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TorRelayMetrics m;

        if (tor_metrics_parse((const char *) data, size, &m) >= 0 && (m.flags >> _TOR_RELAY_FLAG_MAX) != 0)
                abort();
        return 0;
}
