/* store: the durable truth of tix, behind one small interface.
 *
 * A backend (SQLite today, PostgreSQL next) implements store_ops. Two kinds of calls:
 *
 *  - store_tx_*: called only by the commit writer (one thread), inside the transaction it
 *    opened with store_begin. Seat state changes only through conditional writes here
 *    (store_tx_seat_take: `UPDATE ... WHERE status = 'available'`) whose affected-row
 *    count decides the outcome. Each state change is paired by the writer with an outbox row
 *    in the same transaction.
 *  - everything else: reads, safe from any thread, seeing only committed data.
 *
 * Every call returns 0 on success and -1 when the store failed; the backend logs the cause.
 * A business outcome (seat taken, hold not found) is an out-parameter, never an error. */
#ifndef TIX_STORE_H
#define TIX_STORE_H

#include "core/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Called once per stored event by store_events_load; takes ownership of *spec (and may
 * zero it). Returns 0 to go on, -1 to stop with an error. */
typedef int (*store_event_cb)(void *ctx, event_spec *spec);

/* Called once per seat that is not available, by store_seats_load. */
typedef int (*store_seat_cb)(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                             int64_t hold_expires_ms);

/* Read callbacks: return 0 to go on, -1 to stop with an error. */
typedef int (*store_booking_cb)(void *ctx, const booking_record *booking);
typedef int (*store_subscriber_cb)(void *ctx, const subscriber_record *sub);
typedef int (*store_delivery_cb)(void *ctx, const delivery_record *delivery);
typedef int (*store_idempotency_cb)(void *ctx, const char *request_hash, unsigned status,
                                    const char *body, size_t body_len);

enum { STORE_STATS_MINUTES = 60 }; /* the sales history of store_event_stats */

/* What an organiser watches of one event (GET /admin/events/{id}/stats), from committed data.
 * Sales are the bookings confirmed, by the minute of their confirmation: minute i covers
 * [minute0_ms + i * 60 s, + 60 s), the last one holding now_ms. */
typedef struct store_stats {
    uint32_t holds_active;   /* active and not lapsed at now_ms */
    uint32_t holds_checkout; /* frozen, waiting for their payment */
    uint32_t bookings[4];    /* by booking_status */
    int64_t revenue_cents;   /* of confirmed bookings */
    int64_t minute0_ms;
    uint32_t sales_bookings[STORE_STATS_MINUTES];
    uint32_t sales_seats[STORE_STATS_MINUTES];
    int64_t sales_cents[STORE_STATS_MINUTES];
} store_stats;

