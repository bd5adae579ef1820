/* commit internal: what the writer's command files (holds.c, bookings.c, bus.c) share with
 * commit.c. Everything here runs on the writer thread, inside the batch's transaction. */
#ifndef TIX_COMMIT_INTERNAL_H
#define TIX_COMMIT_INTERNAL_H

#include "commit/commit.h"

#include <pthread.h>

enum { COMMIT_OUTBOX_DATA_LEN_MAX = TIX_OUTBOX_DATA_LEN_MAX };

/* A change to apply to the inventory once the batch is committed. */
typedef struct commit_effect {
    inv_event *event;
    int64_t hold_seq;
    int64_t expires_ms;
    seat_status status; /* SEAT_HELD or SEAT_SOLD: seats become that, for hold_seq;
                           SEAT_AVAILABLE: hold_seq lets them go */
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
    int64_t next_sweep_ms; /* monotonic */
    uint32_t last_batch;    /* commands in the last batch taken */
    uint32_t gather_target; /* while the writer gathers (commit__gather): wake it at this */
    void (*on_outbox)(void *ctx);
    void *on_outbox_ctx;
    /* writer-thread state */
    commit_effect *effects;
    uint32_t effect_count, effect_cap;
    bool deliveries_written; /* in this batch: the dispatcher is woken after the commit */
    buf data;            /* outbox payload scratch */
    int64_t *due;        /* sweep scratch */
};

/* Record an inventory change for seats of an event given by index (what a hold knows). Returns
 * 0 or -1 when out of memory. */
int commit__effect_seats(commit *c, inv_event *ev, const uint32_t *seat_index, uint32_t n,
                         int64_t hold_seq, int64_t expires_ms, seat_status status);

/* Record an inventory change for seats named by id (unknown ids are skipped). Returns 0 or
 * -1 when out of memory. */
int commit__effect_ids(commit *c, const char *event_id, char (*seat_ids)[TIX_SEAT_ID_LEN_MAX],
                       uint32_t n, int64_t hold_seq, int64_t expires_ms, seat_status status);

/* Append an outbox row whose data is c->data (a JSON object). Returns 0 or -1. */
int commit__outbox(commit *c, const char *type, const char *event_id, const char *aggregate_id,
                   int64_t now_ms);

/* Outbox rows about a hold / a booking (their data is built from the record). */
int commit__outbox_hold(commit *c, const char *type, const hold_record *h, int64_t now_ms);
int commit__outbox_booking(commit *c, const char *type, const booking_record *b, int64_t now_ms);

/* End hold `seq` as expired if it is live and lapsed at now_ms: hold row, seats, outbox row,
 * effect. *expired tells whether it did. */
int commit__expire_hold(commit *c, int64_t seq, int64_t now_ms, bool *expired);

/* End a live hold as `status` (released or expired), freeing its seats, with its outbox row. */
int commit__end_hold(commit *c, hold_record *h, hold_status status, int64_t now_ms);

/* Load the hold cmd->hold.id names into cmd->hold, for a command that needs it active and,
 * with a buyer token, the buyer's own. Sets cmd->rc (HOLD_NOT_FOUND, FORBIDDEN,
 * HOLD_NOT_ACTIVE) when it is not; returns -1 only when the store failed. */
int commit__load_active_hold(commit *c, commit_cmd *cmd, int64_t now_ms);

/* The commands. Each returns -1 only when the store failed; a refusal sets cmd->rc. */
int commit__do_hold(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_release(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_event_create(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_checkout(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_cancel(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_payment_result(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_refund_result(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_claim(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_delivery_done(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_redrive(commit *c, commit_cmd *cmd, int64_t now_ms);
int commit__do_webhook_create(commit *c, commit_cmd *cmd, int64_t now_ms);

#endif
