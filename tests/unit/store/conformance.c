/* conformance: the store contract (store/store.h), case by case; see conformance.h.
 *
 * Every check goes through the interface: outcomes of commands, the batch's changes, the feed
 * read back, snapshots and committed reads. Nothing here knows which backend runs. */
#include "conformance.h"

#include "../fixtures.h"
#include "../test.h"
#include "util/ids.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const int64_t cf_t0_ms = 1800000000000; /* 2027-01-15: the cases' clock starts here */

/* ---- a database under test ---- */

typedef struct cf_db {
    const conformance_backend *b;
    char where[512];
    store *st; /* the first handle; others come from cf_handle */
    store *more[4];
    unsigned more_count;
    store_rules rules;
    char node[TIX_NODE_ID_LEN_MAX + 1];
    int64_t now_ms;
    store_batch batch;
    change_page page; /* cf_changes' result */
} cf_db;

static void cf_close(void *arg)
{
    cf_db *db = arg;
    for (unsigned i = 0; i < db->more_count; i++)
        store_close(db->more[i]);
    store_close(db->st);
    change_page_free(&db->batch.changes);
    change_page_free(&db->page);
    free(db);
}

/* A fresh database and a first handle on it (closed when the test ends); NULL after a failed
 * assertion. */
static cf_db *cf_open_with(const conformance_backend *b, unsigned busy_timeout_ms)
{
    cf_db *db = calloc(1, sizeof(*db));
    change_page_init(&db->batch.changes);
    change_page_init(&db->page);
    test_defer(cf_close, db);
    db->b = b;
    db->rules = (store_rules){.user_seats_max = 0,
                              .checkout_timeout_s = 900,
                              .max_attempts = 3,
                              .lease_ms = 30000,
                              .idempotency_ttl_s = 86400,
                              .feed_retain = 1000000};
    snprintf(db->node, sizeof(db->node), "node-a");
    db->now_ms = cf_t0_ms;
    if (b->fresh(b->ctx, db->where, sizeof(db->where)) != 0) {
        test_fail(__FILE__, __LINE__, "%s: no fresh database", b->name);
        return NULL;
    }
    db->st = b->open(b->ctx, db->where, busy_timeout_ms);
    return db->st ? db : NULL;
}

static cf_db *cf_open(const conformance_backend *b)
{
    return cf_open_with(b, 0);
}

/* Another handle on the same database: another writer (closed with db). */
static store *cf_handle(cf_db *db)
{
    if (db->more_count == sizeof(db->more) / sizeof(db->more[0])) return NULL;
    store *st = db->b->open(db->b->ctx, db->where, 0);
    if (st) db->more[db->more_count++] = st;
    return st;
}

/* Run cmds[0..n) as one batch on st at db->now_ms, the batch in *batch (its changes kept). */
static store_status cf_run_on(cf_db *db, store *st, store_batch *batch, store_cmd **cmds,
                              uint32_t n)
{
    batch->now_ms = db->now_ms;
    batch->rules = &db->rules;
    batch->node_id = db->node;
    batch->cmds = cmds;
    batch->count = n;
    return store_batch_run(st, batch);
}

static store_status cf_run(cf_db *db, store_cmd **cmds, uint32_t n)
{
    return cf_run_on(db, db->st, &db->batch, cmds, n);
}

/* Run one command alone; the batch must commit. Returns the command's rc. */
static tix_rc cf_run1(cf_db *db, store_cmd *cmd)
{
    store_status status = cf_run(db, &cmd, 1);
    if (status != STORE_OK) {
        test_fail(__FILE__, __LINE__, "a batch of one %d command failed: %s", cmd->kind,
                  store_status_name(status));
        return (tix_rc)-1;
    }
    return cmd->rc;
}

/* ---- commands ---- */

static store_cmd *cf_cmd(store_cmd_kind kind)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    test_defer(free, cmd);
    store_cmd_init(cmd, kind);
    return cmd;
}

/* Event id: section Floor (5000 cents) rows A, B of 4 seats; section Balcony (2500) row C of
 * 2 seats. */
static store_cmd *cf_event_cmd(const char *id, int32_t hold_ttl_s, int32_t max_seats)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_EVENT_CREATE);
    event_spec *spec = &cmd->u.event_create.spec;
    fx_spec_init(spec, id, hold_ttl_s, max_seats);
    static const char *const floor_rows[] = {"A", "B"}, *const balcony_rows[] = {"C"};
    fx_spec_add_section(spec, "Floor", 5000, 4, floor_rows, 2);
    fx_spec_add_section(spec, "Balcony", 2500, 2, balcony_rows, 1);
    test_defer((void (*)(void *))model_event_spec_free, spec);
    return cmd;
}

static void cf_event(cf_db *db, const char *id, int32_t hold_ttl_s, int32_t max_seats)
{
    store_cmd *cmd = cf_event_cmd(id, hold_ttl_s, max_seats);
    tix_rc rc = cf_run1(db, cmd);
    if (rc != TIX_RC_OK) test_fail(__FILE__, __LINE__, "creating event %s: rc %d", id, rc);
}

/* A fresh database with event e1 (cf_event's, holds of 600 s, 10 seats a buyer), the first
 * handle in db and a second writer's in *other; NULL after a failed assertion. */
static cf_db *cf_open_two_writers(const conformance_backend *b, store **other)
{
    cf_db *db = cf_open(b);
    *other = db ? cf_handle(db) : NULL;
    if (!*other) {
        test_fail(__FILE__, __LINE__, "%s: no second handle", b->name);
        return NULL;
    }
    cf_event(db, "e1", 600, 10);
    return test_failed() ? NULL : db;
}

/* A hold command of seats "A1,B2" for user in event. */
static store_cmd *cf_hold_cmd(const char *event_id, const char *user, const char *seats)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_HOLD);
    hold_record *h = &cmd->u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", event_id);
    snprintf(h->user_id, sizeof(h->user_id), "%s", user);
    char list[256];
    snprintf(list, sizeof(list), "%s", seats);
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        snprintf(h->seat_ids[h->seat_count++], TIX_SEAT_ID_LEN_MAX, "%s", p);
    return cmd;
}

static store_cmd *cf_hold(cf_db *db, const char *event_id, const char *user, const char *seats)
{
    store_cmd *cmd = cf_hold_cmd(event_id, user, seats);
    cf_run1(db, cmd);
    return cmd;
}

static store_cmd *cf_release(cf_db *db, const char *hold_id, const char *actor)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_RELEASE);
    snprintf(cmd->u.release.hold.id, sizeof(cmd->u.release.hold.id), "%s", hold_id);
    snprintf(cmd->u.release.actor, sizeof(cmd->u.release.actor), "%s", actor ? actor : "");
    cf_run1(db, cmd);
    return cmd;
}

static store_cmd *cf_checkout(cf_db *db, const char *hold_id, const char *actor)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_CHECKOUT);
    store_checkout *in = &cmd->u.checkout;
    snprintf(in->hold_id, sizeof(in->hold_id), "%s", hold_id);
    snprintf(in->actor, sizeof(in->actor), "%s", actor ? actor : "");
    snprintf(in->booking.payment_token, sizeof(in->booking.payment_token), "tok_visa");
    snprintf(in->booking.email, sizeof(in->booking.email), "buyer@example.com");
    cf_run1(db, cmd);
    return cmd;
}

/* A payment (or, with refund, a refund) outcome for booking_id. */
static store_cmd *cf_paid(cf_db *db, const char *booking_id, bool refund, bool ok,
                          const char *payment_id, int64_t delivery_seq)
{
    store_cmd *cmd = cf_cmd(refund ? STORE_CMD_REFUND : STORE_CMD_PAYMENT);
    store_payment *p = &cmd->u.payment;
    snprintf(p->booking_id, sizeof(p->booking_id), "%s", booking_id);
    p->ok = ok;
    snprintf(p->payment_id, sizeof(p->payment_id), "%s", payment_id ? payment_id : "");
    p->delivery_seq = delivery_seq;
    cf_run1(db, cmd);
    return cmd;
}

static store_cmd *cf_cancel(cf_db *db, const char *booking_id, const char *actor)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_CANCEL);
    snprintf(cmd->u.cancel.booking.id, sizeof(cmd->u.cancel.booking.id), "%s", booking_id);
    snprintf(cmd->u.cancel.actor, sizeof(cmd->u.cancel.actor), "%s", actor ? actor : "");
    cf_run1(db, cmd);
    return cmd;
}

static store_cmd *cf_sweep(cf_db *db)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_SWEEP);
    cmd->u.sweep.holds_max = 100;
    cf_run1(db, cmd);
    return cmd;
}

