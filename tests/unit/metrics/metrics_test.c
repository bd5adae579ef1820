/* metrics: per-thread counters summed at scrape time (threads that ended included),
 * histogram buckets, the text format, collectors and gauges, and the probes' families. */
#include "../test.h"

#include "metrics/metrics.h"

#include <pthread.h>
#include <stdlib.h>

static const uint64_t test_bounds[] = {10, 100, 1000};

static void test_labels_kind(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    metrics_label(out, "kind", series == 0 ? "a" : "b\"q");
}

static metrics_family test_counter = {
    .name = "test_things_total",
    .help = "Things counted by the tests",
    .kind = METRICS_COUNTER,
    .series = 2,
    .labels = test_labels_kind,
};

static metrics_family test_histogram = {
    .name = "test_wait_seconds",
    .help = "Waits of the tests",
    .kind = METRICS_HISTOGRAM,
    .series = 1,
    .bounds = test_bounds,
    .bound_count = 3,
    .unit = 1e-6,
};

static metrics_family test_sparse = {
    .name = "test_rare_total",
    .help = "Counted once in a while",
    .kind = METRICS_COUNTER,
    .series = 2,
    .labels = test_labels_kind,
    .sparse = true,
};

static metrics_family test_updown = {
    .name = "test_open",
    .help = "Opened less closed",
    .kind = METRICS_UPDOWN,
    .series = 1,
};

/* The whole exposition as a NUL-terminated string (the caller frees it). */
static char *test_render(void)
{
    buf out;
    buf_init(&out, METRICS_RENDER_LEN_MAX);
    if (metrics_render(&out) != 0) {
        buf_free(&out);
        return NULL;
    }
    size_t len;
    char *text = buf_detach(&out, &len);
    return text ? text : calloc(1, 1);
}

/* The value of the sample `series` (name and labels, as rendered) in a fresh rendering, or -1
 * when it is not there. */
static double test_sample(const char *series)
{
    char *text = test_render();
    double v = -1;
    size_t n = strlen(series);
    for (const char *p = text; p && (p = strstr(p, series)); p += n) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
    }
    free(text);
    return v;
}

static void test_register_all(void)
{
    ASSERT_EQ_INT(metrics_register(&test_counter), 0);
    ASSERT_EQ_INT(metrics_register(&test_histogram), 0);
    ASSERT_EQ_INT(metrics_register(&test_sparse), 0);
    ASSERT_EQ_INT(metrics_register(&test_updown), 0);
}

enum { TEST_THREADS = 8, TEST_ADDS = 10000 };

static void *test_count_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < TEST_ADDS; i++)
        metrics_add(&test_counter, 0, 1);
    return NULL;
}

TEST(metrics_counts_of_every_thread_add_up_and_survive_the_threads_end)
{
    TEST_CHECK(test_register_all());
    uint64_t before = metrics_value(&test_counter, 0);
    pthread_t threads[TEST_THREADS];
    for (int round = 0; round < 2; round++) { /* the second round reuses the freed blocks */
        for (int i = 0; i < TEST_THREADS; i++)
            ASSERT_EQ_INT(pthread_create(&threads[i], NULL, test_count_thread, NULL), 0);
        for (int i = 0; i < TEST_THREADS; i++)
            pthread_join(threads[i], NULL);
    }
    ASSERT_EQ_UINT(metrics_value(&test_counter, 0) - before, 2 * TEST_THREADS * TEST_ADDS);
}

