/* clock: RFC 3339 formatting and parsing, always UTC on output; monotonic timed waits. */
#include "../test.h"

#include "util/clock.h"

#include <errno.h>
#include <pthread.h>

/* Parse a C string; returns the rc and writes the time into *ms. */
static int parse(const char *s, int64_t *ms)
{
    *ms = INT64_MIN;
    return clock_parse_rfc3339(s, strlen(s), ms);
}

static bool parses(const char *s)
{
    int64_t ms;
    return parse(s, &ms) == 0;
}

TEST(clock_formats_known_epochs)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1234567890123, "2009-02-13T23:31:30.123Z"},
        {1811878200000, "2027-06-01T19:30:00.000Z"},
        {951782400000, "2000-02-29T00:00:00.000Z"},
        {1709208000000, "2024-02-29T12:00:00.000Z"},
        {4102444800000, "2100-01-01T00:00:00.000Z"},
        {253402300799999, "9999-12-31T23:59:59.999Z"},
        {253402300800000, "10000-01-01T00:00:00.000Z"}, /* past RFC 3339: printf's path */
        {-1, "1969-12-31T23:59:59.999Z"},
        {-1000, "1969-12-31T23:59:59.000Z"},
        {-14182940000, "1969-07-20T20:17:40.000Z"},
        {-62135596800000, "0001-01-01T00:00:00.000Z"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[CLOCK_RFC3339_LEN_MAX];
        size_t len = clock_format_rfc3339(cases[i].ms, out);
        ASSERT_EQ_STR(out, cases[i].text);
        ASSERT_EQ_INT(len, strlen(cases[i].text));
    }
}

TEST(clock_parses_utc_times)
{
    int64_t ms;
    ASSERT_EQ_INT(parse("1970-01-01T00:00:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 0);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 1811878200000);
    ASSERT_EQ_INT(parse("1969-07-20T20:17:40Z", &ms), 0);
    ASSERT_EQ_INT(ms, -14182940000);
    ASSERT_EQ_INT(parse("2027-06-01t19:30:00z", &ms), 0); /* RFC 3339 allows lower case */
    ASSERT_EQ_INT(ms, 1811878200000);
}

TEST(clock_round_trips_format_then_parse)
{
    static const int64_t values[] = {0,
                                     1,
                                     999,
                                     1000,
                                     1234567890123,
                                     1811878200042,
                                     951782400000,
                                     4102444800000,
                                     -1,
                                     -999,
                                     -14182940000,
                                     253402300799999};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char out[CLOCK_RFC3339_LEN_MAX];
        size_t len = clock_format_rfc3339(values[i], out);
        int64_t back = 0;
        ASSERT_EQ_INT(clock_parse_rfc3339(out, len, &back), 0);
        ASSERT_EQ_INT(back, values[i]);
    }
}

TEST(clock_round_trips_every_day_of_four_centuries_at_noon)
{
    /* 1900..2300 covers every leap-year rule (1900 no, 2000 yes, 2100 no, 2024 yes). */
    int64_t start = -2208945600000; /* 1900-01-01T12:00:00Z */
    for (int64_t day = 0; day < 146097; day += 1) {
        int64_t ms = start + day * 86400000 + 123;
        char out[CLOCK_RFC3339_LEN_MAX];
        size_t len = clock_format_rfc3339(ms, out);
        int64_t back = 0;
        if (clock_parse_rfc3339(out, len, &back) != 0 || back != ms) {
            test_fail(__FILE__, __LINE__, "day %lld: %s parsed back as %lld (want %lld)",
                      (long long)day, out, (long long)back, (long long)ms);
            return;
        }
    }
}

TEST(clock_applies_offsets_to_get_utc)
{
    int64_t utc, plus2, minus530, zero;
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00Z", &utc), 0);
    ASSERT_EQ_INT(parse("2027-06-01T21:30:00+02:00", &plus2), 0);
    ASSERT_EQ_INT(plus2, utc);
    ASSERT_EQ_INT(parse("2027-06-01T14:00:00-05:30", &minus530), 0);
    ASSERT_EQ_INT(minus530, utc);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00+00:00", &zero), 0);
    ASSERT_EQ_INT(zero, utc);
    ASSERT_EQ_INT(parse("2027-06-02T01:30:00+06:00", &zero), 0); /* crosses the date line */
    ASSERT_EQ_INT(zero, utc);
    ASSERT_EQ_INT(parse("2027-01-01T00:30:00+01:00", &zero), 0); /* into the previous year */
    char out[CLOCK_RFC3339_LEN_MAX];
    clock_format_rfc3339(zero, out);
    ASSERT_EQ_STR(out, "2026-12-31T23:30:00.000Z");
}

TEST(clock_parses_fractional_seconds)
{
    int64_t base, ms;
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00Z", &base), 0);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00.5Z", &ms), 0);
    ASSERT_EQ_INT(ms - base, 500);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00.05Z", &ms), 0);
    ASSERT_EQ_INT(ms - base, 50);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00.123Z", &ms), 0);
    ASSERT_EQ_INT(ms - base, 123);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00.123999Z", &ms), 0); /* truncated to ms */
    ASSERT_EQ_INT(ms - base, 123);
    ASSERT_EQ_INT(parse("2027-06-01T19:30:00.000000001Z", &ms), 0);
    ASSERT_EQ_INT(ms - base, 0);
    ASSERT_EQ_INT(parse("2027-06-01T21:30:00.250+02:00", &ms), 0);
    ASSERT_EQ_INT(ms - base, 250);
}

