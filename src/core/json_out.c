/* json_out: see json_out.h. */
#include "core/json_out.h"

#include "util/clock.h"

void json_out_time(buf *b, const char *key, int64_t ms)
{
    char when[CLOCK_RFC3339_LEN_MAX];
    size_t len = clock_format_rfc3339(ms, when);
    buf_append(b, ",\"", 2); /* keys are ours: no escaping */
    buf_append_str(b, key);
    buf_append(b, "\":\"", 3);
    buf_append(b, when, len);
    buf_append_char(b, '"');
}

/* Seat ids are letters and digits (model.h), event ids letters, digits, '-' and '_' (checked
 * when the event is made), hold and booking ids hex: none needs escaping. */
void json_out_seat_ids(buf *b, const char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n)
{
    buf_append_char(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_append_char(b, ',');
        buf_append_json_plain(b, ids[i]);
    }
    buf_append_char(b, ']');
}

void json_out_sections(buf *b, const event_spec *spec)
{
    buf_append_char(b, '[');
    for (uint32_t i = 0; i < spec->section_count; i++) {
        const section_spec *sec = &spec->sections[i];
        buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        buf_append_json_str(b, sec->name);
        buf_appendf(b, ",\"price_cents\":%lld,\"seats_per_row\":%u,\"rows\":[",
                    (long long)sec->price_cents, sec->seats_per_row);
        for (uint32_t r = 0; r < sec->row_count; r++) {
            if (r) buf_append_char(b, ',');
            buf_append_json_str(b, sec->rows[r]);
        }
        buf_append_str(b, "]}");
    }
    buf_append_char(b, ']');
}

static void json_out__seat_ids(buf *b, const char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n)
{
    buf_append_str(b, ",\"seat_ids\":");
    json_out_seat_ids(b, ids, n);
}

void json_out_hold(buf *b, const hold_record *h, int64_t now_ms, bool with_hold_id)
{
    hold_status status = h->status;
    int64_t ended_ms = h->ended_at_ms;
    if (status == HOLD_ACTIVE && h->expires_at_ms <= now_ms) {
        status = HOLD_EXPIRED;
        ended_ms = h->expires_at_ms;
    }
    buf_append_str(b, "{\"id\":");
    buf_append_json_plain(b, h->id);
    if (with_hold_id) {
        buf_append_str(b, ",\"hold_id\":");
        buf_append_json_plain(b, h->id);
    }
    buf_append_str(b, ",\"event_id\":");
    buf_append_json_plain(b, h->event_id);
    buf_append_str(b, ",\"user_id\":");
    buf_append_json_str(b, h->user_id);
    json_out__seat_ids(b, h->seat_ids, h->seat_count);
    buf_append_str(b, ",\"status\":\"");
    buf_append_str(b, model_hold_status_name(status));
    buf_append_char(b, '"');
    json_out_time(b, "created_at", h->created_at_ms);
    json_out_time(b, "expires_at", h->expires_at_ms);
    if (status == HOLD_RELEASED) json_out_time(b, "released_at", ended_ms);
    if (status == HOLD_EXPIRED) json_out_time(b, "expired_at", ended_ms);
    buf_append_char(b, '}');
}

void json_out_booking(buf *b, const booking_record *bk, bool with_booking_id)
{
    buf_append_str(b, "{\"id\":");
    buf_append_json_plain(b, bk->id);
    if (with_booking_id) {
        buf_append_str(b, ",\"booking_id\":");
        buf_append_json_plain(b, bk->id);
    }
    buf_append_str(b, ",\"hold_id\":");
    buf_append_json_plain(b, bk->hold_id);
    buf_append_str(b, ",\"event_id\":");
    buf_append_json_plain(b, bk->event_id);
    buf_append_str(b, ",\"user_id\":");
    buf_append_json_str(b, bk->user_id);
    if (bk->email[0]) {
        buf_append_str(b, ",\"email\":");
        buf_append_json_str(b, bk->email);
    }
    json_out__seat_ids(b, bk->seat_ids, bk->seat_count);
    buf_appendf(b, ",\"amount_cents\":%lld,\"status\":\"%s\"", (long long)bk->amount_cents,
                model_booking_status_name(bk->status));
    if (bk->payment_id[0]) {
        buf_append_str(b, ",\"payment_id\":");
        buf_append_json_str(b, bk->payment_id);
    }
    if (bk->refund_id[0]) {
        buf_append_str(b, ",\"refund_id\":");
        buf_append_json_str(b, bk->refund_id);
    }
    json_out_time(b, "created_at", bk->created_at_ms);
    json_out_time(b, "updated_at", bk->updated_at_ms);
    if (bk->status == BOOKING_PENDING_PAYMENT)
        json_out_time(b, "checkout_expires_at", bk->checkout_deadline_ms);
    buf_append_char(b, '}');
}