TEST(metrics_registering_twice_keeps_the_slots_and_a_malformed_family_is_refused)
{
    TEST_CHECK(test_register_all());
    uint32_t slot = test_counter.slot_;
    ASSERT_EQ_INT(metrics_register(&test_counter), 0);
    ASSERT_EQ_UINT(test_counter.slot_, slot);
    static const uint64_t unordered[] = {5, 5};
    metrics_family bad_bounds = {.name = "test_bad",
                                 .help = "x",
                                 .kind = METRICS_HISTOGRAM,
                                 .series = 1,
                                 .bounds = unordered,
                                 .bound_count = 2};
    ASSERT_EQ_INT(metrics_register(&bad_bounds), -1);
    metrics_family bad_name = {.name = "9lives", .help = "x", .series = 1};
    ASSERT_EQ_INT(metrics_register(&bad_name), -1);
    metrics_family labels_missing = {.name = "test_x", .help = "x", .series = 3};
    ASSERT_EQ_INT(metrics_register(&labels_missing), -1);
    metrics_family too_big = {
        .name = "test_big", .help = "x", .series = METRICS_SLOTS_MAX, .labels = test_labels_kind};
    ASSERT_EQ_INT(metrics_register(&too_big), -1);
    metrics_add(&too_big, 0, 1); /* an unregistered family records nothing, harmlessly */
    ASSERT_EQ_UINT(metrics_value(&too_big, 0), 0);
}

TEST(metrics_histogram_buckets_take_values_up_to_their_bound)
{
    TEST_CHECK(test_register_all());
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, 0), 0);
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, 10), 0);
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, 11), 1);
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, 1000), 2);
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, 1001), 3); /* +Inf */
    ASSERT_EQ_UINT(metrics_bucket(&test_histogram, UINT64_MAX), 3);
}

TEST(metrics_render_writes_cumulative_buckets_sum_and_count_in_the_exposed_unit)
{
    TEST_CHECK(test_register_all());
    uint64_t before = metrics_value(&test_histogram, 0);
    ASSERT_EQ_UINT(before, 0); /* only this test observes it */
    metrics_observe(&test_histogram, 0, 5);
    metrics_observe(&test_histogram, 0, 50);
    metrics_observe(&test_histogram, 0, 50);
    metrics_observe(&test_histogram, 0, 5000000);
    char *text = test_render();
    ASSERT_NOT_NULL(text);
    ASSERT_CONTAINS(text, "# HELP test_wait_seconds Waits of the tests\n"
                          "# TYPE test_wait_seconds histogram\n"
                          "test_wait_seconds_bucket{le=\"1e-05\"} 1\n"
                          "test_wait_seconds_bucket{le=\"0.0001\"} 3\n"
                          "test_wait_seconds_bucket{le=\"0.001\"} 3\n"
                          "test_wait_seconds_bucket{le=\"+Inf\"} 4\n"
                          "test_wait_seconds_sum 5.000105\n"
                          "test_wait_seconds_count 4\n");
    free(text);
}

TEST(metrics_render_escapes_label_values_and_leaves_out_zero_series_of_sparse_families)
{
    TEST_CHECK(test_register_all());
    metrics_add(&test_counter, 1, 3);
    metrics_add(&test_sparse, 1, 2);
    char *text = test_render();
    ASSERT_NOT_NULL(text);
    ASSERT_CONTAINS(text, "# TYPE test_things_total counter\n");
    ASSERT_CONTAINS(text, "test_things_total{kind=\"a\"} ");
    ASSERT_CONTAINS(text, "test_things_total{kind=\"b\\\"q\"} ");
    ASSERT_CONTAINS(text, "test_rare_total{kind=\"b\\\"q\"} ");
    ASSERT_TRUE(strstr(text, "test_rare_total{kind=\"a\"}") == NULL);
    free(text);
}

TEST(metrics_updown_gauge_reads_opened_less_closed_across_threads)
{
    TEST_CHECK(test_register_all());
    metrics_add(&test_updown, 0, 1);
    metrics_add(&test_updown, 0, 1);
    metrics_add(&test_updown, 0, (uint64_t)-1);
    char *text = test_render();
    ASSERT_NOT_NULL(text);
    ASSERT_CONTAINS(text, "# TYPE test_open gauge\ntest_open 1\n");
    metrics_add(&test_updown, 0, (uint64_t)-1);
    free(text);
}

static double test_gauge_value(void *ctx)
{
    return *(double *)ctx;
}

