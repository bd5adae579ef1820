/* metrics: counters, gauges and histograms of tix, in the Prometheus text format (0.0.4).
 *
 * Recording is per thread and never allocates nor touches a shared cache line: each thread
 * that records gets, once, a block of METRICS_SLOTS_MAX 64-bit slots of its own (linked into
 * a registry under a mutex); a count is a load, an add and a store on the thread's own slot
 * (relaxed atomics: plain moves on x86, but well-defined for the scraping thread). A scrape
 * sums the slots of every block, plus those of threads that have ended (folded into a
 * `retired` block when they exit, their block then reused by the next new thread), so a
 * counter never goes backwards. Memory: one block (32 KiB) per live thread that records.
 *
 * A family (metrics_family) is a metric name with a fixed number of series (label
 * combinations), registered once, which reserves its slots. Histograms have fixed buckets:
 * an observation finds its bucket with a few comparisons and adds to it and to the sum.
 * Values decided elsewhere (seats per event, the feed's position, process CPU) are collected
 * at scrape time by callbacks (metrics_collector_register, metrics_gauge_register).
 *
 * The tix probes below (metrics_writer_batch, metrics_fsync, ...) are the calls the layers
 * make; they are defined in probes.c with the families they feed. */
#ifndef TIX_METRICS_H
#define TIX_METRICS_H

#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

enum {
    METRICS_SLOTS_MAX = 4096,          /* 64-bit slots per thread block: every family's, summed */
    METRICS_BUCKETS_MAX = 24,          /* finite buckets of a histogram (+Inf is implicit) */
    METRICS_COLLECTORS_MAX = 32,       /* scrape-time callbacks */
    METRICS_NAME_LEN_MAX = 96,         /* metric names, labels of one series */
    METRICS_RENDER_LEN_MAX = 16 << 20, /* a whole scrape */
};

typedef enum metrics_kind {
    METRICS_COUNTER,   /* only goes up: metrics_add */
    METRICS_UPDOWN,    /* a gauge kept as a sum of per-thread changes (+1 open, -1 close) */
    METRICS_HISTOGRAM, /* metrics_observe into fixed buckets */
} metrics_kind;

typedef struct metrics_family metrics_family;

/* Write the labels of series `series` of f into out, as `name="value"` pairs joined by
 * commas, without braces (metrics_label helps with the escaping). */
typedef void (*metrics_labels_fn)(const metrics_family *f, uint32_t series, buf *out);

struct metrics_family {
    const char *name; /* tix_http_requests_total */
    const char *help;
    metrics_kind kind;
    uint32_t series;          /* label combinations, >= 1 */
    metrics_labels_fn labels; /* NULL: no labels (then series is 1) */
    bool sparse;              /* leave out series that are still zero (labelled counters) */
    /* histograms: upper bounds of the finite buckets, ascending, in the unit observed (a
     * latency in microseconds), and the factor to the unit exposed (1e-6: seconds) */
    const uint64_t *bounds;
    uint32_t bound_count;
    double unit;
    /* set by metrics_register */
    uint32_t slot_; /* first slot of the family in every block */
    struct metrics_family *next_;
};

/* Register f (static storage; safe to call again: a registered family is left as it is).
 * Returns 0, or -1 when the slots are exhausted or f is malformed (then recording into it
 * is a no-op, and a scrape leaves it out). Thread-safe. */
int metrics_register(metrics_family *f);

/* Add n to series `series` of a counter or an up-down gauge (n may be (uint64_t)-1 for an
 * up-down gauge). No allocation after the thread's first record; no lock. */
void metrics_add(const metrics_family *f, uint32_t series, uint64_t n);

/* Record one observation of value (in the family's observed unit) in a histogram. */
void metrics_observe(const metrics_family *f, uint32_t series, uint64_t value);

/* The bucket index of value in a histogram: the first bound >= value, or bound_count (+Inf). */
uint32_t metrics_bucket(const metrics_family *f, uint64_t value);

/* Sum of series `series` over every thread (a counter or up-down gauge's value; a
 * histogram's observation count). For tests and the collectors. */
uint64_t metrics_value(const metrics_family *f, uint32_t series);

/* A sink the collectors write their samples into, during a scrape. */
typedef struct metrics_sink metrics_sink;

/* One sample of the collector's metric: labels as for metrics_labels_fn (NULL: none). */
void metrics_sample(metrics_sink *sink, const char *labels, double value);

/* Append `name="value"` (value escaped as the format requires), after a comma if out is not
 * empty. */
void metrics_label(buf *out, const char *name, const char *value);

typedef void (*metrics_collect_fn)(void *ctx, metrics_sink *sink);

/* Collect a metric at scrape time: fn(ctx, sink) writes its samples. type is "gauge" or
 * "counter". Replaces a collector of the same name. Returns 0 or -1 (table full, bad name).
 * fn runs on the scraping thread, under the registry's collector lock: it must not call
 * metrics_collector_register/unregister. */
int metrics_collector_register(const char *name, const char *help, const char *type,
                               metrics_collect_fn fn, void *ctx);

/* A gauge of one unlabelled value read at scrape time: fn(ctx). For the change feed:
 *     metrics_gauge_register("tix_feed_position", "...", feed_position, feed);
 * Returns 0 or -1 as above. */
int metrics_gauge_register(const char *name, const char *help, double (*fn)(void *ctx), void *ctx);

/* Remove a collector or gauge (before what its ctx points to is freed). Waits for a scrape
 * running it to finish. Unknown names are ignored. */
void metrics_collector_unregister(const char *name);

/* The whole exposition (every family, then every collector) appended to out. Returns 0, or
 * -1 when out's cap was reached. */
int metrics_render(buf *out);

/* ---- the tix probes (probes.c) ---- */

/* The buckets of every latency histogram of tix, in microseconds (50 µs to 10 s). */
enum { METRICS_LATENCY_BOUNDS = 17 };
extern const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BOUNDS];

/* A hold request refused with this HTTP status (409 seat_unavailable, 429 limit_exceeded,
 * other 4xx invalid, 5xx failed). Holds made, released and expired are counted from the
 * writer's committed outbox events. */
void metrics_hold_refused(unsigned status);

/* The writer ran a batch of `commands` (the sweep step aside) in batch_us microseconds, from
 * BEGIN to the last command answered; `queued` commands waited behind it; committed or not.
 * Outbox events counted since the last batch (metrics_outbox_event) count only if committed. */
void metrics_writer_batch(uint32_t commands, uint32_t queued, int64_t batch_us, bool committed);

/* The writer wrote an outbox row of this type (HoldCreated, BookingConfirmed, ...) in the
 * batch it is running. Writer thread only. */
void metrics_outbox_event(const char *type);

/* One fsync of the store took us microseconds (the VFS shim, around the real xSync). */
void metrics_fsync(int64_t us);

/* An event-bus delivery to subscriber_id was attempted: delivered or failed. */
void metrics_bus_delivery(const char *subscriber_id, bool delivered);

/* An HTTP connection opened (true) or closed (false). */
void metrics_connection(bool opened);

/* A live seat stream (server-sent events, live/live.h) opened or closed. */
void metrics_stream(bool opened);

/* A line of the access log was dropped because its buffer was full. */
void metrics_access_log_dropped(void);

/* Register the probes' families and the process collector (CPU, memory, start time). Safe to
 * call more than once. Returns 0 or -1. */
int metrics_probes_register(void);

#endif
