/* store_sqlite: the embedded store, one SQLite database in WAL mode.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT returns only after the WAL
 * is synced; the writer acknowledges a request only after its COMMIT returned. Crash safety
 * is SQLite's: a transaction is in the database whole or not at all.
 *
 * Connections: one writer connection, used only by the commit writer thread (and by the CLI
 * for seeding), holding prepared statements for every store_tx_* call; plus a small pool of
 * read-only connections for reads from HTTP threads, which in WAL mode never block on the
 * writer and see only committed transactions.
 *
 * Schema: versioned with PRAGMA user_version; store__migrations[i] moves version i to i + 1,
 * each in its own transaction. */
#include "store/store.h"

#include "store/vfs_shim.h"
#include "util/buf.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    STORE_READERS_MAX = 64,
    STORE_BUSY_TIMEOUT_MS = 10000,
    STORE_PATH_MAX = 4096,
    STORE_CHECKPOINT_FRAMES = 10000, /* checkpoint once the WAL holds this many frames (~40 MB):
                                        pages rewritten meanwhile are copied once */
    STORE_CHECKPOINT_INTERVAL_MS = 1000,
    STORE_CHECKPOINT_NICE = 10, /* the checkpointer's nice: background work, it yields the core
                                   to the threads answering requests (never starved: about a
                                   tenth of a core it shares with one busy thread) */
};

/* A migration: SQL to run, or a function for what SQL alone cannot do. */
typedef struct store_migration {
    const char *sql;
    int (*run)(sqlite3 *db); /* returns 0 or -1 */
} store_migration;

static int store__rewrite_checks(sqlite3 *db);

static const store_migration store__migrations[] = {
    /* version 0 -> 1: events, seats, holds, bookings, the outbox and its deliveries */
    {.sql =
         "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
         "CREATE TABLE events(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
         "  venue TEXT NOT NULL, starts_at_ms INTEGER NOT NULL, hold_ttl_s INTEGER NOT NULL,"
         "  max_seats_per_hold INTEGER NOT NULL, created_at_ms INTEGER NOT NULL);"
         "CREATE TABLE sections(event_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,"
         "  price_cents INTEGER NOT NULL, seats_per_row INTEGER NOT NULL, rows TEXT NOT NULL,"
         "  PRIMARY KEY(event_id, idx)) WITHOUT ROWID;"
         "CREATE TABLE seats(event_id TEXT NOT NULL, seat_id TEXT NOT NULL,"
         "  section_idx INTEGER NOT NULL, row_label TEXT NOT NULL, number INTEGER NOT NULL,"
         "  status TEXT NOT NULL DEFAULT 'available' CHECK (status IN ('available','held','sold')),"
         "  hold_seq INTEGER, PRIMARY KEY(event_id, seat_id)) WITHOUT ROWID;"
         "CREATE INDEX seats_by_hold ON seats(hold_seq) WHERE hold_seq IS NOT NULL;"
         "CREATE TABLE holds(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
         "  event_id TEXT NOT NULL, user_id TEXT NOT NULL,"
         "  status TEXT NOT NULL"
         "    CHECK (status IN ('active','released','expired','checkout','booked')),"
         "  seat_ids TEXT NOT NULL, created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,"
         "  ended_at_ms INTEGER);"
         "CREATE INDEX holds_due ON holds(expires_at_ms) WHERE status IN ('active','checkout');"
         "CREATE INDEX holds_by_user ON holds(event_id, user_id) WHERE status IN "
         "('active','checkout');"
         "CREATE TABLE bookings(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
         "  hold_seq INTEGER NOT NULL UNIQUE, hold_id TEXT NOT NULL, event_id TEXT NOT NULL,"
         "  user_id TEXT NOT NULL, email TEXT NOT NULL,"
         "  status TEXT NOT NULL CHECK (status IN"
         "    ('pending_payment','confirmed','payment_failed','cancelled')),"
         "  amount_cents INTEGER NOT NULL, payment_token TEXT NOT NULL,"
         "  payment_id TEXT NOT NULL DEFAULT '', refund_id TEXT NOT NULL DEFAULT '',"
         "  created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL,"
         "  checkout_deadline_ms INTEGER NOT NULL, seat_ids TEXT NOT NULL);"
         "CREATE INDEX bookings_by_user ON bookings(user_id, created_at_ms);"
         /* outbox ids carry 80 random bits: unique without an index to keep up */
         "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL,"
         "  event_id TEXT, aggregate_id TEXT, time_ms INTEGER NOT NULL, data TEXT NOT NULL);"
         "CREATE TABLE subscribers(id TEXT PRIMARY KEY, kind TEXT NOT NULL"
         "    CHECK (kind IN ('payment','notification','webhook')),"
         "  url TEXT NOT NULL DEFAULT '', secret TEXT NOT NULL DEFAULT '',"
         "  created_at_ms INTEGER NOT NULL);"
         "CREATE TABLE subscriber_patterns(subscriber_id TEXT NOT NULL, pattern TEXT NOT NULL,"
         "  PRIMARY KEY(subscriber_id, pattern)) WITHOUT ROWID;"
         "INSERT INTO subscribers(id, kind, created_at_ms) VALUES"
         "  ('payment', 'payment', 0), ('notification', 'notification', 0);"
         "INSERT INTO subscriber_patterns VALUES ('payment', 'CheckoutStarted'),"
         "  ('payment', 'RefundRequested'), ('notification', 'BookingConfirmed'),"
         "  ('notification', 'PaymentFailed'), ('notification', 'BookingCancelled');"
         "CREATE TABLE deliveries(seq INTEGER PRIMARY KEY, outbox_seq INTEGER NOT NULL,"
         "  subscriber_id TEXT NOT NULL, aggregate_id TEXT NOT NULL,"
         "  status TEXT NOT NULL CHECK (status IN ('pending','delivered','dead')),"
         "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,"
         "  lease_owner TEXT NOT NULL DEFAULT '', lease_until_ms INTEGER NOT NULL DEFAULT 0,"
         "  last_error TEXT NOT NULL DEFAULT '', updated_at_ms INTEGER NOT NULL,"
         "  UNIQUE(outbox_seq, subscriber_id));"
         "CREATE INDEX deliveries_due ON deliveries(next_attempt_ms) WHERE status = 'pending';"
         "CREATE INDEX deliveries_order ON deliveries(subscriber_id, aggregate_id, outbox_seq)"
         "  WHERE status = 'pending';"
         "CREATE INDEX deliveries_dead ON deliveries(updated_at_ms) WHERE status = 'dead';"
         "CREATE TABLE idempotency(key TEXT PRIMARY KEY, request_hash TEXT NOT NULL,"
         "  status INTEGER NOT NULL, body BLOB NOT NULL, created_at_ms INTEGER NOT NULL);"
         "CREATE INDEX idempotency_age ON idempotency(created_at_ms);"},
    /* version 1 -> 2: the same CHECK constraints, written as comparisons. SQLite checks
     * "x IN (3 or more constants)" by building a temporary b-tree of the constants on every
     * INSERT or UPDATE of the row (OpenEphemeral: a pager opened and closed, a few µs, twice
     * per hold); "x = 'a' OR x = 'b' ..." is a few comparisons. SQLite cannot ALTER a CHECK
     * constraint: the table definitions are rewritten in place, the procedure SQLite documents
     * for changing constraints that every row already satisfies ("Making Other Kinds Of Table
     * Schema Changes", lang_altertable.html). */
    {.run = store__rewrite_checks},
};
enum { STORE_SCHEMA_VERSION = sizeof(store__migrations) / sizeof(store__migrations[0]) };

/* Migration 2's rewrites: in table `table`, the text `from` becomes `to` (equivalent). */
static const struct store_check_rewrite {
    const char *table, *from, *to;
} store__check_rewrites[] = {
    {"seats", "CHECK (status IN ('available','held','sold'))",
     "CHECK (status = 'available' OR status = 'held' OR status = 'sold')"},
    {"holds", "CHECK (status IN ('active','released','expired','checkout','booked'))",
     "CHECK (status = 'active' OR status = 'released' OR status = 'expired'"
     " OR status = 'checkout' OR status = 'booked')"},
    {"bookings",
     "CHECK (status IN    ('pending_payment','confirmed','payment_failed','cancelled'))",
     "CHECK (status = 'pending_payment' OR status = 'confirmed'"
     " OR status = 'payment_failed' OR status = 'cancelled')"},
    {"subscribers", "CHECK (kind IN ('payment','notification','webhook'))",
     "CHECK (kind = 'payment' OR kind = 'notification' OR kind = 'webhook')"},
    {"deliveries", "CHECK (status IN ('pending','delivered','dead'))",
     "CHECK (status = 'pending' OR status = 'delivered' OR status = 'dead')"},
};

