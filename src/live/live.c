/* live: see live.h.
 *
 * Locks: the hub's mutex guards the event table's growth, the stream count and the flusher's
 * schedule; each event's mutex guards its backlog, its pending changes and its streams. Never
 * both at once, except that the listener takes the hub's to signal the flusher after it let go
 * of the event's. MHD's own locks are taken inside park and wake, under an event's mutex.
 *
 * Waking in slices: the transport serves every woken stream before anything else it has to do
 * (libmicrohttpd's thread writes every resumed connection in one turn of its loop), so waking
 * 10,000 viewers at once made everything else on that thread wait for 10,000 writes: other
 * events' viewers, and buyers' answers when a stream is served by the API's threads (see
 * http/accept.h; on the streams' own threads, buyers no longer wait for it). A wake pass
 * therefore wakes at most LIVE_WAKE_SLICE_STREAMS streams of an event at a time, and the next
 * slice when the transport has read each stream of the last one (or slice_wait_ms passed);
 * passes of several events take turns slice by slice. A pass visits the streams in list order,
 * moving each to the end: the streams it has not visited are always the list's head. */
#include "live/live.h"

#include "core/json_out.h"
#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One message as sent (the whole SSE frame), shared by the backlog and the streams writing it. */
typedef struct live_msg {
    uint32_t refs;    /* atomic */
    int64_t position; /* the feed position of its last change: its id */
    size_t len;
    char data[];
} live_msg;

typedef struct live_event live_event;

struct live_stream {
    live *l;
    live_event *ev;
    live_stream *prev, *next; /* in ev->streams */
    uint64_t next_msg;        /* the backlog message it sends next */
    live_msg *msg;            /* a message being written, with a reference, or NULL */
    char frame[96];           /* or a frame of its own being written (hello, reload, ping) */
    const char *out;          /* what is being written: msg->data or frame */
    size_t out_len, off;      /* its length, and how much of it was written */
    uint32_t ping_gen;        /* the heartbeat it last answered */
    uint32_t pass;            /* the last wake pass of its event that visited it */
    uint32_t slice;           /* the wake slice that woke it, until its next read; 0: none */
    bool hello_sent, parked, reload, over;
    void (*park)(void *ctx);
    void (*wake)(void *ctx);
    void *ctx;
};

struct live_event {
    pthread_mutex_t mutex;
    int64_t covered_from; /* every seat change of the event after it is in the backlog or pending */
    live_msg **backlog;   /* messages first .. next - 1, [n % LIVE_BACKLOG_MESSAGES]; made with
                             the first message (most events of a server have no viewer) */
    uint64_t first, next;
    size_t backlog_bytes;
    buf pending; /* seat objects of the changes not in a message yet, comma separated */
    int64_t pending_position;
    bool wake_due; /* messages were added since the streams were last woken */
    live_stream *streams, *streams_tail;
    uint32_t pass, slice;       /* the current (or last) wake pass and slice */
    bool passing;               /* a wake pass has streams left to visit */
    uint32_t slice_unread;      /* streams of the current slice woken and not read since */
    pthread_cond_t slice_read;  /* slice_unread fell to 0 */
    int64_t unwatched_since_ms; /* no stream open since then (wall clock); 0: watched */
};

struct live {
    feed *f;
    inventory *inv;
    live_config config;
    int64_t start_position; /* every change after it reaches the listener */
    live_event **events;    /* by inv_event.index; set once (atomic), under mutex */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    uint32_t streams_open;
    bool closing; /* atomic */
    bool stop;
    bool dirty;        /* atomic: changes are pending somewhere */
    uint32_t ping_gen; /* atomic: the heartbeat's count */
    int64_t last_flush_ms, next_ping_ms;
    bool flusher_started;
    pthread_t flusher;
};

/* ---- messages ---- */

static void live__msg_unref(live_msg *m)
{
    if (m && __atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) free(m);
}

/* The backlog message number n (first <= n < next). */
static live_msg **live__slot(live_event *ev, uint64_t n)
{
    assert(n >= ev->first && n < ev->next);
    return &ev->backlog[n % LIVE_BACKLOG_MESSAGES];
}

static void live__evict_oldest(live_event *ev)
{
    live_msg *m = *live__slot(ev, ev->first);
    ev->covered_from = m->position;
    ev->backlog_bytes -= m->len;
    ev->first++;
    live__msg_unref(m);
}

