/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "tests.h"

static size_t entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (de->d_name[1] && (de->d_name[1] != '.' || de->d_name[2])))
                        n++;
        closedir(d);
        return n;
}

TEST(write_file_atomic) {
        char dir[] = "/tmp/test-fd-util.XXXXXX", path[64], link_target[64], other[64], missing[80];
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size;
        mode_t old_umask;

        ASSERT_NOT_NULL(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/file.txt", dir);
        snprintf(other, sizeof(other), "%s/other", dir);
        snprintf(link_target, sizeof(link_target), "%s/target", dir);
        snprintf(missing, sizeof(missing), "%s/no/such/dir/file", dir);

        /* The mode is the caller's, whatever the umask. */
        old_umask = umask(0077);
        ASSERT_OK(write_file_atomic(path, "one\n", 0644));
        umask(old_umask);
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 07777, 0644);
        ASSERT_OK(read_full_file(path, 100, (void **) &text, &size));
        ASSERT_STREQ(text, "one\n");
        free(text);
        text = NULL;

        /* Replaced whole; no temporary left beside it. */
        ASSERT_OK(write_file_atomic(path, "two\nlines\n", 0600));
        ASSERT_OK(read_full_file(path, 100, (void **) &text, &size));
        ASSERT_STREQ(text, "two\nlines\n");
        ASSERT_OK(stat(path, &st));
        ASSERT_EQ(st.st_mode & 07777, 0600);
        ASSERT_EQ(entries(dir), 1);
        ASSERT_ERROR(read_full_file(path, 4, (void **) &text, &size), E2BIG);

        /* A symlink in the file's place is replaced, its target left alone. */
        ASSERT_OK(write_file_atomic(link_target, "target\n", 0644));
        ASSERT_OK(symlink(link_target, other));
        ASSERT_OK(write_file_atomic(other, "new\n", 0644));
        ASSERT_OK(lstat(other, &st));
        ASSERT_TRUE(S_ISREG(st.st_mode));
        free(text);
        text = NULL;
        ASSERT_OK(read_full_file(link_target, 100, (void **) &text, &size));
        ASSERT_STREQ(text, "target\n");

        ASSERT_ERROR(write_file_atomic(missing, "x", 0644), ENOENT);
        ASSERT_ERROR(write_file_atomic("/tmp/", "x", 0644), EINVAL);
        ASSERT_EQ(entries(dir), 3);

        ASSERT_OK(unlink(path));
        ASSERT_OK(unlink(other));
        ASSERT_OK(unlink(link_target));
        ASSERT_OK(rmdir(dir));
}

DEFINE_TEST_MAIN
