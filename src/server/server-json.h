/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* json-c for the admin CLI's --json output and the configuration cascade's settings. The node protocol's
 * JSON is src/shared/protocol's. */
#include <json-c/json.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);
