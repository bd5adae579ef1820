/* feed: this node's follower of the store's change feed (store/store.h), the one path by which
 * committed changes reach its caches.
 *
 * At start-up the inventory (the seat index) is built from a store snapshot taken at a feed
 * position; from then on it changes only by applying the feed's changes, in order, each once:
 *   - this node's own batches, handed over by the commit writer right after their COMMIT and
 *     before their replies (feed_apply_committed): read-your-writes for this node's clients;
 *     when other writers committed in between, their changes are read from the store and
 *     applied first;
 *   - every other writer's (a second tix process on the same data, `tix seed`, other nodes of
 *     a shared database), read by a poller thread every poll_ms.
 * Listeners (feed_listen) see every change once, in order, after it was applied: caches that
 * are not the seat index (the event bus's subscribers, viewers of an event) follow them.
 * A follower that fell behind the oldest change the store keeps rebuilds from a snapshot.
 *
 * Freshness: feed_lag_ms says how old the newest moment is by which every committed change is
 * known to be applied. A reject from memory (a 409 without asking the store) is only made while
 * the lag is under a bound; past it, the store decides. */
#ifndef TIX_FEED_H
#define TIX_FEED_H

#include "core/inventory.h"
#include "store/store.h"

typedef struct feed feed;

typedef struct feed_config {
    uint32_t poll_ms;  /* how often the store is asked for other writers' changes */
    uint32_t page_max; /* changes read at once */
} feed_config;

enum {
    FEED_POLL_MS_DEFAULT = 50,
    FEED_POLL_MS_MAX = 10000,
    FEED_PAGE_MAX_DEFAULT = 4096,
    FEED_LISTENERS_MAX = 8,
    FEED_LAG_MS_MAX_DEFAULT = 200,
};

/* Called once per change, in feed order, after it was applied (under the follower's lock:
 * keep it short, never call back into the feed but for feed_position). seats is the change's
 * seat ids (a JSON array, seats_len bytes). change NULL: a reset, the follower fell behind
 * what the store keeps and rebuilt every event from a snapshot at feed_position: the changes
 * in between were never told. */
typedef void (*feed_listener_fn)(void *ctx, const change_record *change, const char *seats,
                                 size_t seats_len);

/* Build inv from a snapshot of st. Returns NULL (logged) when the store cannot be read. */
feed *feed_open(store *st, inventory *inv, const feed_config *config);

/* Add a listener (any time: it sees the changes applied from then on). Returns 0, or -1 when
 * there are too many. */
int feed_listen(feed *f, feed_listener_fn fn, void *ctx);

/* Remove a listener added with the same fn and ctx; it is not called once this returns. */
void feed_unlisten(feed *f, feed_listener_fn fn, void *ctx);

/* Start the poller thread. Returns 0 or -1. */
int feed_start(feed *f);

/* Stop the poller (if started) and free f. */
void feed_close(feed *f);

/* The commit writer's hook (commit_on_changes): apply a committed batch's changes, after those
 * of other writers committed before it (the feed's head was feed_before when the batch began at
 * started_ms). ctx is the feed. */
void feed_apply_committed(void *ctx, const change_page *changes, int64_t feed_before,
                          int64_t started_ms);

/* Poll now (tests; a notification from the store). */
void feed_wake(feed *f);

/* The position applied: every change up to it is in the caches. */
int64_t feed_position(feed *f);

/* How long ago, at now_ms, the follower last knew it had applied every committed change. */
int64_t feed_lag_ms(feed *f, int64_t now_ms);

#endif