/* Claim up to max deliveries for db->node; they land in out (capacity max). */
static uint32_t cf_claim(cf_db *db, delivery_record *out, uint32_t max)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_CLAIM);
    cmd->u.claim.max = max;
    cmd->u.claim.out = out;
    if (cf_run1(db, cmd) != TIX_RC_OK) test_fail(__FILE__, __LINE__, "claim: rc %d", cmd->rc);
    return cmd->u.claim.count;
}

/* Claim what is due and return the seq of the delivery of `type` about aggregate (0: none). */
static int64_t cf_claim_for(cf_db *db, const char *type, const char *aggregate)
{
    delivery_record d[16];
    uint32_t n = cf_claim(db, d, 16);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(d[i].event.type, type) == 0 && strcmp(d[i].event.aggregate_id, aggregate) == 0)
            return d[i].seq;
    return 0;
}

static tix_rc cf_delivery(cf_db *db, int64_t seq, store_delivery_outcome outcome,
                          int64_t next_attempt_ms, const char *error)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_DELIVERY);
    cmd->u.delivery.seq = seq;
    cmd->u.delivery.outcome = outcome;
    cmd->u.delivery.next_attempt_ms = next_attempt_ms;
    snprintf(cmd->u.delivery.error, sizeof(cmd->u.delivery.error), "%s", error ? error : "");
    return cf_run1(db, cmd);
}

static store_cmd *cf_subscriber_cmd(const char *id, const char *pattern)
{
    store_cmd *cmd = cf_cmd(STORE_CMD_SUBSCRIBER_ADD);
    subscriber_record *sub = &cmd->u.subscriber_add.sub;
    snprintf(sub->id, sizeof(sub->id), "%s", id);
    sub->kind = SUBSCRIBER_WEBHOOK;
    snprintf(sub->url, sizeof(sub->url), "http://127.0.0.1:9/hook");
    sub->pattern_count = 1;
    snprintf(sub->patterns[0], sizeof(sub->patterns[0]), "%s", pattern);
    return cmd;
}

/* ---- reading back ---- */

typedef struct cf_seat {
    char event_id[TIX_EVENT_ID_LEN_MAX + 1];
    char seat_id[TIX_SEAT_ID_LEN_MAX];
    seat_status status;
    int64_t hold_seq, expires_ms;
} cf_seat;

typedef struct cf_snap {
    int64_t position;
    uint32_t event_count, seat_count;
    char events[16][TIX_EVENT_ID_LEN_MAX + 1];
    char current[TIX_EVENT_ID_LEN_MAX + 1];
    cf_seat seats[512];
} cf_snap;

static int cf_snap_event(void *ctx, event_spec *spec)
{
    cf_snap *s = ctx;
    if (s->event_count == 16) return -1;
    snprintf(s->events[s->event_count++], TIX_EVENT_ID_LEN_MAX + 1, "%s", spec->id);
    snprintf(s->current, sizeof(s->current), "%s", spec->id);
    return 0;
}

static int cf_snap_seat(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                        int64_t expires_ms)
{
    cf_snap *s = ctx;
    if (s->seat_count == 512) return -1;
    cf_seat *seat = &s->seats[s->seat_count++];
    snprintf(seat->event_id, sizeof(seat->event_id), "%s", s->current);
    snprintf(seat->seat_id, sizeof(seat->seat_id), "%s", seat_id);
    seat->status = status;
    seat->hold_seq = hold_seq;
    seat->expires_ms = expires_ms;
    return 0;
}

static cf_snap *cf_snapshot_of(store *st)
{
    cf_snap *s = calloc(1, sizeof(*s));
    test_defer(free, s);
    store_snapshot_cb cb = {.event = cf_snap_event, .seat = cf_snap_seat, .ctx = s};
    store_status status = STORE_OK;
    if (store_snapshot_load(st, &cb, &s->position, &status) != 0)
        test_fail(__FILE__, __LINE__, "snapshot: %s", store_status_name(status));
    return s;
}

/* A seat as a snapshot has it (available: not listed). */
static cf_seat cf_seat_in(const cf_snap *s, const char *event_id, const char *seat_id)
{
    for (uint32_t i = 0; i < s->seat_count; i++)
        if (strcmp(s->seats[i].event_id, event_id) == 0 &&
            strcmp(s->seats[i].seat_id, seat_id) == 0)
            return s->seats[i];
    cf_seat free_seat = {.status = SEAT_AVAILABLE};
    return free_seat;
}

static cf_seat cf_seat_now(cf_db *db, const char *event_id, const char *seat_id)
{
    return cf_seat_in(cf_snapshot_of(db->st), event_id, seat_id);
}

/* Changes after `after` (at most 1000), in db->page. */
static const change_page *cf_changes(cf_db *db, int64_t after, store_feed_bounds *bounds)
{
    change_page_reset(&db->page);
    store_feed_bounds b;
    store_status status = STORE_OK;
    if (store_changes_read(db->st, after, 1000, NULL, 0, &db->page, &b, NULL, &status) != 0)
        test_fail(__FILE__, __LINE__, "changes_read: %s", store_status_name(status));
    if (bounds) *bounds = b;
    return &db->page;
}

static int64_t cf_head(cf_db *db)
{
    store_feed_bounds b = {0, 0};
    cf_changes(db, 0, &b);
    return b.head_seq;
}

/* Is change c of page p of this kind, about hold_seq, with exactly these seats ("A1,B2")? */
static bool cf_change_is(const change_page *p, const change_record *c, change_kind kind,
                         int64_t hold_seq, const char *seats)
{
    char want[256] = "[";
    char list[200];
    snprintf(list, sizeof(list), "%s", seats);
    int n = 0;
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s; s = strtok_r(NULL, ",", &save))
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\"%s\"", n++ ? "," : "", s);
    strcat(want, "]");
    size_t len;
    const char *got = change_page_seats(p, c, &len);
    bool same = c->kind == kind && c->hold_seq == hold_seq && len == strlen(want) &&
                memcmp(got, want, len) == 0 && c->seat_count == (uint32_t)n;
    if (!same)
        test_note("change %lld: kind %s hold %lld seats %.*s; want %s %lld %s", (long long)c->seq,
                  model_change_kind_name(c->kind), (long long)c->hold_seq, (int)len, got,
                  model_change_kind_name(kind), (long long)hold_seq, want);
    return same;
}

static hold_record cf_hold_read(cf_db *db, const char *id, bool *found)
{
    hold_record h;
    memset(&h, 0, sizeof(h));
    if (store_hold_get(db->st, id, &h, found, NULL) != 0) test_fail(__FILE__, __LINE__, "hold_get");
    return h;
}

static booking_record cf_booking_read(cf_db *db, const char *id)
{
    booking_record bk;
    memset(&bk, 0, sizeof(bk));
    bool found = false;
    if (store_booking_get(db->st, id, &bk, &found, NULL) != 0 || !found)
        test_fail(__FILE__, __LINE__, "booking %s not found", id);
    return bk;
}

/* ---- the cases ---- */

void conformance_hold_commits_the_hold_its_seats_its_outbox_row_and_its_change(
    const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    int64_t head = cf_head(db);
    ASSERT_GT(head, 0); /* the event's own change */
    store_cmd *cmd = cf_hold(db, "e1", "alice", "A1,B2");
    ASSERT_EQ_INT(cmd->rc, TIX_RC_OK);
    const hold_record *h = &cmd->u.hold.hold;
    ASSERT_TRUE(ids_is_valid_hex(h->id, strlen(h->id)));
    ASSERT_GT(h->seq, 0);
    ASSERT_EQ_INT(h->status, HOLD_ACTIVE);
    ASSERT_EQ_INT(h->created_at_ms, db->now_ms);
    ASSERT_EQ_INT(h->expires_at_ms, db->now_ms + 600 * 1000); /* the event's ttl, from the store */
    /* the batch's changes, and the feed read back */
    ASSERT_EQ_INT(db->batch.feed_before, head);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    const change_record *mine = &db->batch.changes.items[0];
    ASSERT_EQ_INT(mine->seq, head + 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, mine, CHANGE_HELD, h->seq, "A1,B2"));
    ASSERT_EQ_INT(mine->expires_ms, h->expires_at_ms);
    ASSERT_EQ_STR(mine->event_id, "e1");
    const change_page *p = cf_changes(db, head, NULL);
    ASSERT_EQ_INT(p->count, 1);
    ASSERT_EQ_INT(p->items[0].seq, head + 1);
    ASSERT_TRUE(cf_change_is(p, &p->items[0], CHANGE_HELD, h->seq, "A1,B2"));
    ASSERT_EQ_INT(p->items[0].time_ms, db->now_ms);
    /* the committed hold and seats */
    bool found = false;
    hold_record got = cf_hold_read(db, h->id, &found);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(got.seq, h->seq);
    ASSERT_EQ_STR(got.user_id, "alice");
    ASSERT_EQ_INT(got.seat_count, 2);
    ASSERT_EQ_STR(got.seat_ids[1], "B2");
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(s->position, head + 1);
    cf_seat a1 = cf_seat_in(s, "e1", "A1");
    ASSERT_EQ_INT(a1.status, SEAT_HELD);
    ASSERT_EQ_INT(a1.hold_seq, h->seq);
    ASSERT_EQ_INT(a1.expires_ms, h->expires_at_ms);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(s->seat_count, 2);
}

