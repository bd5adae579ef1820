/* bookings: checkout, payment results, cancellation and refunds, in the writer.
 *
 * The rules that keep money and seats together:
 *  - checkout freezes the hold (status checkout, expiry = checkout deadline) and writes
 *    CheckoutStarted, which the payment worker consumes;
 *  - a successful charge sells the hold's seats and confirms the booking; if the seats were
 *    let go meanwhile (checkout timeout), they are taken again when all are still free,
 *    otherwise the booking is cancelled and RefundRequested written: never money without a
 *    seat;
 *  - a declined charge fails the booking and frees its seats at once;
 *  - cancelling frees the seats; money taken is refunded (RefundRequested);
 *  - every transition is conditional on the booking's current status, so a result delivered
 *    twice changes nothing the second time. */
#include "commit/internal.h"

#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Sum of the prices of the hold's seats. */
static int64_t commit__amount(commit *c, const hold_record *h)
{
    inv_event *ev = inventory_find(c->inv, h->event_id, strlen(h->event_id));
    int64_t amount = 0;
    for (uint32_t i = 0; ev && i < h->seat_count; i++) {
        int64_t idx = inv_event_seat_find(ev, h->seat_ids[i], strlen(h->seat_ids[i]));
        if (idx < 0) continue;
        const inv_row *row = &ev->rows[ev->seats[idx].row_index];
        amount += ev->spec.sections[row->section_index].price_cents;
    }
    return amount;
}

int commit__do_checkout(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    hold_record *h = &cmd->hold;
    booking_record *b = &cmd->booking;
    bool changed;
    if (commit__load_active_hold(c, cmd, now_ms) != 0) return -1;
    if (cmd->rc != TIX_RC_OK) return 0;
    ids_sortable_hex(b->id, now_ms);
    b->hold_seq = h->seq;
    snprintf(b->hold_id, sizeof(b->hold_id), "%s", h->id);
    snprintf(b->event_id, sizeof(b->event_id), "%s", h->event_id);
    snprintf(b->user_id, sizeof(b->user_id), "%s", h->user_id);
    b->status = BOOKING_PENDING_PAYMENT;
    b->amount_cents = commit__amount(c, h);
    b->payment_id[0] = b->refund_id[0] = '\0';
    b->created_at_ms = b->updated_at_ms = now_ms;
    b->checkout_deadline_ms = now_ms + (int64_t)c->config.checkout_timeout_s * 1000;
    b->seat_count = h->seat_count;
    memcpy(b->seat_ids, h->seat_ids, sizeof(b->seat_ids));
    if (store_tx_booking_insert(c->st, b) != 0) return -1;
    if (store_tx_hold_checkout(c->st, h->seq, b->checkout_deadline_ms, &changed) != 0) return -1;
    assert(changed);
    h->status = HOLD_CHECKOUT;
    h->expires_at_ms = b->checkout_deadline_ms;
    if (commit__outbox_booking(c, "CheckoutStarted", b, now_ms) != 0) return -1;
    return commit__effect_ids(c, h->event_id, h->seat_ids, h->seat_count, h->seq, h->expires_at_ms,
                              SEAT_HELD);
}

/* Move booking b from its current status to `to`, keeping b in step. */
static int commit__booking_move(commit *c, booking_record *b, booking_status to,
                                const char *payment_id, const char *refund_id, int64_t now_ms)
{
    bool changed;
    if (store_tx_booking_update(c->st, b->seq, b->status, to, payment_id, refund_id, now_ms,
                                &changed) != 0)
        return -1;
    assert(changed);
    b->status = to;
    b->updated_at_ms = now_ms;
    if (payment_id) snprintf(b->payment_id, sizeof(b->payment_id), "%s", payment_id);
    if (refund_id) snprintf(b->refund_id, sizeof(b->refund_id), "%s", refund_id);
    return 0;
}

/* Free the seats of booking b's hold if the hold still has them (in checkout). */
static int commit__booking_release_hold(commit *c, const booking_record *b, int64_t now_ms)
{
    hold_record h;
    bool found;
    if (store_tx_hold_get(c->st, NULL, b->hold_seq, &h, &found) != 0) return -1;
    if (!found || h.status != HOLD_CHECKOUT) return 0;
    return commit__end_hold(c, &h, HOLD_RELEASED, now_ms);
}

/* Sell the seats of b: in place while its hold still has them, else by taking them again
 * if every one is still free. *sold tells whether the booking has its seats. */
static int commit__booking_sell(commit *c, const booking_record *b, int64_t now_ms, bool *sold)
{
    hold_record h;
    bool found, changed;
    *sold = false;
    if (store_tx_hold_get(c->st, NULL, b->hold_seq, &h, &found) != 0) return -1;
    if (!found) return 0;
    if (h.status != HOLD_CHECKOUT) { /* let go meanwhile: take the seats again, all or none */
        uint32_t taken = 0;
        for (uint32_t i = 0; i < h.seat_count; i++) {
            bool ok;
            if (store_tx_seat_take(c->st, h.event_id, h.seat_ids[i], h.seq, &ok) != 0) return -1;
            taken += ok;
        }
        if (taken < h.seat_count) return store_tx_seats_free(c->st, h.seq);
    } else if (store_tx_hold_end(c->st, h.seq, HOLD_BOOKED, now_ms, &changed) != 0) {
        return -1;
    }
    if (store_tx_seats_sell(c->st, h.seq) != 0) return -1;
    *sold = true;
    return commit__effect_ids(c, h.event_id, h.seat_ids, h.seat_count, h.seq, INT64_MAX, SEAT_SOLD);
}

