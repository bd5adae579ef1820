/* feed: the follower that keeps the inventory: built from a snapshot, then changed only by the
 * feed's changes, in order, once each; this node's batches at once, another writer's by the
 * poller; a follower that fell behind what the store keeps rebuilds. Another writer is a second
 * store handle on the same database, as a second tix process would be. */
#include "../test.h"

#include "../fixtures.h"
#include "feed/feed.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct fixture {
    const char *dir;
    store *st, *other; /* this node's handle and another writer's */
    inventory *inv;
    feed *f;
    store_rules rules;
    store_batch batch; /* the other writer's */
} fixture;

static void fixture_close(void *arg)
{
    fixture *fx = arg;
    feed_close(fx->f);
    inventory_destroy(fx->inv);
    store_close(fx->other);
    store_close(fx->st);
    change_page_free(&fx->batch.changes);
    free(fx);
}

static store *open_handle(const char *dir)
{
    store_options o = {.data_dir = dir, .readers = 2};
    store *st = NULL;
    char err[256] = "";
    if (store_open(&o, &st, err, sizeof(err)) != 0) test_fail(__FILE__, __LINE__, "%s", err);
    return st;
}

/* Two handles on a fresh store; the feed is not opened yet. */
static fixture *fixture_new(void)
{
    fixture *fx = calloc(1, sizeof(*fx));
    test_defer(fixture_close, fx);
    fx->dir = test_tmpdir();
    fx->rules = (store_rules){.max_attempts = 3,
                              .lease_ms = 30000,
                              .idempotency_ttl_s = 86400,
                              .checkout_timeout_s = 900,
                              .feed_retain = 1000000};
    change_page_init(&fx->batch.changes);
    fx->st = open_handle(fx->dir);
    fx->other = open_handle(fx->dir);
    fx->inv = inventory_create();
    return fx->st && fx->other && fx->inv ? fx : NULL;
}

static int open_feed(fixture *fx, uint32_t poll_ms)
{
    feed_config config = {.poll_ms = poll_ms, .page_max = 8};
    fx->f = feed_open(fx->st, fx->inv, &config);
    if (!fx->f) return test_fail(__FILE__, __LINE__, "feed_open"), -1;
    return 0;
}

/* Run cmd alone on st (the batch kept in *b); returns its rc or -1. */
static int run_on(fixture *fx, store *st, store_batch *b, store_cmd *cmd)
{
    *b = (store_batch){.now_ms = clock_now_ms(),
                       .rules = &fx->rules,
                       .node_id = "n",
                       .cmds = &cmd,
                       .count = 1,
                       .changes = b->changes};
    return store_batch_run(st, b) == STORE_OK ? (int)cmd->rc : -1;
}

/* The other writer runs cmd. */
static int other_runs(fixture *fx, store_cmd *cmd)
{
    return run_on(fx, fx->other, &fx->batch, cmd);
}

static int create_event(fixture *fx, store *st, const char *id)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_EVENT_CREATE);
    fx_spec_init(&cmd->u.event_create.spec, id, 600, 10);
    fx_spec_add_rows(&cmd->u.event_create.spec, "Main", 1000, 4, 0, 2); /* A1..A4, B1..B4 */
    store_batch b = {0};
    change_page_init(&b.changes);
    int rc = run_on(fx, st, &b, cmd);
    change_page_free(&b.changes);
    model_event_spec_free(&cmd->u.event_create.spec);
    free(cmd);
    return rc;
}

/* A hold of one seat of event id by the other writer; its seq into *seq. */
static int other_holds(fixture *fx, const char *event_id, const char *seat, int64_t *seq)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_HOLD);
    hold_record *h = &cmd->u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", event_id);
    snprintf(h->user_id, sizeof(h->user_id), "other");
    h->seat_count = 1;
    snprintf(h->seat_ids[0], TIX_SEAT_ID_LEN_MAX, "%s", seat);
    int rc = other_runs(fx, cmd);
    if (seq) *seq = h->seq;
    free(cmd);
    return rc;
}

