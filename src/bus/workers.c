/* workers: the consumers of the event bus (payment, notification, webhook). Each performs
 * one delivery and reports through the commit writer. Each is idempotent: the payment
 * provider is called with a stable idempotency key, an email file is named after the event
 * id, and webhook receivers get the event id to dedupe on. */
#include "bus/internal.h"

#include "bus/envelope.h"
#include "metrics/metrics.h"
#include "notify/webhook.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BUS_BODY_LEN_MAX = 16384 };

int64_t bus_backoff_ms(const bus_config *config, int32_t attempts)
{
    int64_t delay = config->retry_base_ms;
    for (int32_t i = 1; i < attempts && delay < config->retry_max_ms; i++)
        delay *= 2;
    if (delay > config->retry_max_ms) delay = config->retry_max_ms;
    int64_t half = delay / 2;
    return half + (half > 0 ? (int64_t)randombytes_uniform((uint32_t)(half + 1)) : 0);
}

/* Submit a command built by the caller, wait for it and let it go; logs a failure. */
static void bus__report(bus *b, commit_cmd *cmd, const delivery_record *d)
{
    /* a payment or refund result marks its delivery delivered in the same transaction */
    metrics_bus_delivery(d->subscriber_id, cmd->op.kind != STORE_CMD_DELIVERY ||
                                               cmd->op.u.delivery.outcome == STORE_DELIVERED);
    tix_rc rc = commit_submit_wait(b->writer, cmd);
    if (rc != TIX_RC_OK)
        log_warn("bus: outcome of delivery %lld not recorded (%d); it will be retried",
                 (long long)d->seq, rc);
    commit_cmd_free(b->writer, cmd);
}

/* Report a delivery done (ok) or failed: retried later with backoff, or dead-lettered when the
 * failure is final or it used every attempt. */
static void bus__done(bus *b, const delivery_record *d, bool ok, bool final, const char *error)
{
    commit_cmd *cmd = commit_cmd_new(b->writer, STORE_CMD_DELIVERY);
    if (!cmd) return; /* its lease passes and it is claimed again */
    store_delivery *out = &cmd->op.u.delivery;
    out->seq = d->seq;
    out->next_attempt_ms = 0;
    snprintf(out->error, sizeof(out->error), "%s", error ? error : "");
    if (ok) {
        out->outcome = STORE_DELIVERED;
    } else if (final || d->attempts >= (int32_t)b->config.max_attempts) {
        out->outcome = STORE_DELIVERY_DEAD;
    } else {
        out->outcome = STORE_DELIVERY_RETRY;
        out->next_attempt_ms = clock_now_ms() + bus_backoff_ms(&b->config, d->attempts);
    }
    if (!ok)
        log_warn("bus: delivery %lld of %s to %s failed (attempt %d): %s", (long long)d->seq,
                 d->event.type, d->subscriber_id, d->attempts, error ? error : "?");
    bus__report(b, cmd, d);
}

/* A charge delivery's last_error begins "not charged (attempt N): " while every attempt up to
 * N is known to have moved no money: the provider answered that it did nothing (a transient
 * status), or the attempt never called it. An attempt lost with its worker (no report), or one
 * whose answer never came (a timeout), leaves no such mark, and no later attempt sets it
 * again. */
#define BUS_NOT_CHARGED "not charged (attempt "

/* Whether every attempt of charge delivery d before the one claimed now moved no money. */
static bool bus__charge_attempts_void(const delivery_record *d)
{
    assert(d->attempts >= 1);                               /* counted when claimed */
    if (d->attempts == 1 && !d->last_error[0]) return true; /* the first (not a redriven one) */
    size_t len = sizeof(BUS_NOT_CHARGED) - 1;
    if (strncmp(d->last_error, BUS_NOT_CHARGED, len) != 0) return false;
    char *end = NULL;
    long n = strtol(d->last_error + len, &end, 10);
    return end && *end == ')' && n == d->attempts - 1;
}

/* Report a failed charge or refund attempt (retried later); a charge's is marked "not
 * charged" when NO_EFFECT says this attempt moved no money and every earlier one is known to
 * have moved none. */
