/* reads: committed reads of the embedded store, from any thread, on the pool of read-only
 * connections. In WAL mode a read never blocks the writer nor waits for it, and sees only
 * committed transactions; reads that must agree with each other (a snapshot, a page of the feed
 * and its bounds) run in one read transaction. */
#include "store/sqlite/internal.h"

#include "util/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQLITE_FEED_COLUMNS "seq, time_ms, kind, event_id, ref, hold_seq, expires_ms, seat_ids"

const char *const sqlite_rsql_text[RSQL_COUNT] = {
    [RSQL_BEGIN] = "BEGIN",
    [RSQL_COMMIT] = "COMMIT",
    [RSQL_HOLD_BY_ID] = "SELECT " SQLITE_HOLD_COLUMNS " FROM holds WHERE id = ?",
    [RSQL_BOOKING_BY_ID] = "SELECT " SQLITE_BOOKING_COLUMNS " FROM bookings WHERE id = ?",
    [RSQL_BOOKINGS_BY_USER] = "SELECT " SQLITE_BOOKING_COLUMNS " FROM bookings WHERE user_id = ?"
                              " ORDER BY created_at_ms DESC, seq DESC LIMIT ?",
    [RSQL_SUBSCRIBERS] = "SELECT s.id, s.kind, s.url, s.secret, s.created_at_ms,"
                         " group_concat(p.pattern, ' ') FROM subscribers s"
                         " JOIN subscriber_patterns p ON p.subscriber_id = s.id"
                         " GROUP BY s.id ORDER BY s.created_at_ms, s.id",
    [RSQL_DEAD_LETTERS] =
        SQLITE_DELIVERY_SELECT " WHERE d.status = 'dead'"
                               " ORDER BY d.updated_at_ms DESC, d.seq DESC LIMIT ?",
    [RSQL_IDEMPOTENCY] = "SELECT request_hash, status, body FROM idempotency WHERE key = ?",
    /* two subqueries: SQLite finds a lone min() or max() with one seek, both at once by a scan */
    [RSQL_FEED_BOUNDS] = "SELECT COALESCE((SELECT min(seq) FROM feed), 0),"
                         " COALESCE((SELECT max(seq) FROM feed), 0)",
    [RSQL_FEED_AFTER] = "SELECT " SQLITE_FEED_COLUMNS " FROM feed WHERE seq > ? ORDER BY seq"
                        " LIMIT ?",
    [RSQL_FEED_EVENT_AFTER] = "SELECT " SQLITE_FEED_COLUMNS " FROM feed WHERE seq > ?1"
                              " AND seq <= ?2 AND event_id = ?3 AND hold_seq > 0"
                              " ORDER BY seq LIMIT ?4",
    [RSQL_EVENTS] = "SELECT id, name, venue, starts_at_ms, hold_ttl_s, max_seats_per_hold,"
                    " created_at_ms FROM events ORDER BY seq",
    [RSQL_EVENT_BY_ID] = "SELECT id, name, venue, starts_at_ms, hold_ttl_s, max_seats_per_hold,"
                         " created_at_ms FROM events WHERE id = ?",
    [RSQL_SECTIONS] = "SELECT name, price_cents, seats_per_row, rows FROM sections"
                      " WHERE event_id = ? ORDER BY idx",
    [RSQL_SEATS_TAKEN] = "SELECT s.seat_id, s.status, s.hold_seq, h.expires_at_ms FROM seats s"
                         " JOIN holds h ON h.seq = s.hold_seq"
                         " WHERE s.event_id = ? AND s.status <> 'available'",
};

/* Record a failed read: log it and set *status (may be NULL). Returns -1. */
static int sqlite_store__read_fail(sqlite3 *db, const char *what, store_status *status)
{
    store_status s = sqlite_store_classify(sqlite3_extended_errcode(db));
    sqlite_store_fail(NULL, db, what);
    if (status) *status = s == STORE_OK ? STORE_FATAL : s;
    return -1;
}

static int sqlite_store__bad_row(const char *what, store_status *status)
{
    log_error("store: %s (fatal)", what);
    if (status) *status = STORE_FATAL;
    return -1;
}

/* Finish a statement of a read connection. */
static void sqlite_store__done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* ---- records by id ---- */

int sqlite_store_hold_read(store *s, const char *id, hold_record *out, bool *found,
                           store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_HOLD_BY_ID];
    sqlite_store_bind_text(st, 1, id);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite_store_hold_decode(st, out) != 0)
        result = sqlite_store__bad_row("a hold row cannot be read", status);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "read a hold", status);
    sqlite_store__done(st);
    sqlite_store_reader_release(ss, r);
    return result;
}

