/* log: see log.h. Each line is written with one write(2) so lines from threads never mix. */
#include "util/log.h"

#include "util/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static log_level log__level = LOG_LEVEL_INFO;

void log_set_level(log_level level)
{
    log__level = level;
}

void log_write(log_level level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < log__level) return;
    char line[1024];
    char when[CLOCK_RFC3339_LEN_MAX];
    clock_format_rfc3339(clock_now_ms(), when);
    int n = snprintf(line, sizeof(line), "%s tix[%d] %s ", when, (int)getpid(), names[level]);
    if (n < 0) return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w; /* nowhere left to report a failing stderr */
}
