/* loadtest internals: the limits every part of `tix loadtest` shares, and its clock.
 *
 * Everything the load tester holds is bounded by one of these numbers: the buyers, the
 * transfers in flight, every response body, every retry loop and every wait. The client is
 * one thread driving libcurl's multi interface, so none of this needs a lock. */
#ifndef TIX_LOADTEST_INTERNAL_H
#define TIX_LOADTEST_INTERNAL_H

#include "core/model.h"

#include <stdint.h>
#include <time.h>

enum {
    LOADTEST_BUYERS_MAX = 10000000,
    LOADTEST_CONCURRENCY_MAX = 4096,
    LOADTEST_CONCURRENCY_DEFAULT = 64,
    LOADTEST_SEATS_PER_BUYER_DEFAULT = 2,
    LOADTEST_URL_LEN_MAX = 512,
    LOADTEST_TOKEN_LEN_MAX = TIX_PAYMENT_TOKEN_LEN_MAX,
    LOADTEST_RUN_ID_LEN = 8,        /* hex characters in user ids and idempotency keys */
    LOADTEST_USER_ID_LEN_MAX = 48,  /* "lt-<run id>-<buyer>" */
    LOADTEST_KEY_LEN_MAX = 64,      /* Idempotency-Key */
    LOADTEST_HOLD_ATTEMPTS_MAX = 4, /* the first try and 3 retries after 409 */
    LOADTEST_RETRIES_MAX = 3,       /* 503 / transport retries of one step */
    LOADTEST_RETRY_AFTER_MS_MAX = 2000,
    LOADTEST_RETRY_DELAY_MS = 200, /* when the server gives no Retry-After */
    LOADTEST_POLL_INTERVAL_MS = 100,
    LOADTEST_POLL_DURATION_MS_MAX = 30000,
    LOADTEST_CONNECT_TIMEOUT_MS = 5000,
    LOADTEST_REQUEST_TIMEOUT_MS = 30000,
    LOADTEST_DRAIN_MS_MAX = 45000, /* in-flight buyers after --duration or Ctrl-C */
    LOADTEST_SERIES_SECONDS_MAX = 86400,
    LOADTEST_CANDIDATES_MAX = TIX_HOLD_SEATS_MAX * LOADTEST_HOLD_ATTEMPTS_MAX,
    LOADTEST_BOOKINGS_MAX = 4000000, /* bookings tracked for the invariant check */
    LOADTEST_HTTP_STATUS_MAX = 600,  /* errors are counted per status below this */
};

/* Response body caps. A buyer's seat map (status=available) may be large; the check's full
 * seat map of a 1,000,000-seat event is about 110 MiB. Other answers are small. */
#define LOADTEST_SEAT_MAP_BYTES_MAX ((size_t)32 << 20)
#define LOADTEST_CHECK_SEAT_MAP_BYTES_MAX ((size_t)256 << 20)
#define LOADTEST_RESPONSE_BYTES_MAX ((size_t)1 << 20)
#define LOADTEST_REQUEST_BYTES_MAX ((size_t)16 << 10)
/* Seat maps buffered at once may not exceed this: it bounds how many buyers fetch theirs
 * concurrently, estimated from the event's size (about 85 bytes per seat on the wire, up to
 * twice that in a buffer that grows by doubling), so memory stays bounded at any concurrency. */
#define LOADTEST_SEAT_MAP_BUDGET_BYTES ((uint64_t)512 << 20)
#define LOADTEST_SEAT_MAP_BYTES_PER_SEAT 256

/* Microseconds from CLOCK_MONOTONIC: latencies of local requests are well under 1 ms. */
static inline int64_t loadtest_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#endif
