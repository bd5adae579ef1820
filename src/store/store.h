/* store: the durable truth of tix, behind one interface of whole commands.
 *
 * A backend (SQLite: store/sqlite/; PostgreSQL: store/pg/) implements store_ops. The interface has
 * three parts:
 *
 *  - Writes: store_batch_run runs a batch of whole commands (hold, release, checkout, payment
 *    outcome, cancel, refund outcome, event create, subscriber add, claim, delivery outcome,
 *    redrive, reclaim, sweep, ping, keep-a-response) in ONE transaction. Each command kind is
 *    one backend function that applies every rule of the command from store data (seat state,
 *    prices, the per-buyer limit, routing patterns): nothing is decided from a cache. Seat
 *    state changes only through conditional writes (`UPDATE seats ... WHERE status =
 *    'available'`) whose row counts decide the outcome; a conditional write that changes
 *    nothing is an ordinary outcome (a conflict), never an assertion. A command that is
 *    refused leaves no trace; its neighbours in the batch are not affected.
 *
 *  - The change feed: every committed change a cache or a viewer cares about (seats held,
 *    frozen for checkout, sold, released, expired, freed; an event created; a subscriber
 *    added) is appended, in the transaction that makes it, to a store-wide feed with a dense
 *    sequence number (no gaps; commit order is seq order, whatever the number of writers).
 *    Readers follow it with store_changes_read (seq > N, bounded pages); old changes are
 *    trimmed by the sweep (rules.feed_retain), and a reader that fell behind the oldest kept
 *    change rebuilds from store_snapshot_load.
 *
 *  - Reads of committed data, safe from any thread.
 *
 * Outcomes are typed. A batch ends STORE_OK (committed and synced: every command's own rc is
 * final) or, with nothing of it kept, STORE_RETRY (the same batch may succeed if run again:
 * the database was busy, a serialization failure or deadlock), STORE_UNAVAILABLE (the store
 * cannot be written now: I/O error, disk full, connection lost) or STORE_FATAL (the store
 * holds what it must not: corruption, a broken constraint; a person must look). Each command
 * of a committed batch has its rc:
 *     done               TIX_RC_OK
 *     conflict           TIX_RC_SEAT_UNAVAILABLE (with the seats taken), TIX_RC_HOLD_NOT_ACTIVE,
 *                        TIX_RC_EVENT_EXISTS, TIX_RC_BOOKING_NOT_CANCELLABLE
 *     limit exceeded     TIX_RC_USER_LIMIT, TIX_RC_TOO_MANY_SEATS, TIX_RC_TOO_MANY_EVENTS
 *     refused            TIX_RC_*_NOT_FOUND, TIX_RC_FORBIDDEN, TIX_RC_KEY_REUSED
 *     replayed           TIX_RC_REPLAYED: the idempotency key was answered before; the kept
 *                        response is in cmd->idem (the command did not run again)
 * Reads return 0, or -1 with the store_status of the failure in *status when not NULL. */
#ifndef TIX_STORE_H
#define TIX_STORE_H

#include "core/model.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

typedef enum store_status {
    STORE_OK = 0,
    STORE_RETRY,
    STORE_UNAVAILABLE,
    STORE_FATAL,
} store_status;

/* A stable name for logs: "ok", "retry", "unavailable", "fatal". */
const char *store_status_name(store_status status);

/* ---- whole commands ---- */

typedef enum store_cmd_kind {
    STORE_CMD_HOLD = 0, /* hold seats of an event for a buyer */
    STORE_CMD_RELEASE,  /* end an active hold, freeing its seats */
    STORE_CMD_CHECKOUT, /* freeze an active hold and open its booking (CheckoutStarted) */
    STORE_CMD_PAYMENT,  /* the payment provider's answer to a charge */
    STORE_CMD_CANCEL,   /* cancel a pending or confirmed booking */
    STORE_CMD_REFUND,   /* the payment provider's answer to a refund */
    STORE_CMD_EVENT_CREATE,
    STORE_CMD_SUBSCRIBER_ADD,
    STORE_CMD_CLAIM,    /* lease due deliveries to this node */
    STORE_CMD_DELIVERY, /* a delivery's outcome: delivered, retry later, or dead-lettered */
    STORE_CMD_REDRIVE,  /* a dead letter back to pending */
    STORE_CMD_RECLAIM,  /* this node restarted: its leases are free at once */
    STORE_CMD_SWEEP,    /* expire lapsed holds, forget old idempotency keys, trim the feed */
    STORE_CMD_PING,     /* a real, tiny write: proves the store is writable */
    STORE_CMD_RESPONSE, /* only keep a response for an idempotency key (no state change) */
    STORE_CMD_KINDS
} store_cmd_kind;