TEST(clock_accepts_leap_days_only_in_leap_years)
{
    ASSERT_TRUE(parses("2024-02-29T00:00:00Z"));
    ASSERT_TRUE(parses("2000-02-29T00:00:00Z"));
    ASSERT_TRUE(parses("2400-02-29T00:00:00Z"));
    ASSERT_FALSE(parses("2023-02-29T00:00:00Z"));
    ASSERT_FALSE(parses("1900-02-29T00:00:00Z"));
    ASSERT_FALSE(parses("2100-02-29T00:00:00Z"));
    ASSERT_FALSE(parses("2024-02-30T00:00:00Z"));
    int64_t ms;
    ASSERT_EQ_INT(parse("2024-02-29T12:00:00Z", &ms), 0);
    ASSERT_EQ_INT(ms, 1709208000000);
}

TEST(clock_rejects_impossible_dates_and_times)
{
    static const char *const bad[] = {
        "2027-02-30T00:00:00Z",      "2027-04-31T00:00:00Z",      "2027-13-01T00:00:00Z",
        "2027-00-10T00:00:00Z",      "2027-06-00T00:00:00Z",      "2027-06-32T00:00:00Z",
        "2027-06-01T24:00:00Z",      "2027-06-01T23:60:00Z",      "2027-06-01T23:59:61Z",
        "2027-06-01T19:30:00+24:00", "2027-06-01T19:30:00+02:60",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parses(bad[i])) {
            test_fail(__FILE__, __LINE__, "\"%s\" parsed", bad[i]);
            return;
        }
    }
}

TEST(clock_rejects_malformed_text)
{
    static const char *const bad[] = {
        "",
        "2027-06-01",
        "2027-06-01T19:30:00",   /* no zone */
        "2027-06-01T19:30Z",     /* no seconds */
        "2027-06-01T19:30:00ZZ", /* trailing junk */
        "2027-06-01T19:30:00Z ",
        "2027-06-01T19:30:00+02:00x",
        "2027-06-01T19:30:00+0200",
        "2027-06-01T19:30:00+02",
        "2027-06-01T19:30:00.Z", /* a dot without digits */
        "2027-06-01T19:30:00,5Z",
        "2027-06-01X19:30:00Z",
        "2027/06/01T19:30:00Z",
        "2027-6-01T19:30:00Z",
        "2O27-06-01T19:30:00Z",
        "2027-06-01T19:3a:00Z",
        " 2027-06-01T19:30:00Z",
        "+2027-06-01T19:30:00Z",
        "2027-06-01T19:30:00+02:0a",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parses(bad[i])) {
            test_fail(__FILE__, __LINE__, "\"%s\" parsed", bad[i]);
            return;
        }
    }
}

TEST(clock_parse_reads_only_len_bytes)
{
    /* A valid time followed by bytes outside len; and len cutting a valid time short. */
    const char *s = "2027-06-01T19:30:00Zjunk";
    int64_t ms = 0;
    ASSERT_EQ_INT(clock_parse_rfc3339(s, 20, &ms), 0);
    ASSERT_EQ_INT(ms, 1811878200000);
    ASSERT_EQ_INT(clock_parse_rfc3339(s, 19, &ms), -1);
    ASSERT_EQ_INT(clock_parse_rfc3339(s, 0, &ms), -1);
    const char *frac = "2027-06-01T19:30:00.5Z";
    ASSERT_EQ_INT(clock_parse_rfc3339(frac, 21, &ms), -1); /* "....00.5" without its zone */
}

TEST(clock_now_is_in_this_century_and_monotonic_does_not_go_back)
{
    int64_t now = clock_now_ms();
    ASSERT_GT(now, 1700000000000); /* after 2023-11 */
    ASSERT_LT(now, 4102444800000); /* before 2100 */
    int64_t a = clock_mono_ms(), b = clock_mono_ms();
    ASSERT_LE(a, b);
}

/* Nanoseconds of a timespec. */
static int64_t ts_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

TEST(clock_mono_deadline_is_now_plus_the_delay_normalised)
{
    static const int64_t delays_us[] = {0, 1, 999999, 1000000, 1500000, 2999999};
    for (size_t i = 0; i < sizeof(delays_us) / sizeof(delays_us[0]); i++) {
        struct timespec before, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        struct timespec d = clock_mono_deadline(delays_us[i]);
        clock_gettime(CLOCK_MONOTONIC, &after);
        ASSERT_GE(d.tv_nsec, 0);
        ASSERT_LT(d.tv_nsec, 1000000000);
        ASSERT_GE(ts_ns(d), ts_ns(before) + delays_us[i] * 1000);
        ASSERT_LE(ts_ns(d), ts_ns(after) + delays_us[i] * 1000);
    }
}

/* A condition variable from clock_mono_cond_init times out at a clock_mono_deadline: on the
 * monotonic clock (a deadline read against CLOCK_REALTIME would be decades early, and the wait
 * would return at once without the deadline having passed on the monotonic clock). */
TEST(clock_mono_cond_waits_until_a_monotonic_deadline)
{
    pthread_cond_t cond;
    pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    ASSERT_EQ_INT(clock_mono_cond_init(&cond), 0);
    int64_t start_us = clock_mono_us();
    struct timespec deadline = clock_mono_deadline(20000);
    pthread_mutex_lock(&mutex);
    int rc = 0;
    while (rc == 0)
        rc = pthread_cond_timedwait(&cond, &mutex, &deadline);
    pthread_mutex_unlock(&mutex);
    ASSERT_EQ_INT(rc, ETIMEDOUT);
    ASSERT_TRUE(clock_mono_us() - start_us >= 20000);
    pthread_cond_destroy(&cond);
}
