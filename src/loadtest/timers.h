/* timers: a fixed-capacity min-heap of wake-up times (buyers waiting to poll a booking or to
 * retry after 503). Each owner has at most one timer, so the capacity is the number of owners
 * and an insert can never overflow when that holds. */
#ifndef TIX_LOADTEST_TIMERS_H
#define TIX_LOADTEST_TIMERS_H

#include <stdint.h>

typedef struct loadtest_timer {
    int64_t due_us;
    void *owner;
} loadtest_timer;

typedef struct loadtest_timers {
    loadtest_timer *heap;
    uint32_t count, capacity;
} loadtest_timers;

/* Allocate room for `capacity` timers. Returns 0 or -1 (out of memory). */
int loadtest_timers_init(loadtest_timers *t, uint32_t capacity);
void loadtest_timers_free(loadtest_timers *t);

/* Add a timer. Returns 0, or -1 when the heap is full (a caller's bug). */
int loadtest_timers_add(loadtest_timers *t, int64_t due_us, void *owner);

/* The owner of the earliest timer due at or before now_us, removed from the heap; NULL if
 * none is due. */
void *loadtest_timers_pop_due(loadtest_timers *t, int64_t now_us);

/* When the earliest timer is due, or INT64_MAX if there is none. */
int64_t loadtest_timers_next_us(const loadtest_timers *t);

#endif