static int commit__payment_succeeded(commit *c, booking_record *b, const char *payment_id,
                                     int64_t now_ms)
{
    bool sold;
    switch (b->status) {
    case BOOKING_PENDING_PAYMENT:
        if (commit__booking_sell(c, b, now_ms, &sold) != 0) return -1;
        if (commit__booking_move(c, b, sold ? BOOKING_CONFIRMED : BOOKING_CANCELLED, payment_id,
                                 NULL, now_ms) != 0 ||
            commit__outbox_booking(c, "PaymentSucceeded", b, now_ms) != 0)
            return -1;
        if (sold) return commit__outbox_booking(c, "BookingConfirmed", b, now_ms);
        log_warn("booking %s paid after its seats were taken: refunding", b->id);
        if (commit__outbox_booking(c, "BookingCancelled", b, now_ms) != 0) return -1;
        return commit__outbox_booking(c, "RefundRequested", b, now_ms);
    case BOOKING_CANCELLED: /* cancelled while the charge was in flight: give it back */
        if (b->payment_id[0]) return 0;
        if (commit__booking_move(c, b, BOOKING_CANCELLED, payment_id, NULL, now_ms) != 0 ||
            commit__outbox_booking(c, "PaymentSucceeded", b, now_ms) != 0)
            return -1;
        return commit__outbox_booking(c, "RefundRequested", b, now_ms);
    case BOOKING_CONFIRMED:
    case BOOKING_PAYMENT_FAILED:
        return 0; /* already decided: a repeated result */
    }
    return 0;
}

static int commit__payment_declined(commit *c, booking_record *b, int64_t now_ms)
{
    if (b->status != BOOKING_PENDING_PAYMENT) return 0;
    if (commit__booking_move(c, b, BOOKING_PAYMENT_FAILED, NULL, NULL, now_ms) != 0 ||
        commit__booking_release_hold(c, b, now_ms) != 0)
        return -1;
    return commit__outbox_booking(c, "PaymentFailed", b, now_ms);
}

/* Mark the command's delivery delivered. */
static int commit__delivered(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    bool changed;
    if (cmd->delivery.seq == 0) return 0;
    return store_tx_delivery_finish(c->st, cmd->delivery.seq, DELIVERY_DELIVERED, NULL, now_ms,
                                    &changed);
}

/* Load the booking the command names (cmd->booking.id) into cmd->booking. */
static int commit__booking_load(commit *c, commit_cmd *cmd, bool *found)
{
    char id[TIX_BOOKING_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", cmd->booking.id);
    return store_tx_booking_get(c->st, id, 0, &cmd->booking, found);
}

int commit__do_payment_result(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    booking_record *b = &cmd->booking;
    bool found;
    if (commit__booking_load(c, cmd, &found) != 0) return -1;
    if (found) {
        int rc = cmd->payment.ok ? commit__payment_succeeded(c, b, cmd->payment.payment_id, now_ms)
                                 : commit__payment_declined(c, b, now_ms);
        if (rc != 0) return -1;
    }
    return commit__delivered(c, cmd, now_ms);
}

int commit__do_refund_result(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    booking_record *b = &cmd->booking;
    bool found;
    if (commit__booking_load(c, cmd, &found) != 0) return -1;
    assert(cmd->payment.ok);
    if (found && !b->refund_id[0]) {
        if (commit__booking_move(c, b, b->status, NULL, cmd->payment.payment_id, now_ms) != 0 ||
            commit__outbox_booking(c, "RefundSucceeded", b, now_ms) != 0)
            return -1;
    }
    return commit__delivered(c, cmd, now_ms);
}

int commit__do_cancel(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    booking_record *b = &cmd->booking;
    bool found;
    if (commit__booking_load(c, cmd, &found) != 0) return -1;
    if (!found) return cmd->rc = TIX_RC_BOOKING_NOT_FOUND, 0;
    if (cmd->actor[0] && strcmp(b->user_id, cmd->actor) != 0) return cmd->rc = TIX_RC_FORBIDDEN, 0;
    booking_status was = b->status;
    if (was != BOOKING_PENDING_PAYMENT && was != BOOKING_CONFIRMED)
        return cmd->rc = TIX_RC_BOOKING_NOT_CANCELLABLE, 0;
    if (commit__booking_move(c, b, BOOKING_CANCELLED, NULL, NULL, now_ms) != 0) return -1;
    if (was == BOOKING_PENDING_PAYMENT) {
        if (commit__booking_release_hold(c, b, now_ms) != 0) return -1;
    } else {
        if (store_tx_seats_free(c->st, b->hold_seq) != 0 ||
            commit__effect_ids(c, b->event_id, b->seat_ids, b->seat_count, b->hold_seq, 0,
                               SEAT_AVAILABLE) != 0)
            return -1;
    }
    if (commit__outbox_booking(c, "BookingCancelled", b, now_ms) != 0) return -1;
    if (was == BOOKING_CONFIRMED && b->payment_id[0])
        return commit__outbox_booking(c, "RefundRequested", b, now_ms);
    return 0;
}
