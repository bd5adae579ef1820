/* probes: what tix measures below its API (the writer, the store's syncs, the event bus,
 * connections, the access log) and about its process, as metrics families; see metrics.h
 * for each probe's contract.
 *
 * Holds and bookings by outcome come from the outbox events the writer writes: each batch
 * counts them aside (per writer thread) and adds them only once the batch has committed, so
 * that a failed batch (rolled back, nothing of it kept) counts nothing. */
#include "metrics/metrics.h"

#include "util/clock.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BOUNDS] = {
    50,    100,    250,    500,    1000,    2500,    5000,    10000,    25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* Commands per batch: powers of two up to 65536. */
static const uint64_t metrics__batch_bounds[] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};

enum {
    METRICS_SUBSCRIBERS_MAX = 64, /* labelled one by one; later ones count as "other" */
    METRICS_SUBSCRIBER_LEN_MAX = 40,
};

/* ---- label tables ---- */

static const char *const metrics__outbox_types[] = {
    "HoldCreated",      "HoldReleased",    "HoldExpired",      "CheckoutStarted",
    "PaymentSucceeded", "PaymentFailed",   "BookingConfirmed", "BookingCancelled",
    "RefundRequested",  "RefundSucceeded", "EventCreated",
};
enum { METRICS_OUTBOX_TYPES = sizeof(metrics__outbox_types) / sizeof(metrics__outbox_types[0]) };

/* tix_holds_total outcomes; the first three follow outbox types 0..2 */
static const char *const metrics__hold_outcomes[] = {
    "created", "released", "expired", "seat_unavailable", "limit_exceeded", "invalid", "failed",
};
enum { HOLD_SEAT_UNAVAILABLE = 3, HOLD_LIMIT_EXCEEDED, HOLD_INVALID, HOLD_FAILED, HOLD_OUTCOMES };

static const char *const metrics__booking_outcomes[] = {
    "checkout_started", "confirmed", "payment_failed", "cancelled", "refunded",
};
/* outbox type index -> booking outcome, or -1 */
static const int metrics__booking_of_type[METRICS_OUTBOX_TYPES] = {-1, -1, -1, 0, -1, 2,
                                                                   1,  3,  -1, 4, -1};

static const char *const metrics__batch_outcomes[] = {"committed", "failed"};
static const char *const metrics__delivery_outcomes[] = {"delivered", "failed"};

static pthread_mutex_t metrics__subscribers_mutex = PTHREAD_MUTEX_INITIALIZER;
static char metrics__subscribers[METRICS_SUBSCRIBERS_MAX][METRICS_SUBSCRIBER_LEN_MAX + 1];
static uint32_t metrics__subscriber_count;

static void metrics__labels_outcome(const char *const *names, uint32_t series, buf *out)
{
    metrics_label(out, "outcome", names[series]);
}

static void metrics__holds_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    metrics__labels_outcome(metrics__hold_outcomes, series, out);
}

static void metrics__bookings_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    metrics__labels_outcome(metrics__booking_outcomes, series, out);
}

static void metrics__batches_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    metrics__labels_outcome(metrics__batch_outcomes, series, out);
}

static void metrics__outbox_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    metrics_label(out, "type", metrics__outbox_types[series]);
}

/* series = subscriber index * 2 + outcome */
static void metrics__delivery_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    char name[METRICS_SUBSCRIBER_LEN_MAX + 1] = "other";
    uint32_t i = series / 2;
    pthread_mutex_lock(&metrics__subscribers_mutex);
    if (i < metrics__subscriber_count) snprintf(name, sizeof(name), "%s", metrics__subscribers[i]);
    pthread_mutex_unlock(&metrics__subscribers_mutex);
    metrics_label(out, "subscriber", name);
    metrics__labels_outcome(metrics__delivery_outcomes, series % 2, out);
}

/* ---- families ---- */