typedef struct store_ops {
    void (*close)(store *s);
    int (*begin)(store *s);
    int (*commit)(store *s);
    void (*rollback)(store *s);
    int (*savepoint)(store *s);
    int (*savepoint_release)(store *s);
    int (*savepoint_rollback)(store *s);
    int (*tx_event_insert)(store *s, const event_spec *spec, bool *exists);
    int (*tx_hold_insert)(store *s, hold_record *hold);
    int (*tx_hold_get)(store *s, const char *id, int64_t seq, hold_record *out, bool *found);
    int (*tx_hold_end)(store *s, int64_t seq, hold_status status, int64_t now_ms, bool *changed);
    int (*tx_seat_take)(store *s, const char *event_id, const char *seat_id, int64_t hold_seq,
                        bool *taken);
    int (*tx_seat_holder)(store *s, const char *event_id, const char *seat_id, int64_t *hold_seq);
    int (*tx_seats_free)(store *s, int64_t hold_seq);
    int (*tx_holds_due)(store *s, int64_t now_ms, int64_t *seqs, uint32_t max, uint32_t *n);
    int (*tx_outbox_append)(store *s, const char *type, const char *event_id,
                            const char *aggregate_id, int64_t time_ms, const char *data_json,
                            bool *delivered);
    int (*tx_ping)(store *s, int64_t now_ms);
    int (*tx_hold_checkout)(store *s, int64_t seq, int64_t expires_at_ms, bool *changed);
    int (*tx_hold_delete)(store *s, int64_t seq);
    int (*tx_user_seats)(store *s, const char *event_id, const char *user_id, int64_t now_ms,
                         uint32_t *seats);
    int (*tx_deliveries_exhaust)(store *s, int64_t now_ms, uint32_t max_attempts);
    int (*tx_seats_sell)(store *s, int64_t hold_seq);
    int (*tx_booking_insert)(store *s, booking_record *booking);
    int (*tx_booking_get)(store *s, const char *id, int64_t seq, booking_record *out, bool *found);
    int (*tx_booking_update)(store *s, int64_t seq, booking_status from, booking_status to,
                             const char *payment_id, const char *refund_id, int64_t now_ms,
                             bool *changed);
    int (*tx_subscriber_insert)(store *s, const subscriber_record *sub);
    int (*tx_deliveries_claim)(store *s, int64_t now_ms, const char *owner, int64_t lease_until_ms,
                               delivery_record *out, uint32_t max, uint32_t *n);
    int (*tx_delivery_finish)(store *s, int64_t seq, delivery_status status, const char *error,
                              int64_t now_ms, bool *changed);
    int (*tx_delivery_retry)(store *s, int64_t seq, int64_t next_attempt_ms, const char *error,
                             int64_t now_ms);
    int (*tx_delivery_redrive)(store *s, int64_t seq, int64_t now_ms, bool *changed);
    int (*tx_idempotency_put)(store *s, const char *key, const char *request_hash, unsigned status,
                              const char *body, size_t body_len, int64_t now_ms);
    int (*tx_idempotency_purge)(store *s, int64_t before_ms);
    int (*booking_get)(store *s, const char *id, booking_record *out, bool *found);
    int (*bookings_by_user)(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                            void *ctx);
    int (*subscribers_list)(store *s, store_subscriber_cb cb, void *ctx);
    int (*dead_letters_list)(store *s, uint32_t max, store_delivery_cb cb, void *ctx);
    int (*idempotency_get)(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                           bool *found);
    int (*hold_get)(store *s, const char *id, hold_record *out, bool *found);
    int (*events_load)(store *s, store_event_cb cb, void *ctx);
    int (*seats_load)(store *s, const char *event_id, store_seat_cb cb, void *ctx);
    int (*event_stats)(store *s, const char *event_id, int64_t now_ms, store_stats *out);
    int (*dead_letters_count)(store *s, uint64_t *count);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Open the embedded SQLite store in data_dir (created 0700 if missing; the database is
 * data_dir/tix.db), migrating its schema to the current version. On failure returns -1 and
 * writes a readable reason into err. `readers` is the size of the read-connection pool. */
int store_sqlite_open(const char *data_dir, unsigned readers, store **out, char *err,
                      size_t err_len);

void store_close(store *s);

/* Transactions of the writer. store_begin takes the write lock; store_commit makes the
 * transaction durable (synced) or fails, in which case the caller must store_rollback. */
int store_begin(store *s);
int store_commit(store *s);
void store_rollback(store *s);

/* A nested savepoint, so that one command of a batch can be undone alone. */
int store_savepoint(store *s);
int store_savepoint_release(store *s);
int store_savepoint_rollback(store *s);

/* Insert an event, its sections and all its seats (available). *exists when the id is taken. */
int store_tx_event_insert(store *s, const event_spec *spec, bool *exists);

/* Insert an active hold; sets hold->seq. */
int store_tx_hold_insert(store *s, hold_record *hold);

/* Read a hold by id (when id is not NULL) or by seq, seeing this transaction's writes. */
int store_tx_hold_get(store *s, const char *id, int64_t seq, hold_record *out, bool *found);

/* End a live hold (active or in checkout) as released, expired or booked:
 * `UPDATE holds SET status = ? WHERE seq = ? AND status IN ('active', 'checkout')`.
 * *changed tells whether it was live. Does not touch its seats. */
int store_tx_hold_end(store *s, int64_t seq, hold_status status, int64_t now_ms, bool *changed);

/* The conditional write: hold the seat for hold_seq if and only if it is available. */
int store_tx_seat_take(store *s, const char *event_id, const char *seat_id, int64_t hold_seq,
                       bool *taken);

/* The seq of the hold holding the seat, or 0 when none does. */
int store_tx_seat_holder(store *s, const char *event_id, const char *seat_id, int64_t *hold_seq);

/* Make available every seat held or sold by hold_seq. */
int store_tx_seats_free(store *s, int64_t hold_seq);

/* Up to max live (active or checkout) holds whose expiry is at or before now_ms, oldest expiry
 * first. */
int store_tx_holds_due(store *s, int64_t now_ms, int64_t *seqs, uint32_t max, uint32_t *n);

/* Append an event to the outbox (a sortable id is assigned) and, in the same transaction, a
 * pending delivery for every subscriber with a routing pattern matching its type. Sets
 * *delivered (may be NULL) to whether any delivery was written: nobody needs waking for an
 * event no subscriber takes (HoldCreated, by default). */
int store_tx_outbox_append(store *s, const char *type, const char *event_id,
                           const char *aggregate_id, int64_t time_ms, const char *data_json,
                           bool *delivered);

/* A small real write, to prove the store is writable. */
int store_tx_ping(store *s, int64_t now_ms);

/* How many seats user_id holds in event_id at now_ms (live, unexpired holds). */
int store_tx_user_seats(store *s, const char *event_id, const char *user_id, int64_t now_ms,
                        uint32_t *seats);

/* Delete a hold inserted by this transaction (a hold refused before it was kept). */
int store_tx_hold_delete(store *s, int64_t seq);

/* Checkout freezes an active hold: status checkout, expiry moved to the checkout deadline. */
int store_tx_hold_checkout(store *s, int64_t seq, int64_t expires_at_ms, bool *changed);

/* Sell the seats held by hold_seq: `UPDATE seats SET status = 'sold' WHERE hold_seq = ? AND
 * status = 'held'`. */
int store_tx_seats_sell(store *s, int64_t hold_seq);

/* Insert a booking (one per hold: the store refuses a second); sets booking->seq. */
int store_tx_booking_insert(store *s, booking_record *booking);

/* Read a booking by id (when not NULL) or seq, seeing this transaction's writes. */
int store_tx_booking_get(store *s, const char *id, int64_t seq, booking_record *out, bool *found);

/* Move a booking from `from` to `to` (conditional on its status being `from`), recording a
 * payment or refund id when not NULL. *changed tells whether it was in `from`. */
int store_tx_booking_update(store *s, int64_t seq, booking_status from, booking_status to,
                            const char *payment_id, const char *refund_id, int64_t now_ms,
                            bool *changed);

/* Add a subscriber and its routing patterns. */
int store_tx_subscriber_insert(store *s, const subscriber_record *sub);

/* Claim up to max deliveries that are due (pending, next attempt and lease passed), oldest
 * event first, never one whose subscriber has an older pending delivery for the same
 * aggregate (order per booking). Each claimed delivery gets the lease (owner, until) and one
 * more attempt. Safe with several claimers: a delivery is leased by one at a time. */
int store_tx_deliveries_claim(store *s, int64_t now_ms, const char *owner, int64_t lease_until_ms,
                              delivery_record *out, uint32_t max, uint32_t *n);

/* Dead-letter the pending deliveries that used every attempt but whose last one was lost
 * (claimed, then its worker stopped: the lease passed with no outcome recorded). */
int store_tx_deliveries_exhaust(store *s, int64_t now_ms, uint32_t max_attempts);

/* End a pending delivery as delivered or dead (dead-lettered, with the error). */
int store_tx_delivery_finish(store *s, int64_t seq, delivery_status status, const char *error,
                             int64_t now_ms, bool *changed);

/* Give a delivery back for a later attempt at next_attempt_ms, recording the error. */
int store_tx_delivery_retry(store *s, int64_t seq, int64_t next_attempt_ms, const char *error,
                            int64_t now_ms);

/* Move a dead delivery back to pending with its attempts reset. */
int store_tx_delivery_redrive(store *s, int64_t seq, int64_t now_ms, bool *changed);

/* Keep the response to an idempotency key (in the transaction of the change it answers). */
int store_tx_idempotency_put(store *s, const char *key, const char *request_hash, unsigned status,
                             const char *body, size_t body_len, int64_t now_ms);

/* Forget idempotency keys stored before before_ms. */
int store_tx_idempotency_purge(store *s, int64_t before_ms);

/* Committed reads, from any thread. */
int store_booking_get(store *s, const char *id, booking_record *out, bool *found);
int store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                           void *ctx);
int store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx);
int store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx);
int store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                          bool *found);

/* Read a committed hold by id, from any thread. */
int store_hold_get(store *s, const char *id, hold_record *out, bool *found);

/* Load every event (in creation order) / every seat of an event that is not available. */
int store_events_load(store *s, store_event_cb cb, void *ctx);
int store_seats_load(store *s, const char *event_id, store_seat_cb cb, void *ctx);

/* Holds, bookings, revenue and the last hour's sales of one event (zeroed first; an unknown
 * event has none). Admin traffic: a scan of the event's bookings. */
int store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out);

/* How many deliveries wait in the dead-letter queue. */
int store_dead_letters_count(store *s, uint64_t *count);

#endif
