/* store: dispatch to the backend; see store.h for each contract. */
#include "store/store.h"

#include <assert.h>

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
                           const char *aggregate_id, int64_t time_ms, const char *data_json)
{
    return s->ops->tx_outbox_append(s, type, event_id, aggregate_id, time_ms, data_json);
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