void conformance_conflicting_holds_in_one_batch_are_decided_in_order(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *x = cf_hold_cmd("e1", "x", "A1,A2"), *y = cf_hold_cmd("e1", "y", "A3,A2"),
              *z = cf_hold_cmd("e1", "z", "A4");
    store_cmd *cmds[] = {x, y, z};
    ASSERT_EQ_INT(cf_run(db, cmds, 3), STORE_OK);
    ASSERT_EQ_INT(x->rc, TIX_RC_OK);
    ASSERT_EQ_INT(y->rc, TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(y->u.hold.taken_count, 1);
    ASSERT_EQ_INT(y->u.hold.taken[0], 1); /* A2, the second seat y asked for */
    ASSERT_EQ_INT(z->rc, TIX_RC_OK);
    ASSERT_EQ_INT(db->batch.changes.count, 2); /* the refused hold changed nothing */
    ASSERT_EQ_INT(db->batch.changes.items[1].seq, db->batch.changes.items[0].seq + 1);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").hold_seq, x->u.hold.hold.seq);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A3").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A4").hold_seq, z->u.hold.hold.seq);
    bool found = true;
    cf_hold_read(db, y->u.hold.hold.id, &found);
    ASSERT_FALSE(found); /* no trace of the refused hold */
}

void conformance_a_multi_seat_hold_is_all_or_nothing(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    ASSERT_EQ_INT(cf_hold(db, "e1", "a", "A2")->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_hold(db, "e1", "b", "B4")->rc, TIX_RC_OK);
    int64_t head = cf_head(db);
    store_cmd *many = cf_hold(db, "e1", "c", "A1,A2,A3,B4,C1");
    ASSERT_EQ_INT(many->rc, TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(many->u.hold.taken_count, 2);
    ASSERT_EQ_INT(many->u.hold.taken[0], 1);
    ASSERT_EQ_INT(many->u.hold.taken[1], 3);
    ASSERT_EQ_INT(cf_head(db), head);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(s->seat_count, 2);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A1").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "C1").status, SEAT_AVAILABLE);
}

void conformance_hold_limits_are_outcomes_and_write_nothing(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 2)); /* at most 2 seats a hold */
    db->rules.user_seats_max = 3;
    int64_t head = cf_head(db);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A1,A2,A3")->rc, TIX_RC_TOO_MANY_SEATS);
    ASSERT_EQ_INT(cf_hold(db, "nope", "u", "A1")->rc, TIX_RC_EVENT_NOT_FOUND);
    store_cmd *first = cf_hold(db, "e1", "u", "A1,A2");
    ASSERT_EQ_INT(first->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "B1,B2")->rc, TIX_RC_USER_LIMIT); /* 4 > 3 */
    ASSERT_EQ_INT(cf_hold(db, "e1", "other", "B1,B2")->rc, TIX_RC_OK);     /* per buyer */
    ASSERT_EQ_INT(cf_head(db), head + 2);
    /* a released hold no longer counts, nor does a lapsed one */
    ASSERT_EQ_INT(cf_release(db, first->u.hold.hold.id, NULL)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A3,A4")->rc, TIX_RC_OK);
    db->now_ms += 601 * 1000;
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "C1,C2")->rc, TIX_RC_OK);
}

void conformance_release_frees_the_seats_once_and_only_for_its_buyer(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *h = cf_hold(db, "e1", "alice", "A1,C2");
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    const char *id = h->u.hold.hold.id;
    ASSERT_EQ_INT(cf_release(db, id, "mallory")->rc, TIX_RC_FORBIDDEN);
    db->now_ms += 1000;
    store_cmd *r = cf_release(db, id, "alice");
    ASSERT_EQ_INT(r->rc, TIX_RC_OK);
    ASSERT_EQ_INT(r->u.release.hold.status, HOLD_RELEASED);
    ASSERT_EQ_INT(r->u.release.hold.ended_at_ms, db->now_ms);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_RELEASED,
                             h->u.hold.hold.seq, "A1,C2"));
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A1").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_release(db, id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    char unknown[IDS_HEX_LEN + 1];
    ids_random_hex(unknown);
    ASSERT_EQ_INT(cf_release(db, unknown, NULL)->rc, TIX_RC_HOLD_NOT_FOUND);
    bool found;
    ASSERT_EQ_INT(cf_hold_read(db, id, &found).status, HOLD_RELEASED);
    ASSERT_EQ_INT(cf_hold(db, "e1", "bob", "A1")->rc, TIX_RC_OK); /* free again */
}

void conformance_the_sweep_expires_lapsed_holds(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 60, 10));
    store_cmd *h = cf_hold(db, "e1", "u", "B1,B2");
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    db->now_ms += 30 * 1000;
    ASSERT_EQ_INT(cf_sweep(db)->u.sweep.expired, 0);
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    db->now_ms += 31 * 1000;
    ASSERT_EQ_INT(cf_sweep(db)->u.sweep.expired, 1);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_EXPIRED,
                             h->u.hold.hold.seq, "B1,B2"));
    bool found;
    hold_record got = cf_hold_read(db, h->u.hold.hold.id, &found);
    ASSERT_EQ_INT(got.status, HOLD_EXPIRED);
    ASSERT_EQ_INT(got.ended_at_ms, db->now_ms);
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "B1").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_release(db, h->u.hold.hold.id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(cf_sweep(db)->u.sweep.expired, 0); /* once */
}

void conformance_a_hold_on_a_lapsed_seat_expires_the_old_hold_first(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 60, 10));
    store_cmd *old = cf_hold(db, "e1", "old", "A1,A2");
    ASSERT_EQ_INT(old->rc, TIX_RC_OK);
    db->now_ms += 61 * 1000; /* lapsed, not swept */
    ASSERT_EQ_INT(cf_release(db, old->u.hold.hold.id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
    store_cmd *fresh = cf_hold(db, "e1", "new", "A1");
    ASSERT_EQ_INT(fresh->rc, TIX_RC_OK);
    const change_page *p = &db->batch.changes;
    ASSERT_EQ_INT(p->count, 2);
    ASSERT_TRUE(cf_change_is(p, &p->items[0], CHANGE_EXPIRED, old->u.hold.hold.seq, "A1,A2"));
    ASSERT_TRUE(cf_change_is(p, &p->items[1], CHANGE_HELD, fresh->u.hold.hold.seq, "A1"));
    ASSERT_EQ_INT(p->items[1].seq, p->items[0].seq + 1);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A1").hold_seq, fresh->u.hold.hold.seq);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").status, SEAT_AVAILABLE);
    bool found;
    ASSERT_EQ_INT(cf_hold_read(db, old->u.hold.hold.id, &found).status, HOLD_EXPIRED);
}

