/* commit: the group-commit writer; see commit.h for the contract.
 *
 * Why it is safe: every seat change is a conditional write decided by the store inside the
 * writer's transaction; the inventory is only told after the COMMIT returned, so memory
 * never runs ahead of disk, and a rejected or failed command leaves no trace (its savepoint
 * or the whole transaction is rolled back, and the effects it recorded are dropped). */
#include "commit/commit.h"

#include "util/buf.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { COMMIT_OUTBOX_DATA_LEN_MAX = 8192 };

/* A change to apply to the inventory once the batch is committed. */
typedef struct commit_effect {
    inv_event *event;
    int64_t hold_seq;
    int64_t expires_ms;
    bool take; /* true: seats become held by hold_seq; false: hold_seq lets them go */
    uint32_t seat_count;
    uint32_t seat_index[TIX_HOLD_SEATS_MAX];
} commit_effect;

struct commit {
    store *st;
    inventory *inv;
    commit_config config;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    commit_cmd *head, *tail; /* the queue */
    uint32_t queued;
    bool stopping;
    int64_t next_sweep_ms;   /* monotonic */
    /* writer-thread state */
    commit_effect *effects;
    uint32_t effect_count, effect_cap;
    buf data; /* outbox payload scratch */
    int64_t *due; /* sweep scratch */
};

/* Reserve one effect slot; NULL when out of memory. */
static commit_effect *commit__effect_push(commit *c)
{
    if (c->effect_count == c->effect_cap) {
        uint32_t cap = c->effect_cap ? c->effect_cap * 2 : 64;
        commit_effect *grown = realloc(c->effects, cap * sizeof(*grown));
        if (!grown) return NULL;
        c->effects = grown;
        c->effect_cap = cap;
    }
    return &c->effects[c->effect_count++];
}

/* Outbox row for a hold change: {"hold_id","user_id","seat_ids",...}. */
static int commit__outbox_hold(commit *c, const char *type, const hold_record *h, int64_t now_ms)
{
    buf *d = &c->data;
    buf_reset(d);
    char when[CLOCK_RFC3339_LEN_MAX];
    buf_append_str(d, "{\"hold_id\":");
    buf_append_json_str(d, h->id);
    buf_append_str(d, ",\"user_id\":");
    buf_append_json_str(d, h->user_id);
    buf_append_str(d, ",\"seat_ids\":[");
    for (uint32_t i = 0; i < h->seat_count; i++) {
        if (i) buf_append_char(d, ',');
        buf_append_json_str(d, h->seat_ids[i]);
    }
    clock_format_rfc3339(h->expires_at_ms, when);
    buf_appendf(d, "],\"expires_at\":\"%s\"}", when);
    if (d->failed) return log_error("commit: outbox payload too large"), -1;
    return store_tx_outbox_append(c->st, type, h->event_id, h->id, now_ms, d->data);
}

/* End hold `seq` as expired if it is active and lapsed at now_ms: hold row, seats, outbox
 * row, and an effect. *expired tells whether it did. Returns 0 or -1 (store failure). */
static int commit__expire_hold(commit *c, int64_t seq, int64_t now_ms, bool *expired)
{
    *expired = false;
    hold_record h;
    bool found, changed;
    if (store_tx_hold_get(c->st, NULL, seq, &h, &found) != 0) return -1;
    if (!found || h.status != HOLD_ACTIVE || h.expires_at_ms > now_ms) return 0;
    if (store_tx_hold_end(c->st, seq, HOLD_EXPIRED, now_ms, &changed) != 0) return -1;
    assert(changed);
    if (store_tx_seats_free(c->st, seq) != 0) return -1;
    h.status = HOLD_EXPIRED;
    h.ended_at_ms = now_ms;
    if (commit__outbox_hold(c, "HoldExpired", &h, now_ms) != 0) return -1;
    *expired = true;
    inv_event *ev = inventory_find(c->inv, h.event_id, strlen(h.event_id));
    if (!ev) return 0; /* an event the inventory does not know has no seat state to fix */
    commit_effect *e = commit__effect_push(c);
    if (!e) return log_error("commit: out of memory"), -1;
    *e = (commit_effect){.event = ev, .hold_seq = seq, .take = false};
    for (uint32_t i = 0; i < h.seat_count; i++) {
        int64_t idx = inv_event_seat_find(ev, h.seat_ids[i], strlen(h.seat_ids[i]));
        if (idx >= 0) e->seat_index[e->seat_count++] = (uint32_t)idx;
    }
    return 0;
}

