/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The admin CLI's image verbs: image add|list|show|retire (patela-server(8), IMAGES). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "log.h"
#include "server-cli.h"
#include "server-images.h"
#include "string-util.h"

static json_object *image_to_json(const Image *i) {
        json_object *o = json_object_new_object(), *pcr11 = json_object_new_object(),
                    *os = json_object_new_object();
        char t[32];

        json_object_object_add(o, "name", json_object_new_string(i->name));
        json_object_object_add(o, "ukiSha256", json_object_new_string(i->uki_sha256));
        json_object_object_add(o, "ukiSize", i->uki_size > 0 ? json_object_new_uint64(i->uki_size) : NULL);
        json_object_object_add(o, "ukiAuthenticode", json_object_new_string(i->uki_authenticode));
        json_object_object_add(o, "kernelAuthenticode",
                               i->kernel_authenticode[0] ? json_object_new_string(i->kernel_authenticode) : NULL);
        json_object_object_add(o, "pcr9", json_object_new_string(i->pcr9));
        for (ImagePhase p = 0; p < _IMAGE_PHASE_MAX; p++)
                json_object_object_add(pcr11, image_phase_to_string(p), json_object_new_string(i->pcr11[p]));
        json_object_object_add(o, "pcr11", pcr11);
        for (OsReleaseField f = 0; f < _OS_RELEASE_FIELD_MAX; f++)
                if (i->os_release.values[f][0])
                        json_object_object_add(os, os_release_field_to_string(f),
                                               json_object_new_string(i->os_release.values[f]));
        json_object_object_add(o, "osRelease", os);
        json_object_object_add(o, "referenceVersion", json_object_new_int((int) i->reference_version));
        cli_format_time(i->added_at, t, sizeof(t));
        json_object_object_add(o, "added", json_object_new_string(t));
        cli_format_time(i->retired_at, t, sizeof(t));
        json_object_object_add(o, "retired", i->retired_at > 0 ? json_object_new_string(t) : NULL);
        json_object_object_add(o, "nodes", json_object_new_int((int) i->n_nodes));
        return o;
}

static void print_image(Cli *cli, json_object *o) {
        if (cli->json)
                cli_print_json(o);
        else {
                cli_print_fields(o);
                json_object_put(o);
        }
}

/* "ID VERSION_ID" for the table: which distribution an image is built on. */
static void os_summary(const OsRelease *os, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s", os->values[OS_RELEASE_ID], os->values[OS_RELEASE_VERSION_ID][0] ? " " : "",
                 os->values[OS_RELEASE_VERSION_ID]);
}

static int image_add_verb(Cli *cli, const char *path, const char *name_arg) {
        _cleanup_free_ char *text = NULL;
        char name[IMAGE_NAME_MAX + 1];
        ImageConflict conflict = {};
        BootError e = {};
        ImageReference ref;
        size_t size;
        Image image;
        Db *db;
        int r;

        /* Bounded: a reference is a few KB, the parser takes at most IMAGE_REFERENCE_SIZE_MAX. */
        r = read_full_file(path, IMAGE_REFERENCE_SIZE_MAX, (void **) &text, &size);
        if (r == -E2BIG)
                return log_error_errno(r, "%s is larger than %u KiB: not an image reference.", path,
                                       IMAGE_REFERENCE_SIZE_MAX / 1024), EXIT_USAGE;
        if (r == -ENOENT)
                return log_error_errno(r, "No file %s.", path), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path), EXIT_FAILURE;
        r = image_reference_parse(text, size, &ref, &e);
        if (r == -EBADMSG || r == -E2BIG)
                return log_error_errno(r, "%s is not an image reference: %s.", path, e.reason ?: "malformed"),
                       EXIT_USAGE;
        if (r < 0)
                return log_error_errno(r, "Failed to parse %s: %m", path), EXIT_FAILURE;

        if (name_arg) {
                if (!image_name_is_valid(name_arg))
                        return log_error_errno(EINVAL, "Invalid image name '%s': 1-%u of A-Z a-z 0-9 . _ ~ + -, "
                                               "starting with a letter or digit.", name_arg, IMAGE_NAME_MAX),
                               EXIT_USAGE;
                snprintf(name, sizeof(name), "%s", name_arg);
        } else {
                r = image_default_name(&ref, name);
                if (r == -EINVAL)
                        return log_error_errno(r, "The image's os-release gives no valid name; "
                                               "choose one with --name."), EXIT_USAGE;
                if (r < 0)
                        return log_oom(), EXIT_FAILURE;
        }

        r = cli_db(cli, &db);
        if (r < 0)
                return cli_exit_status(r);
        r = image_add(db, name, &ref, text, size, &image, &conflict);
        if (r == -EEXIST && conflict.what && streq(conflict.what, "name"))
                return log_error_errno(r, "An image named %s is registered already; nothing added.", name),
                       EXIT_REFUSED;
        if (r == -EEXIST && conflict.what)
                return log_error_errno(r, "The %s of %s is registered already, as image %s%s; nothing added.",
                                       conflict.what, path, conflict.image,
                                       streq(conflict.what, "Authenticode digest")
                                               ? " (the same UKI, signed otherwise: it measures the same)"
                                               : ""),
                       EXIT_REFUSED;
        if (r == -EEXIST)
                return log_error_errno(r, "Image %s or its UKI is registered already; nothing added.", name),
                       EXIT_REFUSED;
        if (r < 0)
                return log_error_errno(r, "Failed to register image %s: %s", name, db_error(db)),
                       cli_exit_status(r);
        log_info("Registered image %s (UKI SHA-256 %s, reference version %u).", image.name, image.uki_sha256,
                 image.reference_version);
        if (cli->json)
                cli_print_json(image_to_json(&image));
        return EXIT_SUCCESS;
}

