/* bookings: CHECKOUT, PAYMENT, REFUND and CANCEL on the embedded store.
 *
 * The rules that keep money and seats together:
 *  - checkout freezes the hold (status checkout, expiry = checkout deadline), prices the
 *    booking from the store (the sum of its seats' section prices) and writes CheckoutStarted,
 *    which the payment worker consumes;
 *  - a successful charge sells the hold's seats and confirms the booking; if the seats were let
 *    go meanwhile (checkout timeout), they are taken again when all are still free, otherwise
 *    the booking is cancelled and RefundRequested written: never money without a seat;
 *  - a declined charge fails the booking and frees its seats at once;
 *  - cancelling frees the seats; money taken is refunded (RefundRequested);
 *  - every transition is a conditional write on the booking's current status, so a result
 *    delivered twice changes nothing the second time, and a transition another writer made
 *    first is a conflict, not an error. */
#include "store/sqlite/internal.h"

#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int sqlite_store_booking_decode(sqlite3_stmt *st, booking_record *out)
{
    out->seq = sqlite3_column_int64(st, 0);
    sqlite_store_copy_text(out->id, sizeof(out->id), st, 1);
    out->hold_seq = sqlite3_column_int64(st, 2);
    sqlite_store_copy_text(out->hold_id, sizeof(out->hold_id), st, 3);
    sqlite_store_copy_text(out->event_id, sizeof(out->event_id), st, 4);
    sqlite_store_copy_text(out->user_id, sizeof(out->user_id), st, 5);
    sqlite_store_copy_text(out->email, sizeof(out->email), st, 6);
    if (model_booking_status_parse((const char *)sqlite3_column_text(st, 7), &out->status) != 0)
        return log_error("store: booking %s has an unknown status", out->id), -1;
    out->amount_cents = sqlite3_column_int64(st, 8);
    sqlite_store_copy_text(out->payment_token, sizeof(out->payment_token), st, 9);
    sqlite_store_copy_text(out->payment_id, sizeof(out->payment_id), st, 10);
    sqlite_store_copy_text(out->refund_id, sizeof(out->refund_id), st, 11);
    out->created_at_ms = sqlite3_column_int64(st, 12);
    out->updated_at_ms = sqlite3_column_int64(st, 13);
    out->checkout_deadline_ms = sqlite3_column_int64(st, 14);
    if (sqlite_store_seat_ids_decode((const char *)sqlite3_column_text(st, 15), out->seat_ids,
                                     &out->seat_count) != 0)
        return log_error("store: booking %s has malformed seat_ids", out->id), -1;
    return 0;
}

/* Read booking id, seeing the transaction's writes. */
static int sqlite_store__booking_get(store_sqlite *ss, const char *id, booking_record *out,
                                     bool *found)
{
    sqlite3_stmt *st = ss->stmt[SQL_BOOKING_BY_ID];
    sqlite_store_bind_text(st, 1, id);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite_store_booking_decode(st, out) != 0)
        result = sqlite_store_fail_with(ss, STORE_FATAL, "a booking row cannot be read");
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = sqlite_store_fail(ss, ss->db, "read a booking");
    sqlite_store_done(st);
    return result;
}

/* The price of hold seq's seats, from the store: every one of its seat_count seats must be
 * held by it and priced by its section, or the store is inconsistent (never a free booking). */
static int sqlite_store__price(store_sqlite *ss, const hold_record *h, int64_t *amount_cents)
{
    sqlite3_stmt *st = ss->stmt[SQL_SEATS_PRICE];
    sqlite3_bind_int64(st, 1, h->seq);
    int rc = sqlite3_step(st);
    int64_t seats = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    *amount_cents = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite_store_done(st);
    if (rc != SQLITE_ROW) return sqlite_store_fail(ss, ss->db, "price a hold");
    if (seats != (int64_t)h->seat_count)
        return sqlite_store_fail_with(ss, STORE_FATAL,
                                      "hold %s lists %u seats but holds %lld priced ones", h->id,
                                      h->seat_count, (long long)seats);
    return 0;
}