int sqlite_store_booking_read(store *s, const char *id, booking_record *out, bool *found,
                              store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_BOOKING_BY_ID];
    sqlite_store_bind_text(st, 1, id);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && sqlite_store_booking_decode(st, out) != 0)
        result = sqlite_store__bad_row("a booking row cannot be read", status);
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "read a booking", status);
    sqlite_store__done(st);
    sqlite_store_reader_release(ss, r);
    return result;
}

int sqlite_store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                                  void *ctx, store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_BOOKINGS_BY_USER];
    sqlite_store_bind_text(st, 1, user_id);
    sqlite3_bind_int64(st, 2, max);
    booking_record *b = malloc(sizeof(*b));
    int rc = SQLITE_DONE, result = b ? 0 : sqlite_store__bad_row("out of memory", status);
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite_store_booking_decode(st, b) != 0)
            result = sqlite_store__bad_row("a booking row cannot be read", status);
        else if (cb(ctx, b) != 0)
            result = -1;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "list bookings", status);
    sqlite_store__done(st);
    free(b);
    sqlite_store_reader_release(ss, r);
    return result;
}

static const char *const sqlite_store__kind_names[] = {"payment", "notification", "webhook"};

/* Decode a row of RSQL_SUBSCRIBERS into sub. */
static void sqlite_store__subscriber_decode(sqlite3_stmt *st, subscriber_record *sub)
{
    memset(sub, 0, sizeof(*sub));
    sqlite_store_copy_text(sub->id, sizeof(sub->id), st, 0);
    const char *kind = (const char *)sqlite3_column_text(st, 1);
    for (int k = 0; k < 3; k++)
        if (kind && strcmp(kind, sqlite_store__kind_names[k]) == 0) sub->kind = (subscriber_kind)k;
    sqlite_store_copy_text(sub->url, sizeof(sub->url), st, 2);
    sqlite_store_copy_text(sub->secret, sizeof(sub->secret), st, 3);
    sub->created_at_ms = sqlite3_column_int64(st, 4);
    char patterns[TIX_PATTERNS_MAX * (TIX_PATTERN_LEN_MAX + 1) + 1];
    sqlite_store_copy_text(patterns, sizeof(patterns), st, 5);
    for (char *save = NULL, *p = strtok_r(patterns, " ", &save);
         p && sub->pattern_count < TIX_PATTERNS_MAX; p = strtok_r(NULL, " ", &save))
        snprintf(sub->patterns[sub->pattern_count++], TIX_PATTERN_LEN_MAX + 1, "%s", p);
}

int sqlite_store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx, store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_SUBSCRIBERS];
    subscriber_record *sub = malloc(sizeof(*sub));
    int rc = SQLITE_DONE, result = sub ? 0 : sqlite_store__bad_row("out of memory", status);
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite_store__subscriber_decode(st, sub);
        if (cb(ctx, sub) != 0) result = -1;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "list subscribers", status);
    sqlite_store__done(st);
    free(sub);
    sqlite_store_reader_release(ss, r);
    return result;
}

int sqlite_store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                                   store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_DEAD_LETTERS];
    sqlite3_bind_int64(st, 1, max);
    delivery_record *d = malloc(sizeof(*d));
    int rc = SQLITE_DONE, result = d ? 0 : sqlite_store__bad_row("out of memory", status);
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite_store_delivery_decode(st, d) != 0 || cb(ctx, d) != 0) result = -1;
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "list dead letters", status);
    sqlite_store__done(st);
    free(d);
    sqlite_store_reader_release(ss, r);
    return result;
}

int sqlite_store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                                 bool *found, store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_IDEMPOTENCY];
    sqlite_store_bind_text(st, 1, key);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        result =
            cb(ctx, (const char *)sqlite3_column_text(st, 0), (unsigned)sqlite3_column_int(st, 1),
               sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
    else if (rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "read an idempotency key", status);
    sqlite_store__done(st);
    sqlite_store_reader_release(ss, r);
    return result;
}

/* ---- admin ---- */

/* sqlite_store_event_stats: admin traffic, so its statement is prepared per call (a scan of the
 * event's live holds, through holds_by_user, and of its bookings). One statement, so one read
 * snapshot: the holds, the bookings by status and the sales agree with each other even while
 * the writer commits (three statements would each see a different commit). Rows: the part
 * (0 holds, 1 bookings by status, 2 sales by minute), its key, then up to three numbers. */
