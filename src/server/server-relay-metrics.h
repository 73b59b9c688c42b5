/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "tor-metrics.h"

/* relay_metrics.dns_errors: the non-zero reasons as "reason:count reason:count", in TorDnsReason order. */
void relay_metrics_dns_errors_format(const TorRelayMetrics *m, char *buf, size_t size);
int relay_metrics_dns_errors_parse(const char *text, uint64_t ret[static _TOR_DNS_REASON_MAX]);
