/* commit: the group-commit writer; see commit.h for the contract.
 *
 * Why it is safe: every seat change is a conditional write decided by the store inside the
 * writer's transaction; the inventory is only told after the COMMIT returned, so memory
 * never runs ahead of disk, and a refused or failed command leaves no trace (its savepoint
 * or the whole transaction is rolled back, and the effects it recorded are dropped).
 * The commands themselves live in holds.c, bookings.c and bus.c. */
#include "commit/internal.h"

#include "core/json_out.h"
#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

void commit_cmd_clear(commit_cmd *cmd, commit_type type)
{
    bool holds_only = type == COMMIT_HOLD || type == COMMIT_RELEASE;
    memset(cmd, 0, holds_only ? offsetof(commit_cmd, booking) : sizeof(*cmd));
    cmd->type = type;
}

commit_config commit_config_default(void)
{
    return (commit_config){
        .batch_max = COMMIT_BATCH_MAX_DEFAULT,
        .gather_us = COMMIT_GATHER_US_DEFAULT,
        .queue_max = COMMIT_QUEUE_MAX_DEFAULT,
        .sweep_interval_ms = COMMIT_SWEEP_INTERVAL_MS_DEFAULT,
        .sweep_holds_max = COMMIT_SWEEP_HOLDS_MAX_DEFAULT,
        .checkout_timeout_s = TIX_CHECKOUT_TIMEOUT_S_DEFAULT,
        .max_attempts = COMMIT_MAX_ATTEMPTS_DEFAULT,
        .retry_base_ms = COMMIT_RETRY_BASE_MS_DEFAULT,
        .retry_max_ms = COMMIT_RETRY_MAX_MS_DEFAULT,
        .lease_ms = COMMIT_LEASE_MS_DEFAULT,
        .idempotency_ttl_s = COMMIT_IDEMPOTENCY_TTL_S_DEFAULT,
        .user_seats_max = TIX_USER_SEATS_DEFAULT,
    };
}

/* Room for one more effect at the end of c->effects, or NULL when out of memory. */
static commit_effect *commit__effect_new(commit *c)
{
    if (c->effect_count == c->effect_cap) {
        uint32_t cap = c->effect_cap ? c->effect_cap * 2 : 64;
        commit_effect *grown = realloc(c->effects, cap * sizeof(*grown));
        if (!grown) return log_error("commit: out of memory"), NULL;
        c->effects = grown;
        c->effect_cap = cap;
    }
    return &c->effects[c->effect_count++];
}

int commit__effect_seats(commit *c, inv_event *ev, const uint32_t *seat_index, uint32_t n,
                         int64_t hold_seq, int64_t expires_ms, seat_status status)
{
    assert(n <= TIX_HOLD_SEATS_MAX);
    commit_effect *e = commit__effect_new(c);
    if (!e) return -1;
    *e = (commit_effect){.event = ev,
                         .hold_seq = hold_seq,
                         .expires_ms = expires_ms,
                         .status = status,
                         .seat_count = n};
    memcpy(e->seat_index, seat_index, n * sizeof(*seat_index));
    return 0;
}

int commit__effect_ids(commit *c, const char *event_id, char (*seat_ids)[TIX_SEAT_ID_LEN_MAX],
                       uint32_t n, int64_t hold_seq, int64_t expires_ms, seat_status status)
{
    assert(n <= TIX_HOLD_SEATS_MAX);
    inv_event *ev = inventory_find(c->inv, event_id, strlen(event_id));
    if (!ev) return 0; /* an event the inventory does not know has no seat state to fix */
    uint32_t index[TIX_HOLD_SEATS_MAX], found = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t idx = inv_event_seat_find(ev, seat_ids[i], strlen(seat_ids[i]));
        if (idx >= 0) index[found++] = (uint32_t)idx;
    }
    return commit__effect_seats(c, ev, index, found, hold_seq, expires_ms, status);
}

int commit__outbox(commit *c, const char *type, const char *event_id, const char *aggregate_id,
                   int64_t now_ms)
{
    if (c->data.failed) return log_error("commit: outbox payload of %s too large", type), -1;
    bool delivered;
    if (store_tx_outbox_append(c->st, type, event_id, aggregate_id, now_ms, c->data.data,
                               &delivered) != 0)
        return -1;
    if (delivered) c->deliveries_written = true;
    metrics_outbox_event(type);
    return 0;
}

int commit__outbox_hold(commit *c, const char *type, const hold_record *h, int64_t now_ms)
{
    buf_reset(&c->data);
    json_out_hold(&c->data, h, now_ms, true);
    return commit__outbox(c, type, h->event_id, h->id, now_ms);
}

