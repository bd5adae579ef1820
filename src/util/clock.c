/* clock: see clock.h. Calendar arithmetic uses the proleptic Gregorian calendar, computed
 * directly (days_from_civil) so that it never depends on the process's time zone. */
#include "util/clock.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* The time of clock id (it cannot fail for the clocks tix reads). */
static struct timespec clock__read(clockid_t id)
{
    struct timespec ts;
    int rc = clock_gettime(id, &ts);
    assert(rc == 0);
    (void)rc;
    return ts;
}

int64_t clock_now_ms(void)
{
    struct timespec ts = clock__read(CLOCK_REALTIME);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_mono_us(void)
{
    struct timespec ts = clock__read(CLOCK_MONOTONIC);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec clock_mono_deadline(int64_t after_us)
{
    assert(after_us >= 0);
    struct timespec ts = clock__read(CLOCK_MONOTONIC);
    int64_t nsec = ts.tv_nsec + (after_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(after_us / 1000000 + nsec / 1000000000);
    ts.tv_nsec = (long)(nsec % 1000000000);
    return ts;
}

int clock_mono_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc;
}

int64_t clock_mono_ms(void)
{
    return clock_mono_us() / 1000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t clock__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void clock__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Write v (< 10^width) as width decimal digits, zero-padded. */
static void clock__put_digits(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t clock_format_rfc3339(int64_t ms, char *out)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int64_t milli = ms - secs * 1000;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t sod = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    clock__civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) { /* outside RFC 3339's years: rare, printf writes the sign */
        int n = snprintf(out, CLOCK_RFC3339_LEN_MAX, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                         (long long)y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
                         (int)(sod % 60), (int)milli);
        assert(n > 0 && n < CLOCK_RFC3339_LEN_MAX);
        return (size_t)n;
    }
    /* the common case by hand: this runs twice for every hold answered and stored */
    memcpy(out, "0000-00-00T00:00:00.000Z", sizeof("0000-00-00T00:00:00.000Z"));
    clock__put_digits(out, (unsigned)y, 4);
    clock__put_digits(out + 5, m, 2);
    clock__put_digits(out + 8, d, 2);
    clock__put_digits(out + 11, (unsigned)(sod / 3600), 2);
    clock__put_digits(out + 14, (unsigned)(sod / 60 % 60), 2);
    clock__put_digits(out + 17, (unsigned)(sod % 60), 2);
    clock__put_digits(out + 20, (unsigned)milli, 3);
    return sizeof("0000-00-00T00:00:00.000Z") - 1;
}

/* The instants RFC 3339 can write (four-digit years): 0000-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z, in seconds since the epoch. */
#define CLOCK__SECS_MIN (-62167219200LL)
#define CLOCK__SECS_MAX (253402300799LL)

static bool clock__digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int clock_parse_rfc3339(const char *s, size_t len, int64_t *ms_out)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return -1;
    if (!clock__digits(s, 4, &y) || !clock__digits(s + 5, 2, &mo) || !clock__digits(s + 8, 2, &d) ||
        !clock__digits(s + 11, 2, &h) || !clock__digits(s + 14, 2, &mi) ||
        !clock__digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60) return -1;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    if (sec == 60) sec = 59; /* a leap second is folded into the one before it */
    size_t i = 19;
    int milli = 0;
    if (i < len && s[i] == '.') {
        size_t start = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) milli = milli * 10 + (s[i] - '0');
            i++;
        }
        if (i == start || i - start > 9) return -1;
        for (size_t k = i - start; k < 3; k++)
            milli *= 10;
    }
    int offset_min = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!clock__digits(s + i + 1, 2, &oh) || !clock__digits(s + i + 4, 2, &om)) return -1;
        if (oh > 23 || om > 59) return -1;
        offset_min = (oh * 60 + om) * (s[i] == '+' ? 1 : -1);
        i += 6;
    } else {
        return -1;
    }
    if (i != len) return -1;
    int64_t days = clock__days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - (int64_t)offset_min * 60;
    /* An offset can carry 0000-01-01 into year -1 or 9999-12-31 into year 10000, which
     * clock_format_rfc3339 cannot write as RFC 3339: refuse those instants (found by
     * fuzz/fuzz_rfc3339: tix echoed "-001-12-31T23:00:00.000Z" as a starts_at). */
    if (secs < CLOCK__SECS_MIN || secs > CLOCK__SECS_MAX) return -1;
    *ms_out = secs * 1000 + milli;
    return 0;
}