/* HOLD. In: hold.event_id, hold.user_id, hold.seat_count, hold.seat_ids. Out: the hold as
 * committed (id, seq, times: its expiry is the event's hold_ttl_s from now), or, on
 * TIX_RC_SEAT_UNAVAILABLE, the positions (in hold.seat_ids) of the seats that were taken.
 * A seat whose holder has lapsed is taken after that hold is expired in the same transaction.
 * Limits: the event's max_seats_per_hold (TIX_RC_TOO_MANY_SEATS) and rules.user_seats_max
 * across the buyer's live holds of the event (TIX_RC_USER_LIMIT). */
typedef struct store_hold {
    hold_record hold;
    uint32_t taken_count;
    uint8_t taken[TIX_HOLD_SEATS_MAX];
} store_hold;

/* RELEASE. In: hold.id, actor ("" or the buyer who must own it). Out: the hold as ended. */
typedef struct store_release {
    char actor[TIX_USER_ID_LEN_MAX + 1];
    hold_record hold;
} store_release;

/* CHECKOUT. In: hold_id, actor, booking.payment_token, booking.email. Out: the booking,
 * priced from the store (the sum of its seats' section prices). */
typedef struct store_checkout {
    char actor[TIX_USER_ID_LEN_MAX + 1];
    char hold_id[TIX_HOLD_ID_LEN + 1];
    booking_record booking;
} store_checkout;

/* PAYMENT and REFUND. In: booking_id, the provider's outcome, and the delivery it answers
 * (marked delivered in the same transaction; 0: none). Applying an outcome twice changes
 * nothing the second time. */
typedef struct store_payment {
    char booking_id[TIX_BOOKING_ID_LEN + 1];
    bool ok;                                     /* charged / refunded */
    char payment_id[TIX_PAYMENT_ID_LEN_MAX + 1]; /* when ok */
    int64_t delivery_seq;
} store_payment;

/* CANCEL. In: booking.id, actor. Out: the booking as cancelled. */
typedef struct store_cancel {
    char actor[TIX_USER_ID_LEN_MAX + 1];
    booking_record booking;
} store_cancel;

/* EVENT_CREATE. In: spec (owned by the command's submitter); created_at is set. */
typedef struct store_event_create {
    event_spec spec;
} store_event_create;

/* SUBSCRIBER_ADD. In: the subscriber and its routing patterns. */
typedef struct store_subscriber_add {
    subscriber_record sub;
} store_subscriber_add;

/* CLAIM. In: max, out (capacity max, owned by the claimer). Out: count deliveries leased to
 * the batch's node until now + rules.lease_ms, each with one more attempt; oldest event
 * first, never one whose subscriber has an older pending delivery for the same aggregate.
 * Deliveries that used every attempt and whose last one was lost are dead-lettered first. */
typedef struct store_claim {
    uint32_t max;
    delivery_record *out;
    uint32_t count;
} store_claim;

typedef enum store_delivery_outcome {
    STORE_DELIVERED = 0,
    STORE_DELIVERY_RETRY, /* at next_attempt_ms */
    STORE_DELIVERY_DEAD,  /* into the dead-letter queue */
} store_delivery_outcome;

/* DELIVERY. In: seq, outcome, next_attempt_ms (RETRY), error (RETRY, DEAD). */
typedef struct store_delivery {
    int64_t seq;
    store_delivery_outcome outcome;
    int64_t next_attempt_ms;
    char error[TIX_DELIVERY_ERROR_LEN_MAX + 1];
} store_delivery;

/* REDRIVE. In: seq of a dead delivery (TIX_RC_NOT_FOUND when there is none). */
typedef struct store_redrive {
    int64_t seq;
} store_redrive;

/* RECLAIM. Out: how many pending deliveries leased to the batch's node were let go. */
typedef struct store_reclaim {
    uint32_t count;
} store_reclaim;

/* SWEEP. In: holds_max (holds expired per sweep). Out: how many expired. */
typedef struct store_sweep {
    uint32_t holds_max;
    uint32_t expired;
} store_sweep;

typedef struct store_cmd store_cmd;

/* An idempotency key a command answers. Before the command runs, the store looks the key up
 * in the transaction: answered with the same request_hash -> rc TIX_RC_REPLAYED and the kept
 * response copied into status/body; with another -> TIX_RC_KEY_REUSED. Otherwise the command
 * runs, then render (when not NULL) writes its response into status/body, and the response is
 * kept with the change it answers, in the same transaction (rules.idempotency_ttl_s). */
typedef struct store_idem {
    const char *key; /* owned by the submitter */
    char request_hash[65];
    void (*render)(void *ctx, const store_cmd *cmd, unsigned *status, buf *body);
    void *render_ctx;
    unsigned status;
    buf body; /* initialised (with its cap) by the submitter */
} store_idem;

