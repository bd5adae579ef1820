/* live: seat changes batched into one message per event, shared by its streams; a stream
 * resumes after a position its event's backlog covers and is told to reload otherwise; parks
 * when it has nothing to say and is woken when it has; heartbeats; the stream limit; shutdown.
 * The changes are handed to the listener as the follower would (live_on_change), except in the
 * last test, where another writer's hold comes through a real follower. */
#include "../test.h"

#include "../fixtures.h"
#include "live/live.h"
#include "util/clock.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

typedef struct fixture {
    store *st, *other;
    inventory *inv;
    feed *f;
    live *l;
    int64_t seq; /* the last change handed to the listener */
    live_stream *streams[16]; /* open, closed by close_stream or at the end */
    store_rules rules;
} fixture;

static void fixture_close(void *arg)
{
    fixture *fx = arg;
    for (int i = 0; i < 16; i++)
        live_stream_close(fx->streams[i]);
    live_close(fx->l);
    feed_close(fx->f);
    inventory_destroy(fx->inv);
    store_close(fx->other);
    store_close(fx->st);
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

/* Run cmd alone on st. Returns its rc, or -1 when the batch failed. */
static int run_on(fixture *fx, store *st, store_cmd *cmd)
{
    store_batch b = {
        .now_ms = clock_now_ms(), .rules = &fx->rules, .node_id = "n", .cmds = &cmd, .count = 1};
    change_page_init(&b.changes);
    int rc = store_batch_run(st, &b) == STORE_OK ? (int)cmd->rc : -1;
    change_page_free(&b.changes);
    return rc;
}

static int create_event(fixture *fx, const char *id)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_EVENT_CREATE);
    fx_spec_init(&cmd->u.event_create.spec, id, 600, 10);
    fx_spec_add_rows(&cmd->u.event_create.spec, "Main", 1000, 4, 0, 2); /* A1..A4, B1..B4 */
    int rc = run_on(fx, fx->st, cmd);
    model_event_spec_free(&cmd->u.event_create.spec);
    free(cmd);
    return rc;
}

/* Events "show" and "other", a follower over them (its poller not started) and live over it,
 * with a flusher that never runs in time (the tests call live_flush) unless flush_ms says. */
static fixture *fixture_with(uint32_t streams_max, uint32_t heartbeat_ms, uint32_t flush_ms)
{
    fixture *fx = calloc(1, sizeof(*fx));
    test_defer(fixture_close, fx);
    const char *dir = test_tmpdir();
    fx->rules = (store_rules){.max_attempts = 3,
                              .lease_ms = 30000,
                              .idempotency_ttl_s = 86400,
                              .checkout_timeout_s = 900,
                              .feed_retain = 1000000};
    fx->st = open_handle(dir);
    fx->other = open_handle(dir);
    fx->inv = inventory_create();
    if (!fx->st || !fx->other || !fx->inv) return NULL;
    if (create_event(fx, "show") != TIX_RC_OK || create_event(fx, "other") != TIX_RC_OK)
        return NULL;
    feed_config fc = {.poll_ms = FEED_POLL_MS_MAX, .page_max = 64};
    fx->f = feed_open(fx->st, fx->inv, &fc);
    live_config lc = {.streams_max = streams_max, .flush_ms = flush_ms, .heartbeat_ms = heartbeat_ms};
    fx->l = fx->f ? live_open(fx->f, fx->inv, &lc) : NULL;
    fx->seq = fx->f ? feed_position(fx->f) : 0;
    return fx->l ? fx : NULL;
}

static fixture *fixture_new(uint32_t streams_max, uint32_t heartbeat_ms)
{
    return fixture_with(streams_max, heartbeat_ms, 3600000);
}

/* Hand the listener the next change, committed at time_ms: kind of seats (a JSON array) of
 * event_id. */
static int64_t change_at(fixture *fx, int64_t time_ms, const char *event_id, change_kind kind,
                         const char *seats)
{
    change_record c = {.seq = ++fx->seq,
                       .time_ms = time_ms,
                       .kind = kind,
                       .hold_seq = 1,
                       .expires_ms = 1893456000000, /* 2030-01-01 */
                       .seat_count = 1};
    snprintf(c.event_id, sizeof(c.event_id), "%s", event_id);
    live_on_change(fx->l, &c, seats, strlen(seats));
    return c.seq;
}

