/* pg internal: what the files of the PostgreSQL backend share.
 *
 *   pg.c         opening and closing, the batch (one transaction, one round trip), errors
 *   conn.c       connections: connecting with tix's settings, reconnecting with back-off,
 *                waiting for results with a deadline, parameters and result fields
 *   schema.c     the schema and its migrations, under an advisory lock
 *   holds.c      HOLD, RELEASE, SWEEP, EVENT_CREATE: parameters and outcomes
 *   bookings.c   CHECKOUT, PAYMENT, REFUND, CANCEL: parameters and outcomes
 *   bus.c        SUBSCRIBER_ADD, CLAIM, DELIVERY, REDRIVE, RECLAIM, PING, RESPONSE
 *   feed.c       the end of a batch: the feed's seqs, COMMIT, the notification
 *   reads.c      committed reads for the API, the feed and snapshots
 *   listen.c     LISTEN/NOTIFY: waking the feed follower when another node committed
 *   sql/v*.sql    the tables and the functions that apply every rule, one per command kind
 *                (embedded by embed.S; run by the migrations)
 *
 * Every command is ONE call of a PL/pgSQL function (sql/v1_*.sql) returning its outcome as a
 * row, and a batch is sent whole in libpq's pipeline mode: BEGIN, one call per command, the
 * feed's flush, COMMIT, the notification, then one sync; the results are read back in order.
 * A command's send function queues its call; its recv function reads its row into the command.
 * recv returns 0, or -1 when the row cannot be read (the status is then in ss->status and the
 * batch fails). */
#ifndef TIX_STORE_PG_INTERNAL_H
#define TIX_STORE_PG_INTERNAL_H

#include "store/store.h"

#include <libpq-fe.h>
#include <pthread.h>

enum {
    PG_STORE_READERS_MAX = 64,
    PG_STORE_PARAMS_MAX = 16,
    PG_STORE_CONNECT_TIMEOUT_S = 5,
    PG_STORE_IO_TIMEOUT_MS = 120000, /* a round trip never waits longer: the link is dead */
    PG_STORE_BACKOFF_MS_FIRST = 100, /* after a failed connection attempt, the next waits */
    PG_STORE_BACKOFF_MS_MAX = 2000,  /* doubling up to this */
    PG_STORE_TRIM_MAX = 20000,       /* feed rows or idempotency keys one sweep deletes */
    PG_STORE_SERVER_VERSION_MIN = 130000,
    PG_STORE_ARRAY_LEN_MAX = 64 * 1024,           /* a text[] parameter (seat ids, patterns) */
    PG_STORE_SECTIONS_LEN_MAX = 16 * 1024 * 1024, /* an event's sections as JSON */
};

/* Prepared statements of the writer connection (text in pg.c). */
typedef enum {
    PG_SQL_BEGIN,
    PG_SQL_COMMIT,
    PG_SQL_ROLLBACK,
    PG_SQL_FLUSH,
    PG_SQL_NOTIFY,
    PG_SQL_KEEP,
    PG_SQL_XACT_STATUS,
    PG_SQL_HOLD,
    PG_SQL_RELEASE,
    PG_SQL_CHECKOUT,
    PG_SQL_PAYMENT,
    PG_SQL_CANCEL,
    PG_SQL_REFUND,
    PG_SQL_EVENT_CREATE,
    PG_SQL_SUBSCRIBER_ADD,
    PG_SQL_CLAIM,
    PG_SQL_DELIVERY,
    PG_SQL_REDRIVE,
    PG_SQL_RECLAIM,
    PG_SQL_SWEEP,
    PG_SQL_PING,
    PG_SQL_RESPONSE,
    PG_SQL_COUNT
} pg_sql;

/* Prepared statements of the read connections (text in reads.c). */
typedef enum {
    PG_RSQL_HOLD_BY_ID,
    PG_RSQL_BOOKING_BY_ID,
    PG_RSQL_BOOKINGS_BY_USER,
    PG_RSQL_SUBSCRIBERS,
    PG_RSQL_DEAD_LETTERS,
    PG_RSQL_IDEMPOTENCY,
    PG_RSQL_FEED_AFTER,
    PG_RSQL_FEED_EVENT_AFTER,
    PG_RSQL_EVENTS,
    PG_RSQL_EVENT_BY_ID,
    PG_RSQL_HEAD,
    PG_RSQL_SEATS_TAKEN,
    PG_RSQL_EVENT_STATS,
    PG_RSQL_DEAD_LETTERS_COUNT,
    PG_RSQL_COUNT
} pg_rsql;

typedef struct pg_statement {
    const char *name;
    const char *text;
} pg_statement;

extern const pg_statement pg_store_sql[PG_SQL_COUNT];
extern const pg_statement pg_store_rsql[PG_RSQL_COUNT];

/* One connection and when it may be tried again. */
typedef enum { PG_ROLE_WRITER, PG_ROLE_READER, PG_ROLE_LISTENER, PG_ROLE_ADMIN } pg_role;