/* Prepared statements of the writer connection. */
typedef enum {
    SQL_BEGIN,
    SQL_COMMIT,
    SQL_ROLLBACK,
    SQL_SAVEPOINT,
    SQL_RELEASE,
    SQL_ROLLBACK_TO,
    SQL_EVENT_INSERT,
    SQL_SECTION_INSERT,
    SQL_SEAT_INSERT,
    SQL_HOLD_INSERT,
    SQL_HOLD_BY_ID,
    SQL_HOLD_BY_SEQ,
    SQL_HOLD_END,
    SQL_SEAT_TAKE,
    SQL_SEAT_HOLDER,
    SQL_SEATS_FREE,
    SQL_HOLDS_DUE,
    SQL_OUTBOX_INSERT,
    SQL_PING,
    SQL_HOLD_CHECKOUT,
    SQL_SEATS_SELL,
    SQL_BOOKING_INSERT,
    SQL_BOOKING_BY_ID,
    SQL_BOOKING_BY_SEQ,
    SQL_BOOKING_UPDATE,
    SQL_SUBSCRIBER_INSERT,
    SQL_PATTERN_INSERT,
    SQL_OUTBOX_FANOUT,
    SQL_DELIVERIES_CLAIM,
    SQL_DELIVERY_BY_SEQ,
    SQL_DELIVERY_FINISH,
    SQL_DELIVERY_RETRY,
    SQL_DELIVERY_REDRIVE,
    SQL_IDEMPOTENCY_PUT,
    SQL_IDEMPOTENCY_PURGE,
    SQL_HOLD_DELETE,
    SQL_ROUTED,
    SQL_USER_SEATS,
    SQL_DELIVERIES_EXHAUST,
    SQL_COUNT
} store__sql;

#define STORE_BOOKING_COLUMNS                                                                      \
    "seq, id, hold_seq, hold_id, event_id, user_id, email, status, amount_cents, payment_token,"   \
    " payment_id, refund_id, created_at_ms, updated_at_ms, checkout_deadline_ms, seat_ids"
#define STORE_DELIVERY_SELECT                                                                      \
    "SELECT d.seq, d.subscriber_id, d.status, d.attempts, d.next_attempt_ms, d.updated_at_ms,"     \
    " d.last_error, o.seq, o.id, o.type, o.event_id, o.aggregate_id, o.time_ms, o.data"            \
    " FROM deliveries d JOIN outbox o ON o.seq = d.outbox_seq"
#define STORE_HOLD_SELECT                                                                          \
    "SELECT seq, id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms,"           \
    " ended_at_ms FROM holds"

static const char *const store__sql_text[SQL_COUNT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_SAVEPOINT] = "SAVEPOINT cmd",
    [SQL_RELEASE] = "RELEASE cmd",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO cmd",
    [SQL_EVENT_INSERT] = "INSERT INTO events(id, name, venue, starts_at_ms, hold_ttl_s,"
                         " max_seats_per_hold, created_at_ms) VALUES (?,?,?,?,?,?,?)"
                         " ON CONFLICT(id) DO NOTHING",
    [SQL_SECTION_INSERT] = "INSERT INTO sections(event_id, idx, name, price_cents,"
                           " seats_per_row, rows) VALUES (?,?,?,?,?,?)",
    [SQL_SEAT_INSERT] = "INSERT INTO seats(event_id, seat_id, section_idx, row_label, number)"
                        " VALUES (?,?,?,?,?)",
    [SQL_HOLD_INSERT] = "INSERT INTO holds(id, event_id, user_id, status, seat_ids,"
                        " created_at_ms, expires_at_ms) VALUES (?,?,?,'active',?,?,?)",
    [SQL_HOLD_BY_ID] = STORE_HOLD_SELECT " WHERE id = ?",
    [SQL_HOLD_BY_SEQ] = STORE_HOLD_SELECT " WHERE seq = ?",
    [SQL_HOLD_END] = "UPDATE holds SET status = ?, ended_at_ms = ?"
                     " WHERE seq = ? AND status IN ('active', 'checkout')",
    [SQL_SEAT_TAKE] = "UPDATE seats SET status = 'held', hold_seq = ?"
                      " WHERE event_id = ? AND seat_id = ? AND status = 'available'",
    [SQL_SEAT_HOLDER] = "SELECT hold_seq FROM seats WHERE event_id = ? AND seat_id = ?"
                        " AND status = 'held'",
    [SQL_SEATS_FREE] = "UPDATE seats SET status = 'available', hold_seq = NULL"
                       " WHERE hold_seq = ? AND status <> 'available'",
    [SQL_HOLDS_DUE] = "SELECT seq FROM holds WHERE status IN ('active', 'checkout')"
                      " AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
    [SQL_OUTBOX_INSERT] = "INSERT INTO outbox(id, type, event_id, aggregate_id, time_ms, data)"
                          " VALUES (?,?,?,?,?,?)",
    [SQL_PING] = "INSERT INTO meta(key, value) VALUES ('last_write_ms', ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [SQL_HOLD_CHECKOUT] = "UPDATE holds SET status = 'checkout', expires_at_ms = ?"
                          " WHERE seq = ? AND status = 'active'",
    [SQL_SEATS_SELL] = "UPDATE seats SET status = 'sold' WHERE hold_seq = ? AND status = 'held'",
    [SQL_BOOKING_INSERT] = "INSERT INTO bookings(id, hold_seq, hold_id, event_id, user_id, email,"
                           " status, amount_cents, payment_token, created_at_ms, updated_at_ms,"
                           " checkout_deadline_ms, seat_ids)"
                           " VALUES (?,?,?,?,?,?,'pending_payment',?,?,?,?,?,?)",
    [SQL_BOOKING_BY_ID] = "SELECT " STORE_BOOKING_COLUMNS " FROM bookings WHERE id = ?",
    [SQL_BOOKING_BY_SEQ] = "SELECT " STORE_BOOKING_COLUMNS " FROM bookings WHERE seq = ?",
    [SQL_BOOKING_UPDATE] = "UPDATE bookings SET status = ?1, payment_id = COALESCE(?2, payment_id),"
                           " refund_id = COALESCE(?3, refund_id), updated_at_ms = ?4"
                           " WHERE seq = ?5 AND status = ?6",
    [SQL_SUBSCRIBER_INSERT] = "INSERT INTO subscribers(id, kind, url, secret, created_at_ms)"
                              " VALUES (?,?,?,?,?)",
    [SQL_PATTERN_INSERT] = "INSERT OR IGNORE INTO subscriber_patterns(subscriber_id, pattern)"
                           " VALUES (?,?)",
    [SQL_OUTBOX_FANOUT] = "INSERT INTO deliveries(outbox_seq, subscriber_id, aggregate_id, status,"
                          " next_attempt_ms, updated_at_ms)"
                          " SELECT DISTINCT ?1, subscriber_id, ?2, 'pending', ?3, ?3"
                          " FROM subscriber_patterns WHERE ?4 GLOB pattern",
    [SQL_DELIVERIES_CLAIM] =
        "UPDATE deliveries SET lease_owner = ?1, lease_until_ms = ?2, attempts = attempts + 1,"
        " updated_at_ms = ?3 WHERE seq IN (SELECT d.seq FROM deliveries d"
        "  WHERE d.status = 'pending' AND d.next_attempt_ms <= ?3 AND d.lease_until_ms <= ?3"
        "  AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'"
        "   AND e.subscriber_id = d.subscriber_id AND e.aggregate_id = d.aggregate_id"
        "   AND e.outbox_seq < d.outbox_seq)"
        "  ORDER BY d.outbox_seq LIMIT ?4) RETURNING seq",
    [SQL_DELIVERY_BY_SEQ] = STORE_DELIVERY_SELECT " WHERE d.seq = ?",
    [SQL_DELIVERY_FINISH] =
        "UPDATE deliveries SET status = ?1, last_error = ?2, updated_at_ms = ?3,"
        " lease_owner = '', lease_until_ms = 0"
        " WHERE seq = ?4 AND status = 'pending'",
    [SQL_DELIVERY_RETRY] = "UPDATE deliveries SET next_attempt_ms = ?1, last_error = ?2,"
                           " updated_at_ms = ?3, lease_owner = '', lease_until_ms = 0"
                           " WHERE seq = ?4 AND status = 'pending'",
    [SQL_DELIVERY_REDRIVE] = "UPDATE deliveries SET status = 'pending', attempts = 0,"
                             " next_attempt_ms = ?1, updated_at_ms = ?1, lease_owner = '',"
                             " lease_until_ms = 0 WHERE seq = ?2 AND status = 'dead'",
    [SQL_IDEMPOTENCY_PUT] = "INSERT INTO idempotency(key, request_hash, status, body,"
                            " created_at_ms) VALUES (?,?,?,?,?)"
                            " ON CONFLICT(key) DO NOTHING",
    [SQL_IDEMPOTENCY_PURGE] = "DELETE FROM idempotency WHERE created_at_ms < ?",
    [SQL_HOLD_DELETE] = "DELETE FROM holds WHERE seq = ?",
    [SQL_ROUTED] = "SELECT 1 FROM subscriber_patterns WHERE ? GLOB pattern LIMIT 1",
    [SQL_DELIVERIES_EXHAUST] =
        "UPDATE deliveries SET status = 'dead', updated_at_ms = ?1, lease_owner = '',"
        " lease_until_ms = 0, last_error = 'attempts exhausted (the last attempt was lost: "
        "its worker stopped before reporting; last error: ' || last_error || ')'"
        " WHERE status = 'pending' AND attempts >= ?2 AND lease_until_ms <= ?1",
    [SQL_USER_SEATS] = "SELECT COALESCE(SUM(json_array_length(seat_ids)), 0) FROM holds"
                       " WHERE event_id = ? AND user_id = ? AND status IN ('active', 'checkout')"
                       " AND expires_at_ms > ?",
};

