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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BUS_BODY_LEN_MAX = 16384 };

/* Submit a command built by the caller and wait for it; logs a failure. */
static void bus__report(bus *b, commit_cmd *cmd, const delivery_record *d)
{
    cmd->delivery.seq = d->seq;
    cmd->delivery.attempts = d->attempts;
    /* a payment or refund result marks its delivery delivered in the same transaction */
    metrics_bus_delivery(d->subscriber_id, cmd->type != COMMIT_DELIVERY_DONE || cmd->delivery.ok);
    tix_rc rc = commit_submit_wait(b->writer, cmd);
    if (rc != TIX_RC_OK)
        log_warn("bus: outcome of delivery %lld not recorded (%d); it will be retried",
                 (long long)d->seq, rc);
}

/* Report a delivery done (ok) or failed (retried later, or dead-lettered when final). */
static void bus__done(bus *b, const delivery_record *d, bool ok, bool final, const char *error)
{
    commit_cmd *cmd = calloc(1, sizeof(*cmd));
    if (!cmd) return;
    cmd->type = COMMIT_DELIVERY_DONE;
    cmd->delivery.ok = ok;
    cmd->delivery.final = final;
    snprintf(cmd->delivery.error, sizeof(cmd->delivery.error), "%s", error ? error : "");
    if (!ok)
        log_warn("bus: delivery %lld of %s to %s failed (attempt %d): %s", (long long)d->seq,
                 d->event.type, d->subscriber_id, d->attempts, error ? error : "?");
    bus__report(b, cmd, d);
    free(cmd);
}

static void bus__payment(bus *b, const delivery_record *d)
{
    const outbox_record *e = &d->event;
    bool refund = strcmp(e->type, "RefundRequested") == 0;
    booking_record *bk = calloc(1, sizeof(*bk));
    commit_cmd *cmd = calloc(1, sizeof(*cmd));
    bool found = false;
    if (!bk || !cmd) goto out;
    if (store_booking_get(b->st, e->aggregate_id, bk, &found) != 0) {
        bus__done(b, d, false, false, "store unavailable");
        goto out;
    }
    if (!found || (!refund && bk->status != BOOKING_PENDING_PAYMENT) ||
        (refund && bk->refund_id[0])) {
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
        bus__done(b, d, false, false, result.message);
        goto out;
    }
    if (refund && result.outcome == PAY_DECLINED) {
        bus__done(b, d, false, true, result.message); /* needs a person: dead-letter it */
        goto out;
    }
    cmd->type = refund ? COMMIT_REFUND_RESULT : COMMIT_PAYMENT_RESULT;
    snprintf(cmd->booking.id, sizeof(cmd->booking.id), "%s", bk->id);
    cmd->payment.ok = result.outcome == PAY_OK;
    snprintf(cmd->payment.payment_id, sizeof(cmd->payment.payment_id), "%s", result.payment_id);
    snprintf(cmd->payment.error, sizeof(cmd->payment.error), "%s", result.message);
    bus__report(b, cmd, d);
out:
    free(bk);
    free(cmd);
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
    if (store_booking_get(b->st, e->aggregate_id, bk, &found) != 0) {
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
        if (b->subscribers) store_subscribers_list(b->st, bus__subscriber_cb, b);
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

void bus__deliver(bus *b, const delivery_record *d)
{
    if (strcmp(d->subscriber_id, "payment") == 0)
        bus__payment(b, d);
    else if (strcmp(d->subscriber_id, "notification") == 0)
        bus__notification(b, d);
    else
        bus__webhook(b, d);
}
