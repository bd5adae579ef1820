/* sqlite internal: what the files of the SQLite backend share.
 *
 *   sqlite.c     connections, the batch (one transaction), errors, the checkpointer
 *   schema.c     the schema and its migrations
 *   holds.c      HOLD, RELEASE, SWEEP (expiry), EVENT_CREATE
 *   bookings.c   CHECKOUT, PAYMENT, REFUND, CANCEL
 *   bus.c        the outbox and its fan-out, SUBSCRIBER_ADD, CLAIM, DELIVERY, REDRIVE, RECLAIM
 *   feed.c       appending to the change feed, trimming it, reading it, snapshots
 *   reads.c      committed reads for the API
 *
 * Every command function runs on the writer connection inside the batch's transaction. It
 * returns 0 (its outcome in cmd->rc) or -1 when the store failed; the failure's store_status is
 * then in ss->status (the first failure of a batch wins) and the whole batch is rolled back. */
#ifndef TIX_STORE_SQLITE_INTERNAL_H
#define TIX_STORE_SQLITE_INTERNAL_H

#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>

enum {
    SQLITE_STORE_READERS_MAX = 64,
    SQLITE_STORE_PATH_MAX = 4096,
    SQLITE_STORE_ROUTES_MAX = 64,
    SQLITE_STORE_EVENT_SLOTS = 2 * TIX_EVENTS_MAX, /* the event rules cache */
    SQLITE_STORE_TRIM_MAX = 20000,                 /* feed rows one sweep deletes at most */
    SQLITE_STORE_SEAT_IDS_LEN_MAX = TIX_HOLD_SEATS_MAX * (TIX_SEAT_ID_LEN_MAX + 4) + 8,
};

/* Prepared statements of the writer connection (text in sqlite.c). */
typedef enum {
    SQL_BEGIN,
    SQL_COMMIT,
    SQL_ROLLBACK,
    SQL_SAVEPOINT,
    SQL_RELEASE,
    SQL_ROLLBACK_TO,
    SQL_FEED_HEAD,
    SQL_FEED_INSERT,
    SQL_FEED_TRIM,
    SQL_SUBSCRIBERS_VERSION,
    SQL_SUBSCRIBERS_VERSION_BUMP,
    SQL_EVENT_RULES,
    SQL_EVENT_COUNT,
    SQL_EVENT_INSERT,
    SQL_SECTION_INSERT,
    SQL_SEAT_INSERT,
    SQL_HOLD_INSERT,
    SQL_HOLD_BY_ID,
    SQL_HOLD_BY_SEQ,
    SQL_HOLD_END,
    SQL_HOLD_DELETE,
    SQL_HOLD_CHECKOUT,
    SQL_HOLDS_DUE,
    SQL_USER_SEATS,
    SQL_SEAT_TAKE,
    SQL_SEAT_HOLDER,
    SQL_SEATS_FREE,
    SQL_SEATS_SELL,
    SQL_SEATS_PRICE,
    SQL_BOOKING_INSERT,
    SQL_BOOKING_BY_ID,
    SQL_BOOKING_UPDATE,
    SQL_OUTBOX_INSERT,
    SQL_OUTBOX_FANOUT,
    SQL_ROUTED,
    SQL_SUBSCRIBER_INSERT,
    SQL_PATTERN_INSERT,
    SQL_DELIVERIES_EXHAUST,
    SQL_DELIVERIES_CLAIM,
    SQL_DELIVERY_BY_SEQ,
    SQL_DELIVERY_FINISH,
    SQL_DELIVERY_RETRY,
    SQL_DELIVERY_REDRIVE,
    SQL_DELIVERIES_RECLAIM,
    SQL_IDEMPOTENCY_GET,
    SQL_IDEMPOTENCY_PUT,
    SQL_IDEMPOTENCY_PURGE,
    SQL_PING,
    SQL_COUNT
} sqlite_sql;

/* Statements of the read connections (text in reads.c). */
typedef enum {
    RSQL_BEGIN,
    RSQL_COMMIT,
    RSQL_HOLD_BY_ID,
    RSQL_BOOKING_BY_ID,
    RSQL_BOOKINGS_BY_USER,
    RSQL_SUBSCRIBERS,
    RSQL_DEAD_LETTERS,
    RSQL_IDEMPOTENCY,
    RSQL_FEED_BOUNDS,
    RSQL_FEED_AFTER,
    RSQL_FEED_EVENT_AFTER,
    RSQL_EVENTS,
    RSQL_EVENT_BY_ID,
    RSQL_SECTIONS,
    RSQL_SEATS_TAKEN,
    RSQL_COUNT
} sqlite_rsql;

extern const char *const sqlite_sql_text[SQL_COUNT];
extern const char *const sqlite_rsql_text[RSQL_COUNT];
/* The event stats' statement (admin traffic: prepared per call, not pooled). */
extern const char sqlite_store_stats_sql[];

typedef struct sqlite_reader {
    sqlite3 *db;
    sqlite3_stmt *stmt[RSQL_COUNT];
    bool busy;
} sqlite_reader;