/* Statements of the read connections. */
typedef enum {
    RSQL_HOLD_BY_ID,
    RSQL_BOOKING_BY_ID,
    RSQL_BOOKINGS_BY_USER,
    RSQL_SUBSCRIBERS,
    RSQL_DEAD_LETTERS,
    RSQL_IDEMPOTENCY,
    RSQL_COUNT
} store__rsql;

static const char *const store__rsql_text[RSQL_COUNT] = {
    [RSQL_HOLD_BY_ID] = STORE_HOLD_SELECT " WHERE id = ?",
    [RSQL_BOOKING_BY_ID] = "SELECT " STORE_BOOKING_COLUMNS " FROM bookings WHERE id = ?",
    [RSQL_BOOKINGS_BY_USER] = "SELECT " STORE_BOOKING_COLUMNS " FROM bookings WHERE user_id = ?"
                              " ORDER BY created_at_ms DESC, seq DESC LIMIT ?",
    [RSQL_SUBSCRIBERS] = "SELECT s.id, s.kind, s.url, s.secret, s.created_at_ms,"
                         " group_concat(p.pattern, ' ') FROM subscribers s"
                         " JOIN subscriber_patterns p ON p.subscriber_id = s.id"
                         " GROUP BY s.id ORDER BY s.created_at_ms, s.id",
    [RSQL_DEAD_LETTERS] =
        STORE_DELIVERY_SELECT " WHERE d.status = 'dead'"
                              " ORDER BY d.updated_at_ms DESC, d.seq DESC LIMIT ?",
    [RSQL_IDEMPOTENCY] = "SELECT request_hash, status, body FROM idempotency WHERE key = ?",
};

typedef struct store_reader {
    sqlite3 *db;
    sqlite3_stmt *stmt[RSQL_COUNT];
    bool busy;
} store_reader;

enum { STORE_ROUTES_MAX = 64 };

/* Whether an event type has any subscriber: asked once per type, forgotten when a
 * subscriber is added, so that events nobody listens to skip the fan-out statement. */
typedef struct store_route {
    char type[TIX_EVENT_TYPE_LEN_MAX + 1];
    bool routed;
} store_route;

typedef struct store_sqlite {
    store base;
    uint32_t route_count;
    store_route routes[STORE_ROUTES_MAX];
    sqlite3 *db; /* the writer connection */
    sqlite3_stmt *stmt[SQL_COUNT];
    char path[STORE_PATH_MAX];
    pthread_mutex_t readers_mutex;
    pthread_cond_t readers_cond;
    /* Checkpoints run on their own connection and thread, off the writer's path (the
     * writer's automatic checkpoint is off): the writer only signals when the WAL grew. */
    sqlite3 *checkpoint_db;
    pthread_t checkpoint_thread;
    bool checkpoint_running, checkpoint_stop, checkpoint_due;
    pthread_mutex_t checkpoint_mutex;
    pthread_cond_t checkpoint_cond;
    unsigned reader_count;
    store_reader readers[STORE_READERS_MAX];
} store_sqlite;

/* ---- test-only storage faults (store/vfs_shim.h): empty unless `--test-fault-dir` was
 * given. ---- */
static char store__fault_dir[STORE_PATH_MAX];

void store_sqlite_set_fault_dir(const char *fault_dir)
{
    snprintf(store__fault_dir, sizeof(store__fault_dir), "%s", fault_dir ? fault_dir : "");
}
/* ---- end of the test-only storage faults ---- */

static store_sqlite *store__of(store *s)
{
    return (store_sqlite *)s;
}

/* Log a failed SQLite call with its context; always returns -1. */
static int store__fail(sqlite3 *db, const char *what)
{
    log_error("store: %s: %s (sqlite code %d)", what, sqlite3_errmsg(db),
              sqlite3_extended_errcode(db));
    return -1;
}

/* Run a statement that returns no rows, then reset it. */
static int store__run(store_sqlite *ss, store__sql which)
{
    sqlite3_stmt *st = ss->stmt[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return store__fail(ss->db, store__sql_text[which]);
    return 0;
}

static void store__bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int store__exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Open one connection with tix's settings. */
static int store__connect(const char *path, bool read_only, sqlite3 **out)
{
    int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, VFS_SHIM_NAME) != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    const char *pragmas = read_only ? "PRAGMA query_only=1;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                      " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;";
    if (store__exec(db, pragmas) != 0) {
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

/* Run sql, a statement returning one integer, into *out. Returns 0 or -1. */
static int store__query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* Migration 2 (inside its transaction): rewrite each table's CHECK text, refuse unless every
 * rewrite matched exactly once, bump the schema cookie so that every connection reloads the
 * schema, and check that the database still reads. Returns 0 or -1. */
static int store__rewrite_checks(sqlite3 *db)
{
    int64_t cookie;
    if (store__query_int(db, "PRAGMA schema_version", &cookie) != 0) return -1;
    if (store__exec(db, "PRAGMA writable_schema=ON") != 0) return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3)"
                                " WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0",
                                -1, &st, NULL);
    size_t n = sizeof(store__check_rewrites) / sizeof(store__check_rewrites[0]);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        const struct store_check_rewrite *r = &store__check_rewrites[i];
        sqlite3_bind_text(st, 1, r->table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->from, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->to, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        if (rc == SQLITE_OK && sqlite3_changes(db) != 1) {
            log_error("store: migration 2: table %s does not have the constraint %s", r->table,
                      r->from);
            rc = SQLITE_ERROR;
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    char bump[64];
    snprintf(bump, sizeof(bump), "PRAGMA schema_version=%lld", (long long)cookie + 1);
    if (store__exec(db, "PRAGMA writable_schema=OFF") != 0 || rc != SQLITE_OK ||
        store__exec(db, bump) != 0)
        return -1;
    char *check = NULL;
    sqlite3_stmt *qc = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &qc, NULL) == SQLITE_OK &&
        sqlite3_step(qc) == SQLITE_ROW)
        check = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(qc, 0));
    sqlite3_finalize(qc);
    bool ok = check && strcmp(check, "ok") == 0;
    if (!ok) log_error("store: migration 2: quick_check: %s", check ? check : "failed");
    sqlite3_free(check);
    return ok ? 0 : -1;
}

/* Bring the database to STORE_SCHEMA_VERSION. Sets *migrated when a migration ran (the
 * connection must then be reopened: it may hold the old schema). Returns 0 or -1 with err. */
