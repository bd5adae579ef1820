/* stats: GET /admin/events/{event_id}/stats, what an organiser watches during an on-sale:
 *
 *   {"event_id":"...","generated_at":"...",
 *    "seats":{"total":100,"available":90,"held":6,"sold":4},
 *    "holds":{"active":3,"checkout":1},
 *    "bookings":{"pending_payment":1,"confirmed":2,"payment_failed":0,"cancelled":0},
 *    "revenue_cents":500000,
 *    "sales_per_minute":[{"minute":"...","bookings":1,"seats":2,"revenue_cents":250000}, ...]}
 *
 * Seats come from the in-memory index (as the seat map shows them); holds, bookings and sales
 * from the store's committed data. sales_per_minute always has STORE_STATS_MINUTES entries,
 * oldest first, the last one the current minute: a chart needs no gap filling. */
#include "api/internal.h"

#include "util/clock.h"

#include <stdlib.h>

static void api__write_stats(buf *b, inv_event *ev, const store_stats *st, int64_t now_ms)
{
    inv_counts c = inv_event_counts(ev, now_ms);
    buf_append_str(b, "{\"event_id\":");
    buf_append_json_str(b, ev->spec.id);
    api__append_time(b, "generated_at", now_ms);
    buf_appendf(b, ",\"seats\":{\"total\":%u,\"available\":%u,\"held\":%u,\"sold\":%u}", c.total,
                c.available, c.held, c.sold);
    buf_appendf(b, ",\"holds\":{\"active\":%u,\"checkout\":%u},\"bookings\":{", st->holds_active,
                st->holds_checkout);
    for (int i = 0; i < 4; i++)
        buf_appendf(b, "%s\"%s\":%u", i ? "," : "", model_booking_status_name((booking_status)i),
                    st->bookings[i]);
    buf_appendf(b, "},\"revenue_cents\":%lld,\"sales_per_minute\":[", (long long)st->revenue_cents);
    for (int i = 0; i < STORE_STATS_MINUTES; i++) {
        buf_appendf(b, "%s{\"bookings\":%u,\"seats\":%u,\"revenue_cents\":%lld", i ? "," : "",
                    st->sales_bookings[i], st->sales_seats[i], (long long)st->sales_cents[i]);
        api__append_time(b, "minute", st->minute0_ms + (int64_t)i * 60000);
        buf_append_char(b, '}');
    }
    buf_append_str(b, "]}");
}

api_result api_event_stats(api *a, api_request *req, api_response *res)
{
    inv_event *ev = api__find_event(a, req->match.param, req->match.param_len, res);
    if (!ev) return API_DONE;
    store_stats *st = malloc(sizeof(*st)); /* admin traffic: 1.5 KB off the stack */
    if (!st) return api__error_rc(res, TIX_RC_STORE_ERROR), API_DONE;
    int64_t now_ms = clock_now_ms();
    store_status status = STORE_OK;
    if (store_event_stats(a->st, ev->spec.id, now_ms, st, &status) != 0) {
        api__error_store(res, status);
    } else {
        api__write_stats(&res->body, ev, st, now_ms);
        api__ok(res, 200);
    }
    free(st);
    return API_DONE;
}