/* Every change of ev up to `position` is lost to its streams (out of memory, or the follower
 * rebuilt from a snapshot): each is told to reload, and the backlog starts again after it. */
static void live__lose(live_event *ev, int64_t position)
{
    while (ev->first < ev->next)
        live__evict_oldest(ev);
    buf_reset(&ev->pending);
    if (position > ev->covered_from) ev->covered_from = position;
    for (live_stream *s = ev->streams; s; s = s->next)
        s->reload = true;
    ev->wake_due = true;
}

/* Turn ev's pending changes into a message at the end of its backlog. Caller holds ev. */
static void live__cut(live_event *ev)
{
    if (ev->pending.len == 0) return;
    char head[96];
    int head_len =
        snprintf(head, sizeof(head), "id: %lld\nevent: seats\ndata: {\"position\":%lld,\"seats\":[",
                 (long long)ev->pending_position, (long long)ev->pending_position);
    static const char tail[] = "]}\n\n";
    size_t len = (size_t)head_len + ev->pending.len + sizeof(tail) - 1;
    live_msg *m = malloc(sizeof(*m) + len);
    int64_t position = ev->pending_position;
    if (!m) {
        log_error("live: out of memory for a message: its viewers reload");
        live__lose(ev, ev->pending_position);
        return;
    }
    m->refs = 1;
    m->position = ev->pending_position;
    m->len = len;
    memcpy(m->data, head, (size_t)head_len);
    memcpy(m->data + head_len, ev->pending.data, ev->pending.len);
    memcpy(m->data + head_len + ev->pending.len, tail, sizeof(tail) - 1);
    buf_reset(&ev->pending);
    if (!ev->backlog && !(ev->backlog = calloc(LIVE_BACKLOG_MESSAGES, sizeof(*ev->backlog)))) {
        log_error("live: out of memory for a backlog: its viewers reload");
        free(m);
        live__lose(ev, position);
        return;
    }
    while (ev->next - ev->first >= LIVE_BACKLOG_MESSAGES ||
           (ev->first < ev->next && ev->backlog_bytes + len > LIVE_BACKLOG_BYTES))
        live__evict_oldest(ev);
    ev->backlog[ev->next % LIVE_BACKLOG_MESSAGES] = m;
    ev->next++;
    ev->backlog_bytes += len;
    ev->wake_due = true;
}

/* ---- wake passes ---- */

static void live__unlink(live_event *ev, live_stream *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        ev->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        ev->streams_tail = s->prev;
    s->prev = s->next = NULL;
}

static void live__append_stream(live_event *ev, live_stream *s)
{
    s->prev = ev->streams_tail;
    s->next = NULL;
    if (s->prev)
        s->prev->next = s;
    else
        ev->streams = s;
    ev->streams_tail = s;
}

/* Start a pass that wakes ev's parked streams: all of them when ping, else only when messages
 * came. Caller holds ev. */
static void live__pass_start(live_event *ev, bool ping)
{
    if (!ping && !ev->wake_due) return;
    ev->wake_due = false;
    ev->pass++;
    ev->passing = ev->streams != NULL;
}

/* Wake the next slice of ev's pass: up to LIVE_WAKE_SLICE_STREAMS parked streams the pass has
 * not visited. Caller holds ev. Returns how many it woke; ev->passing says whether any stream is
 * left to visit. */
static uint32_t live__wake_slice(live_event *ev)
{
    assert(ev->passing);
    if (++ev->slice == 0) ev->slice = 1; /* 0 is a stream's "no slice" */
    ev->slice_unread = 0;
    live_stream *s;
    while ((s = ev->streams) && s->pass != ev->pass && ev->slice_unread < LIVE_WAKE_SLICE_STREAMS) {
        s->pass = ev->pass;
        live__unlink(ev, s);
        live__append_stream(ev, s);
        if (!s->parked) continue; /* busy: it reads the new messages when it is done */
        s->parked = false;
        s->slice = ev->slice;
        ev->slice_unread++;
        s->wake(s->ctx);
    }
    ev->passing = s && s->pass != ev->pass;
    assert(ev->slice_unread <= LIVE_WAKE_SLICE_STREAMS);
    return ev->slice_unread;
}

