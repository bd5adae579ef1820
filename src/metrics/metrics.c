/* metrics: the registry, per-thread blocks and the Prometheus text rendering; see metrics.h.
 *
 * Invariants: a family's slots [slot_, slot_ + size) never overlap another's and stay below
 * METRICS_SLOTS_MAX; slot 0 is never given out (slot_ == 0 means "not registered"). A block
 * is on exactly one list: live (its thread runs) or free (zeroed, its counts folded into
 * metrics__retired). Only its own thread writes a live block's slots; folding, zeroing and
 * summing happen under metrics__mutex. */
#include "metrics/metrics.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { METRICS_HELP_LEN_MAX = 256, METRICS_TYPE_LEN_MAX = 16 };

typedef struct metrics__block {
    _Atomic uint64_t slot[METRICS_SLOTS_MAX];
    struct metrics__block *next; /* on the live or the free list */
} metrics__block;

static pthread_mutex_t metrics__mutex = PTHREAD_MUTEX_INITIALIZER;
static metrics__block *metrics__live, *metrics__free;
static metrics__block metrics__retired;  /* counts of threads that have ended */
static uint32_t metrics__slots_used = 1; /* slot 0 is never used */
static metrics_family *metrics__families, *metrics__families_last;
static pthread_key_t metrics__key;
static pthread_once_t metrics__key_once = PTHREAD_ONCE_INIT;
static __thread metrics__block *metrics__self;

typedef struct metrics__collector {
    char name[METRICS_NAME_LEN_MAX + 1];
    char help[METRICS_HELP_LEN_MAX + 1];
    char type[METRICS_TYPE_LEN_MAX];
    metrics_collect_fn collect;
    double (*gauge)(void *ctx);
    void *ctx;
} metrics__collector;

static pthread_mutex_t metrics__collectors_mutex = PTHREAD_MUTEX_INITIALIZER;
static metrics__collector metrics__collectors[METRICS_COLLECTORS_MAX];
static uint32_t metrics__collector_count;

struct metrics_sink {
    buf *out;
    const char *name;
};

/* Slots a family takes in every block. */
static uint32_t metrics__stride(const metrics_family *f)
{
    return f->kind == METRICS_HISTOGRAM ? f->bound_count + 2 : 1; /* buckets, +Inf, sum */
}