/* One command: its kind, its data, its outcome. */
struct store_cmd {
    store_cmd_kind kind;
    tix_rc rc;        /* out */
    store_idem *idem; /* NULL, or the key this command answers */
    union {
        store_hold hold;
        store_release release;
        store_checkout checkout;
        store_payment payment; /* PAYMENT, REFUND */
        store_cancel cancel;
        store_event_create event_create;
        store_subscriber_add subscriber_add;
        store_claim claim;
        store_delivery delivery;
        store_redrive redrive;
        store_reclaim reclaim;
        store_sweep sweep;
    } u;
};

/* Make cmd a command of this kind with its header cleared (the data is the caller's to fill:
 * only the fields its kind reads). */
void store_cmd_init(store_cmd *cmd, store_cmd_kind kind);

/* The rules a batch applies (the server's configuration). */
typedef struct store_rules {
    uint32_t user_seats_max;     /* seats a buyer may hold at once in an event; 0: no limit */
    uint32_t checkout_timeout_s; /* how long a hold in checkout waits for its payment */
    uint32_t max_attempts;       /* a delivery that used them all is dead-lettered */
    uint32_t lease_ms;           /* how long a claimed delivery is its claimer's */
    uint32_t idempotency_ttl_s;  /* how long responses to idempotency keys are kept */
    uint32_t feed_retain;        /* changes the feed keeps (the sweep trims older ones) */
} store_rules;

/* ---- the change feed ---- */

/* What a seat change, or an event change, carries. Positions of seat ids are into the page's
 * text (change_page_seats). */
typedef struct change_record {
    int64_t seq;
    int64_t time_ms;
    change_kind kind;
    char event_id[TIX_EVENT_ID_LEN_MAX + 1]; /* seat changes, EVENT_CREATED */
    char ref[TIX_SUBSCRIBER_ID_LEN_MAX + 1]; /* SUBSCRIBER_ADDED: its id */
    int64_t hold_seq;                        /* seat changes: the hold they are about */
    int64_t expires_ms;                      /* HELD, CHECKOUT: when the hold lapses */
    uint32_t seat_count;
    uint32_t seats_off, seats_len; /* the seat ids, a JSON array of strings, in page->seats */
} change_record;

/* A run of consecutive changes with their seat ids. Owned by whoever filled it; reusable. */
typedef struct change_page {
    change_record *items;
    uint32_t count, cap;
    buf seats;
} change_page;

enum { CHANGE_PAGE_SEATS_LEN_MAX = 64 * 1024 * 1024 };

void change_page_init(change_page *p);
void change_page_free(change_page *p);
void change_page_reset(change_page *p);

/* Append a change (c->seats_* are set from seat_ids_json); returns 0 or -1 out of memory. */
int change_page_add(change_page *p, const change_record *c, const char *seat_ids_json,
                    size_t seat_ids_len);

/* The seat ids of change c of page p: the JSON array text and its length. */
const char *change_page_seats(const change_page *p, const change_record *c, size_t *len);

/* A batch: commands run in order in one transaction, by one writer of this store. */
typedef struct store_batch {
    int64_t now_ms;
    const store_rules *rules;
    const char *node_id; /* this node: leases carry it */
    store_cmd **cmds;
    uint32_t count;
    /* out, when STORE_OK */
    int64_t feed_before;     /* the feed's head when the batch began: every change up to it was
                                committed before the batch's own */
    change_page changes;     /* the changes the batch wrote, in feed order (initialised by the
                                caller, reset by the run) */
    bool deliveries_written; /* deliveries became due: wake the dispatchers */
} store_batch;

/* ---- reads ---- */

/* Called once per event by store_snapshot_load (takes ownership of *spec, may zero it), then
 * once per seat of that event that is not available. Return 0 to go on, -1 to stop. */
typedef struct store_snapshot_cb {
    int (*event)(void *ctx, event_spec *spec);
    int (*seat)(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                int64_t hold_expires_ms);
    void *ctx;
} store_snapshot_cb;

typedef int (*store_booking_cb)(void *ctx, const booking_record *booking);
typedef int (*store_subscriber_cb)(void *ctx, const subscriber_record *sub);
typedef int (*store_delivery_cb)(void *ctx, const delivery_record *delivery);
typedef int (*store_idempotency_cb)(void *ctx, const char *request_hash, unsigned status,
                                    const char *body, size_t body_len);

