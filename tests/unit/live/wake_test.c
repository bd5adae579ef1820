/* live wake passes: the viewers of an event's seat changes. These tests drive live with a transport of
 * their own (a thread standing in for libmicrohttpd's): a woken stream is queued, and the
 * transport thread reads it as the HTTP layer would, until it parks again. What they check is
 * how live wakes many viewers: in slices, the next slice only once the transport has read the
 * last one (or a bounded wait passed), so that a transport with other work to do (a hold's
 * answer) never has thousands of viewers in front of it. */
#include "../test.h"

#include "../fixtures.h"
#include "feed/feed.h"
#include "live/live.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum {
    VIEWERS = 3 * LIVE_WAKE_SLICE_STREAMS, /* three slices */
    WAIT_MS_MAX = 10000,                   /* for anything that should happen at all */
};

/* The stand-in transport: woken streams in a queue, a thread reading them. */
typedef struct transport {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    int32_t queue[VIEWERS]; /* viewer numbers, in the order they were woken */
    uint32_t head, count;
    bool stop, stalled;    /* stalled: it reads nothing (a transport that fell behind) */
    bool close_even;       /* the even viewers are gone: a woken one is closed, not read */
    uint32_t woken;        /* wakes so far */
    uint32_t unread;       /* woken and not read yet */
    uint32_t unread_max;   /* the most at once */
    uint32_t got[VIEWERS]; /* seat messages each viewer read */
    live_stream *streams[VIEWERS];
    pthread_t thread;
} transport;

typedef struct viewer_ctx {
    transport *t;
    int32_t n;
} viewer_ctx;

typedef struct fixture {
    store *st;
    inventory *inv;
    feed *f;
    live *l;
    transport t;
    viewer_ctx ctx[VIEWERS];
    bool thread_started;
} fixture;

static void on_park(void *ctx)
{
    (void)ctx; /* the stream is parked until woken: nothing to do for this transport */
}

/* Called by live under the event's lock: only queue the stream. */
static void on_wake(void *ctx)
{
    viewer_ctx *v = ctx;
    transport *t = v->t;
    pthread_mutex_lock(&t->mutex);
    t->queue[(t->head + t->count) % VIEWERS] = v->n;
    t->count++;
    t->woken++;
    if (++t->unread > t->unread_max) t->unread_max = t->unread;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mutex);
}

/* Read viewer n until it parks (or ends), counting its seat messages. It counts as read from
 * the moment its first read begins (live counts it then too). */
static void read_viewer(transport *t, int32_t n)
{
    pthread_mutex_lock(&t->mutex);
    t->unread--;
    pthread_mutex_unlock(&t->mutex);
    char out[4096];
    ssize_t got;
    while ((got = live_stream_read(t->streams[n], out, sizeof(out))) > 0)
        if (got > 4 && memcmp(out, "id: ", 4) == 0)
            __atomic_add_fetch(&t->got[n], 1, __ATOMIC_RELAXED);
}

static void *transport_loop(void *arg)
{
    transport *t = arg;
    pthread_mutex_lock(&t->mutex);
    while (!t->stop) {
        if (t->count == 0 || t->stalled) {
            pthread_cond_wait(&t->cond, &t->mutex);
            continue;
        }
        int32_t n = t->queue[t->head];
        t->head = (t->head + 1) % VIEWERS;
        t->count--;
        pthread_mutex_unlock(&t->mutex);
        if (t->close_even && n % 2 == 0) {
            pthread_mutex_lock(&t->mutex);
            t->unread--;
            pthread_mutex_unlock(&t->mutex);
            live_stream_close(t->streams[n]);
            pthread_mutex_lock(&t->mutex);
            t->streams[n] = NULL;
        } else {
            read_viewer(t, n);
            pthread_mutex_lock(&t->mutex);
        }
    }
    pthread_mutex_unlock(&t->mutex);
    return NULL;
}

static void fixture_close(void *arg)
{
    fixture *fx = arg;
    if (fx->thread_started) {
        pthread_mutex_lock(&fx->t.mutex);
        fx->t.stop = true;
        pthread_cond_signal(&fx->t.cond);
        pthread_mutex_unlock(&fx->t.mutex);
        pthread_join(fx->t.thread, NULL);
    }
    for (int i = 0; i < VIEWERS; i++)
        live_stream_close(fx->t.streams[i]);
    live_close(fx->l);
    feed_close(fx->f);
    inventory_destroy(fx->inv);
    store_close(fx->st);
    free(fx);
}

static int create_event(fixture *fx)
{
    store_rules rules = {.max_attempts = 3, .lease_ms = 30000, .feed_retain = 1000000};
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_EVENT_CREATE);
    fx_spec_init(&cmd->u.event_create.spec, "show", 600, 10);
    fx_spec_add_rows(&cmd->u.event_create.spec, "Main", 1000, 4, 0, 2); /* A1..A4, B1..B4 */
    store_batch b = {
        .now_ms = clock_now_ms(), .rules = &rules, .node_id = "n", .cmds = &cmd, .count = 1};
    change_page_init(&b.changes);
    int rc = store_batch_run(fx->st, &b) == STORE_OK ? (int)cmd->rc : -1;
    change_page_free(&b.changes);
    model_event_spec_free(&cmd->u.event_create.spec);
    free(cmd);
    return rc;
}

/* A store with the event "show", its feed and live (waiting slice_wait_ms at most for a slice
 * to be read), and VIEWERS viewers of it, each bound to the transport and parked after its
 * first frame. */