static int store__migrate(sqlite3 *db, bool *migrated, char *err, size_t err_len)
{
    *migrated = false;
    int64_t version;
    if (store__query_int(db, "PRAGMA user_version", &version) != 0) {
        snprintf(err, err_len, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version < 0 || version > STORE_SCHEMA_VERSION) {
        snprintf(err, err_len, "database schema version %lld is newer than this tix (%d)",
                 (long long)version, STORE_SCHEMA_VERSION);
        return -1;
    }
    for (int v = (int)version; v < STORE_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
        if (store__exec(db, "BEGIN IMMEDIATE") != 0) goto fail;
        const store_migration *m = &store__migrations[v];
        if ((m->sql && store__exec(db, m->sql) != 0) || (m->run && m->run(db) != 0) ||
            store__exec(db, bump) != 0 || store__exec(db, "COMMIT") != 0) {
            store__exec(db, "ROLLBACK");
            goto fail;
        }
        *migrated = true;
        log_info("store: schema migrated to version %d", v + 1);
    }
    return 0;
fail:
    snprintf(err, err_len, "schema migration failed: %s", sqlite3_errmsg(db));
    return -1;
}

static const store_ops store__sqlite_ops;

static void *store__checkpointer(void *arg)
{
    store_sqlite *ss = arg;
    pthread_setname_np(pthread_self(), "tix-checkpoint");
    /* A checkpoint copies up to 40 MB of pages: at the request threads' priority it took its
     * share of their core and stretched the batches it ran beside (hold p99 at 64 connections
     * on 2 cores ~6 ms; ~4.5-5 ms behind nice +10). On Linux a nice value is per thread. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), STORE_CHECKPOINT_NICE) != 0)
        log_warn("store: cannot lower the checkpointer's priority: %s", strerror(errno));
    pthread_mutex_lock(&ss->checkpoint_mutex);
    while (!ss->checkpoint_stop) {
        if (!ss->checkpoint_due) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += STORE_CHECKPOINT_INTERVAL_MS / 1000;
            pthread_cond_timedwait(&ss->checkpoint_cond, &ss->checkpoint_mutex, &ts);
            if (ss->checkpoint_stop) break;
        }
        ss->checkpoint_due = false;
        pthread_mutex_unlock(&ss->checkpoint_mutex);
        int log_frames = 0, done_frames = 0;
        int rc = sqlite3_wal_checkpoint_v2(ss->checkpoint_db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &done_frames);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) store__fail(ss->checkpoint_db, "checkpoint");
        pthread_mutex_lock(&ss->checkpoint_mutex);
    }
    pthread_mutex_unlock(&ss->checkpoint_mutex);
    return NULL;
}

/* The writer connection's WAL hook: called after each commit with the WAL's size. */
static int store__wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db, (void)name;
    store_sqlite *ss = arg;
    if (frames < STORE_CHECKPOINT_FRAMES) return SQLITE_OK;
    pthread_mutex_lock(&ss->checkpoint_mutex);
    ss->checkpoint_due = true;
    pthread_cond_signal(&ss->checkpoint_cond);
    pthread_mutex_unlock(&ss->checkpoint_mutex);
    return SQLITE_OK;
}

static int store__checkpointer_start(store_sqlite *ss)
{
    if (store__connect(ss->path, false, &ss->checkpoint_db) != 0) return -1;
    if (pthread_create(&ss->checkpoint_thread, NULL, store__checkpointer, ss) != 0) return -1;
    ss->checkpoint_running = true;
    sqlite3_wal_hook(ss->db, store__wal_hook, ss);
    return store__exec(ss->db, "PRAGMA wal_autocheckpoint=0");
}

static void store__sqlite_close(store *s)
{
    store_sqlite *ss = store__of(s);
    if (ss->checkpoint_running) {
        pthread_mutex_lock(&ss->checkpoint_mutex);
        ss->checkpoint_stop = true;
        pthread_cond_signal(&ss->checkpoint_cond);
        pthread_mutex_unlock(&ss->checkpoint_mutex);
        pthread_join(ss->checkpoint_thread, NULL);
    }
    if (ss->checkpoint_db) sqlite3_close(ss->checkpoint_db);
    pthread_mutex_destroy(&ss->checkpoint_mutex);
    pthread_cond_destroy(&ss->checkpoint_cond);
    for (int i = 0; i < SQL_COUNT; i++)
        sqlite3_finalize(ss->stmt[i]);
    for (unsigned i = 0; i < ss->reader_count; i++) {
        for (int k = 0; k < RSQL_COUNT; k++)
            sqlite3_finalize(ss->readers[i].stmt[k]);
        sqlite3_close(ss->readers[i].db);
    }
    if (ss->db && sqlite3_close(ss->db) != SQLITE_OK) store__fail(ss->db, "close");
    pthread_mutex_destroy(&ss->readers_mutex);
    pthread_cond_destroy(&ss->readers_cond);
    free(ss);
}

/* SQLite's process-wide settings, before its first use: no memory statistics, which tix never
 * reads and which cost a global mutex on every SQLite allocation (about 25 per hold).
 * SQLITE_MISUSE: something initialised SQLite first (a test); it keeps them. */
static void store__configure_sqlite(void)
{
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    assert(rc == SQLITE_OK || rc == SQLITE_MISUSE);
    (void)rc;
}

int store_sqlite_open(const char *data_dir, unsigned readers, store **out, char *err,
                      size_t err_len)
{
    assert(readers >= 1);
    if (readers > STORE_READERS_MAX) readers = STORE_READERS_MAX;
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create data dir %s: %s", data_dir, strerror(errno));
        return -1;
    }
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, store__configure_sqlite); /* before the VFS: its first use */
    if (vfs_shim_register(store__fault_dir) != 0) {
        snprintf(err, err_len, "cannot install tix's SQLite VFS (see the log above)");
        return -1;
    }
    store_sqlite *ss = calloc(1, sizeof(*ss));
    if (!ss) return snprintf(err, err_len, "out of memory"), -1;
    ss->base.ops = &store__sqlite_ops;
    pthread_mutex_init(&ss->readers_mutex, NULL);
    pthread_cond_init(&ss->readers_cond, NULL);
    pthread_mutex_init(&ss->checkpoint_mutex, NULL);
    pthread_cond_init(&ss->checkpoint_cond, NULL);
    if ((size_t)snprintf(ss->path, sizeof(ss->path), "%s/tix.db", data_dir) >= sizeof(ss->path)) {
        snprintf(err, err_len, "data dir path too long");
        goto fail;
    }
    if (store__connect(ss->path, false, &ss->db) != 0) {
        snprintf(err, err_len, "cannot open database %s (see the log above)", ss->path);
        goto fail;
    }
    chmod(ss->path, 0600);
    bool migrated;
    if (store__migrate(ss->db, &migrated, err, err_len) != 0) goto fail;
    if (migrated) { /* a fresh connection reads the schema as migrated */
        sqlite3_close(ss->db);
        ss->db = NULL;
        if (store__connect(ss->path, false, &ss->db) != 0) {
            snprintf(err, err_len, "cannot reopen database %s (see the log above)", ss->path);
            goto fail;
        }
    }
    if (store__checkpointer_start(ss) != 0) {
        snprintf(err, err_len, "cannot start the checkpointer of %s", ss->path);
        goto fail;
    }
    for (int i = 0; i < SQL_COUNT; i++) {
        if (sqlite3_prepare_v3(ss->db, store__sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &ss->stmt[i], NULL) != SQLITE_OK) {
            snprintf(err, err_len, "prepare failed: %s", sqlite3_errmsg(ss->db));
            goto fail;
        }
    }
    for (unsigned i = 0; i < readers; i++) {
        store_reader *r = &ss->readers[i];
        if (store__connect(ss->path, true, &r->db) != 0) {
            snprintf(err, err_len, "cannot open a read connection to %s", ss->path);
            goto fail;
        }
        ss->reader_count = i + 1;
        for (int k = 0; k < RSQL_COUNT; k++) {
            if (sqlite3_prepare_v3(r->db, store__rsql_text[k], -1, SQLITE_PREPARE_PERSISTENT,
                                   &r->stmt[k], NULL) != SQLITE_OK) {
                snprintf(err, err_len, "prepare failed: %s", sqlite3_errmsg(r->db));
                goto fail;
            }
        }
    }
    *out = &ss->base;
    return 0;
fail:
    store__sqlite_close(&ss->base);
    return -1;
}

static int store__sqlite_begin(store *s)
{
    return store__run(store__of(s), SQL_BEGIN);
}

/* FIX (found by tests/system/test_storage_faults.py, fsync failure then kill -9): a COMMIT
 * whose WAL sync failed has already written all its frames, commit frame included, after the
 * WAL's last valid frame. SQLite rolls it back in memory, but if the process dies before the
 * next commit overwrites them, WAL recovery at the next start finds a valid transaction and
 * brings back a change that was answered 503 "nothing was changed" (a hold; or a checkout,
 * whose payment would then be charged). So after a failed COMMIT the writer commits a tiny
 * harmless transaction (the ping row) at once: its frame lands where the failed one began and
 * breaks the checksum chain of the rest. If that commit's sync fails too, only the ping can
 * come back. Best effort: when nothing can be written, the failed commit wrote nothing either. */
static void store__scrub_failed_commit(store_sqlite *ss)
{
    if (!sqlite3_get_autocommit(ss->db) && store__run(ss, SQL_ROLLBACK) != 0) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (store__run(ss, SQL_BEGIN) != 0) return;
    sqlite3_bind_int64(ss->stmt[SQL_PING], 1, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    if (store__run(ss, SQL_PING) != 0 || store__run(ss, SQL_COMMIT) != 0) {
        if (!sqlite3_get_autocommit(ss->db)) store__run(ss, SQL_ROLLBACK);
        return;
    }
    log_info("store: the failed commit's WAL frames were overwritten by a ping commit");
}

static int store__sqlite_commit(store *s)
{
    store_sqlite *ss = store__of(s);
    if (store__run(ss, SQL_COMMIT) == 0) return 0;
    store__scrub_failed_commit(ss);
    return -1;
}

static void store__sqlite_rollback(store *s)
{
    store_sqlite *ss = store__of(s);
    if (sqlite3_get_autocommit(ss->db)) return; /* SQLite already rolled back */
    store__run(ss, SQL_ROLLBACK);
}

static int store__sqlite_savepoint(store *s)
{
    return store__run(store__of(s), SQL_SAVEPOINT);
}

static int store__sqlite_savepoint_release(store *s)
{
    return store__run(store__of(s), SQL_RELEASE);
}

static int store__sqlite_savepoint_rollback(store *s)
{
    store_sqlite *ss = store__of(s);
    if (store__run(ss, SQL_ROLLBACK_TO) != 0) return -1;
    return store__run(ss, SQL_RELEASE);
}

/* JSON array of the section's row labels, as stored in sections.rows. */
static char *store__rows_json(const section_spec *sec)
{
    buf b;
    buf_init(&b, (size_t)sec->row_count * (TIX_ROW_LABEL_LEN_MAX + 4) + 16);
    buf_append_char(&b, '[');
    for (uint32_t r = 0; r < sec->row_count; r++) {
        if (r) buf_append_char(&b, ',');
        buf_append_json_str(&b, sec->rows[r]);
    }
    buf_append_char(&b, ']');
    if (b.failed) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

static int store__sqlite_tx_event_insert(store *s, const event_spec *spec, bool *exists)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_EVENT_INSERT];
    store__bind_text(st, 1, spec->id);
    store__bind_text(st, 2, spec->name);
    store__bind_text(st, 3, spec->venue);
    sqlite3_bind_int64(st, 4, spec->starts_at_ms);
    sqlite3_bind_int(st, 5, spec->hold_ttl_s);
    sqlite3_bind_int(st, 6, spec->max_seats_per_hold);
    sqlite3_bind_int64(st, 7, spec->created_at_ms);
    if (store__run(ss, SQL_EVENT_INSERT) != 0) return -1;
    *exists = sqlite3_changes(ss->db) == 0;
    if (*exists) return 0;
    for (uint32_t i = 0; i < spec->section_count; i++) {
        const section_spec *sec = &spec->sections[i];
        char *rows = store__rows_json(sec);
        if (!rows) return log_error("store: out of memory"), -1;
        st = ss->stmt[SQL_SECTION_INSERT];
        store__bind_text(st, 1, spec->id);
        sqlite3_bind_int(st, 2, (int)i);
        store__bind_text(st, 3, sec->name);
        sqlite3_bind_int64(st, 4, sec->price_cents);
        sqlite3_bind_int(st, 5, (int)sec->seats_per_row);
        store__bind_text(st, 6, rows);
        int rc = store__run(ss, SQL_SECTION_INSERT);
        free(rows);
        if (rc != 0) return -1;
        st = ss->stmt[SQL_SEAT_INSERT];
        for (uint32_t r = 0; r < sec->row_count; r++) {
            for (uint32_t n = 1; n <= sec->seats_per_row; n++) {
                char seat_id[TIX_SEAT_ID_LEN_MAX];
                snprintf(seat_id, sizeof(seat_id), "%s%u", sec->rows[r], n);
                store__bind_text(st, 1, spec->id);
                store__bind_text(st, 2, seat_id);
                sqlite3_bind_int(st, 3, (int)i);
                store__bind_text(st, 4, sec->rows[r]);
                sqlite3_bind_int(st, 5, (int)n);
                if (store__run(ss, SQL_SEAT_INSERT) != 0) return -1;
            }
        }
    }
    return 0;
}