typedef struct pg_conn {
    PGconn *conn; /* NULL while disconnected */
    pg_role role;
    int64_t retry_at_ms; /* monotonic: no connection attempt before */
    uint32_t backoff_ms; /* the wait after the next failed attempt; 0 after a success */
    uint64_t failed_in;  /* the store's connect_epoch when its last attempt failed */
    bool doomed;         /* the server said it ends the connection (FATAL) */
} pg_conn;

typedef struct pg_reader {
    pg_conn c;
    bool busy;
} pg_reader;

typedef struct store_pg {
    store base;
    char *url;
    char id[33]; /* meta.store_id */
    unsigned lock_timeout_ms;
    uint64_t connect_epoch; /* atomic: connections made so far; a connection in back-off tries
                               again at once when another got through since its failure */
    /* the writer (its thread only) */
    pg_conn writer;
    int writer_pid; /* atomic: its backend, whose own notifications the listener skips */
    store_batch *batch;
    store_status status; /* the first failure of the batch */
    PGresult **results;  /* one per query of the round trip being read */
    uint32_t result_cap;
    uint32_t results_got; /* how many of them the last round trip read */
    buf scratch;          /* JSON parameters */
    buf ids;              /* text[] parameters */
    /* read connections */
    pthread_mutex_t readers_mutex;
    pthread_cond_t readers_cond;
    unsigned reader_count;
    pg_reader readers[PG_STORE_READERS_MAX];
    /* the listener (listen.c) */
    pthread_mutex_t watch_mutex; /* fn, ctx: never called after store_watch cleared them */
    void (*watch_fn)(void *ctx);
    void *watch_ctx;
    pthread_t listen_thread;
    bool listening;
    int listen_stop_fd; /* an eventfd that ends the listener's wait */
} store_pg;

static inline store_pg *pg_store_of(store *s)
{
    return (store_pg *)s;
}

/* ---- conn.c: connections ---- */

/* Connect c (role set) to ss->url with tix's settings and its role's setup (statements,
 * pipeline mode, LISTEN). Returns 0, or -1 with a reason in err. */
int pg_store_connect(store_pg *ss, pg_conn *c, char *err, size_t err_len);

/* Make sure c is connected: reconnect when it was lost, unless a failed attempt was made less
 * than its back-off ago and no other connection of the store got through since. Returns 0, or
 * -1 (the store is unavailable for now). */
int pg_store_ensure(store_pg *ss, pg_conn *c);

/* Drop c's connection (the next pg_store_ensure reconnects at once). */
void pg_store_disconnect(pg_conn *c);

/* Whether an idle connection (one that LISTENs for nothing) is still good: nothing arrived on
 * it since it was last used (a dying server's error, the end of the connection). */
bool pg_store_alive(pg_conn *c);

/* Send what libpq buffered and wait until the next result can be read without blocking, at
 * most PG_STORE_IO_TIMEOUT_MS. Returns 0, or -1 when the connection broke (it is dropped). */
int pg_store_flush(pg_conn *c);
int pg_store_wait(pg_conn *c);

/* The store_status a failed result stands for (SQLSTATE, or the connection's state). */
store_status pg_store_classify(PGconn *conn, const PGresult *res);

/* Log a failed result (or connection) with what failed; record its status in ss->status
 * (when ss is not NULL and no failure was recorded yet). Returns -1. */
int pg_store_fail(store_pg *ss, PGconn *conn, const PGresult *res, const char *what);