/* Whether an event type has any subscriber: asked once per type, forgotten when the store's
 * subscribers_version moves (read at the start of every batch, so a subscriber added by any
 * writer is seen by the next batch of every other). */
typedef struct sqlite_route {
    char type[TIX_EVENT_TYPE_LEN_MAX + 1];
    bool routed;
} sqlite_route;

/* An event's rules as the store keeps them. Events never change once created, so they are
 * read once per event and kept. */
typedef struct sqlite_event_rules {
    char id[TIX_EVENT_ID_LEN_MAX + 1]; /* "" = empty slot */
    int32_t hold_ttl_s;
    int32_t max_seats_per_hold;
} sqlite_event_rules;

typedef struct store_sqlite {
    store base;
    sqlite3 *db; /* the writer connection */
    sqlite3_stmt *stmt[SQL_COUNT];
    char path[SQLITE_STORE_PATH_MAX];
    char id[33]; /* meta.store_id */
    unsigned busy_timeout_ms;
    /* the batch running (writer thread only) */
    store_batch *batch;
    store_status status; /* the first failure of the batch */
    int64_t feed_head;   /* the last seq written to the feed */
    buf data;            /* outbox payload scratch */
    buf ids;             /* seat ids JSON of the command being run */
    buf change_ids;      /* seat ids JSON of a change about another hold (an expiry on the way) */
    int64_t *due;        /* sweep scratch */
    uint32_t due_cap;
    int64_t subscribers_version;
    uint32_t route_count;
    sqlite_route routes[SQLITE_STORE_ROUTES_MAX];
    sqlite_event_rules *event_rules; /* SQLITE_STORE_EVENT_SLOTS */
    /* read connections */
    pthread_mutex_t readers_mutex;
    pthread_cond_t readers_cond;
    unsigned reader_count;
    sqlite_reader readers[SQLITE_STORE_READERS_MAX];
    /* Checkpoints run on their own connection and thread, off the writer's path (the writer's
     * automatic checkpoint is off): the writer only signals when the WAL grew. */
    sqlite3 *checkpoint_db;
    pthread_t checkpoint_thread;
    bool checkpoint_running, checkpoint_stop, checkpoint_due;
    pthread_mutex_t checkpoint_mutex;
    pthread_cond_t checkpoint_cond;
} store_sqlite;

static inline store_sqlite *sqlite_store_of(store *s)
{
    return (store_sqlite *)s;
}

/* ---- sqlite.c: statements and errors ---- */

/* The store_status a SQLite result code stands for. */
store_status sqlite_store_classify(int rc);

/* Log a failed call on db with its context, record its status in ss->status (when ss is not
 * NULL and no failure was recorded yet); always returns -1. */
int sqlite_store_fail(store_sqlite *ss, sqlite3 *db, const char *what);

/* Record a failure that is not SQLite's (malformed data, out of memory); returns -1. */
int sqlite_store_fail_with(store_sqlite *ss, store_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Step a writer statement that returns no rows, then reset it. Returns 0 or -1. */
int sqlite_store_run(store_sqlite *ss, sqlite_sql which);

/* Step a writer statement returning at most one integer row into *out (untouched when no
 * row), then reset it. *found (may be NULL) tells whether there was a row. */
int sqlite_store_int(store_sqlite *ss, sqlite_sql which, int64_t *out, bool *found);

/* Rows changed by the last statement of the writer connection. */
int sqlite_store_changes(store_sqlite *ss);

void sqlite_store_bind_text(sqlite3_stmt *st, int i, const char *s);

/* Done with a writer statement: reset it. Its bindings are not cleared: every statement binds
 * all of its parameters before each step (clearing costs a pass over them, per statement, on
 * the hot path). */
static inline void sqlite_store_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
}
void sqlite_store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col);

/* A read connection from the pool (waits for one), and giving it back. */
sqlite_reader *sqlite_store_reader_acquire(store_sqlite *ss);
void sqlite_store_reader_release(store_sqlite *ss, sqlite_reader *r);

/* ---- schema.c ---- */

/* Run SQL (statements without results) on db, logging a failure. Returns 0 or -1. */
int sqlite_store_exec(sqlite3 *db, const char *sql);

/* Bring the database of the writer connection db to the current schema version. Sets
 * *migrated when a migration ran (the connection must then be reopened). Returns 0 or -1 with
 * a reason in err. */
int sqlite_store_migrate(sqlite3 *db, bool *migrated, char *err, size_t err_len);

/* ---- records (holds.c, bookings.c) ---- */

/* Seat ids as the JSON array tix stores, into b (reset first). Returns 0 or -1. */
int sqlite_store_seat_ids_encode(const char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n, buf *b);

/* Decode such an array. Returns 0 or -1 when malformed. */
int sqlite_store_seat_ids_decode(const char *json, char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t *n);

/* Decode a row of holds (columns of SQLITE_HOLD_COLUMNS) / bookings (SQLITE_BOOKING_COLUMNS)
 * / a delivery with its outbox row (SQLITE_DELIVERY_SELECT). Return 0 or -1 when malformed. */