void conformance_checkout_prices_the_booking_from_the_store_and_freezes_the_hold(
    const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *h = cf_hold(db, "e1", "alice", "A1,C1");
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    const char *hold_id = h->u.hold.hold.id;
    ASSERT_EQ_INT(cf_checkout(db, hold_id, "mallory")->rc, TIX_RC_FORBIDDEN);
    db->now_ms += 5000;
    store_cmd *co = cf_checkout(db, hold_id, "alice");
    ASSERT_EQ_INT(co->rc, TIX_RC_OK);
    const booking_record *bk = &co->u.checkout.booking;
    ASSERT_TRUE(ids_is_valid_hex(bk->id, strlen(bk->id)));
    ASSERT_EQ_INT(bk->amount_cents, 5000 + 2500); /* Floor + Balcony, from the store */
    ASSERT_EQ_INT(bk->status, BOOKING_PENDING_PAYMENT);
    ASSERT_EQ_STR(bk->hold_id, hold_id);
    ASSERT_EQ_STR(bk->user_id, "alice");
    ASSERT_EQ_INT(bk->checkout_deadline_ms, db->now_ms + 900 * 1000);
    ASSERT_EQ_INT(bk->seat_count, 2);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    const change_record *c = &db->batch.changes.items[0];
    ASSERT_TRUE(cf_change_is(&db->batch.changes, c, CHANGE_CHECKOUT, h->u.hold.hold.seq, "A1,C1"));
    ASSERT_EQ_INT(c->expires_ms, bk->checkout_deadline_ms);
    booking_record got = cf_booking_read(db, bk->id);
    ASSERT_EQ_INT(got.amount_cents, 7500);
    ASSERT_EQ_STR(got.email, "buyer@example.com");
    bool found;
    hold_record frozen = cf_hold_read(db, hold_id, &found);
    ASSERT_EQ_INT(frozen.status, HOLD_CHECKOUT);
    ASSERT_EQ_INT(frozen.expires_at_ms, bk->checkout_deadline_ms);
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A1").expires_ms, bk->checkout_deadline_ms);
    ASSERT_EQ_INT(cf_release(db, hold_id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(cf_checkout(db, hold_id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
    /* the payment subscriber gets CheckoutStarted */
    delivery_record d[4];
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_STR(d[0].subscriber_id, "payment");
    ASSERT_EQ_STR(d[0].event.type, "CheckoutStarted");
    ASSERT_EQ_STR(d[0].event.aggregate_id, bk->id);
    /* a lapsed hold cannot be checked out */
    store_cmd *late = cf_hold(db, "e1", "bob", "B1");
    db->now_ms += 601 * 1000;
    ASSERT_EQ_INT(cf_checkout(db, late->u.hold.hold.id, NULL)->rc, TIX_RC_HOLD_NOT_ACTIVE);
}

/* A hold of seats checked out by alice; the booking's id into booking_id. */
static store_cmd *cf_booked(cf_db *db, const char *seats, char *booking_id)
{
    store_cmd *h = cf_hold(db, "e1", "alice", seats);
    store_cmd *co = h->rc == TIX_RC_OK ? cf_checkout(db, h->u.hold.hold.id, NULL) : NULL;
    if (!co || co->rc != TIX_RC_OK) {
        test_fail(__FILE__, __LINE__, "hold and checkout of %s failed", seats);
        return h;
    }
    snprintf(booking_id, TIX_BOOKING_ID_LEN + 1, "%s", co->u.checkout.booking.id);
    return h;
}

void conformance_a_paid_booking_sells_its_seats_and_a_repeated_result_changes_nothing(
    const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char bid[TIX_BOOKING_ID_LEN + 1];
    store_cmd *h = cf_booked(db, "B3,B4", bid);
    ASSERT_FALSE(test_failed());
    delivery_record d[2];
    ASSERT_EQ_INT(cf_claim(db, d, 2), 1);
    ASSERT_EQ_INT(cf_paid(db, bid, false, true, "pay_1", d[0].seq)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_SOLD,
                             h->u.hold.hold.seq, "B3,B4"));
    booking_record bk = cf_booking_read(db, bid);
    ASSERT_EQ_INT(bk.status, BOOKING_CONFIRMED);
    ASSERT_EQ_STR(bk.payment_id, "pay_1");
    cf_seat seat = cf_seat_now(db, "e1", "B3");
    ASSERT_EQ_INT(seat.status, SEAT_SOLD);
    ASSERT_EQ_INT(seat.hold_seq, h->u.hold.hold.seq);
    bool found;
    ASSERT_EQ_INT(cf_hold_read(db, h->u.hold.hold.id, &found).status, HOLD_BOOKED);
    /* the delivery it answered is delivered: nothing more to claim for it */
    db->now_ms += 60 * 1000;
    ASSERT_EQ_INT(cf_claim(db, d, 2), 1); /* BookingConfirmed for the notification worker */
    ASSERT_EQ_STR(d[0].event.type, "BookingConfirmed");
    /* the same result again, or a late decline: nothing changes */
    int64_t head = cf_head(db);
    ASSERT_EQ_INT(cf_paid(db, bid, false, true, "pay_2", 0)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_paid(db, bid, false, false, NULL, 0)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_head(db), head);
    ASSERT_EQ_STR(cf_booking_read(db, bid).payment_id, "pay_1");
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "B4").status, SEAT_SOLD);
}

void conformance_a_declined_payment_frees_the_seats(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char bid[TIX_BOOKING_ID_LEN + 1];
    store_cmd *h = cf_booked(db, "A3", bid);
    ASSERT_FALSE(test_failed());
    ASSERT_EQ_INT(cf_paid(db, bid, false, false, NULL, 0)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_booking_read(db, bid).status, BOOKING_PAYMENT_FAILED);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_RELEASED,
                             h->u.hold.hold.seq, "A3"));
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A3").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_hold(db, "e1", "bob", "A3")->rc, TIX_RC_OK);
}

void conformance_a_late_payment_takes_free_seats_again_or_is_refunded(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char kept[TIX_BOOKING_ID_LEN + 1], lost[TIX_BOOKING_ID_LEN + 1];
    store_cmd *h1 = cf_booked(db, "A1", kept);
    int64_t kept_charge = cf_claim_for(db, "CheckoutStarted", kept);
    store_cmd *h2 = cf_booked(db, "A2", lost);
    int64_t lost_charge = cf_claim_for(db, "CheckoutStarted", lost);
    ASSERT_FALSE(test_failed());
    ASSERT_GT(kept_charge, 0);
    ASSERT_GT(lost_charge, 0);
    db->now_ms += 901 * 1000; /* past the checkout deadline */
    ASSERT_EQ_INT(cf_sweep(db)->u.sweep.expired, 2);
    ASSERT_EQ_INT(cf_hold(db, "e1", "bob", "A2")->rc, TIX_RC_OK); /* A2 goes to someone else */
    /* A1 is still free: the late payment takes it again and sells it */
    ASSERT_EQ_INT(cf_paid(db, kept, false, true, "pay_k", kept_charge)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_booking_read(db, kept).status, BOOKING_CONFIRMED);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_SOLD,
                             h1->u.hold.hold.seq, "A1"));
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A1").status, SEAT_SOLD);
    /* A2 is taken: the booking is cancelled and the money given back, no seat changes */
    ASSERT_EQ_INT(cf_paid(db, lost, false, true, "pay_l", lost_charge)->rc, TIX_RC_OK);
    booking_record bk = cf_booking_read(db, lost);
    ASSERT_EQ_INT(bk.status, BOOKING_CANCELLED);
    ASSERT_EQ_STR(bk.payment_id, "pay_l");
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    ASSERT_TRUE(cf_seat_now(db, "e1", "A2").hold_seq != h2->u.hold.hold.seq);
    ASSERT_GT(cf_claim_for(db, "RefundRequested", lost), 0);
}

void conformance_cancel_frees_the_seats_and_refunds_what_was_paid(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char pending[TIX_BOOKING_ID_LEN + 1], paid[TIX_BOOKING_ID_LEN + 1];
    store_cmd *h1 = cf_booked(db, "C1", pending);
    store_cmd *h2 = cf_booked(db, "C2", paid);
    int64_t charge = cf_claim_for(db, "CheckoutStarted", paid);
    ASSERT_FALSE(test_failed());
    ASSERT_GT(charge, 0);
    ASSERT_EQ_INT(cf_paid(db, paid, false, true, "pay_c", charge)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_cancel(db, pending, "mallory")->rc, TIX_RC_FORBIDDEN);
    store_cmd *c1 = cf_cancel(db, pending, "alice");
    ASSERT_EQ_INT(c1->rc, TIX_RC_OK);
    ASSERT_EQ_INT(c1->u.cancel.booking.status, BOOKING_CANCELLED);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_RELEASED,
                             h1->u.hold.hold.seq, "C1"));
    store_cmd *c2 = cf_cancel(db, paid, NULL);
    ASSERT_EQ_INT(c2->rc, TIX_RC_OK);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_TRUE(cf_change_is(&db->batch.changes, &db->batch.changes.items[0], CHANGE_FREED,
                             h2->u.hold.hold.seq, "C2"));
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "C2").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_cancel(db, paid, NULL)->rc, TIX_RC_BOOKING_NOT_CANCELLABLE);
    char unknown[IDS_HEX_LEN + 1];
    ids_random_hex(unknown);
    ASSERT_EQ_INT(cf_cancel(db, unknown, NULL)->rc, TIX_RC_BOOKING_NOT_FOUND);
    /* the refund is requested, then recorded once */
    int64_t refund_seq = cf_claim_for(db, "RefundRequested", paid);
    ASSERT_GT(refund_seq, 0);
    ASSERT_EQ_INT(cf_paid(db, paid, true, true, "re_1", refund_seq)->rc, TIX_RC_OK);
    ASSERT_EQ_STR(cf_booking_read(db, paid).refund_id, "re_1");
    ASSERT_EQ_INT(cf_paid(db, paid, true, true, "re_2", 0)->rc, TIX_RC_OK);
    ASSERT_EQ_STR(cf_booking_read(db, paid).refund_id, "re_1");
    ASSERT_EQ_INT(cf_booking_read(db, pending).amount_cents, 2500);
}

