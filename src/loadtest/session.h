/* session: the state of one load-test run, shared by its parts (buyers, check, report).
 *
 * Memory is taken at start-up from the configuration: `concurrency` buyer slots (each with
 * its transfer and its seat candidates), a timer heap of the same size, the per-second
 * series. The only structures that grow during the run are the list of bookings the run
 * created and the list of buyers whose checkout answer was lost; both are capped. */
#ifndef TIX_LOADTEST_SESSION_H
#define TIX_LOADTEST_SESSION_H

#include "loadtest/client.h"
#include "loadtest/histogram.h"
#include "loadtest/loadtest.h"
#include "loadtest/prng.h"
#include "loadtest/timers.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum loadtest_step {
    LOADTEST_STEP_SEAT_MAP,
    LOADTEST_STEP_HOLD,
    LOADTEST_STEP_CHECKOUT,
    LOADTEST_STEP_BOOKING, /* from the checkout's 202 to the booking's final status */
    LOADTEST_STEPS,
} loadtest_step;

typedef enum loadtest_outcome {
    LOADTEST_OUTCOME_CONFIRMED,
    LOADTEST_OUTCOME_PAYMENT_FAILED,
    LOADTEST_OUTCOME_CANCELLED,
    LOADTEST_OUTCOME_NO_SEATS,  /* the seat map showed none available */
    LOADTEST_OUTCOME_CONFLICTS, /* every hold attempt met 409 seat_unavailable */
    LOADTEST_OUTCOME_PENDING,   /* still pending_payment when polling gave up */
    LOADTEST_OUTCOME_ERROR,     /* an unexpected answer, or retries exhausted */
    LOADTEST_OUTCOME_ABORTED,   /* still in flight when the drain time ran out */
    LOADTEST_OUTCOMES,
} loadtest_outcome;

/* A booking the run created, as last seen. status is a booking_status. */
typedef struct loadtest_booking {
    char id[TIX_BOOKING_ID_LEN + 1];
    uint8_t status;
    uint8_t seat_count;
} loadtest_booking;

typedef struct loadtest_stats {
    loadtest_histogram latency[LOADTEST_STEPS];
    uint64_t outcomes[LOADTEST_OUTCOMES];
    uint64_t errors_by_status[LOADTEST_HTTP_STATUS_MAX]; /* [0]: no HTTP answer */
    uint64_t errors_invalid;                             /* answers that made no sense */
    uint64_t errors;                                     /* all of the above */
    uint64_t buyers_started, buyers_done;
    uint64_t holds_created, hold_conflicts, seats_confirmed;
    uint32_t *holds_per_s, *confirmed_per_s; /* [LOADTEST_SERIES_SECONDS_MAX] */
    uint32_t seconds;                        /* length of the series so far */
    int64_t start_us, end_us;
    int64_t cpu_us; /* CPU time the load tester itself used during the sale */
    char last_error[256];
} loadtest_stats;

typedef struct loadtest_buyer loadtest_buyer;
typedef struct loadtest_session loadtest_session;

struct loadtest_buyer {
    loadtest_session *session;
    loadtest_transfer transfer;
    loadtest_prng prng;
    uint64_t number; /* 0-based */
    char user_id[LOADTEST_USER_ID_LEN_MAX];
    char key[LOADTEST_KEY_LEN_MAX];
    char hold_id[TIX_HOLD_ID_LEN + 1];
    char booking_id[TIX_BOOKING_ID_LEN + 1];
    char (*candidates)[TIX_SEAT_ID_LEN_MAX]; /* [session->candidates_max], shuffled */
    char (*chosen)[TIX_SEAT_ID_LEN_MAX];     /* [TIX_HOLD_SEATS_MAX] */
    uint32_t candidate_count, candidate_next, chosen_count, wanted;
    uint32_t hold_attempts, retries;
    uint32_t slot;
    uint64_t booking_index; /* into session->bookings, or UINT64_MAX */
    int64_t poll_started_us;
    loadtest_step step;
    bool active;
};

struct loadtest_session {
    const loadtest_config *config;
    char run_id[LOADTEST_RUN_ID_LEN + 1];
    char event_path[TIX_EVENT_ID_LEN_MAX + 16]; /* "/events/<id>" */
    uint32_t seats_per_buyer;                   /* K, clamped to the event's max per hold */
    uint32_t candidates_max;
    uint64_t event_seats;
    loadtest_client client;
    loadtest_timers timers;
    loadtest_stats stats;
    loadtest_buyer *buyers; /* [config->concurrency] */
    uint32_t *free_slots;
    uint32_t free_count;
    uint32_t active, seat_map_active, seat_map_slots;
    loadtest_booking *bookings;
    uint64_t booking_count, booking_cap;
    bool bookings_overflow;
    uint64_t *lost_checkouts; /* buyer numbers whose checkout may have made a booking */
    uint64_t lost_count, lost_cap;
    char (*sold_before)[TIX_SEAT_ID_LEN_MAX]; /* sorted seat ids sold before the run */
    uint64_t sold_before_count;
    bool interrupted, drained_by_force;
};

/* Count an error: an HTTP status (0 when there was no answer) and what it was about. */
void loadtest_stats_error(loadtest_stats *s, long status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The second of the run that `now_us` falls in, clamped to the series. */
uint32_t loadtest_stats_second(loadtest_stats *s, int64_t now_us);

/* Remember a booking of the run. Returns its index, or UINT64_MAX when the list is full
 * (the session is then marked bookings_overflow and the check cannot be complete). */
uint64_t loadtest_session_track_booking(loadtest_session *s, const char *id, uint8_t seat_count);

/* Remember a buyer whose checkout got no answer (its booking may exist). */
void loadtest_session_track_lost(loadtest_session *s, uint64_t buyer_number);

/* Start buyer `number` in a free slot. The caller checked that one is free. */
void loadtest_buyer_start(loadtest_session *s, uint64_t number);

/* A buyer's timer fired: send its next request. */
void loadtest_buyer_wake(loadtest_buyer *b);

/* Stop a buyer in the middle of its run (drain time exhausted): counted as aborted. */
void loadtest_buyer_abort(loadtest_buyer *b);

#endif
