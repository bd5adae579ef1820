/* feed: the follower; see feed.h for the contract.
 *
 * One lock (apply_mutex) orders everything that applies changes: the writer's hook and the
 * poller. A change is applied only when its seq is the position + 1, so each is applied once
 * and in order, whoever reads it. The poller reads from the store without the lock (a read
 * never blocks the writer) and skips what the writer applied meanwhile. */
#include "feed/feed.h"

#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct feed__listener {
    feed_listener_fn fn;
    void *ctx;
} feed__listener;

struct feed {
    store *st;
    inventory *inv;
    feed_config config;
    pthread_mutex_t apply_mutex; /* applying changes: position, synced_at, inventory order */
    int64_t position;            /* atomic: read without the lock */
    int64_t synced_at_ms;        /* atomic: every change committed before it is applied */
    uint32_t listener_count;
    feed__listener listeners[FEED_LISTENERS_MAX];
    change_page catch_up; /* the writer's reads of other writers' changes (under the lock) */
    /* the poller */
    pthread_t thread;
    bool started, stopping, woken;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    change_page polled;
};

static void feed__synced(feed *f, int64_t at_ms)
{
    if (at_ms > __atomic_load_n(&f->synced_at_ms, __ATOMIC_ACQUIRE))
        __atomic_store_n(&f->synced_at_ms, at_ms, __ATOMIC_RELEASE);
}

/* ---- rebuilding from a snapshot ---- */

typedef struct feed__loader {
    feed *f;
    inv_event *ev;
    inv_seat_state *seats;
    uint32_t count, cap;
    int64_t position;
    bool failed;
} feed__loader;

/* Give the seats gathered for the current event to it. */
static void feed__loader_flush(feed__loader *l)
{
    if (l->ev) inv_event_restore(l->ev, l->seats, l->count, (uint64_t)l->position);
    l->ev = NULL;
    l->count = 0;
}

static int feed__load_event(void *ctx, event_spec *spec)
{
    feed__loader *l = ctx;
    feed__loader_flush(l);
    inv_event *ev = inventory_find(l->f->inv, spec->id, strlen(spec->id));
    if (!ev) {
        tix_rc rc = inventory_add_event(l->f->inv, spec, &ev);
        if (rc != TIX_RC_OK) return log_error("feed: cannot index event %s (%d)", spec->id, rc), -1;
    }
    l->ev = ev;
    return 0;
}

static int feed__load_seat(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                           int64_t hold_expires_ms)
{
    feed__loader *l = ctx;
    int64_t index = l->ev ? inv_event_seat_find(l->ev, seat_id, strlen(seat_id)) : -1;
    if (index < 0) return log_error("feed: a snapshot names an unknown seat %s", seat_id), -1;
    if (l->count == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 1024;
        inv_seat_state *grown = realloc(l->seats, cap * sizeof(*grown));
        if (!grown) return log_error("feed: out of memory"), -1;
        l->seats = grown;
        l->cap = cap;
    }
    l->seats[l->count++] = (inv_seat_state){(uint32_t)index, status, hold_seq, hold_expires_ms};
    return 0;
}

/* Replace every event's seat state by a store snapshot's. Called with the apply lock held
 * (or before anything else runs). Returns 0 or -1. */
static int feed__rebuild(feed *f)
{
    int64_t started_ms = clock_now_ms();
    feed__loader l = {.f = f};
    store_snapshot_cb cb = {.event = feed__load_event, .seat = feed__load_seat, .ctx = &l};
    store_status status = STORE_OK;
    int rc = store_snapshot_load(f->st, &cb, &l.position, &status);
    if (rc == 0) feed__loader_flush(&l);
    free(l.seats);
    if (rc != 0)
        return log_error("feed: cannot load a snapshot (%s)", store_status_name(status)), -1;
    __atomic_store_n(&f->position, l.position, __ATOMIC_RELEASE);
    feed__synced(f, started_ms);
    for (uint32_t k = 0; k < f->listener_count; k++) /* what was skipped is not told: a reset */
        f->listeners[k].fn(f->listeners[k].ctx, NULL, NULL, 0);
    return 0;
}

/* ---- applying changes ---- */

/* A seat change to its event's seats. */
static void feed__apply_seats(feed *f, const change_record *c, const char *seats, size_t len)
{
    inv_event *ev = inventory_find(f->inv, c->event_id, strlen(c->event_id));
    if (!ev) {
        log_error("feed: change %lld is about an unknown event %s", (long long)c->seq, c->event_id);
        return;
    }
    uint32_t index[TIX_HOLD_SEATS_MAX], n = 0;
    char id[TIX_SEAT_ID_LEN_MAX];
    size_t pos = 0;
    int got;
    while (n < TIX_HOLD_SEATS_MAX && (got = model_seat_ids_next(seats, len, &pos, id)) > 0) {
        int64_t i = inv_event_seat_find(ev, id, (size_t)got);
        if (i >= 0)
            index[n++] = (uint32_t)i;
        else
            log_error("feed: change %lld names an unknown seat %s", (long long)c->seq, id);
    }
    seat_status status = model_change_seat_status(c->kind);
    if (status == SEAT_AVAILABLE)
        inv_event_apply_free(ev, index, n, c->hold_seq, (uint64_t)c->seq);
    else
        inv_event_apply_hold(ev, index, n, c->hold_seq, c->expires_ms, status, (uint64_t)c->seq);
}

