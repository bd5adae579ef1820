/* dispatcher: delivers outbox events to their subscribers, at least once.
 *
 * One dispatcher thread claims due deliveries through the commit writer (each claim is a
 * lease: a delivery whose worker crashes or hangs is claimed again when its lease passes,
 * like an SQS visibility timeout; with several tix nodes on one store, each delivery is
 * leased by one node at a time). A pool of worker threads performs them:
 *   payment       CheckoutStarted -> charge (idempotency key: the booking id)
 *                 RefundRequested -> refund (idempotency key: "refund-" + booking id)
 *   notification  BookingConfirmed, PaymentFailed, BookingCancelled -> email
 *   webhook       any matching type -> signed HTTP POST of the envelope
 * and report the outcome through the writer: the payment result is applied to the booking in
 * the same transaction that marks the delivery delivered; failures are retried with backoff
 * and dead-lettered after max_attempts (see commit/bus.c). Consumers are idempotent: a
 * repeated delivery changes nothing twice. */
#ifndef TIX_DISPATCHER_H
#define TIX_DISPATCHER_H

#include "commit/commit.h"
#include "core/inventory.h"
#include "notify/mailer.h"
#include "pay/payment.h"

typedef struct bus_config {
    unsigned workers;            /* delivery threads */
    unsigned poll_ms;            /* how often to look for due deliveries when not woken */
    unsigned webhook_timeout_ms; /* per webhook POST */
    unsigned max_attempts;       /* a failed delivery is dead-lettered after this many */
    unsigned retry_base_ms;      /* first retry delay; doubles each attempt (with jitter) */
    unsigned retry_max_ms;       /* cap of the retry delay */
} bus_config;

enum {
    BUS_WORKERS_DEFAULT = 4,
    BUS_POLL_MS_DEFAULT = 200,
    BUS_WEBHOOK_TIMEOUT_MS_DEFAULT = 5000,
    BUS_RETRY_BASE_MS_DEFAULT = 1000,
    BUS_RETRY_MAX_MS_DEFAULT = 300000,
};

typedef struct bus bus;

/* Start the dispatcher and its workers. inv (may be NULL) gives event names for emails. First
 * takes back, through the writer, the leases this node held when it stopped (a restart after a
 * crash retries its deliveries at once instead of after their lease). */
bus *bus_start(commit *writer, store *st, inventory *inv, pay_provider *pay, mailer *mail,
               const bus_config *config);

/* A feed listener (feed_listen, ctx: the bus): a subscriber added by any writer is known at
 * once. */
void bus_on_change(void *ctx, const change_record *change, const char *seats, size_t seats_len);

/* The delay before the attempt after `attempts` failed ones: retry_base_ms * 2^(attempts - 1),
 * capped at retry_max_ms, then a random point in its upper half (jitter spreads the retries of
 * a burst). */
int64_t bus_backoff_ms(const bus_config *config, int32_t attempts);

/* Wake the dispatcher now (new deliveries were committed). For commit_on_outbox. */
void bus_wake(void *b);

/* Stop claiming, let running deliveries finish (each bounded by its timeout), stop the
 * threads and free b. Deliveries claimed but not started are claimed again after their
 * lease. The commit writer must still be running. */
void bus_stop(bus *b);

#endif