int commit__outbox_booking(commit *c, const char *type, const booking_record *b, int64_t now_ms)
{
    buf_reset(&c->data);
    json_out_booking(&c->data, b, true);
    return commit__outbox(c, type, b->event_id, b->id, now_ms);
}

typedef int (*commit__handler)(commit *c, commit_cmd *cmd, int64_t now_ms);

static int commit__do_ping(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    cmd->rc = TIX_RC_OK;
    return store_tx_ping(c->st, now_ms);
}

static int commit__do_response_store(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    (void)c, (void)now_ms;
    assert(cmd->idempotency.key && cmd->idempotency.rendered);
    cmd->rc = TIX_RC_OK;
    return 0;
}

static const commit__handler commit__handlers[] = {
    [COMMIT_HOLD] = commit__do_hold,
    [COMMIT_RELEASE] = commit__do_release,
    [COMMIT_EVENT_CREATE] = commit__do_event_create,
    [COMMIT_PING] = commit__do_ping,
    [COMMIT_CHECKOUT] = commit__do_checkout,
    [COMMIT_CANCEL] = commit__do_cancel,
    [COMMIT_PAYMENT_RESULT] = commit__do_payment_result,
    [COMMIT_REFUND_RESULT] = commit__do_refund_result,
    [COMMIT_CLAIM] = commit__do_claim,
    [COMMIT_DELIVERY_DONE] = commit__do_delivery_done,
    [COMMIT_REDRIVE] = commit__do_redrive,
    [COMMIT_WEBHOOK_CREATE] = commit__do_webhook_create,
    [COMMIT_RESPONSE_STORE] = commit__do_response_store,
};

/* Keep the response of an idempotent request with the change it answers. */
static int commit__keep_response(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    commit_idempotency *idem = &cmd->idempotency;
    if (!idem->rendered) {
        assert(idem->render);
        idem->render(cmd);
        idem->rendered = true;
    }
    if (idem->body.failed) return log_error("commit: response too large to keep"), -1;
    return store_tx_idempotency_put(c->st, idem->key, idem->request_hash, idem->status,
                                    idem->body.data, idem->body.len, now_ms);
}

/* Run one command inside its own savepoint. Returns -1 when the store failed (the batch is
 * then lost); a refusal (seat taken, hold not found) is a success with cmd->rc set, and
 * undoes whatever the command wrote. A hold, the hot path, runs without a savepoint (two
 * statements fewer): it undoes itself when refused (commit__do_hold), and the expiries of
 * lapsed holds it made on the way stand, with their effects, as the sweeper's would. */
static int commit__run_cmd(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    uint32_t effects_before = c->effect_count;
    bool savepoint = cmd->type != COMMIT_HOLD;
    assert(cmd->type < sizeof(commit__handlers) / sizeof(commit__handlers[0]));
    if (savepoint && store_savepoint(c->st) != 0) return -1;
    cmd->rc = TIX_RC_OK;
    if (commit__handlers[cmd->type](c, cmd, now_ms) != 0) return -1;
    if (savepoint && cmd->rc != TIX_RC_OK) {
        c->effect_count = effects_before;
        if (store_savepoint_rollback(c->st) != 0) return -1;
    } else if (savepoint && store_savepoint_release(c->st) != 0) {
        return -1;
    }
    return cmd->idempotency.key ? commit__keep_response(c, cmd, now_ms) : 0;
}

/* Expire up to sweep_holds_max lapsed holds, and forget old idempotency keys. */
static int commit__sweep(commit *c, int64_t now_ms)
{
    uint32_t n;
    if (store_tx_holds_due(c->st, now_ms, c->due, c->config.sweep_holds_max, &n) != 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        bool expired;
        if (commit__expire_hold(c, c->due[i], now_ms, &expired) != 0) return -1;
    }
    return store_tx_idempotency_purge(c->st, now_ms - (int64_t)c->config.idempotency_ttl_s * 1000);
}

/* Apply committed effects to the inventory, in the order they happened. */
static void commit__apply_effects(commit *c)
{
    for (uint32_t i = 0; i < c->effect_count; i++) {
        commit_effect *e = &c->effects[i];
        if (e->status == SEAT_AVAILABLE)
            inv_event_apply_free(e->event, e->seat_index, e->seat_count, e->hold_seq);
        else
            inv_event_apply_hold(e->event, e->seat_index, e->seat_count, e->hold_seq, e->expires_ms,
                                 e->status);
    }
}

