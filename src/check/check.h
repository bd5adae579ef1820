/* check: the offline integrity checker of a tix store (`tix check`).
 *
 * Opens DIR/tix.db read-only (`file:DIR/tix.db?mode=ro`; a running server is fine: WAL
 * readers never block its writer), takes one read transaction so that every check sees the
 * same committed snapshot, and runs each invariant check as one SQL query that returns one
 * row per violation. Nothing is ever written.
 *
 * The invariants are those the commit writer promises (see commit/commit.h): a seat belongs to
 * at most one live hold and is held or sold only by a hold that lists it; sold seats belong to
 * confirmed bookings; live holds end in time; every outbox row reaches every subscriber whose
 * pattern matches it; a delivery out of attempts is dead-lettered. */
#ifndef TIX_CHECK_H
#define TIX_CHECK_H

#include <stddef.h>
#include <stdint.h>

typedef struct check_config {
    int64_t now_ms;         /* wall-clock time the time-based checks compare against */
    int64_t sweep_grace_ms; /* a live hold may outlive its expiry by this much */
    uint32_t max_attempts;  /* a pending delivery with this many attempts should be dead */
    uint32_t report_max;    /* violations reported per check; the rest are only counted */
} check_config;

enum {
    CHECK_SWEEP_GRACE_MS_DEFAULT = 5000,
    CHECK_MAX_ATTEMPTS_DEFAULT = 8,
    CHECK_REPORT_MAX_DEFAULT = 1000,
};

/* Called once per reported violation: kind is the check's stable name (seat_in_two_holds),
 * details one line of `key=value` pairs naming the ids involved. */
typedef void (*check_violation_fn)(void *ctx, const char *kind, const char *details);

/* Called once per check whose violations went past report_max, with how many were not
 * reported. */
typedef void (*check_truncated_fn)(void *ctx, const char *kind, uint64_t unreported);

typedef struct check_sink {
    check_violation_fn on_violation;
    check_truncated_fn on_truncated; /* may be NULL */
    void *ctx;
} check_sink;

typedef struct check_summary {
    uint32_t checks_run;
    uint64_t violations; /* reported and unreported */
} check_summary;

/* Run every check on the store in data_dir. Returns 0 when every check ran (whatever it
 * found: see out->violations), -1 when the store could not be opened or read, with a reason
 * in err. */
int check_store(const char *data_dir, const check_config *config, const check_sink *sink,
                check_summary *out, char *err, size_t err_len);

/* The same checks on a PostgreSQL store (url: a libpq URI), in one REPEATABLE READ, READ ONLY
 * transaction (check_pg.c). */
int check_store_pg(const char *url, const check_config *config, const check_sink *sink,
                   check_summary *out, char *err, size_t err_len);

/* ---- for the checkers of each store ---- */

/* What one run reports to and counts in. */
typedef struct check_tally {
    const check_config *config;
    const check_sink *sink;
    check_summary *summary;
} check_tally;

/* A violation of check `kind`, the found-th of it (1, 2, ...): reported while found is within
 * config->report_max. */
void check_tally_violation(const check_tally *t, const char *kind, uint64_t found,
                           const char *details);

/* Check `kind` ran and found `found` violations: counted, and the ones not reported said. */
void check_tally_done(const check_tally *t, const char *kind, uint64_t found);

#endif
