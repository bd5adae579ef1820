/* live: every seat change of an event pushed to the people watching it (GET
 * /events/{id}/stream, Server-Sent Events), from the committed change feed.
 *
 * The follower calls live's listener with every committed change, in feed order, on every node
 * (this node's writes and other writers' alike). Each event collects its seat changes; a
 * flusher thread turns what collected into one message per event (a seat map's worth of
 * changes: {"position":N,"seats":[{"id","status","expires_at"?},...]}) at most every flush_ms,
 * the first change after a quiet spell going out at once, and wakes the event's viewers a slice
 * at a time, so that its transport is never handed thousands at once. An event keeps its last
 * LIVE_BACKLOG_MESSAGES messages (LIVE_BACKLOG_BYTES at most), shared by its viewers and freed
 * by the last one.
 *
 * A viewer is a cursor into its event's backlog: no thread, no copy of a message of its own. It
 * resumes after any position the backlog still covers (the seat map's, or the last message id
 * it saw: every message's id is the feed position of its last change); further back, or when
 * it fell out of the backlog while it was not reading, it is told to reload the seat map
 * (event "reload") and its stream ends. An event nobody has watched for LIVE_UNWATCHED_KEEP_MS
 * collects nothing (the writer's thread pays for collecting: about 1,200 instructions a seat
 * change) and its backlog starts again with its next viewer. A comment heartbeat every heartbeat_ms keeps proxies
 * from closing a quiet stream and finds the clients that went away.
 *
 * The transport is not live's: a stream is bound to a park and a wake callback (the HTTP layer
 * suspends and resumes its connection). park is called from live_stream_read and wake from the
 * flusher or live_shutdown, both under the event's lock: a wake never overtakes its park. */
#ifndef TIX_LIVE_H
#define TIX_LIVE_H

#include "core/inventory.h"
#include "feed/feed.h"

#include <stdint.h>
#include <sys/types.h>

typedef struct live live;
typedef struct live_stream live_stream;

typedef struct live_config {
    uint32_t streams_max;   /* open streams, over every event */
    uint32_t flush_ms;      /* at most one message per event this often */
    uint32_t heartbeat_ms;  /* a comment on every stream this often */
    uint32_t slice_wait_ms; /* the longest wait for a wake slice to be read (see live.c); 0:
                             * LIVE_WAKE_SLICE_WAIT_MS */
} live_config;

enum {
    LIVE_STREAMS_MAX_DEFAULT = 10000,
    LIVE_STREAMS_MAX_MAX = 1000000,
    LIVE_FLUSH_MS_DEFAULT = 250,
    LIVE_HEARTBEAT_MS_DEFAULT = 15000,
    LIVE_BACKLOG_MESSAGES = 256,          /* kept per event */
    LIVE_BACKLOG_BYTES = 4 * 1024 * 1024, /* kept per event */
    LIVE_MESSAGE_LEN_MAX = 64 * 1024,     /* a message's seats beyond this go in the next one */
    LIVE_RETRY_MS = 1000,                 /* the client's reconnection delay (SSE "retry:") */
    LIVE_WAKE_SLICE_STREAMS = 256,        /* streams of an event woken at once (see live.c) */
    LIVE_WAKE_SLICE_WAIT_MS = 10,         /* slice_wait_ms's default */
    LIVE_UNWATCHED_KEEP_MS = 60000,       /* an event without a viewer this long keeps nothing */
};

typedef enum live_open_rc {
    LIVE_OPENED = 0,
    LIVE_FULL,     /* streams_max streams are open */
    LIVE_CLOSING,  /* live_shutdown was called */
    LIVE_NO_EVENT, /* no event with this id */
    LIVE_NO_MEMORY,
} live_open_rc;

/* Start following f's changes to inv's events (a listener of f, and the flusher thread).
 * Returns NULL (logged) when out of resources. */
live *live_open(feed *f, inventory *inv, const live_config *config);

/* End every stream (each finishes the message it is writing, then reads as over) and refuse
 * new ones. The transport then closes them (live_stream_close). */
void live_shutdown(live *l);

/* Stop listening and the flusher, and free l. Every stream must have been closed. */
void live_close(live *l);

/* How many streams are open. */
uint32_t live_streams_open(live *l);

/* Open a stream of the event event_id resuming after feed position `after` (< 0: from now on).
 * *out is the caller's until live_stream_close. */
live_open_rc live_stream_open(live *l, const char *event_id, int64_t after, live_stream **out);

/* Bind s to its transport: park(ctx) when s has nothing to send, wake(ctx) when it has again.
 * Before binding, s is never parked. */
void live_stream_bind(live_stream *s, void (*park)(void *ctx), void (*wake)(void *ctx), void *ctx);

/* Copy into out (max bytes, max > 0) what s sends next. Returns how many bytes; 0 when it has
 * nothing to send: it was parked (bound streams only) and is woken when it has; -1 when the
 * stream is over (told to reload, or live_shutdown). */
ssize_t live_stream_read(live_stream *s, char *out, size_t max);

/* Close s (its transport is gone): it is never parked nor woken again. */
void live_stream_close(live_stream *s);

/* The feed's listener (feed_listen): public for tests that feed changes by hand. */
void live_on_change(void *ctx, const change_record *change, const char *seats, size_t seats_len);

/* Make every message due now (tests; the flusher does it every flush_ms). */
void live_flush(live *l);

#endif