const char sqlite_store_stats_sql[] =
    "SELECT 0, '', coalesce(sum(status = 'active' AND expires_at_ms > ?2), 0),"
    " coalesce(sum(status = 'checkout'), 0), 0 FROM holds"
    " WHERE event_id = ?1 AND status IN ('active','checkout')"
    " UNION ALL SELECT 1, status, count(*), coalesce(sum(amount_cents), 0), 0 FROM bookings"
    " WHERE event_id = ?1 GROUP BY status"
    " UNION ALL SELECT 2, updated_at_ms / 60000, count(*), sum(json_array_length(seat_ids)),"
    " sum(amount_cents) FROM bookings WHERE event_id = ?1 AND status = 'confirmed'"
    " AND updated_at_ms >= ?3 GROUP BY updated_at_ms / 60000";

/* Fold one row of the stats statement into out. */
static void sqlite_store__stats_row(sqlite3_stmt *st, int64_t first_minute, store_stats *out)
{
    int64_t part = sqlite3_column_int64(st, 0), c1 = sqlite3_column_int64(st, 2),
            c2 = sqlite3_column_int64(st, 3);
    booking_status status;
    if (part == 0) {
        out->holds_active = (uint32_t)c1;
        out->holds_checkout = (uint32_t)c2;
    } else if (part == 1) {
        if (model_booking_status_parse((const char *)sqlite3_column_text(st, 1), &status) != 0)
            return;
        out->bookings[status] = (uint32_t)c1;
        if (status == BOOKING_CONFIRMED) out->revenue_cents = c2;
    } else {
        int64_t i = sqlite3_column_int64(st, 1) - first_minute;
        if (i < 0 || i >= STORE_STATS_MINUTES) return; /* confirmed "in the future" */
        out->sales_bookings[i] = (uint32_t)c1;
        out->sales_seats[i] = (uint32_t)c2;
        out->sales_cents[i] = sqlite3_column_int64(st, 4);
    }
}

int sqlite_store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                             store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    int64_t first_minute = now_ms / 60000 - (STORE_STATS_MINUTES - 1);
    out->minute0_ms = first_minute * 60000;
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    int result = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, sqlite_store_stats_sql, -1, &st, NULL) != SQLITE_OK) {
        result = sqlite_store__read_fail(r->db, "event stats", status);
    } else {
        sqlite_store_bind_text(st, 1, event_id);
        sqlite3_bind_int64(st, 2, now_ms);
        sqlite3_bind_int64(st, 3, out->minute0_ms);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            sqlite_store__stats_row(st, first_minute, out);
        if (rc != SQLITE_DONE) result = sqlite_store__read_fail(r->db, "event stats", status);
        sqlite3_finalize(st);
    }
    sqlite_store_reader_release(ss, r);
    return result;
}

int sqlite_store_dead_letters_count(store *s, uint64_t *count, store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    sqlite3_stmt *st;
    int result = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM deliveries WHERE status = 'dead'", -1, &st,
                           NULL) != SQLITE_OK) {
        result = sqlite_store__read_fail(r->db, "count dead letters", status);
    } else {
        if (sqlite3_step(st) == SQLITE_ROW)
            *count = (uint64_t)sqlite3_column_int64(st, 0);
        else
            result = sqlite_store__read_fail(r->db, "count dead letters", status);
        sqlite3_finalize(st);
    }
    sqlite_store_reader_release(ss, r);
    return result;
}

/* ---- events ---- */

