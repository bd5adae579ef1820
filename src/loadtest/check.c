/* check: see check.h. Bookings are read with up to CHECK_WORKERS_MAX concurrent GETs on the
 * session's client; the seat map is read once per round into an open-addressing table keyed by
 * seat id. Memory: one table entry per seat of the event (at most 1,000,000), one seat id per
 * seat of a confirmed booking, one index per pending booking; all freed before returning. */
#include "loadtest/check.h"

#include "loadtest/responses.h"
#include "util/log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CHECK_WORKERS_MAX = 256,
    CHECK_ROUNDS_MAX = 3,
    CHECK_SETTLE_MS_MAX = 30000,
    CHECK_SETTLE_INTERVAL_MS = 250,
    CHECK_BATCH_MS_MAX = 600000,
};
#define CHECK_ARENA_SEATS_MAX ((uint64_t)16 << 20)
#define CHECK_NOBODY UINT64_MAX

typedef char check__seat_id[TIX_SEAT_ID_LEN_MAX];

typedef struct check__seat {
    check__seat_id id;     /* "" for an empty slot */
    uint8_t status;        /* seat_status */
    uint64_t confirmed_by; /* index of the first confirmed booking with it, or CHECK_NOBODY */
} check__seat;

typedef enum check__mode { CHECK_LOST, CHECK_SETTLE, CHECK_SNAPSHOT, CHECK_RECHECK } check__mode;

typedef struct check__state check__state;

typedef struct check__worker {
    check__state *state;
    loadtest_transfer transfer;
    uint64_t item;
    uint32_t attempts;
} check__worker;

struct check__state {
    loadtest_session *s;
    loadtest_check_result *r;
    check__worker *workers;
    uint32_t worker_count;
    /* the batch of GETs in progress */
    check__mode mode;
    const uint64_t *items; /* NULL: items are 0..count-1 */
    uint64_t count, next, finished, failed;
    /* the snapshot */
    uint64_t *pending; /* booking indices */
    uint64_t pending_count;
    uint64_t *seat_offset; /* [booking_count] into arena, for confirmed bookings */
    uint8_t *seat_count;
    check__seat_id *arena;
    uint64_t arena_len, arena_cap;
    check__seat *seats; /* capacity seat_mask + 1, a power of two */
    uint64_t seat_mask;
    bool changed, arena_full;
};

static void check__violation(loadtest_check_result *r, loadtest_check_kind kind, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));

static void check__violation(loadtest_check_result *r, loadtest_check_kind kind, const char *fmt,
                             ...)
{
    assert(kind < LOADTEST_CHECK_KINDS);
    r->violations++;
    r->violations_by_kind[kind]++;
    if (r->message_count >= LOADTEST_CHECK_MESSAGES_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->messages[r->message_count++], LOADTEST_CHECK_MESSAGE_LEN, fmt, ap);
    va_end(ap);
}

static void check__incomplete(loadtest_check_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void check__incomplete(loadtest_check_result *r, const char *fmt, ...)
{
    if (!r->complete) return; /* keep the first reason */
    r->complete = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->incomplete_reason, sizeof(r->incomplete_reason), fmt, ap);
    va_end(ap);
}

/* ---- the seat table ---- */

static uint64_t check__hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return h;
}

/* The entry of seat id, inserted if `insert` and missing; NULL if missing (or full). */
static check__seat *check__seat_find(check__state *st, const char *id, bool insert)
{
    uint64_t i = check__hash(id) & st->seat_mask;
    for (uint64_t probes = 0; probes <= st->seat_mask; probes++, i = (i + 1) & st->seat_mask) {
        check__seat *e = &st->seats[i];
        if (e->id[0] == '\0') {
            if (!insert) return NULL;
            snprintf(e->id, sizeof(e->id), "%s", id);
            e->confirmed_by = CHECK_NOBODY;
            return e;
        }
        if (strcmp(e->id, id) == 0) return e;
    }
    return NULL;
}

static int check__cmp_seat_id(const void *x, const void *y)
{
    return strcmp(x, y);
}

static bool check__sold_before(const loadtest_session *s, const char *id)
{
    return s->sold_before_count && bsearch(id, s->sold_before, s->sold_before_count,
                                           TIX_SEAT_ID_LEN_MAX, check__cmp_seat_id) != NULL;
}

/* ---- before the run ---- */

