/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <systemd/sd-json.h>
#include <unistd.h>

#include "fd-util.h"
#include "hexdecoct.h"
#include "pcrlock-component.h"
#include "string-util.h"

int component_format(const ImageMeasurements *m, char **ret) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *records = NULL, *v = NULL;
        int r;

        for (size_t i = 0; i < m->n; i++) {
                _cleanup_free_ char *hex = hexmem(m->records[i].sha256, 32);

                if (!hex)
                        return -ENOMEM;
                r = sd_json_variant_append_arraybo(
                                &records, SD_JSON_BUILD_PAIR_UNSIGNED("pcr", m->records[i].pcr),
                                SD_JSON_BUILD_PAIR("digests", SD_JSON_BUILD_ARRAY(SD_JSON_BUILD_OBJECT(
                                                                      SD_JSON_BUILD_PAIR_STRING("hashAlg", "sha256"),
                                                                      SD_JSON_BUILD_PAIR_STRING("digest", hex)))));
                if (r < 0)
                        return r;
        }
        if (!records) {
                r = sd_json_variant_new_array(&records, NULL, 0);
                if (r < 0)
                        return r;
        }
        r = sd_json_buildo(&v, SD_JSON_BUILD_PAIR_VARIANT("records", records));
        if (r < 0)
                return r;
        r = sd_json_variant_format(v, 0, ret);
        return r < 0 ? r : 0;
}

static int component_dir(const char *dir, const char *name, char **ret) {
        return asprintf(ret, "%s/%s.pcrlock.d", dir, name) < 0 ? -ENOMEM : 0;
}

static int mkdir_p(const char *path) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int component_write(const char *dir, const char *name, const char *variant, const ImageMeasurements *m) {
        _cleanup_free_ char *d = NULL, *text = NULL, *path = NULL, *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;
        int r;

        r = component_dir(dir, name, &d);
        if (r < 0)
                return r;
        r = mkdir_p(d);
        if (r < 0)
                return r;
        r = component_format(m, &text);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s.pcrlock", d, variant) < 0 || asprintf(&tmp, "%s/.#%s.pcrlock", d, variant) < 0)
                return -ENOMEM;
        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        size = strlen(text);
        for (size_t done = 0; done < size;) {
                ssize_t n = write(fd, text + done, size - done);
                if (n < 0) {
                        r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                done += (size_t) n;
        }
        if (write(fd, "\n", 1) != 1 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return 0;
}

static int prune_one(const char *dir, const char *name, const char *keep) {
        _cleanup_free_ char *d = NULL, *keep_file = NULL;
        DIR *dp;
        struct dirent *de;
        int r, n = 0;

        r = component_dir(dir, name, &d);
        if (r < 0)
                return r;
        if (keep && asprintf(&keep_file, "%s.pcrlock", keep) < 0)
                return -ENOMEM;
        dp = opendir(d);
        if (!dp)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(dp))) {
                size_t len = strlen(de->d_name);

                if (len <= strlen(".pcrlock") || !streq(de->d_name + len - strlen(".pcrlock"), ".pcrlock"))
                        continue;
                if (keep_file && streq(de->d_name, keep_file))
                        continue;
                if (unlinkat(dirfd(dp), de->d_name, 0) < 0) {
                        r = -errno;
                        closedir(dp);
                        return r;
                }
                n++;
        }
        closedir(dp);
        return n;
}

int component_prune(const char *dir, const char *keep) {
        int a, b;

        a = prune_one(dir, COMPONENT_NAME, keep);
        if (a < 0)
                return a;
        b = prune_one(dir, COMPONENT_LOAD_NAME, keep);
        if (b < 0)
                return b;
        return a + b;
}

bool component_early_load(const char *dir) {
        _cleanup_free_ char *p = NULL;

        if (asprintf(&p, "%s/%s.pcrlock.d/%s.pcrlock", dir, COMPONENT_LOAD_NAME, VARIANT_BOOT) < 0)
                return false;
        return access(p, F_OK) >= 0;
}

