/* commit: the one write path of tix.
 *
 * Handlers never write to the store. They fill a commit_cmd and submit it; one writer thread
 * takes the queued commands as a batch (at most batch_max: commands that arrive while a batch
 * is being synced form the next batch; under load, see gather_us, it may wait a little for
 * more before a batch smaller than the previous one), runs the whole
 * batch in one store transaction, each command inside its own savepoint, commits (synced),
 * applies the committed changes to the in-memory inventory, and only then calls every
 * command's on_done. A failed commit fails every command of its batch with
 * TIX_RC_STORE_ERROR and changes neither memory nor disk.
 *
 * Each state change writes its outbox rows (HoldCreated, HoldReleased, HoldExpired,
 * EventCreated, CheckoutStarted, PaymentSucceeded, PaymentFailed, BookingConfirmed,
 * BookingCancelled, RefundRequested, RefundSucceeded) in the same transaction, and the store
 * fans each row out to the deliveries of its subscribers there too. Hold expiry runs on the
 * same path: when its sweep interval has passed, the writer adds a sweep step to the next
 * batch (or runs one alone); so do the bookkeeping writes of the event bus (claims with a
 * lease, delivery outcomes, redrives) and the responses kept for idempotency keys.
 *
 * Back-pressure: the queue holds at most queue_max commands; beyond that commit_submit
 * answers TIX_RC_OVERLOADED at once. */
#ifndef TIX_COMMIT_H
#define TIX_COMMIT_H

#include "core/inventory.h"
#include "core/model.h"
#include "store/store.h"
#include "util/buf.h"

typedef enum commit_type {
    COMMIT_HOLD,           /* in: event, seat_index[], seat_count, hold.user_id */
    COMMIT_RELEASE,        /* in: hold.id */
    COMMIT_EVENT_CREATE,   /* in: spec (moved into the inventory on success) */
    COMMIT_PING,           /* a real, tiny write: proves the store is writable */
    COMMIT_CHECKOUT,       /* in: hold.id, booking.payment_token, booking.email; out: booking */
    COMMIT_CANCEL,         /* in: booking.id; out: booking */
    COMMIT_PAYMENT_RESULT, /* in: booking.id, payment, delivery (charge of CheckoutStarted) */
    COMMIT_REFUND_RESULT,  /* in: booking.id, payment, delivery (refund of RefundRequested) */
    COMMIT_CLAIM,          /* in: claim.owner, claim.max, claim.out; out: claim.count */
    COMMIT_DELIVERY_DONE,  /* in: delivery (ok or not, error, final) */
    COMMIT_REDRIVE,        /* in: delivery.seq */
    COMMIT_WEBHOOK_CREATE, /* in: subscriber */
    COMMIT_RESPONSE_STORE, /* in: idempotency (a response decided without a state change) */
} commit_type;

typedef struct commit_cmd commit_cmd;
typedef void (*commit_done_fn)(commit_cmd *cmd);

/* Renders the response of cmd into cmd->idempotency.status/body, inside the writer's
 * transaction, so that it is kept with the change it answers. */
typedef void (*commit_render_fn)(commit_cmd *cmd);

/* The outcome of a payment provider call, as a worker reports it. */
typedef struct commit_payment {
    bool ok;                                     /* charged / refunded */
    char payment_id[TIX_PAYMENT_ID_LEN_MAX + 1]; /* when ok */
    char error[TIX_DELIVERY_ERROR_LEN_MAX + 1];  /* when not */
} commit_payment;

/* A delivery's outcome, as a worker reports it. */
typedef struct commit_delivery {
    int64_t seq;
    int32_t attempts; /* as claimed (this attempt included) */
    bool ok;
    bool final; /* a failure not worth retrying: dead-letter it now */
    char error[TIX_DELIVERY_ERROR_LEN_MAX + 1];
} commit_delivery;

typedef struct commit_claim {
    char owner[64];
    uint32_t max;
    delivery_record *out; /* capacity max, owned by the claimer */
    uint32_t count;
} commit_claim;

typedef struct commit_idempotency {
    const char *key; /* NULL: none; owned by the submitter */
    char request_hash[65];
    commit_render_fn render;
    bool rendered;
    unsigned status;
    buf body;
} commit_idempotency;

struct commit_cmd {
    commit_type type;
    inv_event *event;
    uint32_t seat_count;
    uint32_t seat_index[TIX_HOLD_SEATS_MAX];
    event_spec spec;
    char actor[TIX_USER_ID_LEN_MAX + 1]; /* the buyer acting (from a buyer token), "" if none:
                                            RELEASE, CHECKOUT, CANCEL refuse another's */
    /* out */
    tix_rc rc;
    hold_record hold;     /* HOLD, RELEASE: the hold as committed */
    uint32_t taken_count; /* SEAT_UNAVAILABLE: which seats were taken */
    uint32_t taken_index[TIX_HOLD_SEATS_MAX];
    inv_event *created; /* EVENT_CREATE */
    commit_idempotency idempotency;
    /* completion: called once, from the writer thread, after the outcome is final */
    commit_done_fn on_done;
    void *ctx;
    commit_cmd *next_;
    /* The parts of the booking, bus and admin commands, last: commit_cmd_clear leaves them
     * as they are for a HOLD or RELEASE (6 KB a hold need not zero), which never use them. */
    booking_record booking;
    commit_payment payment;
    commit_delivery delivery;
    commit_claim claim;
    subscriber_record subscriber;
};

/* Make cmd a new command of the given type, every field it may use zero. */
void commit_cmd_clear(commit_cmd *cmd, commit_type type);

typedef struct commit_config {
    uint32_t batch_max;          /* commands per transaction */
    uint32_t gather_us;          /* after a batch of n >= COMMIT_GATHER_MIN commands, wait up to
                                    this long for n to queue before the next; 0: never wait */
    uint32_t queue_max;          /* commands waiting */
    uint32_t sweep_interval_ms;  /* how often lapsed holds are expired */
    uint32_t sweep_holds_max;    /* holds expired per sweep step */
    uint32_t checkout_timeout_s; /* how long a hold waits for its payment */
    uint32_t max_attempts;       /* deliveries dead-lettered after this many */
    uint32_t retry_base_ms;      /* first retry delay; doubles each attempt (with jitter) */
    uint32_t retry_max_ms;       /* cap of the retry delay */
    uint32_t lease_ms;           /* how long a claimed delivery is its claimer's */
    uint32_t idempotency_ttl_s;  /* how long responses to idempotency keys are kept */
    uint32_t user_seats_max;     /* seats one buyer may hold at once in an event; 0: no limit */
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
    COMMIT_RETRY_BASE_MS_DEFAULT = 1000,
    COMMIT_RETRY_MAX_MS_DEFAULT = 300000,
    COMMIT_LEASE_MS_DEFAULT = 30000,
    COMMIT_IDEMPOTENCY_TTL_S_DEFAULT = 86400,
};

/* A config with every default (callers override what they need). */
commit_config commit_config_default(void);

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

/* Call fn(ctx) from the writer thread after every commit that wrote deliveries (outbox rows
 * some subscriber takes, or a redrive): the dispatcher uses it to wake up. Set before traffic
 * starts. */
void commit_on_outbox(commit *c, void (*fn)(void *ctx), void *ctx);

/* Load every event and its held seats from the store into the inventory. Returns 0 or -1. */
int commit_load_inventory(store *st, inventory *inv);

#endif
