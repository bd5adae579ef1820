/* rate_limit: token buckets per client address, for write requests.
 *
 * Each address gets a bucket of `burst` tokens refilled at `rate_per_s`; a write takes one
 * token or is refused with the seconds until the next token. The table is bounded
 * (RATE_LIMIT_SLOTS addresses): when a probe run is full, the least recently used entry
 * in it is reused, so a flood of spoofed addresses costs memory for none of them. */
#ifndef TIX_RATE_LIMIT_H
#define TIX_RATE_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

enum { RATE_LIMIT_SLOTS = 16384, RATE_LIMIT_KEY_LEN_MAX = 64 };

typedef struct rate_limit rate_limit;

/* A limiter of rate_per_s writes per second per address with bursts of burst (>= 1). */
rate_limit *rate_limit_create(uint32_t rate_per_s, uint32_t burst);
void rate_limit_destroy(rate_limit *rl);

/* Take a token for address `key` at now_ms. True when allowed; else *retry_after_s is set. */
bool rate_limit_take(rate_limit *rl, const char *key, int64_t now_ms, uint32_t *retry_after_s);

#endif
