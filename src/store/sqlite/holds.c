/* holds: HOLD, RELEASE, SWEEP (expiry) and EVENT_CREATE on the embedded store.
 *
 * A seat is taken only by the conditional write `UPDATE seats SET status = 'held' ... WHERE
 * status = 'available'`. When it changes nothing because the seat's holder has lapsed but has
 * not been swept yet, the lapsed hold is expired first (in the same transaction, with its
 * HoldExpired row and its change) and the take is tried once more: a lapsed hold is never
 * treated as holding its seats. Every state change writes its outbox row and its change. */
#include "store/sqlite/internal.h"

#include "core/json_out.h"

#include "util/hash.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ---- */

int sqlite_store_seat_ids_encode(const char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n, buf *b)
{
    buf_reset(b);
    json_out_seat_ids(b, ids, n);
    return b->failed ? -1 : 0;
}

int sqlite_store_seat_ids_decode(const char *json, char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t *n)
{
    return model_seat_ids_parse(json, ids, n);
}

int sqlite_store_hold_decode(sqlite3_stmt *st, hold_record *out)
{
    out->seq = sqlite3_column_int64(st, 0);
    sqlite_store_copy_text(out->id, sizeof(out->id), st, 1);
    sqlite_store_copy_text(out->event_id, sizeof(out->event_id), st, 2);
    sqlite_store_copy_text(out->user_id, sizeof(out->user_id), st, 3);
    if (model_hold_status_parse((const char *)sqlite3_column_text(st, 4), &out->status) != 0)
        return log_error("store: hold %s has an unknown status", out->id), -1;
    out->created_at_ms = sqlite3_column_int64(st, 6);
    out->expires_at_ms = sqlite3_column_int64(st, 7);
    out->ended_at_ms = sqlite3_column_int64(st, 8);
    if (sqlite_store_seat_ids_decode((const char *)sqlite3_column_text(st, 5), out->seat_ids,
                                     &out->seat_count) != 0)
        return log_error("store: hold %s has malformed seat_ids", out->id), -1;
    return 0;
}

int sqlite_store_hold_get(store_sqlite *ss, const char *id, int64_t seq, hold_record *out,
                          bool *found)
{
    sqlite3_stmt *st = ss->stmt[id ? SQL_HOLD_BY_ID : SQL_HOLD_BY_SEQ];
    if (id)
        sqlite_store_bind_text(st, 1, id);
    else
        sqlite3_bind_int64(st, 1, seq);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite_store_hold_decode(st, out) != 0)
        result = sqlite_store_fail_with(ss, STORE_FATAL, "a hold row cannot be read");
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = sqlite_store_fail(ss, ss->db, "read a hold");
    sqlite_store_done(st);
    return result;
}

/* ---- ending holds ---- */

int sqlite_store_end_hold(store_sqlite *ss, hold_record *h, hold_status status, int64_t now_ms,
                          bool *ended)
{
    assert(status == HOLD_RELEASED || status == HOLD_EXPIRED);
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_END];
    sqlite_store_bind_text(st, 1, model_hold_status_name(status));
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, h->seq);
    if (sqlite_store_run(ss, SQL_HOLD_END) != 0) return -1;
    *ended = sqlite_store_changes(ss) == 1; /* not live any more: another writer ended it */
    if (!*ended) return 0;
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_FREE], 1, h->seq);
    if (sqlite_store_run(ss, SQL_SEATS_FREE) != 0) return -1;
    h->status = status;
    h->ended_at_ms = now_ms;
    bool expired = status == HOLD_EXPIRED;
    if (sqlite_store_outbox_hold(ss, expired ? "HoldExpired" : "HoldReleased", h, now_ms) != 0)
        return -1;
    return sqlite_store_feed_hold(ss, expired ? CHANGE_EXPIRED : CHANGE_RELEASED, h, 0, now_ms);
}

int sqlite_store_expire_hold(store_sqlite *ss, int64_t seq, int64_t now_ms, bool *expired)
{
    *expired = false;
    hold_record h;
    bool found;
    if (sqlite_store_hold_get(ss, NULL, seq, &h, &found) != 0) return -1;
    if (!found || (h.status != HOLD_ACTIVE && h.status != HOLD_CHECKOUT) ||
        h.expires_at_ms > now_ms)
        return 0;
    return sqlite_store_end_hold(ss, &h, HOLD_EXPIRED, now_ms, expired);
}

