/* ids: random and sortable ids, their shape, uniqueness and order. */
#include "../test.h"

#include "util/ids.h"

#include <pthread.h>
#include <stdlib.h>

enum { IDS_TEST_COUNT = 2000 };

static int ids_test_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* True when n ids of IDS_HEX_LEN + 1 bytes each are pairwise distinct (sorts them). */
static bool ids_test_distinct(char (*ids)[IDS_HEX_LEN + 1], size_t n)
{
    qsort(ids, n, sizeof(ids[0]), ids_test_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) return false;
    return true;
}

TEST(ids_random_are_valid_and_distinct)
{
    static char ids[IDS_TEST_COUNT][IDS_HEX_LEN + 1];
    for (size_t i = 0; i < IDS_TEST_COUNT; i++) {
        ids_random_hex(ids[i]);
        ASSERT_EQ_UINT(strlen(ids[i]), IDS_HEX_LEN);
        ASSERT_TRUE(ids_is_valid_hex(ids[i], IDS_HEX_LEN));
    }
    ASSERT_TRUE(ids_test_distinct(ids, IDS_TEST_COUNT));
}

TEST(ids_sortable_carry_the_time_and_sort_by_it)
{
    char a[IDS_HEX_LEN + 1], b[IDS_HEX_LEN + 1];
    ids_sortable_hex(a, 0x0123456789abLL);
    ASSERT_EQ_UINT(strlen(a), IDS_HEX_LEN);
    ASSERT_TRUE(ids_is_valid_hex(a, IDS_HEX_LEN));
    ASSERT_EQ_MEM(a, "0123456789ab", IDS_TIME_HEX_LEN);
    /* a later millisecond sorts after, whatever the random part */
    for (int i = 0; i < 200; i++) {
        ids_sortable_hex(a, 1811878200000LL + i);
        ids_sortable_hex(b, 1811878200000LL + i + 1);
        ASSERT_LT(strcmp(a, b), 0);
    }
    ids_sortable_hex(a, 0xfffffffffffLL); /* a carry across every time digit */
    ids_sortable_hex(b, 0x100000000000LL);
    ASSERT_LT(strcmp(a, b), 0);
}

TEST(ids_sortable_of_one_millisecond_are_distinct)
{
    static char ids[IDS_TEST_COUNT][IDS_HEX_LEN + 1];
    for (size_t i = 0; i < IDS_TEST_COUNT; i++) {
        ids_sortable_hex(ids[i], 1811878200000LL);
        ASSERT_TRUE(ids_is_valid_hex(ids[i], IDS_HEX_LEN));
        ASSERT_EQ_MEM(ids[i], ids[0], IDS_TIME_HEX_LEN);
    }
    ASSERT_TRUE(ids_test_distinct(ids, IDS_TEST_COUNT));
}

/* Each thread draws from its own pool: ids made on several threads at once never repeat. */
enum { IDS_TEST_THREADS = 4, IDS_TEST_PER_THREAD = 500 };
static char ids_test_shared[IDS_TEST_THREADS * IDS_TEST_PER_THREAD][IDS_HEX_LEN + 1];

static void *ids_test_thread(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    for (size_t i = 0; i < IDS_TEST_PER_THREAD; i++)
        ids_sortable_hex(ids_test_shared[t * IDS_TEST_PER_THREAD + i], 1811878200000LL);
    return NULL;
}

TEST(ids_from_several_threads_are_distinct)
{
    pthread_t th[IDS_TEST_THREADS];
    for (size_t t = 0; t < IDS_TEST_THREADS; t++)
        ASSERT_EQ_INT(pthread_create(&th[t], NULL, ids_test_thread, (void *)(uintptr_t)t), 0);
    for (size_t t = 0; t < IDS_TEST_THREADS; t++) ASSERT_EQ_INT(pthread_join(th[t], NULL), 0);
    ASSERT_TRUE(ids_test_distinct(ids_test_shared, IDS_TEST_THREADS * IDS_TEST_PER_THREAD));
}

TEST(ids_validity_is_the_shape_only)
{
    ASSERT_TRUE(ids_is_valid_hex("0123456789abcdef0123456789abcdef", 32));
    ASSERT_FALSE(ids_is_valid_hex("0123456789abcdef0123456789abcde", 31));
    ASSERT_FALSE(ids_is_valid_hex("0123456789ABCDEF0123456789abcdef", 32));
    ASSERT_FALSE(ids_is_valid_hex("0123456789abcdef0123456789abcdeg", 32));
}
