/* store: dispatch to the backend; see store.h for each contract. */
#include "store/store.h"

#include <assert.h>
#include <string.h>

void store_close(store *s)
{
    if (s) s->ops->close(s);
}

int store_begin(store *s)
{
    return s->ops->begin(s);
}

int store_commit(store *s)
{
    return s->ops->commit(s);
}

void store_rollback(store *s)
{
    s->ops->rollback(s);
}

int store_savepoint(store *s)
{
    return s->ops->savepoint(s);
}

int store_savepoint_release(store *s)
{
    return s->ops->savepoint_release(s);
}

int store_savepoint_rollback(store *s)
{
    return s->ops->savepoint_rollback(s);
}

int store_tx_event_insert(store *s, const event_spec *spec, bool *exists)
{
    return s->ops->tx_event_insert(s, spec, exists);
}

int store_tx_hold_insert(store *s, hold_record *hold)
{
    assert(hold->seat_count > 0 && hold->seat_count <= TIX_HOLD_SEATS_MAX);
    return s->ops->tx_hold_insert(s, hold);
}

int store_tx_hold_get(store *s, const char *id, int64_t seq, hold_record *out, bool *found)
{
    assert(id || seq > 0);
    return s->ops->tx_hold_get(s, id, seq, out, found);
}

int store_tx_hold_end(store *s, int64_t seq, hold_status status, int64_t now_ms, bool *changed)
{
    assert(status != HOLD_ACTIVE);
    return s->ops->tx_hold_end(s, seq, status, now_ms, changed);
}

int store_tx_seat_take(store *s, const char *event_id, const char *seat_id, int64_t hold_seq,
                       bool *taken)
{
    assert(hold_seq > 0);
    return s->ops->tx_seat_take(s, event_id, seat_id, hold_seq, taken);
}

int store_tx_seat_holder(store *s, const char *event_id, const char *seat_id, int64_t *hold_seq)
{
    return s->ops->tx_seat_holder(s, event_id, seat_id, hold_seq);
}

int store_tx_seats_free(store *s, int64_t hold_seq)
{
    assert(hold_seq > 0);
    return s->ops->tx_seats_free(s, hold_seq);
}

int store_tx_holds_due(store *s, int64_t now_ms, int64_t *seqs, uint32_t max, uint32_t *n)
{
    return s->ops->tx_holds_due(s, now_ms, seqs, max, n);
}

int store_tx_outbox_append(store *s, const char *type, const char *event_id,
                           const char *aggregate_id, int64_t time_ms, const char *data_json,
                           bool *delivered)
{
    bool any = false;
    int rc = s->ops->tx_outbox_append(s, type, event_id, aggregate_id, time_ms, data_json, &any);
    if (delivered) *delivered = rc == 0 && any;
    return rc;
}

int store_tx_ping(store *s, int64_t now_ms)
{
    return s->ops->tx_ping(s, now_ms);
}

int store_hold_get(store *s, const char *id, hold_record *out, bool *found)
{
    return s->ops->hold_get(s, id, out, found);
}

int store_events_load(store *s, store_event_cb cb, void *ctx)
{
    return s->ops->events_load(s, cb, ctx);
}

int store_seats_load(store *s, const char *event_id, store_seat_cb cb, void *ctx)
{
    return s->ops->seats_load(s, event_id, cb, ctx);
}

int store_tx_hold_checkout(store *s, int64_t seq, int64_t expires_at_ms, bool *changed)
{
    return s->ops->tx_hold_checkout(s, seq, expires_at_ms, changed);
}

int store_tx_seats_sell(store *s, int64_t hold_seq)
{
    assert(hold_seq > 0);
    return s->ops->tx_seats_sell(s, hold_seq);
}

int store_tx_booking_insert(store *s, booking_record *booking)
{
    assert(booking->seat_count > 0 && booking->seat_count <= TIX_HOLD_SEATS_MAX);
    return s->ops->tx_booking_insert(s, booking);
}

int store_tx_booking_get(store *s, const char *id, int64_t seq, booking_record *out, bool *found)
{
    assert(id || seq > 0);
    return s->ops->tx_booking_get(s, id, seq, out, found);
}

int store_tx_booking_update(store *s, int64_t seq, booking_status from, booking_status to,
                            const char *payment_id, const char *refund_id, int64_t now_ms,
                            bool *changed)
{
    return s->ops->tx_booking_update(s, seq, from, to, payment_id, refund_id, now_ms, changed);
}

int store_tx_subscriber_insert(store *s, const subscriber_record *sub)
{
    assert(sub->pattern_count > 0 && sub->pattern_count <= TIX_PATTERNS_MAX);
    return s->ops->tx_subscriber_insert(s, sub);
}

int store_tx_deliveries_claim(store *s, int64_t now_ms, const char *owner, int64_t lease_until_ms,
                              delivery_record *out, uint32_t max, uint32_t *n)
{
    assert(lease_until_ms > now_ms);
    return s->ops->tx_deliveries_claim(s, now_ms, owner, lease_until_ms, out, max, n);
}

int store_tx_delivery_finish(store *s, int64_t seq, delivery_status status, const char *error,
                             int64_t now_ms, bool *changed)
{
    assert(status == DELIVERY_DELIVERED || status == DELIVERY_DEAD);
    return s->ops->tx_delivery_finish(s, seq, status, error, now_ms, changed);
}

int store_tx_delivery_retry(store *s, int64_t seq, int64_t next_attempt_ms, const char *error,
                            int64_t now_ms)
{
    return s->ops->tx_delivery_retry(s, seq, next_attempt_ms, error, now_ms);
}

int store_tx_delivery_redrive(store *s, int64_t seq, int64_t now_ms, bool *changed)
{
    return s->ops->tx_delivery_redrive(s, seq, now_ms, changed);
}

int store_tx_idempotency_put(store *s, const char *key, const char *request_hash, unsigned status,
                             const char *body, size_t body_len, int64_t now_ms)
{
    return s->ops->tx_idempotency_put(s, key, request_hash, status, body, body_len, now_ms);
}

int store_tx_idempotency_purge(store *s, int64_t before_ms)
{
    return s->ops->tx_idempotency_purge(s, before_ms);
}

int store_booking_get(store *s, const char *id, booking_record *out, bool *found)
{
    return s->ops->booking_get(s, id, out, found);
}

int store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                           void *ctx)
{
    return s->ops->bookings_by_user(s, user_id, max, cb, ctx);
}

int store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx)
{
    return s->ops->subscribers_list(s, cb, ctx);
}

int store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx)
{
    return s->ops->dead_letters_list(s, max, cb, ctx);
}

int store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                          bool *found)
{
    return s->ops->idempotency_get(s, key, cb, ctx, found);
}

int store_tx_hold_delete(store *s, int64_t seq)
{
    assert(seq > 0);
    return s->ops->tx_hold_delete(s, seq);
}

int store_tx_user_seats(store *s, const char *event_id, const char *user_id, int64_t now_ms,
                        uint32_t *seats)
{
    return s->ops->tx_user_seats(s, event_id, user_id, now_ms, seats);
}

int store_tx_deliveries_exhaust(store *s, int64_t now_ms, uint32_t max_attempts)
{
    assert(max_attempts > 0);
    return s->ops->tx_deliveries_exhaust(s, now_ms, max_attempts);
}

int store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out)
{
    memset(out, 0, sizeof(*out));
    return s->ops->event_stats(s, event_id, now_ms, out);
}

int store_dead_letters_count(store *s, uint64_t *count)
{
    *count = 0;
    return s->ops->dead_letters_count(s, count);
}