/* Record a failure that is not PostgreSQL's (a malformed row, out of memory); returns -1. */
int pg_store_fail_with(store_pg *ss, store_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parameters of one query, in text (or, for bytes, binary) format. The values must live until
 * the query is sent (libpq copies them then). */
typedef struct pg_params {
    int count;
    const char *values[PG_STORE_PARAMS_MAX];
    int lengths[PG_STORE_PARAMS_MAX];
    int formats[PG_STORE_PARAMS_MAX];
    char numbers[PG_STORE_PARAMS_MAX][24];
} pg_params;

void pg_params_text(pg_params *p, const char *s); /* NULL: SQL NULL */
void pg_params_i64(pg_params *p, int64_t v);
void pg_params_bool(pg_params *p, bool v);
void pg_params_bytes(pg_params *p, const char *data, size_t len);
/* The idempotency key, request hash and time every keyed command function starts with. */
void pg_params_idem(pg_params *p, const store_cmd *cmd, int64_t now_ms);

/* A text[] literal of n NUL-terminated strings, stride bytes apart from items (each quoted),
 * into b (reset first). Returns 0 or -1. */
int pg_store_array(buf *b, const void *items, size_t stride, uint32_t n);

/* Queue prepared statement `which` with p on the writer. Returns 0 or -1 (recorded). */
int pg_store_send(store_pg *ss, pg_sql which, const pg_params *p);

/* Result fields: an integer (0 when NULL), text copied into dst (cap bytes, "" when NULL). */
int64_t pg_store_i64(const PGresult *res, int row, int col);
void pg_store_text(char *dst, size_t cap, const PGresult *res, int row, int col);

/* ---- pg.c ---- */

/* The tix_rc a command function's outcome name stands for; -1 when it is none. */
int pg_store_rc_parse(const char *name, tix_rc *rc);

/* Read a command's first columns (o_rc, and with keyed commands o_idem_status, o_idem_body)
 * into cmd: its rc, and a replayed response into cmd->idem. Returns 0 or -1 (recorded). */
int pg_store_recv_outcome(store_pg *ss, store_cmd *cmd, const PGresult *res, bool keyed);

/* recv functions of commands whose row is only their outcome: keyed, or not. */
int pg_store_recv_keyed(store_pg *ss, store_cmd *cmd, const PGresult *res);
int pg_store_recv_plain(store_pg *ss, store_cmd *cmd, const PGresult *res);

/* ---- records ---- */

/* A hold (columns of the holds table, in order, from col) / a booking (bookings table) of a
 * result row. Return 0, or -1 when malformed. */
int pg_store_hold_decode(const PGresult *res, int row, int col, hold_record *out);
int pg_store_booking_decode(const PGresult *res, int row, int col, booking_record *out);

/* A delivery with its outbox row (the columns of tix_claim, from col). */
void pg_store_delivery_decode(const PGresult *res, int row, int col, delivery_record *out);

/* ---- schema.c ---- */

/* Bring the database of conn to the current schema, under the migrations' advisory lock (held
 * by one connection at a time across every node). Returns 0 or -1 with a reason in err. */
int pg_store_migrate(PGconn *conn, char *err, size_t err_len);

/* ---- the commands: queue the call (send), read its row (recv) ---- */

typedef struct pg_store_cmd_ops {
    int (*send)(store_pg *ss, store_cmd *cmd, int64_t now_ms);
    int (*recv)(store_pg *ss, store_cmd *cmd, const PGresult *res);
    bool keyed; /* the function decides an idempotency key (its first parameters) */
} pg_store_cmd_ops;

extern const pg_store_cmd_ops pg_store_hold_ops, pg_store_release_ops, pg_store_sweep_ops,
    pg_store_event_create_ops;
extern const pg_store_cmd_ops pg_store_checkout_ops, pg_store_payment_ops, pg_store_refund_ops,
    pg_store_cancel_ops;
extern const pg_store_cmd_ops pg_store_subscriber_add_ops, pg_store_claim_ops,
    pg_store_delivery_ops, pg_store_redrive_ops, pg_store_reclaim_ops, pg_store_ping_ops,
    pg_store_response_ops;

/* ---- feed.c: the end of a batch ---- */

/* Queue the feed's flush, COMMIT and the notification (3 queries). */
int pg_store_send_tail(store_pg *ss);

/* Read the flush's rows into the batch (feed_before, its changes, deliveries_written).
 * Returns 0 or -1 (recorded). */
int pg_store_recv_flush(store_pg *ss, const PGresult *res);

/* The id of the transaction the flush ended (a string in res), or NULL when it wrote nothing
 * or res is not a flush's result. */
const char *pg_store_flush_xid(const PGresult *res);

/* ---- reads.c (the store_ops reads) ---- */

int pg_store_changes_read(store *s, int64_t after_seq, uint32_t max, const char *event_id,
                          int64_t scan_max, change_page *out, store_feed_bounds *bounds,
                          int64_t *scanned_to, store_status *status);
int pg_store_snapshot_load(store *s, const store_snapshot_cb *cb, int64_t *position,
                           store_status *status);
int pg_store_event_get(store *s, const char *id, event_spec *out, bool *found,
                       store_status *status);
int pg_store_hold_read(store *s, const char *id, hold_record *out, bool *found,
                       store_status *status);
int pg_store_booking_read(store *s, const char *id, booking_record *out, bool *found,
                          store_status *status);
int pg_store_bookings_by_user(store *s, const char *user_id, uint32_t max, store_booking_cb cb,
                              void *ctx, store_status *status);
int pg_store_subscribers_list(store *s, store_subscriber_cb cb, void *ctx, store_status *status);
int pg_store_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx,
                               store_status *status);
int pg_store_idempotency_get(store *s, const char *key, store_idempotency_cb cb, void *ctx,
                             bool *found, store_status *status);
int pg_store_event_stats(store *s, const char *event_id, int64_t now_ms, store_stats *out,
                         store_status *status);
int pg_store_dead_letters_count(store *s, uint64_t *count, store_status *status);

/* ---- listen.c ---- */

/* store_ops.watch: call fn(ctx) when another node's commit moved the feed, and once after the
 * listening connection was lost and made again (notifications sent meanwhile are lost); fn
 * NULL stops. Returns 0 or -1. */
int pg_store_watch(store *s, void (*fn)(void *ctx), void *ctx);

/* Stop the listener thread (at close). */
void pg_store_listen_stop(store_pg *ss);

#endif
