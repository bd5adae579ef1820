/* fuzz_rfc3339: clock_parse_rfc3339 on arbitrary bytes (the starts_at of POST /events), and
 * clock_format_rfc3339 on arbitrary instants.
 *
 * Checked:
 *   - an accepted text means what a reference says: its fields read back from their fixed
 *     places, turned into seconds by timegm(3) (a separate calendar implementation), minus
 *     the offset, plus the first three digits of the fraction;
 *   - what tix accepts, tix can write back: the instant formatted is an RFC 3339 UTC
 *     date-time of 24 bytes ("YYYY-MM-DDTHH:MM:SS.mmmZ") that parses to the same instant;
 *   - the same round trip for an instant made of the input's first 8 bytes, folded into the
 *     span of four-digit years that RFC 3339 can write. */
#include "check.h"

#include "util/clock.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z, in ms since the epoch */
static const int64_t fx_ms_min = -62167219200000LL;
static const int64_t fx_ms_max = 253402300799999LL;

static int fx_num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* The instant a text accepted by the parser names, computed independently. */
static int64_t fx_reference_ms(const char *s, size_t len)
{
    struct tm tm = {0};
    tm.tm_year = fx_num(s, 4) - 1900;
    tm.tm_mon = fx_num(s + 5, 2) - 1;
    tm.tm_mday = fx_num(s + 8, 2);
    tm.tm_hour = fx_num(s + 11, 2);
    tm.tm_min = fx_num(s + 14, 2);
    int sec = fx_num(s + 17, 2);
    tm.tm_sec = sec == 60 ? 59 : sec;
    int64_t secs = (int64_t)timegm(&tm);
    int milli = 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t digits = 0;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, digits++)
            if (digits < 3) milli = milli * 10 + (s[i] - '0');
        for (; digits < 3; digits++)
            milli *= 10;
    }
    if (s[i] == '+' || s[i] == '-') {
        int offset_s = fx_num(s + i + 1, 2) * 3600 + fx_num(s + i + 4, 2) * 60;
        secs -= s[i] == '+' ? offset_s : -offset_s;
    }
    return secs * 1000 + milli;
}

static void fx_check_round_trip(int64_t ms)
{
    char text[CLOCK_RFC3339_LEN_MAX];
    size_t len = clock_format_rfc3339(ms, text);
    FX_CHECK(len == 24 && strlen(text) == len && text[10] == 'T' && text[23] == 'Z',
             "%lld ms formatted as '%s'", (long long)ms, text);
    int64_t back = 0;
    FX_CHECK(clock_parse_rfc3339(text, len, &back) == 0 && back == ms,
             "'%s' (from %lld ms) reads back as %lld", text, (long long)ms, (long long)back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exactly the input: no NUL after it */
    if (!text) return 0;
    memcpy(text, data, size);
    int64_t ms = 0;
    if (clock_parse_rfc3339(text, size, &ms) == 0) {
        int64_t want = fx_reference_ms(text, size);
        FX_CHECK(ms == want, "'%.*s' parsed as %lld ms, reference %lld", (int)size, text,
                 (long long)ms, (long long)want);
        FX_CHECK(ms >= fx_ms_min && ms <= fx_ms_max,
                 "'%.*s' accepted, but %lld ms has no four-digit year", (int)size, text,
                 (long long)ms);
        fx_check_round_trip(ms);
    }
    if (size >= 8) {
        uint64_t raw;
        memcpy(&raw, data, sizeof(raw));
        uint64_t span = (uint64_t)(fx_ms_max - fx_ms_min) + 1;
        fx_check_round_trip(fx_ms_min + (int64_t)(raw % span));
    }
    free(text);
    return 0;
}
