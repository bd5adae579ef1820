/* commit: the group-commit writer; see commit.h for the contract.
 *
 * Why it is safe: every state change is decided by the store inside the batch's transaction
 * (store/store.h); the writer only orders, batches and retries. The changes a batch wrote reach
 * the caches only after its COMMIT returned, so memory never runs ahead of disk, and a command
 * that was refused or failed leaves no trace. */
#include "commit/commit.h"

#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct commit {
    store *st;
    commit_config config;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    commit_cmd *head, *tail; /* the queue */
    uint32_t queued;
    bool stopping;
    int64_t next_sweep_ms;  /* monotonic */
    uint32_t last_batch;    /* commands in the last batch taken */
    uint32_t waiting;       /* commands left queued when it was taken (the writer's own) */
    uint32_t gather_target; /* while the writer gathers (commit__gather): wake it at this */
    void (*on_outbox)(void *ctx);
    void *on_outbox_ctx;
    commit_changes_fn on_changes;
    void *on_changes_ctx;
    /* finished commands, for the next ones */
    pthread_mutex_t pool_mutex;
    commit_cmd *pool;
    uint32_t pool_count;
    /* writer-thread state */
    store_batch batch;
    store_cmd **cmds; /* batch_max + 1 (the sweep) */
    commit_cmd sweep;
};

commit_config commit_config_default(void)
{
    commit_config config = {
        .batch_max = COMMIT_BATCH_MAX_DEFAULT,
        .gather_us = COMMIT_GATHER_US_DEFAULT,
        .queue_max = COMMIT_QUEUE_MAX_DEFAULT,
        .sweep_interval_ms = COMMIT_SWEEP_INTERVAL_MS_DEFAULT,
        .sweep_holds_max = COMMIT_SWEEP_HOLDS_MAX_DEFAULT,
        .rules =
            {
                .user_seats_max = TIX_USER_SEATS_DEFAULT,
                .checkout_timeout_s = TIX_CHECKOUT_TIMEOUT_S_DEFAULT,
                .max_attempts = COMMIT_MAX_ATTEMPTS_DEFAULT,
                .lease_ms = COMMIT_LEASE_MS_DEFAULT,
                .idempotency_ttl_s = COMMIT_IDEMPOTENCY_TTL_S_DEFAULT,
                .feed_retain = COMMIT_FEED_RETAIN_DEFAULT,
            },
        .node_id = "local",
    };
    return config;
}

/* ---- the pool of commands ---- */

commit_cmd *commit_cmd_new(commit *c, store_cmd_kind kind)
{
    pthread_mutex_lock(&c->pool_mutex);
    commit_cmd *cmd = c->pool;
    if (cmd) {
        c->pool = cmd->next_;
        c->pool_count--;
    }
    pthread_mutex_unlock(&c->pool_mutex);
    if (!cmd && !(cmd = malloc(sizeof(*cmd)))) return NULL;
    store_cmd_init(&cmd->op, kind);
    cmd->on_done = NULL;
    cmd->ctx = NULL;
    cmd->next_ = NULL;
    return cmd;
}

void commit_cmd_free(commit *c, commit_cmd *cmd)
{
    if (!cmd) return;
    pthread_mutex_lock(&c->pool_mutex);
    bool kept = c->pool_count < COMMIT_POOL_MAX;
    if (kept) {
        cmd->next_ = c->pool;
        c->pool = cmd;
        c->pool_count++;
    }
    pthread_mutex_unlock(&c->pool_mutex);
    if (!kept) free(cmd);
}

/* ---- running a batch ---- */

/* Run cmds[0..n) as one batch, again while the store says it may succeed again. */
static store_status commit__run(commit *c, store_cmd **cmds, uint32_t n, int64_t *started_ms)
{
    store_status status = STORE_RETRY;
    for (int run = 0; run <= COMMIT_RETRIES_MAX && status == STORE_RETRY; run++) {
        if (run > 0) usleep(1000u << run); /* 2, 4, 8 ms: let the other writer finish */
        c->batch.now_ms = *started_ms = clock_now_ms();
        c->batch.cmds = cmds;
        c->batch.count = n;
        int64_t run_us = clock_mono_us();
        status = store_batch_run(c->st, &c->batch);
        /* one transaction: its size and time, and the outbox rows it wrote if it committed */
        metrics_writer_batch(n, c->waiting, clock_mono_us() - run_us, status == STORE_OK);
        if (status == STORE_RETRY) log_warn("commit: the store asked to run a batch again");
    }
    return status;
}

/* After a commit: the changes to their followers, and the dispatcher woken. */
static void commit__committed(commit *c, int64_t started_ms)
{
    if (c->on_changes)
        c->on_changes(c->on_changes_ctx, &c->batch.changes, c->batch.feed_before, started_ms);
    if (c->batch.deliveries_written && c->on_outbox) c->on_outbox(c->on_outbox_ctx);
}

static tix_rc commit__failed_rc(store_status status)
{
    return status == STORE_FATAL ? TIX_RC_STORE_FATAL : TIX_RC_STORE_ERROR;
}

/* Run cmds[0..n) in one transaction; on a fatal failure, each alone (so that one poisoned
 * command cannot fail its neighbours). Every command's rc is final afterwards. */