static metrics_family metrics__batch_commands = {
    .name = "tix_writer_batch_commands",
    .help = "Commands per group commit of the writer",
    .kind = METRICS_HISTOGRAM,
    .series = 1,
    .bounds = metrics__batch_bounds,
    .bound_count = sizeof(metrics__batch_bounds) / sizeof(metrics__batch_bounds[0]),
    .unit = 1,
};
static metrics_family metrics__batch_seconds = {
    .name = "tix_writer_commit_duration_seconds",
    .help = "Time of a group commit, from BEGIN to the last command of the batch answered "
            "(the sync included)",
    .kind = METRICS_HISTOGRAM,
    .series = 1,
    .bounds = metrics_latency_bounds_us,
    .bound_count = METRICS_LATENCY_BOUNDS,
    .unit = 1e-6,
};
static metrics_family metrics__batches = {
    .name = "tix_writer_batches_total",
    .help = "Transactions of the writer (sweep-only ones included), by outcome (failed: "
            "rolled back, every command of the batch answered 503)",
    .kind = METRICS_COUNTER,
    .series = 2,
    .labels = metrics__batches_labels,
};
static metrics_family metrics__fsync_seconds = {
    .name = "tix_store_fsync_duration_seconds",
    .help = "Time of one fsync of the store's files (database and WAL)",
    .kind = METRICS_HISTOGRAM,
    .series = 1,
    .bounds = metrics_latency_bounds_us,
    .bound_count = METRICS_LATENCY_BOUNDS,
    .unit = 1e-6,
};
static metrics_family metrics__outbox = {
    .name = "tix_outbox_events_total",
    .help = "Events committed to the outbox, by type",
    .kind = METRICS_COUNTER,
    .series = METRICS_OUTBOX_TYPES,
    .labels = metrics__outbox_labels,
    .sparse = true,
};
static metrics_family metrics__holds = {
    .name = "tix_holds_total",
    .help = "Holds by outcome: created, released and expired as committed; seat_unavailable, "
            "limit_exceeded, invalid and failed as answered to hold requests",
    .kind = METRICS_COUNTER,
    .series = HOLD_OUTCOMES,
    .labels = metrics__holds_labels,
};
static metrics_family metrics__bookings = {
    .name = "tix_bookings_total",
    .help = "Bookings by outcome, as committed (checkout_started, confirmed, payment_failed, "
            "cancelled, refunded)",
    .kind = METRICS_COUNTER,
    .series = sizeof(metrics__booking_outcomes) / sizeof(metrics__booking_outcomes[0]),
    .labels = metrics__bookings_labels,
};
static metrics_family metrics__deliveries = {
    .name = "tix_bus_deliveries_total",
    .help = "Event-bus delivery attempts by subscriber and outcome (a failed one is retried "
            "with backoff, or dead-lettered after its last attempt)",
    .kind = METRICS_COUNTER,
    .series = METRICS_SUBSCRIBERS_MAX * 2,
    .labels = metrics__delivery_labels,
    .sparse = true,
};
static metrics_family metrics__connections = {
    .name = "tix_http_connections_open",
    .help = "HTTP connections open now",
    .kind = METRICS_UPDOWN,
    .series = 1,
};
static metrics_family metrics__connections_total = {
    .name = "tix_http_connections_total",
    .help = "HTTP connections accepted",
    .kind = METRICS_COUNTER,
    .series = 1,
};
static metrics_family metrics__streams = {
    .name = "tix_streams_open",
    .help = "Live seat streams open now (GET /events/{id}/stream)",
    .kind = METRICS_UPDOWN,
    .series = 1,
};
static metrics_family metrics__access_dropped = {
    .name = "tix_access_log_dropped_lines_total",
    .help = "Access log lines dropped because the log's buffer was full (the disk is slower "
            "than the traffic)",
    .kind = METRICS_COUNTER,
    .series = 1,
};

static metrics_family *const metrics__probe_families[] = {
    &metrics__batch_commands,    &metrics__batch_seconds, &metrics__batches,
    &metrics__fsync_seconds,     &metrics__outbox,        &metrics__holds,
    &metrics__bookings,          &metrics__deliveries,    &metrics__connections,
    &metrics__connections_total, &metrics__streams,       &metrics__access_dropped,
};

/* ---- the writer's queue depth and the outbox counts of the running batch ---- */

static _Atomic int64_t metrics__queue_depth;
static __thread uint32_t metrics__staged[METRICS_OUTBOX_TYPES];

void metrics_outbox_event(const char *type)
{
    for (uint32_t i = 0; i < METRICS_OUTBOX_TYPES; i++) {
        if (strcmp(type, metrics__outbox_types[i]) != 0) continue;
        metrics__staged[i]++;
        return;
    }
}

void metrics_writer_batch(uint32_t commands, uint32_t queued, int64_t batch_us, bool committed)
{
    atomic_store_explicit(&metrics__queue_depth, queued, memory_order_relaxed);
    metrics_add(&metrics__batches, committed ? 0 : 1, 1);
    if (commands > 0) {
        metrics_observe(&metrics__batch_commands, 0, commands);
        metrics_observe(&metrics__batch_seconds, 0, batch_us > 0 ? (uint64_t)batch_us : 0);
    }
    for (uint32_t i = 0; i < METRICS_OUTBOX_TYPES; i++) {
        uint32_t n = metrics__staged[i];
        metrics__staged[i] = 0;
        if (!committed || n == 0) continue;
        metrics_add(&metrics__outbox, i, n);
        if (i < 3) metrics_add(&metrics__holds, i, n);
        if (metrics__booking_of_type[i] >= 0)
            metrics_add(&metrics__bookings, (uint32_t)metrics__booking_of_type[i], n);
    }
}

void metrics_hold_refused(unsigned status)
{
    uint32_t outcome = status == 409   ? HOLD_SEAT_UNAVAILABLE
                       : status == 429 ? HOLD_LIMIT_EXCEEDED
                       : status >= 500 ? HOLD_FAILED
                                       : HOLD_INVALID;
    metrics_add(&metrics__holds, outcome, 1);
}

void metrics_fsync(int64_t us)
{
    metrics_observe(&metrics__fsync_seconds, 0, us > 0 ? (uint64_t)us : 0);
}

