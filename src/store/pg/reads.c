/* reads: committed reads of the PostgreSQL store, from any thread, on a pool of connections
 * (one per reading thread). Each read is one statement, which sees only what was committed
 * before it began; reads that must agree with each other are one statement too (a page of the
 * feed with its bounds) or one REPEATABLE READ transaction (a snapshot: its feed position and
 * every seat as of one moment). A connection found lost is made again by the next read that
 * takes it (see conn.c); meanwhile reads fail with STORE_UNAVAILABLE. */
#include "store/pg/internal.h"

#include "util/log.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_HOLD_COLUMNS                                                                            \
    "seq, id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms, ended_at_ms"
#define PG_BOOKING_COLUMNS                                                                         \
    "seq, id, hold_seq, hold_id, event_id, user_id, email, status, amount_cents, payment_token,"   \
    " payment_id, refund_id, created_at_ms, updated_at_ms, checkout_deadline_ms, seat_ids"
#define PG_EVENT_SELECT                                                                            \
    "SELECT e.id, e.name, e.venue, e.starts_at_ms, e.hold_ttl_s, e.max_seats_per_hold,"            \
    " e.created_at_ms, (SELECT json_agg(json_build_object('name', c.name, 'price_cents',"          \
    " c.price_cents, 'seats_per_row', c.seats_per_row, 'rows', c.rows::json) ORDER BY c.idx)"      \
    " FROM sections c WHERE c.event_id = e.id) FROM events e"
/* A page of the feed with the bounds it was read within, in one statement (one snapshot). */
#define PG_FEED_PAGE(where)                                                                        \
    "SELECT b.oldest, b.head, f.seq, f.time_ms, f.kind, f.event_id, f.ref, f.hold_seq,"            \
    " f.expires_ms, f.seat_ids FROM (SELECT coalesce((SELECT min(seq) FROM feed), 0) AS oldest,"   \
    " (SELECT seq FROM feed_head) AS head) b LEFT JOIN LATERAL (SELECT * FROM feed WHERE " where   \
    " ORDER BY seq LIMIT $2) f ON true ORDER BY f.seq"

