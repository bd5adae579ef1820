/* The unit-test runner; see test.h.
 *
 *     ./build/asan/unit            run every test
 *     ./build/asan/unit store_     run the tests whose name contains "store_"
 *     TEST_VERBOSE=1 ./build/...   also print one line (with its time) per passing test
 *
 * One line per failed assertion, then "N passed, M failed"; exits 1 when a test failed. */
#include "test.h"

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct test_case {
    const char *name;
    const char *file;
    test_fn fn;
} test_case;

static test_case *test__cases;
static size_t test__count, test__cap;

static const char *test__current; /* name of the running test */
static atomic_bool test__current_failed;
static pthread_mutex_t test__print_mutex = PTHREAD_MUTEX_INITIALIZER;
static char test__dir[64]; /* the running test's temp dir, or "" */

enum { TEST_DEFER_MAX = 32 };
static struct {
    void (*fn)(void *arg);
    void *arg;
} test__deferred[TEST_DEFER_MAX];
static unsigned test__deferred_count;

void test_register(const char *name, const char *file, test_fn fn)
{
    if (test__count == test__cap) {
        test__cap = test__cap ? test__cap * 2 : 64;
        test__cases = realloc(test__cases, test__cap * sizeof(*test__cases));
        if (!test__cases) {
            fprintf(stderr, "test: out of memory\n");
            abort();
        }
    }
    test__cases[test__count++] = (test_case){name, file, fn};
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    atomic_store(&test__current_failed, true);
    pthread_mutex_lock(&test__print_mutex);
    printf("FAIL %s: %s:%d: %s\n", test__current ? test__current : "?", file, line, message);
    fflush(stdout);
    pthread_mutex_unlock(&test__print_mutex);
}

bool test_failed(void)
{
    return atomic_load(&test__current_failed);
}

void test_note(const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&test__print_mutex);
    printf("note %s: %s\n", test__current ? test__current : "?", message);
    fflush(stdout);
    pthread_mutex_unlock(&test__print_mutex);
}

const char *test_tmpdir(void)
{
    if (!test__dir[0]) {
        snprintf(test__dir, sizeof(test__dir), "/tmp/tix-unit-XXXXXX");
        if (!mkdtemp(test__dir)) {
            fprintf(stderr, "test: mkdtemp: %s\n", strerror(errno));
            abort();
        }
    }
    return test__dir;
}

void test_defer(void (*fn)(void *arg), void *arg)
{
    if (test__deferred_count == TEST_DEFER_MAX) {
        fprintf(stderr, "test: more than %d deferred cleanups\n", TEST_DEFER_MAX);
        abort();
    }
    test__deferred[test__deferred_count].fn = fn;
    test__deferred[test__deferred_count].arg = arg;
    test__deferred_count++;
}

static void test__run_deferred(void)
{
    while (test__deferred_count > 0) {
        test__deferred_count--;
        test__deferred[test__deferred_count].fn(test__deferred[test__deferred_count].arg);
    }
}

static int test__remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0) fprintf(stderr, "test: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void test__tmpdir_remove(void)
{
    if (!test__dir[0]) return;
    nftw(test__dir, test__remove_one, 16, FTW_DEPTH | FTW_PHYS);
    test__dir[0] = '\0';
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    bool verbose = getenv("TEST_VERBOSE") && getenv("TEST_VERBOSE")[0] == '1';
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (ids_init() != 0) {
        fprintf(stderr, "test: ids_init failed\n");
        return 2;
    }
    /* The store and the writer log at INFO; keep warnings and errors. */
    log_set_level(verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARN);
    unsigned passed = 0, failed = 0;
    int64_t suite_started = clock_mono_ms();
    for (size_t i = 0; i < test__count; i++) {
        const test_case *t = &test__cases[i];
        if (filter && !strstr(t->name, filter)) continue;
        test__current = t->name;
        atomic_store(&test__current_failed, false);
        int64_t started = clock_mono_ms();
        t->fn();
        test__run_deferred();
        test__tmpdir_remove();
        if (test_failed()) {
            failed++;
        } else {
            passed++;
            if (verbose)
                printf("ok   %s (%lld ms)\n", t->name, (long long)(clock_mono_ms() - started));
        }
        test__current = NULL;
    }
    if (verbose) printf("suite took %lld ms\n", (long long)(clock_mono_ms() - suite_started));
    free(test__cases);
    printf("%u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