/* A new event joins the inventory (read from the store: its spec is not in the feed). */
static int feed__apply_event(feed *f, const change_record *c)
{
    inv_event *ev = inventory_find(f->inv, c->event_id, strlen(c->event_id));
    if (!ev) {
        event_spec spec;
        bool found;
        store_status status = STORE_OK;
        if (store_event_get(f->st, c->event_id, &spec, &found, &status) != 0)
            return log_warn("feed: event %s cannot be read yet (%s)", c->event_id,
                            store_status_name(status)),
                   -1;
        if (!found)
            return log_error("feed: event %s of change %lld is not in the store", c->event_id,
                             (long long)c->seq),
                   0;
        tix_rc rc = inventory_add_event(f->inv, &spec, &ev);
        model_event_spec_free(&spec);
        if (rc != TIX_RC_OK && rc != TIX_RC_EVENT_EXISTS)
            return log_error("feed: cannot index event %s (%d)", c->event_id, rc), 0;
        if (!ev) ev = inventory_find(f->inv, c->event_id, strlen(c->event_id));
    }
    if (ev && inv_event_version(ev) < (uint64_t)c->seq)
        inv_event_restore(ev, NULL, 0, (uint64_t)c->seq); /* a new event: every seat free */
    return 0;
}

/* Apply the changes of page from the one after the position on (skipping those already
 * applied). Called with the apply lock held. Returns 0, or -1 when one could not be applied
 * yet (the position stays before it). */
static int feed__apply_page(feed *f, const change_page *page)
{
    for (uint32_t i = 0; i < page->count; i++) {
        const change_record *c = &page->items[i];
        int64_t position = __atomic_load_n(&f->position, __ATOMIC_ACQUIRE);
        if (c->seq <= position) continue;
        if (c->seq != position + 1) {
            log_error("feed: change %lld follows %lld: a gap", (long long)c->seq,
                      (long long)position);
            return -1;
        }
        size_t len;
        const char *seats = change_page_seats(page, c, &len);
        if (model_change_is_seats(c->kind))
            feed__apply_seats(f, c, seats, len);
        else if (c->kind == CHANGE_EVENT_CREATED && feed__apply_event(f, c) != 0)
            return -1;
        __atomic_store_n(&f->position, c->seq, __ATOMIC_RELEASE);
        for (uint32_t k = 0; k < f->listener_count; k++)
            f->listeners[k].fn(f->listeners[k].ctx, c, seats, len);
    }
    return 0;
}

/* Read and apply what other writers committed, up to seq `upto` (or until the store has no
 * more when upto is 0). Called with the apply lock held, into page. Returns 0 or -1. */
static int feed__catch_up(feed *f, change_page *page, int64_t upto)
{
    for (;;) {
        int64_t position = __atomic_load_n(&f->position, __ATOMIC_ACQUIRE);
        if (upto > 0 && position >= upto) return 0;
        change_page_reset(page);
        store_feed_bounds bounds;
        store_status status = STORE_OK;
        if (store_changes_read(f->st, position, f->config.page_max, NULL, 0, page, &bounds, NULL,
                               &status) != 0)
            return -1;
        if (bounds.oldest_seq > position + 1) { /* trimmed past us: start again from the store */
            log_warn("feed: position %lld fell behind the oldest change kept (%lld): rebuilding",
                     (long long)position, (long long)bounds.oldest_seq);
            if (feed__rebuild(f) != 0) return -1;
            continue;
        }
        if (page->count == 0) return 0;
        if (feed__apply_page(f, page) != 0) return -1;
        if (upto == 0 && page->count < f->config.page_max) return 0;
    }
}

void feed_apply_committed(void *ctx, const change_page *changes, int64_t feed_before,
                          int64_t started_ms)
{
    feed *f = ctx;
    pthread_mutex_lock(&f->apply_mutex);
    int rc = 0;
    bool behind = feed_before > __atomic_load_n(&f->position, __ATOMIC_ACQUIRE);
    if (behind && changes->count > 0) /* other writers committed before this batch: theirs first */
        rc = feed__catch_up(f, &f->catch_up, feed_before);
    if (rc == 0) rc = feed__apply_page(f, changes);
    /* every change committed before the batch began is applied: the batch took the store's
     * write lock at started_ms, after them */
    int64_t position = __atomic_load_n(&f->position, __ATOMIC_ACQUIRE);
    if (rc == 0 && position >= feed_before + (int64_t)changes->count) feed__synced(f, started_ms);
    pthread_mutex_unlock(&f->apply_mutex);
    if (rc != 0) feed_wake(f); /* the poller tries again */
}

/* ---- the poller ---- */