const pg_statement pg_store_rsql[PG_RSQL_COUNT] = {
    [PG_RSQL_HOLD_BY_ID] = {"r_hold", "SELECT " PG_HOLD_COLUMNS " FROM holds WHERE id = $1"},
    [PG_RSQL_BOOKING_BY_ID] = {"r_booking",
                               "SELECT " PG_BOOKING_COLUMNS " FROM bookings WHERE id = $1"},
    [PG_RSQL_BOOKINGS_BY_USER] = {"r_bookings_by_user",
                                  "SELECT " PG_BOOKING_COLUMNS " FROM bookings WHERE user_id = $1"
                                  " ORDER BY created_at_ms DESC, seq DESC LIMIT $2"},
    [PG_RSQL_SUBSCRIBERS] = {"r_subscribers",
                             "SELECT s.id, s.kind, s.url, s.secret, s.created_at_ms,"
                             " string_agg(p.pattern, ' ' ORDER BY p.pattern) FROM subscribers s"
                             " JOIN subscriber_patterns p ON p.subscriber_id = s.id"
                             " GROUP BY s.id ORDER BY s.created_at_ms, s.id"},
    [PG_RSQL_DEAD_LETTERS] = {"r_dead_letters",
                              "SELECT d.seq, d.subscriber_id, d.status, d.attempts,"
                              " d.next_attempt_ms, d.updated_at_ms, d.last_error, o.seq, o.id,"
                              " o.type, o.event_id, o.aggregate_id, o.time_ms, o.data"
                              " FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
                              " WHERE d.status = 'dead'"
                              " ORDER BY d.updated_at_ms DESC, d.seq DESC LIMIT $1"},
    [PG_RSQL_IDEMPOTENCY] = {"r_idempotency",
                             "SELECT request_hash, status, body FROM idempotency WHERE key = $1"},
    [PG_RSQL_FEED_AFTER] = {"r_feed", PG_FEED_PAGE("seq > $1")},
    [PG_RSQL_FEED_EVENT_AFTER] = {"r_feed_event",
                                  PG_FEED_PAGE("seq > $1 AND seq <= least($1 + $3, b.head)"
                                               " AND event_id = $4 AND hold_seq > 0")},
    [PG_RSQL_EVENTS] = {"r_events", PG_EVENT_SELECT " ORDER BY e.seq"},
    [PG_RSQL_EVENT_BY_ID] = {"r_event", PG_EVENT_SELECT " WHERE e.id = $1"},
    [PG_RSQL_HEAD] = {"r_head", "SELECT seq FROM feed_head"},
    /* one statement, so one snapshot: the live holds (q 0), the bookings by status (q 1), the
     * confirmed ones by minute since $3 (q 2) */
    [PG_RSQL_EVENT_STATS] =
        {"r_event_stats",
         "SELECT 0, '', count(*) FILTER (WHERE status = 'active' AND expires_at_ms > $2),"
         " count(*) FILTER (WHERE status = 'checkout'), 0::bigint FROM holds"
         " WHERE event_id = $1 AND status IN ('active', 'checkout')"
         " UNION ALL SELECT 1, status, count(*), coalesce(sum(amount_cents), 0)::bigint, 0"
         " FROM bookings WHERE event_id = $1 GROUP BY status"
         " UNION ALL SELECT 2, (updated_at_ms / 60000)::text, count(*),"
         " sum(json_array_length(seat_ids::json))::bigint, sum(amount_cents)::bigint"
         " FROM bookings WHERE event_id = $1 AND status = 'confirmed' AND updated_at_ms >= $3"
         " GROUP BY updated_at_ms / 60000"},
    [PG_RSQL_DEAD_LETTERS_COUNT] = {"r_dead_letters_count",
                                    "SELECT count(*) FROM deliveries WHERE status = 'dead'"},
    [PG_RSQL_SEATS_TAKEN] = {"r_seats_taken",
                             "SELECT s.seat_id, s.status, s.hold_seq, h.expires_at_ms"
                             " FROM seats s JOIN holds h ON h.seq = s.hold_seq"
                             " WHERE s.event_id = $1 AND s.status <> 'available'"},
};

/* ---- the pool ---- */

/* A read connection from the pool (waits for one), connected; NULL (status set) when the
 * database cannot be reached now. */
static pg_reader *pg_store__acquire(store_pg *ss, store_status *status)
{
    pthread_mutex_lock(&ss->readers_mutex);
    pg_reader *r = NULL;
    while (!r) {
        for (unsigned i = 0; i < ss->reader_count && !r; i++)
            if (!ss->readers[i].busy) r = &ss->readers[i];
        if (!r) pthread_cond_wait(&ss->readers_cond, &ss->readers_mutex);
    }
    r->busy = true;
    pthread_mutex_unlock(&ss->readers_mutex);
    if (!pg_store_alive(&r->c)) pg_store_disconnect(&r->c); /* lost while idle */
    if (pg_store_ensure(ss, &r->c) == 0) return r;
    if (status) *status = STORE_UNAVAILABLE;
    pthread_mutex_lock(&ss->readers_mutex);
    r->busy = false;
    pthread_cond_signal(&ss->readers_cond);
    pthread_mutex_unlock(&ss->readers_mutex);
    return NULL;
}

static void pg_store__release(store_pg *ss, pg_reader *r)
{
    pthread_mutex_lock(&ss->readers_mutex);
    r->busy = false;
    pthread_cond_signal(&ss->readers_cond);
    pthread_mutex_unlock(&ss->readers_mutex);
}

/* A failed read: logged, its status into *status (may be NULL); a connection that broke or
 * whose server is going away is dropped. Returns -1. */
static int pg_store__read_fail(pg_reader *r, const PGresult *res, const char *what,
                               store_status *status)
{
    store_status s = pg_store_classify(r->c.conn, res);
    pg_store_fail(NULL, r->c.conn, res, what);
    if (status) *status = s;
    if (s == STORE_UNAVAILABLE) pg_store_disconnect(&r->c);
    return -1;
}

static int pg_store__bad_row(const char *what, store_status *status)
{
    log_error("store: %s (fatal)", what);
    if (status) *status = STORE_FATAL;
    return -1;
}