/* Take one seat for hold `h`; a seat whose holder has lapsed is freed first. */
static int commit__take_seat(commit *c, const hold_record *h, const char *seat_id, int64_t now_ms,
                             bool *taken)
{
    if (store_tx_seat_take(c->st, h->event_id, seat_id, h->seq, taken) != 0) return -1;
    if (*taken) return 0;
    int64_t holder;
    bool expired;
    if (store_tx_seat_holder(c->st, h->event_id, seat_id, &holder) != 0) return -1;
    if (holder == 0) return 0;
    if (commit__expire_hold(c, holder, now_ms, &expired) != 0) return -1;
    if (!expired) return 0;
    return store_tx_seat_take(c->st, h->event_id, seat_id, h->seq, taken);
}

static int commit__do_hold(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    inv_event *ev = cmd->event;
    hold_record *h = &cmd->hold;
    assert(cmd->seat_count > 0 && cmd->seat_count <= TIX_HOLD_SEATS_MAX);
    ids_random_hex(h->id);
    snprintf(h->event_id, sizeof(h->event_id), "%s", ev->spec.id);
    h->status = HOLD_ACTIVE;
    h->created_at_ms = now_ms;
    h->expires_at_ms = now_ms + (int64_t)ev->spec.hold_ttl_s * 1000;
    h->ended_at_ms = 0;
    h->seat_count = cmd->seat_count;
    for (uint32_t i = 0; i < cmd->seat_count; i++) inv_event_seat_id(ev, cmd->seat_index[i], h->seat_ids[i]);
    if (store_tx_hold_insert(c->st, h) != 0) return -1;
    cmd->taken_count = 0;
    for (uint32_t i = 0; i < cmd->seat_count; i++) {
        bool taken;
        if (commit__take_seat(c, h, h->seat_ids[i], now_ms, &taken) != 0) return -1;
        if (!taken) cmd->taken_index[cmd->taken_count++] = cmd->seat_index[i];
    }
    if (cmd->taken_count > 0) {
        cmd->rc = TIX_RC_SEAT_UNAVAILABLE;
        return 0;
    }
    if (commit__outbox_hold(c, "HoldCreated", h, now_ms) != 0) return -1;
    commit_effect *e = commit__effect_push(c);
    if (!e) return log_error("commit: out of memory"), -1;
    *e = (commit_effect){.event = ev, .hold_seq = h->seq, .expires_ms = h->expires_at_ms,
                         .take = true, .seat_count = cmd->seat_count};
    memcpy(e->seat_index, cmd->seat_index, cmd->seat_count * sizeof(uint32_t));
    cmd->rc = TIX_RC_OK;
    return 0;
}