/* Stream s, of ev, reads or closes: the slice that woke it is that much nearer done. */
static void live__slice_served(live_event *ev, live_stream *s)
{
    if (s->slice == ev->slice && ev->slice_unread > 0 && --ev->slice_unread == 0)
        pthread_cond_broadcast(&ev->slice_read);
    s->slice = 0;
}

/* ---- events ---- */

static void live__event_free(live_event *ev)
{
    if (!ev) return;
    assert(!ev->streams);
    while (ev->first < ev->next)
        live__evict_oldest(ev);
    buf_free(&ev->pending);
    pthread_cond_destroy(&ev->slice_read);
    free(ev->backlog);
    pthread_mutex_destroy(&ev->mutex);
    free(ev);
}

/* The live side of inventory event iev, made on first use (live_open makes every event's there
 * is, the listener those created later). NULL when out of memory. */
static live_event *live__event(live *l, const inv_event *iev)
{
    live_event **slot = &l->events[iev->index];
    live_event *ev = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (ev) return ev;
    pthread_mutex_lock(&l->mutex);
    ev = *slot;
    if (!ev && (ev = calloc(1, sizeof(*ev)))) {
        pthread_mutex_init(&ev->mutex, NULL);
        clock_mono_cond_init(&ev->slice_read);
        /* every change after the start position reaches the listener, and every change of the
         * event's seats up to its version was applied before the event is made here: the
         * backlog covers what comes after the smaller. A viewer resuming from before it
         * reloads. (At start-up an event's version is the snapshot's position.) */
        int64_t version = (int64_t)inv_event_version(iev);
        ev->covered_from = version < l->start_position ? version : l->start_position;
        ev->unwatched_since_ms = clock_now_ms();
        buf_init(&ev->pending, LIVE_MESSAGE_LEN_MAX + TIX_HOLD_SEATS_MAX * 128);
        __atomic_store_n(slot, ev, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&l->mutex);
    return ev;
}

/* Append the seats of change c to ev's pending changes. Returns 0 or -1 (no room). */
static int live__append(live_event *ev, const change_record *c, const char *seats, size_t seats_len)
{
    const char *status = model_seat_status_name(model_change_seat_status(c->kind));
    bool expires = c->kind == CHANGE_HELD || c->kind == CHANGE_CHECKOUT;
    char id[TIX_SEAT_ID_LEN_MAX];
    size_t pos = 0;
    int got, rc = 0;
    while (rc == 0 && (got = model_seat_ids_next(seats, seats_len, &pos, id)) > 0) {
        if (ev->pending.len) rc |= buf_append_char(&ev->pending, ',');
        rc |= buf_append(&ev->pending, "{\"id\":\"", 7);
        rc |= buf_append(&ev->pending, id, (size_t)got);
        rc |= buf_append(&ev->pending, "\",\"status\":\"", 12);
        rc |= buf_append_str(&ev->pending, status);
        rc |= buf_append_char(&ev->pending, '"');
        if (expires) json_out_time(&ev->pending, "expires_at", c->expires_ms);
        rc |= buf_append_char(&ev->pending, '}');
    }
    if (got < 0) log_error("live: change %lld has malformed seat ids", (long long)c->seq);
    return rc ? -1 : 0;
}

/* The follower rebuilt from a snapshot: no event's backlog covers what it skipped. */
static void live__reset(live *l)
{
    int64_t position = feed_position(l->f);
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++) {
        live_event *ev = __atomic_load_n(&l->events[i], __ATOMIC_ACQUIRE);
        if (!ev) continue;
        pthread_mutex_lock(&ev->mutex);
        live__lose(ev, position);
        pthread_mutex_unlock(&ev->mutex);
    }
}