/* Send a statement on r: prepared `which`, or the text sql when which < 0. */
static int pg_store__send(pg_reader *r, int which, const char *sql, const pg_params *p)
{
    PGconn *conn = r->c.conn;
    int sent = which >= 0 ? PQsendQueryPrepared(conn, pg_store_rsql[which].name, p->count,
                                                p->values, p->lengths, p->formats, 0)
                          : PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    return sent && pg_store_flush(&r->c) == 0 ? 0 : -1;
}

/* The next result of r, waiting for it (NULL at the end of a statement's results, or when
 * the connection broke: then r->c.conn is NULL). */
static PGresult *pg_store__next(pg_reader *r)
{
    if (!r->c.conn || pg_store_wait(&r->c) != 0) return NULL;
    return PQgetResult(r->c.conn);
}

/* Run a statement on r and return its result (the caller clears it); NULL after a failure
 * (logged, status set). */
static PGresult *pg_store__query(pg_reader *r, int which, const char *sql, const pg_params *p,
                                 const char *what, store_status *status)
{
    if (pg_store__send(r, which, sql, p) != 0) {
        pg_store__read_fail(r, NULL, what, status);
        return NULL;
    }
    PGresult *res = pg_store__next(r), *extra;
    while ((extra = pg_store__next(r))) /* the end of its results */
        PQclear(extra);
    ExecStatusType st = PQresultStatus(res);
    if (res && r->c.conn && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) return res;
    pg_store__read_fail(r, res, what, status);
    PQclear(res);
    return NULL;
}

/* pg_store__query for a statement that is a whole read: when the connection turns out to be
 * lost (the database restarted since its last use), it is made again and the read runs once
 * more. */
static PGresult *pg_store__query_again(store_pg *ss, pg_reader *r, int which, const char *sql,
                                       const pg_params *p, const char *what, store_status *status)
{
    PGresult *res = pg_store__query(r, which, sql, p, what, status);
    if (res || r->c.conn || pg_store_ensure(ss, &r->c) != 0) return res;
    if (status) *status = STORE_OK;
    return pg_store__query(r, which, sql, p, what, status);
}

/* ---- reads of rows ---- */

/* Called once per row of a read; returns 0 to go on, -1 to stop (the read then fails). */
typedef int (*pg_store__row_fn)(void *ctx, const PGresult *res, int row, store_status *status);

/* Run prepared read `which` with p on a connection of the pool and give each row to fn.
 * Returns 0, or -1 (status set when the store failed). */
static int pg_store__read_rows(store_pg *ss, pg_rsql which, const pg_params *p, const char *what,
                               pg_store__row_fn fn, void *ctx, store_status *status)
{
    pg_reader *r = pg_store__acquire(ss, status);
    if (!r) return -1;
    PGresult *res = pg_store__query_again(ss, r, which, NULL, p, what, status);
    int rc = res ? 0 : -1;
    for (int row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = fn(ctx, res, row, status);
    PQclear(res);
    pg_store__release(ss, r);
    return rc;
}

/* A record read by id: where it goes, whether it was found. */
typedef struct pg_store__one {
    void *out;
    bool *found;
} pg_store__one;

static int pg_store__hold_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    pg_store__one *one = ctx;
    *one->found = true;
    if (pg_store_hold_decode(res, row, 0, one->out) != 0)
        return pg_store__bad_row("a hold row cannot be read", status);
    return 0;
}

int pg_store_hold_read(store *s, const char *id, hold_record *out, bool *found,
                       store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, id);
    *found = false;
    pg_store__one one = {out, found};
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_HOLD_BY_ID, &p, "read a hold",
                               pg_store__hold_row, &one, status);
}

static int pg_store__booking_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    pg_store__one *one = ctx;
    *one->found = true;
    if (pg_store_booking_decode(res, row, 0, one->out) != 0)
        return pg_store__bad_row("a booking row cannot be read", status);
    return 0;
}