static void bus__payment_failed(bus *b, const delivery_record *d, bool refund, bool no_effect,
                                const char *error)
{
    char marked[TIX_DELIVERY_ERROR_LEN_MAX + 1];
    if (!refund && no_effect && bus__charge_attempts_void(d)) {
        snprintf(marked, sizeof(marked), BUS_NOT_CHARGED "%d): %.200s", (int)d->attempts, error);
        error = marked;
    }
    bus__done(b, d, false, false, error);
}

/* Whether the charge delivery d of booking bk must (still) ask the provider: while the booking
 * waits for its payment; and once it was cancelled unpaid, unless every earlier attempt is
 * known to have moved no money (one may have charged, and its answer was never recorded: its
 * worker died, or timed out). Asked again with the same key, the provider answers what it
 * did; money it took is then recorded and given back (the store's rule for a payment of a
 * cancelled booking). */
static bool bus__charge_due(const booking_record *bk, const delivery_record *d)
{
    if (bk->status == BOOKING_PENDING_PAYMENT) return true;
    return bk->status == BOOKING_CANCELLED && !bk->payment_id[0] && bk->amount_cents > 0 &&
           !bus__charge_attempts_void(d);
}

static void bus__payment(bus *b, const delivery_record *d)
{
    const outbox_record *e = &d->event;
    bool refund = strcmp(e->type, "RefundRequested") == 0;
    booking_record *bk = calloc(1, sizeof(*bk));
    bool found = false;
    if (!bk) return;
    if (store_booking_get(b->st, e->aggregate_id, bk, &found, NULL) != 0) {
        bus__payment_failed(b, d, refund, true, "store unavailable"); /* provider not called */
        goto out;
    }
    if (!found || (!refund && !bus__charge_due(bk, d)) || (refund && bk->refund_id[0])) {
        bus__done(b, d, true, false, NULL); /* nothing (more) to do */
        goto out;
    }
    pay_result result = {.outcome = PAY_OK};
    if (bk->amount_cents == 0) { /* free seats: nothing to charge or give back */
        snprintf(result.payment_id, sizeof(result.payment_id), "free");
    } else if (refund) {
        char key[TIX_BOOKING_ID_LEN + 16];
        snprintf(key, sizeof(key), "refund-%s", bk->id);
        pay_refund(b->pay, key, bk->id, bk->payment_id, bk->amount_cents, &result);
    } else {
        pay_charge(b->pay, bk->id, bk->id, bk->payment_token, bk->amount_cents, &result);
    }
    if (result.outcome == PAY_TRANSIENT) {
        bus__payment_failed(b, d, refund, result.no_effect, result.message);
        goto out;
    }
    if (refund && result.outcome == PAY_DECLINED) {
        bus__done(b, d, false, true, result.message); /* needs a person: dead-letter it */
        goto out;
    }
    commit_cmd *cmd = commit_cmd_new(b->writer, refund ? STORE_CMD_REFUND : STORE_CMD_PAYMENT);
    if (!cmd) goto out; /* its lease passes and it is claimed again */
    store_payment *outcome = &cmd->op.u.payment;
    snprintf(outcome->booking_id, sizeof(outcome->booking_id), "%s", bk->id);
    outcome->ok = result.outcome == PAY_OK;
    snprintf(outcome->payment_id, sizeof(outcome->payment_id), "%s", result.payment_id);
    outcome->delivery_seq = d->seq;
    if (!outcome->ok) log_info("bus: payment of booking %s declined: %s", bk->id, result.message);
    bus__report(b, cmd, d);
out:
    free(bk);
}

/* The text of the email for event e about booking bk. */
static void bus__email_text(bus *b, const outbox_record *e, const booking_record *bk, buf *subject,
                            buf *body)
{
    const char *event_name = bk->event_id;
    inv_event *ev = b->inv ? inventory_find(b->inv, bk->event_id, strlen(bk->event_id)) : NULL;
    if (ev) event_name = ev->spec.name;
    const char *what = strcmp(e->type, "BookingConfirmed") == 0 ? "confirmed"
                       : strcmp(e->type, "PaymentFailed") == 0  ? "not paid: your payment failed"
                                                                : "cancelled";
    buf_appendf(subject, "Your booking for %s is %s", event_name,
                strcmp(e->type, "PaymentFailed") == 0 ? "not confirmed" : what);
    buf_appendf(body, "Hello %s,\n\nYour booking %s for %s is %s.\n\nSeats:", bk->user_id, bk->id,
                event_name, what);
    for (uint32_t i = 0; i < bk->seat_count; i++)
        buf_appendf(body, " %s", bk->seat_ids[i]);
    buf_appendf(body, "\nAmount: %lld.%02lld\n", (long long)(bk->amount_cents / 100),
                (long long)(bk->amount_cents % 100));
    if (strcmp(e->type, "PaymentFailed") == 0)
        buf_append_str(body, "\nThe seats were released. You can hold them again and retry.\n");
    if (strcmp(e->type, "BookingCancelled") == 0 && bk->payment_id[0])
        buf_append_str(body, "\nThe amount you paid is being refunded.\n");
    buf_append_str(body, "\n-- tix\n");
}