/* Where the feed stands: the oldest change kept (0 when empty) and the newest (head). */
typedef struct store_feed_bounds {
    int64_t oldest_seq;
    int64_t head_seq;
} store_feed_bounds;

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
    const char *(*id)(store *s);
    store_status (*batch_run)(store *s, store_batch *b);
    int (*changes_read)(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                        int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                        int64_t *scanned_to, store_status *status);
    int (*snapshot_load)(store *s, const store_snapshot_cb *cb, int64_t *position,
                         store_status *status);
    int (*event_get)(store *s, const char *id, event_spec *out, bool *found, store_status *status);
    int (*hold_get)(store *s, const char *id, hold_record *out, bool *found, store_status *status);
    int (*booking_get)(store *s, const char *id, booking_record *out, bool *found,
                       store_status *status);
    int (*bookings_by_user)(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                            void *ctx, store_status *status);
    int (*subscribers_list)(store *s, store_subscriber_cb cb, void *ctx, store_status *status);
    int (*dead_letters_list)(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                             store_status *status);
    int (*idempotency_get)(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                           bool *found, store_status *status);
    int (*event_stats)(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                       store_status *status);
    int (*dead_letters_count)(store *s, uint64_t *count, store_status *status);
    int (*watch)(store *s, void (*fn)(void *ctx), void *ctx); /* NULL: the store cannot tell */
} store_ops;

struct store {
    const store_ops *ops;
};

/* ---- opening ---- */

typedef struct store_options {
    const char *data_dir;     /* the embedded store: DATA_DIR/tix.db */
    const char *url;          /* a database server (postgresql://...); NULL: the embedded store */
    unsigned readers;         /* connections for committed reads (one per thread that reads) */
    unsigned busy_timeout_ms; /* how long a write waits for another writer; 0: the default */
} store_options;

enum { STORE_BUSY_TIMEOUT_MS_DEFAULT = 10000 };

/* Open the store o names, creating and migrating its schema. On failure returns -1 and writes a
 * readable reason into err. */
int store_open(const store_options *o, store **out, char *err, size_t err_len);

/* The embedded SQLite store in data_dir (created 0700 if missing). */
int store_sqlite_open(const store_options *o, store **out, char *err, size_t err_len);

/* A PostgreSQL database (url: any libpq connection URI, postgresql:// or postgres://), its
 * schema created or migrated first under an advisory lock (nodes starting together take turns).
 * The database must be UTF8. */
int store_pg_open(const store_options *o, store **out, char *err, size_t err_len);

/* Whether url names a PostgreSQL database (postgresql:// or postgres://). */
bool store_url_is_pg(const char *url);

void store_close(store *s);

/* A random id made when the store was created (32 hex digits), the same for every node of it:
 * what ETags built from feed positions carry, so that two stores never share one. */
const char *store_id(store *s);

/* Run every command of b in one transaction; see the top of this file. Commands and b->changes
 * are reset (rc, outputs) before running, so a batch may be run again after STORE_RETRY. */
store_status store_batch_run(store *s, store_batch *b);

/* Changes after after_seq in feed order, at most max, appended to out. With event_id, only the
 * seat changes of that event among the changes (after_seq, after_seq + scan_max] (a bounded
 * scan: *scanned_to says how far it looked, the position to read on from). bounds tells where
 * the feed stands: after_seq < bounds.oldest_seq - 1 means changes were trimmed (the reader
 * must rebuild from a snapshot). */
int store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                       int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                       int64_t *scanned_to, store_status *status);

/* Every event (in creation order) and its seats that are not available, all as of one
 * committed moment, whose feed position (every change up to it included) is *position. */
int store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                        store_status *status);

/* One event's spec (out is the caller's to free with model_event_spec_free). */
int store_event_get(store *s, const char *id, event_spec *out, bool *found, store_status *status);

/* Committed records, by id. */
int store_hold_get(store *s, const char *id, hold_record *out, bool *found, store_status *status);
int store_booking_get(store *s, const char *id, booking_record *out, bool *found,
                      store_status *status);
int store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                           void *ctx, store_status *status);
int store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx, store_status *status);
int store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                            store_status *status);
int store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                          bool *found, store_status *status);

/* Holds, bookings, revenue and the last hour's sales of one event (zeroed first; an unknown
 * event has none). Admin traffic: a scan of the event's bookings. */
int store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                      store_status *status);

/* How many deliveries wait in the dead-letter queue. */
int store_dead_letters_count(store *s, uint64_t *count, store_status *status);

/* Call fn(ctx), from a thread of the store's, soon after another writer (another node) appended
 * to the feed, and once after the store lost and made again the link that tells it (changes
 * appended meanwhile may have gone unsaid): a follower then reads the feed from its position.
 * A hint only, never the only way to learn of changes (followers still poll). fn NULL stops:
 * once store_watch returns, fn is not called any more. One watcher per store. Returns 0 (also
 * when the store cannot tell: the embedded store never calls fn), or -1 when it cannot start. */
int store_watch(store *s, void (*fn)(void *ctx), void *ctx);

#endif