int pg_store_booking_read(store *s, const char *id, booking_record *out, bool *found,
                          store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, id);
    *found = false;
    pg_store__one one = {out, found};
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_BOOKING_BY_ID, &p, "read a booking",
                               pg_store__booking_row, &one, status);
}

/* A list read: a record to decode each row into, and the caller's callback. */
typedef struct pg_store__list {
    void *record;
    void (*cb)(void); /* the caller's callback, cast back to its type by the row function */
    void *ctx;
} pg_store__list;

static int pg_store__booking_item(void *ctx, const PGresult *res, int row, store_status *status)
{
    pg_store__list *l = ctx;
    if (pg_store_booking_decode(res, row, 0, l->record) != 0)
        return pg_store__bad_row("a booking row cannot be read", status);
    return ((store_booking_cb)l->cb)(l->ctx, l->record);
}

int pg_store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                              void *ctx, store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, user_id);
    pg_params_i64(&p, max);
    booking_record *b = malloc(sizeof(*b));
    if (!b) return pg_store__bad_row("out of memory", status);
    pg_store__list l = {b, (void (*)(void))cb, ctx};
    int rc = pg_store__read_rows(pg_store_of(s), PG_RSQL_BOOKINGS_BY_USER, &p, "list bookings",
                                 pg_store__booking_item, &l, status);
    free(b);
    return rc;
}

static const char *const pg_store__kind_names[] = {"payment", "notification", "webhook"};

static int pg_store__subscriber_item(void *ctx, const PGresult *res, int row, store_status *status)
{
    (void)status;
    pg_store__list *l = ctx;
    subscriber_record *sub = l->record;
    memset(sub, 0, sizeof(*sub));
    pg_store_text(sub->id, sizeof(sub->id), res, row, 0);
    const char *kind = PQgetvalue(res, row, 1);
    for (int k = 0; k < 3; k++)
        if (strcmp(kind, pg_store__kind_names[k]) == 0) sub->kind = (subscriber_kind)k;
    pg_store_text(sub->url, sizeof(sub->url), res, row, 2);
    pg_store_text(sub->secret, sizeof(sub->secret), res, row, 3);
    sub->created_at_ms = pg_store_i64(res, row, 4);
    char patterns[TIX_PATTERNS_MAX * (TIX_PATTERN_LEN_MAX + 1) + 1];
    pg_store_text(patterns, sizeof(patterns), res, row, 5);
    for (char *save = NULL, *p = strtok_r(patterns, " ", &save);
         p && sub->pattern_count < TIX_PATTERNS_MAX; p = strtok_r(NULL, " ", &save))
        snprintf(sub->patterns[sub->pattern_count++], TIX_PATTERN_LEN_MAX + 1, "%s", p);
    return ((store_subscriber_cb)l->cb)(l->ctx, sub);
}

int pg_store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx, store_status *status)
{
    pg_params p = {0};
    subscriber_record *sub = malloc(sizeof(*sub));
    if (!sub) return pg_store__bad_row("out of memory", status);
    pg_store__list l = {sub, (void (*)(void))cb, ctx};
    int rc = pg_store__read_rows(pg_store_of(s), PG_RSQL_SUBSCRIBERS, &p, "list subscribers",
                                 pg_store__subscriber_item, &l, status);
    free(sub);
    return rc;
}

static int pg_store__delivery_item(void *ctx, const PGresult *res, int row, store_status *status)
{
    (void)status;
    pg_store__list *l = ctx;
    pg_store_delivery_decode(res, row, 0, l->record);
    return ((store_delivery_cb)l->cb)(l->ctx, l->record);
}

int pg_store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                               store_status *status)
{
    pg_params p = {0};
    pg_params_i64(&p, max);
    delivery_record *d = malloc(sizeof(*d));
    if (!d) return pg_store__bad_row("out of memory", status);
    pg_store__list l = {d, (void (*)(void))cb, ctx};
    int rc = pg_store__read_rows(pg_store_of(s), PG_RSQL_DEAD_LETTERS, &p, "list dead letters",
                                 pg_store__delivery_item, &l, status);
    free(d);
    return rc;
}

/* An idempotency key's kept response, to the caller's callback. */
typedef struct pg_store__kept {
    store_idempotency_cb cb;
    void *ctx;
    bool *found;
} pg_store__kept;

