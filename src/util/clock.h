/* clock: wall-clock milliseconds and RFC 3339 timestamps (always UTC on output). */
#ifndef TIX_CLOCK_H
#define TIX_CLOCK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum { CLOCK_RFC3339_LEN_MAX = 32 }; /* "2026-11-29T02:34:24.123Z" plus room */

/* Milliseconds since the Unix epoch, from CLOCK_REALTIME. */
int64_t clock_now_ms(void);

/* Milliseconds from CLOCK_MONOTONIC, for measuring intervals. */
int64_t clock_mono_ms(void);

/* Microseconds from CLOCK_MONOTONIC, for measuring short intervals (request latency). */
int64_t clock_mono_us(void);

/* The CLOCK_MONOTONIC instant after_us (>= 0) microseconds from now, as the deadline of a
 * pthread_cond_timedwait on a condition variable set to CLOCK_MONOTONIC. */
struct timespec clock_mono_deadline(int64_t after_us);

/* Initialise cond (a pthread_cond_t) to time its waits on CLOCK_MONOTONIC, the clock of
 * clock_mono_deadline. Returns pthread_cond_init's result (0 on success). */
int clock_mono_cond_init(pthread_cond_t *cond);

/* Format `ms` as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= CLOCK_RFC3339_LEN_MAX bytes).
 * Returns the length written. */
size_t clock_format_rfc3339(int64_t ms, char *out);

/* Parse an RFC 3339 date-time ("2027-06-01T19:30:00Z", "...T19:30:00.5+02:00") into
 * milliseconds since the epoch (UTC). Returns 0, or -1 if `s` (len bytes) is not one, or
 * names an instant outside years 0000..9999 in UTC (which could not be written back). */
int clock_parse_rfc3339(const char *s, size_t len, int64_t *ms_out);

#endif