/* Encode seat ids as a JSON array into b (capped). Returns 0 or -1. */
static int store__seat_ids_encode(char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n, buf *b)
{
    buf_init(b, (size_t)TIX_HOLD_SEATS_MAX * (TIX_SEAT_ID_LEN_MAX + 4) + 8);
    buf_append_char(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_append_char(b, ',');
        buf_append_json_str(b, ids[i]);
    }
    buf_append_char(b, ']');
    if (!b->failed) return 0;
    buf_free(b);
    return log_error("store: out of memory"), -1;
}

/* Decode a JSON array of seat ids. Returns 0 or -1 when malformed. */
static int store__seat_ids_decode(const char *json, char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t *n)
{
    cJSON *array = cJSON_Parse(json ? json : "");
    int rc = cJSON_IsArray(array) ? 0 : -1;
    const cJSON *item;
    *n = 0;
    cJSON_ArrayForEach(item, array)
    {
        if (!cJSON_IsString(item) || *n == TIX_HOLD_SEATS_MAX) {
            rc = -1;
            break;
        }
        snprintf(ids[(*n)++], TIX_SEAT_ID_LEN_MAX, "%s", item->valuestring);
    }
    cJSON_Delete(array);
    return rc;
}

static int store__sqlite_tx_hold_insert(store *s, hold_record *hold)
{
    store_sqlite *ss = store__of(s);
    buf ids;
    if (store__seat_ids_encode(hold->seat_ids, hold->seat_count, &ids) != 0) return -1;
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_INSERT];
    store__bind_text(st, 1, hold->id);
    store__bind_text(st, 2, hold->event_id);
    store__bind_text(st, 3, hold->user_id);
    store__bind_text(st, 4, ids.data);
    sqlite3_bind_int64(st, 5, hold->created_at_ms);
    sqlite3_bind_int64(st, 6, hold->expires_at_ms);
    int rc = store__run(ss, SQL_HOLD_INSERT);
    buf_free(&ids);
    if (rc != 0) return -1;
    hold->seq = sqlite3_last_insert_rowid(ss->db);
    return 0;
}

static void store__copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", text ? text : "");
}

/* Decode the row of a hold query (columns as in SQL_HOLD_BY_ID). Returns 0 or -1. */
static int store__hold_decode(sqlite3_stmt *st, void *record)
{
    hold_record *out = record;
    memset(out, 0, sizeof(*out));
    out->seq = sqlite3_column_int64(st, 0);
    store__copy_text(out->id, sizeof(out->id), st, 1);
    store__copy_text(out->event_id, sizeof(out->event_id), st, 2);
    store__copy_text(out->user_id, sizeof(out->user_id), st, 3);
    if (model_hold_status_parse((const char *)sqlite3_column_text(st, 4), &out->status) != 0)
        return log_error("store: hold %s has an unknown status", out->id), -1;
    out->created_at_ms = sqlite3_column_int64(st, 6);
    out->expires_at_ms = sqlite3_column_int64(st, 7);
    out->ended_at_ms = sqlite3_column_int64(st, 8);
    if (store__seat_ids_decode((const char *)sqlite3_column_text(st, 5), out->seat_ids,
                               &out->seat_count) != 0)
        return log_error("store: hold %s has malformed seat_ids", out->id), -1;
    return 0;
}

typedef int (*store__decode_fn)(sqlite3_stmt *st, void *out);

/* Step a query for one record once and decode its row with `decode` if there is one. */
static int store__fetch_one(sqlite3 *db, sqlite3_stmt *st, store__decode_fn decode, void *out,
                            bool *found, const char *what)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    int result = 0;
    if (rc == SQLITE_ROW)
        result = decode(st, out);
    else if (rc != SQLITE_DONE)
        result = store__fail(db, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

/* Bind a lookup by id (when not NULL) or by seq to parameter 1. */
static void store__bind_id_or_seq(sqlite3_stmt *st, const char *id, int64_t seq)
{
    if (id)
        store__bind_text(st, 1, id);
    else
        sqlite3_bind_int64(st, 1, seq);
}

static int store__hold_fetch(sqlite3 *db, sqlite3_stmt *st, hold_record *out, bool *found)
{
    return store__fetch_one(db, st, store__hold_decode, out, found, "read hold");
}

static int store__sqlite_tx_hold_get(store *s, const char *id, int64_t seq, hold_record *out,
                                     bool *found)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[id ? SQL_HOLD_BY_ID : SQL_HOLD_BY_SEQ];
    store__bind_id_or_seq(st, id, seq);
    return store__hold_fetch(ss->db, st, out, found);
}

static int store__sqlite_tx_hold_end(store *s, int64_t seq, hold_status status, int64_t now_ms,
                                     bool *changed)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_END];
    store__bind_text(st, 1, model_hold_status_name(status));
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, seq);
    if (store__run(ss, SQL_HOLD_END) != 0) return -1;
    *changed = sqlite3_changes(ss->db) == 1;
    return 0;
}

static int store__sqlite_tx_seat_take(store *s, const char *event_id, const char *seat_id,
                                      int64_t hold_seq, bool *taken)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_SEAT_TAKE];
    sqlite3_bind_int64(st, 1, hold_seq);
    store__bind_text(st, 2, event_id);
    store__bind_text(st, 3, seat_id);
    if (store__run(ss, SQL_SEAT_TAKE) != 0) return -1;
    int changes = sqlite3_changes(ss->db);
    assert(changes == 0 || changes == 1); /* (event_id, seat_id) is the primary key */
    *taken = changes == 1;
    return 0;
}

static int store__sqlite_tx_seat_holder(store *s, const char *event_id, const char *seat_id,
                                        int64_t *hold_seq)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_SEAT_HOLDER];
    store__bind_text(st, 1, event_id);
    store__bind_text(st, 2, seat_id);
    int rc = sqlite3_step(st);
    *hold_seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store__fail(ss->db, "read seat holder");
    return 0;
}

static int store__sqlite_tx_seats_free(store *s, int64_t hold_seq)
{
    store_sqlite *ss = store__of(s);
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_FREE], 1, hold_seq);
    return store__run(ss, SQL_SEATS_FREE);
}

static int store__sqlite_tx_holds_due(store *s, int64_t now_ms, int64_t *seqs, uint32_t max,
                                      uint32_t *n)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_HOLDS_DUE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, max);
    int rc;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
        seqs[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store__fail(ss->db, "read due holds");
    return 0;
}

/* Does any subscriber pattern match event type `type`? Cached per type. */
static int store__routed(store_sqlite *ss, const char *type, bool *routed)
{
    for (uint32_t i = 0; i < ss->route_count; i++) {
        if (strcmp(ss->routes[i].type, type) == 0) {
            *routed = ss->routes[i].routed;
            return 0;
        }
    }
    sqlite3_stmt *st = ss->stmt[SQL_ROUTED];
    store__bind_text(st, 1, type);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store__fail(ss->db, "route event");
    *routed = rc == SQLITE_ROW;
    if (ss->route_count < STORE_ROUTES_MAX && strlen(type) <= TIX_EVENT_TYPE_LEN_MAX) {
        store_route *r = &ss->routes[ss->route_count++];
        snprintf(r->type, sizeof(r->type), "%s", type);
        r->routed = *routed;
    }
    return 0;
}