static int pg_store__kept_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    pg_store__kept *k = ctx;
    *k->found = true;
    size_t len = 0;
    unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 2), &len);
    if (!body) return pg_store__bad_row("out of memory", status);
    int rc = k->cb(k->ctx, PQgetvalue(res, row, 0), (unsigned)pg_store_i64(res, row, 1),
                   (const char *)body, len);
    PQfreemem(body);
    return rc;
}

int pg_store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                             bool *found, store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, key);
    *found = false;
    pg_store__kept k = {cb, ctx, found};
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_IDEMPOTENCY, &p, "read an idempotency key",
                               pg_store__kept_row, &k, status);
}

/* ---- stats ---- */

/* Fold a row of PG_RSQL_EVENT_STATS into out (minute0_ms set). */
static int pg_store__stats_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    (void)status;
    store_stats *out = ctx;
    int64_t q = pg_store_i64(res, row, 0), c1 = pg_store_i64(res, row, 2),
            c2 = pg_store_i64(res, row, 3);
    booking_status booking;
    if (q == 0) {
        out->holds_active = (uint32_t)c1;
        out->holds_checkout = (uint32_t)c2;
    } else if (q == 1 && model_booking_status_parse(PQgetvalue(res, row, 1), &booking) == 0) {
        out->bookings[booking] = (uint32_t)c1;
        if (booking == BOOKING_CONFIRMED) out->revenue_cents = c2;
    } else if (q == 2) {
        int64_t i = pg_store_i64(res, row, 1) - out->minute0_ms / 60000;
        if (i < 0 || i >= STORE_STATS_MINUTES) return 0; /* confirmed "in the future" */
        out->sales_bookings[i] = (uint32_t)c1;
        out->sales_seats[i] = (uint32_t)c2;
        out->sales_cents[i] = pg_store_i64(res, row, 4);
    }
    return 0;
}

int pg_store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                         store_status *status)
{
    out->minute0_ms = (now_ms / 60000 - (STORE_STATS_MINUTES - 1)) * 60000;
    pg_params p = {0};
    pg_params_text(&p, event_id);
    pg_params_i64(&p, now_ms);
    pg_params_i64(&p, out->minute0_ms);
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_EVENT_STATS, &p, "event stats",
                               pg_store__stats_row, out, status);
}

static int pg_store__count_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    (void)status;
    *(uint64_t *)ctx = (uint64_t)pg_store_i64(res, row, 0);
    return 0;
}

int pg_store_dead_letters_count(store *s, uint64_t *count, store_status *status)
{
    pg_params p = {0};
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_DEAD_LETTERS_COUNT, &p, "count dead letters",
                               pg_store__count_row, count, status);
}

/* ---- events ---- */

/* The sections of an event (the JSON array of PG_EVENT_SELECT) into spec. Returns 0 or -1. */
static int pg_store__sections_decode(const char *json, event_spec *spec)
{
    cJSON *all = cJSON_Parse(json);
    int count = cJSON_GetArraySize(all);
    int rc = cJSON_IsArray(all) && count <= TIX_SECTIONS_MAX ? 0 : -1;
    if (rc == 0 && count > 0 && !(spec->sections = calloc((size_t)count, sizeof(section_spec))))
        rc = -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, all)
    {
        if (rc != 0) break;
        section_spec *sec = &spec->sections[spec->section_count++];
        const cJSON *name = cJSON_GetObjectItem(item, "name");
        const cJSON *rows = cJSON_GetObjectItem(item, "rows");
        int row_count = cJSON_GetArraySize(rows);
        sec->price_cents = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "price_cents"));
        sec->seats_per_row =
            (uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(item, "seats_per_row"));
        sec->name = cJSON_IsString(name) ? strdup(name->valuestring) : NULL;
        sec->rows = calloc(row_count > 0 ? (size_t)row_count : 1, sizeof(char *));
        if (!sec->name || !sec->rows || !cJSON_IsArray(rows)) rc = -1;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            if (rc != 0) break;
            if (!cJSON_IsString(row) || !(sec->rows[sec->row_count] = strdup(row->valuestring)))
                rc = -1;
            else
                sec->row_count++;
        }
    }
    cJSON_Delete(all);
    return rc;
}