/* Decode the sections of one event into spec. Returns 0 or -1 (malformed, out of memory). */
static int sqlite_store__sections_load(sqlite_reader *r, event_spec *spec, store_status *status)
{
    sqlite3_stmt *st = r->stmt[RSQL_SECTIONS];
    sqlite_store_bind_text(st, 1, spec->id);
    int rc, result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        section_spec *grown =
            spec->section_count < TIX_SECTIONS_MAX
                ? realloc(spec->sections, (spec->section_count + 1) * sizeof(*grown))
                : NULL;
        if (!grown) {
            result = -1;
            break;
        }
        spec->sections = grown;
        section_spec *sec = &spec->sections[spec->section_count++];
        memset(sec, 0, sizeof(*sec));
        sec->name = strdup((const char *)sqlite3_column_text(st, 0));
        sec->price_cents = sqlite3_column_int64(st, 1);
        sec->seats_per_row = (uint32_t)sqlite3_column_int(st, 2);
        cJSON *rows = cJSON_Parse((const char *)sqlite3_column_text(st, 3));
        int row_count = cJSON_GetArraySize(rows);
        sec->rows = calloc(row_count > 0 ? (size_t)row_count : 1, sizeof(char *));
        if (!sec->name || !sec->rows || !cJSON_IsArray(rows)) result = -1;
        const cJSON *item;
        cJSON_ArrayForEach(item, rows)
        {
            if (result != 0) break;
            if (!cJSON_IsString(item) || !(sec->rows[sec->row_count] = strdup(item->valuestring)))
                result = -1;
            else
                sec->row_count++;
        }
        cJSON_Delete(rows);
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "load sections", status);
    else if (result != 0)
        sqlite_store__bad_row("an event's sections cannot be read", status);
    sqlite_store__done(st);
    return result;
}

/* Decode a row of RSQL_EVENTS / RSQL_EVENT_BY_ID and its sections into spec. */
static int sqlite_store__event_decode(sqlite_reader *r, sqlite3_stmt *st, event_spec *spec,
                                      store_status *status)
{
    memset(spec, 0, sizeof(*spec));
    sqlite_store_copy_text(spec->id, sizeof(spec->id), st, 0);
    spec->name = strdup((const char *)sqlite3_column_text(st, 1));
    spec->venue = strdup((const char *)sqlite3_column_text(st, 2));
    spec->starts_at_ms = sqlite3_column_int64(st, 3);
    spec->hold_ttl_s = sqlite3_column_int(st, 4);
    spec->max_seats_per_hold = sqlite3_column_int(st, 5);
    spec->created_at_ms = sqlite3_column_int64(st, 6);
    if (!spec->name || !spec->venue) return sqlite_store__bad_row("out of memory", status);
    return sqlite_store__sections_load(r, spec, status);
}

int sqlite_store_event_get(store *s, const char *id, event_spec *out, bool *found,
                           store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    int result = sqlite3_step(r->stmt[RSQL_BEGIN]) == SQLITE_DONE
                     ? 0
                     : sqlite_store__read_fail(r->db, "begin a read", status);
    sqlite_store__done(r->stmt[RSQL_BEGIN]);
    sqlite3_stmt *st = r->stmt[RSQL_EVENT_BY_ID];
    sqlite_store_bind_text(st, 1, id);
    int rc = result == 0 ? sqlite3_step(st) : SQLITE_DONE;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        result = sqlite_store__event_decode(r, st, out, status);
    else if (rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "read an event", status);
    sqlite_store__done(st);
    sqlite3_step(r->stmt[RSQL_COMMIT]);
    sqlite_store__done(r->stmt[RSQL_COMMIT]);
    if (result != 0 && *found) model_event_spec_free(out);
    sqlite_store_reader_release(ss, r);
    return result;
}

/* The seats of event id that are not available, to cb. */
static int sqlite_store__seats_load(sqlite_reader *r, const char *id, const store_snapshot_cb *cb,
                                    store_status *status)
{
    sqlite3_stmt *st = r->stmt[RSQL_SEATS_TAKEN];
    sqlite_store_bind_text(st, 1, id);
    int rc, result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        seat_status seat;
        if (model_seat_status_parse((const char *)sqlite3_column_text(st, 1), &seat) != 0)
            result = sqlite_store__bad_row("a seat has an unknown status", status);
        else if (cb->seat(cb->ctx, (const char *)sqlite3_column_text(st, 0), seat,
                          sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)) != 0)
            result = -1;
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "load seats", status);
    sqlite_store__done(st);
    return result;
}

/* Every event and its taken seats, in the read transaction of r. */
static int sqlite_store__snapshot(sqlite_reader *r, const store_snapshot_cb *cb,
                                  store_status *status)
{
    sqlite3_stmt *st = r->stmt[RSQL_EVENTS];
    int rc, result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        event_spec spec;
        result = sqlite_store__event_decode(r, st, &spec, status);
        char id[TIX_EVENT_ID_LEN_MAX + 1];
        snprintf(id, sizeof(id), "%s", spec.id);
        if (result == 0 && cb->event(cb->ctx, &spec) != 0) result = -1;
        model_event_spec_free(&spec);
        if (result == 0) result = sqlite_store__seats_load(r, id, cb, status);
    }
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "load events", status);
    sqlite_store__done(st);
    return result;
}

