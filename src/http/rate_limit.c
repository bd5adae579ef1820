/* rate_limit: see rate_limit.h. Tokens are kept in thousandths so refills need no floats. */
#include "http/rate_limit.h"

#include "util/hash.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RATE_LIMIT_PROBES = 8, RATE_LIMIT_MILLI = 1000 };

typedef struct rate_bucket {
    char key[RATE_LIMIT_KEY_LEN_MAX + 1]; /* "" = free */
    int64_t tokens_milli;
    int64_t last_ms;
} rate_bucket;

struct rate_limit {
    pthread_mutex_t mutex;
    int64_t rate_per_s;
    int64_t burst_milli;
    rate_bucket slots[RATE_LIMIT_SLOTS];
};

rate_limit *rate_limit_create(uint32_t rate_per_s, uint32_t burst)
{
    assert(rate_per_s > 0 && burst > 0);
    rate_limit *rl = calloc(1, sizeof(*rl));
    if (!rl) return NULL;
    pthread_mutex_init(&rl->mutex, NULL);
    rl->rate_per_s = rate_per_s;
    rl->burst_milli = (int64_t)burst * RATE_LIMIT_MILLI;
    return rl;
}

void rate_limit_destroy(rate_limit *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->mutex);
    free(rl);
}

/* The bucket of key: found, or a free or least recently used one in its probe run. */
static rate_bucket *rate__bucket(rate_limit *rl, const char *key, int64_t now_ms)
{
    uint32_t slot = hash_fnv1a32(key, strlen(key)) & (RATE_LIMIT_SLOTS - 1);
    rate_bucket *victim = NULL;
    for (int i = 0; i < RATE_LIMIT_PROBES; i++) {
        rate_bucket *b = &rl->slots[(slot + (uint32_t)i) & (RATE_LIMIT_SLOTS - 1)];
        if (strcmp(b->key, key) == 0) return b;
        if (!victim || !b->key[0] || (victim->key[0] && b->last_ms < victim->last_ms)) victim = b;
        if (!b->key[0]) break;
    }
    snprintf(victim->key, sizeof(victim->key), "%s", key);
    victim->tokens_milli = rl->burst_milli;
    victim->last_ms = now_ms;
    return victim;
}

bool rate_limit_take(rate_limit *rl, const char *key, int64_t now_ms, uint32_t *retry_after_s)
{
    pthread_mutex_lock(&rl->mutex);
    rate_bucket *b = rate__bucket(rl, key, now_ms);
    int64_t elapsed_ms = now_ms > b->last_ms ? now_ms - b->last_ms : 0;
    b->tokens_milli += elapsed_ms * rl->rate_per_s; /* ms x tokens/s = thousandths */
    if (b->tokens_milli > rl->burst_milli) b->tokens_milli = rl->burst_milli;
    b->last_ms = now_ms;
    bool allowed = b->tokens_milli >= RATE_LIMIT_MILLI;
    if (allowed)
        b->tokens_milli -= RATE_LIMIT_MILLI;
    else {
        int64_t missing_milli = RATE_LIMIT_MILLI - b->tokens_milli;
        int64_t wait_ms = (missing_milli + rl->rate_per_s - 1) / rl->rate_per_s;
        *retry_after_s = (uint32_t)((wait_ms + 999) / 1000);
        if (*retry_after_s == 0) *retry_after_s = 1;
    }
    pthread_mutex_unlock(&rl->mutex);
    return allowed;
}