static void commit__run_all(commit *c, store_cmd **cmds, uint32_t n)
{
    int64_t started_ms;
    store_status status = commit__run(c, cmds, n, &started_ms);
    if (status == STORE_OK) return commit__committed(c, started_ms);
    log_error("commit: a batch of %u commands failed (%s): nothing of it was kept", n,
              store_status_name(status));
    if (status != STORE_FATAL || n == 1) {
        for (uint32_t i = 0; i < n; i++)
            cmds[i]->rc = commit__failed_rc(status);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        status = commit__run(c, &cmds[i], 1, &started_ms);
        if (status == STORE_OK)
            commit__committed(c, started_ms);
        else
            cmds[i]->rc = commit__failed_rc(status);
    }
}

/* Run a batch (possibly empty, with a sweep) and finish its commands. */
static void commit__run_batch(commit *c, commit_cmd *batch, bool sweep)
{
    uint32_t n = 0;
    if (sweep) {
        store_cmd_init(&c->sweep.op, STORE_CMD_SWEEP);
        c->sweep.op.u.sweep.holds_max = c->config.sweep_holds_max;
        c->cmds[n++] = &c->sweep.op;
    }
    for (commit_cmd *cmd = batch; cmd; cmd = cmd->next_) {
        assert(n <= c->config.batch_max);
        c->cmds[n++] = &cmd->op;
    }
    if (n > 0) commit__run_all(c, c->cmds, n);
    commit_cmd *cmd = batch;
    while (cmd) {
        commit_cmd *next = cmd->next_; /* on_done may free cmd */
        cmd->next_ = NULL;
        cmd->on_done(cmd);
        cmd = next;
    }
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

/* Take up to batch_max queued commands off the queue. Called with the mutex held. */
static commit_cmd *commit__take(commit *c, uint32_t *n)
{
    commit_cmd *batch = c->head, *last = NULL;
    *n = 0;
    for (commit_cmd *cmd = batch; cmd && *n < c->config.batch_max; cmd = cmd->next_, (*n)++)
        last = cmd;
    if (!last) return NULL;
    c->head = last->next_;
    if (!c->head) c->tail = NULL;
    last->next_ = NULL;
    c->queued -= *n;
    return batch;
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
            struct timespec ts = clock_mono_deadline((c->next_sweep_ms - now) * 1000);
            pthread_cond_timedwait(&c->cond, &c->mutex, &ts);
            continue;
        }
        uint32_t n;
        commit_cmd *batch = commit__take(c, &n);
        c->last_batch = n;
        c->waiting = c->queued;
        if (sweep_due) c->next_sweep_ms = now + c->config.sweep_interval_ms;
        pthread_mutex_unlock(&c->mutex);
        commit__run_batch(c, batch, sweep_due);
        /* a batch under load answered: let the HTTP threads that share this core send the
         * answers and read the next requests before the next batch is formed */
        if (n >= COMMIT_GATHER_MIN && c->config.gather_us) sched_yield();
        pthread_mutex_lock(&c->mutex);
    }
    pthread_mutex_unlock(&c->mutex);
    return NULL;
}

commit *commit_start(store *st, const commit_config *config)
{
    assert(config->batch_max > 0 && config->queue_max > 0 && config->sweep_holds_max > 0);
    assert(config->node_id[0]);
    commit *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->st = st;
    c->config = *config;
    if (c->config.sweep_interval_ms == 0) c->config.sweep_interval_ms = 1;
    if (c->config.rules.max_attempts == 0) c->config.rules.max_attempts = 1;
    if (c->config.rules.lease_ms == 0) c->config.rules.lease_ms = COMMIT_LEASE_MS_DEFAULT;
    change_page_init(&c->batch.changes);
    c->batch.rules = &c->config.rules;
    c->batch.node_id = c->config.node_id;
    c->cmds = calloc(config->batch_max + 1, sizeof(*c->cmds));
    bool ok = c->cmds && pthread_mutex_init(&c->mutex, NULL) == 0 &&
              pthread_mutex_init(&c->pool_mutex, NULL) == 0 && clock_mono_cond_init(&c->cond) == 0;
    c->next_sweep_ms = clock_mono_ms() + c->config.sweep_interval_ms;
    if (!ok || pthread_create(&c->thread, NULL, commit__writer, c) != 0) {
        log_error("commit: cannot start the writer thread");
        change_page_free(&c->batch.changes);
        free(c->cmds);
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

void commit_on_changes(commit *c, commit_changes_fn fn, void *ctx)
{
    pthread_mutex_lock(&c->mutex);
    c->on_changes = fn;
    c->on_changes_ctx = ctx;
    pthread_mutex_unlock(&c->mutex);
}

tix_rc commit_submit(commit *c, commit_cmd *cmd)
{
    assert(cmd->on_done && cmd->op.kind < STORE_CMD_KINDS && cmd->op.kind != STORE_CMD_SWEEP);
    cmd->next_ = NULL;
    cmd->op.rc = TIX_RC_OK;
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
        rc = cmd->op.rc;
    } else {
        cmd->op.rc = rc;
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
    while (c->pool) {
        commit_cmd *next = c->pool->next_;
        free(c->pool);
        c->pool = next;
    }
    pthread_mutex_destroy(&c->pool_mutex);
    change_page_free(&c->batch.changes);
    free(c->cmds);
    free(c);
}