int sqlite_store_hold_decode(sqlite3_stmt *st, hold_record *out);
int sqlite_store_booking_decode(sqlite3_stmt *st, booking_record *out);
int sqlite_store_delivery_decode(sqlite3_stmt *st, delivery_record *out);

#define SQLITE_HOLD_COLUMNS                                                                        \
    "seq, id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms, ended_at_ms"
#define SQLITE_BOOKING_COLUMNS                                                                     \
    "seq, id, hold_seq, hold_id, event_id, user_id, email, status, amount_cents, payment_token,"   \
    " payment_id, refund_id, created_at_ms, updated_at_ms, checkout_deadline_ms, seat_ids"
#define SQLITE_DELIVERY_SELECT                                                                     \
    "SELECT d.seq, d.subscriber_id, d.status, d.attempts, d.next_attempt_ms, d.updated_at_ms,"     \
    " d.last_error, o.seq, o.id, o.type, o.event_id, o.aggregate_id, o.time_ms, o.data"            \
    " FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"

/* Read a hold by id (when not NULL) or seq, seeing the transaction's writes. */
int sqlite_store_hold_get(store_sqlite *ss, const char *id, int64_t seq, hold_record *out,
                          bool *found);

/* End live hold h as released or expired: the conditional UPDATE of the hold (a hold that is
 * no longer live sets *ended false and changes nothing), its seats freed, its outbox row and
 * its change. */
int sqlite_store_end_hold(store_sqlite *ss, hold_record *h, hold_status status, int64_t now_ms,
                          bool *ended);

/* Expire hold seq if it is live and lapsed at now_ms; *expired tells whether it did. */
int sqlite_store_expire_hold(store_sqlite *ss, int64_t seq, int64_t now_ms, bool *expired);

/* Load the hold id names for a command that needs it active and, with an actor, the actor's
 * own. Sets *rc (HOLD_NOT_FOUND, FORBIDDEN, HOLD_NOT_ACTIVE) when it is not; returns -1 only
 * when the store failed. */
int sqlite_store_load_active_hold(store_sqlite *ss, const char *id, const char *actor,
                                  int64_t now_ms, hold_record *h, tix_rc *rc);

/* ---- bus.c ---- */

/* Append an outbox row whose data is ss->data (a JSON object) and fan it out to the
 * subscribers whose patterns match its type. Returns 0 or -1. */
int sqlite_store_outbox(store_sqlite *ss, const char *type, const char *event_id,
                        const char *aggregate_id, int64_t now_ms);
int sqlite_store_outbox_hold(store_sqlite *ss, const char *type, const hold_record *h,
                             int64_t now_ms);
int sqlite_store_outbox_booking(store_sqlite *ss, const char *type, const booking_record *b,
                                int64_t now_ms);

/* Forget the cached routes when subscribers_version moved (start of a batch). */
int sqlite_store_routes_check(store_sqlite *ss);

/* ---- feed.c ---- */

/* Read the feed's head into ss->feed_head (start of a batch). */
int sqlite_store_feed_begin(store_sqlite *ss);

/* Append a change in the batch's transaction (the next seq) and to the batch's page. */
int sqlite_store_feed_append(store_sqlite *ss, change_kind kind, const char *event_id,
                             const char *ref, int64_t hold_seq, int64_t expires_ms,
                             const char *seat_ids_json, size_t seat_ids_len, uint32_t seat_count,
                             int64_t now_ms);

/* A seat change for hold h (its seat ids). */
int sqlite_store_feed_hold(store_sqlite *ss, change_kind kind, const hold_record *h,
                           int64_t expires_ms, int64_t now_ms);

/* Delete changes older than the rules keep (at most SQLITE_STORE_TRIM_MAX). */
int sqlite_store_feed_trim(store_sqlite *ss);

/* ---- the commands ---- */

int sqlite_store_do_hold(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_release(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_sweep(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_event_create(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_checkout(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_payment(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_refund(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_cancel(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_subscriber_add(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_claim(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_delivery(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_redrive(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);
int sqlite_store_do_reclaim(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);

/* ---- reads.c (the store_ops reads) ---- */

int sqlite_store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                              int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                              int64_t *scanned_to, store_status *status);
int sqlite_store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                               store_status *status);
int sqlite_store_event_get(store *s, const char *id, event_spec *out, bool *found,
                           store_status *status);
int sqlite_store_hold_read(store *s, const char *id, hold_record *out, bool *found,
                           store_status *status);
int sqlite_store_booking_read(store *s, const char *id, booking_record *out, bool *found,
                              store_status *status);
int sqlite_store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                                  void *ctx, store_status *status);
int sqlite_store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx,
                                  store_status *status);
int sqlite_store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                                   store_status *status);
int sqlite_store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                                 bool *found, store_status *status);
int sqlite_store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                             store_status *status);
int sqlite_store_dead_letters_count(store *s, uint64_t *count, store_status *status);

#endif
