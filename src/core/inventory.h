/* inventory: the in-memory seat index of every event.
 *
 * It answers reads (event lists, seat maps, counts) and rejects requests for seats that are
 * already held or sold without touching the store. It is never the arbiter: the store's
 * conditional writes decide. It is built from a store snapshot at start-up and then follows
 * only the change feed (feed/feed.h): every committed change, this node's or another writer's,
 * reaches it the same way, in feed order, and an event's version is the feed position of the
 * last change applied to its seats.
 *
 * Layout (about 40 bytes per seat): a seat array in creation order (section, row, number),
 * and an open-addressing table from seat id to seat index that stores only 32-bit indices;
 * a seat's id is recomputed from its row label and number when compared, never stored.
 *
 * Concurrency: the set of events only grows (events are never removed), so an event pointer
 * stays valid for the life of the inventory. Seat state is guarded by the event's rwlock.
 * A hold whose expiry has passed reads as available at once, before the sweep ends it. */
#ifndef TIX_INVENTORY_H
#define TIX_INVENTORY_H

#include "core/model.h"
#include "util/buf.h"

#include <pthread.h>

typedef struct inv_row {
    const char *label; /* owned by the event's spec */
    uint32_t label_len;
    uint32_t section_index;
} inv_row;

typedef struct inv_seat {
    uint32_t row_index;
    uint16_t number;
    uint8_t status; /* seat_status as stored; see inv_event_seat_status for what it reads as */
    uint8_t reserved;
    int64_t hold_seq;        /* the holding hold's store key while held or sold, else 0 */
    int64_t hold_expires_ms; /* while held */
} inv_seat;

typedef struct inv_event {
    event_spec spec; /* owned; immutable after creation */
    pthread_rwlock_t lock;
    uint32_t seat_count;
    inv_seat *seats;
    uint32_t row_count;
    inv_row *rows;
    uint32_t *slots; /* seat index + 1; 0 = empty */
    uint32_t slot_mask;
    uint64_t version; /* the feed position of the last change of its seats (inv_event_version) */
    uint32_t index;   /* position in the inventory: 0 .. TIX_EVENTS_MAX - 1 */
} inv_event;

typedef struct inventory inventory;

typedef struct inv_counts {
    uint32_t total;
    uint32_t available;
    uint32_t held;
    uint32_t sold;
} inv_counts;

/* Create an empty inventory. Returns NULL when out of memory. */
inventory *inventory_create(void);
void inventory_destroy(inventory *inv);

/* Build an event's seat index from its spec, all seats available, and add it. Takes
 * ownership of *spec (which is zeroed) on success. Returns TIX_RC_OK, TIX_RC_EVENT_EXISTS,
 * TIX_RC_TOO_MANY_EVENTS, or TIX_RC_STORE_ERROR when out of memory. */
tix_rc inventory_add_event(inventory *inv, event_spec *spec, inv_event **out);

/* The event with this id, or NULL. */
inv_event *inventory_find(inventory *inv, const char *event_id, size_t len);

/* Events in creation order: fills up to max pointers, returns how many there are. */
uint32_t inventory_list(inventory *inv, inv_event **out, uint32_t max);

/* Index of the seat with this id, or -1. Needs no lock (the layout is immutable). */
int64_t inv_event_seat_find(const inv_event *ev, const char *seat_id, size_t len);

/* Write the id of seat `index` into out (>= TIX_SEAT_ID_LEN_MAX bytes); returns its length. */
size_t inv_event_seat_id(const inv_event *ev, uint32_t index, char *out);

/* Status a seat reads as at now_ms (a lapsed hold reads as available). Caller holds the lock. */
seat_status inv_event_seat_status(const inv_event *ev, uint32_t index, int64_t now_ms);

/* Which of the given seats are not available at now_ms. Writes their indices into taken
 * (capacity n) and returns how many. Takes the read lock. */
uint32_t inv_event_find_taken(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t now_ms,
                              uint32_t *taken);

/* Counts at now_ms. Takes the read lock. */
inv_counts inv_event_counts(inv_event *ev, int64_t now_ms);

/* Apply a committed change at feed position `version`: seats become held by hold_seq until
 * expires_ms (or sold when status is SEAT_SOLD). Takes the write lock. */
void inv_event_apply_hold(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t hold_seq,
                          int64_t expires_ms, seat_status status, uint64_t version);

/* Apply a committed change at feed position `version`: hold_seq ended, and those of the given
 * seats that it still holds become available. Takes the write lock. */
void inv_event_apply_free(inv_event *ev, const uint32_t *seat_index, uint32_t n, int64_t hold_seq,
                          uint64_t version);

/* A seat that is not available, as a store snapshot has it. */
typedef struct inv_seat_state {
    uint32_t index;
    seat_status status;
    int64_t hold_seq;
    int64_t hold_expires_ms;
} inv_seat_state;

/* Replace the state of every seat by a snapshot's at feed position `version`: the given seats
 * as they are, every other available. One write lock: readers see the old state or the new. */
void inv_event_restore(inv_event *ev, const inv_seat_state *seats, uint32_t n, uint64_t version);

/* The event's version: the feed position of the last change of its seats. */
uint64_t inv_event_version(const inv_event *ev);

/* What a seat map depends on: the version it was built at, and the first moment after which
 * a hold it shows as held lapses (INT64_MAX if none), so that it reads differently after. */
typedef struct inv_snapshot {
    uint64_t version;
    int64_t valid_until_ms;
} inv_snapshot;

/* Append the seat map JSON object of the event to out, keeping only seats whose status at
 * now_ms is `filter` (or all when filter < 0). `position` is the feed position the caller read
 * before: every change up to it is in the map (so a viewer follows the feed from there). Takes
 * the read lock. Fills *snap (may be NULL). Returns 0 or -1 when out exceeded its cap. */
int inv_event_write_seat_map(inv_event *ev, int filter, int64_t now_ms, int64_t position, buf *out,
                             inv_snapshot *snap);

#endif