int sqlite_store_load_active_hold(store_sqlite *ss, const char *id, const char *actor,
                                  int64_t now_ms, hold_record *h, tix_rc *rc)
{
    bool found;
    if (sqlite_store_hold_get(ss, id, 0, h, &found) != 0) return -1;
    if (!found) return *rc = TIX_RC_HOLD_NOT_FOUND, 0;
    if (actor[0] && strcmp(h->user_id, actor) != 0) return *rc = TIX_RC_FORBIDDEN, 0;
    /* a lapsed hold is not active any more, even before the sweep ends it */
    if (h->status != HOLD_ACTIVE || h->expires_at_ms <= now_ms)
        return *rc = TIX_RC_HOLD_NOT_ACTIVE, 0;
    return 0;
}

/* ---- HOLD ---- */

/* The rules of event id (immutable once created: read once, then kept). *found false when the
 * store has no such event. */
static int sqlite_store__event_rules(store_sqlite *ss, const char *id, sqlite_event_rules *out,
                                     bool *found)
{
    size_t len = strlen(id);
    uint32_t slot = hash_fnv1a32(id, len) & (SQLITE_STORE_EVENT_SLOTS - 1);
    for (uint32_t probes = 0; probes < SQLITE_STORE_EVENT_SLOTS; probes++) {
        sqlite_event_rules *r = &ss->event_rules[slot];
        if (!r->id[0]) break;
        if (strcmp(r->id, id) == 0) return *out = *r, *found = true, 0;
        slot = (slot + 1) & (SQLITE_STORE_EVENT_SLOTS - 1);
    }
    sqlite3_stmt *st = ss->stmt[SQL_EVENT_RULES];
    sqlite_store_bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        snprintf(out->id, sizeof(out->id), "%s", id);
        out->hold_ttl_s = sqlite3_column_int(st, 0);
        out->max_seats_per_hold = sqlite3_column_int(st, 1);
    }
    sqlite_store_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_store_fail(ss, ss->db, "read event");
    if (*found && !ss->event_rules[slot].id[0]) ss->event_rules[slot] = *out;
    return 0;
}

/* The conditional write: take one seat for hold h; a seat whose holder has lapsed is freed
 * first. */
static int sqlite_store__take_seat(store_sqlite *ss, const hold_record *h, const char *seat_id,
                                   int64_t now_ms, bool *taken)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        sqlite3_stmt *st = ss->stmt[SQL_SEAT_TAKE];
        sqlite3_bind_int64(st, 1, h->seq);
        sqlite_store_bind_text(st, 2, h->event_id);
        sqlite_store_bind_text(st, 3, seat_id);
        if (sqlite_store_run(ss, SQL_SEAT_TAKE) != 0) return -1;
        *taken = sqlite_store_changes(ss) == 1; /* (event_id, seat_id) is the primary key */
        if (*taken || attempt == 1) return 0;
        st = ss->stmt[SQL_SEAT_HOLDER];
        sqlite_store_bind_text(st, 1, h->event_id);
        sqlite_store_bind_text(st, 2, seat_id);
        int64_t holder = 0;
        bool expired;
        if (sqlite_store_int(ss, SQL_SEAT_HOLDER, &holder, NULL) != 0) return -1;
        if (holder == 0) return 0;
        if (sqlite_store_expire_hold(ss, holder, now_ms, &expired) != 0) return -1;
        if (!expired) return 0;
    }
    return 0;
}

/* Check the event's limits for hold h; sets cmd->rc when refused. */
static int sqlite_store__hold_limits(store_sqlite *ss, store_cmd *cmd, hold_record *h,
                                     int64_t now_ms)
{
    sqlite_event_rules rules;
    bool found;
    if (sqlite_store__event_rules(ss, h->event_id, &rules, &found) != 0) return -1;
    if (!found) return cmd->rc = TIX_RC_EVENT_NOT_FOUND, 0;
    if (h->seat_count > (uint32_t)rules.max_seats_per_hold)
        return cmd->rc = TIX_RC_TOO_MANY_SEATS, 0;
    h->expires_at_ms = now_ms + (int64_t)rules.hold_ttl_s * 1000;
    uint32_t user_max = ss->batch->rules->user_seats_max;
    if (user_max == 0) return 0;
    sqlite3_stmt *st = ss->stmt[SQL_USER_SEATS]; /* decided here, in order with the buyer's
                                                    other holds */
    sqlite_store_bind_text(st, 1, h->event_id);
    sqlite_store_bind_text(st, 2, h->user_id);
    sqlite3_bind_int64(st, 3, now_ms);
    int64_t held = 0;
    if (sqlite_store_int(ss, SQL_USER_SEATS, &held, NULL) != 0) return -1;
    if (held + h->seat_count > user_max) cmd->rc = TIX_RC_USER_LIMIT;
    return 0;
}