int component_write_image(const char *dir, const char *variant, const ImageMeasurements *m, bool early_load) {
        ImageMeasurements first = {}, rest = {};
        int r;

        if (!early_load)
                return component_write(dir, COMPONENT_NAME, variant, m);
        if (m->n == 0 || m->records[0].pcr != 4)
                return -EINVAL;
        first.records[first.n++] = m->records[0];
        for (size_t i = 1; i < m->n; i++)
                rest.records[rest.n++] = m->records[i];
        r = component_write(dir, COMPONENT_LOAD_NAME, variant, &first);
        if (r < 0)
                return r;
        return component_write(dir, COMPONENT_NAME, variant, &rest);
}

int component_uki_variant(const uint8_t *data, size_t size, char **ret) {
        uint8_t digest[32];
        _cleanup_free_ char *hex = NULL;

        SHA256(data, size, digest);
        hex = hexmem(digest, 8);
        if (!hex)
                return -ENOMEM;
        return asprintf(ret, "2-uki-%s", hex) < 0 ? -ENOMEM : 0;
}

int component_unlock_firmware_uki(const char *dir, const uint8_t uki_sha256[static 32]) {
        _cleanup_(sd_json_variant_unrefp) sd_json_variant *v = NULL, *kept = NULL, *out = NULL;
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL, *hex = NULL;
        _cleanup_close_ int fd = -EBADF;
        sd_json_variant *records;
        size_t size;
        int r, removed = 0;

        if (asprintf(&path, "%s/%s", dir, FIRMWARE_EARLY_FILE) < 0 || asprintf(&tmp, "%s.patela-tmp", path) < 0)
                return -ENOMEM;
        hex = hexmem(uki_sha256, 32);
        if (!hex)
                return -ENOMEM;
        r = read_full_file(path, 1024 * 1024, (void **) &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = sd_json_parse(text, 0, &v, NULL, NULL);
        if (r < 0)
                return r;
        records = sd_json_variant_by_key(v, "records");
        if (!records || !sd_json_variant_is_array(records))
                return -EBADMSG;
        r = sd_json_variant_new_array(&kept, NULL, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sd_json_variant_elements(records); i++) {
                sd_json_variant *rec = sd_json_variant_by_index(records, i), *pcr, *digests;
                bool uki = false;

                pcr = sd_json_variant_by_key(rec, "pcr");
                digests = sd_json_variant_by_key(rec, "digests");
                if (pcr && sd_json_variant_unsigned(pcr) == 4 && digests)
                        for (size_t j = 0; j < sd_json_variant_elements(digests); j++) {
                                sd_json_variant *d = sd_json_variant_by_index(digests, j);
                                sd_json_variant *alg = sd_json_variant_by_key(d, "hashAlg"),
                                                *dig = sd_json_variant_by_key(d, "digest");

                                if (alg && dig && streq(sd_json_variant_string(alg) ?: "", "sha256") &&
                                    strcasecmp(sd_json_variant_string(dig) ?: "", hex) == 0)
                                        uki = true;
                        }
                if (uki) {
                        removed++;
                        continue;
                }
                r = sd_json_variant_append_array(&kept, rec);
                if (r < 0)
                        return r;
        }
        if (removed == 0)
                return 0;
        r = sd_json_buildo(&out, SD_JSON_BUILD_PAIR_VARIANT("records", kept));
        if (r < 0)
                return r;
        free(text);
        text = NULL;
        r = sd_json_variant_format(out, 0, &text);
        if (r < 0)
                return r;
        (void) unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        size = strlen(text);
        if (write(fd, text, size) != (ssize_t) size || write(fd, "\n", 1) != 1 || rename(tmp, path) < 0) {
                r = negative_errno();
                (void) unlink(tmp);
                return r;
        }
        return removed;
}
