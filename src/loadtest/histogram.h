/* histogram: latencies in a fixed array of log-linear buckets (in the spirit of HdrHistogram).
 *
 * Values are microseconds. Below 16 us each value has its own bucket; above, every power of
 * two is split into 16 buckets, so a bucket is at most 1/16 (6.25%) of its value wide. Values
 * above LOADTEST_HISTOGRAM_VALUE_MAX land in the last bucket (the exact maximum is kept
 * apart). Recording is O(1) and never allocates. */
#ifndef TIX_LOADTEST_HISTOGRAM_H
#define TIX_LOADTEST_HISTOGRAM_H

#include <stdint.h>

enum {
    LOADTEST_HISTOGRAM_SUB_BUCKETS = 16,
    LOADTEST_HISTOGRAM_SHIFT_MAX = 31, /* values up to 2^36 us, about 19 hours */
    LOADTEST_HISTOGRAM_BUCKETS =
        LOADTEST_HISTOGRAM_SUB_BUCKETS * (LOADTEST_HISTOGRAM_SHIFT_MAX + 2),
};
#define LOADTEST_HISTOGRAM_VALUE_MAX ((((uint64_t)1) << 36) - 1)

typedef struct loadtest_histogram {
    uint64_t counts[LOADTEST_HISTOGRAM_BUCKETS];
    uint64_t count;
    uint64_t value_min, value_max; /* exact; value_min is UINT64_MAX while empty */
    double value_sum;
} loadtest_histogram;

/* Empty the histogram. */
void loadtest_histogram_init(loadtest_histogram *h);

/* Record one value (negative values count as 0). */
void loadtest_histogram_record(loadtest_histogram *h, int64_t value_us);

/* The bucket index of a value, and the lowest and one-past-highest values of a bucket. */
uint32_t loadtest_histogram_bucket(uint64_t value);
uint64_t loadtest_histogram_bucket_low(uint32_t bucket);
uint64_t loadtest_histogram_bucket_high(uint32_t bucket);

/* The value at quantile q (0 < q <= 1): the middle of the bucket that holds the q-th value,
 * clamped to the exact minimum and maximum. Returns 0 when the histogram is empty. */
uint64_t loadtest_histogram_percentile(const loadtest_histogram *h, double q);

#endif