/* After a commit: events created by the batch join the inventory. */
static void commit__index_events(commit *c, commit_cmd *batch)
{
    for (commit_cmd *cmd = batch; cmd; cmd = cmd->next_) {
        if (cmd->type != COMMIT_EVENT_CREATE || cmd->rc != TIX_RC_OK) continue;
        tix_rc added = inventory_add_event(c->inv, &cmd->spec, &cmd->created);
        if (added != TIX_RC_OK) {
            log_error("commit: event %s committed but not indexed (%d)", cmd->spec.id, added);
            cmd->rc = added;
        }
    }
}

/* Run a batch (possibly empty, with a sweep step) in one transaction and finish it. Returns
 * whether it committed. */
static bool commit__run_batch(commit *c, commit_cmd *batch, bool sweep)
{
    int64_t now_ms = clock_now_ms();
    c->effect_count = 0;
    c->deliveries_written = false;
    int rc = store_begin(c->st);
    if (rc == 0 && sweep) rc = commit__sweep(c, now_ms);
    for (commit_cmd *cmd = batch; cmd && rc == 0; cmd = cmd->next_)
        rc = commit__run_cmd(c, cmd, now_ms);
    if (rc == 0) rc = store_commit(c->st);
    if (rc != 0) {
        store_rollback(c->st);
        log_error("commit: batch failed, nothing of it was kept");
        for (commit_cmd *cmd = batch; cmd; cmd = cmd->next_)
            cmd->rc = TIX_RC_STORE_ERROR;
    } else {
        commit__apply_effects(c);
        commit__index_events(c, batch);
        if (c->deliveries_written && c->on_outbox) c->on_outbox(c->on_outbox_ctx);
    }
    commit_cmd *cmd = batch;
    while (cmd) {
        commit_cmd *next = cmd->next_; /* on_done may free cmd */
        cmd->next_ = NULL;
        cmd->on_done(cmd);
        cmd = next;
    }
    return rc == 0;
}

/* Group commit sized by load. The clients a batch answers send their next requests at once,
 * but the HTTP threads need CPU (on a small machine, the writer's core) to read them: taking
 * only what is queued the moment a batch ends makes the next batch small, and a small batch
 * pays a whole sync and commit for few commands. So after a batch of n >= COMMIT_GATHER_MIN,
 * while fewer than n are queued, wait (at most gather_us, sleeping, so that those threads
 * run) for them, as PostgreSQL's commit_delay does; batches then grow to what the load
 * offers. At low load (small batches) nothing waits. Called with the mutex held. */
static void commit__gather(commit *c)
{
    uint32_t target = c->last_batch;
    if (c->config.gather_us == 0 || c->last_batch < COMMIT_GATHER_MIN || c->queued >= target)
        return;
    struct timespec deadline = clock_mono_deadline(c->config.gather_us);
    c->gather_target = target; /* commit_submit signals when it is reached */
    while (!c->stopping && c->queued < target)
        if (pthread_cond_timedwait(&c->cond, &c->mutex, &deadline) == ETIMEDOUT) break;
    c->gather_target = 0;
}