/* Row `row` of PG_EVENT_SELECT into spec (the caller frees it, also after a failure). */
static int pg_store__event_decode(const PGresult *res, int row, event_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    pg_store_text(spec->id, sizeof(spec->id), res, row, 0);
    spec->name = strdup(PQgetvalue(res, row, 1));
    spec->venue = strdup(PQgetvalue(res, row, 2));
    spec->starts_at_ms = pg_store_i64(res, row, 3);
    spec->hold_ttl_s = (int32_t)pg_store_i64(res, row, 4);
    spec->max_seats_per_hold = (int32_t)pg_store_i64(res, row, 5);
    spec->created_at_ms = pg_store_i64(res, row, 6);
    if (!spec->name || !spec->venue) return -1;
    return pg_store__sections_decode(PQgetisnull(res, row, 7) ? "[]" : PQgetvalue(res, row, 7),
                                     spec);
}

static int pg_store__event_row(void *ctx, const PGresult *res, int row, store_status *status)
{
    pg_store__one *one = ctx;
    if (pg_store__event_decode(res, row, one->out) != 0) {
        model_event_spec_free(one->out);
        return pg_store__bad_row("an event row cannot be read", status);
    }
    *one->found = true;
    return 0;
}

int pg_store_event_get(store *s, const char *id, event_spec *out, bool *found, store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, id);
    *found = false;
    pg_store__one one = {out, found};
    return pg_store__read_rows(pg_store_of(s), PG_RSQL_EVENT_BY_ID, &p, "read an event",
                               pg_store__event_row, &one, status);
}

/* ---- snapshots ---- */

/* The taken seats of event id to cb, streamed a row at a time (an event has up to a million). */
static int pg_store__seats_load(pg_reader *r, const char *id, const store_snapshot_cb *cb,
                                store_status *status)
{
    pg_params p = {0};
    pg_params_text(&p, id);
    if (!PQsendQueryPrepared(r->c.conn, pg_store_rsql[PG_RSQL_SEATS_TAKEN].name, p.count, p.values,
                             p.lengths, p.formats, 0) ||
        !PQsetSingleRowMode(r->c.conn) || pg_store_flush(&r->c) != 0)
        return pg_store__read_fail(r, NULL, "load seats", status);
    int rc = 0;
    PGresult *res;
    while ((res = pg_store__next(r))) {
        ExecStatusType st = PQresultStatus(res);
        seat_status seat;
        if (rc != 0) {
            /* a failure already: drain the rest */
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
            rc = pg_store__read_fail(r, res, "load seats", status);
        } else if (st == PGRES_SINGLE_TUPLE) {
            if (model_seat_status_parse(PQgetvalue(res, 0, 1), &seat) != 0)
                rc = pg_store__bad_row("a seat has an unknown status", status);
            else if (cb->seat(cb->ctx, PQgetvalue(res, 0, 0), seat, pg_store_i64(res, 0, 2),
                              pg_store_i64(res, 0, 3)) != 0)
                rc = -1;
        }
        PQclear(res);
    }
    if (rc == 0 && !r->c.conn) rc = pg_store__read_fail(r, NULL, "load seats", status);
    return rc;
}

/* Every event and its taken seats, in the transaction open on r. */
static int pg_store__snapshot(pg_reader *r, const store_snapshot_cb *cb, int64_t *position,
                              store_status *status)
{
    pg_params p = {0};
    PGresult *head = pg_store__query(r, PG_RSQL_HEAD, NULL, &p, "read the feed's head", status);
    if (!head) return -1;
    *position = pg_store_i64(head, 0, 0);
    PQclear(head);
    PGresult *events = pg_store__query(r, PG_RSQL_EVENTS, NULL, &p, "load events", status);
    int rc = events ? 0 : -1;
    for (int row = 0; rc == 0 && row < PQntuples(events); row++) {
        event_spec spec;
        if (pg_store__event_decode(events, row, &spec) != 0)
            rc = pg_store__bad_row("an event row cannot be read", status);
        else if (cb->event(cb->ctx, &spec) != 0)
            rc = -1;
        model_event_spec_free(&spec);
        if (rc == 0) rc = pg_store__seats_load(r, PQgetvalue(events, row, 0), cb, status);
    }
    PQclear(events);
    return rc;
}