int sqlite_store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                               store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    int result = 0;
    if (sqlite3_step(r->stmt[RSQL_BEGIN]) != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "begin a read", status);
    sqlite_store__done(r->stmt[RSQL_BEGIN]);
    sqlite3_stmt *st = r->stmt[RSQL_FEED_BOUNDS];
    if (result == 0 && sqlite3_step(st) == SQLITE_ROW) /* the snapshot starts here */
        *position = sqlite3_column_int64(st, 1);
    else if (result == 0)
        result = sqlite_store__read_fail(r->db, "read the feed's head", status);
    sqlite_store__done(st);
    if (result == 0) result = sqlite_store__snapshot(r, cb, status);
    sqlite3_step(r->stmt[RSQL_COMMIT]);
    sqlite_store__done(r->stmt[RSQL_COMMIT]);
    sqlite_store_reader_release(ss, r);
    return result;
}

/* ---- the feed ---- */

/* Decode a row of SQLITE_FEED_COLUMNS and add it to out. */
static int sqlite_store__change_add(sqlite3_stmt *st, change_page *out, store_status *status)
{
    change_record c = {.seq = sqlite3_column_int64(st, 0), .time_ms = sqlite3_column_int64(st, 1)};
    if (model_change_kind_parse((const char *)sqlite3_column_text(st, 2), &c.kind) != 0)
        return sqlite_store__bad_row("a change of the feed has an unknown kind", status);
    sqlite_store_copy_text(c.event_id, sizeof(c.event_id), st, 3);
    sqlite_store_copy_text(c.ref, sizeof(c.ref), st, 4);
    c.hold_seq = sqlite3_column_int64(st, 5);
    c.expires_ms = sqlite3_column_int64(st, 6);
    const char *ids = (const char *)sqlite3_column_text(st, 7);
    size_t len = (size_t)sqlite3_column_bytes(st, 7), pos = 0;
    char id[TIX_SEAT_ID_LEN_MAX];
    int got;
    while ((got = model_seat_ids_next(ids, len, &pos, id)) > 0)
        c.seat_count++;
    if (got < 0)
        return sqlite_store__bad_row("a change of the feed has malformed seat_ids", status);
    if (change_page_add(out, &c, ids, len) != 0)
        return sqlite_store__bad_row("out of memory", status);
    return 0;
}

int sqlite_store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                              int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                              int64_t *scanned_to, store_status *status)
{
    store_sqlite *ss = sqlite_store_of(s);
    sqlite_reader *r = sqlite_store_reader_acquire(ss);
    int result = 0, rc;
    if (sqlite3_step(r->stmt[RSQL_BEGIN]) != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "begin a read", status);
    sqlite_store__done(r->stmt[RSQL_BEGIN]);
    sqlite3_stmt *st = r->stmt[RSQL_FEED_BOUNDS];
    store_feed_bounds b = {0, 0};
    if (result == 0 && sqlite3_step(st) == SQLITE_ROW)
        b = (store_feed_bounds){sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)};
    else if (result == 0)
        result = sqlite_store__read_fail(r->db, "read the feed's bounds", status);
    sqlite_store__done(st);
    int64_t upto = event_id ? after_seq + scan_max : b.head_seq;
    if (upto > b.head_seq) upto = b.head_seq;
    st = r->stmt[event_id ? RSQL_FEED_EVENT_AFTER : RSQL_FEED_AFTER];
    sqlite3_bind_int64(st, 1, after_seq);
    if (event_id) {
        sqlite3_bind_int64(st, 2, upto);
        sqlite_store_bind_text(st, 3, event_id);
        sqlite3_bind_int64(st, 4, max);
    } else {
        sqlite3_bind_int64(st, 2, max);
    }
    uint32_t before = out->count;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        result = sqlite_store__change_add(st, out, status);
    if (result == 0 && rc != SQLITE_DONE)
        result = sqlite_store__read_fail(r->db, "read the feed", status);
    sqlite_store__done(st);
    sqlite3_step(r->stmt[RSQL_COMMIT]);
    sqlite_store__done(r->stmt[RSQL_COMMIT]);
    sqlite_store_reader_release(ss, r);
    uint32_t got = out->count - before;
    if (bounds) *bounds = b;
    /* a full page may stop short of what was scanned: read on from its last change */
    if (scanned_to)
        *scanned_to =
            got == max ? out->items[out->count - 1].seq : (upto > after_seq ? upto : after_seq);
    return result;
}