/* The same, committed now. */
static int64_t change(fixture *fx, const char *event_id, change_kind kind, const char *seats)
{
    return change_at(fx, clock_now_ms(), event_id, kind, seats);
}

/* Everything s has to send now, as text (read in reads of at most chunk bytes); *end is set
 * when the stream is over. */
static char *drain(live_stream *s, size_t chunk, bool *end)
{
    static char text[65536];
    size_t len = 0;
    char piece[4096];
    *end = false;
    for (;;) {
        ssize_t n = live_stream_read(s, piece, chunk < sizeof(piece) ? chunk : sizeof(piece));
        if (n < 0) *end = true;
        if (n <= 0) break;
        if (len + (size_t)n < sizeof(text)) memcpy(text + len, piece, (size_t)n), len += (size_t)n;
    }
    text[len] = '\0';
    return text;
}

/* Remember s to close it at the end. */
static void track(fixture *fx, live_stream *s)
{
    for (int i = 0; s && i < 16; i++)
        if (!fx->streams[i]) return (void)(fx->streams[i] = s);
    test_fail(__FILE__, __LINE__, "too many streams for the fixture");
}

static live_stream *open_stream(fixture *fx, const char *event_id, int64_t after)
{
    live_stream *s = NULL;
    if (live_stream_open(fx->l, event_id, after, &s) != LIVE_OPENED) return NULL;
    track(fx, s);
    return s;
}

static void close_stream(fixture *fx, live_stream *s)
{
    for (int i = 0; i < 16; i++)
        if (fx->streams[i] == s) fx->streams[i] = NULL;
    live_stream_close(s);
}

static uint32_t count_of(const char *text, const char *needle)
{
    uint32_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ---- parking ---- */

typedef struct parking {
    pthread_mutex_t mutex;
    uint32_t parks, wakes;
} parking;

static void on_park(void *ctx)
{
    parking *p = ctx;
    pthread_mutex_lock(&p->mutex);
    p->parks++;
    pthread_mutex_unlock(&p->mutex);
}

static void on_wake(void *ctx)
{
    parking *p = ctx;
    pthread_mutex_lock(&p->mutex);
    p->wakes++;
    pthread_mutex_unlock(&p->mutex);
}

static uint32_t wakes_of(parking *p)
{
    pthread_mutex_lock(&p->mutex);
    uint32_t n = p->wakes;
    pthread_mutex_unlock(&p->mutex);
    return n;
}

/* ---- tests ---- */

TEST(live_batches_an_events_changes_into_one_message_with_the_position_of_the_last)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *s = open_stream(fx, "show", fx->seq);
    live_stream *elsewhere = open_stream(fx, "other", fx->seq);
    ASSERT_NOT_NULL(s);
    ASSERT_NOT_NULL(elsewhere);
    bool end;
    ASSERT_EQ_STR(drain(s, 4096, &end), "retry: 1000\n\n");
    drain(elsewhere, 4096, &end);
    change(fx, "show", CHANGE_HELD, "[\"A1\",\"A2\"]");
    change(fx, "show", CHANGE_RELEASED, "[\"A1\"]");
    int64_t last = change(fx, "show", CHANGE_SOLD, "[\"A2\"]");
    ASSERT_EQ_STR(drain(s, 4096, &end), ""); /* nothing before the flush */
    live_flush(fx->l);
    char want[1024];
    snprintf(want, sizeof(want),
             "id: %lld\nevent: seats\ndata: {\"position\":%lld,\"seats\":["
             "{\"id\":\"A1\",\"status\":\"held\",\"expires_at\":\"2030-01-01T00:00:00.000Z\"},"
             "{\"id\":\"A2\",\"status\":\"held\",\"expires_at\":\"2030-01-01T00:00:00.000Z\"},"
             "{\"id\":\"A1\",\"status\":\"available\"},{\"id\":\"A2\",\"status\":\"sold\"}]}\n\n",
             (long long)last, (long long)last);
    ASSERT_EQ_STR(drain(s, 4096, &end), want);
    ASSERT_FALSE(end);
    ASSERT_EQ_STR(drain(elsewhere, 4096, &end), ""); /* another event's viewer hears nothing */
    /* a reader taking 7 bytes at a time gets the same bytes */
    live_stream *slow = open_stream(fx, "show", last - 1);
    drain(slow, 7, &end);
    close_stream(fx, slow);
    slow = open_stream(fx, "show", last - 1);
    const char *got = drain(slow, 7, &end);
    ASSERT_EQ_STR(got + strlen("retry: 1000\n\n"), want);
    close_stream(fx, slow);
    close_stream(fx, s);
    close_stream(fx, elsewhere);
    ASSERT_EQ_UINT(live_streams_open(fx->l), 0);
}

