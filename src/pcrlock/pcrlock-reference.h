/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "image-reference.h"

/* A UKI's reference, as `patela-pcrlock reference` prints it. The format, its parser and the PCR replay are
 * src/shared/boot/image-reference.h: patela-server reads references too. */

/* The UKI's records (image_measurements_from_uki()), SHA-256, size, and the os-release identity of its
 * .osrel section (none without one). -EBADMSG if it is not a UKI or its .osrel is not an os-release file
 * os_release_parse() accepts, with *reterr_problem (may be NULL) saying which. */
int reference_from_uki(const uint8_t *data, size_t size, ImageReference *ret, const char **reterr_problem);