int loadtest_check_before(loadtest_session *s)
{
    loadtest_transfer t;
    loadtest_transfer_init(&t, &s->client, NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/seats?status=sold", s->event_path);
    int rc = loadtest_transfer_get_wait(&t, path, LOADTEST_CHECK_SEAT_MAP_BYTES_MAX);
    cJSON *root = rc == 0 && t.status == 200 ? loadtest_response_parse(&t) : NULL;
    const cJSON *seats = cJSON_GetObjectItemCaseSensitive(root, "seats");
    if (!cJSON_IsArray(seats)) {
        log_error("loadtest: GET %s: %s (HTTP %ld)", path,
                  t.status == 0 ? t.curl_error : "unexpected answer", t.status);
        loadtest_json_free(root);
        loadtest_transfer_release(&t);
        return -1;
    }
    int n = cJSON_GetArraySize(seats);
    s->sold_before = calloc(n > 0 ? (size_t)n : 1, TIX_SEAT_ID_LEN_MAX);
    const cJSON *seat;
    cJSON_ArrayForEach(seat, seats)
    {
        const char *id = loadtest_json_string(seat, "id");
        if (!s->sold_before || !id || strlen(id) >= TIX_SEAT_ID_LEN_MAX ||
            s->sold_before_count >= (uint64_t)n)
            continue;
        memcpy(s->sold_before[s->sold_before_count++], id, strlen(id) + 1);
    }
    loadtest_json_free(root);
    loadtest_transfer_release(&t);
    if (!s->sold_before) return log_error("loadtest: out of memory"), -1;
    qsort(s->sold_before, s->sold_before_count, TIX_SEAT_ID_LEN_MAX, check__cmp_seat_id);
    return 0;
}

/* ---- batches of concurrent GETs ---- */

static void check__path(check__state *st, uint64_t item, char *path, size_t size)
{
    if (st->mode == CHECK_LOST)
        snprintf(path, size, "/users/lt-%s-%llu/bookings", st->s->run_id, (unsigned long long)item);
    else
        snprintf(path, size, "/bookings/%s", st->s->bookings[item].id);
}

static int check__consume(check__state *st, uint64_t item, loadtest_transfer *t);
static void check__on_done(loadtest_transfer *t);

static int check__send(check__worker *w)
{
    char path[256];
    check__path(w->state, w->item, path, sizeof(path));
    w->attempts++;
    return loadtest_transfer_get(&w->transfer, path, LOADTEST_RESPONSE_BYTES_MAX, check__on_done);
}

/* Give the worker the next item of the batch, if there is one. */
static void check__next(check__worker *w)
{
    check__state *st = w->state;
    while (st->next < st->count) {
        w->item = st->items ? st->items[st->next] : st->next;
        st->next++;
        w->attempts = 0;
        if (check__send(w) == 0) return;
        log_error("loadtest: check: %s", w->transfer.curl_error);
        st->failed++;
        st->finished++;
    }
}

static void check__on_done(loadtest_transfer *t)
{
    check__worker *w = t->owner;
    check__state *st = w->state;
    bool retryable = (t->status == 0 && !t->response_too_large) || t->status == 503;
    if (retryable && w->attempts <= LOADTEST_RETRIES_MAX && check__send(w) == 0) return;
    if (t->status == 0 || t->status == 503 || check__consume(st, w->item, t) != 0) {
        st->failed++;
        if (st->failed == 1)
            log_error("loadtest: check: GET %s: %s (HTTP %ld)", t->url,
                      t->status == 0 ? t->curl_error : "unexpected answer", t->status);
    }
    st->finished++;
    check__next(w);
}

/* GET every item of the batch, CHECK_WORKERS_MAX at a time. Returns 0, or -1 when some could
 * not be read (the result is then marked incomplete). */
static int check__batch(check__state *st, check__mode mode, const uint64_t *items, uint64_t count)
{
    st->mode = mode;
    st->items = items;
    st->count = count;
    st->next = st->finished = st->failed = 0;
    for (uint32_t i = 0; i < st->worker_count && st->next < count; i++)
        check__next(&st->workers[i]);
    int64_t deadline_us = loadtest_now_us() + (int64_t)CHECK_BATCH_MS_MAX * 1000;
    while (st->finished < count) {
        if (loadtest_client_step(&st->s->client, 100) != 0 || loadtest_now_us() > deadline_us) {
            for (uint32_t i = 0; i < st->worker_count; i++)
                loadtest_transfer_cancel(&st->workers[i].transfer);
            check__incomplete(st->r, "the API did not answer every read in time");
            return -1;
        }
    }
    if (st->failed) {
        check__incomplete(st->r, "%llu of %llu reads over the API failed",
                          (unsigned long long)st->failed, (unsigned long long)count);
        return -1;
    }
    return 0;
}

/* ---- reading answers ---- */

/* A booking of GET /users/{id}/bookings made by a buyer whose checkout answer was lost. */
static void check__consume_lost(check__state *st, const cJSON *root)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "bookings"), *item;
    cJSON_ArrayForEach(item, list)
    {
        const char *event = loadtest_json_string(item, "event_id");
        char id[TIX_BOOKING_ID_LEN + 1];
        if (!event || strcmp(event, st->s->config->event_id) != 0 ||
            loadtest_json_copy_id(item, "id", id) != 0)
            continue;
        int seats = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(item, "seat_ids"));
        if (loadtest_session_track_booking(st->s, id, (uint8_t)seats) != UINT64_MAX)
            st->r->bookings_found_late++;
    }
}