static int commit__do_release(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    hold_record *h = &cmd->hold;
    bool found, changed, expired;
    char id[TIX_HOLD_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", h->id);
    if (store_tx_hold_get(c->st, id, 0, h, &found) != 0) return -1;
    if (!found) return cmd->rc = TIX_RC_HOLD_NOT_FOUND, 0;
    if (h->status == HOLD_ACTIVE && h->expires_at_ms <= now_ms) {
        if (commit__expire_hold(c, h->seq, now_ms, &expired) != 0) return -1;
        h->status = HOLD_EXPIRED;
        h->ended_at_ms = now_ms;
    }
    if (h->status != HOLD_ACTIVE) return cmd->rc = TIX_RC_HOLD_NOT_ACTIVE, 0;
    if (store_tx_hold_end(c->st, h->seq, HOLD_RELEASED, now_ms, &changed) != 0) return -1;
    assert(changed);
    if (store_tx_seats_free(c->st, h->seq) != 0) return -1;
    h->status = HOLD_RELEASED;
    h->ended_at_ms = now_ms;
    if (commit__outbox_hold(c, "HoldReleased", h, now_ms) != 0) return -1;
    inv_event *ev = inventory_find(c->inv, h->event_id, strlen(h->event_id));
    if (ev) {
        commit_effect *e = commit__effect_push(c);
        if (!e) return log_error("commit: out of memory"), -1;
        *e = (commit_effect){.event = ev, .hold_seq = h->seq, .take = false};
        for (uint32_t i = 0; i < h->seat_count; i++) {
            int64_t idx = inv_event_seat_find(ev, h->seat_ids[i], strlen(h->seat_ids[i]));
            if (idx >= 0) e->seat_index[e->seat_count++] = (uint32_t)idx;
        }
    }
    cmd->rc = TIX_RC_OK;
    return 0;
}

static int commit__do_event_create(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    bool exists;
    cmd->spec.created_at_ms = now_ms;
    if (store_tx_event_insert(c->st, &cmd->spec, &exists) != 0) return -1;
    if (exists) return cmd->rc = TIX_RC_EVENT_EXISTS, 0;
    buf *d = &c->data;
    buf_reset(d);
    buf_append_str(d, "{\"name\":");
    buf_append_json_str(d, cmd->spec.name);
    buf_appendf(d, ",\"seats_total\":%llu}",
                (unsigned long long)model_event_seat_count(&cmd->spec));
    if (d->failed) return log_error("commit: outbox payload too large"), -1;
    if (store_tx_outbox_append(c->st, "EventCreated", cmd->spec.id, cmd->spec.id, now_ms,
                               d->data) != 0)
        return -1;
    cmd->rc = TIX_RC_OK;
    return 0;
}

/* Run one command inside its own savepoint. Returns -1 when the store failed (the batch is
 * then lost); a refusal (seat taken, hold not found) is a success with cmd->rc set. */
static int commit__run_cmd(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    uint32_t effects_before = c->effect_count;
    if (store_savepoint(c->st) != 0) return -1;
    int rc;
    switch (cmd->type) {
    case COMMIT_HOLD: rc = commit__do_hold(c, cmd, now_ms); break;
    case COMMIT_RELEASE: rc = commit__do_release(c, cmd, now_ms); break;
    case COMMIT_EVENT_CREATE: rc = commit__do_event_create(c, cmd, now_ms); break;
    case COMMIT_PING:
        rc = store_tx_ping(c->st, now_ms);
        cmd->rc = TIX_RC_OK;
        break;
    default: assert(!"unknown command"); rc = -1;
    }
    if (rc != 0) return -1;
    if (cmd->rc != TIX_RC_OK) {
        c->effect_count = effects_before;
        return store_savepoint_rollback(c->st);
    }
    return store_savepoint_release(c->st);
}

/* Expire up to sweep_holds_max lapsed holds. Returns 0 or -1 (store failure). */
static int commit__sweep(commit *c, int64_t now_ms)
{
    uint32_t n;
    if (store_tx_holds_due(c->st, now_ms, c->due, c->config.sweep_holds_max, &n) != 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        bool expired;
        if (commit__expire_hold(c, c->due[i], now_ms, &expired) != 0) return -1;
    }
    return 0;
}

/* Apply committed effects to the inventory, in the order they happened. */
static void commit__apply_effects(commit *c)
{
    for (uint32_t i = 0; i < c->effect_count; i++) {
        commit_effect *e = &c->effects[i];
        if (e->take)
            inv_event_apply_hold(e->event, e->seat_index, e->seat_count, e->hold_seq,
                                 e->expires_ms, SEAT_HELD);
        else inv_event_apply_free(e->event, e->seat_index, e->seat_count, e->hold_seq);
    }
}

/* Run a batch (possibly empty, with a sweep step) in one transaction and finish it. */
static void commit__run_batch(commit *c, commit_cmd *batch, bool sweep)
{
    int64_t now_ms = clock_now_ms();
    c->effect_count = 0;
    int rc = store_begin(c->st);
    if (rc == 0 && sweep) rc = commit__sweep(c, now_ms);
    for (commit_cmd *cmd = batch; cmd && rc == 0; cmd = cmd->next_) rc = commit__run_cmd(c, cmd, now_ms);
    if (rc == 0) rc = store_commit(c->st);
    if (rc != 0) {
        store_rollback(c->st);
        log_error("commit: batch failed, nothing of it was kept");
        for (commit_cmd *cmd = batch; cmd; cmd = cmd->next_) cmd->rc = TIX_RC_STORE_ERROR;
    } else {
        commit__apply_effects(c);
        for (commit_cmd *cmd = batch; cmd; cmd = cmd->next_) {
            if (cmd->type != COMMIT_EVENT_CREATE || cmd->rc != TIX_RC_OK) continue;
            tix_rc added = inventory_add_event(c->inv, &cmd->spec, &cmd->created);
            if (added != TIX_RC_OK) {
                log_error("commit: event %s committed but not indexed (%d)", cmd->spec.id, added);
                cmd->rc = added;
            }
        }
    }
    commit_cmd *cmd = batch;
    while (cmd) {
        commit_cmd *next = cmd->next_; /* on_done may free cmd */
        cmd->next_ = NULL;
        cmd->on_done(cmd);
        cmd = next;
    }
}

static void *commit__writer(void *arg)
{
    commit *c = arg;
    pthread_mutex_lock(&c->mutex);
    for (;;) {
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
        for (commit_cmd *cmd = batch; cmd && n < c->config.batch_max; cmd = cmd->next_, n++) last = cmd;
        if (last) {
            c->head = last->next_;
            if (!c->head) c->tail = NULL;
            last->next_ = NULL;
            c->queued -= n;
        } else {
            batch = NULL;
        }
        if (sweep_due) c->next_sweep_ms = now + c->config.sweep_interval_ms;
        pthread_mutex_unlock(&c->mutex);
        commit__run_batch(c, batch, sweep_due);
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

tix_rc commit_submit(commit *c, commit_cmd *cmd)
{
    assert(cmd->on_done);
    cmd->next_ = NULL;
    cmd->rc = TIX_RC_OK;
    tix_rc rc = TIX_RC_OK;
    pthread_mutex_lock(&c->mutex);
    if (c->stopping) rc = TIX_RC_SHUTTING_DOWN;
    else if (c->queued >= c->config.queue_max) rc = TIX_RC_OVERLOADED;
    else {
        if (c->tail) c->tail->next_ = cmd;
        else c->head = cmd;
        c->tail = cmd;
        c->queued++;
        pthread_cond_signal(&c->cond);
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
        while (!w.done) pthread_cond_wait(&w.cond, &w.mutex);
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
    uint32_t seats_held;
} commit__loader;

static int commit__load_seat(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                             int64_t expires_ms)
{
    commit__loader *l = ctx;
    int64_t idx = inv_event_seat_find(l->ev, seat_id, strlen(seat_id));
    if (idx < 0) return log_error("load: seat %s of %s is unknown", seat_id, l->ev->spec.id), -1;
    uint32_t index = (uint32_t)idx;
    inv_event_apply_hold(l->ev, &index, 1, hold_seq, expires_ms, status);
    l->seats_held++;
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