static int sqlite_store__booking_insert(store_sqlite *ss, booking_record *b)
{
    if (sqlite_store_seat_ids_encode(b->seat_ids, b->seat_count, &ss->ids) != 0)
        return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    sqlite3_stmt *st = ss->stmt[SQL_BOOKING_INSERT];
    sqlite_store_bind_text(st, 1, b->id);
    sqlite3_bind_int64(st, 2, b->hold_seq);
    sqlite_store_bind_text(st, 3, b->hold_id);
    sqlite_store_bind_text(st, 4, b->event_id);
    sqlite_store_bind_text(st, 5, b->user_id);
    sqlite_store_bind_text(st, 6, b->email);
    sqlite3_bind_int64(st, 7, b->amount_cents);
    sqlite_store_bind_text(st, 8, b->payment_token);
    sqlite3_bind_int64(st, 9, b->created_at_ms);
    sqlite3_bind_int64(st, 10, b->updated_at_ms);
    sqlite3_bind_int64(st, 11, b->checkout_deadline_ms);
    sqlite3_bind_text(st, 12, ss->ids.data, (int)ss->ids.len, SQLITE_STATIC);
    if (sqlite_store_run(ss, SQL_BOOKING_INSERT) != 0) return -1;
    b->seq = sqlite3_last_insert_rowid(ss->db);
    return 0;
}

/* Freeze the hold for its payment: the conditional UPDATE (*frozen false when it was no longer
 * active) and its change. */
static int sqlite_store__hold_freeze(store_sqlite *ss, hold_record *h, int64_t deadline_ms,
                                     int64_t now_ms, bool *frozen)
{
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_CHECKOUT];
    sqlite3_bind_int64(st, 1, deadline_ms);
    sqlite3_bind_int64(st, 2, h->seq);
    if (sqlite_store_run(ss, SQL_HOLD_CHECKOUT) != 0) return -1;
    *frozen = sqlite_store_changes(ss) == 1;
    if (!*frozen) return 0;
    h->status = HOLD_CHECKOUT;
    h->expires_at_ms = deadline_ms;
    return sqlite_store_feed_hold(ss, CHANGE_CHECKOUT, h, deadline_ms, now_ms);
}

int sqlite_store_do_checkout(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_checkout *in = &cmd->u.checkout;
    booking_record *b = &in->booking;
    hold_record h;
    if (sqlite_store_load_active_hold(ss, in->hold_id, in->actor, now_ms, &h, &cmd->rc) != 0)
        return -1;
    if (cmd->rc != TIX_RC_OK) return 0;
    ids_sortable_hex(b->id, now_ms);
    b->hold_seq = h.seq;
    snprintf(b->hold_id, sizeof(b->hold_id), "%s", h.id);
    snprintf(b->event_id, sizeof(b->event_id), "%s", h.event_id);
    snprintf(b->user_id, sizeof(b->user_id), "%s", h.user_id);
    b->status = BOOKING_PENDING_PAYMENT;
    b->payment_id[0] = b->refund_id[0] = '\0';
    b->created_at_ms = b->updated_at_ms = now_ms;
    b->checkout_deadline_ms = now_ms + (int64_t)ss->batch->rules->checkout_timeout_s * 1000;
    b->seat_count = h.seat_count;
    memcpy(b->seat_ids, h.seat_ids, sizeof(b->seat_ids[0]) * h.seat_count);
    bool frozen;
    if (sqlite_store__price(ss, &h, &b->amount_cents) != 0 ||
        sqlite_store__booking_insert(ss, b) != 0 ||
        sqlite_store__hold_freeze(ss, &h, b->checkout_deadline_ms, now_ms, &frozen) != 0)
        return -1;
    if (!frozen) return cmd->rc = TIX_RC_HOLD_NOT_ACTIVE, 0;
    return sqlite_store_outbox_booking(ss, "CheckoutStarted", b, now_ms);
}

/* Move booking b from its current status to `to`, keeping b in step. *moved false: another
 * writer moved it first (nothing changed). */
static int sqlite_store__booking_move(store_sqlite *ss, booking_record *b, booking_status to,
                                      const char *payment_id, const char *refund_id, int64_t now_ms,
                                      bool *moved)
{
    sqlite3_stmt *st = ss->stmt[SQL_BOOKING_UPDATE];
    sqlite_store_bind_text(st, 1, model_booking_status_name(to));
    sqlite_store_bind_text(st, 2, payment_id);
    sqlite_store_bind_text(st, 3, refund_id);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, b->seq);
    sqlite_store_bind_text(st, 6, model_booking_status_name(b->status));
    if (sqlite_store_run(ss, SQL_BOOKING_UPDATE) != 0) return -1;
    *moved = sqlite_store_changes(ss) == 1;
    if (!*moved) return 0;
    b->status = to;
    b->updated_at_ms = now_ms;
    if (payment_id) snprintf(b->payment_id, sizeof(b->payment_id), "%s", payment_id);
    if (refund_id) snprintf(b->refund_id, sizeof(b->refund_id), "%s", refund_id);
    return 0;
}