TEST(live_sends_no_message_before_flush_ms_even_the_first_after_the_start)
{
    fixture *fx = fixture_with(10, 3600000, 5000); /* flushed 5 s after the start at the soonest */
    ASSERT_NOT_NULL(fx);
    live_stream *s = open_stream(fx, "show", fx->seq);
    ASSERT_NOT_NULL(s);
    bool end;
    ASSERT_EQ_STR(drain(s, 4096, &end), "retry: 1000\n\n");
    change(fx, "show", CHANGE_HELD, "[\"A1\"]");
    usleep(100 * 1000); /* the flusher is woken by the change and has time to run */
    ASSERT_EQ_STR(drain(s, 4096, &end), "");
    close_stream(fx, s);
}

TEST(live_resumes_after_a_covered_position_and_tells_an_older_one_to_reload)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    int64_t start = fx->seq;
    int64_t first = change(fx, "show", CHANGE_HELD, "[\"A1\"]");
    live_flush(fx->l);
    int64_t second = change(fx, "show", CHANGE_HELD, "[\"A2\"]");
    live_flush(fx->l);
    bool end;
    /* after the first message: only the second */
    live_stream *s = open_stream(fx, "show", first);
    const char *text = drain(s, 4096, &end);
    ASSERT_EQ_UINT(count_of(text, "event: seats"), 1);
    ASSERT_CONTAINS(text, "\"A2\"");
    close_stream(fx, s);
    /* after the start: both; from now on (-1): neither */
    s = open_stream(fx, "show", start);
    ASSERT_EQ_UINT(count_of(drain(s, 4096, &end), "event: seats"), 2);
    close_stream(fx, s);
    s = open_stream(fx, "show", -1);
    ASSERT_EQ_UINT(count_of(drain(s, 4096, &end), "event: seats"), 0);
    close_stream(fx, s);
    /* a position in the future waits for the feed to pass it */
    s = open_stream(fx, "show", second + 5);
    ASSERT_EQ_UINT(count_of(drain(s, 4096, &end), "event: seats"), 0);
    ASSERT_FALSE(end);
    close_stream(fx, s);
    /* before the start: changes it needs were never kept here */
    s = open_stream(fx, "show", start - 1);
    text = drain(s, 4096, &end);
    ASSERT_CONTAINS(text, "event: reload\ndata: {\"position\":");
    ASSERT_TRUE(end);
    close_stream(fx, s);
}

TEST(live_a_stream_that_fell_out_of_the_backlog_is_told_to_reload)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *behind = open_stream(fx, "show", fx->seq);
    live_stream *keeping_up = open_stream(fx, "show", fx->seq);
    bool end;
    drain(behind, 4096, &end);
    for (int i = 0; i < LIVE_BACKLOG_MESSAGES + 3; i++) {
        change(fx, "show", i % 2 ? CHANGE_RELEASED : CHANGE_HELD, "[\"B1\"]");
        live_flush(fx->l);
        drain(keeping_up, 4096, &end);
        ASSERT_FALSE(end);
    }
    const char *text = drain(behind, 4096, &end);
    ASSERT_EQ_UINT(count_of(text, "event: seats"), 0);
    ASSERT_CONTAINS(text, "event: reload");
    ASSERT_TRUE(end);
    close_stream(fx, behind);
    close_stream(fx, keeping_up);
}

