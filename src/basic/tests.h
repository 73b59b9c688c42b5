/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A tiny unit-test harness. Each TEST(name) registers itself; main() runs them all (or those named on the
 * command line) and prints "N passed, N failed". A failing ASSERT_* prints the expression, the values and
 * the location, and ends that test only. */

#include <inttypes.h>

#include "macro.h"
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct TestCase {
        const char *name;
        void (*func)(void);
} TestCase;

#define TESTS_MAX 256
extern TestCase test_cases[TESTS_MAX];
extern size_t test_count;
extern jmp_buf test_abort;

#define TEST(n)                                                                        \
        static void test_##n(void);                                                    \
        __attribute__((constructor)) static void test_register_##n(void) {            \
                if (test_count < TESTS_MAX)                                            \
                        test_cases[test_count++] = (TestCase) { #n, test_##n };        \
        }                                                                              \
        static void test_##n(void)

#define TEST_FAIL(...)                                                                 \
        do {                                                                           \
                fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
                fprintf(stderr, __VA_ARGS__);                                          \
                fputc('\n', stderr);                                                   \
                longjmp(test_abort, 1);                                                \
        } while (0)

#define ASSERT_TRUE(expr)                                                              \
        do {                                                                           \
                if (!(expr))                                                           \
                        TEST_FAIL("Assertion failed: %s", #expr);                      \
        } while (0)
#define ASSERT_FALSE(expr) ASSERT_TRUE(!(expr))

#define ASSERT_EQ(a, b)                                                                \
        do {                                                                           \
                intmax_t _a = (intmax_t) (a), _b = (intmax_t) (b);                     \
                if (_a != _b)                                                          \
                        TEST_FAIL("Assertion failed: %s == %s (%jd != %jd)", #a, #b, _a, _b); \
        } while (0)

#define ASSERT_OK(expr)                                                                \
        do {                                                                           \
                intmax_t _r = (intmax_t) (expr);                                       \
                if (_r < 0)                                                            \
                        TEST_FAIL("Expected success: %s returned %jd (%s)", #expr, _r, strerror((int) -_r)); \
        } while (0)

#define ASSERT_ERROR(expr, err)                                                        \
        do {                                                                           \
                intmax_t _r = (intmax_t) (expr);                                       \
                if (_r != -(intmax_t) (err))                                           \
                        TEST_FAIL("Expected %s to fail with -%s (%d), got %jd", #expr, #err, (err), _r); \
        } while (0)

#define ASSERT_STREQ(a, b)                                                             \
        do {                                                                           \
                const char *_a = (a), *_b = (b);                                       \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                 \
                        TEST_FAIL("Assertion failed: %s == %s (\"%s\" != \"%s\")", #a, #b, \
                                  _a ?: "(null)", _b ?: "(null)");                     \
        } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                          \
        do {                                                                           \
                if (memcmp((a), (b), (n)) != 0)                                        \
                        TEST_FAIL("Assertion failed: memcmp(%s, %s, %s) == 0", #a, #b, #n); \
        } while (0)

#define ASSERT_NOT_NULL(p) ASSERT_TRUE((p) != NULL)
#define ASSERT_NULL(p) ASSERT_TRUE((p) == NULL)

#define DEFINE_TEST_MAIN                                                               \
        TestCase test_cases[TESTS_MAX];                                                \
        size_t test_count;                                                             \
        jmp_buf test_abort;                                                            \
        static bool test_run_one(const TestCase *t) {                                  \
                if (setjmp(test_abort) != 0)                                           \
                        return false;                                                  \
                t->func();                                                             \
                return true;                                                           \
        }                                                                              \
        int main(int argc, char *argv[]) {                                             \
                unsigned passed = 0, failed = 0;                                       \
                for (size_t i = 0; i < test_count; i++) {                              \
                        bool selected = argc <= 1;                                     \
                        for (int k = 1; k < argc; k++)                                 \
                                if (strcmp(argv[k], test_cases[i].name) == 0)          \
                                        selected = true;                               \
                        if (!selected)                                                 \
                                continue;                                              \
                        if (test_run_one(&test_cases[i])) {                            \
                                printf("ok - %s\n", test_cases[i].name);              \
                                passed++;                                              \
                        } else {                                                       \
                                printf("FAIL - %s\n", test_cases[i].name);            \
                                failed++;                                              \
                        }                                                              \
                }                                                                      \
                printf("%u passed, %u failed\n", passed, failed);                     \
                return failed > 0 || passed == 0 ? EXIT_FAILURE : EXIT_SUCCESS;        \
        }