void live_on_change(void *ctx, const change_record *change, const char *seats, size_t seats_len)
{
    live *l = ctx;
    if (!change) {
        live__reset(l);
    } else {
        if (!model_change_is_seats(change->kind) && change->kind != CHANGE_EVENT_CREATED) return;
        inv_event *iev = inventory_find(l->inv, change->event_id, strlen(change->event_id));
        live_event *ev = iev ? live__event(l, iev) : NULL;
        if (!ev) return; /* logged by the follower (unknown event), or out of memory */
        if (change->kind == CHANGE_EVENT_CREATED) return; /* made: nothing to tell yet */
        pthread_mutex_lock(&ev->mutex);
        if (!ev->streams && ev->unwatched_since_ms &&
            change->time_ms - ev->unwatched_since_ms > LIVE_UNWATCHED_KEEP_MS) {
            /* nobody watched it for a while: keep nothing, a viewer back from before reloads */
            if (ev->first < ev->next || ev->pending.len) live__lose(ev, change->seq);
            ev->covered_from = change->seq;
            pthread_mutex_unlock(&ev->mutex);
            return;
        }
        if (live__append(ev, change, seats, seats_len) != 0) {
            log_error("live: no room for change %lld: its viewers reload", (long long)change->seq);
            live__lose(ev, change->seq);
        } else {
            ev->pending_position = change->seq;
            if (ev->pending.len >= LIVE_MESSAGE_LEN_MAX) live__cut(ev);
        }
        pthread_mutex_unlock(&ev->mutex);
    }
    if (__atomic_exchange_n(&l->dirty, true, __ATOMIC_ACQ_REL)) return;
    pthread_mutex_lock(&l->mutex);
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->mutex);
}

/* ---- the flusher ---- */

/* Wake a slice of every event whose pass has streams left, then, for the passes with streams
 * still left, wait (slice_wait_ms at most) until the transport has read each stream their
 * slice woke. Returns whether any pass has streams left. */
static bool live__wake_round(live *l)
{
    bool left = false, woke = false;
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++) {
        live_event *ev = __atomic_load_n(&l->events[i], __ATOMIC_ACQUIRE);
        if (!ev) continue;
        pthread_mutex_lock(&ev->mutex);
        if (ev->passing) {
            woke |= live__wake_slice(ev) > 0;
            left |= ev->passing;
        }
        pthread_mutex_unlock(&ev->mutex);
    }
    if (!left || !woke) return left;
    struct timespec deadline = clock_mono_deadline((int64_t)l->config.slice_wait_ms * 1000);
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++) {
        live_event *ev = __atomic_load_n(&l->events[i], __ATOMIC_ACQUIRE);
        if (!ev) continue;
        pthread_mutex_lock(&ev->mutex);
        while (ev->passing && ev->slice_unread > 0 &&
               pthread_cond_timedwait(&ev->slice_read, &ev->mutex, &deadline) == 0) {
        }
        pthread_mutex_unlock(&ev->mutex);
    }
    return left;
}

/* Cut every event's pending changes (flush) and wake, slice by slice, the streams that have
 * something to send (every parked one on a heartbeat: ping). */
static void live__flush_events(live *l, bool flush, bool ping)
{
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++) {
        live_event *ev = __atomic_load_n(&l->events[i], __ATOMIC_ACQUIRE);
        if (!ev) continue;
        pthread_mutex_lock(&ev->mutex);
        if (flush) live__cut(ev);
        live__pass_start(ev, ping);
        pthread_mutex_unlock(&ev->mutex);
    }
    while (live__wake_round(l)) {
    }
}

void live_flush(live *l)
{
    __atomic_store_n(&l->dirty, false, __ATOMIC_RELEASE);
    live__flush_events(l, true, false);
}

static void *live__flusher(void *arg)
{
    live *l = arg;
    pthread_mutex_lock(&l->mutex);
    while (!l->stop) {
        int64_t now_ms = clock_mono_ms();
        bool ping = now_ms >= l->next_ping_ms;
        bool dirty = __atomic_load_n(&l->dirty, __ATOMIC_ACQUIRE);
        bool flush = dirty && now_ms >= l->last_flush_ms + l->config.flush_ms;
        if (ping || flush) {
            if (ping) {
                __atomic_add_fetch(&l->ping_gen, 1, __ATOMIC_ACQ_REL);
                l->next_ping_ms = now_ms + l->config.heartbeat_ms;
            }
            if (flush) {
                __atomic_store_n(&l->dirty, false, __ATOMIC_RELEASE);
                l->last_flush_ms = now_ms;
            }
            pthread_mutex_unlock(&l->mutex);
            live__flush_events(l, flush, ping);
            pthread_mutex_lock(&l->mutex);
            continue;
        }
        int64_t until_ms = l->next_ping_ms;
        if (dirty && l->last_flush_ms + l->config.flush_ms < until_ms)
            until_ms = l->last_flush_ms + l->config.flush_ms;
        struct timespec ts = clock_mono_deadline((until_ms - now_ms) * 1000);
        pthread_cond_timedwait(&l->cond, &l->mutex, &ts);
    }
    pthread_mutex_unlock(&l->mutex);
    return NULL;
}