static void test_collect(void *ctx, metrics_sink *sink)
{
    (void)ctx;
    metrics_sample(sink, "event=\"e1\",status=\"sold\"", 12);
    metrics_sample(sink, "event=\"e2\",status=\"sold\"", 0.5);
}

TEST(metrics_collectors_and_gauges_are_read_at_scrape_time_until_unregistered)
{
    double position = 41;
    ASSERT_EQ_INT(
        metrics_gauge_register("test_feed_position", "Feed position", test_gauge_value, &position),
        0);
    ASSERT_EQ_INT(metrics_collector_register("test_seats", "Seats", "gauge", test_collect, NULL),
                  0);
    ASSERT_EQ_INT(metrics_gauge_register("bad name", "x", test_gauge_value, &position), -1);
    position = 42;
    char *text = test_render();
    ASSERT_NOT_NULL(text);
    ASSERT_CONTAINS(text, "# TYPE test_feed_position gauge\ntest_feed_position 42\n");
    ASSERT_CONTAINS(text, "test_seats{event=\"e1\",status=\"sold\"} 12\n"
                          "test_seats{event=\"e2\",status=\"sold\"} 0.5\n");
    free(text);
    metrics_collector_unregister("test_feed_position");
    metrics_collector_unregister("test_seats");
    text = test_render();
    ASSERT_NOT_NULL(text);
    ASSERT_TRUE(strstr(text, "test_feed_position") == NULL);
    ASSERT_TRUE(strstr(text, "test_seats") == NULL);
    free(text);
}

TEST(metrics_outbox_events_count_only_when_their_batch_commits)
{
    ASSERT_EQ_INT(metrics_probes_register(), 0);
    char *text = test_render();
    ASSERT_NOT_NULL(text);
    /* the families of the probes are all there, with HELP and TYPE */
    ASSERT_CONTAINS(text, "# TYPE tix_holds_total counter\n");
    ASSERT_CONTAINS(text, "# TYPE tix_writer_commit_duration_seconds histogram\n");
    ASSERT_CONTAINS(text, "# TYPE tix_process_cpu_seconds_total counter\n");
    ASSERT_CONTAINS(text, "tix_process_resident_memory_bytes ");
    free(text);
    /* read back through the rendering, as deltas: other tests may run the writer */
    const char *confirmed = "tix_bookings_total{outcome=\"confirmed\"}";
    const char *failed = "tix_writer_batches_total{outcome=\"failed\"}";
    double confirmed_before = test_sample(confirmed), failed_before = test_sample(failed);
    metrics_outbox_event("HoldCreated");
    metrics_outbox_event("BookingConfirmed");
    metrics_writer_batch(2, 0, 1500, false); /* rolled back: its events do not count */
    ASSERT_TRUE(test_sample(confirmed) == confirmed_before);
    ASSERT_TRUE(test_sample(failed) == failed_before + 1);
    metrics_outbox_event("BookingConfirmed");
    metrics_outbox_event("NotAType");
    metrics_writer_batch(1, 7, 1500, true);
    ASSERT_TRUE(test_sample(confirmed) == confirmed_before + 1);
    ASSERT_TRUE(test_sample("tix_writer_queue_depth") == 7);
}

TEST(metrics_bus_deliveries_are_labelled_by_subscriber_and_outcome)
{
    ASSERT_EQ_INT(metrics_probes_register(), 0);
    metrics_bus_delivery("test_sub_a", true);
    metrics_bus_delivery("test_sub_a", true);
    metrics_bus_delivery("test_sub_b", false);
    ASSERT_TRUE(test_sample("tix_bus_deliveries_total{subscriber=\"test_sub_a\","
                            "outcome=\"delivered\"}") == 2);
    ASSERT_TRUE(test_sample("tix_bus_deliveries_total{subscriber=\"test_sub_b\","
                            "outcome=\"failed\"}") == 1);
    ASSERT_TRUE(test_sample("tix_bus_deliveries_total{subscriber=\"test_sub_b\","
                            "outcome=\"delivered\"}") == -1); /* sparse: never counted */
}