/* One round: read what is new, apply it. */
static void feed__poll(feed *f)
{
    int64_t started_ms = clock_now_ms();
    bool complete = false;
    for (int pages = 0; pages < 64 && !complete; pages++) {
        int64_t position = feed_position(f);
        change_page_reset(&f->polled);
        store_feed_bounds bounds;
        store_status status = STORE_OK;
        if (store_changes_read(f->st, position, f->config.page_max, NULL, 0, &f->polled, &bounds,
                               NULL, &status) != 0)
            return;
        pthread_mutex_lock(&f->apply_mutex);
        int rc = 0;
        if (bounds.oldest_seq > feed_position(f) + 1)
            rc = feed__catch_up(f, &f->catch_up, 0); /* it rebuilds */
        else
            rc = feed__apply_page(f, &f->polled);
        complete = rc == 0 && f->polled.count < f->config.page_max;
        if (complete) feed__synced(f, started_ms);
        pthread_mutex_unlock(&f->apply_mutex);
        if (rc != 0) return;
    }
}

static void *feed__poller(void *arg)
{
    feed *f = arg;
    pthread_setname_np(pthread_self(), "tix-feed");
    pthread_mutex_lock(&f->mutex);
    while (!f->stopping) {
        if (!f->woken) {
            struct timespec deadline = clock_mono_deadline((int64_t)f->config.poll_ms * 1000);
            pthread_cond_timedwait(&f->cond, &f->mutex, &deadline);
            if (f->stopping) break;
        }
        f->woken = false;
        pthread_mutex_unlock(&f->mutex);
        feed__poll(f);
        pthread_mutex_lock(&f->mutex);
    }
    pthread_mutex_unlock(&f->mutex);
    return NULL;
}

/* ---- life ---- */

feed *feed_open(store *st, inventory *inv, const feed_config *config)
{
    assert(config->poll_ms > 0 && config->page_max > 0);
    feed *f = calloc(1, sizeof(*f));
    if (!f) return NULL;
    f->st = st;
    f->inv = inv;
    f->config = *config;
    change_page_init(&f->catch_up);
    change_page_init(&f->polled);
    pthread_mutex_init(&f->apply_mutex, NULL);
    pthread_mutex_init(&f->mutex, NULL);
    clock_mono_cond_init(&f->cond);
    if (feed__rebuild(f) != 0) {
        feed_close(f);
        return NULL;
    }
    return f;
}

int feed_listen(feed *f, feed_listener_fn fn, void *ctx)
{
    pthread_mutex_lock(&f->apply_mutex); /* listeners are called under it */
    int rc = f->listener_count < FEED_LISTENERS_MAX ? 0 : -1;
    if (rc == 0) f->listeners[f->listener_count++] = (feed__listener){fn, ctx};
    pthread_mutex_unlock(&f->apply_mutex);
    return rc;
}

void feed_unlisten(feed *f, feed_listener_fn fn, void *ctx)
{
    pthread_mutex_lock(&f->apply_mutex);
    for (uint32_t k = 0; k < f->listener_count; k++) {
        if (f->listeners[k].fn != fn || f->listeners[k].ctx != ctx) continue;
        memmove(&f->listeners[k], &f->listeners[k + 1],
                (f->listener_count - k - 1) * sizeof(f->listeners[0]));
        f->listener_count--;
        break;
    }
    pthread_mutex_unlock(&f->apply_mutex);
}

/* The store's watch (store_watch): another writer committed changes. */
static void feed__watched(void *ctx)
{
    feed_wake(ctx);
}

int feed_start(feed *f)
{
    assert(!f->started);
    if (pthread_create(&f->thread, NULL, feed__poller, f) != 0)
        return log_error("feed: cannot start the poller"), -1;
    f->started = true;
    if (store_watch(f->st, feed__watched, f) != 0)
        log_warn("feed: the store cannot tell of other writers' changes: polling only");
    return 0;
}

void feed_close(feed *f)
{
    if (!f) return;
    if (f->started) {
        store_watch(f->st, NULL, NULL); /* no more wakes from the store's thread */
        pthread_mutex_lock(&f->mutex);
        f->stopping = true;
        pthread_cond_signal(&f->cond);
        pthread_mutex_unlock(&f->mutex);
        pthread_join(f->thread, NULL);
    }
    pthread_mutex_destroy(&f->apply_mutex);
    pthread_mutex_destroy(&f->mutex);
    pthread_cond_destroy(&f->cond);
    change_page_free(&f->catch_up);
    change_page_free(&f->polled);
    free(f);
}

void feed_wake(feed *f)
{
    pthread_mutex_lock(&f->mutex);
    f->woken = true;
    pthread_cond_signal(&f->cond);
    pthread_mutex_unlock(&f->mutex);
}

int64_t feed_position(feed *f)
{
    return __atomic_load_n(&f->position, __ATOMIC_ACQUIRE);
}

int64_t feed_lag_ms(feed *f, int64_t now_ms)
{
    int64_t lag = now_ms - __atomic_load_n(&f->synced_at_ms, __ATOMIC_ACQUIRE);
    return lag > 0 ? lag : 0;
}