static seat_status seat_now(inv_event *ev, const char *seat, int64_t *hold_seq)
{
    uint32_t i = (uint32_t)inv_event_seat_find(ev, seat, strlen(seat));
    pthread_rwlock_rdlock(&ev->lock);
    seat_status status = (seat_status)ev->seats[i].status;
    if (hold_seq) *hold_seq = ev->seats[i].hold_seq;
    pthread_rwlock_unlock(&ev->lock);
    return status;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- listeners ---- */

typedef struct heard {
    pthread_mutex_t mutex;
    uint32_t count;
    int64_t seqs[64];
    bool in_order;
} heard;

static void listen_cb(void *ctx, const change_record *c, const char *seats, size_t len)
{
    (void)seats, (void)len;
    heard *h = ctx;
    pthread_mutex_lock(&h->mutex);
    if (h->count > 0 && c->seq != h->seqs[h->count - 1] + 1) h->in_order = false;
    if (h->count < 64) h->seqs[h->count++] = c->seq;
    pthread_mutex_unlock(&h->mutex);
}

static uint32_t heard_count(heard *h)
{
    pthread_mutex_lock(&h->mutex);
    uint32_t n = h->count;
    pthread_mutex_unlock(&h->mutex);
    return n;
}

/* ---- tests ---- */

TEST(feed_open_builds_the_inventory_from_a_snapshot_at_the_stores_position)
{
    fixture *fx = fixture_new();
    ASSERT_NOT_NULL(fx);
    ASSERT_EQ_INT(create_event(fx, fx->other, "show"), TIX_RC_OK);
    int64_t seq;
    ASSERT_EQ_INT(other_holds(fx, "show", "B2", &seq), TIX_RC_OK);
    ASSERT_EQ_INT(open_feed(fx, 10000), 0);
    ASSERT_EQ_INT(feed_position(fx->f), 2); /* event_created, held */
    inv_event *ev = inventory_find(fx->inv, "show", 4);
    ASSERT_NOT_NULL(ev);
    ASSERT_EQ_INT(inv_event_version(ev), 2);
    int64_t holder;
    ASSERT_EQ_INT(seat_now(ev, "B2", &holder), SEAT_HELD);
    ASSERT_EQ_INT(holder, seq);
    ASSERT_EQ_INT(seat_now(ev, "B1", NULL), SEAT_AVAILABLE);
    ASSERT_LE(feed_lag_ms(fx->f, clock_now_ms()), 1000);
}

TEST(feed_applies_a_committed_batch_after_what_other_writers_committed_before_it)
{
    fixture *fx = fixture_new();
    ASSERT_NOT_NULL(fx);
    ASSERT_EQ_INT(create_event(fx, fx->st, "show"), TIX_RC_OK);
    ASSERT_EQ_INT(open_feed(fx, FEED_POLL_MS_MAX), 0); /* the poller never runs in time */
    heard h = {.mutex = PTHREAD_MUTEX_INITIALIZER, .in_order = true};
    ASSERT_EQ_INT(feed_listen(fx->f, listen_cb, &h), 0);
    ASSERT_EQ_INT(feed_start(fx->f), 0);
    /* the other writer commits 8 holds (a whole page: page_max is 8) */
    static const char *const seats[] = {"A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4"};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ_INT(other_holds(fx, "show", seats[i], NULL), TIX_RC_OK);
    ASSERT_EQ_INT(feed_position(fx->f), 1); /* none of it applied yet */
    /* then this node commits a hold of B4: its batch began after the other writer's 7 */
    store_cmd *mine = calloc(1, sizeof(*mine));
    test_defer(free, mine);
    store_cmd_init(mine, STORE_CMD_HOLD);
    hold_record *hr = &mine->u.hold.hold;
    snprintf(hr->event_id, sizeof(hr->event_id), "show");
    snprintf(hr->user_id, sizeof(hr->user_id), "me");
    hr->seat_count = 1;
    snprintf(hr->seat_ids[0], TIX_SEAT_ID_LEN_MAX, "B4");
    store_batch b = {0};
    change_page_init(&b.changes);
    int64_t started = clock_now_ms();
    int rc = run_on(fx, fx->st, &b, mine);
    int64_t feed_before = b.feed_before;
    if (rc == TIX_RC_OK) feed_apply_committed(fx->f, &b.changes, b.feed_before, started);
    change_page_free(&b.changes);
    ASSERT_EQ_INT(rc, TIX_RC_OK);
    ASSERT_EQ_INT(feed_before, 8);
    /* the other writer's changes first, then this node's, each once, in order */
    ASSERT_EQ_INT(feed_position(fx->f), 9);
    inv_event *ev = inventory_find(fx->inv, "show", 4);
    ASSERT_NOT_NULL(ev);
    for (int i = 0; i < 8; i++)
        ASSERT_EQ_INT(seat_now(ev, seats[i], NULL), SEAT_HELD);
    ASSERT_EQ_INT(inv_event_version(ev), 9);
    ASSERT_EQ_INT(heard_count(&h), 8);
    ASSERT_TRUE(h.in_order);
    ASSERT_EQ_INT(h.seqs[0], 2);
    /* everything committed before the batch began is applied: the lag counts from then */
    ASSERT_LE(feed_lag_ms(fx->f, clock_now_ms()), clock_now_ms() - started + 1);
}

TEST(feed_poller_brings_another_writers_changes_within_its_interval)
{
    fixture *fx = fixture_new();
    ASSERT_NOT_NULL(fx);
    ASSERT_EQ_INT(open_feed(fx, 20), 0);
    heard h = {.mutex = PTHREAD_MUTEX_INITIALIZER, .in_order = true};
    ASSERT_EQ_INT(feed_listen(fx->f, listen_cb, &h), 0);
    ASSERT_EQ_INT(feed_start(fx->f), 0);
    ASSERT_EQ_INT(create_event(fx, fx->other, "later"), TIX_RC_OK); /* an event, from elsewhere */
    int64_t seq;
    ASSERT_EQ_INT(other_holds(fx, "later", "A3", &seq), TIX_RC_OK);
    int64_t started = clock_mono_ms();
    while (feed_position(fx->f) < 2 && clock_mono_ms() - started < 5000)
        sleep_ms(5);
    test_note("another writer's changes applied after %lld ms (poll every 20 ms)",
              (long long)(clock_mono_ms() - started));
    ASSERT_EQ_INT(feed_position(fx->f), 2);
    inv_event *ev = inventory_find(fx->inv, "later", 5);
    ASSERT_NOT_NULL(ev);
    int64_t holder;
    ASSERT_EQ_INT(seat_now(ev, "A3", &holder), SEAT_HELD);
    ASSERT_EQ_INT(holder, seq);
    ASSERT_EQ_INT(heard_count(&h), 2);
    ASSERT_TRUE(h.in_order);
    /* caught up: fresh */
    ASSERT_LE(feed_lag_ms(fx->f, clock_now_ms()), 1000);
}

TEST(feed_lag_grows_while_nothing_tells_the_follower_it_is_up_to_date)
{
    fixture *fx = fixture_new();
    ASSERT_NOT_NULL(fx);
    ASSERT_EQ_INT(open_feed(fx, FEED_POLL_MS_MAX), 0);
    ASSERT_EQ_INT(feed_start(fx->f), 0);
    sleep_ms(120); /* the snapshot of feed_open was the last news */
    ASSERT_GE(feed_lag_ms(fx->f, clock_now_ms()), 120);
    feed_wake(fx->f); /* a poll: up to date again */
    int64_t started = clock_mono_ms();
    while (feed_lag_ms(fx->f, clock_now_ms()) >= 100 && clock_mono_ms() - started < 5000)
        sleep_ms(5);
    ASSERT_LT(feed_lag_ms(fx->f, clock_now_ms()), 100);
}

TEST(feed_that_fell_behind_what_the_store_keeps_rebuilds_from_a_snapshot)
{
    fixture *fx = fixture_new();
    ASSERT_NOT_NULL(fx);
    ASSERT_EQ_INT(create_event(fx, fx->st, "show"), TIX_RC_OK);
    ASSERT_EQ_INT(open_feed(fx, 20), 0);
    ASSERT_EQ_INT(feed_position(fx->f), 1);
    /* while this follower does not poll, the other writer holds 6 seats and trims the feed to
     * the last 2 changes: changes 2..5 are gone */
    int64_t seqs[6];
    static const char *const seats[] = {"A1", "A2", "A3", "A4", "B1", "B2"};
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_INT(other_holds(fx, "show", seats[i], &seqs[i]), TIX_RC_OK);
    fx->rules.feed_retain = 2;
    store_cmd sweep;
    store_cmd_init(&sweep, STORE_CMD_SWEEP);
    sweep.u.sweep.holds_max = 10;
    ASSERT_EQ_INT(other_runs(fx, &sweep), TIX_RC_OK);
    ASSERT_EQ_INT(feed_start(fx->f), 0);
    int64_t started = clock_mono_ms();
    while (feed_position(fx->f) < 7 && clock_mono_ms() - started < 5000)
        sleep_ms(5);
    ASSERT_EQ_INT(feed_position(fx->f), 7);
    inv_event *ev = inventory_find(fx->inv, "show", 4);
    for (int i = 0; i < 6; i++) {
        int64_t holder;
        ASSERT_EQ_INT(seat_now(ev, seats[i], &holder), SEAT_HELD);
        ASSERT_EQ_INT(holder, seqs[i]);
    }
    ASSERT_EQ_INT(inv_event_version(ev), 7);
}
