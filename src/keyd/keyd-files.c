/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fd-util.h"
#include "keyd-files.h"
#include "keyd-store.h"
#include "log.h"
#include "tor-nickname.h"

int keyd_resolve_user(const char *user, uid_t *ret_uid, gid_t *ret_gid) {
        struct passwd *pw;

        if (!user) {
                *ret_uid = 0;
                *ret_gid = 0;
                return 0;
        }
        errno = 0;
        pw = getpwnam(user);
        if (!pw)
                return errno > 0 ? -errno : -ESRCH;
        *ret_uid = pw->pw_uid;
        *ret_gid = pw->pw_gid;
        return 0;
}

/* Secrets must not reach a disk: the key directory must live in RAM. */
static int check_in_ram(int fd) {
        struct statfs sfs;

        if (fstatfs(fd, &sfs) < 0)
                return negative_errno();
        if (sfs.f_type != TMPFS_MAGIC && sfs.f_type != RAMFS_MAGIC)
                return -EMEDIUMTYPE;
        return 0;
}

static int open_relay_dir(const char *key_directory, const char *name, bool create, uid_t uid, gid_t gid, int *ret) {
        _cleanup_close_ int base = -EBADF, fd = -EBADF;
        struct stat st;
        int r;

        if (create && mkdir(key_directory, 0755) < 0 && errno != EEXIST)
                return negative_errno();
        base = open(key_directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (base < 0)
                return negative_errno();
        r = check_in_ram(base);
        if (r < 0)
                return r;

        if (create && mkdirat(base, name, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (create) {
                /* Ours to shape: only the instance's user may enter. */
                if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0)
                        return negative_errno();
                if ((st.st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
                        return negative_errno();
        }
        *ret = TAKE_FD(fd);
        return 0;
}

/* A family key's file name without the suffix: its FamilyId, '+' and '/' as '-' and '_' (base64url), which
 * tor_family_key_write() takes as a name. */
static int family_file_name(const uint8_t seed[static TOR_KEYS_SEED_SIZE], char ret[static TOR_ED25519_ID_LEN + 1]) {
        int r = tor_family_id(seed, TOR_KEYS_SEED_SIZE, ret);

        if (r < 0)
                return r;
        for (char *p = ret; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        return 0;
}

/* Removes the directory's family key files whose name is not in keep. Returns how many went. */
static int remove_family_keys(int fd, char (*keep)[TOR_ED25519_ID_LEN + 1], unsigned n_keep) {
        _cleanup_close_ int scan = -EBADF;
        struct dirent *de;
        DIR *d;
        int r = 0, removed = 0;

        scan = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (scan < 0)
                return negative_errno();
        d = fdopendir(scan);
        if (!d)
                return negative_errno();
        scan = -EBADF; /* the DIR owns it now */
        while ((de = readdir(d))) {
                size_t len = strlen(de->d_name), slen = strlen(TOR_FAMILY_KEY_SUFFIX);
                bool kept = false;

                if (len <= slen || !streq(de->d_name + len - slen, TOR_FAMILY_KEY_SUFFIX))
                        continue;
                for (unsigned i = 0; i < n_keep && !kept; i++)
                        kept = len - slen == strlen(keep[i]) && strneq(de->d_name, keep[i], len - slen);
                if (kept)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
                        if (r == 0)
                                r = negative_errno();
                        continue;
                }
                removed++;
        }
        closedir(d);
        return r < 0 ? r : removed;
}

int keyd_write_relay(const char *key_directory, const char *name, const TorKeys *k,
                     const uint8_t (*family)[TOR_KEYS_SEED_SIZE], unsigned n_family, uid_t uid, gid_t gid,
                     char **ret_path, bool *ret_family_changed) {
        char names[KEYD_FAMILY_KEYS_MAX][TOR_ED25519_ID_LEN + 1];
        _cleanup_close_ int fd = -EBADF;
        bool changed = false;
        char *path;
        int r;

        if (n_family > ELEMENTSOF(names))
                return -EINVAL;
        r = open_relay_dir(key_directory, name, /* create= */ true, uid, gid, &fd);
        if (r < 0)
                return r;
        /* -EEXIST: temporaries of a write that was killed half-way. The directory is ours; clear it and
         * write the files once more. */
        r = tor_keys_write(fd, k, uid, gid);
        if (r == -EEXIST && tor_keys_remove(fd) >= 0)
                r = tor_keys_write(fd, k, uid, gid);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < n_family; i++) {
                char file[NAME_MAX + 1];

                r = family_file_name(family[i], names[i]);
                if (r < 0)
                        return r;
                snprintf(file, sizeof(file), "%s" TOR_FAMILY_KEY_SUFFIX, names[i]);
                if (faccessat(fd, file, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                        changed = true;
                r = tor_family_key_write(fd, names[i], family[i], TOR_KEYS_SEED_SIZE, uid, gid);
                if (r == -EEXIST && tor_family_key_remove(fd, names[i]) >= 0)
                        r = tor_family_key_write(fd, names[i], family[i], TOR_KEYS_SEED_SIZE, uid, gid);
                if (r < 0)
                        return r;
        }
        /* A retired key (or one the node was not given this time) leaves every relay's directory. */
        r = remove_family_keys(fd, names, n_family);
        if (r < 0)
                return r;
        if (r > 0)
                changed = true;
        if (asprintf(&path, "%s/%s", key_directory, name) < 0)
                return -ENOMEM;
        *ret_path = path;
        *ret_family_changed = changed;
        return 0;
}

int keyd_remove_relay(const char *key_directory, const char *name) {
        _cleanup_close_ int fd = -EBADF, base = -EBADF;
        int r;

        r = open_relay_dir(key_directory, name, /* create= */ false, 0, 0, &fd);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        r = tor_keys_remove(fd);
        if (r >= 0)
                r = remove_family_keys(fd, NULL, 0);
        if (r < 0)
                return r;
        /* The tor state put back for the instance (keyd-state.h) is the relay's too. */
        if (unlinkat(fd, "state", 0) < 0 && errno != ENOENT)
                return negative_errno();
        base = open(key_directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (base < 0)
                return negative_errno();
        /* Files tor wrote may remain: only an empty directory goes. */
        if (unlinkat(base, name, AT_REMOVEDIR) < 0 && errno != ENOTEMPTY && errno != EEXIST)
                return negative_errno();
        return 0;
}

/* Every regular file of the directory, then the directory: nothing else is expected in a relay's key
 * directory (tor writes nothing there: its KeyDirectory is the instance's copy). */
static int remove_relay_directory(int base, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        struct dirent *de;
        int r = 0;

        fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF; /* the DIR owns it now */
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' && (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) < 0 && r == 0)
                        r = negative_errno();
        }
        closedir(d);
        if (r < 0)
                return r;
        return unlinkat(base, name, AT_REMOVEDIR) < 0 ? negative_errno() : 0;
}

int keyd_drop_key_files(const char *key_directory, int (*dropped)(const char *name, void *userdata), void *userdata) {
        _cleanup_close_ int base = -EBADF, scan = -EBADF;
        DIR *d;
        struct dirent *de;
        int r = 0, k;

        base = open(key_directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (base < 0)
                return errno == ENOENT ? 0 : negative_errno();
        scan = openat(base, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (scan < 0)
                return negative_errno();
        d = fdopendir(scan);
        if (!d)
                return negative_errno();
        scan = -EBADF;
        while ((de = readdir(d))) {
                /* Only what keyd makes: a directory named after a relay. */
                if (de->d_type != DT_DIR || !tor_nickname_ok(de->d_name))
                        continue;
                k = remove_relay_directory(base, de->d_name);
                if (k < 0) {
                        log_warning_errno(k, "Failed to remove the key files of %s: %m", de->d_name);
                        if (r == 0)
                                r = k;
                        continue;
                }
                k = dropped ? dropped(de->d_name, userdata) : 0;
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        return r;
}
