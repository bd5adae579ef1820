/* test: a tiny unit-test framework in the spirit of libuv's.
 *
 *     TEST(buf_append_past_the_cap_fails) {
 *         ASSERT_EQ_INT(buf_append(&b, "x", 1), -1);
 *     }
 *
 * TEST registers the function before main runs (a constructor). An assertion that does not
 * hold prints file:line and both values, marks the running test failed and returns from the
 * function it is written in; so assertions belong in the test body, or in void helpers whose
 * caller checks test_failed() afterwards (TEST_CHECK does both).
 *
 * The runner (main.c) runs every test, or those whose name contains argv[1], and ends with
 * the line "N passed, M failed". */
#ifndef TIX_TEST_H
#define TIX_TEST_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);

/* Add a test to the registry (called by the TEST constructors). */
void test_register(const char *name, const char *file, test_fn fn);

/* Mark the running test failed and print why ("file:line: message"). Safe from any thread. */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether the running test has failed so far. */
bool test_failed(void);

/* A fresh directory under /tmp for the running test (made on first call, the same path on
 * later calls), removed with everything in it when the test ends. */
const char *test_tmpdir(void);

/* Run fn(arg) when the running test ends, whether it passed or failed (the last registered
 * first, before its temp dir is removed): for cleanups that a failed assertion would skip. */
void test_defer(void (*fn)(void *arg), void *arg);

/* Print a note under the test's name (for measurements, not for failures). */
void test_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_register_##name(void)                            \
    {                                                                                              \
        test_register(#name, __FILE__, test_##name);                                               \
    }                                                                                              \
    static void test_##name(void)

/* Run a void helper that may fail assertions; return from the test too if it did. */
#define TEST_CHECK(call)                                                                           \
    do {                                                                                           \
        call;                                                                                      \
        if (test_failed()) return;                                                                 \
    } while (0)

#define ASSERT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_fail(__FILE__, __LINE__, "expected %s to be true", #cond);                        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_FALSE(cond)                                                                         \
    do {                                                                                           \
        if (cond) {                                                                                \
            test_fail(__FILE__, __LINE__, "expected %s to be false", #cond);                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Integer comparisons, on intmax_t (use the _UINT forms for values past INTMAX_MAX). */
#define TEST__CMP_INT(a, op, b)                                                                    \
    do {                                                                                           \
        intmax_t test__a = (intmax_t)(a), test__b = (intmax_t)(b);                                 \
        if (!(test__a op test__b)) {                                                               \
            test_fail(__FILE__, __LINE__, "expected %s %s %s, got %jd and %jd", #a, #op, #b,       \
                      test__a, test__b);                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define TEST__CMP_UINT(a, op, b)                                                                   \
    do {                                                                                           \
        uintmax_t test__a = (uintmax_t)(a), test__b = (uintmax_t)(b);                              \
        if (!(test__a op test__b)) {                                                               \
            test_fail(__FILE__, __LINE__, "expected %s %s %s, got %ju and %ju", #a, #op, #b,       \
                      test__a, test__b);                                                           \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_EQ_INT(a, b) TEST__CMP_INT(a, ==, b)
#define ASSERT_NE_INT(a, b) TEST__CMP_INT(a, !=, b)
#define ASSERT_LT(a, b) TEST__CMP_INT(a, <, b)
#define ASSERT_LE(a, b) TEST__CMP_INT(a, <=, b)
#define ASSERT_GT(a, b) TEST__CMP_INT(a, >, b)
#define ASSERT_GE(a, b) TEST__CMP_INT(a, >=, b)
#define ASSERT_EQ_UINT(a, b) TEST__CMP_UINT(a, ==, b)

/* Strings (NULL compares equal only to NULL). */
#define ASSERT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *test__a = (a), *test__b = (b);                                                 \
        if (!((test__a == NULL && test__b == NULL) ||                                              \
              (test__a && test__b && strcmp(test__a, test__b) == 0))) {                            \
            test_fail(__FILE__, __LINE__, "expected %s == %s, got \"%s\" and \"%s\"", #a, #b,      \
                      test__a ? test__a : "(null)", test__b ? test__b : "(null)");                 \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_NE_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *test__a = (a), *test__b = (b);                                                 \
        if (test__a && test__b && strcmp(test__a, test__b) == 0) {                                 \
            test_fail(__FILE__, __LINE__, "expected %s != %s, both \"%s\"", #a, #b, test__a);      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* A slice (s, len) equals the C string want. */
#define ASSERT_EQ_SLICE(s, len, want)                                                              \
    do {                                                                                           \
        const char *test__s = (s), *test__w = (want);                                              \
        size_t test__n = (size_t)(len);                                                            \
        if (!(test__s && strlen(test__w) == test__n && memcmp(test__s, test__w, test__n) == 0)) {  \
            test_fail(__FILE__, __LINE__, "expected %s (%zu bytes) == \"%s\", got \"%.*s\"", #s,   \
                      test__n, test__w, test__s ? (int)test__n : 6, test__s ? test__s : "(null)"); \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Byte ranges of equal length. */
#define ASSERT_EQ_MEM(a, b, n)                                                                     \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0) {                                                          \
            test_fail(__FILE__, __LINE__, "expected the %zu bytes of %s and %s to be equal",       \
                      (size_t)(n), #a, #b);                                                        \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_CONTAINS(haystack, needle)                                                          \
    do {                                                                                           \
        const char *test__h = (haystack), *test__n = (needle);                                     \
        if (!test__h || !strstr(test__h, test__n)) {                                               \
            test_fail(__FILE__, __LINE__, "expected %s to contain \"%s\", got \"%s\"", #haystack,  \
                      test__n, test__h ? test__h : "(null)");                                      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_NULL(p)                                                                             \
    do {                                                                                           \
        const void *test__p = (const void *)(p);                                                   \
        if (test__p != NULL) {                                                                     \
            test_fail(__FILE__, __LINE__, "expected %s to be NULL, got %p", #p, test__p);          \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                                         \
    do {                                                                                           \
        if ((p) == NULL) {                                                                         \
            test_fail(__FILE__, __LINE__, "expected %s not to be NULL", #p);                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#endif