static fixture *fixture_new(uint32_t slice_wait_ms)
{
    fixture *fx = calloc(1, sizeof(*fx));
    test_defer(fixture_close, fx);
    fx->t.mutex = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    fx->t.cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    store_options o = {.data_dir = test_tmpdir(), .readers = 1};
    char err[256] = "";
    if (store_open(&o, &fx->st, err, sizeof(err)) != 0)
        return test_fail(__FILE__, __LINE__, "%s", err), NULL;
    fx->inv = inventory_create();
    if (!fx->inv || create_event(fx) != TIX_RC_OK)
        return test_fail(__FILE__, __LINE__, "event"), NULL;
    feed_config fc = {.poll_ms = FEED_POLL_MS_MAX, .page_max = 8};
    if (!(fx->f = feed_open(fx->st, fx->inv, &fc)))
        return test_fail(__FILE__, __LINE__, "feed"), NULL;
    /* a flush 20 ms after the change (each test makes one: each pass is one change's) and no
     * heartbeat during a test */
    live_config lc = {.streams_max = VIEWERS,
                      .flush_ms = 20,
                      .heartbeat_ms = 3600 * 1000,
                      .slice_wait_ms = slice_wait_ms};
    if (!(fx->l = live_open(fx->f, fx->inv, &lc)))
        return test_fail(__FILE__, __LINE__, "live"), NULL;
    for (int32_t i = 0; i < VIEWERS; i++) {
        fx->ctx[i] = (viewer_ctx){.t = &fx->t, .n = i};
        if (live_stream_open(fx->l, "show", -1, &fx->t.streams[i]) != LIVE_OPENED)
            return test_fail(__FILE__, __LINE__, "viewer %d not opened", (int)i), NULL;
        live_stream_bind(fx->t.streams[i], on_park, on_wake, &fx->ctx[i]);
        char out[256];
        if (live_stream_read(fx->t.streams[i], out, sizeof(out)) <= 0 || /* retry: */
            live_stream_read(fx->t.streams[i], out, sizeof(out)) != 0)   /* parks */
            return test_fail(__FILE__, __LINE__, "viewer %d did not park", (int)i), NULL;
    }
    if (pthread_create(&fx->t.thread, NULL, transport_loop, &fx->t) != 0) return NULL;
    fx->thread_started = true;
    return fx;
}

/* A hold of seat A1 of "show", as the feed would hand it to live. */
static void hold_a1(fixture *fx)
{
    change_record c = {.seq = feed_position(fx->f) + 1,
                       .kind = CHANGE_HELD,
                       .event_id = "show",
                       .hold_seq = 1,
                       .expires_ms = clock_now_ms() + 600000,
                       .seat_count = 1};
    static const char seats[] = "[\"A1\"]";
    live_on_change(fx->l, &c, seats, sizeof(seats) - 1);
}

/* Wait until pred(t) holds (WAIT_MS_MAX at most). */
static bool wait_for(transport *t, bool (*pred)(transport *t))
{
    for (int64_t deadline = clock_mono_ms() + WAIT_MS_MAX; clock_mono_ms() < deadline;) {
        pthread_mutex_lock(&t->mutex);
        bool done = pred(t);
        pthread_mutex_unlock(&t->mutex);
        if (done) return true;
        usleep(1000);
    }
    return false;
}

static bool all_woken(transport *t)
{
    return t->woken == VIEWERS;
}

static bool all_read_once(transport *t)
{
    for (int i = 0; i < VIEWERS; i++)
        if ((!t->close_even || i % 2) && __atomic_load_n(&t->got[i], __ATOMIC_RELAXED) != 1)
            return false;
    return t->unread == 0;
}

TEST(live_wakes_many_viewers_a_slice_at_a_time_each_once_the_transport_read_the_last)
{
    fixture *fx = fixture_new(WAIT_MS_MAX); /* no slice is given up on */
    ASSERT_NOT_NULL(fx);
    hold_a1(fx);
    ASSERT_TRUE(wait_for(&fx->t, all_read_once));
    ASSERT_EQ_INT(fx->t.woken, VIEWERS);
    /* all at once, every viewer would have waited for the transport together */
    ASSERT_LE(fx->t.unread_max, LIVE_WAKE_SLICE_STREAMS);
    ASSERT_GT(fx->t.unread_max, 0);
}

TEST(live_wakes_every_viewer_even_when_the_transport_reads_none_of_them)
{
    fixture *fx = fixture_new(10);
    ASSERT_NOT_NULL(fx);
    pthread_mutex_lock(&fx->t.mutex);
    fx->t.stalled = true;
    pthread_mutex_unlock(&fx->t.mutex);
    hold_a1(fx);
    /* each slice waits 10 ms at most for the last one to be read */
    ASSERT_TRUE(wait_for(&fx->t, all_woken));
    pthread_mutex_lock(&fx->t.mutex);
    fx->t.stalled = false;
    pthread_cond_signal(&fx->t.cond);
    pthread_mutex_unlock(&fx->t.mutex);
    ASSERT_TRUE(wait_for(&fx->t, all_read_once));
}

TEST(live_finishes_a_wake_pass_when_viewers_close_during_it)
{
    fixture *fx = fixture_new(WAIT_MS_MAX); /* a closed viewer must count as read */
    ASSERT_NOT_NULL(fx);
    pthread_mutex_lock(&fx->t.mutex);
    fx->t.close_even = true; /* every other woken viewer is found gone and closed */
    pthread_mutex_unlock(&fx->t.mutex);
    hold_a1(fx);
    ASSERT_TRUE(wait_for(&fx->t, all_read_once)); /* the odd ones each got the message */
    ASSERT_EQ_INT(live_streams_open(fx->l), VIEWERS / 2);
}