static int store__sqlite_tx_outbox_append(store *s, const char *type, const char *event_id,
                                          const char *aggregate_id, int64_t time_ms,
                                          const char *data_json, bool *delivered)
{
    store_sqlite *ss = store__of(s);
    char id[IDS_HEX_LEN + 1];
    ids_sortable_hex(id, time_ms);
    sqlite3_stmt *st = ss->stmt[SQL_OUTBOX_INSERT];
    store__bind_text(st, 1, id);
    store__bind_text(st, 2, type);
    store__bind_text(st, 3, event_id);
    store__bind_text(st, 4, aggregate_id);
    sqlite3_bind_int64(st, 5, time_ms);
    store__bind_text(st, 6, data_json);
    if (store__run(ss, SQL_OUTBOX_INSERT) != 0) return -1;
    *delivered = false;
    bool routed = true;
    if (store__routed(ss, type, &routed) != 0) return -1;
    if (!routed) return 0;
    st = ss->stmt[SQL_OUTBOX_FANOUT];
    sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(ss->db));
    store__bind_text(st, 2, aggregate_id ? aggregate_id : "");
    sqlite3_bind_int64(st, 3, time_ms);
    store__bind_text(st, 4, type);
    if (store__run(ss, SQL_OUTBOX_FANOUT) != 0) return -1;
    *delivered = sqlite3_changes(ss->db) > 0;
    return 0;
}

static int store__sqlite_tx_ping(store *s, int64_t now_ms)
{
    store_sqlite *ss = store__of(s);
    sqlite3_bind_int64(ss->stmt[SQL_PING], 1, now_ms);
    return store__run(ss, SQL_PING);
}

static store_reader *store__reader_acquire(store_sqlite *ss)
{
    pthread_mutex_lock(&ss->readers_mutex);
    for (;;) {
        for (unsigned i = 0; i < ss->reader_count; i++) {
            if (!ss->readers[i].busy) {
                ss->readers[i].busy = true;
                pthread_mutex_unlock(&ss->readers_mutex);
                return &ss->readers[i];
            }
        }
        pthread_cond_wait(&ss->readers_cond, &ss->readers_mutex);
    }
}

static void store__reader_release(store_sqlite *ss, store_reader *r)
{
    pthread_mutex_lock(&ss->readers_mutex);
    r->busy = false;
    pthread_cond_signal(&ss->readers_cond);
    pthread_mutex_unlock(&ss->readers_mutex);
}

static int store__sqlite_hold_get(store *s, const char *id, hold_record *out, bool *found)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    store__bind_text(r->stmt[RSQL_HOLD_BY_ID], 1, id);
    int rc = store__hold_fetch(r->db, r->stmt[RSQL_HOLD_BY_ID], out, found);
    store__reader_release(ss, r);
    return rc;
}

/* Decode the sections of one event into spec. Returns 0 or -1. */
static int store__sections_load(store_sqlite *ss, event_spec *spec)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT name, price_cents, seats_per_row, rows FROM sections"
                      " WHERE event_id = ? ORDER BY idx";
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(ss->db, "load sections");
    store__bind_text(st, 1, spec->id);
    int rc, result = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && result == 0) {
        if (spec->section_count == TIX_SECTIONS_MAX) {
            result = -1;
            break;
        }
        section_spec *grown = realloc(spec->sections, (spec->section_count + 1) * sizeof(*grown));
        if (!grown) {
            result = -1;
            break;
        }
        spec->sections = grown;
        section_spec *sec = &spec->sections[spec->section_count++];
        memset(sec, 0, sizeof(*sec));
        sec->name = strdup((const char *)sqlite3_column_text(st, 0));
        sec->price_cents = sqlite3_column_int64(st, 1);
        sec->seats_per_row = (uint32_t)sqlite3_column_int(st, 2);
        cJSON *rows = cJSON_Parse((const char *)sqlite3_column_text(st, 3));
        int row_count = cJSON_GetArraySize(rows);
        sec->rows = calloc(row_count > 0 ? (size_t)row_count : 1, sizeof(char *));
        if (!sec->name || !sec->rows || !cJSON_IsArray(rows)) result = -1;
        const cJSON *item;
        cJSON_ArrayForEach(item, rows)
        {
            if (result != 0) break;
            if (!cJSON_IsString(item) || !(sec->rows[sec->row_count] = strdup(item->valuestring)))
                result = -1;
            else
                sec->row_count++;
        }
        cJSON_Delete(rows);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) result = store__fail(ss->db, "load sections");
    sqlite3_finalize(st);
    if (result != 0) log_error("store: event %s has malformed sections", spec->id);
    return result;
}

static int store__sqlite_events_load(store *s, store_event_cb cb, void *ctx)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st;
    const char *sql = "SELECT id, name, venue, starts_at_ms, hold_ttl_s, max_seats_per_hold,"
                      " created_at_ms FROM events ORDER BY seq";
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(ss->db, "load events");
    int rc, result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        event_spec spec = {0};
        store__copy_text(spec.id, sizeof(spec.id), st, 0);
        spec.name = strdup((const char *)sqlite3_column_text(st, 1));
        spec.venue = strdup((const char *)sqlite3_column_text(st, 2));
        spec.starts_at_ms = sqlite3_column_int64(st, 3);
        spec.hold_ttl_s = sqlite3_column_int(st, 4);
        spec.max_seats_per_hold = sqlite3_column_int(st, 5);
        spec.created_at_ms = sqlite3_column_int64(st, 6);
        if (!spec.name || !spec.venue || store__sections_load(ss, &spec) != 0 ||
            cb(ctx, &spec) != 0)
            result = -1;
        model_event_spec_free(&spec);
    }
    if (result == 0 && rc != SQLITE_DONE) result = store__fail(ss->db, "load events");
    sqlite3_finalize(st);
    return result;
}

static int store__sqlite_seats_load(store *s, const char *event_id, store_seat_cb cb, void *ctx)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st;
    const char *sql = "SELECT s.seat_id, s.status, s.hold_seq, h.expires_at_ms FROM seats s"
                      " JOIN holds h ON h.seq = s.hold_seq"
                      " WHERE s.event_id = ? AND s.status <> 'available'";
    if (sqlite3_prepare_v2(ss->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store__fail(ss->db, "load seats");
    store__bind_text(st, 1, event_id);
    int rc, result = 0;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        seat_status status;
        if (model_seat_status_parse((const char *)sqlite3_column_text(st, 1), &status) != 0 ||
            cb(ctx, (const char *)sqlite3_column_text(st, 0), status, sqlite3_column_int64(st, 2),
               sqlite3_column_int64(st, 3)) != 0)
            result = -1;
    }
    if (result == 0 && rc != SQLITE_DONE) result = store__fail(ss->db, "load seats");
    sqlite3_finalize(st);
    return result;
}

static int store__sqlite_tx_deliveries_exhaust(store *s, int64_t now_ms, uint32_t max_attempts)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERIES_EXHAUST];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, max_attempts);
    return store__run(ss, SQL_DELIVERIES_EXHAUST);
}

static int store__sqlite_tx_user_seats(store *s, const char *event_id, const char *user_id,
                                       int64_t now_ms, uint32_t *seats)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_USER_SEATS];
    store__bind_text(st, 1, event_id);
    store__bind_text(st, 2, user_id);
    sqlite3_bind_int64(st, 3, now_ms);
    int rc = sqlite3_step(st);
    *seats = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW) return store__fail(ss->db, "count a buyer's seats");
    return 0;
}

static int store__sqlite_tx_hold_delete(store *s, int64_t seq)
{
    store_sqlite *ss = store__of(s);
    sqlite3_bind_int64(ss->stmt[SQL_HOLD_DELETE], 1, seq);
    return store__run(ss, SQL_HOLD_DELETE);
}

static int store__sqlite_tx_hold_checkout(store *s, int64_t seq, int64_t expires_at_ms,
                                          bool *changed)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_HOLD_CHECKOUT];
    sqlite3_bind_int64(st, 1, expires_at_ms);
    sqlite3_bind_int64(st, 2, seq);
    if (store__run(ss, SQL_HOLD_CHECKOUT) != 0) return -1;
    *changed = sqlite3_changes(ss->db) == 1;
    return 0;
}

static int store__sqlite_tx_seats_sell(store *s, int64_t hold_seq)
{
    store_sqlite *ss = store__of(s);
    sqlite3_bind_int64(ss->stmt[SQL_SEATS_SELL], 1, hold_seq);
    return store__run(ss, SQL_SEATS_SELL);
}

static int store__sqlite_tx_booking_insert(store *s, booking_record *b)
{
    store_sqlite *ss = store__of(s);
    buf ids;
    if (store__seat_ids_encode(b->seat_ids, b->seat_count, &ids) != 0) return -1;
    sqlite3_stmt *st = ss->stmt[SQL_BOOKING_INSERT];
    store__bind_text(st, 1, b->id);
    sqlite3_bind_int64(st, 2, b->hold_seq);
    store__bind_text(st, 3, b->hold_id);
    store__bind_text(st, 4, b->event_id);
    store__bind_text(st, 5, b->user_id);
    store__bind_text(st, 6, b->email);
    sqlite3_bind_int64(st, 7, b->amount_cents);
    store__bind_text(st, 8, b->payment_token);
    sqlite3_bind_int64(st, 9, b->created_at_ms);
    sqlite3_bind_int64(st, 10, b->updated_at_ms);
    sqlite3_bind_int64(st, 11, b->checkout_deadline_ms);
    store__bind_text(st, 12, ids.data);
    int rc = store__run(ss, SQL_BOOKING_INSERT);
    buf_free(&ids);
    if (rc != 0) return -1;
    b->seq = sqlite3_last_insert_rowid(ss->db);
    return 0;
}