TEST(live_cuts_a_large_batch_into_messages_of_bounded_size)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *s = open_stream(fx, "show", fx->seq);
    bool end;
    drain(s, 4096, &end);
    /* 35 to 70 bytes per seat: 4,000 changes are three messages' worth or more */
    for (int i = 0; i < 4000; i++)
        change(fx, "show", i % 2 ? CHANGE_RELEASED : CHANGE_HELD, "[\"B2\"]");
    live_flush(fx->l);
    uint32_t messages = 0, seats = 0;
    size_t longest = 0;
    for (;;) {
        char piece[4096];
        static char message[LIVE_MESSAGE_LEN_MAX * 2];
        size_t len = 0;
        ssize_t n;
        /* one message at a time: read until its blank line */
        while ((n = live_stream_read(s, piece, 1)) > 0) {
            message[len++] = piece[0];
            if (len >= 2 && message[len - 1] == '\n' && message[len - 2] == '\n') break;
        }
        if (n <= 0) break;
        message[len] = '\0';
        if (!strstr(message, "event: seats")) continue;
        messages++;
        seats += count_of(message, "\"id\":");
        if (len > longest) longest = len;
    }
    ASSERT_EQ_UINT(seats, 4000);
    ASSERT_GE(messages, 3);
    ASSERT_LE(longest, LIVE_MESSAGE_LEN_MAX + TIX_HOLD_SEATS_MAX * 128);
    close_stream(fx, s);
}

TEST(live_parks_a_stream_with_nothing_to_say_and_wakes_it_when_a_message_comes)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    parking p = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    live_stream *s = open_stream(fx, "show", fx->seq);
    live_stream_bind(s, on_park, on_wake, &p);
    bool end;
    drain(s, 4096, &end);
    ASSERT_EQ_UINT(p.parks, 1);
    live_flush(fx->l); /* nothing new: not woken */
    ASSERT_EQ_UINT(wakes_of(&p), 0);
    change(fx, "show", CHANGE_HELD, "[\"A3\"]");
    live_flush(fx->l);
    ASSERT_EQ_UINT(wakes_of(&p), 1);
    ASSERT_CONTAINS(drain(s, 4096, &end), "\"A3\"");
    ASSERT_EQ_UINT(p.parks, 2);
    close_stream(fx, s);
    /* a closed stream is never woken */
    change(fx, "show", CHANGE_RELEASED, "[\"A3\"]");
    live_flush(fx->l);
    ASSERT_EQ_UINT(wakes_of(&p), 1);
}

TEST(live_heartbeats_wake_every_parked_stream_for_a_comment)
{
    fixture *fx = fixture_new(10, 100);
    ASSERT_NOT_NULL(fx);
    parking p = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    live_stream *s = open_stream(fx, "show", -1);
    live_stream_bind(s, on_park, on_wake, &p);
    bool end;
    drain(s, 4096, &end);
    int64_t deadline_ms = clock_mono_ms() + 5000;
    while (wakes_of(&p) == 0 && clock_mono_ms() < deadline_ms) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_GE(wakes_of(&p), 1);
    ASSERT_EQ_STR(drain(s, 4096, &end), ": ping\n\n");
    close_stream(fx, s);
}