void conformance_events_are_created_once_and_read_back_whole(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    int64_t head = cf_head(db);
    store_cmd *create = cf_event_cmd("show", 120, 4);
    ASSERT_EQ_INT(cf_run1(db, create), TIX_RC_OK);
    ASSERT_EQ_INT(create->u.event_create.spec.created_at_ms, db->now_ms);
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    ASSERT_EQ_INT(db->batch.changes.items[0].kind, CHANGE_EVENT_CREATED);
    ASSERT_EQ_STR(db->batch.changes.items[0].event_id, "show");
    ASSERT_EQ_INT(db->batch.changes.items[0].seq, head + 1);
    ASSERT_EQ_INT(cf_run1(db, cf_event_cmd("show", 60, 1)), TIX_RC_EVENT_EXISTS);
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    TEST_CHECK(cf_event(db, "later", 600, 10));
    event_spec spec;
    bool found = false;
    ASSERT_EQ_INT(store_event_get(db->st, "show", &spec, &found, NULL), 0);
    ASSERT_TRUE(found);
    bool same = spec.hold_ttl_s == 120 && spec.max_seats_per_hold == 4 && spec.section_count == 2 &&
                spec.sections[1].price_cents == 2500 && spec.sections[0].row_count == 2 &&
                strcmp(spec.sections[0].rows[1], "B") == 0 &&
                strcmp(spec.sections[1].name, "Balcony") == 0 &&
                spec.created_at_ms == create->u.event_create.spec.created_at_ms;
    model_event_spec_free(&spec);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(store_event_get(db->st, "nope", &spec, &found, NULL), 0);
    ASSERT_FALSE(found);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(s->event_count, 2);
    ASSERT_EQ_STR(s->events[0], "show"); /* in creation order */
    ASSERT_EQ_STR(s->events[1], "later");
}

/* Collects the webhook subscribers as "id pattern". */
static int cf_webhook_cb(void *ctx, const subscriber_record *sub)
{
    char *out = ctx;
    if (sub->kind == SUBSCRIBER_WEBHOOK)
        snprintf(out + strlen(out), 64 - strlen(out), "%s %s", sub->id, sub->patterns[0]);
    return 0;
}

void conformance_a_subscriber_added_by_one_writer_is_routed_by_every_writer(
    const conformance_backend *b)
{
    store *other;
    cf_db *db = cf_open_two_writers(b, &other);
    ASSERT_NOT_NULL(db);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A1")->rc, TIX_RC_OK); /* HoldCreated: nobody takes it */
    delivery_record d[4];
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0);
    /* the other writer adds a webhook for holds */
    store_batch batch = {0};
    change_page_init(&batch.changes);
    store_cmd *add = cf_subscriber_cmd("wh_holds", "Hold*");
    ASSERT_EQ_INT(cf_run_on(db, other, &batch, &add, 1), STORE_OK);
    ASSERT_EQ_INT(add->rc, TIX_RC_OK);
    bool seen = batch.changes.count == 1 &&
                batch.changes.items[0].kind == CHANGE_SUBSCRIBER_ADDED &&
                strcmp(batch.changes.items[0].ref, "wh_holds") == 0;
    change_page_free(&batch.changes);
    ASSERT_TRUE(seen);
    /* this writer's next hold is routed to it */
    db->now_ms += 1;
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A2")->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_STR(d[0].subscriber_id, "wh_holds");
    ASSERT_EQ_STR(d[0].event.type, "HoldCreated");
    char listed[64] = "";
    ASSERT_EQ_INT(store_subscribers_list(db->st, cf_webhook_cb, listed, NULL), 0);
    ASSERT_EQ_STR(listed, "wh_holds Hold*");
}

void conformance_claims_lease_deliveries_to_the_node_and_record_their_outcomes(
    const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char bid[TIX_BOOKING_ID_LEN + 1];
    cf_booked(db, "A1", bid);
    ASSERT_FALSE(test_failed());
    delivery_record d[4];
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_INT(d[0].attempts, 1);
    ASSERT_EQ_INT(d[0].status, DELIVERY_PENDING);
    int64_t seq = d[0].seq;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0); /* leased */
    db->now_ms += 30 * 1000;              /* the lease lapsed: claimed again */
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_INT(d[0].attempts, 2);
    ASSERT_EQ_INT(cf_delivery(db, seq, STORE_DELIVERY_RETRY, db->now_ms + 5000, "busy"), TIX_RC_OK);
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0);
    db->now_ms += 5000;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_INT(d[0].attempts, 3);
    ASSERT_EQ_STR(d[0].last_error, "busy");
    ASSERT_EQ_INT(cf_delivery(db, seq, STORE_DELIVERY_DEAD, 0, "declined for good"), TIX_RC_OK);
    db->now_ms += 60 * 1000;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0);
    /* the dead letter is listed, and redriven */
    store_cmd *redrive = cf_cmd(STORE_CMD_REDRIVE);
    redrive->u.redrive.seq = seq;
    ASSERT_EQ_INT(cf_run1(db, redrive), TIX_RC_OK);
    ASSERT_TRUE(db->batch.deliveries_written);
    ASSERT_EQ_INT(cf_run1(db, redrive), TIX_RC_NOT_FOUND); /* not dead any more */
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_INT(d[0].attempts, 1); /* attempts start again */
    /* its last attempt lost (the lease lapsed with no outcome) after max_attempts: dead */
    db->now_ms += 30 * 1000;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    db->now_ms += 30 * 1000;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_INT(d[0].attempts, 3);
    db->now_ms += 30 * 1000;
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0);
    ASSERT_EQ_INT(cf_delivery(db, seq, STORE_DELIVERED, 0, NULL), TIX_RC_OK); /* already dead */
    ASSERT_EQ_INT(cf_claim(db, d, 4), 0);
}

void conformance_reclaim_frees_only_the_nodes_own_leases(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    char b1[TIX_BOOKING_ID_LEN + 1], b2[TIX_BOOKING_ID_LEN + 1];
    cf_booked(db, "A1", b1);
    delivery_record d[4];
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1); /* node-a's */
    cf_booked(db, "A2", b2);
    snprintf(db->node, sizeof(db->node), "node-b");
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1); /* node-b's */
    ASSERT_FALSE(test_failed());
    /* node-a restarts: its lease is free at once, node-b's is not */
    snprintf(db->node, sizeof(db->node), "node-a");
    store_cmd *reclaim = cf_cmd(STORE_CMD_RECLAIM);
    ASSERT_EQ_INT(cf_run1(db, reclaim), TIX_RC_OK);
    ASSERT_EQ_INT(reclaim->u.reclaim.count, 1);
    ASSERT_TRUE(db->batch.deliveries_written);
    ASSERT_EQ_INT(cf_claim(db, d, 4), 1);
    ASSERT_EQ_STR(d[0].event.aggregate_id, b1);
    ASSERT_EQ_INT(d[0].attempts, 2);
    ASSERT_EQ_INT(cf_run1(db, reclaim), TIX_RC_OK);
    ASSERT_EQ_INT(reclaim->u.reclaim.count, 1); /* this node's new lease, again */
    snprintf(db->node, sizeof(db->node), "node-c");
    ASSERT_EQ_INT(cf_run1(db, reclaim), TIX_RC_OK);
    ASSERT_EQ_INT(reclaim->u.reclaim.count, 0);
}

/* The idempotency render hook: "rendered <rc>" as the body, 299 as the status. */
static void cf_render(void *ctx, const store_cmd *cmd, unsigned *status, buf *body)
{
    int *calls = ctx;
    (*calls)++;
    *status = 299;
    buf_appendf(body, "rendered %d", cmd->rc);
}

/* A hold of seats answering key (hash) with the render hook. */
static store_cmd *cf_keyed_hold(const char *seats, const char *key, const char *hash, int *renders)
{
    store_cmd *cmd = cf_hold_cmd("e1", "u", seats);
    store_idem *idem = calloc(1, sizeof(*idem));
    test_defer(free, idem);
    idem->key = key;
    snprintf(idem->request_hash, sizeof(idem->request_hash), "%s", hash);
    idem->render = cf_render;
    idem->render_ctx = renders;
    buf_init(&idem->body, 1 << 20);
    test_defer((void (*)(void *))buf_free, &idem->body);
    cmd->idem = idem;
    return cmd;
}

typedef struct cf_kept {
    char hash[65];
    unsigned status;
    char body[64];
} cf_kept;

static int cf_kept_cb(void *ctx, const char *hash, unsigned status, const char *body, size_t len)
{
    cf_kept *k = ctx;
    snprintf(k->hash, sizeof(k->hash), "%s", hash);
    k->status = status;
    snprintf(k->body, sizeof(k->body), "%.*s", (int)len, body);
    return 0;
}