/* ---- the hub ---- */

live *live_open(feed *f, inventory *inv, const live_config *config)
{
    assert(config->flush_ms > 0 && config->heartbeat_ms > 0);
    live *l = calloc(1, sizeof(*l));
    if (l) l->events = calloc(TIX_EVENTS_MAX, sizeof(*l->events));
    if (!l || !l->events) {
        free(l);
        log_error("live: out of memory");
        return NULL;
    }
    l->f = f;
    l->inv = inv;
    l->config = *config;
    if (!l->config.slice_wait_ms) l->config.slice_wait_ms = LIVE_WAKE_SLICE_WAIT_MS;
    pthread_mutex_init(&l->mutex, NULL);
    clock_mono_cond_init(&l->cond);
    /* the first flush comes flush_ms after the start at the soonest, as each later one after
     * the one before (from 0, on a clock that counts the machine's uptime, it came at once) */
    l->last_flush_ms = clock_mono_ms();
    l->next_ping_ms = l->last_flush_ms + config->heartbeat_ms;
    if (feed_listen(f, live_on_change, l) != 0) {
        log_error("live: the feed has no room for another listener");
        live_close(l);
        return NULL;
    }
    /* read after listening: every change after it reaches the listener */
    l->start_position = feed_position(f);
    /* the events there are now (their versions are read after listening too) */
    inv_event **events = malloc(TIX_EVENTS_MAX * sizeof(*events));
    uint32_t n = events ? inventory_list(inv, events, TIX_EVENTS_MAX) : 0;
    bool made = events != NULL;
    for (uint32_t i = 0; made && i < n && i < TIX_EVENTS_MAX; i++)
        made = live__event(l, events[i]) != NULL;
    free(events);
    if (!made) {
        log_error("live: out of memory");
        live_close(l);
        return NULL;
    }
    if (pthread_create(&l->flusher, NULL, live__flusher, l) != 0) {
        log_error("live: cannot start the flusher thread");
        live_close(l);
        return NULL;
    }
    l->flusher_started = true;
    return l;
}

void live_shutdown(live *l)
{
    pthread_mutex_lock(&l->mutex);
    __atomic_store_n(&l->closing, true, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->mutex);
    /* a reader that saw closing false parked before this takes its event's lock */
    live__flush_events(l, false, true);
}

void live_close(live *l)
{
    if (!l) return;
    feed_unlisten(l->f, live_on_change, l);
    if (l->flusher_started) {
        pthread_mutex_lock(&l->mutex);
        l->stop = true;
        pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->mutex);
        pthread_join(l->flusher, NULL);
    }
    assert(l->streams_open == 0);
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++)
        live__event_free(l->events[i]);
    free(l->events);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

uint32_t live_streams_open(live *l)
{
    pthread_mutex_lock(&l->mutex);
    uint32_t n = l->streams_open;
    pthread_mutex_unlock(&l->mutex);
    return n;
}

/* ---- streams ---- */

/* The first backlog message after `after` (ev->next when none). Caller holds ev. */
static uint64_t live__first_after(const live_event *ev, int64_t after)
{
    uint64_t lo = ev->first, hi = ev->next;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (ev->backlog[mid % LIVE_BACKLOG_MESSAGES]->position > after)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

live_open_rc live_stream_open(live *l, const char *event_id, int64_t after, live_stream **out)
{
    *out = NULL;
    inv_event *iev = inventory_find(l->inv, event_id, strlen(event_id));
    if (!iev) return LIVE_NO_EVENT;
    live_event *ev = live__event(l, iev);
    live_stream *s = ev ? calloc(1, sizeof(*s)) : NULL;
    if (!s) return LIVE_NO_MEMORY;
    pthread_mutex_lock(&l->mutex);
    live_open_rc rc = __atomic_load_n(&l->closing, __ATOMIC_ACQUIRE) ? LIVE_CLOSING
                      : l->streams_open >= l->config.streams_max     ? LIVE_FULL
                                                                     : LIVE_OPENED;
    if (rc == LIVE_OPENED) l->streams_open++;
    pthread_mutex_unlock(&l->mutex);
    if (rc != LIVE_OPENED) return free(s), rc;
    s->l = l;
    s->ev = ev;
    s->ping_gen = __atomic_load_n(&l->ping_gen, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&ev->mutex);
    if (after < 0)
        s->next_msg = ev->next;
    else if (after < ev->covered_from)
        s->reload = true; /* changes it needs are no longer kept */
    else
        s->next_msg = live__first_after(ev, after);
    s->pass = ev->pass; /* a pass under way has nothing to wake it for */
    live__append_stream(ev, s);
    ev->unwatched_since_ms = 0;
    pthread_mutex_unlock(&ev->mutex);
    metrics_stream(true);
    *out = s;
    return LIVE_OPENED;
}

void live_stream_bind(live_stream *s, void (*park)(void *ctx), void (*wake)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&s->ev->mutex);
    s->park = park;
    s->wake = wake;
    s->ctx = ctx;
    pthread_mutex_unlock(&s->ev->mutex);
}

