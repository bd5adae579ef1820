/* check: the oracle of the fuzz targets. A broken promise of the code under test aborts with
 * a message naming it, which libFuzzer (and fuzz/replay_main.c) reports as a crash. Kept on
 * in every build (unlike assert). */
#ifndef TIX_FUZZ_CHECK_H
#define TIX_FUZZ_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static inline __attribute__((noreturn, format(printf, 4, 5))) void
fx_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: broken invariant: %s: ", file, line, cond);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Abort unless cond; the message (printf-style, at least a format) says what was seen. */
#define FX_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) fx_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                              \
    } while (0)

#endif