TEST(live_refuses_streams_beyond_the_limit_and_after_shutdown)
{
    fixture *fx = fixture_new(2, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *a = NULL, *b = NULL, *c = NULL;
    ASSERT_EQ_INT(live_stream_open(fx->l, "show", -1, &a), LIVE_OPENED);
    track(fx, a);
    ASSERT_EQ_INT(live_stream_open(fx->l, "other", -1, &b), LIVE_OPENED);
    track(fx, b);
    ASSERT_EQ_INT(live_stream_open(fx->l, "show", -1, &c), LIVE_FULL);
    ASSERT_NULL(c);
    ASSERT_EQ_INT(live_stream_open(fx->l, "nope", -1, &c), LIVE_NO_EVENT);
    close_stream(fx, b);
    ASSERT_EQ_INT(live_stream_open(fx->l, "show", -1, &b), LIVE_OPENED);
    track(fx, b);
    /* shutdown: a parked stream is woken and reads as over; a message under way is finished
     * first */
    parking p = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    live_stream_bind(a, on_park, on_wake, &p);
    bool end;
    drain(a, 4096, &end);
    drain(b, 4096, &end);
    change(fx, "show", CHANGE_HELD, "[\"A4\"]");
    live_flush(fx->l);
    char piece[8];
    ASSERT_EQ_INT(live_stream_read(b, piece, sizeof(piece)), 8); /* part of the message */
    live_shutdown(fx->l);
    ASSERT_GE(wakes_of(&p), 1);
    /* a message not begun is left to the next connection (which resumes after the last id) */
    ASSERT_EQ_STR(drain(a, 4096, &end), "");
    ASSERT_TRUE(end);
    const char *rest = drain(b, 4096, &end);
    ASSERT_TRUE(end);
    ASSERT_EQ_STR(rest + strlen(rest) - 4, "]}\n\n");
    ASSERT_EQ_INT(live_stream_open(fx->l, "show", -1, &c), LIVE_CLOSING);
    close_stream(fx, a);
    close_stream(fx, b);
}

TEST(live_an_event_nobody_watched_for_a_while_keeps_nothing)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    int64_t later_ms = clock_now_ms() + LIVE_UNWATCHED_KEEP_MS + 1000;
    /* "show" is watched: its changes are kept, even long after */
    live_stream *s = open_stream(fx, "show", fx->seq);
    int64_t start = fx->seq;
    change_at(fx, later_ms, "show", CHANGE_HELD, "[\"A1\"]");
    /* "other" is not: a change a while after live started is not kept */
    int64_t skipped = change_at(fx, later_ms, "other", CHANGE_HELD, "[\"B1\"]");
    live_flush(fx->l);
    bool end;
    ASSERT_CONTAINS(drain(s, 4096, &end), "\"A1\"");
    live_stream *back = open_stream(fx, "other", start); /* from before what was skipped */
    ASSERT_CONTAINS(drain(back, 4096, &end), "event: reload");
    ASSERT_TRUE(end);
    close_stream(fx, back);
    /* from after it, a new viewer misses nothing, and the event is watched again */
    live_stream *fresh = open_stream(fx, "other", skipped);
    change_at(fx, later_ms, "other", CHANGE_RELEASED, "[\"B1\"]");
    live_flush(fx->l);
    const char *text = drain(fresh, 4096, &end);
    ASSERT_CONTAINS(text, "{\"id\":\"B1\",\"status\":\"available\"}");
    ASSERT_FALSE(end);
}

TEST(live_a_follower_reset_tells_every_stream_to_reload)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *s = open_stream(fx, "show", fx->seq);
    bool end;
    drain(s, 4096, &end);
    change(fx, "show", CHANGE_HELD, "[\"A1\"]");
    live_on_change(fx->l, NULL, NULL, 0); /* the follower rebuilt from a snapshot */
    live_flush(fx->l);
    const char *text = drain(s, 4096, &end);
    ASSERT_EQ_UINT(count_of(text, "event: seats"), 0);
    ASSERT_CONTAINS(text, "event: reload");
    ASSERT_TRUE(end);
    close_stream(fx, s);
}

