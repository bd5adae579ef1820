/* histogram: see histogram.h. Bucket b < 16 holds the value b; above, a value v with its top
 * bit at position m (m >= 4) has shift = m - 4 and sub = v >> shift in [16, 32), and goes to
 * bucket 16 * shift + sub: the buckets of one power of two follow those of the one below. */
#include "loadtest/histogram.h"

#include <assert.h>
#include <string.h>

void loadtest_histogram_init(loadtest_histogram *h)
{
    memset(h, 0, sizeof(*h));
    h->value_min = UINT64_MAX;
}

uint32_t loadtest_histogram_bucket(uint64_t value)
{
    if (value > LOADTEST_HISTOGRAM_VALUE_MAX) value = LOADTEST_HISTOGRAM_VALUE_MAX;
    if (value < LOADTEST_HISTOGRAM_SUB_BUCKETS) return (uint32_t)value;
    unsigned top_bit = 63u - (unsigned)__builtin_clzll(value);
    unsigned shift = top_bit - 4;
    uint32_t bucket = LOADTEST_HISTOGRAM_SUB_BUCKETS * shift + (uint32_t)(value >> shift);
    assert(bucket < LOADTEST_HISTOGRAM_BUCKETS);
    return bucket;
}

uint64_t loadtest_histogram_bucket_low(uint32_t bucket)
{
    assert(bucket < LOADTEST_HISTOGRAM_BUCKETS);
    if (bucket < 2 * LOADTEST_HISTOGRAM_SUB_BUCKETS) return bucket;
    unsigned shift = bucket / LOADTEST_HISTOGRAM_SUB_BUCKETS - 1;
    uint64_t sub = bucket % LOADTEST_HISTOGRAM_SUB_BUCKETS + LOADTEST_HISTOGRAM_SUB_BUCKETS;
    return sub << shift;
}

uint64_t loadtest_histogram_bucket_high(uint32_t bucket)
{
    assert(bucket < LOADTEST_HISTOGRAM_BUCKETS);
    if (bucket < 2 * LOADTEST_HISTOGRAM_SUB_BUCKETS) return (uint64_t)bucket + 1;
    unsigned shift = bucket / LOADTEST_HISTOGRAM_SUB_BUCKETS - 1;
    return loadtest_histogram_bucket_low(bucket) + ((uint64_t)1 << shift);
}

void loadtest_histogram_record(loadtest_histogram *h, int64_t value_us)
{
    uint64_t value = value_us > 0 ? (uint64_t)value_us : 0;
    h->counts[loadtest_histogram_bucket(value)]++;
    h->count++;
    h->value_sum += (double)value;
    if (value < h->value_min) h->value_min = value;
    if (value > h->value_max) h->value_max = value;
}

uint64_t loadtest_histogram_percentile(const loadtest_histogram *h, double q)
{
    if (h->count == 0) return 0;
    assert(q > 0 && q <= 1);
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > h->count) rank = h->count;
    uint64_t seen = 0;
    for (uint32_t b = 0; b < LOADTEST_HISTOGRAM_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen < rank) continue;
        uint64_t low = loadtest_histogram_bucket_low(b), high = loadtest_histogram_bucket_high(b);
        uint64_t mid = low + (high - low) / 2;
        if (mid < h->value_min) mid = h->value_min;
        if (mid > h->value_max) mid = h->value_max;
        return mid;
    }
    assert(!"histogram counts do not add up to its count");
    return h->value_max;
}