/* The label index of a subscriber: its own while fewer than METRICS_SUBSCRIBERS_MAX - 1 are
 * known, else the last ("other"). */
static uint32_t metrics__subscriber_index(const char *id)
{
    uint32_t i = 0;
    pthread_mutex_lock(&metrics__subscribers_mutex);
    while (i < metrics__subscriber_count && strcmp(metrics__subscribers[i], id) != 0)
        i++;
    if (i == metrics__subscriber_count) {
        if (i < METRICS_SUBSCRIBERS_MAX - 1 && strlen(id) <= METRICS_SUBSCRIBER_LEN_MAX)
            snprintf(metrics__subscribers[metrics__subscriber_count++],
                     METRICS_SUBSCRIBER_LEN_MAX + 1, "%s", id);
        else
            i = METRICS_SUBSCRIBERS_MAX - 1;
    }
    pthread_mutex_unlock(&metrics__subscribers_mutex);
    return i;
}

void metrics_bus_delivery(const char *subscriber_id, bool delivered)
{
    metrics_add(&metrics__deliveries, metrics__subscriber_index(subscriber_id) * 2 + !delivered, 1);
}

void metrics_connection(bool opened)
{
    metrics_add(&metrics__connections, 0, opened ? 1 : (uint64_t)-1);
    if (opened) metrics_add(&metrics__connections_total, 0, 1);
}

void metrics_stream(bool opened)
{
    metrics_add(&metrics__streams, 0, opened ? 1 : (uint64_t)-1);
}

void metrics_access_log_dropped(void)
{
    metrics_add(&metrics__access_dropped, 0, 1);
}

/* ---- the process, from /proc/self ---- */

static double metrics__queue_depth_read(void *ctx)
{
    (void)ctx;
    return (double)atomic_load_explicit(&metrics__queue_depth, memory_order_relaxed);
}

/* utime + stime in seconds, and the start time in seconds since the epoch, from
 * /proc/self/stat (and the boot time from /proc/stat). Returns 0 or -1. */
static int metrics__proc_stat(double *cpu_s, double *start_s)
{
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    const char *p = ok ? strrchr(line, ')') : NULL; /* the command name may hold spaces */
    unsigned long long utime, stime, started;
    if (!p || sscanf(p + 2,
                     "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d "
                     "%*d %*d %*d %llu",
                     &utime, &stime, &started) != 3)
        return -1;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / ticks;
    unsigned long long boot = 0;
    if ((f = fopen("/proc/stat", "r"))) {
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "btime %llu", &boot) == 1) break;
        fclose(f);
    }
    *start_s = (double)boot + (double)started / ticks;
    return 0;
}

static void metrics__process_cpu(void *ctx, metrics_sink *sink)
{
    (void)ctx;
    double cpu_s, start_s;
    if (metrics__proc_stat(&cpu_s, &start_s) == 0) metrics_sample(sink, NULL, cpu_s);
}

static void metrics__process_start(void *ctx, metrics_sink *sink)
{
    (void)ctx;
    double cpu_s, start_s;
    if (metrics__proc_stat(&cpu_s, &start_s) == 0) metrics_sample(sink, NULL, start_s);
}

static void metrics__process_memory(void *ctx, metrics_sink *sink)
{
    (void)ctx;
    unsigned long long size, resident;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return;
    if (fscanf(f, "%llu %llu", &size, &resident) == 2)
        metrics_sample(sink, NULL, (double)resident * (double)sysconf(_SC_PAGESIZE));
    fclose(f);
}

static void metrics__process_fds(void *ctx, metrics_sink *sink)
{
    (void)ctx;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return;
    uint64_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    metrics_sample(sink, NULL, (double)(n > 0 ? n - 1 : 0)); /* less the directory's own fd */
}

static int metrics__probes_rc = -1;

static void metrics__probes_init(void)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof(metrics__probe_families) / sizeof(metrics__probe_families[0]);
         i++)
        rc |= metrics_register(metrics__probe_families[i]);
    rc |= metrics_gauge_register("tix_writer_queue_depth",
                                 "Writes waiting for the writer when its last batch ended",
                                 metrics__queue_depth_read, NULL);
    rc |= metrics_collector_register("tix_process_cpu_seconds_total",
                                     "CPU time of the process, user and system", "counter",
                                     metrics__process_cpu, NULL);
    rc |= metrics_collector_register("tix_process_resident_memory_bytes",
                                     "Resident memory of the process", "gauge",
                                     metrics__process_memory, NULL);
    rc |= metrics_collector_register("tix_process_open_fds", "Open file descriptors", "gauge",
                                     metrics__process_fds, NULL);
    rc |= metrics_collector_register("tix_process_start_time_seconds",
                                     "Start time of the process, seconds since the epoch", "gauge",
                                     metrics__process_start, NULL);
    metrics__probes_rc = rc ? -1 : 0;
}

int metrics_probes_register(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, metrics__probes_init);
    return metrics__probes_rc;
}
