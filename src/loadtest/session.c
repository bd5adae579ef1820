/* session: the counters and lists of a run; see session.h. */
#include "loadtest/session.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void loadtest_stats_error(loadtest_stats *s, long status, const char *fmt, ...)
{
    if (status >= 0 && status < LOADTEST_HTTP_STATUS_MAX)
        s->errors_by_status[status]++;
    else
        s->errors_invalid++;
    s->errors++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
    va_end(ap);
}

uint32_t loadtest_stats_second(loadtest_stats *s, int64_t now_us)
{
    int64_t second = (now_us - s->start_us) / 1000000;
    if (second < 0) second = 0;
    if (second >= LOADTEST_SERIES_SECONDS_MAX) second = LOADTEST_SERIES_SECONDS_MAX - 1;
    if ((uint32_t)second + 1 > s->seconds) s->seconds = (uint32_t)second + 1;
    return (uint32_t)second;
}

/* Grow a capped array of `size`-byte items to hold one more. Returns 0 or -1 (cap or memory). */
static int loadtest__grow(void **items, uint64_t count, uint64_t *cap, uint64_t cap_max,
                          size_t size)
{
    if (count < *cap) return 0;
    if (*cap >= cap_max) return -1;
    uint64_t next = *cap ? *cap * 2 : 1024;
    if (next > cap_max) next = cap_max;
    void *grown = realloc(*items, next * size);
    if (!grown) return -1;
    *items = grown;
    *cap = next;
    return 0;
}

uint64_t loadtest_session_track_booking(loadtest_session *s, const char *id, uint8_t seat_count)
{
    void *items = s->bookings;
    if (loadtest__grow(&items, s->booking_count, &s->booking_cap, LOADTEST_BOOKINGS_MAX,
                       sizeof(loadtest_booking)) != 0) {
        s->bookings_overflow = true;
        return UINT64_MAX;
    }
    s->bookings = items;
    loadtest_booking *b = &s->bookings[s->booking_count];
    assert(strlen(id) == TIX_BOOKING_ID_LEN);
    memcpy(b->id, id, TIX_BOOKING_ID_LEN + 1);
    b->status = BOOKING_PENDING_PAYMENT;
    b->seat_count = seat_count;
    return s->booking_count++;
}

void loadtest_session_track_lost(loadtest_session *s, uint64_t buyer_number)
{
    void *items = s->lost_checkouts;
    if (loadtest__grow(&items, s->lost_count, &s->lost_cap, LOADTEST_BOOKINGS_MAX,
                       sizeof(uint64_t)) != 0) {
        s->bookings_overflow = true; /* a booking may exist that the check cannot find */
        return;
    }
    s->lost_checkouts = items;
    s->lost_checkouts[s->lost_count++] = buyer_number;
}
