/* store: dispatch to the backend, and the helpers every backend shares (change pages,
 * commands); see store.h for each contract. */
#include "store/store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *store_status_name(store_status status)
{
    switch (status) {
    case STORE_OK:
        return "ok";
    case STORE_RETRY:
        return "retry";
    case STORE_UNAVAILABLE:
        return "unavailable";
    case STORE_FATAL:
        return "fatal";
    }
    return "?";
}

void store_cmd_init(store_cmd *cmd, store_cmd_kind kind)
{
    assert(kind < STORE_CMD_KINDS);
    cmd->kind = kind;
    cmd->rc = TIX_RC_OK;
    cmd->idem = NULL;
}

void change_page_init(change_page *p)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->seats, CHANGE_PAGE_SEATS_LEN_MAX);
}

void change_page_free(change_page *p)
{
    free(p->items);
    buf_free(&p->seats);
    memset(p, 0, sizeof(*p));
    buf_init(&p->seats, CHANGE_PAGE_SEATS_LEN_MAX);
}

void change_page_reset(change_page *p)
{
    p->count = 0;
    buf_reset(&p->seats);
}

int change_page_add(change_page *p, const change_record *c, const char *seat_ids_json,
                    size_t seat_ids_len)
{
    if (p->count == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 64;
        change_record *grown = realloc(p->items, cap * sizeof(*grown));
        if (!grown) return -1;
        p->items = grown;
        p->cap = cap;
    }
    change_record *item = &p->items[p->count];
    *item = *c;
    item->seats_off = (uint32_t)p->seats.len;
    item->seats_len = (uint32_t)seat_ids_len;
    /* NUL-terminated in the page, so that a change's ids can be handed to C string APIs */
    if (buf_append(&p->seats, seat_ids_json ? seat_ids_json : "", seat_ids_len) != 0 ||
        buf_append_char(&p->seats, '\0') != 0)
        return -1;
    p->count++;
    return 0;
}

const char *change_page_seats(const change_page *p, const change_record *c, size_t *len)
{
    assert(c->seats_off + c->seats_len <= p->seats.len);
    if (len) *len = c->seats_len;
    return p->seats.data + c->seats_off;
}

bool store_url_is_pg(const char *url)
{
    return url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

int store_open(const store_options *o, store **out, char *err, size_t err_len)
{
    if (o->url && o->url[0]) {
        if (store_url_is_pg(o->url)) return store_pg_open(o, out, err, err_len);
        /* the scheme only: the rest may carry a password */
        const char *scheme_end = strstr(o->url, "://");
        int scheme_len = scheme_end ? (int)(scheme_end - o->url) + 3 : 0;
        snprintf(err, err_len,
                 "tix has no backend for '%.*s' URLs (postgresql://... or postgres://...)",
                 scheme_len > 32 ? 32 : scheme_len, o->url);
        return -1;
    }
    return store_sqlite_open(o, out, err, err_len);
}

void store_close(store *s)
{
    if (s) s->ops->close(s);
}

const char *store_id(store *s)
{
    return s->ops->id(s);
}

store_status store_batch_run(store *s, store_batch *b)
{
    assert(b->rules && b->node_id && b->now_ms > 0);
    for (uint32_t i = 0; i < b->count; i++)
        assert(b->cmds[i]->kind < STORE_CMD_KINDS);
    change_page_reset(&b->changes);
    b->deliveries_written = false;
    store_status status = s->ops->batch_run(s, b);
    if (status != STORE_OK) change_page_reset(&b->changes);
    return status;
}

int store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                       int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                       int64_t *scanned_to, store_status *status)
{
    assert(after_seq >= 0 && max > 0);
    return s->ops->changes_read(s, after_seq, max, event_id, scan_max, out, bounds, scanned_to,
                                status);
}

int store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                        store_status *status)
{
    return s->ops->snapshot_load(s, cb, position, status);
}

int store_event_get(store *s, const char *id, event_spec *out, bool *found, store_status *status)
{
    return s->ops->event_get(s, id, out, found, status);
}

int store_hold_get(store *s, const char *id, hold_record *out, bool *found, store_status *status)
{
    return s->ops->hold_get(s, id, out, found, status);
}

int store_booking_get(store *s, const char *id, booking_record *out, bool *found,
                      store_status *status)
{
    return s->ops->booking_get(s, id, out, found, status);
}

int store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                           void *ctx, store_status *status)
{
    return s->ops->bookings_by_user(s, user_id, max, cb, ctx, status);
}

int store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx, store_status *status)
{
    return s->ops->subscribers_list(s, cb, ctx, status);
}

int store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                            store_status *status)
{
    return s->ops->dead_letters_list(s, max, cb, ctx, status);
}

int store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                          bool *found, store_status *status)
{
    return s->ops->idempotency_get(s, key, cb, ctx, found, status);
}

int store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                      store_status *status)
{
    memset(out, 0, sizeof(*out));
    return s->ops->event_stats(s, event_id, now_ms, out, status);
}

int store_dead_letters_count(store *s, uint64_t *count, store_status *status)
{
    *count = 0;
    return s->ops->dead_letters_count(s, count, status);
}

int store_watch(store *s, void (*fn)(void *ctx), void *ctx)
{
    return s->ops->watch ? s->ops->watch(s, fn, ctx) : 0;
}
