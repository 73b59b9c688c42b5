/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "image-reference.h"
#include "server-db.h"

/* The image registry: the images nodes may boot, each registered from its reference
 * (patela.reference.json) and immutable from then on, retired at most once (the table's triggers enforce
 * both: migration 0003). And what the verifier records per node: the image it booted last, its last
 * verdict. */

#define IMAGE_NAME_MAX 64U

typedef struct Image {
        int64_t id;
        char name[IMAGE_NAME_MAX + 1];
        char uki_sha256[65];
        uint64_t uki_size;                      /* 0: the reference did not say */
        char uki_authenticode[65];              /* PCR 4 */
        char kernel_authenticode[65];           /* PCR 4; "" when the reference has none */
        char pcr9[65];
        char pcr11[_IMAGE_PHASE_MAX][65];
        OsRelease os_release;
        unsigned reference_version;
        int64_t added_at;
        int64_t retired_at;                     /* 0: in service */
        unsigned n_nodes;                       /* nodes whose last boot was this image */
} Image;

/* 1–64 of [A-Za-z0-9._~+-], starting with a letter or digit. */
bool image_name_is_valid(const char *name) _pure_;

/* The name an image gets without --name: IMAGE_ID (else ID) and IMAGE_VERSION, joined by '-'. Without
 * IMAGE_VERSION two builds share their os-release, so VERSION_ID (if any) and the first 12 hex digits of
 * the UKI's SHA-256 take its place. -EINVAL if that is no valid name. */
int image_default_name(const ImageReference *ref, char ret[static IMAGE_NAME_MAX + 1]);

/* Which registered image holds what image_add() refused. */
typedef struct ImageConflict {
        const char *what;                       /* "name", "UKI SHA-256", "Authenticode digest": static */
        char image[IMAGE_NAME_MAX + 1];
} ImageConflict;

/* Registers the image parsed from text (size bytes, stored as received) under name, in one write
 * transaction. -EEXIST if the name, the UKI's SHA-256 or its Authenticode digest (the same UKI signed
 * differently measures the same) is registered, retired images included, with *reterr_conflict (may be
 * NULL) saying which. */
int image_add(Db *db, const char *name, const ImageReference *ref, const char *text, size_t size, Image *ret,
              ImageConflict *reterr_conflict);

/* All images, oldest first. */
int image_list(Db *db, Image **ret, size_t *ret_n);

/* One image by name; *ret_reference (may be NULL) gets the reference as received. -ENOENT. */
int image_get(Db *db, const char *name, Image *ret, char **ret_reference);

/* The image whose UKI has this Authenticode digest (64 lower-case hex digits), the one a PCR 4 application
 * event names; retired images too. Fills what the verifier compares: id, name, the Authenticode digests, PCR 9
 * and 11, retired_at. -ENOENT. */
int image_find_by_authenticode(Db *db, const char *hex, Image *ret);

/* Retires the image now. 1 if this call retired it, 0 if it was retired before (nothing changes: the first
 * retirement stands). -ENOENT. */
int image_retire(Db *db, const char *name, Image *ret);

/* A node's image and last verdict, for the CLI. Until the verifier records verdicts, the newest entry of
 * the attestation log stands in for the verdict (from_log). */
typedef struct NodeBootStatus {
        char image[IMAGE_NAME_MAX + 1];         /* "": not known */
        char verdict[32];                       /* "": none */
        char reason[256];
        int64_t at;
        bool from_log;
} NodeBootStatus;

int node_boot_status(Db *db, int64_t node_id, NodeBootStatus *ret);