/* Keep the seats of a confirmed booking for the evaluation. */
static void check__keep_seats(check__state *st, uint64_t item, const cJSON *seat_ids)
{
    st->seat_offset[item] = st->arena_len;
    st->seat_count[item] = 0;
    const cJSON *seat;
    cJSON_ArrayForEach(seat, seat_ids)
    {
        if (!cJSON_IsString(seat) || strlen(seat->valuestring) >= TIX_SEAT_ID_LEN_MAX) {
            check__violation(st->r, LOADTEST_CHECK_API, "booking %s has a malformed seat id",
                             st->s->bookings[item].id);
            continue;
        }
        if (st->seat_count[item] == TIX_HOLD_SEATS_MAX) {
            check__violation(st->r, LOADTEST_CHECK_API, "booking %s has more than %d seats",
                             st->s->bookings[item].id, TIX_HOLD_SEATS_MAX);
            return;
        }
        if (st->arena_len == st->arena_cap) {
            uint64_t cap = st->arena_cap ? st->arena_cap * 2 : 4096;
            void *grown = cap <= CHECK_ARENA_SEATS_MAX
                              ? realloc(st->arena, cap * sizeof(check__seat_id))
                              : NULL;
            if (!grown) {
                st->arena_full = true;
                return;
            }
            st->arena = grown;
            st->arena_cap = cap;
        }
        snprintf(st->arena[st->arena_len++], sizeof(check__seat_id), "%s", seat->valuestring);
        st->seat_count[item]++;
    }
}

static int check__consume_booking(check__state *st, uint64_t item, const cJSON *root)
{
    loadtest_booking *b = &st->s->bookings[item];
    booking_status status;
    const char *event = loadtest_json_string(root, "event_id");
    if (model_booking_status_parse(loadtest_json_string(root, "status"), &status) != 0 || !event)
        return -1;
    if (st->mode == CHECK_RECHECK) {
        if (status != b->status) st->changed = true;
        return 0;
    }
    b->status = (uint8_t)status;
    if (st->mode != CHECK_SNAPSHOT) return 0;
    st->r->bookings_read++;
    if (strcmp(event, st->s->config->event_id) != 0)
        check__violation(st->r, LOADTEST_CHECK_API, "booking %s is for event %s", b->id, event);
    if (status == BOOKING_CONFIRMED)
        check__keep_seats(st, item, cJSON_GetObjectItemCaseSensitive(root, "seat_ids"));
    return 0;
}

static int check__consume(check__state *st, uint64_t item, loadtest_transfer *t)
{
    if (t->status == 404 && st->mode != CHECK_LOST) {
        loadtest_booking *b = &st->s->bookings[item];
        if (st->mode == CHECK_SNAPSHOT)
            check__violation(st->r, LOADTEST_CHECK_API,
                             "booking %s was acknowledged (202) but is not found (404)", b->id);
        if (st->mode == CHECK_RECHECK)
            st->changed |= b->status != BOOKING_CANCELLED;
        else
            b->status = BOOKING_CANCELLED; /* it holds no seat either way */
        return 0;
    }
    cJSON *root = t->status == 200 ? loadtest_response_parse(t) : NULL;
    int rc = -1;
    if (root && st->mode == CHECK_LOST) {
        check__consume_lost(st, root);
        rc = 0;
    } else if (root) {
        rc = check__consume_booking(st, item, root);
    }
    loadtest_json_free(root);
    return rc;
}

/* ---- the seat map ---- */