static bool metrics__name_ok(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > METRICS_NAME_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

int metrics_register(metrics_family *f)
{
    bool ok = metrics__name_ok(f->name) && f->help && f->series > 0 &&
              (f->labels || f->series == 1) &&
              (f->kind != METRICS_HISTOGRAM ||
               (f->bounds && f->bound_count > 0 && f->bound_count <= METRICS_BUCKETS_MAX));
    for (uint32_t i = 1; ok && f->kind == METRICS_HISTOGRAM && i < f->bound_count; i++)
        ok = f->bounds[i - 1] < f->bounds[i];
    if (!ok) return -1;
    int rc = 0;
    pthread_mutex_lock(&metrics__mutex);
    uint64_t size = (uint64_t)f->series * metrics__stride(f);
    if (f->slot_ != 0) {
        /* registered already */
    } else if (metrics__slots_used + size > METRICS_SLOTS_MAX) {
        rc = -1;
    } else {
        f->slot_ = metrics__slots_used;
        metrics__slots_used += (uint32_t)size;
        f->next_ = NULL;
        if (metrics__families_last)
            metrics__families_last->next_ = f;
        else
            metrics__families = f;
        metrics__families_last = f;
    }
    pthread_mutex_unlock(&metrics__mutex);
    return rc;
}

/* A thread ends: its counts join the retired ones, its block is zeroed for the next thread. */
static void metrics__detach(void *arg)
{
    metrics__block *b = arg;
    pthread_mutex_lock(&metrics__mutex);
    for (uint32_t i = 0; i < metrics__slots_used; i++) {
        uint64_t v = atomic_load_explicit(&b->slot[i], memory_order_relaxed);
        uint64_t r = atomic_load_explicit(&metrics__retired.slot[i], memory_order_relaxed);
        atomic_store_explicit(&metrics__retired.slot[i], r + v, memory_order_relaxed);
        atomic_store_explicit(&b->slot[i], 0, memory_order_relaxed);
    }
    metrics__block **p = &metrics__live;
    while (*p && *p != b)
        p = &(*p)->next;
    assert(*p == b);
    *p = b->next;
    b->next = metrics__free;
    metrics__free = b;
    pthread_mutex_unlock(&metrics__mutex);
}

static void metrics__key_create(void)
{
    int rc = pthread_key_create(&metrics__key, metrics__detach);
    assert(rc == 0);
    (void)rc;
}

/* The calling thread's block, taken (once per thread) from the free list or allocated. */
static metrics__block *metrics__attach(void)
{
    pthread_once(&metrics__key_once, metrics__key_create);
    pthread_mutex_lock(&metrics__mutex);
    metrics__block *b = metrics__free;
    if (b)
        metrics__free = b->next;
    else
        b = calloc(1, sizeof(*b));
    if (b) {
        b->next = metrics__live;
        metrics__live = b;
    }
    pthread_mutex_unlock(&metrics__mutex);
    if (b && pthread_setspecific(metrics__key, b) != 0) {
        metrics__detach(b); /* without a destructor its counts would be lost at exit */
        return NULL;
    }
    metrics__self = b;
    return b;
}

/* Add n to slot i of the calling thread's block. */
static inline void metrics__bump(uint32_t i, uint64_t n)
{
    metrics__block *b = metrics__self;
    if (__builtin_expect(!b, 0) && !(b = metrics__attach())) return;
    _Atomic uint64_t *s = &b->slot[i];
    atomic_store_explicit(s, atomic_load_explicit(s, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

void metrics_add(const metrics_family *f, uint32_t series, uint64_t n)
{
    assert(f->kind != METRICS_HISTOGRAM && series < f->series);
    if (f->slot_ == 0) return;
    metrics__bump(f->slot_ + series, n);
}

uint32_t metrics_bucket(const metrics_family *f, uint64_t value)
{
    uint32_t i = 0;
    while (i < f->bound_count && value > f->bounds[i])
        i++;
    return i;
}

void metrics_observe(const metrics_family *f, uint32_t series, uint64_t value)
{
    assert(f->kind == METRICS_HISTOGRAM && series < f->series);
    if (f->slot_ == 0) return;
    uint32_t base = f->slot_ + series * metrics__stride(f);
    metrics__bump(base + metrics_bucket(f, value), 1);
    metrics__bump(base + f->bound_count + 1, value);
}

/* Sum slot i over every block, retired included. Caller holds metrics__mutex. */
static uint64_t metrics__sum(uint32_t i)
{
    uint64_t v = atomic_load_explicit(&metrics__retired.slot[i], memory_order_relaxed);
    for (metrics__block *b = metrics__live; b; b = b->next)
        v += atomic_load_explicit(&b->slot[i], memory_order_relaxed);
    return v;
}

uint64_t metrics_value(const metrics_family *f, uint32_t series)
{
    assert(series < f->series);
    if (f->slot_ == 0) return 0;
    uint32_t stride = metrics__stride(f), base = f->slot_ + series * stride;
    uint64_t v = 0;
    pthread_mutex_lock(&metrics__mutex);
    if (f->kind == METRICS_HISTOGRAM)
        for (uint32_t b = 0; b <= f->bound_count; b++)
            v += metrics__sum(base + b);
    else
        v = metrics__sum(base);
    pthread_mutex_unlock(&metrics__mutex);
    return v;
}

void metrics_label(buf *out, const char *name, const char *value)
{
    if (out->len) buf_append_char(out, ',');
    buf_append_str(out, name);
    buf_append_str(out, "=\"");
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            buf_append_char(out, '\\'), buf_append_char(out, *p);
        else if (*p == '\n')
            buf_append_str(out, "\\n");
        else
            buf_append_char(out, *p);
    }
    buf_append_char(out, '"');
}

/* A number as the format wants it: integers without a fraction, others with 15 digits. */
static void metrics__number(buf *out, double v)
{
    if (v == (double)(int64_t)v && v > -9e15 && v < 9e15)
        buf_appendf(out, "%lld", (long long)v);
    else
        buf_appendf(out, "%.15g", v);
}

/* "# HELP" and "# TYPE" lines (help escaped: backslash and newline). */
static void metrics__header(buf *out, const char *name, const char *help, const char *type)
{
    buf_appendf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            buf_append_str(out, "\\\\");
        else if (*p == '\n')
            buf_append_str(out, "\\n");
        else
            buf_append_char(out, *p);
    }
    buf_appendf(out, "\n# TYPE %s %s\n", name, type);
}

/* One sample line: name{labels[,extra]} value. */
static void metrics__line(buf *out, const char *name, const char *suffix, const buf *labels,
                          const char *extra, double value)
{
    buf_append_str(out, name);
    buf_append_str(out, suffix);
    bool any = labels->len > 0 || extra;
    if (any) buf_append_char(out, '{');
    if (labels->len) buf_append(out, labels->data, labels->len);
    if (extra) {
        if (labels->len) buf_append_char(out, ',');
        buf_append_str(out, extra);
    }
    if (any) buf_append_char(out, '}');
    buf_append_char(out, ' ');
    metrics__number(out, value);
    buf_append_char(out, '\n');
}

/* The buckets, sum and count of one histogram series, from its summed slots. */
static void metrics__histogram_series(buf *out, const metrics_family *f, const uint64_t *v,
                                      const buf *labels)
{
    uint64_t cumulative = 0;
    double unit = f->unit > 0 ? f->unit : 1.0;
    char le[64];
    for (uint32_t b = 0; b <= f->bound_count; b++) {
        cumulative += v[b];
        if (b < f->bound_count)
            snprintf(le, sizeof(le), "le=\"%.15g\"", (double)f->bounds[b] * unit);
        else
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        metrics__line(out, f->name, "_bucket", labels, le, (double)cumulative);
    }
    metrics__line(out, f->name, "_sum", labels, NULL, (double)v[f->bound_count + 1] * unit);
    metrics__line(out, f->name, "_count", labels, NULL, (double)cumulative);
}

/* One family, from the summed slots. */
static void metrics__render_family(buf *out, const metrics_family *f, const uint64_t *sums)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    metrics__header(out, f->name, f->help, types[f->kind]);
    uint32_t stride = metrics__stride(f);
    buf labels;
    buf_init(&labels, 4096);
    for (uint32_t s = 0; s < f->series; s++) {
        const uint64_t *v = sums + f->slot_ + s * stride;
        bool zero = true;
        for (uint32_t i = 0; i < stride && zero; i++)
            zero = v[i] == 0;
        if (zero && f->sparse) continue;
        buf_reset(&labels);
        if (f->labels) f->labels(f, s, &labels);
        if (f->kind == METRICS_HISTOGRAM)
            metrics__histogram_series(out, f, v, &labels);
        else if (f->kind == METRICS_UPDOWN)
            metrics__line(out, f->name, "", &labels, NULL, (double)(int64_t)v[0]);
        else
            metrics__line(out, f->name, "", &labels, NULL, (double)v[0]);
    }
    buf_free(&labels);
}

void metrics_sample(metrics_sink *sink, const char *labels, double value)
{
    buf l = {.data = (char *)labels, .len = labels ? strlen(labels) : 0};
    metrics__line(sink->out, sink->name, "", &l, NULL, value);
}

static void metrics__render_collectors(buf *out)
{
    pthread_mutex_lock(&metrics__collectors_mutex);
    for (uint32_t i = 0; i < metrics__collector_count; i++) {
        metrics__collector *c = &metrics__collectors[i];
        metrics__header(out, c->name, c->help, c->type);
        metrics_sink sink = {out, c->name};
        if (c->gauge)
            metrics_sample(&sink, NULL, c->gauge(c->ctx));
        else
            c->collect(c->ctx, &sink);
    }
    pthread_mutex_unlock(&metrics__collectors_mutex);
}

int metrics_render(buf *out)
{
    /* under the mutex: threads starting or ending wait for it, recording never does */
    pthread_mutex_lock(&metrics__mutex);
    uint64_t *sums = calloc(metrics__slots_used, sizeof(*sums));
    for (uint32_t i = 0; sums && i < metrics__slots_used; i++)
        sums[i] = metrics__sum(i);
    for (const metrics_family *f = metrics__families; sums && f; f = f->next_)
        metrics__render_family(out, f, sums);
    pthread_mutex_unlock(&metrics__mutex);
    if (!sums) return -1;
    free(sums);
    metrics__render_collectors(out);
    return out->failed ? -1 : 0;
}

/* Add or replace a collector. Exactly one of collect and gauge is set. */
static int metrics__collector_put(const char *name, const char *help, const char *type,
                                  metrics_collect_fn collect, double (*gauge)(void *), void *ctx)
{
    if (!metrics__name_ok(name) || !help ||
        (strcmp(type, "gauge") != 0 && strcmp(type, "counter") != 0))
        return -1;
    int rc = 0;
    pthread_mutex_lock(&metrics__collectors_mutex);
    uint32_t i = 0;
    while (i < metrics__collector_count && strcmp(metrics__collectors[i].name, name) != 0)
        i++;
    if (i == METRICS_COLLECTORS_MAX) {
        rc = -1;
    } else {
        metrics__collector *c = &metrics__collectors[i];
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->help, sizeof(c->help), "%s", help);
        snprintf(c->type, sizeof(c->type), "%s", type);
        c->collect = collect;
        c->gauge = gauge;
        c->ctx = ctx;
        if (i == metrics__collector_count) metrics__collector_count++;
    }
    pthread_mutex_unlock(&metrics__collectors_mutex);
    return rc;
}

int metrics_collector_register(const char *name, const char *help, const char *type,
                               metrics_collect_fn fn, void *ctx)
{
    return fn ? metrics__collector_put(name, help, type, fn, NULL, ctx) : -1;
}

int metrics_gauge_register(const char *name, const char *help, double (*fn)(void *ctx), void *ctx)
{
    return fn ? metrics__collector_put(name, help, "gauge", NULL, fn, ctx) : -1;
}

void metrics_collector_unregister(const char *name)
{
    pthread_mutex_lock(&metrics__collectors_mutex);
    for (uint32_t i = 0; i < metrics__collector_count; i++) {
        if (strcmp(metrics__collectors[i].name, name) != 0) continue;
        memmove(&metrics__collectors[i], &metrics__collectors[i + 1],
                (metrics__collector_count - i - 1) * sizeof(metrics__collectors[0]));
        metrics__collector_count--;
        break;
    }
    pthread_mutex_unlock(&metrics__collectors_mutex);
}
