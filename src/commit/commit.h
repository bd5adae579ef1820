/* commit: the one write path of tix.
 *
 * Handlers never write to the store. They fill a commit_cmd and submit it; one writer thread
 * takes the queued commands as a batch (at most batch_max, no waiting beyond what is queued:
 * commands that arrive while a batch is being synced form the next batch), runs the whole
 * batch in one store transaction, each command inside its own savepoint, commits (synced),
 * applies the committed changes to the in-memory inventory, and only then calls every
 * command's on_done. A failed commit fails every command of its batch with
 * TIX_RC_STORE_ERROR and changes neither memory nor disk.
 *
 * Each state change writes its outbox row (HoldCreated, HoldReleased, HoldExpired,
 * EventCreated) in the same transaction. Hold expiry runs on the same path: when its sweep
 * interval has passed, the writer adds a sweep step to the next batch (or runs one alone).
 *
 * Back-pressure: the queue holds at most queue_max commands; beyond that commit_submit
 * answers TIX_RC_OVERLOADED at once. */
#ifndef TIX_COMMIT_H
#define TIX_COMMIT_H

#include "core/inventory.h"
#include "core/model.h"
#include "store/store.h"

typedef enum commit_type {
    COMMIT_HOLD,         /* in: event, seat_index[], seat_count, hold.user_id */
    COMMIT_RELEASE,      /* in: hold.id */
    COMMIT_EVENT_CREATE, /* in: spec (moved into the inventory on success) */
    COMMIT_PING,         /* a real, tiny write: proves the store is writable */
} commit_type;

typedef struct commit_cmd commit_cmd;
typedef void (*commit_done_fn)(commit_cmd *cmd);

struct commit_cmd {
    commit_type type;
    inv_event *event;
    uint32_t seat_count;
    uint32_t seat_index[TIX_HOLD_SEATS_MAX];
    event_spec spec;
    /* out */
    tix_rc rc;
    hold_record hold;       /* HOLD, RELEASE: the hold as committed */
    uint32_t taken_count;   /* SEAT_UNAVAILABLE: which seats were taken */
    uint32_t taken_index[TIX_HOLD_SEATS_MAX];
    inv_event *created;     /* EVENT_CREATE */
    /* completion: called once, from the writer thread, after the outcome is final */
    commit_done_fn on_done;
    void *ctx;
    commit_cmd *next_;
};

typedef struct commit_config {
    uint32_t batch_max;        /* commands per transaction */
    uint32_t queue_max;        /* commands waiting */
    uint32_t sweep_interval_ms; /* how often lapsed holds are expired */
    uint32_t sweep_holds_max;   /* holds expired per sweep step */
} commit_config;

enum {
    COMMIT_BATCH_MAX_DEFAULT = 1024,
    COMMIT_QUEUE_MAX_DEFAULT = 65536,
    COMMIT_SWEEP_INTERVAL_MS_DEFAULT = 250,
    COMMIT_SWEEP_HOLDS_MAX_DEFAULT = 512,
};

typedef struct commit commit;

/* Start the writer thread. Returns NULL (and logs why) on failure. */
commit *commit_start(store *st, inventory *inv, const commit_config *config);

/* Queue cmd. On TIX_RC_OK, on_done will be called exactly once, later, from the writer
 * thread; cmd must stay alive until then. Otherwise (TIX_RC_OVERLOADED, _SHUTTING_DOWN)
 * on_done is never called. */
tix_rc commit_submit(commit *c, commit_cmd *cmd);

/* Submit and wait for the outcome (for the CLI and tests). Returns cmd->rc. */
tix_rc commit_submit_wait(commit *c, commit_cmd *cmd);

/* Refuse new commands (commit_submit then answers TIX_RC_SHUTTING_DOWN), commit every queued
 * one, and stop the writer thread. c stays valid until commit_destroy. */
void commit_stop(commit *c);

/* Stop (if not yet stopped) and free c. */
void commit_destroy(commit *c);

/* Load every event and its held seats from the store into the inventory. Returns 0 or -1. */
int commit_load_inventory(store *st, inventory *inv);

#endif