void conformance_idempotency_keys_are_decided_in_the_transaction(const conformance_backend *b)
{
    store *other;
    cf_db *db = cf_open_two_writers(b, &other);
    ASSERT_NOT_NULL(db);
    int renders = 0;
    store_cmd *first = cf_keyed_hold("A1", "key-1", "hash-1", &renders);
    store_cmd *dup = cf_keyed_hold("A1", "key-1", "hash-1", &renders); /* in the same batch */
    store_cmd *cmds[] = {first, dup};
    ASSERT_EQ_INT(cf_run(db, cmds, 2), STORE_OK);
    ASSERT_EQ_INT(first->rc, TIX_RC_OK);
    ASSERT_EQ_INT(renders, 1);
    ASSERT_EQ_INT(dup->rc, TIX_RC_REPLAYED); /* did not run: no second hold, no 409 */
    ASSERT_EQ_INT(dup->idem->status, 299);
    ASSERT_EQ_STR(dup->idem->body.data, "rendered 0");
    ASSERT_EQ_INT(db->batch.changes.count, 1);
    /* later, from another writer: replayed; with another request: reused */
    store_batch batch = {0};
    change_page_init(&batch.changes);
    store_cmd *again = cf_keyed_hold("A1", "key-1", "hash-1", &renders);
    store_cmd *reused = cf_keyed_hold("B1", "key-1", "hash-2", &renders);
    store_cmd *more[] = {again, reused};
    store_status status = cf_run_on(db, other, &batch, more, 2);
    uint32_t changes = batch.changes.count;
    change_page_free(&batch.changes);
    ASSERT_EQ_INT(status, STORE_OK);
    ASSERT_EQ_INT(again->rc, TIX_RC_REPLAYED);
    ASSERT_EQ_STR(again->idem->body.data, "rendered 0");
    ASSERT_EQ_INT(reused->rc, TIX_RC_KEY_REUSED);
    ASSERT_EQ_INT(changes, 0);
    ASSERT_EQ_INT(renders, 1);
    /* a refusal is kept too: the same key gets the same refusal */
    store_cmd *refused = cf_keyed_hold("A1", "key-2", "hash-3", &renders);
    ASSERT_EQ_INT(cf_run1(db, refused), TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_STR(refused->idem->body.data, "rendered 1");
    /* the committed response, for the read fast path */
    cf_kept kept = {0};
    bool found = false;
    ASSERT_EQ_INT(store_idempotency_get(db->st, "key-2", cf_kept_cb, &kept, &found, NULL), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_STR(kept.hash, "hash-3");
    ASSERT_EQ_INT(kept.status, 299);
    ASSERT_EQ_STR(kept.body, "rendered 1");
    /* forgotten after their time */
    db->now_ms += 86401LL * 1000;
    cf_sweep(db);
    ASSERT_EQ_INT(store_idempotency_get(db->st, "key-2", cf_kept_cb, &kept, &found, NULL), 0);
    ASSERT_FALSE(found);
}

void conformance_the_feed_is_dense_and_in_commit_order_across_writers(const conformance_backend *b)
{
    store *other;
    cf_db *db = cf_open_two_writers(b, &other);
    ASSERT_NOT_NULL(db);
    store_batch batch = {0};
    change_page_init(&batch.changes);
    static const char *const seats[] = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"};
    int64_t expect = cf_head(db), last_head = expect;
    for (int i = 0; i < 8; i++) { /* the two writers alternate */
        store_cmd *h = cf_hold_cmd("e1", "u", seats[i]);
        store_batch *on = i % 2 ? &batch : &db->batch;
        ASSERT_EQ_INT(cf_run_on(db, i % 2 ? other : db->st, on, &h, 1), STORE_OK);
        ASSERT_EQ_INT(h->rc, TIX_RC_OK);
        ASSERT_EQ_INT(on->feed_before, last_head);
        ASSERT_EQ_INT(on->changes.count, 1);
        ASSERT_EQ_INT(on->changes.items[0].seq, ++expect);
        last_head = expect;
    }
    change_page_free(&batch.changes);
    store_feed_bounds bounds;
    const change_page *p = cf_changes(db, 0, &bounds);
    ASSERT_EQ_INT(bounds.oldest_seq, 1);
    ASSERT_EQ_INT(bounds.head_seq, expect);
    ASSERT_EQ_INT(p->count, (uint32_t)expect);
    for (uint32_t i = 0; i < p->count; i++)
        ASSERT_EQ_INT(p->items[i].seq, (int64_t)i + 1);
    /* pages: bounded by max, read on from the last one */
    change_page page;
    change_page_init(&page);
    int rc = store_changes_read(db->st, 2, 3, NULL, 0, &page, NULL, NULL, NULL);
    bool paged = rc == 0 && page.count == 3 && page.items[0].seq == 3 && page.items[2].seq == 5;
    change_page_free(&page);
    ASSERT_TRUE(paged);
}

void conformance_the_feed_of_one_event_is_read_in_bounded_scans(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    TEST_CHECK(cf_event(db, "e2", 600, 10));
    int64_t start = cf_head(db);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A1")->rc, TIX_RC_OK); /* start + 1 */
    for (int i = 0; i < 6; i++) {                               /* start + 2 .. + 7 */
        char seat[8];
        snprintf(seat, sizeof(seat), "%c%d", 'A' + i / 4, i % 4 + 1);
        ASSERT_EQ_INT(cf_hold(db, "e2", "u", seat)->rc, TIX_RC_OK);
    }
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A2")->rc, TIX_RC_OK); /* start + 8 */
    change_page page;
    change_page_init(&page);
    store_feed_bounds bounds;
    int64_t scanned = 0;
    /* a scan of 4 positions finds the first e1 change and stops at start + 4 */
    int rc = store_changes_read(db->st, start, 100, "e1", 4, &page, &bounds, &scanned, NULL);
    bool first = rc == 0 && page.count == 1 && page.items[0].seq == start + 1 &&
                 scanned == start + 4 && bounds.head_seq == start + 8;
    change_page_reset(&page);
    rc = store_changes_read(db->st, scanned, 100, "e1", 3, &page, NULL, &scanned, NULL);
    bool none = rc == 0 && page.count == 0 && scanned == start + 7;
    change_page_reset(&page);
    rc = store_changes_read(db->st, start + 4, 100, "e1", 100, &page, NULL, &scanned, NULL);
    bool last =
        rc == 0 && page.count == 1 && page.items[0].seq == start + 8 && scanned == start + 8;
    change_page_free(&page);
    ASSERT_TRUE(first);
    ASSERT_TRUE(none);
    ASSERT_TRUE(last);
}

void conformance_the_sweep_trims_the_feed_to_what_the_rules_keep(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    static const char *const seats[] = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4", "C1"};
    for (int i = 0; i < 9; i++)
        ASSERT_EQ_INT(cf_hold(db, "e1", "u", seats[i])->rc, TIX_RC_OK);
    int64_t head = cf_head(db);
    ASSERT_EQ_INT(head, 10);
    db->rules.feed_retain = 4;
    cf_sweep(db);
    store_feed_bounds bounds;
    const change_page *p = cf_changes(db, 0, &bounds);
    ASSERT_EQ_INT(bounds.head_seq, head);
    ASSERT_EQ_INT(bounds.oldest_seq, head - 3); /* the 4 newest are kept */
    ASSERT_EQ_INT(p->count, 4);
    ASSERT_EQ_INT(p->items[0].seq, head - 3);
    /* seqs go on from the head, never again from 1 */
    db->rules.feed_retain = 1;
    cf_sweep(db);
    cf_changes(db, 0, &bounds);
    ASSERT_EQ_INT(bounds.oldest_seq, head);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "C2")->rc, TIX_RC_OK);
    ASSERT_EQ_INT(db->batch.changes.items[0].seq, head + 1);
}

void conformance_a_snapshot_is_the_state_at_its_feed_position(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *h1 = cf_hold(db, "e1", "u", "A1,A2");
    store_cmd *h2 = cf_hold(db, "e1", "u", "B1");
    char bid[TIX_BOOKING_ID_LEN + 1];
    store_cmd *h3 = cf_booked(db, "C1", bid);
    ASSERT_FALSE(test_failed());
    cf_paid(db, bid, false, true, "pay", 0);
    cf_release(db, h2->u.hold.hold.id, NULL);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(s->position, cf_head(db));
    ASSERT_EQ_INT(s->seat_count, 3);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").hold_seq, h1->u.hold.hold.seq);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").expires_ms, h1->u.hold.hold.expires_at_ms);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "B1").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "C1").status, SEAT_SOLD);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "C1").hold_seq, h3->u.hold.hold.seq);
}

/* ---- stats ---- */

static store_stats cf_stats(cf_db *db, store *st)
{
    store_stats out;
    store_status status = STORE_OK;
    if (store_event_stats(st, "e1", db->now_ms, &out, &status) != 0)
        test_fail(__FILE__, __LINE__, "event stats: %s", store_status_name(status));
    return out;
}

