/* loadtest histogram: bucket boundaries, bounded error, percentiles against exact ranks. */
#include "../test.h"

#include "loadtest/histogram.h"

#include <stdlib.h>

TEST(loadtest_histogram_buckets_tile_the_values_without_gaps)
{
    ASSERT_EQ_UINT(loadtest_histogram_bucket_low(0), 0);
    for (uint32_t b = 0; b + 1 < LOADTEST_HISTOGRAM_BUCKETS; b++) {
        uint64_t low = loadtest_histogram_bucket_low(b), high = loadtest_histogram_bucket_high(b);
        ASSERT_LT(low, high);
        ASSERT_EQ_UINT(high, loadtest_histogram_bucket_low(b + 1));
        ASSERT_EQ_UINT(loadtest_histogram_bucket(low), b);
        ASSERT_EQ_UINT(loadtest_histogram_bucket(high - 1), b);
    }
}

TEST(loadtest_histogram_bucket_width_is_at_most_a_sixteenth_of_its_values)
{
    for (uint64_t v = 16; v < LOADTEST_HISTOGRAM_VALUE_MAX; v = v * 3 + 7) {
        uint32_t b = loadtest_histogram_bucket(v);
        uint64_t width = loadtest_histogram_bucket_high(b) - loadtest_histogram_bucket_low(b);
        ASSERT_LE(width * 16, loadtest_histogram_bucket_low(b));
    }
}

TEST(loadtest_histogram_huge_values_land_in_the_last_bucket_but_keep_the_exact_max)
{
    loadtest_histogram h;
    loadtest_histogram_init(&h);
    loadtest_histogram_record(&h, INT64_MAX);
    loadtest_histogram_record(&h, -5);
    ASSERT_EQ_UINT(h.count, 2);
    ASSERT_EQ_UINT(h.value_max, (uint64_t)INT64_MAX);
    ASSERT_EQ_UINT(h.value_min, 0);
    ASSERT_LT(loadtest_histogram_bucket(UINT64_MAX), LOADTEST_HISTOGRAM_BUCKETS);
}

TEST(loadtest_histogram_percentiles_are_within_the_bucket_error_of_exact_ranks)
{
    loadtest_histogram h;
    loadtest_histogram_init(&h);
    ASSERT_EQ_UINT(loadtest_histogram_percentile(&h, 0.5), 0);
    for (int64_t v = 1; v <= 100000; v++)
        loadtest_histogram_record(&h, v); /* 1 us .. 100 ms */
    const double q[] = {0.5, 0.9, 0.99, 1.0};
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        double exact = q[i] * 100000, got = (double)loadtest_histogram_percentile(&h, q[i]);
        ASSERT_LE(abs((int)(got - exact)), (int)(exact / 16) + 1);
    }
    ASSERT_EQ_UINT(loadtest_histogram_percentile(&h, 1.0), 100000);
}
