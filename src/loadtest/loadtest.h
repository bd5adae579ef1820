/* loadtest: `tix loadtest`, a flash-sale simulator against a running tix server.
 *
 * Virtual buyers, at most `concurrency` at a time on one thread (libcurl multi), each read the
 * event's available seats, hold 1..K of them (retrying other seats after 409), check out and
 * poll the booking until it is decided. At the end the run is summarised on stdout and the
 * invariants are checked over the API: no seat sold twice, and the sold seats are exactly the
 * seats of the run's confirmed bookings (when the event had none sold before). */
#ifndef TIX_LOADTEST_H
#define TIX_LOADTEST_H

#include "loadtest/internal.h"

enum { LOADTEST_PATH_MAX = 1024 };

typedef struct loadtest_config {
    char url[LOADTEST_URL_LEN_MAX + 1]; /* http://host:port of the server */
    char event_id[TIX_EVENT_ID_LEN_MAX + 1];
    char payment_token[LOADTEST_TOKEN_LEN_MAX + 1];
    char report_path[LOADTEST_PATH_MAX]; /* SVG report, or "" */
    unsigned buyers;                     /* 1..LOADTEST_BUYERS_MAX */
    unsigned duration_s;                 /* 0: until every buyer is done */
    unsigned concurrency;                /* 1..LOADTEST_CONCURRENCY_MAX */
    unsigned seats_per_buyer;            /* K: each buyer wants 1..K seats */
    unsigned seed;
} loadtest_config;

/* Run the load test described by config (already validated by the command line). Prints the
 * progress on stderr and the summary on stdout. Returns 0 when the run completed and every
 * invariant holds, 1 when an invariant is violated, the check could not be completed, the
 * server was unreachable or the run was interrupted. */
int loadtest_run(const loadtest_config *config);

#endif
