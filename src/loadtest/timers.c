/* timers: see timers.h. A binary heap in an array: parent of i is (i - 1) / 2. */
#include "loadtest/timers.h"

#include <assert.h>
#include <stdlib.h>

int loadtest_timers_init(loadtest_timers *t, uint32_t capacity)
{
    assert(capacity > 0);
    t->count = 0;
    t->capacity = capacity;
    t->heap = calloc(capacity, sizeof(*t->heap));
    return t->heap ? 0 : -1;
}

void loadtest_timers_free(loadtest_timers *t)
{
    free(t->heap);
    t->heap = NULL;
    t->count = t->capacity = 0;
}

int loadtest_timers_add(loadtest_timers *t, int64_t due_us, void *owner)
{
    if (t->count == t->capacity) return -1;
    uint32_t i = t->count++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (t->heap[parent].due_us <= due_us) break;
        t->heap[i] = t->heap[parent];
        i = parent;
    }
    t->heap[i] = (loadtest_timer){due_us, owner};
    return 0;
}

void *loadtest_timers_pop_due(loadtest_timers *t, int64_t now_us)
{
    if (t->count == 0 || t->heap[0].due_us > now_us) return NULL;
    void *owner = t->heap[0].owner;
    loadtest_timer last = t->heap[--t->count];
    uint32_t i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= t->count) break;
        if (child + 1 < t->count && t->heap[child + 1].due_us < t->heap[child].due_us) child++;
        if (last.due_us <= t->heap[child].due_us) break;
        t->heap[i] = t->heap[child];
        i = child;
    }
    if (t->count > 0) t->heap[i] = last;
    return owner;
}

int64_t loadtest_timers_next_us(const loadtest_timers *t)
{
    return t->count ? t->heap[0].due_us : INT64_MAX;
}
