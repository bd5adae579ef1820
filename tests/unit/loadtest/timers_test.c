/* loadtest timers and prng: due order, capacity, and reproducible bounded draws. */
#include "../test.h"

#include "loadtest/prng.h"
#include "loadtest/timers.h"

TEST(loadtest_timers_pop_in_due_order_and_only_when_due)
{
    loadtest_timers t;
    ASSERT_EQ_INT(loadtest_timers_init(&t, 8), 0);
    int owners[8];
    const int64_t due[8] = {50, 10, 40, 10, 70, 30, 20, 60};
    for (int i = 0; i < 8; i++)
        ASSERT_EQ_INT(loadtest_timers_add(&t, due[i], &owners[i]), 0);
    ASSERT_EQ_INT(loadtest_timers_add(&t, 1, &owners[0]), -1); /* full */
    ASSERT_EQ_INT(loadtest_timers_next_us(&t), 10);
    ASSERT_NULL(loadtest_timers_pop_due(&t, 9));
    int64_t last = 0;
    for (int i = 0; i < 8; i++) {
        int *owner = loadtest_timers_pop_due(&t, 1000);
        ASSERT_NOT_NULL(owner);
        ASSERT_GE(due[owner - owners], last);
        last = due[owner - owners];
    }
    ASSERT_NULL(loadtest_timers_pop_due(&t, 1000));
    ASSERT_EQ_INT(loadtest_timers_next_us(&t), INT64_MAX);
    loadtest_timers_free(&t);
}

TEST(loadtest_prng_streams_are_reproducible_distinct_and_bounded)
{
    loadtest_prng a = loadtest_prng_seed(42, 7), b = loadtest_prng_seed(42, 7);
    loadtest_prng c = loadtest_prng_seed(42, 8);
    ASSERT_EQ_UINT(loadtest_prng_next(&a), loadtest_prng_next(&b));
    ASSERT_TRUE(loadtest_prng_next(&a) != loadtest_prng_next(&c));
    uint32_t seen[5] = {0};
    for (int i = 0; i < 5000; i++) {
        uint32_t v = loadtest_prng_below(&a, 5);
        ASSERT_LT(v, 5);
        seen[v]++;
    }
    for (int i = 0; i < 5; i++)
        ASSERT_GT(seen[i], 800); /* about 1000 each */
    ASSERT_EQ_UINT(loadtest_prng_below(&a, 1), 0);
}
