/* commit: the one write path of tix.
 *
 * Handlers never write to the store. They take a command (commit_cmd_new: from a pool, so that
 * only write requests carry one), fill it and submit it; one writer thread takes the queued
 * commands as a batch (at most batch_max: commands that arrive while a batch is being synced
 * form the next batch; under load, see gather_us, it may wait a little for more before a batch
 * smaller than the previous one) and hands the whole batch to the store (store_batch_run: one
 * transaction, every command a whole command with its outbox rows and its changes, see
 * store/store.h). Only after the store committed (synced) does the writer hand the batch's
 * changes to whoever follows them (commit_on_changes: the feed, which brings them to every
 * cache through the same path as any other writer's changes) and then call every command's
 * on_done: memory never runs ahead of disk, and a reply is never sent before its change is
 * visible to this node's next read.
 *
 * Failures: a batch the store says may succeed again (STORE_RETRY) runs again, up to
 * COMMIT_RETRIES_MAX times; a batch that failed otherwise fails every command with
 * TIX_RC_STORE_ERROR (unavailable) or, when the store reports something it must not hold
 * (STORE_FATAL), each command runs again alone so that one poisoned command cannot fail its
 * neighbours, and the ones that still fail end TIX_RC_STORE_FATAL. Nothing of a failed
 * command is kept.
 *
 * Hold expiry runs on the same path: when its sweep interval has passed, the writer adds a
 * sweep command to the next batch (or runs one alone).
 *
 * Back-pressure: the queue holds at most queue_max commands; beyond that commit_submit answers
 * TIX_RC_OVERLOADED at once. */
#ifndef TIX_COMMIT_H
#define TIX_COMMIT_H

#include "core/model.h"
#include "store/store.h"

typedef struct commit commit;
typedef struct commit_cmd commit_cmd;
typedef void (*commit_done_fn)(commit_cmd *cmd);

struct commit_cmd {
    store_cmd op; /* the command, its data and its outcome (op.rc) */
    /* completion: called once, from the writer thread, after the outcome is final */
    commit_done_fn on_done;
    void *ctx;
    commit_cmd *next_;
};

typedef struct commit_config {
    uint32_t batch_max;         /* commands per transaction */
    uint32_t gather_us;         /* after a batch of n >= COMMIT_GATHER_MIN commands, wait up to
                                   this long for n to queue before the next; 0: never wait */
    uint32_t queue_max;         /* commands waiting */
    uint32_t sweep_interval_ms; /* how often lapsed holds are expired */
    uint32_t sweep_holds_max;   /* holds expired per sweep */
    store_rules rules;          /* what every batch applies (store/store.h) */
    char node_id[TIX_NODE_ID_LEN_MAX + 1]; /* this node: its leases carry it */
} commit_config;

enum {
    COMMIT_BATCH_MAX_DEFAULT = 1024,
    COMMIT_GATHER_US_DEFAULT = 1000,
    COMMIT_GATHER_US_MAX = 100000,
    COMMIT_GATHER_MIN = 8, /* smaller batches mean little load: never wait after them */
    COMMIT_QUEUE_MAX_DEFAULT = 65536,
    COMMIT_SWEEP_INTERVAL_MS_DEFAULT = 250,
    COMMIT_SWEEP_HOLDS_MAX_DEFAULT = 512,
    COMMIT_MAX_ATTEMPTS_DEFAULT = 8,
    COMMIT_LEASE_MS_DEFAULT = 30000,
    COMMIT_IDEMPOTENCY_TTL_S_DEFAULT = 86400,
    COMMIT_FEED_RETAIN_DEFAULT = 1000000,
    COMMIT_RETRIES_MAX = 3, /* runs of a batch the store asked to run again */
    COMMIT_POOL_MAX = 1024, /* finished commands kept for the next ones */
};

/* A config with every default (callers override what they need). */
commit_config commit_config_default(void);

/* Start the writer thread. Returns NULL (and logs why) on failure. */
commit *commit_start(store *st, const commit_config *config);

/* A command of this kind from the writer's pool (or new), its header cleared (the data is the
 * caller's to fill: only what its kind reads); NULL when out of memory. Any thread. */
commit_cmd *commit_cmd_new(commit *c, store_cmd_kind kind);

/* Give a finished command back (kept for reuse up to COMMIT_POOL_MAX). Any thread. */
void commit_cmd_free(commit *c, commit_cmd *cmd);

/* Queue cmd. On TIX_RC_OK, on_done will be called exactly once, later, from the writer
 * thread; cmd must stay alive until then. Otherwise (TIX_RC_OVERLOADED, _SHUTTING_DOWN)
 * on_done is never called. */
tix_rc commit_submit(commit *c, commit_cmd *cmd);

/* Submit and wait for the outcome (for the CLI, the bus and tests). Returns cmd->op.rc. */
tix_rc commit_submit_wait(commit *c, commit_cmd *cmd);

/* Refuse new commands (commit_submit then answers TIX_RC_SHUTTING_DOWN), commit every queued
 * one, and stop the writer thread. c stays valid until commit_destroy. */
void commit_stop(commit *c);

/* Stop (if not yet stopped) and free c. */
void commit_destroy(commit *c);

/* Call fn(ctx) from the writer thread after every commit that made deliveries due (outbox rows
 * some subscriber takes, a redrive, a reclaim): the dispatcher uses it to wake up. Set before
 * traffic starts. */
void commit_on_outbox(commit *c, void (*fn)(void *ctx), void *ctx);

/* Call fn(ctx, changes, feed_before, started_ms) from the writer thread after every committed
 * batch, with the changes it wrote (in feed order; maybe none), the feed's head when it began
 * and the wall-clock time its transaction began, before any of its commands' on_done. Set
 * before traffic starts. */
typedef void (*commit_changes_fn)(void *ctx, const change_page *changes, int64_t feed_before,
                                  int64_t started_ms);
void commit_on_changes(commit *c, commit_changes_fn fn, void *ctx);

#endif
