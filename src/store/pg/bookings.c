/* bookings: CHECKOUT, PAYMENT, REFUND and CANCEL on PostgreSQL: the parameters of their
 * functions (sql/v1_bookings.sql, where the rules that keep money and seats together are) and
 * their outcomes; the booking records shared with the reads. */
#include "store/pg/internal.h"

#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Columns of the bookings table, in order. */
enum {
    PG_BK_SEQ,
    PG_BK_ID,
    PG_BK_HOLD_SEQ,
    PG_BK_HOLD_ID,
    PG_BK_EVENT,
    PG_BK_USER,
    PG_BK_EMAIL,
    PG_BK_STATUS,
    PG_BK_AMOUNT,
    PG_BK_TOKEN,
    PG_BK_PAYMENT,
    PG_BK_REFUND,
    PG_BK_CREATED,
    PG_BK_UPDATED,
    PG_BK_DEADLINE,
    PG_BK_SEATS,
    PG_BK_COLUMNS
};

int pg_store_booking_decode(const PGresult *res, int row, int col, booking_record *out)
{
    if (PQnfields(res) < col + PG_BK_COLUMNS) return -1;
    out->seq = pg_store_i64(res, row, col + PG_BK_SEQ);
    pg_store_text(out->id, sizeof(out->id), res, row, col + PG_BK_ID);
    out->hold_seq = pg_store_i64(res, row, col + PG_BK_HOLD_SEQ);
    pg_store_text(out->hold_id, sizeof(out->hold_id), res, row, col + PG_BK_HOLD_ID);
    pg_store_text(out->event_id, sizeof(out->event_id), res, row, col + PG_BK_EVENT);
    pg_store_text(out->user_id, sizeof(out->user_id), res, row, col + PG_BK_USER);
    pg_store_text(out->email, sizeof(out->email), res, row, col + PG_BK_EMAIL);
    if (model_booking_status_parse(PQgetvalue(res, row, col + PG_BK_STATUS), &out->status) != 0)
        return log_error("store: booking %s has an unknown status", out->id), -1;
    out->amount_cents = pg_store_i64(res, row, col + PG_BK_AMOUNT);
    pg_store_text(out->payment_token, sizeof(out->payment_token), res, row, col + PG_BK_TOKEN);
    pg_store_text(out->payment_id, sizeof(out->payment_id), res, row, col + PG_BK_PAYMENT);
    pg_store_text(out->refund_id, sizeof(out->refund_id), res, row, col + PG_BK_REFUND);
    out->created_at_ms = pg_store_i64(res, row, col + PG_BK_CREATED);
    out->updated_at_ms = pg_store_i64(res, row, col + PG_BK_UPDATED);
    out->checkout_deadline_ms = pg_store_i64(res, row, col + PG_BK_DEADLINE);
    if (model_seat_ids_parse(PQgetvalue(res, row, col + PG_BK_SEATS), out->seat_ids,
                             &out->seat_count) != 0)
        return log_error("store: booking %s has malformed seat_ids", out->id), -1;
    return 0;
}

/* The booking a keyed command's row carries from column 3 on, when it has one. */
static int pg_store__booking_recv(store_pg *ss, store_cmd *cmd, const PGresult *res,
                                  booking_record *out)
{
    if (pg_store_recv_outcome(ss, cmd, res, true) != 0) return -1;
    if (cmd->rc == TIX_RC_REPLAYED || cmd->rc == TIX_RC_KEY_REUSED || PQgetisnull(res, 0, 3))
        return 0;
    if (pg_store_booking_decode(res, 0, 3, out) != 0)
        return pg_store_fail_with(ss, STORE_FATAL, "a booking row cannot be read");
    return 0;
}

/* ---- CHECKOUT ---- */

static int pg_store__checkout_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    store_checkout *in = &cmd->u.checkout;
    ids_sortable_hex(in->booking.id, now_ms);
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_i64(&p, ss->batch->rules->checkout_timeout_s);
    pg_params_text(&p, in->hold_id);
    pg_params_text(&p, in->actor);
    pg_params_text(&p, in->booking.id);
    pg_params_text(&p, in->booking.payment_token);
    pg_params_text(&p, in->booking.email);
    return pg_store_send(ss, PG_SQL_CHECKOUT, &p);
}

static int pg_store__checkout_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    return pg_store__booking_recv(ss, cmd, res, &cmd->u.checkout.booking);
}

const pg_store_cmd_ops pg_store_checkout_ops = {pg_store__checkout_send, pg_store__checkout_recv,
                                                true};

/* ---- PAYMENT, REFUND ---- */

static int pg_store__payment_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_payment *in = &cmd->u.payment;
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_text(&p, in->booking_id);
    pg_params_bool(&p, in->ok);
    pg_params_text(&p, in->payment_id);
    pg_params_i64(&p, in->delivery_seq);
    return pg_store_send(ss, PG_SQL_PAYMENT, &p);
}

const pg_store_cmd_ops pg_store_payment_ops = {pg_store__payment_send, pg_store_recv_plain, false};

static int pg_store__refund_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_payment *in = &cmd->u.payment;
    assert(in->ok);
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_text(&p, in->booking_id);
    pg_params_text(&p, in->payment_id);
    pg_params_i64(&p, in->delivery_seq);
    return pg_store_send(ss, PG_SQL_REFUND, &p);
}

const pg_store_cmd_ops pg_store_refund_ops = {pg_store__refund_send, pg_store_recv_plain, false};

/* ---- CANCEL ---- */

static int pg_store__cancel_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_text(&p, cmd->u.cancel.booking.id);
    pg_params_text(&p, cmd->u.cancel.actor);
    return pg_store_send(ss, PG_SQL_CANCEL, &p);
}

static int pg_store__cancel_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    return pg_store__booking_recv(ss, cmd, res, &cmd->u.cancel.booking);
}

const pg_store_cmd_ops pg_store_cancel_ops = {pg_store__cancel_send, pg_store__cancel_recv, true};