/* Undo a hold refused after it was inserted (a hold runs without a savepoint, see sqlite.c). */
static int sqlite_store__hold_undo(store_sqlite *ss, int64_t seq)
{
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_FREE], 1, seq);
    if (sqlite_store_run(ss, SQL_SEATS_FREE) != 0) return -1;
    sqlite3_bind_int64(ss->stmt[SQL_HOLD_DELETE], 1, seq);
    return sqlite_store_run(ss, SQL_HOLD_DELETE);
}

int sqlite_store_do_hold(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_hold *in = &cmd->u.hold;
    hold_record *h = &in->hold;
    assert(h->seat_count > 0 && h->seat_count <= TIX_HOLD_SEATS_MAX);
    in->taken_count = 0;
    ids_sortable_hex(h->id, now_ms);
    h->status = HOLD_ACTIVE;
    h->created_at_ms = now_ms;
    h->ended_at_ms = 0;
    if (sqlite_store__hold_limits(ss, cmd, h, now_ms) != 0) return -1;
    if (cmd->rc != TIX_RC_OK) return 0;
    if (sqlite_store_seat_ids_encode(h->seat_ids, h->seat_count, &ss->ids) != 0)
        return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_INSERT];
    sqlite_store_bind_text(st, 1, h->id);
    sqlite_store_bind_text(st, 2, h->event_id);
    sqlite_store_bind_text(st, 3, h->user_id);
    sqlite3_bind_text(st, 4, ss->ids.data, (int)ss->ids.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, h->created_at_ms);
    sqlite3_bind_int64(st, 6, h->expires_at_ms);
    if (sqlite_store_run(ss, SQL_HOLD_INSERT) != 0) return -1;
    h->seq = sqlite3_last_insert_rowid(ss->db);
    for (uint32_t i = 0; i < h->seat_count; i++) {
        bool taken;
        if (sqlite_store__take_seat(ss, h, h->seat_ids[i], now_ms, &taken) != 0) return -1;
        if (!taken) in->taken[in->taken_count++] = (uint8_t)i;
    }
    if (in->taken_count > 0) {
        cmd->rc = TIX_RC_SEAT_UNAVAILABLE;
        return sqlite_store__hold_undo(ss, h->seq);
    }
    if (sqlite_store_outbox_hold(ss, "HoldCreated", h, now_ms) != 0) return -1;
    /* ss->ids still holds the seat ids as inserted with the hold: the change reuses them */
    return sqlite_store_feed_append(ss, CHANGE_HELD, h->event_id, "", h->seq, h->expires_at_ms,
                                    ss->ids.data, ss->ids.len, h->seat_count, now_ms);
}

/* ---- RELEASE, SWEEP ---- */

int sqlite_store_do_release(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_release *in = &cmd->u.release;
    char id[TIX_HOLD_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", in->hold.id);
    if (sqlite_store_load_active_hold(ss, id, in->actor, now_ms, &in->hold, &cmd->rc) != 0)
        return -1;
    if (cmd->rc != TIX_RC_OK) return 0;
    bool ended;
    if (sqlite_store_end_hold(ss, &in->hold, HOLD_RELEASED, now_ms, &ended) != 0) return -1;
    if (!ended) cmd->rc = TIX_RC_HOLD_NOT_ACTIVE;
    return 0;
}

int sqlite_store_do_sweep(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_sweep *in = &cmd->u.sweep;
    const store_rules *rules = ss->batch->rules;
    if (in->holds_max > ss->due_cap) {
        int64_t *grown = realloc(ss->due, in->holds_max * sizeof(*grown));
        if (!grown) return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
        ss->due = grown;
        ss->due_cap = in->holds_max;
    }
    sqlite3_stmt *st = ss->stmt[SQL_HOLDS_DUE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, in->holds_max);
    uint32_t n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < in->holds_max)
        ss->due[n++] = sqlite3_column_int64(st, 0);
    sqlite_store_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_store_fail(ss, ss->db, "read due holds");
    in->expired = 0;
    for (uint32_t i = 0; i < n; i++) {
        bool expired;
        if (sqlite_store_expire_hold(ss, ss->due[i], now_ms, &expired) != 0) return -1;
        in->expired += expired;
    }
    sqlite3_bind_int64(ss->stmt[SQL_IDEMPOTENCY_PURGE], 1,
                       now_ms - (int64_t)rules->idempotency_ttl_s * 1000);
    if (sqlite_store_run(ss, SQL_IDEMPOTENCY_PURGE) != 0) return -1;
    return sqlite_store_feed_trim(ss);
}