int pg_store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                           store_status *status)
{
    store_pg *ss = pg_store_of(s);
    pg_reader *r = pg_store__acquire(ss, status);
    if (!r) return -1;
    PGresult *res =
        pg_store__query_again(ss, r, -1, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL,
                              "begin a snapshot", status);
    int rc = res ? pg_store__snapshot(r, cb, position, status) : -1;
    PQclear(res);
    if (r->c.conn) {
        PGresult *end =
            pg_store__query(r, -1, rc == 0 ? "COMMIT" : "ROLLBACK", NULL, "end a snapshot", NULL);
        if (!end && r->c.conn) pg_store_disconnect(&r->c);
        PQclear(end);
    }
    pg_store__release(ss, r);
    return rc;
}

/* ---- the feed ---- */

/* Row `row` of PG_FEED_PAGE (a change: columns 2..9) into out. */
static int pg_store__change_add(const PGresult *res, int row, change_page *out,
                                store_status *status)
{
    change_record c = {.seq = pg_store_i64(res, row, 2),
                       .time_ms = pg_store_i64(res, row, 3),
                       .hold_seq = pg_store_i64(res, row, 7),
                       .expires_ms = pg_store_i64(res, row, 8)};
    if (model_change_kind_parse(PQgetvalue(res, row, 4), &c.kind) != 0)
        return pg_store__bad_row("a change of the feed has an unknown kind", status);
    pg_store_text(c.event_id, sizeof(c.event_id), res, row, 5);
    pg_store_text(c.ref, sizeof(c.ref), res, row, 6);
    const char *ids = PQgetvalue(res, row, 9);
    size_t len = (size_t)PQgetlength(res, row, 9), pos = 0;
    char id[TIX_SEAT_ID_LEN_MAX];
    int got;
    while ((got = model_seat_ids_next(ids, len, &pos, id)) > 0)
        c.seat_count++;
    if (got < 0) return pg_store__bad_row("a change of the feed has malformed seat_ids", status);
    if (change_page_add(out, &c, ids, len) != 0) return pg_store__bad_row("out of memory", status);
    return 0;
}

int pg_store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                          int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                          int64_t *scanned_to, store_status *status)
{
    store_pg *ss = pg_store_of(s);
    pg_reader *r = pg_store__acquire(ss, status);
    if (!r) return -1;
    pg_params p = {0};
    pg_params_i64(&p, after_seq);
    pg_params_i64(&p, max);
    if (event_id) {
        pg_params_i64(&p, scan_max);
        pg_params_text(&p, event_id);
    }
    PGresult *res =
        pg_store__query_again(ss, r, event_id ? PG_RSQL_FEED_EVENT_AFTER : PG_RSQL_FEED_AFTER, NULL,
                              &p, "read the feed", status);
    int rc = res && PQntuples(res) > 0 ? 0 : -1;
    if (res && rc != 0) pg_store__bad_row("the feed's bounds cannot be read", status);
    store_feed_bounds b = {0, 0};
    uint32_t got = 0;
    if (rc == 0) b = (store_feed_bounds){pg_store_i64(res, 0, 0), pg_store_i64(res, 0, 1)};
    for (int row = 0; rc == 0 && row < PQntuples(res) && !PQgetisnull(res, row, 2); row++) {
        rc = pg_store__change_add(res, row, out, status);
        got++;
    }
    PQclear(res);
    pg_store__release(ss, r);
    int64_t upto = event_id ? after_seq + scan_max : b.head_seq;
    if (upto > b.head_seq) upto = b.head_seq;
    if (bounds) *bounds = b;
    /* a full page may stop short of what was scanned: read on from its last change */
    if (scanned_to && rc == 0)
        *scanned_to =
            got == max ? out->items[out->count - 1].seq : (upto > after_seq ? upto : after_seq);
    return rc;
}