/* Decode a row of STORE_BOOKING_COLUMNS. */
static int store__booking_decode(sqlite3_stmt *st, void *record)
{
    booking_record *out = record;
    memset(out, 0, sizeof(*out));
    out->seq = sqlite3_column_int64(st, 0);
    store__copy_text(out->id, sizeof(out->id), st, 1);
    out->hold_seq = sqlite3_column_int64(st, 2);
    store__copy_text(out->hold_id, sizeof(out->hold_id), st, 3);
    store__copy_text(out->event_id, sizeof(out->event_id), st, 4);
    store__copy_text(out->user_id, sizeof(out->user_id), st, 5);
    store__copy_text(out->email, sizeof(out->email), st, 6);
    if (model_booking_status_parse((const char *)sqlite3_column_text(st, 7), &out->status) != 0)
        return log_error("store: booking %s has an unknown status", out->id), -1;
    out->amount_cents = sqlite3_column_int64(st, 8);
    store__copy_text(out->payment_token, sizeof(out->payment_token), st, 9);
    store__copy_text(out->payment_id, sizeof(out->payment_id), st, 10);
    store__copy_text(out->refund_id, sizeof(out->refund_id), st, 11);
    out->created_at_ms = sqlite3_column_int64(st, 12);
    out->updated_at_ms = sqlite3_column_int64(st, 13);
    out->checkout_deadline_ms = sqlite3_column_int64(st, 14);
    if (store__seat_ids_decode((const char *)sqlite3_column_text(st, 15), out->seat_ids,
                               &out->seat_count) != 0)
        return log_error("store: booking %s has malformed seat_ids", out->id), -1;
    return 0;
}

static int store__booking_fetch(sqlite3 *db, sqlite3_stmt *st, booking_record *out, bool *found)
{
    return store__fetch_one(db, st, store__booking_decode, out, found, "read booking");
}

static int store__sqlite_tx_booking_get(store *s, const char *id, int64_t seq, booking_record *out,
                                        bool *found)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[id ? SQL_BOOKING_BY_ID : SQL_BOOKING_BY_SEQ];
    store__bind_id_or_seq(st, id, seq);
    return store__booking_fetch(ss->db, st, out, found);
}

static int store__sqlite_tx_booking_update(store *s, int64_t seq, booking_status from,
                                           booking_status to, const char *payment_id,
                                           const char *refund_id, int64_t now_ms, bool *changed)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_BOOKING_UPDATE];
    store__bind_text(st, 1, model_booking_status_name(to));
    store__bind_text(st, 2, payment_id);
    store__bind_text(st, 3, refund_id);
    sqlite3_bind_int64(st, 4, now_ms);
    sqlite3_bind_int64(st, 5, seq);
    store__bind_text(st, 6, model_booking_status_name(from));
    if (store__run(ss, SQL_BOOKING_UPDATE) != 0) return -1;
    *changed = sqlite3_changes(ss->db) == 1;
    return 0;
}

static const char *const store__kind_names[] = {"payment", "notification", "webhook"};

static int store__sqlite_tx_subscriber_insert(store *s, const subscriber_record *sub)
{
    store_sqlite *ss = store__of(s);
    ss->route_count = 0; /* routes may change: ask again */
    sqlite3_stmt *st = ss->stmt[SQL_SUBSCRIBER_INSERT];
    store__bind_text(st, 1, sub->id);
    store__bind_text(st, 2, store__kind_names[sub->kind]);
    store__bind_text(st, 3, sub->url);
    store__bind_text(st, 4, sub->secret);
    sqlite3_bind_int64(st, 5, sub->created_at_ms);
    if (store__run(ss, SQL_SUBSCRIBER_INSERT) != 0) return -1;
    for (uint32_t i = 0; i < sub->pattern_count; i++) {
        st = ss->stmt[SQL_PATTERN_INSERT];
        store__bind_text(st, 1, sub->id);
        store__bind_text(st, 2, sub->patterns[i]);
        if (store__run(ss, SQL_PATTERN_INSERT) != 0) return -1;
    }
    return 0;
}

/* Decode a row of STORE_DELIVERY_SELECT. */
static int store__delivery_decode(sqlite3_stmt *st, delivery_record *out)
{
    memset(out, 0, sizeof(*out));
    out->seq = sqlite3_column_int64(st, 0);
    store__copy_text(out->subscriber_id, sizeof(out->subscriber_id), st, 1);
    const char *status = (const char *)sqlite3_column_text(st, 2);
    out->status = status && strcmp(status, "dead") == 0        ? DELIVERY_DEAD
                  : status && strcmp(status, "delivered") == 0 ? DELIVERY_DELIVERED
                                                               : DELIVERY_PENDING;
    out->attempts = sqlite3_column_int(st, 3);
    out->next_attempt_ms = sqlite3_column_int64(st, 4);
    out->updated_at_ms = sqlite3_column_int64(st, 5);
    store__copy_text(out->last_error, sizeof(out->last_error), st, 6);
    outbox_record *e = &out->event;
    e->seq = sqlite3_column_int64(st, 7);
    store__copy_text(e->id, sizeof(e->id), st, 8);
    store__copy_text(e->type, sizeof(e->type), st, 9);
    store__copy_text(e->event_id, sizeof(e->event_id), st, 10);
    store__copy_text(e->aggregate_id, sizeof(e->aggregate_id), st, 11);
    e->time_ms = sqlite3_column_int64(st, 12);
    store__copy_text(e->data, sizeof(e->data), st, 13);
    return 0;
}

static int store__sqlite_tx_deliveries_claim(store *s, int64_t now_ms, const char *owner,
                                             int64_t lease_until_ms, delivery_record *out,
                                             uint32_t max, uint32_t *n)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERIES_CLAIM];
    store__bind_text(st, 1, owner);
    sqlite3_bind_int64(st, 2, lease_until_ms);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, max);
    int rc;
    *n = 0;
    /* RETURNING rows come while the statement runs: collect every one before reading more */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (*n < max) out[(*n)++].seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return store__fail(ss->db, "claim deliveries");
    for (uint32_t i = 0; i < *n; i++) {
        int64_t seq = out[i].seq;
        st = ss->stmt[SQL_DELIVERY_BY_SEQ];
        sqlite3_bind_int64(st, 1, seq);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) store__delivery_decode(st, &out[i]);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_ROW) return store__fail(ss->db, "read claimed delivery");
    }
    return 0;
}

static int store__sqlite_tx_delivery_finish(store *s, int64_t seq, delivery_status status,
                                            const char *error, int64_t now_ms, bool *changed)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_FINISH];
    store__bind_text(st, 1, status == DELIVERY_DEAD ? "dead" : "delivered");
    store__bind_text(st, 2, error ? error : "");
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, seq);
    if (store__run(ss, SQL_DELIVERY_FINISH) != 0) return -1;
    *changed = sqlite3_changes(ss->db) == 1;
    return 0;
}

static int store__sqlite_tx_delivery_retry(store *s, int64_t seq, int64_t next_attempt_ms,
                                           const char *error, int64_t now_ms)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_RETRY];
    sqlite3_bind_int64(st, 1, next_attempt_ms);
    store__bind_text(st, 2, error ? error : "");
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, seq);
    return store__run(ss, SQL_DELIVERY_RETRY);
}

static int store__sqlite_tx_delivery_redrive(store *s, int64_t seq, int64_t now_ms, bool *changed)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_REDRIVE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, seq);
    if (store__run(ss, SQL_DELIVERY_REDRIVE) != 0) return -1;
    *changed = sqlite3_changes(ss->db) == 1;
    return 0;
}

static int store__sqlite_tx_idempotency_put(store *s, const char *key, const char *request_hash,
                                            unsigned status, const char *body, size_t body_len,
                                            int64_t now_ms)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[SQL_IDEMPOTENCY_PUT];
    store__bind_text(st, 1, key);
    store__bind_text(st, 2, request_hash);
    sqlite3_bind_int(st, 3, (int)status);
    sqlite3_bind_blob64(st, 4, body ? body : "", body_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    return store__run(ss, SQL_IDEMPOTENCY_PUT);
}

static int store__sqlite_tx_idempotency_purge(store *s, int64_t before_ms)
{
    store_sqlite *ss = store__of(s);
    sqlite3_bind_int64(ss->stmt[SQL_IDEMPOTENCY_PURGE], 1, before_ms);
    return store__run(ss, SQL_IDEMPOTENCY_PURGE);
}

static int store__sqlite_booking_get(store *s, const char *id, booking_record *out, bool *found)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_BOOKING_BY_ID];
    store__bind_text(st, 1, id);
    int rc = store__booking_fetch(r->db, st, out, found);
    store__reader_release(ss, r);
    return rc;
}