/* Start writing a frame of s's own (len bytes in s->frame). */
static void live__frame(live_stream *s, int len)
{
    assert(len > 0 && (size_t)len < sizeof(s->frame));
    s->out = s->frame;
    s->out_len = (size_t)len;
    s->off = 0;
}

/* Choose what s writes next, with its event held: the hello, a reload, the next message, a
 * heartbeat. Returns 1 when there is something, 0 when there is nothing (parked, if bound),
 * -1 when the stream is over. */
static int live__choose(live_stream *s, live_event *ev)
{
    if (!s->hello_sent) {
        s->hello_sent = true;
        live__frame(s, snprintf(s->frame, sizeof(s->frame), "retry: %d\n\n", LIVE_RETRY_MS));
        return 1;
    }
    if (s->over || __atomic_load_n(&s->l->closing, __ATOMIC_ACQUIRE)) return -1;
    if (s->reload || s->next_msg < ev->first) {
        s->over = true;
        live__frame(s, snprintf(s->frame, sizeof(s->frame),
                                "event: reload\ndata: {\"position\":%lld}\n\n",
                                (long long)feed_position(s->l->f)));
        return 1;
    }
    if (s->next_msg < ev->next) {
        s->msg = *live__slot(ev, s->next_msg++);
        __atomic_add_fetch(&s->msg->refs, 1, __ATOMIC_ACQ_REL);
        s->out = s->msg->data;
        s->out_len = s->msg->len;
        s->off = 0;
        return 1;
    }
    uint32_t gen = __atomic_load_n(&s->l->ping_gen, __ATOMIC_ACQUIRE);
    if (s->ping_gen != gen) {
        s->ping_gen = gen;
        live__frame(s, snprintf(s->frame, sizeof(s->frame), ": ping\n\n"));
        return 1;
    }
    if (s->park) {
        s->parked = true;
        s->park(s->ctx);
    }
    return 0;
}

ssize_t live_stream_read(live_stream *s, char *out, size_t max)
{
    assert(max > 0);
    live_event *ev = s->ev;
    pthread_mutex_lock(&ev->mutex);
    if (s->slice) live__slice_served(ev, s);
    int rc = s->out ? 1 : live__choose(s, ev);
    size_t n = 0;
    if (rc > 0) {
        n = s->out_len - s->off < max ? s->out_len - s->off : max;
        memcpy(out, s->out + s->off, n);
        s->off += n;
        if (s->off == s->out_len) {
            live__msg_unref(s->msg);
            s->msg = NULL;
            s->out = NULL;
        }
    }
    pthread_mutex_unlock(&ev->mutex);
    return rc < 0 ? -1 : (ssize_t)n;
}

void live_stream_close(live_stream *s)
{
    if (!s) return;
    live *l = s->l;
    live_event *ev = s->ev;
    pthread_mutex_lock(&ev->mutex);
    if (s->slice) live__slice_served(ev, s);
    live__unlink(ev, s);
    if (!ev->streams) ev->unwatched_since_ms = clock_now_ms();
    pthread_mutex_unlock(&ev->mutex);
    live__msg_unref(s->msg);
    free(s);
    pthread_mutex_lock(&l->mutex);
    assert(l->streams_open > 0);
    l->streams_open--;
    pthread_mutex_unlock(&l->mutex);
    metrics_stream(false);
}
