/* check: the invariants of a run, verified over the HTTP API only.
 *
 * Before the run loadtest_check_before reads which seats are already sold. After it,
 * loadtest_check_run finds bookings whose checkout answer was lost (GET /users/{id}/bookings),
 * waits (bounded) for pending payments to be decided, then reads every booking of the run and
 * the full seat map, and re-reads the bookings that were pending, until it has a snapshot in
 * which none of them changed (at most 3 rounds). Against that snapshot:
 *   - no seat is in two confirmed bookings (no seat sold twice);
 *   - every seat of a confirmed booking exists and is sold, and was not sold before the run;
 *   - when nothing was sold before the run: the sold seats are exactly the union of the seats
 *     of the run's confirmed bookings. (Another client selling seats of the same event during
 *     the run would break this one; the load tester assumes it has the event to itself.) */
#ifndef TIX_LOADTEST_CHECK_H
#define TIX_LOADTEST_CHECK_H

#include "loadtest/session.h"

enum { LOADTEST_CHECK_MESSAGES_MAX = 10, LOADTEST_CHECK_MESSAGE_LEN = 200 };

/* What a violation breaks. */
typedef enum loadtest_check_kind {
    LOADTEST_CHECK_SOLD_TWICE, /* a seat in two confirmed bookings, or sold before and again */
    LOADTEST_CHECK_NOT_SOLD,   /* a seat of a confirmed booking that is not sold (or unknown) */
    LOADTEST_CHECK_EXTRA_SOLD, /* a sold seat in no confirmed booking of the run */
    LOADTEST_CHECK_API,        /* an answer of the API that contradicts itself */
    LOADTEST_CHECK_KINDS,
} loadtest_check_kind;

typedef struct loadtest_check_result {
    bool complete; /* every read succeeded and the snapshot was consistent */
    char incomplete_reason[256];
    bool equality_checked; /* the event had no sold seats before the run */
    uint64_t violations;
    uint64_t violations_by_kind[LOADTEST_CHECK_KINDS];
    uint32_t message_count;
    char messages[LOADTEST_CHECK_MESSAGES_MAX][LOADTEST_CHECK_MESSAGE_LEN];
    uint64_t seats_total, seats_sold, seats_held, seats_available;
    uint64_t bookings_read, bookings_found_late; /* the latter via GET /users/{id}/bookings */
    uint64_t confirmed, payment_failed, cancelled, pending;
    uint64_t confirmed_seats; /* distinct seats of confirmed bookings */
} loadtest_check_result;

/* Read the seats sold before the run into s->sold_before. Returns 0, or -1 after logging. */
int loadtest_check_before(loadtest_session *s);

/* Check the invariants after the run (no buyer may be active). Fills r; returns 0 when the
 * check completed with no violation, -1 otherwise. */
int loadtest_check_run(loadtest_session *s, loadtest_check_result *r);

#endif
