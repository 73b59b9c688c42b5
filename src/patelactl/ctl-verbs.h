/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ctl-varlink.h"

/* Each verb returns 0 or the exit code it chose (≥ 0), or a negative errno (see ctl_exit_code()). */
int verb_status(const Ctl *c);
int verb_identity(const Ctl *c);
int verb_keys_list(const Ctl *c);
int verb_keys_reseal_check(const Ctl *c);
int verb_config_show(const Ctl *c);
int verb_config_diff(const Ctl *c);
int verb_attest(const Ctl *c);
int verb_relays(const Ctl *c);
int verb_log_verify(const Ctl *c);
