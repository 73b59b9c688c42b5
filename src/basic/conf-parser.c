/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "fd-util.h"
#include "macro.h"
#include "string-util.h"

int conf_parse(const char *text, size_t size, const char *section, conf_set_t set, void *userdata,
               unsigned *ret_line) {
        _cleanup_free_ char *copy = NULL;
        char header[128];
        bool in_section = false;
        unsigned line = 0;
        char *next;
        int r;

        *ret_line = 0;
        if (size > CONF_FILE_MAX)
                return -E2BIG;
        if (memchr(text, '\0', size))
                return -EBADMSG;
        copy = strndup(text, size);
        if (!copy)
                return -ENOMEM;
        snprintf(header, sizeof(header), "[%s]", section);

        for (char *l = copy; l; l = next) {
                char *eq;

                next = strchr(l, '\n');
                if (next)
                        *next++ = '\0';
                *ret_line = ++line;
                if (strlen(l) > CONF_LINE_MAX)
                        return -E2BIG;
                l = strstrip(l);
                if (*l == '\0' || *l == '#' || *l == ';')
                        continue;
                if (*l == '[') {
                        in_section = streq(l, header);
                        if (!in_section)
                                return -EBADMSG;
                        continue;
                }
                eq = strchr(l, '=');
                if (!in_section || !eq)
                        return -EBADMSG;
                *eq = '\0';
                r = set(userdata, strstrip(l), strstrip(eq + 1));
                if (r < 0)
                        return r;
        }
        *ret_line = 0;
        return 0;
}

static int load_file(const char *path, bool must_exist, const char *section, conf_set_t set, void *userdata,
                     ConfError *err) {
        _cleanup_free_ char *text = NULL;
        size_t size;
        int r;

        snprintf(err->path, sizeof(err->path), "%s", path);
        err->line = 0;
        r = read_full_file(path, CONF_FILE_MAX, (void **) &text, &size);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0)
                return r;
        return conf_parse(text, size, section, set, userdata, &err->line);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int conf_load(const char *path, const char *main_file, const char *dropin_dir, const char *section, conf_set_t set,
              void *userdata, ConfError *err) {
        char *names[CONF_DROPINS_MAX];
        unsigned n = 0;
        DIR *d;
        int r;

        *err = (ConfError) {};
        if (path)
                return load_file(path, /* must_exist= */ true, section, set, userdata, err);

        r = load_file(main_file, /* must_exist= */ false, section, set, userdata, err);
        if (r < 0)
                return r;

        snprintf(err->path, sizeof(err->path), "%s", dropin_dir);
        d = opendir(dropin_dir);
        if (!d)
                return errno == ENOENT ? 0 : negative_errno();
        r = 0;
        for (struct dirent *de; (de = readdir(d));) {
                size_t l = strlen(de->d_name);

                if (de->d_name[0] == '.' || l < 6 || !streq(de->d_name + l - 5, ".conf"))
                        continue;
                if (n >= ELEMENTSOF(names)) {
                        r = -E2BIG;
                        break;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (r >= 0)
                qsort(names, n, sizeof(char *), cmp_str);

        for (unsigned i = 0; i < n && r >= 0; i++) {
                char p[PATH_MAX];

                if (snprintf(p, sizeof(p), "%s/%s", dropin_dir, names[i]) >= (int) sizeof(p))
                        r = -ENAMETOOLONG;
                else
                        r = load_file(p, /* must_exist= */ true, section, set, userdata, err);
        }
        for (unsigned i = 0; i < n; i++)
                free(names[i]);
        return r;
}