/* Read the full seat map into the table. Returns 0 or -1 (result marked incomplete). */
static int check__read_seat_map(check__state *st)
{
    loadtest_check_result *r = st->r;
    loadtest_transfer *t = &st->workers[0].transfer;
    char path[128];
    snprintf(path, sizeof(path), "%s/seats", st->s->event_path);
    int rc = loadtest_transfer_get_wait(t, path, LOADTEST_CHECK_SEAT_MAP_BYTES_MAX);
    cJSON *root = rc == 0 && t->status == 200 ? loadtest_response_parse(t) : NULL;
    loadtest_transfer_trim(t);
    const cJSON *seats = cJSON_GetObjectItemCaseSensitive(root, "seats"), *seat;
    if (!cJSON_IsArray(seats)) {
        check__incomplete(r, "GET %s failed: %s (HTTP %ld)", path,
                          t->status == 0 ? t->curl_error : "unexpected answer", t->status);
        loadtest_json_free(root);
        return -1;
    }
    uint64_t n = (uint64_t)cJSON_GetArraySize(seats), capacity = 1024;
    while (capacity < 2 * n)
        capacity *= 2;
    free(st->seats);
    st->seats = calloc(capacity, sizeof(check__seat));
    st->seat_mask = capacity - 1;
    r->seats_total = r->seats_sold = r->seats_held = r->seats_available = 0;
    cJSON_ArrayForEach(seat, seats)
    {
        const char *id = loadtest_json_string(seat, "id");
        seat_status status;
        if (!st->seats) break;
        if (!id || strlen(id) == 0 || strlen(id) >= TIX_SEAT_ID_LEN_MAX ||
            model_seat_status_parse(loadtest_json_string(seat, "status"), &status) != 0) {
            check__violation(r, LOADTEST_CHECK_API, "the seat map has a malformed seat");
            continue;
        }
        if (check__seat_find(st, id, false)) {
            check__violation(r, LOADTEST_CHECK_API, "seat %s is listed twice in the seat map", id);
            continue;
        }
        check__seat *e = check__seat_find(st, id, true);
        assert(e); /* the table has room for twice the seats */
        e->status = (uint8_t)status;
        r->seats_total++;
        r->seats_sold += status == SEAT_SOLD;
        r->seats_held += status == SEAT_HELD;
        r->seats_available += status == SEAT_AVAILABLE;
    }
    loadtest_json_free(root);
    if (!st->seats) return check__incomplete(r, "out of memory for the seat map"), -1;
    return 0;
}

/* ---- the rounds ---- */

/* Indices of the bookings still pending_payment. */
static void check__collect_pending(check__state *st)
{
    st->pending_count = 0;
    for (uint64_t i = 0; i < st->s->booking_count; i++)
        if (st->s->bookings[i].status == BOOKING_PENDING_PAYMENT)
            st->pending[st->pending_count++] = i;
}

/* Wait, bounded, until no booking of the run is pending_payment any more. */
static void check__settle(check__state *st)
{
    int64_t deadline_us = loadtest_now_us() + (int64_t)CHECK_SETTLE_MS_MAX * 1000;
    for (check__collect_pending(st); st->pending_count > 0; check__collect_pending(st)) {
        if (loadtest_now_us() >= deadline_us) break;
        loadtest_client_step(&st->s->client, CHECK_SETTLE_INTERVAL_MS);
        if (check__batch(st, CHECK_SETTLE, st->pending, st->pending_count) != 0) return;
    }
}

/* One snapshot: every booking, the seat map, the pending bookings again. Returns 0 when the
 * snapshot is consistent, 1 when a pending booking changed meanwhile, -1 on failure. */
static int check__snapshot(check__state *st)
{
    st->arena_len = 0;
    st->arena_full = false;
    loadtest_check_result *r = st->r;
    r->bookings_read = 0;
    r->violations = 0; /* a new round judges a new snapshot */
    memset(r->violations_by_kind, 0, sizeof(r->violations_by_kind));
    r->message_count = 0;
    if (check__batch(st, CHECK_SNAPSHOT, NULL, st->s->booking_count) != 0) return -1;
    if (st->arena_full) return check__incomplete(r, "too many booked seats to check"), -1;
    check__collect_pending(st);
    if (check__read_seat_map(st) != 0) return -1;
    st->changed = false;
    if (check__batch(st, CHECK_RECHECK, st->pending, st->pending_count) != 0) return -1;
    return st->changed ? 1 : 0;
}