static int store__sqlite_bookings_by_user(store *s, const char *user_id, uint32_t max,
                                          store_booking_cb cb, void *ctx)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_BOOKINGS_BY_USER];
    store__bind_text(st, 1, user_id);
    sqlite3_bind_int64(st, 2, max);
    booking_record *b = malloc(sizeof(*b));
    int rc, result = b ? 0 : -1;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (store__booking_decode(st, b) != 0 || cb(ctx, b) != 0) result = -1;
    if (result == 0 && rc != SQLITE_DONE) result = store__fail(r->db, "list bookings");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(b);
    store__reader_release(ss, r);
    return result;
}

static int store__sqlite_subscribers_list(store *s, store_subscriber_cb cb, void *ctx)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_SUBSCRIBERS];
    subscriber_record *sub = malloc(sizeof(*sub));
    int rc, result = sub ? 0 : -1;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(sub, 0, sizeof(*sub));
        store__copy_text(sub->id, sizeof(sub->id), st, 0);
        const char *kind = (const char *)sqlite3_column_text(st, 1);
        for (int k = 0; k < 3; k++)
            if (kind && strcmp(kind, store__kind_names[k]) == 0) sub->kind = (subscriber_kind)k;
        store__copy_text(sub->url, sizeof(sub->url), st, 2);
        store__copy_text(sub->secret, sizeof(sub->secret), st, 3);
        sub->created_at_ms = sqlite3_column_int64(st, 4);
        char patterns[TIX_PATTERNS_MAX * (TIX_PATTERN_LEN_MAX + 1) + 1];
        store__copy_text(patterns, sizeof(patterns), st, 5);
        for (char *save = NULL, *p = strtok_r(patterns, " ", &save);
             p && sub->pattern_count < TIX_PATTERNS_MAX; p = strtok_r(NULL, " ", &save))
            snprintf(sub->patterns[sub->pattern_count++], TIX_PATTERN_LEN_MAX + 1, "%s", p);
        if (cb(ctx, sub) != 0) result = -1;
    }
    if (result == 0 && rc != SQLITE_DONE) result = store__fail(r->db, "list subscribers");
    sqlite3_reset(st);
    free(sub);
    store__reader_release(ss, r);
    return result;
}

static int store__sqlite_dead_letters_list(store *s, uint32_t max, store_delivery_cb cb, void *ctx)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_DEAD_LETTERS];
    sqlite3_bind_int64(st, 1, max);
    delivery_record *d = malloc(sizeof(*d));
    int rc, result = d ? 0 : -1;
    while (result == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        if (store__delivery_decode(st, d) != 0 || cb(ctx, d) != 0) result = -1;
    if (result == 0 && rc != SQLITE_DONE) result = store__fail(r->db, "list dead letters");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    free(d);
    store__reader_release(ss, r);
    return result;
}

static int store__sqlite_idempotency_get(store *s, const char *key, store_idempotency_cb cb,
                                         void *ctx, bool *found)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st = r->stmt[RSQL_IDEMPOTENCY];
    store__bind_text(st, 1, key);
    int rc = sqlite3_step(st), result = 0;
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW)
        result =
            cb(ctx, (const char *)sqlite3_column_text(st, 0), (unsigned)sqlite3_column_int(st, 1),
               sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
    else if (rc != SQLITE_DONE)
        result = store__fail(r->db, "read idempotency key");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    store__reader_release(ss, r);
    return result;
}

/* store_event_stats: admin traffic, so its three statements are prepared per call on a reader
 * (a scan of the event's live holds, through holds_by_user, and of its bookings). */
static int store__sqlite_event_stats(store *s, const char *event_id, int64_t now_ms,
                                     store_stats *out)
{
    static const char *const sql[] = {
        "SELECT 0, coalesce(sum(status = 'active' AND expires_at_ms > ?2), 0),"
        " coalesce(sum(status = 'checkout'), 0), 0 FROM holds"
        " WHERE event_id = ?1 AND status IN ('active','checkout')",
        "SELECT status, count(*), coalesce(sum(amount_cents), 0), 0 FROM bookings"
        " WHERE event_id = ?1 GROUP BY status",
        "SELECT updated_at_ms / 60000, count(*), sum(json_array_length(seat_ids)),"
        " sum(amount_cents) FROM bookings WHERE event_id = ?1 AND status = 'confirmed'"
        " AND updated_at_ms >= ?2 GROUP BY 1",
    };
    store_sqlite *ss = store__of(s);
    int64_t minute_now = now_ms / 60000, first_minute = minute_now - (STORE_STATS_MINUTES - 1);
    out->minute0_ms = first_minute * 60000;
    store_reader *r = store__reader_acquire(ss);
    int result = 0;
    for (int q = 0; q < 3 && result == 0; q++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(r->db, sql[q], -1, &st, NULL) != SQLITE_OK) {
            result = store__fail(r->db, "event stats");
            break;
        }
        store__bind_text(st, 1, event_id);
        sqlite3_bind_int64(st, 2, q == 0 ? now_ms : out->minute0_ms);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t c1 = sqlite3_column_int64(st, 1), c2 = sqlite3_column_int64(st, 2);
            booking_status status;
            if (q == 0) {
                out->holds_active = (uint32_t)c1;
                out->holds_checkout = (uint32_t)c2;
            } else if (q == 1 && model_booking_status_parse(
                                     (const char *)sqlite3_column_text(st, 0), &status) == 0) {
                out->bookings[status] = (uint32_t)c1;
                if (status == BOOKING_CONFIRMED) out->revenue_cents = c2;
            } else if (q == 2) {
                int64_t i = sqlite3_column_int64(st, 0) - first_minute;
                if (i < 0 || i >= STORE_STATS_MINUTES) continue; /* confirmed in the future */
                out->sales_bookings[i] = (uint32_t)c1;
                out->sales_seats[i] = (uint32_t)c2;
                out->sales_cents[i] = sqlite3_column_int64(st, 3);
            }
        }
        if (rc != SQLITE_DONE) result = store__fail(r->db, "event stats");
        sqlite3_finalize(st);
    }
    store__reader_release(ss, r);
    return result;
}

static int store__sqlite_dead_letters_count(store *s, uint64_t *count)
{
    store_sqlite *ss = store__of(s);
    store_reader *r = store__reader_acquire(ss);
    sqlite3_stmt *st;
    int result = 0;
    if (sqlite3_prepare_v2(r->db, "SELECT count(*) FROM deliveries WHERE status = 'dead'", -1, &st,
                           NULL) != SQLITE_OK) {
        result = store__fail(r->db, "count dead letters");
    } else {
        if (sqlite3_step(st) == SQLITE_ROW)
            *count = (uint64_t)sqlite3_column_int64(st, 0);
        else
            result = store__fail(r->db, "count dead letters");
        sqlite3_finalize(st);
    }
    store__reader_release(ss, r);
    return result;
}

static const store_ops store__sqlite_ops = {
    .close = store__sqlite_close,
    .begin = store__sqlite_begin,
    .commit = store__sqlite_commit,
    .rollback = store__sqlite_rollback,
    .savepoint = store__sqlite_savepoint,
    .savepoint_release = store__sqlite_savepoint_release,
    .savepoint_rollback = store__sqlite_savepoint_rollback,
    .tx_event_insert = store__sqlite_tx_event_insert,
    .tx_hold_insert = store__sqlite_tx_hold_insert,
    .tx_hold_get = store__sqlite_tx_hold_get,
    .tx_hold_end = store__sqlite_tx_hold_end,
    .tx_seat_take = store__sqlite_tx_seat_take,
    .tx_seat_holder = store__sqlite_tx_seat_holder,
    .tx_seats_free = store__sqlite_tx_seats_free,
    .tx_holds_due = store__sqlite_tx_holds_due,
    .tx_outbox_append = store__sqlite_tx_outbox_append,
    .tx_ping = store__sqlite_tx_ping,
    .hold_get = store__sqlite_hold_get,
    .events_load = store__sqlite_events_load,
    .seats_load = store__sqlite_seats_load,
    .tx_hold_checkout = store__sqlite_tx_hold_checkout,
    .tx_hold_delete = store__sqlite_tx_hold_delete,
    .tx_user_seats = store__sqlite_tx_user_seats,
    .tx_deliveries_exhaust = store__sqlite_tx_deliveries_exhaust,
    .tx_seats_sell = store__sqlite_tx_seats_sell,
    .tx_booking_insert = store__sqlite_tx_booking_insert,
    .tx_booking_get = store__sqlite_tx_booking_get,
    .tx_booking_update = store__sqlite_tx_booking_update,
    .tx_subscriber_insert = store__sqlite_tx_subscriber_insert,
    .tx_deliveries_claim = store__sqlite_tx_deliveries_claim,
    .tx_delivery_finish = store__sqlite_tx_delivery_finish,
    .tx_delivery_retry = store__sqlite_tx_delivery_retry,
    .tx_delivery_redrive = store__sqlite_tx_delivery_redrive,
    .tx_idempotency_put = store__sqlite_tx_idempotency_put,
    .tx_idempotency_purge = store__sqlite_tx_idempotency_purge,
    .booking_get = store__sqlite_booking_get,
    .bookings_by_user = store__sqlite_bookings_by_user,
    .subscribers_list = store__sqlite_subscribers_list,
    .dead_letters_list = store__sqlite_dead_letters_list,
    .idempotency_get = store__sqlite_idempotency_get,
    .event_stats = store__sqlite_event_stats,
    .dead_letters_count = store__sqlite_dead_letters_count,
};