/* Free the seats of booking b's hold if the hold still has them (in checkout). */
static int sqlite_store__release_hold(store_sqlite *ss, const booking_record *b, int64_t now_ms)
{
    hold_record h;
    bool found, ended;
    if (sqlite_store_hold_get(ss, NULL, b->hold_seq, &h, &found) != 0) return -1;
    if (!found || h.status != HOLD_CHECKOUT) return 0;
    return sqlite_store_end_hold(ss, &h, HOLD_RELEASED, now_ms, &ended);
}

/* Take every seat of hold h again (it was let go meanwhile), all or none: *all tells. */
static int sqlite_store__retake(store_sqlite *ss, const hold_record *h, bool *all)
{
    uint32_t taken = 0;
    for (uint32_t i = 0; i < h->seat_count; i++) {
        sqlite3_stmt *st = ss->stmt[SQL_SEAT_TAKE];
        sqlite3_bind_int64(st, 1, h->seq);
        sqlite_store_bind_text(st, 2, h->event_id);
        sqlite_store_bind_text(st, 3, h->seat_ids[i]);
        if (sqlite_store_run(ss, SQL_SEAT_TAKE) != 0) return -1;
        taken += (uint32_t)sqlite_store_changes(ss);
    }
    *all = taken == h->seat_count;
    if (*all) return 0;
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_FREE], 1, h->seq); /* nothing taken, in the end */
    return sqlite_store_run(ss, SQL_SEATS_FREE);
}

/* Sell the seats of b: in place while its hold still has them, else by taking them again if
 * every one is still free. *sold tells whether the booking has its seats. */
static int sqlite_store__sell(store_sqlite *ss, const booking_record *b, int64_t now_ms, bool *sold)
{
    hold_record h;
    bool found;
    *sold = false;
    if (sqlite_store_hold_get(ss, NULL, b->hold_seq, &h, &found) != 0) return -1;
    if (!found) return 0;
    if (h.status != HOLD_CHECKOUT) { /* let go meanwhile: take the seats again, all or none */
        if (sqlite_store__retake(ss, &h, sold) != 0) return -1;
        if (!*sold) return 0;
    } else {
        sqlite3_stmt *st = ss->stmt[SQL_HOLD_END];
        sqlite_store_bind_text(st, 1, model_hold_status_name(HOLD_BOOKED));
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, h.seq);
        if (sqlite_store_run(ss, SQL_HOLD_END) != 0) return -1;
    }
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_SELL], 1, h.seq);
    if (sqlite_store_run(ss, SQL_SEATS_SELL) != 0) return -1;
    *sold = true;
    return sqlite_store_feed_hold(ss, CHANGE_SOLD, &h, 0, now_ms);
}

/* Outbox rows of b, each of the given types in turn. */
static int sqlite_store__booking_rows(store_sqlite *ss, const booking_record *b, int64_t now_ms,
                                      const char *const *types, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (sqlite_store_outbox_booking(ss, types[i], b, now_ms) != 0) return -1;
    return 0;
}

static int sqlite_store__payment_succeeded(store_sqlite *ss, booking_record *b,
                                           const char *payment_id, int64_t now_ms)
{
    static const char *const confirmed[] = {"PaymentSucceeded", "BookingConfirmed"};
    static const char *const refunded[] = {"PaymentSucceeded", "BookingCancelled",
                                           "RefundRequested"};
    static const char *const late[] = {"PaymentSucceeded", "RefundRequested"};
    bool sold, moved;
    switch (b->status) {
    case BOOKING_PENDING_PAYMENT:
        if (sqlite_store__sell(ss, b, now_ms, &sold) != 0 ||
            sqlite_store__booking_move(ss, b, sold ? BOOKING_CONFIRMED : BOOKING_CANCELLED,
                                       payment_id, NULL, now_ms, &moved) != 0)
            return -1;
        if (!moved) return 0; /* decided by another writer meanwhile */
        if (sold) return sqlite_store__booking_rows(ss, b, now_ms, confirmed, 2);
        log_warn("booking %s paid after its seats were taken: refunding", b->id);
        return sqlite_store__booking_rows(ss, b, now_ms, refunded, 3);
    case BOOKING_CANCELLED: /* cancelled while the charge was in flight: give it back */
        if (b->payment_id[0]) return 0;
        if (sqlite_store__booking_move(ss, b, BOOKING_CANCELLED, payment_id, NULL, now_ms,
                                       &moved) != 0)
            return -1;
        return moved ? sqlite_store__booking_rows(ss, b, now_ms, late, 2) : 0;
    case BOOKING_CONFIRMED:
    case BOOKING_PAYMENT_FAILED:
        return 0; /* already decided: a repeated result */
    }
    return 0;
}