void conformance_event_stats_count_what_is_committed(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_stats s = cf_stats(db, db->st);
    ASSERT_EQ_INT(s.holds_active + s.holds_checkout + s.revenue_cents, 0);
    ASSERT_EQ_INT(s.minute0_ms, db->now_ms - (STORE_STATS_MINUTES - 1) * 60000);
    ASSERT_EQ_INT(cf_hold(db, "e1", "alice", "A1")->rc, TIX_RC_OK);
    char pending[TIX_BOOKING_ID_LEN + 1], paid[TIX_BOOKING_ID_LEN + 1],
        declined[TIX_BOOKING_ID_LEN + 1];
    cf_booked(db, "A2,A3", pending);
    cf_booked(db, "B1,C1", paid);
    cf_booked(db, "B2", declined);
    ASSERT_FALSE(test_failed());
    db->now_ms += 90 * 1000; /* paid in the minute after the checkouts */
    ASSERT_EQ_INT(cf_paid(db, paid, false, true, "pay_1", 0)->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_paid(db, declined, false, false, NULL, 0)->rc, TIX_RC_OK);
    s = cf_stats(db, db->st);
    ASSERT_EQ_INT(s.holds_active, 1);
    ASSERT_EQ_INT(s.holds_checkout, 1);
    ASSERT_EQ_INT(s.bookings[BOOKING_PENDING_PAYMENT], 1);
    ASSERT_EQ_INT(s.bookings[BOOKING_CONFIRMED], 1);
    ASSERT_EQ_INT(s.bookings[BOOKING_PAYMENT_FAILED], 1);
    ASSERT_EQ_INT(s.bookings[BOOKING_CANCELLED], 0);
    ASSERT_EQ_INT(s.revenue_cents, 5000 + 2500);
    /* the sale is in the current minute, the last one */
    ASSERT_EQ_INT(s.minute0_ms, cf_t0_ms + 60000 - (STORE_STATS_MINUTES - 1) * 60000);
    ASSERT_EQ_INT(s.sales_bookings[STORE_STATS_MINUTES - 1], 1);
    ASSERT_EQ_INT(s.sales_seats[STORE_STATS_MINUTES - 1], 2);
    ASSERT_EQ_INT(s.sales_cents[STORE_STATS_MINUTES - 1], 7500);
    ASSERT_EQ_INT(s.sales_seats[STORE_STATS_MINUTES - 2], 0);
    /* ten minutes on: alice's hold has lapsed, the sale is ten minutes back */
    db->now_ms += 10 * 60 * 1000;
    s = cf_stats(db, db->st);
    ASSERT_EQ_INT(s.holds_active, 0);
    ASSERT_EQ_INT(s.sales_seats[STORE_STATS_MINUTES - 11], 2);
    ASSERT_EQ_INT(s.sales_seats[STORE_STATS_MINUTES - 1], 0);
    /* an hour on, it has left the chart; the revenue stays */
    db->now_ms += 60 * 60 * 1000;
    s = cf_stats(db, db->st);
    for (int i = 0; i < STORE_STATS_MINUTES; i++)
        ASSERT_EQ_INT(s.sales_bookings[i], 0);
    ASSERT_EQ_INT(s.revenue_cents, 7500);
}

/* A buyer who holds A1, checks out and is declined, cycles times, on its own handle. */
typedef struct cf_cycler {
    cf_db *db;
    store *st;
    uint32_t cycles;
    bool failed;
    atomic_bool done;
} cf_cycler;

/* Run cmd alone on c's handle: its rc, or -1 when the batch failed. */
static tix_rc cf_cycle_run(cf_cycler *c, store_batch *batch, store_cmd *cmd)
{
    return cf_run_on(c->db, c->st, batch, &cmd, 1) == STORE_OK ? cmd->rc : (tix_rc)-1;
}

static void *cf_cycler_run(void *arg)
{
    cf_cycler *c = arg;
    store_batch batch = {0};
    change_page_init(&batch.changes);
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    for (uint32_t i = 0; i < c->cycles && cmd && !c->failed; i++) {
        store_cmd_init(cmd, STORE_CMD_HOLD);
        memset(&cmd->u.hold, 0, sizeof(cmd->u.hold));
        hold_record *h = &cmd->u.hold.hold;
        snprintf(h->event_id, sizeof(h->event_id), "e1");
        snprintf(h->user_id, sizeof(h->user_id), "cycler");
        snprintf(h->seat_ids[h->seat_count++], TIX_SEAT_ID_LEN_MAX, "A1");
        c->failed = cf_cycle_run(c, &batch, cmd) != TIX_RC_OK;
        char id[TIX_HOLD_ID_LEN + 1];
        memcpy(id, h->id, sizeof(id));
        store_cmd_init(cmd, STORE_CMD_CHECKOUT);
        memset(&cmd->u.checkout, 0, sizeof(cmd->u.checkout));
        memcpy(cmd->u.checkout.hold_id, id, sizeof(id));
        snprintf(cmd->u.checkout.booking.payment_token, TIX_PAYMENT_TOKEN_LEN_MAX + 1, "tok_visa");
        c->failed = c->failed || cf_cycle_run(c, &batch, cmd) != TIX_RC_OK;
        char booking[TIX_BOOKING_ID_LEN + 1];
        memcpy(booking, cmd->u.checkout.booking.id, sizeof(booking));
        store_cmd_init(cmd, STORE_CMD_PAYMENT);
        memset(&cmd->u.payment, 0, sizeof(cmd->u.payment));
        memcpy(cmd->u.payment.booking_id, booking, sizeof(booking));
        c->failed = c->failed || cf_cycle_run(c, &batch, cmd) != TIX_RC_OK;
    }
    c->failed = c->failed || !cmd;
    free(cmd);
    change_page_free(&batch.changes);
    atomic_store(&c->done, true);
    return NULL;
}

void conformance_event_stats_are_one_snapshot_while_another_writer_commits(
    const conformance_backend *b)
{
    store *other;
    cf_db *db = cf_open_two_writers(b, &other);
    ASSERT_NOT_NULL(db);
    cf_cycler c = {.db = db, .st = other, .cycles = 300};
    atomic_init(&c.done, false);
    pthread_t thread;
    ASSERT_EQ_INT(pthread_create(&thread, NULL, cf_cycler_run, &c), 0);
    /* a checkout and a payment's outcome each change a hold and its booking in one
     * transaction: every read sees both or neither */
    uint32_t reads = 0, torn = 0, pending_seen = 0;
    while (!atomic_load(&c.done) && !test_failed()) {
        store_stats s = cf_stats(db, db->st);
        reads++;
        torn += s.holds_checkout != s.bookings[BOOKING_PENDING_PAYMENT];
        pending_seen += s.holds_checkout;
    }
    pthread_join(thread, NULL);
    ASSERT_FALSE(c.failed);
    store_stats s = cf_stats(db, db->st);
    test_note("%u reads while %u cycles committed, %u saw a checkout in flight", reads, c.cycles,
              pending_seen);
    ASSERT_EQ_INT(torn, 0);
    ASSERT_EQ_INT(s.bookings[BOOKING_PAYMENT_FAILED], c.cycles);
    ASSERT_EQ_INT(s.holds_checkout + s.bookings[BOOKING_PENDING_PAYMENT], 0);
}

/* ---- contention: two writers, many batches, overlapping seats ---- */

enum { CF_SEATS = 10, CF_ROUNDS = 150, CF_BATCH = 4 };

typedef struct cf_writer {
    cf_db *db;
    store *st;
    unsigned seed;
    uint32_t ok, refused;
    bool failed;
} cf_writer;

static const char *cf_seat_name(uint32_t i)
{
    static const char *const names[CF_SEATS] = {"A1", "A2", "A3", "A4", "B1",
                                                "B2", "B3", "B4", "C1", "C2"};
    return names[i % CF_SEATS];
}

static void *cf_writer_run(void *arg)
{
    cf_writer *w = arg;
    store_batch batch = {0};
    change_page_init(&batch.changes);
    store_cmd *cmds[CF_BATCH + 1];
    store_cmd *mem = calloc(CF_BATCH + 1, sizeof(store_cmd));
    char last_hold[TIX_HOLD_ID_LEN + 1] = "";
    for (int round = 0; round < CF_ROUNDS && !w->failed; round++) {
        uint32_t n = 0;
        for (; n < CF_BATCH; n++) {
            store_cmd *c = &mem[n];
            store_cmd_init(c, STORE_CMD_HOLD);
            hold_record *h = &c->u.hold.hold;
            memset(h, 0, sizeof(*h));
            snprintf(h->event_id, sizeof(h->event_id), "e1");
            snprintf(h->user_id, sizeof(h->user_id), "w%u", w->seed);
            uint32_t a = (uint32_t)rand_r(&w->seed) % CF_SEATS,
                     k = 1 + (uint32_t)rand_r(&w->seed) % 3;
            for (uint32_t j = 0; j < k; j++)
                snprintf(h->seat_ids[h->seat_count++], TIX_SEAT_ID_LEN_MAX, "%s",
                         cf_seat_name((a + j * 3) % CF_SEATS));
            cmds[n] = c;
        }
        if (last_hold[0]) { /* and release the last hold this writer made */
            store_cmd *r = &mem[n];
            store_cmd_init(r, STORE_CMD_RELEASE);
            memset(&r->u.release, 0, sizeof(r->u.release));
            memcpy(r->u.release.hold.id, last_hold, sizeof(last_hold));
            cmds[n++] = r;
            last_hold[0] = '\0';
        }
        store_status status = cf_run_on(w->db, w->st, &batch, cmds, n);
        if (status != STORE_OK) {
            w->failed = true;
            break;
        }
        for (uint32_t i = 0; i < CF_BATCH; i++) {
            if (cmds[i]->rc == TIX_RC_OK) {
                w->ok++;
                memcpy(last_hold, cmds[i]->u.hold.hold.id, sizeof(last_hold));
            } else if (cmds[i]->rc == TIX_RC_SEAT_UNAVAILABLE) {
                w->refused++;
            } else {
                w->failed = true;
            }
        }
    }
    free(mem);
    change_page_free(&batch.changes);
    return NULL;
}