static void *commit__writer(void *arg)
{
    commit *c = arg;
    pthread_setname_np(pthread_self(), "tix-writer");
    pthread_mutex_lock(&c->mutex);
    for (;;) {
        commit__gather(c);
        int64_t now = clock_mono_ms();
        bool sweep_due = now >= c->next_sweep_ms;
        if (!c->head && !sweep_due) {
            if (c->stopping) break;
            int64_t wake_ms = c->next_sweep_ms;
            struct timespec ts = {.tv_sec = wake_ms / 1000, .tv_nsec = (wake_ms % 1000) * 1000000};
            pthread_cond_timedwait(&c->cond, &c->mutex, &ts);
            continue;
        }
        commit_cmd *batch = c->head, *last = NULL;
        uint32_t n = 0;
        for (commit_cmd *cmd = batch; cmd && n < c->config.batch_max; cmd = cmd->next_, n++)
            last = cmd;
        c->last_batch = n;
        if (last) {
            c->head = last->next_;
            if (!c->head) c->tail = NULL;
            last->next_ = NULL;
            c->queued -= n;
        } else {
            batch = NULL;
        }
        if (sweep_due) c->next_sweep_ms = now + c->config.sweep_interval_ms;
        uint32_t waiting = c->queued;
        pthread_mutex_unlock(&c->mutex);
        int64_t started_us = clock_mono_us();
        bool committed = commit__run_batch(c, batch, sweep_due);
        metrics_writer_batch(n, waiting, clock_mono_us() - started_us, committed);
        /* a batch under load answered: let the HTTP threads that share this core send the
         * answers and read the next requests before the next batch is formed */
        if (n >= COMMIT_GATHER_MIN && c->config.gather_us) sched_yield();
        pthread_mutex_lock(&c->mutex);
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

commit *commit_start(store *st, inventory *inv, const commit_config *config)
{
    assert(config->batch_max > 0 && config->queue_max > 0 && config->sweep_holds_max > 0);
    commit *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->st = st;
    c->inv = inv;
    c->config = *config;
    if (c->config.sweep_interval_ms == 0) c->config.sweep_interval_ms = 1;
    if (c->config.max_attempts == 0) c->config.max_attempts = 1;
    if (c->config.lease_ms == 0) c->config.lease_ms = COMMIT_LEASE_MS_DEFAULT;
    buf_init(&c->data, COMMIT_OUTBOX_DATA_LEN_MAX);
    c->due = calloc(config->sweep_holds_max, sizeof(int64_t));
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    bool ok = c->due && pthread_mutex_init(&c->mutex, NULL) == 0 &&
              pthread_cond_init(&c->cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
    c->next_sweep_ms = clock_mono_ms() + c->config.sweep_interval_ms;
    if (!ok || pthread_create(&c->thread, NULL, commit__writer, c) != 0) {
        log_error("commit: cannot start the writer thread");
        free(c->due);
        free(c);
        return NULL;
    }
    return c;
}

void commit_on_outbox(commit *c, void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&c->mutex);
    c->on_outbox = fn;
    c->on_outbox_ctx = ctx;
    pthread_mutex_unlock(&c->mutex);
}

tix_rc commit_submit(commit *c, commit_cmd *cmd)
{
    assert(cmd->on_done);
    cmd->next_ = NULL;
    cmd->rc = TIX_RC_OK;
    tix_rc rc = TIX_RC_OK;
    pthread_mutex_lock(&c->mutex);
    if (c->stopping)
        rc = TIX_RC_SHUTTING_DOWN;
    else if (c->queued >= c->config.queue_max)
        rc = TIX_RC_OVERLOADED;
    else {
        if (c->tail)
            c->tail->next_ = cmd;
        else
            c->head = cmd;
        c->tail = cmd;
        c->queued++;
        if (c->gather_target == 0 || c->queued == c->gather_target) pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->mutex);
    return rc;
}

typedef struct commit__waiter {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
} commit__waiter;

static void commit__wake(commit_cmd *cmd)
{
    commit__waiter *w = cmd->ctx;
    pthread_mutex_lock(&w->mutex);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

tix_rc commit_submit_wait(commit *c, commit_cmd *cmd)
{
    commit__waiter w = {.done = false};
    pthread_mutex_init(&w.mutex, NULL);
    pthread_cond_init(&w.cond, NULL);
    cmd->on_done = commit__wake;
    cmd->ctx = &w;
    tix_rc rc = commit_submit(c, cmd);
    if (rc == TIX_RC_OK) {
        pthread_mutex_lock(&w.mutex);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.mutex);
        pthread_mutex_unlock(&w.mutex);
        rc = cmd->rc;
    }
    pthread_mutex_destroy(&w.mutex);
    pthread_cond_destroy(&w.cond);
    return rc;
}

void commit_stop(commit *c)
{
    pthread_mutex_lock(&c->mutex);
    bool was_stopping = c->stopping;
    c->stopping = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mutex);
    if (was_stopping) return;
    pthread_join(c->thread, NULL);
    assert(c->head == NULL && c->queued == 0);
}

void commit_destroy(commit *c)
{
    if (!c) return;
    commit_stop(c);
    pthread_mutex_destroy(&c->mutex);
    pthread_cond_destroy(&c->cond);
    buf_free(&c->data);
    free(c->effects);
    free(c->due);
    free(c);
}

typedef struct commit__loader {
    store *st;
    inventory *inv;
    inv_event *ev;
} commit__loader;

static int commit__load_seat(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                             int64_t expires_ms)
{
    commit__loader *l = ctx;
    int64_t idx = inv_event_seat_find(l->ev, seat_id, strlen(seat_id));
    if (idx < 0) return log_error("load: seat %s of %s is unknown", seat_id, l->ev->spec.id), -1;
    uint32_t index = (uint32_t)idx;
    inv_event_apply_hold(l->ev, &index, 1, hold_seq, expires_ms, status);
    return 0;
}

static int commit__load_event(void *ctx, event_spec *spec)
{
    commit__loader *l = ctx;
    tix_rc rc = inventory_add_event(l->inv, spec, &l->ev);
    if (rc != TIX_RC_OK) return log_error("load: cannot index event %s (%d)", spec->id, rc), -1;
    return store_seats_load(l->st, l->ev->spec.id, commit__load_seat, l);
}

int commit_load_inventory(store *st, inventory *inv)
{
    commit__loader l = {.st = st, .inv = inv};
    return store_events_load(st, commit__load_event, &l);
}