/* ---- EVENT_CREATE ---- */

/* JSON array of the section's row labels, as stored in sections.rows, into b. */
static int sqlite_store__rows_json(const section_spec *sec, buf *b)
{
    buf_reset(b);
    buf_append_char(b, '[');
    for (uint32_t r = 0; r < sec->row_count; r++) {
        if (r) buf_append_char(b, ',');
        buf_append_json_str(b, sec->rows[r]);
    }
    buf_append_char(b, ']');
    return b->failed ? -1 : 0;
}

/* Insert a section and its seats, all available. */
static int sqlite_store__section_insert(store_sqlite *ss, const event_spec *spec, uint32_t i)
{
    const section_spec *sec = &spec->sections[i];
    buf rows;
    buf_init(&rows, (size_t)TIX_ROWS_MAX * (TIX_ROW_LABEL_LEN_MAX + 4) + 16);
    if (sqlite_store__rows_json(sec, &rows) != 0) {
        buf_free(&rows);
        return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    }
    sqlite3_stmt *st = ss->stmt[SQL_SECTION_INSERT];
    sqlite_store_bind_text(st, 1, spec->id);
    sqlite3_bind_int(st, 2, (int)i);
    sqlite_store_bind_text(st, 3, sec->name);
    sqlite3_bind_int64(st, 4, sec->price_cents);
    sqlite3_bind_int(st, 5, (int)sec->seats_per_row);
    sqlite_store_bind_text(st, 6, rows.data);
    int rc = sqlite_store_run(ss, SQL_SECTION_INSERT);
    buf_free(&rows);
    st = ss->stmt[SQL_SEAT_INSERT];
    for (uint32_t r = 0; r < sec->row_count && rc == 0; r++) {
        for (uint32_t n = 1; n <= sec->seats_per_row && rc == 0; n++) {
            char seat_id[TIX_SEAT_ID_LEN_MAX];
            snprintf(seat_id, sizeof(seat_id), "%s%u", sec->rows[r], n);
            sqlite_store_bind_text(st, 1, spec->id);
            sqlite_store_bind_text(st, 2, seat_id);
            sqlite3_bind_int(st, 3, (int)i);
            sqlite_store_bind_text(st, 4, sec->rows[r]);
            sqlite3_bind_int(st, 5, (int)n);
            rc = sqlite_store_run(ss, SQL_SEAT_INSERT);
        }
    }
    return rc;
}

int sqlite_store_do_event_create(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    event_spec *spec = &cmd->u.event_create.spec;
    spec->created_at_ms = now_ms;
    int64_t events = 0;
    if (sqlite_store_int(ss, SQL_EVENT_COUNT, &events, NULL) != 0) return -1;
    if (events >= TIX_EVENTS_MAX) return cmd->rc = TIX_RC_TOO_MANY_EVENTS, 0;
    sqlite3_stmt *st = ss->stmt[SQL_EVENT_INSERT];
    sqlite_store_bind_text(st, 1, spec->id);
    sqlite_store_bind_text(st, 2, spec->name);
    sqlite_store_bind_text(st, 3, spec->venue);
    sqlite3_bind_int64(st, 4, spec->starts_at_ms);
    sqlite3_bind_int(st, 5, spec->hold_ttl_s);
    sqlite3_bind_int(st, 6, spec->max_seats_per_hold);
    sqlite3_bind_int64(st, 7, spec->created_at_ms);
    if (sqlite_store_run(ss, SQL_EVENT_INSERT) != 0) return -1;
    if (sqlite_store_changes(ss) == 0) return cmd->rc = TIX_RC_EVENT_EXISTS, 0;
    for (uint32_t i = 0; i < spec->section_count; i++)
        if (sqlite_store__section_insert(ss, spec, i) != 0) return -1;
    buf *d = &ss->data;
    buf_reset(d);
    buf_append_str(d, "{\"name\":");
    buf_append_json_str(d, spec->name);
    buf_appendf(d, ",\"seats_total\":%llu}", (unsigned long long)model_event_seat_count(spec));
    if (sqlite_store_outbox(ss, "EventCreated", spec->id, spec->id, now_ms) != 0) return -1;
    return sqlite_store_feed_append(ss, CHANGE_EVENT_CREATED, spec->id, "", 0, 0, "[]", 2, 0,
                                    now_ms);
}