static int image_list_verb(Cli *cli) {
        static const char *const headers[] = { "NAME", "OS", "UKI SHA-256", "ADDED", "RETIRED", "NODES" };
        _cleanup_(table_freep) Table *t = NULL;
        _cleanup_free_ Image *images = NULL;
        json_object *arr;
        size_t n;
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r >= 0)
                r = image_list(db, &images, &n);
        if (r < 0)
                return log_error_errno(r, "Failed to list the images: %m"), cli_exit_status(r);
        t = table_new(headers, ELEMENTSOF(headers));
        arr = json_object_new_array();
        if (!t || !arr) {
                json_object_put(arr);
                return log_oom(), EXIT_FAILURE;
        }
        for (size_t i = 0; i < n; i++) {
                char os[2 * OS_RELEASE_VALUE_MAX], uki[20], added[32], retired[32], nodes[16];

                os_summary(&images[i].os_release, os, sizeof(os));
                /* 16 hex digits tell images apart in a table; show and --json have all 64. */
                snprintf(uki, sizeof(uki), "%.16s", images[i].uki_sha256);
                cli_format_time(images[i].added_at, added, sizeof(added));
                cli_format_time(images[i].retired_at, retired, sizeof(retired));
                snprintf(nodes, sizeof(nodes), "%u", images[i].n_nodes);
                const char *row[] = { images[i].name, os[0] ? os : NULL, uki, added, retired, nodes };
                (void) table_add_row(t, row);
                json_object_array_add(arr, image_to_json(&images[i]));
        }
        cli_print_list(cli, arr, t);
        return EXIT_SUCCESS;
}

static int image_show_verb(Cli *cli, const char *name) {
        _cleanup_free_ char *reference = NULL;
        json_object *o;
        Image image;
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r >= 0)
                r = image_get(db, name, &image, cli->json ? &reference : NULL);
        if (r == -ENOENT)
                return log_error_errno(r, "No image '%s'.", name), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to read image '%s': %m", name), cli_exit_status(r);
        o = image_to_json(&image);
        if (reference)
                /* As received: the records and the values they were checked against. */
                json_object_object_add(o, "reference", json_tokener_parse(reference));
        print_image(cli, o);
        return EXIT_SUCCESS;
}

static int image_retire_verb(Cli *cli, const char *name) {
        char at[32];
        Image image;
        Db *db;
        int r;

        r = cli_db(cli, &db);
        if (r >= 0)
                r = image_retire(db, name, &image);
        if (r == -ENOENT)
                return log_error_errno(r, "No image '%s'.", name), EXIT_NOT_FOUND;
        if (r < 0)
                return log_error_errno(r, "Failed to retire image '%s': %m", name), cli_exit_status(r);
        cli_format_time(image.retired_at, at, sizeof(at));
        if (r == 0)
                log_info("Image %s was retired already, at %s; unchanged.", name, at);
        else
                log_info("Image %s retired at %s; %u node%s last booted it: at their next session check "
                         "(CheckInterval=) they attest again and are refused (RetiredImage), their relays stop.",
                         name, at, image.n_nodes, image.n_nodes == 1 ? "" : "s");
        if (cli->json)
                cli_print_json(image_to_json(&image));
        return EXIT_SUCCESS;
}

int verb_image(Cli *cli, int argc, char **argv) {
        const char *sub = argc > 1 ? argv[1] : "list", *name = NULL, *file = NULL;

        if (streq(sub, "add")) {
                for (int i = 2; i < argc; i++) {
                        const char *v;

                        if ((v = startswith(argv[i], "--name=")))
                                name = v;
                        else if (streq(argv[i], "--name") && i + 1 < argc)
                                name = argv[++i];
                        else if (!file && argv[i][0] != '-')
                                file = argv[i];
                        else
                                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[i]), EXIT_USAGE;
                }
                if (!file)
                        return log_error_errno(EINVAL, "Usage: image add FILE [--name NAME]"), EXIT_USAGE;
                return image_add_verb(cli, file, name);
        }
        if (streq(sub, "list")) {
                if (argc > 2)
                        return log_error_errno(EINVAL, "image list takes no arguments."), EXIT_USAGE;
                return image_list_verb(cli);
        }
        if (streq(sub, "show") || streq(sub, "retire")) {
                if (argc != 3)
                        return log_error_errno(EINVAL, "Usage: image %s NAME", sub), EXIT_USAGE;
                return streq(sub, "show") ? image_show_verb(cli, argv[2]) : image_retire_verb(cli, argv[2]);
        }
        return log_error_errno(EINVAL, "Unknown image verb '%s': add, list, show or retire.", sub), EXIT_USAGE;
}