static int sqlite_store__payment_declined(store_sqlite *ss, booking_record *b, int64_t now_ms)
{
    bool moved;
    if (b->status != BOOKING_PENDING_PAYMENT) return 0;
    if (sqlite_store__booking_move(ss, b, BOOKING_PAYMENT_FAILED, NULL, NULL, now_ms, &moved) != 0)
        return -1;
    if (!moved) return 0;
    if (sqlite_store__release_hold(ss, b, now_ms) != 0) return -1;
    return sqlite_store_outbox_booking(ss, "PaymentFailed", b, now_ms);
}

/* Mark the delivery a payment outcome answers delivered, in the same transaction. */
static int sqlite_store__delivered(store_sqlite *ss, int64_t seq, int64_t now_ms)
{
    if (seq == 0) return 0;
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_FINISH];
    sqlite_store_bind_text(st, 1, "delivered");
    sqlite_store_bind_text(st, 2, "");
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, seq);
    return sqlite_store_run(ss, SQL_DELIVERY_FINISH);
}

int sqlite_store_do_payment(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_payment *in = &cmd->u.payment;
    booking_record b;
    bool found;
    if (sqlite_store__booking_get(ss, in->booking_id, &b, &found) != 0) return -1;
    if (found) {
        int rc = in->ok ? sqlite_store__payment_succeeded(ss, &b, in->payment_id, now_ms)
                        : sqlite_store__payment_declined(ss, &b, now_ms);
        if (rc != 0) return -1;
    }
    return sqlite_store__delivered(ss, in->delivery_seq, now_ms);
}

int sqlite_store_do_refund(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_payment *in = &cmd->u.payment;
    assert(in->ok);
    booking_record b;
    bool found, moved;
    if (sqlite_store__booking_get(ss, in->booking_id, &b, &found) != 0) return -1;
    if (found && !b.refund_id[0]) {
        if (sqlite_store__booking_move(ss, &b, b.status, NULL, in->payment_id, now_ms, &moved) != 0)
            return -1;
        if (moved && sqlite_store_outbox_booking(ss, "RefundSucceeded", &b, now_ms) != 0) return -1;
    }
    return sqlite_store__delivered(ss, in->delivery_seq, now_ms);
}

/* Free the seats of a confirmed booking being cancelled. */
static int sqlite_store__free_sold(store_sqlite *ss, const booking_record *b, int64_t now_ms)
{
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_FREE], 1, b->hold_seq);
    if (sqlite_store_run(ss, SQL_SEATS_FREE) != 0) return -1;
    hold_record h = {.seq = b->hold_seq, .seat_count = b->seat_count};
    snprintf(h.event_id, sizeof(h.event_id), "%s", b->event_id);
    memcpy(h.seat_ids, b->seat_ids, sizeof(h.seat_ids[0]) * b->seat_count);
    return sqlite_store_feed_hold(ss, CHANGE_FREED, &h, 0, now_ms);
}

int sqlite_store_do_cancel(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_cancel *in = &cmd->u.cancel;
    booking_record *b = &in->booking;
    char id[TIX_BOOKING_ID_LEN + 1];
    bool found, moved;
    snprintf(id, sizeof(id), "%s", b->id);
    if (sqlite_store__booking_get(ss, id, b, &found) != 0) return -1;
    if (!found) return cmd->rc = TIX_RC_BOOKING_NOT_FOUND, 0;
    if (in->actor[0] && strcmp(b->user_id, in->actor) != 0) return cmd->rc = TIX_RC_FORBIDDEN, 0;
    booking_status was = b->status;
    if (was != BOOKING_PENDING_PAYMENT && was != BOOKING_CONFIRMED)
        return cmd->rc = TIX_RC_BOOKING_NOT_CANCELLABLE, 0;
    if (sqlite_store__booking_move(ss, b, BOOKING_CANCELLED, NULL, NULL, now_ms, &moved) != 0)
        return -1;
    if (!moved) return cmd->rc = TIX_RC_BOOKING_NOT_CANCELLABLE, 0;
    int rc = was == BOOKING_PENDING_PAYMENT ? sqlite_store__release_hold(ss, b, now_ms)
                                            : sqlite_store__free_sold(ss, b, now_ms);
    if (rc != 0 || sqlite_store_outbox_booking(ss, "BookingCancelled", b, now_ms) != 0) return -1;
    if (was == BOOKING_CONFIRMED && b->payment_id[0])
        return sqlite_store_outbox_booking(ss, "RefundRequested", b, now_ms);
    return 0;
}
