/* dispatcher: the claim loop and the worker pool; see dispatcher.h. */
#include "bus/internal.h"

#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Claim up to max due deliveries through the writer into out. Returns how many. */
static uint32_t bus__claim(bus *b, delivery_record *out, uint32_t max)
{
    commit_cmd *cmd = commit_cmd_new(b->writer, STORE_CMD_CLAIM);
    if (!cmd) return 0;
    cmd->op.u.claim.max = max;
    cmd->op.u.claim.out = out;
    cmd->op.u.claim.count = 0;
    tix_rc rc = commit_submit_wait(b->writer, cmd);
    uint32_t n = rc == TIX_RC_OK ? cmd->op.u.claim.count : 0;
    if (rc != TIX_RC_OK && rc != TIX_RC_SHUTTING_DOWN) log_warn("bus: claim failed (%d)", rc);
    commit_cmd_free(b->writer, cmd);
    return n;
}

/* Take back the leases this node held when it stopped: their deliveries are due at once. */
static void bus__reclaim(bus *b)
{
    commit_cmd *cmd = commit_cmd_new(b->writer, STORE_CMD_RECLAIM);
    if (!cmd) return;
    cmd->op.u.reclaim.count = 0;
    tix_rc rc = commit_submit_wait(b->writer, cmd);
    if (rc != TIX_RC_OK)
        log_warn("bus: the leases of the last run could not be taken back (%d): they will be "
                 "when they lapse",
                 rc);
    else if (cmd->op.u.reclaim.count > 0)
        log_info("bus: %u deliveries this node had claimed before it stopped are due again",
                 cmd->op.u.reclaim.count);
    commit_cmd_free(b->writer, cmd);
}

static void bus__wait_ms(bus *b, unsigned ms)
{
    struct timespec ts = clock_mono_deadline((int64_t)ms * 1000);
    pthread_cond_timedwait(&b->wake, &b->mutex, &ts);
}

static void *bus__dispatch_loop(void *arg)
{
    bus *b = arg;
    pthread_setname_np(pthread_self(), "tix-dispatch");
    uint32_t cap = b->worker_count;
    delivery_record *claimed = calloc(cap, sizeof(*claimed));
    pthread_mutex_lock(&b->mutex);
    while (!b->stopping && claimed) {
        unsigned idle = b->worker_count - b->running - b->queued;
        if (idle == 0) {
            bus__wait_ms(b, b->config.poll_ms);
            continue;
        }
        b->woken = false;
        pthread_mutex_unlock(&b->mutex);
        uint32_t n = bus__claim(b, claimed, idle < cap ? idle : cap);
        pthread_mutex_lock(&b->mutex);
        /* stopping while the claim ran: the workers may be gone, so queue nothing (these
         * deliveries are claimed again when their lease passes) */
        for (uint32_t i = 0; i < n && !b->stopping; i++) {
            bus_job *job = malloc(sizeof(*job));
            if (!job) break; /* its lease passes and it is claimed again */
            job->delivery = claimed[i];
            job->next = NULL;
            if (b->tail)
                b->tail->next = job;
            else
                b->head = job;
            b->tail = job;
            b->queued++;
            pthread_cond_signal(&b->work);
        }
        if (n == 0 && !b->woken && !b->stopping) bus__wait_ms(b, b->config.poll_ms);
    }
    pthread_mutex_unlock(&b->mutex);
    free(claimed);
    return NULL;
}

static void *bus__work_loop(void *arg)
{
    bus *b = arg;
    pthread_setname_np(pthread_self(), "tix-delivery");
    pthread_mutex_lock(&b->mutex);
    for (;;) {
        while (!b->head && !b->stopping)
            pthread_cond_wait(&b->work, &b->mutex);
        if (!b->head) break; /* stopping, nothing queued */
        if (b->stopping) {   /* stopping: leave queued jobs to their leases */
            while (b->head) {
                bus_job *drop = b->head;
                b->head = drop->next;
                b->queued--;
                free(drop);
            }
            b->tail = NULL;
            break;
        }
        bus_job *job = b->head;
        b->head = job->next;
        if (!b->head) b->tail = NULL;
        b->queued--;
        b->running++;
        pthread_mutex_unlock(&b->mutex);
        bus__deliver(b, &job->delivery);
        free(job);
        pthread_mutex_lock(&b->mutex);
        b->running--;
        pthread_cond_signal(&b->wake); /* a worker is free */
    }
    pthread_mutex_unlock(&b->mutex);
    return NULL;
}

bus *bus_start(commit *writer, store *st, inventory *inv, pay_provider *pay, mailer *mail,
               const bus_config *config)
{
    assert(config->workers > 0 && config->poll_ms > 0 && config->max_attempts > 0);
    bus *b = calloc(1, sizeof(*b));
    if (!b) return NULL;
    *b = (bus){.writer = writer, .st = st, .inv = inv, .pay = pay, .mail = mail, .config = *config};
    bus__reclaim(b);
    b->worker_count = config->workers < BUS_WORKERS_MAX ? config->workers : BUS_WORKERS_MAX;
    pthread_mutex_init(&b->mutex, NULL);
    pthread_mutex_init(&b->subscribers_mutex, NULL);
    clock_mono_cond_init(&b->wake);
    pthread_cond_init(&b->work, NULL);
    unsigned started = 0;
    for (; started < b->worker_count; started++)
        if (pthread_create(&b->workers[started], NULL, bus__work_loop, b) != 0) break;
    if (started < b->worker_count ||
        pthread_create(&b->dispatcher, NULL, bus__dispatch_loop, b) != 0) {
        log_error("bus: cannot start its threads");
        pthread_mutex_lock(&b->mutex);
        b->stopping = true;
        pthread_cond_broadcast(&b->work);
        pthread_mutex_unlock(&b->mutex);
        for (unsigned i = 0; i < started; i++)
            pthread_join(b->workers[i], NULL);
        free(b);
        return NULL;
    }
    return b;
}

void bus_wake(void *arg)
{
    bus *b = arg;
    pthread_mutex_lock(&b->mutex);
    b->woken = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mutex);
}

void bus_stop(bus *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->mutex);
    b->stopping = true;
    pthread_cond_broadcast(&b->wake);
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mutex);
    pthread_join(b->dispatcher, NULL);
    for (unsigned i = 0; i < b->worker_count; i++)
        pthread_join(b->workers[i], NULL);
    while (b->head) { /* none should be left: the dispatcher queues nothing once stopping */
        bus_job *job = b->head;
        b->head = job->next;
        free(job);
    }
    pthread_mutex_destroy(&b->mutex);
    pthread_mutex_destroy(&b->subscribers_mutex);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->work);
    free(b->subscribers);
    free(b);
}
