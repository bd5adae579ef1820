/* holds: the writer's hold commands (hold, release, expiry) and event creation.
 *
 * A seat is taken only by store_tx_seat_take, the conditional write. When it fails because
 * the seat's holder has lapsed but has not been swept yet, the lapsed hold is expired first
 * (in the same transaction, with its HoldExpired row) and the take is tried once more: a
 * lapsed hold is never treated as holding its seats. */
#include "commit/internal.h"

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int commit__end_hold(commit *c, hold_record *h, hold_status status, int64_t now_ms)
{
    assert(status == HOLD_RELEASED || status == HOLD_EXPIRED);
    bool changed;
    if (store_tx_hold_end(c->st, h->seq, status, now_ms, &changed) != 0) return -1;
    assert(changed);
    if (store_tx_seats_free(c->st, h->seq) != 0) return -1;
    h->status = status;
    h->ended_at_ms = now_ms;
    if (commit__outbox_hold(c, status == HOLD_EXPIRED ? "HoldExpired" : "HoldReleased", h,
                            now_ms) != 0)
        return -1;
    return commit__effect_ids(c, h->event_id, h->seat_ids, h->seat_count, h->seq, 0,
                              SEAT_AVAILABLE);
}

int commit__expire_hold(commit *c, int64_t seq, int64_t now_ms, bool *expired)
{
    *expired = false;
    hold_record h;
    bool found;
    if (store_tx_hold_get(c->st, NULL, seq, &h, &found) != 0) return -1;
    if (!found || (h.status != HOLD_ACTIVE && h.status != HOLD_CHECKOUT) ||
        h.expires_at_ms > now_ms)
        return 0;
    *expired = true;
    return commit__end_hold(c, &h, HOLD_EXPIRED, now_ms);
}

/* Take one seat for hold `h`; a seat whose holder has lapsed is freed first. */
static int commit__take_seat(commit *c, const hold_record *h, const char *seat_id, int64_t now_ms,
                             bool *taken)
{
    if (store_tx_seat_take(c->st, h->event_id, seat_id, h->seq, taken) != 0) return -1;
    if (*taken) return 0;
    int64_t holder;
    bool expired;
    if (store_tx_seat_holder(c->st, h->event_id, seat_id, &holder) != 0) return -1;
    if (holder == 0) return 0;
    if (commit__expire_hold(c, holder, now_ms, &expired) != 0) return -1;
    if (!expired) return 0;
    return store_tx_seat_take(c->st, h->event_id, seat_id, h->seq, taken);
}

int commit__do_hold(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    inv_event *ev = cmd->event;
    hold_record *h = &cmd->hold;
    assert(cmd->seat_count > 0 && cmd->seat_count <= TIX_HOLD_SEATS_MAX);
    ids_sortable_hex(h->id, now_ms);
    snprintf(h->event_id, sizeof(h->event_id), "%s", ev->spec.id);
    h->status = HOLD_ACTIVE;
    h->created_at_ms = now_ms;
    h->expires_at_ms = now_ms + (int64_t)ev->spec.hold_ttl_s * 1000;
    h->ended_at_ms = 0;
    h->seat_count = cmd->seat_count;
    for (uint32_t i = 0; i < cmd->seat_count; i++)
        inv_event_seat_id(ev, cmd->seat_index[i], h->seat_ids[i]);
    if (c->config.user_seats_max > 0) { /* decided here, in order with the buyer's other holds */
        uint32_t held;
        if (store_tx_user_seats(c->st, h->event_id, h->user_id, now_ms, &held) != 0) return -1;
        if (held + cmd->seat_count > c->config.user_seats_max)
            return cmd->rc = TIX_RC_USER_LIMIT, 0;
    }
    if (store_tx_hold_insert(c->st, h) != 0) return -1;
    cmd->taken_count = 0;
    for (uint32_t i = 0; i < cmd->seat_count; i++) {
        bool taken;
        if (commit__take_seat(c, h, h->seat_ids[i], now_ms, &taken) != 0) return -1;
        if (!taken) cmd->taken_index[cmd->taken_count++] = cmd->seat_index[i];
    }
    if (cmd->taken_count > 0) { /* undo this hold by hand (no savepoint, see commit.c) */
        cmd->rc = TIX_RC_SEAT_UNAVAILABLE;
        if (store_tx_seats_free(c->st, h->seq) != 0) return -1;
        return store_tx_hold_delete(c->st, h->seq);
    }
    if (commit__outbox_hold(c, "HoldCreated", h, now_ms) != 0) return -1;
    if (commit__effect_seats(c, ev, cmd->seat_index, cmd->seat_count, h->seq, h->expires_at_ms,
                             SEAT_HELD) != 0)
        return -1;
    cmd->rc = TIX_RC_OK;
    return 0;
}

int commit__load_active_hold(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    hold_record *h = &cmd->hold;
    bool found;
    char id[TIX_HOLD_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", h->id);
    if (store_tx_hold_get(c->st, id, 0, h, &found) != 0) return -1;
    if (!found) return cmd->rc = TIX_RC_HOLD_NOT_FOUND, 0;
    if (cmd->actor[0] && strcmp(h->user_id, cmd->actor) != 0) return cmd->rc = TIX_RC_FORBIDDEN, 0;
    /* a lapsed hold is not active any more, even before the sweeper ends it */
    if (h->status != HOLD_ACTIVE || h->expires_at_ms <= now_ms)
        return cmd->rc = TIX_RC_HOLD_NOT_ACTIVE, 0;
    return 0;
}

int commit__do_release(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    hold_record *h = &cmd->hold;
    if (commit__load_active_hold(c, cmd, now_ms) != 0) return -1;
    if (cmd->rc != TIX_RC_OK) return 0;
    if (commit__end_hold(c, h, HOLD_RELEASED, now_ms) != 0) return -1;
    cmd->rc = TIX_RC_OK;
    return 0;
}

int commit__do_event_create(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    bool exists;
    cmd->spec.created_at_ms = now_ms;
    if (store_tx_event_insert(c->st, &cmd->spec, &exists) != 0) return -1;
    if (exists) return cmd->rc = TIX_RC_EVENT_EXISTS, 0;
    buf *d = &c->data;
    buf_reset(d);
    buf_append_str(d, "{\"name\":");
    buf_append_json_str(d, cmd->spec.name);
    buf_appendf(d, ",\"seats_total\":%llu}",
                (unsigned long long)model_event_seat_count(&cmd->spec));
    if (commit__outbox(c, "EventCreated", cmd->spec.id, cmd->spec.id, now_ms) != 0) return -1;
    cmd->rc = TIX_RC_OK;
    return 0;
}
