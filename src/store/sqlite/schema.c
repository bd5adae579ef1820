/* schema: the tables of the embedded store and their migrations.
 *
 * The schema is versioned with PRAGMA user_version; sqlite_store__migrations[i] moves version i
 * to i + 1, each in its own transaction. A released version is never edited: a change is a new
 * migration. */
#include "store/sqlite/internal.h"

#include "util/log.h"

#include <stdio.h>
#include <string.h>

/* A migration: SQL to run, or a function for what SQL alone cannot do. */
typedef struct sqlite_store_migration {
    const char *sql;
    int (*run)(sqlite3 *db); /* returns 0 or -1 */
} sqlite_store_migration;

static int sqlite_store__rewrite_checks(sqlite3 *db);

int sqlite_store_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static const sqlite_store_migration sqlite_store__migrations[] = {
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
    {.run = sqlite_store__rewrite_checks},
    /* version 2 -> 3: the change feed (store/store.h). A change's seq is given by the writer, the
     * feed's head + 1 inside the write lock: dense and in commit order. The store's id (random,
     * made once) tells ETags of two stores apart; subscribers_version moves with every subscriber
     * added, so that every writer's cached routes are checked once per batch. */
    {.sql = "CREATE TABLE feed(seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,"
            "  kind TEXT NOT NULL, event_id TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '',"
            "  hold_seq INTEGER NOT NULL DEFAULT 0, expires_ms INTEGER NOT NULL DEFAULT 0,"
            "  seat_ids TEXT NOT NULL DEFAULT '[]');"
            "INSERT INTO meta(key, value) VALUES ('store_id', lower(hex(randomblob(16))))"
            "  ON CONFLICT(key) DO NOTHING;"
            "INSERT INTO meta(key, value) VALUES ('subscribers_version', '0')"
            "  ON CONFLICT(key) DO NOTHING;"
            "CREATE INDEX deliveries_leased ON deliveries(lease_owner) WHERE status = 'pending';"},
    /* version 3 -> 4: an event's bookings by status and time (GET /admin/events/{id}/stats:
     * its bookings by status and the last hour's sales), a range of this index instead of a
     * scan of every booking of every event. Kept up by checkouts and payment outcomes only. */
    {.sql = "CREATE INDEX bookings_by_event ON bookings(event_id, status, updated_at_ms);"},
};
enum {
    SQLITE_STORE_SCHEMA_VERSION =
        sizeof(sqlite_store__migrations) / sizeof(sqlite_store__migrations[0])
};

/* Migration 2's rewrites: in table `table`, the text `from` becomes `to` (equivalent). */
static const struct store_check_rewrite {
    const char *table, *from, *to;
} sqlite_store__check_rewrites[] = {
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

/* Run sql, a statement returning one integer, into *out. Returns 0 or -1. */
static int sqlite_store__query_int(sqlite3 *db, const char *sql, int64_t *out)
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
static int sqlite_store__rewrite_checks(sqlite3 *db)
{
    int64_t cookie;
    if (sqlite_store__query_int(db, "PRAGMA schema_version", &cookie) != 0) return -1;
    if (sqlite_store_exec(db, "PRAGMA writable_schema=ON") != 0) return -1;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE sqlite_schema SET sql = replace(sql, ?2, ?3)"
                                " WHERE type = 'table' AND name = ?1 AND instr(sql, ?2) > 0",
                                -1, &st, NULL);
    size_t n = sizeof(sqlite_store__check_rewrites) / sizeof(sqlite_store__check_rewrites[0]);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        const struct store_check_rewrite *r = &sqlite_store__check_rewrites[i];
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
    if (sqlite_store_exec(db, "PRAGMA writable_schema=OFF") != 0 || rc != SQLITE_OK ||
        sqlite_store_exec(db, bump) != 0)
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

int sqlite_store_migrate(sqlite3 *db, bool *migrated, char *err, size_t err_len)
{
    *migrated = false;
    int64_t version;
    if (sqlite_store__query_int(db, "PRAGMA user_version", &version) != 0) {
        snprintf(err, err_len, "cannot read the schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version < 0 || version > SQLITE_STORE_SCHEMA_VERSION) {
        snprintf(err, err_len, "database schema version %lld is newer than this tix (%d)",
                 (long long)version, SQLITE_STORE_SCHEMA_VERSION);
        return -1;
    }
    for (int v = (int)version; v < SQLITE_STORE_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
        if (sqlite_store_exec(db, "BEGIN IMMEDIATE") != 0) goto fail;
        const sqlite_store_migration *m = &sqlite_store__migrations[v];
        if ((m->sql && sqlite_store_exec(db, m->sql) != 0) || (m->run && m->run(db) != 0) ||
            sqlite_store_exec(db, bump) != 0 || sqlite_store_exec(db, "COMMIT") != 0) {
            sqlite_store_exec(db, "ROLLBACK");
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