/* Replay every change from the start: the state it leads to, seat by seat. */
static void cf_replay(cf_db *db, seat_status *status, int64_t *holder)
{
    for (int i = 0; i < CF_SEATS; i++)
        status[i] = SEAT_AVAILABLE, holder[i] = 0;
    int64_t after = 0;
    for (;;) {
        const change_page *p = cf_changes(db, after, NULL);
        if (p->count == 0) break;
        for (uint32_t i = 0; i < p->count; i++) {
            const change_record *c = &p->items[i];
            after = c->seq;
            if (!model_change_is_seats(c->kind)) continue;
            size_t len, pos = 0;
            const char *ids = change_page_seats(p, c, &len);
            char id[TIX_SEAT_ID_LEN_MAX];
            while (model_seat_ids_next(ids, len, &pos, id) > 0) {
                for (int s = 0; s < CF_SEATS; s++) {
                    if (strcmp(cf_seat_name((uint32_t)s), id) != 0) continue;
                    status[s] = model_change_seat_status(c->kind);
                    holder[s] = status[s] == SEAT_AVAILABLE ? 0 : c->hold_seq;
                }
            }
        }
    }
}

void conformance_conditional_writes_hold_under_contention_from_two_writers(
    const conformance_backend *b)
{
    store *other;
    cf_db *db = cf_open_two_writers(b, &other);
    ASSERT_NOT_NULL(db);
    cf_writer w[2] = {{.db = db, .st = db->st, .seed = 1}, {.db = db, .st = other, .seed = 2}};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&threads[i], NULL, cf_writer_run, &w[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    ASSERT_FALSE(w[0].failed);
    ASSERT_FALSE(w[1].failed);
    test_note("holds: %u + %u committed, %u + %u refused", w[0].ok, w[1].ok, w[0].refused,
              w[1].refused);
    ASSERT_GT(w[0].ok + w[1].ok, 10);
    ASSERT_GT(w[0].refused + w[1].refused, 10); /* they did meet */
    /* the feed, replayed from the start, leads to the store's state, seat by seat */
    seat_status status[CF_SEATS];
    int64_t holder[CF_SEATS];
    cf_replay(db, status, holder);
    cf_snap *s = cf_snapshot_of(db->st);
    for (int i = 0; i < CF_SEATS; i++) {
        cf_seat seat = cf_seat_in(s, "e1", cf_seat_name((uint32_t)i));
        ASSERT_EQ_INT(seat.status, status[i]);
        ASSERT_EQ_INT(seat.hold_seq, holder[i]);
    }
    /* dense */
    store_feed_bounds bounds;
    cf_changes(db, 0, &bounds);
    int64_t count = 0, after = 0;
    for (;;) {
        const change_page *p = cf_changes(db, after, NULL);
        if (p->count == 0) break;
        for (uint32_t i = 0; i < p->count; i++, count++)
            ASSERT_EQ_INT(p->items[i].seq, after + 1 + (int64_t)i);
        after = p->items[p->count - 1].seq;
    }
    ASSERT_EQ_INT(count, bounds.head_seq);
}

/* ---- failures ---- */

void conformance_a_busy_store_asks_for_a_retry_and_keeps_nothing(const conformance_backend *b)
{
    cf_db *db = cf_open_with(b, 100); /* waits 100 ms for another writer */
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    int64_t head = cf_head(db);
    ASSERT_EQ_INT(b->lock_writes(b->ctx, db->where), 0);
    store_cmd *h = cf_hold_cmd("e1", "u", "A1");
    store_status status = cf_run(db, &h, 1);
    ASSERT_EQ_INT(b->unlock_writes(b->ctx, db->where), 0);
    ASSERT_EQ_INT(status, STORE_RETRY);
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    ASSERT_EQ_INT(cf_head(db), head);
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A1").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_run(db, &h, 1), STORE_OK); /* the same batch, again */
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "A1").hold_seq, h->u.hold.hold.seq);
}

void conformance_an_unavailable_store_keeps_nothing_and_recovers(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *kept = cf_hold(db, "e1", "u", "A1");
    int64_t head = cf_head(db);
    ASSERT_EQ_INT(b->fail_writes(b->ctx, db->where, true), 0);
    store_cmd *h = cf_hold_cmd("e1", "u", "A2");
    store_cmd *r = cf_cmd(STORE_CMD_RELEASE);
    snprintf(r->u.release.hold.id, sizeof(r->u.release.hold.id), "%s", kept->u.hold.hold.id);
    store_cmd *cmds[] = {h, r};
    store_status status = cf_run(db, cmds, 2);
    ASSERT_EQ_INT(b->fail_writes(b->ctx, db->where, false), 0);
    ASSERT_EQ_INT(status, STORE_UNAVAILABLE);
    ASSERT_EQ_INT(db->batch.changes.count, 0);
    ASSERT_EQ_INT(cf_head(db), head);
    cf_snap *s = cf_snapshot_of(db->st);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A1").hold_seq, kept->u.hold.hold.seq);
    ASSERT_EQ_INT(cf_seat_in(s, "e1", "A2").status, SEAT_AVAILABLE);
    ASSERT_EQ_INT(cf_run(db, cmds, 2), STORE_OK); /* the store is back */
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    ASSERT_EQ_INT(r->rc, TIX_RC_OK);
}

void conformance_a_corrupt_row_is_fatal_to_its_command_only(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *bad = cf_hold(db, "e1", "u", "A1");
    ASSERT_EQ_INT(bad->rc, TIX_RC_OK);
    ASSERT_EQ_INT(b->corrupt_hold(b->ctx, db->where, bad->u.hold.hold.id), 0);
    store_cmd *r = cf_cmd(STORE_CMD_RELEASE);
    snprintf(r->u.release.hold.id, sizeof(r->u.release.hold.id), "%s", bad->u.hold.hold.id);
    ASSERT_EQ_INT(cf_run(db, &r, 1), STORE_FATAL);
    bool found;
    hold_record h;
    store_status status = STORE_OK;
    ASSERT_EQ_INT(store_hold_get(db->st, bad->u.hold.hold.id, &h, &found, &status), -1);
    ASSERT_EQ_INT(status, STORE_FATAL);
    /* what does not read that row goes on; what does (a hold of its seat must know whether
     * the holder lapsed) fails the same way */
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A2")->rc, TIX_RC_OK);
    store_cmd *again = cf_hold_cmd("e1", "u", "A1");
    ASSERT_EQ_INT(cf_run(db, &again, 1), STORE_FATAL);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "A3")->rc, TIX_RC_OK);
}

void conformance_reopening_keeps_the_data_and_the_store_id(const conformance_backend *b)
{
    cf_db *db = cf_open(b);
    ASSERT_NOT_NULL(db);
    TEST_CHECK(cf_event(db, "e1", 600, 10));
    store_cmd *h = cf_hold(db, "e1", "u", "B2");
    char id[64];
    snprintf(id, sizeof(id), "%s", store_id(db->st));
    ASSERT_TRUE(ids_is_valid_hex(id, strlen(id)));
    int64_t head = cf_head(db);
    store_close(db->st);
    db->st = b->open(b->ctx, db->where, 0);
    ASSERT_NOT_NULL(db->st);
    ASSERT_EQ_STR(store_id(db->st), id);
    ASSERT_EQ_INT(cf_head(db), head);
    bool found = false;
    cf_hold_read(db, h->u.hold.hold.id, &found);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(cf_seat_now(db, "e1", "B2").hold_seq, h->u.hold.hold.seq);
    ASSERT_EQ_INT(cf_hold(db, "e1", "u", "B3")->rc, TIX_RC_OK);
    ASSERT_EQ_INT(db->batch.changes.items[0].seq, head + 1);
    cf_db *another = cf_open(b);
    ASSERT_NOT_NULL(another);
    ASSERT_TRUE(strcmp(store_id(another->st), id) != 0);
}