static void bus__notification(bus *b, const delivery_record *d)
{
    const outbox_record *e = &d->event;
    booking_record *bk = calloc(1, sizeof(*bk));
    bool found = false;
    if (!bk) return;
    if (store_booking_get(b->st, e->aggregate_id, bk, &found, NULL) != 0) {
        bus__done(b, d, false, false, "store unavailable");
    } else if (!found || !bk->email[0] || !b->mail) {
        bus__done(b, d, true, false, NULL); /* no one to write to */
    } else {
        buf subject, body;
        buf_init(&subject, 512);
        buf_init(&body, BUS_BODY_LEN_MAX);
        bus__email_text(b, e, bk, &subject, &body);
        mailer_message msg = {e->id, bk->email, subject.data, body.data};
        char err[256] = "";
        int rc = subject.failed || body.failed ? -1 : mailer_send(b->mail, &msg, err, sizeof(err));
        bus__done(b, d, rc == 0, false, err);
        buf_free(&subject);
        buf_free(&body);
    }
    free(bk);
}

static int bus__subscriber_cb(void *ctx, const subscriber_record *sub)
{
    bus *b = ctx;
    if (b->subscriber_count == BUS_SUBSCRIBERS_MAX) return 0;
    b->subscribers[b->subscriber_count++] = *sub;
    return 0;
}

/* Copy webhook subscriber `id` into out; refresh the cache once when it is unknown. */
static bool bus__subscriber(bus *b, const char *id, subscriber_record *out)
{
    bool found = false;
    pthread_mutex_lock(&b->subscribers_mutex);
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (unsigned i = 0; i < b->subscriber_count && !found; i++)
            if (strcmp(b->subscribers[i].id, id) == 0) *out = b->subscribers[i], found = true;
        if (found || pass == 1) break;
        if (!b->subscribers)
            b->subscribers = calloc(BUS_SUBSCRIBERS_MAX, sizeof(subscriber_record));
        b->subscriber_count = 0;
        if (b->subscribers) store_subscribers_list(b->st, bus__subscriber_cb, b, NULL);
    }
    pthread_mutex_unlock(&b->subscribers_mutex);
    return found;
}

static void bus__webhook(bus *b, const delivery_record *d)
{
    subscriber_record *sub = calloc(1, sizeof(*sub));
    if (!sub) return;
    if (!bus__subscriber(b, d->subscriber_id, sub)) {
        bus__done(b, d, false, true, "no such subscriber");
        free(sub);
        return;
    }
    buf body;
    buf_init(&body, TIX_OUTBOX_DATA_LEN_MAX + 1024);
    char err[256] = "";
    int rc = bus_envelope_write(&body, &d->event);
    if (rc == 0)
        rc = webhook_post(sub->url, sub->secret, d->event.id, body.data, body.len,
                          b->config.webhook_timeout_ms, err, sizeof(err));
    bus__done(b, d, rc == 0, false, err);
    buf_free(&body);
    free(sub);
}

void bus_on_change(void *ctx, const change_record *change, const char *seats, size_t seats_len)
{
    (void)seats, (void)seats_len;
    bus *b = ctx;
    if (change && change->kind != CHANGE_SUBSCRIBER_ADDED) return; /* NULL: a reset */
    pthread_mutex_lock(&b->subscribers_mutex);
    b->subscriber_count = 0; /* read again from the store at the next webhook */
    pthread_mutex_unlock(&b->subscribers_mutex);
}

void bus__deliver(bus *b, const delivery_record *d)
{
    if (strcmp(d->subscriber_id, "payment") == 0)
        bus__payment(b, d);
    else if (strcmp(d->subscriber_id, "notification") == 0)
        bus__notification(b, d);
    else
        bus__webhook(b, d);
}