TEST(live_streams_another_writers_hold_through_the_follower)
{
    fixture *fx = fixture_new(10, 3600000);
    ASSERT_NOT_NULL(fx);
    live_stream *s = open_stream(fx, "show", feed_position(fx->f));
    bool end;
    drain(s, 4096, &end);
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_HOLD);
    hold_record *h = &cmd->u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "show");
    snprintf(h->user_id, sizeof(h->user_id), "bea");
    h->seat_count = 2;
    snprintf(h->seat_ids[0], TIX_SEAT_ID_LEN_MAX, "B3");
    snprintf(h->seat_ids[1], TIX_SEAT_ID_LEN_MAX, "B4");
    int64_t before = feed_position(fx->f);
    ASSERT_EQ_INT(run_on(fx, fx->other, cmd), TIX_RC_OK);
    free(cmd);
    ASSERT_EQ_INT(feed_start(fx->f), 0);
    feed_wake(fx->f);
    int64_t deadline_ms = clock_mono_ms() + 5000;
    while (feed_position(fx->f) == before && clock_mono_ms() < deadline_ms) {
        struct timespec ts = {0, 5 * 1000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_GT(feed_position(fx->f), before);
    live_flush(fx->l);
    const char *text = drain(s, 4096, &end);
    ASSERT_CONTAINS(text, "{\"id\":\"B3\",\"status\":\"held\",\"expires_at\":");
    ASSERT_CONTAINS(text, "{\"id\":\"B4\",\"status\":\"held\",\"expires_at\":");
    char id_line[64];
    snprintf(id_line, sizeof(id_line), "id: %lld\n", (long long)feed_position(fx->f));
    ASSERT_CONTAINS(text, id_line);
    close_stream(fx, s);
}

/* ---- concurrency ---- */

enum { POUR_CHANGES = 3000, POUR_READERS = 4 };

typedef struct reader {
    live_stream *s;
    int64_t last; /* the feed position to wait for */
    uint32_t seats, messages;
    bool in_order;
} reader;

/* Read s until a message with id r->last came, checking that ids only grow. */
static void *read_all(void *arg)
{
    reader *r = arg;
    static __thread char text[LIVE_MESSAGE_LEN_MAX * 2 + 64];
    size_t len = 0;
    int64_t id = 0, deadline_ms = clock_mono_ms() + 30000;
    r->in_order = true;
    while (id < r->last && clock_mono_ms() < deadline_ms) {
        ssize_t n = live_stream_read(r->s, text + len, sizeof(text) - len - 1);
        if (n < 0) break;
        if (n == 0) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        len += (size_t)n;
        text[len] = '\0';
        char *end;
        while ((end = strstr(text, "\n\n"))) { /* whole frames */
            long long got;
            if (sscanf(text, "id: %lld", &got) == 1) {
                if (got <= id) r->in_order = false;
                id = got;
                r->messages++;
                *end = '\0';
                r->seats += count_of(text, "\"id\":");
            }
            size_t used = (size_t)(end + 2 - text);
            memmove(text, end + 2, len - used + 1);
            len -= used;
        }
    }
    return NULL;
}

static void *pour(void *arg)
{
    fixture *fx = arg;
    for (int i = 0; i < POUR_CHANGES; i++)
        change(fx, "show", i % 2 ? CHANGE_RELEASED : CHANGE_HELD, "[\"A1\"]");
    return NULL;
}

TEST(live_readers_get_every_change_in_order_while_changes_pour_in)
{
    fixture *fx = fixture_with(10, 50, 1); /* a flush every millisecond, pings every 50 */
    ASSERT_NOT_NULL(fx);
    reader r[POUR_READERS];
    pthread_t readers[POUR_READERS], pourer_thread;
    for (int i = 0; i < POUR_READERS; i++) {
        r[i] = (reader){.s = open_stream(fx, "show", fx->seq), .last = fx->seq + POUR_CHANGES};
        ASSERT_NOT_NULL(r[i].s);
    }
    for (int i = 0; i < POUR_READERS; i++)
        ASSERT_EQ_INT(pthread_create(&readers[i], NULL, read_all, &r[i]), 0);
    ASSERT_EQ_INT(pthread_create(&pourer_thread, NULL, pour, fx), 0);
    pthread_join(pourer_thread, NULL);
    for (int i = 0; i < POUR_READERS; i++)
        pthread_join(readers[i], NULL);
    for (int i = 0; i < POUR_READERS; i++) {
        ASSERT_TRUE(r[i].in_order);
        ASSERT_EQ_UINT(r[i].seats, POUR_CHANGES);
        ASSERT_LT(r[i].messages, POUR_CHANGES); /* batched */
    }
    test_note("%u changes reached each of %d readers in %u to %u messages", POUR_CHANGES,
              POUR_READERS, r[0].messages, r[POUR_READERS - 1].messages);
}