/* The invariants over a consistent snapshot. */
static void check__evaluate(check__state *st)
{
    loadtest_session *s = st->s;
    loadtest_check_result *r = st->r;
    for (uint64_t i = 0; i < s->booking_count; i++) {
        const loadtest_booking *b = &s->bookings[i];
        r->confirmed += b->status == BOOKING_CONFIRMED;
        r->payment_failed += b->status == BOOKING_PAYMENT_FAILED;
        r->cancelled += b->status == BOOKING_CANCELLED;
        r->pending += b->status == BOOKING_PENDING_PAYMENT;
        if (b->status != BOOKING_CONFIRMED) continue;
        for (uint64_t k = 0; k < st->seat_count[i]; k++) {
            const char *seat = st->arena[st->seat_offset[i] + k];
            check__seat *e = check__seat_find(st, seat, false);
            if (!e) {
                check__violation(r, LOADTEST_CHECK_NOT_SOLD,
                                 "seat %s of confirmed booking %s is not in the seat map", seat,
                                 b->id);
                continue;
            }
            if (e->confirmed_by != CHECK_NOBODY)
                check__violation(r, LOADTEST_CHECK_SOLD_TWICE,
                                 "seat %s is in two confirmed bookings: %s and %s", seat,
                                 s->bookings[e->confirmed_by].id, b->id);
            else
                e->confirmed_by = i, r->confirmed_seats++;
            if (e->status != SEAT_SOLD)
                check__violation(r, LOADTEST_CHECK_NOT_SOLD,
                                 "seat %s of confirmed booking %s is %s, not sold", seat, b->id,
                                 model_seat_status_name((seat_status)e->status));
            if (check__sold_before(s, seat))
                check__violation(r, LOADTEST_CHECK_SOLD_TWICE,
                                 "seat %s was sold before the run and again to booking %s", seat,
                                 b->id);
        }
    }
    r->equality_checked = s->sold_before_count == 0;
    if (!r->equality_checked) return;
    for (uint64_t i = 0; i <= st->seat_mask; i++) {
        const check__seat *e = &st->seats[i];
        if (e->id[0] && e->status == SEAT_SOLD && e->confirmed_by == CHECK_NOBODY)
            check__violation(r, LOADTEST_CHECK_EXTRA_SOLD,
                             "seat %s is sold but in no confirmed booking of this run", e->id);
    }
}

static int check__state_init(check__state *st, loadtest_session *s, loadtest_check_result *r)
{
    memset(st, 0, sizeof(*st));
    st->s = s;
    st->r = r;
    st->worker_count =
        s->config->concurrency < CHECK_WORKERS_MAX ? s->config->concurrency : CHECK_WORKERS_MAX;
    st->workers = calloc(st->worker_count, sizeof(*st->workers));
    if (!st->workers) return -1;
    for (uint32_t i = 0; i < st->worker_count; i++) {
        st->workers[i].state = st;
        loadtest_transfer_init(&st->workers[i].transfer, &s->client, &st->workers[i]);
    }
    return 0;
}

/* Size the per-booking arrays once the list of bookings is final. */
static int check__state_size(check__state *st)
{
    uint64_t n = st->s->booking_count ? st->s->booking_count : 1;
    st->pending = calloc(n, sizeof(uint64_t));
    st->seat_offset = calloc(n, sizeof(uint64_t));
    st->seat_count = calloc(n, sizeof(uint8_t));
    return st->pending && st->seat_offset && st->seat_count ? 0 : -1;
}

static void check__state_free(check__state *st)
{
    for (uint32_t i = 0; st->workers && i < st->worker_count; i++)
        loadtest_transfer_release(&st->workers[i].transfer);
    free(st->workers);
    free(st->pending);
    free(st->seat_offset);
    free(st->seat_count);
    free(st->arena);
    free(st->seats);
}

int loadtest_check_run(loadtest_session *s, loadtest_check_result *r)
{
    assert(s->active == 0);
    memset(r, 0, sizeof(*r));
    r->complete = true;
    check__state st;
    if (check__state_init(&st, s, r) != 0) {
        check__state_free(&st);
        check__incomplete(r, "out of memory");
        return -1;
    }
    if (s->lost_count > 0) check__batch(&st, CHECK_LOST, s->lost_checkouts, s->lost_count);
    if (s->bookings_overflow) check__incomplete(r, "more bookings than the load tester tracks");
    int rc = check__state_size(&st) == 0 ? 0 : -1;
    if (rc != 0) check__incomplete(r, "out of memory");
    if (rc == 0) check__settle(&st);
    for (int round = 1; rc == 0; round++) {
        int snapshot = check__snapshot(&st);
        if (snapshot == 1 && round < CHECK_ROUNDS_MAX) continue;
        rc = snapshot;
        break;
    }
    if (rc == 1) check__incomplete(r, "bookings kept changing while the snapshot was read");
    if (rc == 0) check__evaluate(&st);
    check__state_free(&st);
    return r->complete && r->violations == 0 ? 0 : -1;
}
