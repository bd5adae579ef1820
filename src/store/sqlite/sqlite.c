/* sqlite: the embedded store, one SQLite database in WAL mode: its connections, its batches and
 * its errors. The commands live in holds.c, bookings.c and bus.c; see internal.h for the map.
 *
 * Durability: journal_mode=WAL with synchronous=FULL, so a COMMIT returns only after the WAL is
 * synced; the writer acknowledges a request only after its COMMIT returned. Crash safety is
 * SQLite's: a transaction is in the database whole or not at all.
 *
 * Several writers: every batch starts with BEGIN IMMEDIATE, which takes the database's write
 * lock (waiting up to busy_timeout_ms for another process that holds it: a second tix on the
 * same data directory, or `tix seed`), and reads the feed's head inside that lock: feed seqs are
 * dense and in commit order whatever the number of processes.
 *
 * Connections: one writer connection, used by the commit writer thread only; a pool of
 * read-only connections for reads from other threads, which in WAL mode never block on the
 * writer and see only committed transactions; a checkpointer connection and thread. */
#include "store/sqlite/internal.h"

#include "store/vfs_shim.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    SQLITE_STORE_CHECKPOINT_FRAMES = 10000, /* checkpoint once the WAL holds this many frames
                                               (~40 MB): pages rewritten meanwhile are copied
                                               once */
    SQLITE_STORE_CHECKPOINT_INTERVAL_MS = 1000,
    SQLITE_STORE_CHECKPOINT_NICE = 10, /* the checkpointer's nice: background work, it yields
                                          the core to the threads answering requests (never
                                          starved: about a tenth of a core it shares with one
                                          busy thread) */
};

const char *const sqlite_sql_text[SQL_COUNT] = {
    [SQL_BEGIN] = "BEGIN IMMEDIATE",
    [SQL_COMMIT] = "COMMIT",
    [SQL_ROLLBACK] = "ROLLBACK",
    [SQL_SAVEPOINT] = "SAVEPOINT cmd",
    [SQL_RELEASE] = "RELEASE cmd",
    [SQL_ROLLBACK_TO] = "ROLLBACK TO cmd",
    [SQL_FEED_HEAD] = "SELECT COALESCE(max(seq), 0) FROM feed",
    /* no seq: SQLite gives max + 1, appending at the end of the table without a lookup */
    [SQL_FEED_INSERT] = "INSERT INTO feed(time_ms, kind, event_id, ref, hold_seq, expires_ms,"
                        " seat_ids) VALUES (?,?,?,?,?,?,?)",
    [SQL_FEED_TRIM] = "DELETE FROM feed WHERE seq IN (SELECT seq FROM feed WHERE seq <= ?1"
                      " ORDER BY seq LIMIT ?2)",
    [SQL_SUBSCRIBERS_VERSION] = "SELECT CAST(value AS INTEGER) FROM meta"
                                " WHERE key = 'subscribers_version'",
    [SQL_SUBSCRIBERS_VERSION_BUMP] = "UPDATE meta SET value = CAST(value AS INTEGER) + 1"
                                     " WHERE key = 'subscribers_version'",
    [SQL_EVENT_RULES] = "SELECT hold_ttl_s, max_seats_per_hold FROM events WHERE id = ?",
    [SQL_EVENT_COUNT] = "SELECT count(*) FROM events",
    [SQL_EVENT_INSERT] = "INSERT INTO events(id, name, venue, starts_at_ms, hold_ttl_s,"
                         " max_seats_per_hold, created_at_ms) VALUES (?,?,?,?,?,?,?)"
                         " ON CONFLICT(id) DO NOTHING",
    [SQL_SECTION_INSERT] = "INSERT INTO sections(event_id, idx, name, price_cents,"
                           " seats_per_row, rows) VALUES (?,?,?,?,?,?)",
    [SQL_SEAT_INSERT] = "INSERT INTO seats(event_id, seat_id, section_idx, row_label, number)"
                        " VALUES (?,?,?,?,?)",
    [SQL_HOLD_INSERT] = "INSERT INTO holds(id, event_id, user_id, status, seat_ids,"
                        " created_at_ms, expires_at_ms) VALUES (?,?,?,'active',?,?,?)",
    [SQL_HOLD_BY_ID] = "SELECT " SQLITE_HOLD_COLUMNS " FROM holds WHERE id = ?",
    [SQL_HOLD_BY_SEQ] = "SELECT " SQLITE_HOLD_COLUMNS " FROM holds WHERE seq = ?",
    [SQL_HOLD_END] = "UPDATE holds SET status = ?, ended_at_ms = ?"
                     " WHERE seq = ? AND status IN ('active', 'checkout')",
    [SQL_HOLD_DELETE] = "DELETE FROM holds WHERE seq = ?",
    [SQL_USER_SEATS] = "SELECT COALESCE(SUM(json_array_length(seat_ids)), 0) FROM holds"
                       " WHERE event_id = ? AND user_id = ? AND status IN ('active', 'checkout')"
                       " AND expires_at_ms > ?",
    [SQL_HOLD_CHECKOUT] = "UPDATE holds SET status = 'checkout', expires_at_ms = ?"
                          " WHERE seq = ? AND status = 'active'",
    [SQL_HOLDS_DUE] = "SELECT seq FROM holds WHERE status IN ('active', 'checkout')"
                      " AND expires_at_ms <= ? ORDER BY expires_at_ms LIMIT ?",
    [SQL_SEAT_TAKE] = "UPDATE seats SET status = 'held', hold_seq = ?"
                      " WHERE event_id = ? AND seat_id = ? AND status = 'available'",
    [SQL_SEAT_HOLDER] = "SELECT hold_seq FROM seats WHERE event_id = ? AND seat_id = ?"
                        " AND status = 'held'",
    [SQL_SEATS_FREE] = "UPDATE seats SET status = 'available', hold_seq = NULL"
                       " WHERE hold_seq = ? AND status <> 'available'",
    [SQL_SEATS_SELL] = "UPDATE seats SET status = 'sold' WHERE hold_seq = ? AND status = 'held'",
    [SQL_SEATS_PRICE] = "SELECT count(*), COALESCE(SUM(c.price_cents), 0) FROM seats s"
                        " JOIN sections c ON c.event_id = s.event_id AND c.idx = s.section_idx"
                        " WHERE s.hold_seq = ? AND s.status = 'held'",
    [SQL_BOOKING_INSERT] = "INSERT INTO bookings(id, hold_seq, hold_id, event_id, user_id, email,"
                           " status, amount_cents, payment_token, created_at_ms, updated_at_ms,"
                           " checkout_deadline_ms, seat_ids)"
                           " VALUES (?,?,?,?,?,?,'pending_payment',?,?,?,?,?,?)",
    [SQL_BOOKING_BY_ID] = "SELECT " SQLITE_BOOKING_COLUMNS " FROM bookings WHERE id = ?",
    [SQL_BOOKING_UPDATE] = "UPDATE bookings SET status = ?1, payment_id = COALESCE(?2, payment_id),"
                           " refund_id = COALESCE(?3, refund_id), updated_at_ms = ?4"
                           " WHERE seq = ?5 AND status = ?6",
    [SQL_OUTBOX_INSERT] = "INSERT INTO outbox(id, type, event_id, aggregate_id, time_ms, data)"
                          " VALUES (?,?,?,?,?,?)",
    [SQL_OUTBOX_FANOUT] = "INSERT INTO deliveries(outbox_seq, subscriber_id, aggregate_id, status,"
                          " next_attempt_ms, updated_at_ms)"
                          " SELECT DISTINCT ?1, subscriber_id, ?2, 'pending', ?3, ?3"
                          " FROM subscriber_patterns WHERE ?4 GLOB pattern",
    [SQL_ROUTED] = "SELECT 1 FROM subscriber_patterns WHERE ? GLOB pattern LIMIT 1",
    [SQL_SUBSCRIBER_INSERT] = "INSERT INTO subscribers(id, kind, url, secret, created_at_ms)"
                              " VALUES (?,?,?,?,?)",
    [SQL_PATTERN_INSERT] = "INSERT OR IGNORE INTO subscriber_patterns(subscriber_id, pattern)"
                           " VALUES (?,?)",
    [SQL_DELIVERIES_EXHAUST] =
        "UPDATE deliveries SET status = 'dead', updated_at_ms = ?1, lease_owner = '',"
        " lease_until_ms = 0, last_error = 'attempts exhausted (the last attempt was lost: "
        "its worker stopped before reporting; last error: ' || last_error || ')'"
        " WHERE status = 'pending' AND attempts >= ?2 AND lease_until_ms <= ?1",
    [SQL_DELIVERIES_CLAIM] =
        "UPDATE deliveries SET lease_owner = ?1, lease_until_ms = ?2, attempts = attempts + 1,"
        " updated_at_ms = ?3 WHERE seq IN (SELECT d.seq FROM deliveries d"
        "  WHERE d.status = 'pending' AND d.next_attempt_ms <= ?3 AND d.lease_until_ms <= ?3"
        "  AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending'"
        "   AND e.subscriber_id = d.subscriber_id AND e.aggregate_id = d.aggregate_id"
        "   AND e.outbox_seq < d.outbox_seq)"
        "  ORDER BY d.outbox_seq LIMIT ?4) RETURNING seq",
    [SQL_DELIVERY_BY_SEQ] = SQLITE_DELIVERY_SELECT " WHERE d.seq = ?",
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
    [SQL_DELIVERIES_RECLAIM] = "UPDATE deliveries SET lease_until_ms = 0, updated_at_ms = ?1"
                               " WHERE status = 'pending' AND lease_owner = ?2"
                               " AND lease_until_ms > ?1",
    [SQL_IDEMPOTENCY_GET] = "SELECT request_hash, status, body FROM idempotency WHERE key = ?",
    [SQL_IDEMPOTENCY_PUT] = "INSERT INTO idempotency(key, request_hash, status, body,"
                            " created_at_ms) VALUES (?,?,?,?,?)"
                            " ON CONFLICT(key) DO NOTHING",
    [SQL_IDEMPOTENCY_PURGE] = "DELETE FROM idempotency WHERE created_at_ms < ?",
    [SQL_PING] = "INSERT INTO meta(key, value) VALUES ('last_write_ms', ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
};

/* ---- errors ---- */

store_status sqlite_store_classify(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_RETRY;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
    case SQLITE_INTERRUPT:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
        return STORE_UNAVAILABLE;
    default: /* CORRUPT, NOTADB, CONSTRAINT, MISMATCH, SCHEMA, ERROR...: not something to wait
                out */
        return STORE_FATAL;
    }
}

static void sqlite_store__record(store_sqlite *ss, store_status status)
{
    if (ss && ss->status == STORE_OK) ss->status = status;
}

int sqlite_store_fail(store_sqlite *ss, sqlite3 *db, const char *what)
{
    int rc = sqlite3_extended_errcode(db);
    store_status status = sqlite_store_classify(rc);
    if (status == STORE_OK) status = STORE_FATAL; /* a "failure" that is not one: a misuse */
    log_error("store: %s: %s (sqlite code %d: %s)", what, sqlite3_errmsg(db), rc,
              store_status_name(status));
    sqlite_store__record(ss, status);
    return -1;
}

int sqlite_store_fail_with(store_sqlite *ss, store_status status, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    log_error("store: %s (%s)", message, store_status_name(status));
    sqlite_store__record(ss, status);
    return -1;
}

int sqlite_store_run(store_sqlite *ss, sqlite_sql which)
{
    sqlite3_stmt *st = ss->stmt[which];
    int rc = sqlite3_step(st);
    sqlite_store_done(st);
    if (rc != SQLITE_DONE) return sqlite_store_fail(ss, ss->db, sqlite_sql_text[which]);
    return 0;
}

int sqlite_store_int(store_sqlite *ss, sqlite_sql which, int64_t *out, bool *found)
{
    sqlite3_stmt *st = ss->stmt[which];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    if (found) *found = rc == SQLITE_ROW;
    sqlite_store_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_store_fail(ss, ss->db, sqlite_sql_text[which]);
    return 0;
}

int sqlite_store_changes(store_sqlite *ss)
{
    return sqlite3_changes(ss->db);
}

void sqlite_store_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void sqlite_store_copy_text(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    snprintf(dst, cap, "%s", text ? text : "");
}

/* ---- the batch ---- */

typedef int (*sqlite_store__handler)(store_sqlite *ss, store_cmd *cmd, int64_t now_ms);

static int sqlite_store__do_ping(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    (void)cmd;
    sqlite3_bind_int64(ss->stmt[SQL_PING], 1, now_ms);
    return sqlite_store_run(ss, SQL_PING);
}

static int sqlite_store__do_response(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    (void)ss, (void)now_ms;
    assert(cmd->idem && !cmd->idem->render);
    return 0;
}

static const sqlite_store__handler sqlite_store__handlers[STORE_CMD_KINDS] = {
    [STORE_CMD_HOLD] = sqlite_store_do_hold,
    [STORE_CMD_RELEASE] = sqlite_store_do_release,
    [STORE_CMD_CHECKOUT] = sqlite_store_do_checkout,
    [STORE_CMD_PAYMENT] = sqlite_store_do_payment,
    [STORE_CMD_CANCEL] = sqlite_store_do_cancel,
    [STORE_CMD_REFUND] = sqlite_store_do_refund,
    [STORE_CMD_EVENT_CREATE] = sqlite_store_do_event_create,
    [STORE_CMD_SUBSCRIBER_ADD] = sqlite_store_do_subscriber_add,
    [STORE_CMD_CLAIM] = sqlite_store_do_claim,
    [STORE_CMD_DELIVERY] = sqlite_store_do_delivery,
    [STORE_CMD_REDRIVE] = sqlite_store_do_redrive,
    [STORE_CMD_RECLAIM] = sqlite_store_do_reclaim,
    [STORE_CMD_SWEEP] = sqlite_store_do_sweep,
    [STORE_CMD_PING] = sqlite_store__do_ping,
    [STORE_CMD_RESPONSE] = sqlite_store__do_response,
};

/* Look up the command's idempotency key in the transaction: answered before with the same
 * request -> REPLAYED (the kept response copied into idem), with another -> KEY_REUSED. */
static int sqlite_store__idem_check(store_sqlite *ss, store_cmd *cmd)
{
    store_idem *idem = cmd->idem;
    sqlite3_stmt *st = ss->stmt[SQL_IDEMPOTENCY_GET];
    sqlite_store_bind_text(st, 1, idem->key);
    int rc = sqlite3_step(st);
    int result = 0;
    if (rc == SQLITE_ROW) {
        const char *hash = (const char *)sqlite3_column_text(st, 0);
        if (!hash || strcmp(hash, idem->request_hash) != 0) {
            cmd->rc = TIX_RC_KEY_REUSED;
        } else {
            cmd->rc = TIX_RC_REPLAYED;
            idem->status = (unsigned)sqlite3_column_int(st, 1);
            buf_reset(&idem->body);
            if (buf_append(&idem->body, sqlite3_column_blob(st, 2),
                           (size_t)sqlite3_column_bytes(st, 2)) != 0)
                result = sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "kept response too large");
        }
    } else if (rc != SQLITE_DONE) {
        result = sqlite_store_fail(ss, ss->db, "read an idempotency key");
    }
    sqlite_store_done(st);
    return result;
}

/* Keep the response to the command's idempotency key, rendered now (inside the transaction). */
static int sqlite_store__idem_keep(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_idem *idem = cmd->idem;
    if (idem->render) {
        buf_reset(&idem->body);
        idem->render(idem->render_ctx, cmd, &idem->status, &idem->body);
    }
    if (idem->body.failed)
        return sqlite_store_fail_with(ss, STORE_FATAL, "response to keep too large");
    sqlite3_stmt *st = ss->stmt[SQL_IDEMPOTENCY_PUT];
    sqlite_store_bind_text(st, 1, idem->key);
    sqlite_store_bind_text(st, 2, idem->request_hash);
    sqlite3_bind_int(st, 3, (int)idem->status);
    sqlite3_bind_blob64(st, 4, idem->body.data ? idem->body.data : "", idem->body.len,
                        SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    return sqlite_store_run(ss, SQL_IDEMPOTENCY_PUT);
}

/* Drop the changes a refused command appended to the batch's page. */
static void sqlite_store__changes_truncate(store_sqlite *ss, uint32_t count, int64_t feed_head)
{
    change_page *p = &ss->batch->changes;
    if (p->count > count) {
        p->seats.len = p->items[count].seats_off;
        if (p->seats.data) p->seats.data[p->seats.len] = '\0';
        p->count = count;
    }
    ss->feed_head = feed_head;
}

/* Run one command inside its own savepoint. Returns -1 when the store failed (the batch is then
 * lost); a refusal (seat taken, hold not found) is a success with cmd->rc set, and undoes
 * whatever the command wrote. A hold, the hot path, runs without a savepoint (two statements
 * fewer): it undoes itself when refused (holds.c), and the expiries of lapsed holds it made on
 * the way stand, with their changes, as the sweep's would. */
static int sqlite_store__run_cmd(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    uint32_t changes_before = ss->batch->changes.count;
    int64_t head_before = ss->feed_head;
    bool savepoint = cmd->kind != STORE_CMD_HOLD || cmd->idem;
    cmd->rc = TIX_RC_OK;
    if (savepoint && sqlite_store_run(ss, SQL_SAVEPOINT) != 0) return -1;
    if (cmd->idem && sqlite_store__idem_check(ss, cmd) != 0) return -1;
    if (cmd->rc == TIX_RC_OK && sqlite_store__handlers[cmd->kind](ss, cmd, now_ms) != 0) return -1;
    if (savepoint && cmd->rc != TIX_RC_OK) {
        sqlite_store__changes_truncate(ss, changes_before, head_before);
        if (sqlite_store_run(ss, SQL_ROLLBACK_TO) != 0) return -1;
    }
    if (savepoint && sqlite_store_run(ss, SQL_RELEASE) != 0) return -1;
    bool answered = cmd->rc == TIX_RC_REPLAYED || cmd->rc == TIX_RC_KEY_REUSED;
    return cmd->idem && !answered ? sqlite_store__idem_keep(ss, cmd, now_ms) : 0;
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
static void sqlite_store__scrub_failed_commit(store_sqlite *ss)
{
    if (!sqlite3_get_autocommit(ss->db) && sqlite_store_run(ss, SQL_ROLLBACK) != 0) return;
    if (sqlite_store_run(ss, SQL_BEGIN) != 0) return;
    sqlite3_bind_int64(ss->stmt[SQL_PING], 1, clock_now_ms());
    if (sqlite_store_run(ss, SQL_PING) != 0 || sqlite_store_run(ss, SQL_COMMIT) != 0) {
        if (!sqlite3_get_autocommit(ss->db)) sqlite_store_run(ss, SQL_ROLLBACK);
        return;
    }
    log_info("store: the failed commit's WAL frames were overwritten by a ping commit");
}

static store_status sqlite_store__batch_run(store *s, store_batch *b)
{
    store_sqlite *ss = sqlite_store_of(s);
    ss->batch = b;
    ss->status = STORE_OK;
    int rc = sqlite_store_run(ss, SQL_BEGIN);
    if (rc == 0) rc = sqlite_store_feed_begin(ss);
    b->feed_before = ss->feed_head;
    if (rc == 0) rc = sqlite_store_routes_check(ss);
    for (uint32_t i = 0; i < b->count && rc == 0; i++)
        rc = sqlite_store__run_cmd(ss, b->cmds[i], b->now_ms);
    if (rc == 0 && sqlite_store_run(ss, SQL_COMMIT) != 0) {
        rc = -1;
        sqlite_store__scrub_failed_commit(ss);
    }
    if (rc != 0 && !sqlite3_get_autocommit(ss->db)) {
        store_status failed = ss->status; /* a failing ROLLBACK must not hide the cause */
        sqlite_store_run(ss, SQL_ROLLBACK);
        ss->status = failed;
    }
    store_status status = rc == 0 ? STORE_OK : ss->status;
    if (rc != 0 && status == STORE_OK) status = STORE_FATAL;
    if (status != STORE_OK) ss->route_count = 0; /* what the batch learnt may be rolled back */
    ss->batch = NULL;
    return status;
}

/* ---- connections ---- */

/* Open one connection with tix's settings. */
static int sqlite_store__connect(const char *path, bool read_only, unsigned busy_timeout_ms,
                                 sqlite3 **out)
{
    int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, flags, VFS_SHIM_NAME) != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, (int)busy_timeout_ms);
    const char *pragmas = read_only ? "PRAGMA query_only=1;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                      " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;";
    if (sqlite_store_exec(db, pragmas) != 0) {
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

sqlite_reader *sqlite_store_reader_acquire(store_sqlite *ss)
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

void sqlite_store_reader_release(store_sqlite *ss, sqlite_reader *r)
{
    pthread_mutex_lock(&ss->readers_mutex);
    r->busy = false;
    pthread_cond_signal(&ss->readers_cond);
    pthread_mutex_unlock(&ss->readers_mutex);
}

/* ---- the checkpointer ---- */

static void *sqlite_store__checkpointer(void *arg)
{
    store_sqlite *ss = arg;
    pthread_setname_np(pthread_self(), "tix-checkpoint");
    /* A checkpoint copies up to 40 MB of pages: at the request threads' priority it took its
     * share of their core and stretched the batches it ran beside (hold p99 at 64 connections
     * on 2 cores ~6 ms; ~4.5-5 ms behind nice +10). On Linux a nice value is per thread. */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), SQLITE_STORE_CHECKPOINT_NICE) != 0)
        log_warn("store: cannot lower the checkpointer's priority: %s", strerror(errno));
    pthread_mutex_lock(&ss->checkpoint_mutex);
    while (!ss->checkpoint_stop) {
        if (!ss->checkpoint_due) {
            struct timespec ts =
                clock_mono_deadline((int64_t)SQLITE_STORE_CHECKPOINT_INTERVAL_MS * 1000);
            pthread_cond_timedwait(&ss->checkpoint_cond, &ss->checkpoint_mutex, &ts);
            if (ss->checkpoint_stop) break;
        }
        ss->checkpoint_due = false;
        pthread_mutex_unlock(&ss->checkpoint_mutex);
        int log_frames = 0, done_frames = 0;
        int rc = sqlite3_wal_checkpoint_v2(ss->checkpoint_db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_frames, &done_frames);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            sqlite_store_fail(NULL, ss->checkpoint_db, "checkpoint");
        pthread_mutex_lock(&ss->checkpoint_mutex);
    }
    pthread_mutex_unlock(&ss->checkpoint_mutex);
    return NULL;
}

/* The writer connection's WAL hook: called after each commit with the WAL's size. */
static int sqlite_store__wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    (void)db, (void)name;
    store_sqlite *ss = arg;
    if (frames < SQLITE_STORE_CHECKPOINT_FRAMES) return SQLITE_OK;
    pthread_mutex_lock(&ss->checkpoint_mutex);
    ss->checkpoint_due = true;
    pthread_cond_signal(&ss->checkpoint_cond);
    pthread_mutex_unlock(&ss->checkpoint_mutex);
    return SQLITE_OK;
}

static int sqlite_store__checkpointer_start(store_sqlite *ss)
{
    if (sqlite_store__connect(ss->path, false, ss->busy_timeout_ms, &ss->checkpoint_db) != 0)
        return -1;
    if (pthread_create(&ss->checkpoint_thread, NULL, sqlite_store__checkpointer, ss) != 0)
        return -1;
    ss->checkpoint_running = true;
    sqlite3_wal_hook(ss->db, sqlite_store__wal_hook, ss);
    return sqlite_store_exec(ss->db, "PRAGMA wal_autocheckpoint=0");
}

/* ---- opening and closing ---- */

static const char *sqlite_store__store_id(store *s)
{
    return sqlite_store_of(s)->id;
}

static void sqlite_store__close(store *s)
{
    store_sqlite *ss = sqlite_store_of(s);
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
    if (ss->db && sqlite3_close(ss->db) != SQLITE_OK) sqlite_store_fail(NULL, ss->db, "close");
    pthread_mutex_destroy(&ss->readers_mutex);
    pthread_cond_destroy(&ss->readers_cond);
    buf_free(&ss->data);
    buf_free(&ss->ids);
    buf_free(&ss->change_ids);
    free(ss->due);
    free(ss->event_rules);
    free(ss);
}

static const store_ops sqlite_store__ops = {
    .close = sqlite_store__close,
    .id = sqlite_store__store_id,
    .batch_run = sqlite_store__batch_run,
    .changes_read = sqlite_store_changes_read,
    .snapshot_load = sqlite_store_snapshot_load,
    .event_get = sqlite_store_event_get,
    .hold_get = sqlite_store_hold_read,
    .booking_get = sqlite_store_booking_read,
    .bookings_by_user = sqlite_store_bookings_by_user,
    .subscribers_list = sqlite_store_subscribers_list,
    .dead_letters_list = sqlite_store_dead_letters_list,
    .idempotency_get = sqlite_store_idempotency_get,
    .event_stats = sqlite_store_event_stats,
    .dead_letters_count = sqlite_store_dead_letters_count,
};

/* SQLite's process-wide settings, before its first use: no memory statistics, which tix never
 * reads and which cost a global mutex on every SQLite allocation (about 25 per hold).
 * SQLITE_MISUSE: something initialised SQLite first (a test); it keeps them. */
static void sqlite_store__configure(void)
{
    int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    assert(rc == SQLITE_OK || rc == SQLITE_MISUSE);
    (void)rc;
}

/* ---- test-only storage faults (store/vfs_shim.h): empty unless `--test-fault-dir` was
 * given. ---- */
static char sqlite_store__fault_dir[SQLITE_STORE_PATH_MAX];

void store_sqlite_set_fault_dir(const char *fault_dir)
{
    snprintf(sqlite_store__fault_dir, sizeof(sqlite_store__fault_dir), "%s",
             fault_dir ? fault_dir : "");
}
/* ---- end of the test-only storage faults ---- */

/* The writer connection, migrated, with its statements; and the store's id. */
static int sqlite_store__open_writer(store_sqlite *ss, char *err, size_t err_len)
{
    if (sqlite_store__connect(ss->path, false, ss->busy_timeout_ms, &ss->db) != 0)
        return snprintf(err, err_len, "cannot open database %s (see the log above)", ss->path), -1;
    chmod(ss->path, 0600);
    bool migrated;
    if (sqlite_store_migrate(ss->db, &migrated, err, err_len) != 0) return -1;
    if (migrated) { /* a fresh connection reads the schema as migrated */
        sqlite3_close(ss->db);
        ss->db = NULL;
        if (sqlite_store__connect(ss->path, false, ss->busy_timeout_ms, &ss->db) != 0)
            return snprintf(err, err_len, "cannot reopen database %s", ss->path), -1;
    }
    for (int i = 0; i < SQL_COUNT; i++) {
        if (sqlite3_prepare_v3(ss->db, sqlite_sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &ss->stmt[i], NULL) != SQLITE_OK)
            return snprintf(err, err_len, "prepare failed: %s", sqlite3_errmsg(ss->db)), -1;
    }
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(ss->db, "SELECT value FROM meta WHERE key = 'store_id'", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        sqlite_store_copy_text(ss->id, sizeof(ss->id), st, 0);
    sqlite3_finalize(st);
    if (!ids_is_valid_hex(ss->id, strlen(ss->id)))
        return snprintf(err, err_len, "the database has no valid store_id"), -1;
    return 0;
}

static int sqlite_store__open_readers(store_sqlite *ss, unsigned readers, char *err, size_t err_len)
{
    for (unsigned i = 0; i < readers; i++) {
        sqlite_reader *r = &ss->readers[i];
        if (sqlite_store__connect(ss->path, true, ss->busy_timeout_ms, &r->db) != 0)
            return snprintf(err, err_len, "cannot open a read connection to %s", ss->path), -1;
        ss->reader_count = i + 1;
        for (int k = 0; k < RSQL_COUNT; k++) {
            if (sqlite3_prepare_v3(r->db, sqlite_rsql_text[k], -1, SQLITE_PREPARE_PERSISTENT,
                                   &r->stmt[k], NULL) != SQLITE_OK)
                return snprintf(err, err_len, "prepare failed: %s", sqlite3_errmsg(r->db)), -1;
        }
    }
    return 0;
}

int store_sqlite_open(const store_options *o, store **out, char *err, size_t err_len)
{
    unsigned readers = o->readers ? o->readers : 1;
    if (readers > SQLITE_STORE_READERS_MAX) readers = SQLITE_STORE_READERS_MAX;
    if (mkdir(o->data_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, err_len, "cannot create data dir %s: %s", o->data_dir, strerror(errno));
        return -1;
    }
    static pthread_once_t configured = PTHREAD_ONCE_INIT;
    pthread_once(&configured, sqlite_store__configure); /* before the VFS: its first use */
    if (vfs_shim_register(sqlite_store__fault_dir) != 0) {
        snprintf(err, err_len, "cannot install tix's SQLite VFS (see the log above)");
        return -1;
    }
    store_sqlite *ss = calloc(1, sizeof(*ss));
    if (!ss) return snprintf(err, err_len, "out of memory"), -1;
    ss->base.ops = &sqlite_store__ops;
    ss->busy_timeout_ms = o->busy_timeout_ms ? o->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS_DEFAULT;
    pthread_mutex_init(&ss->readers_mutex, NULL);
    pthread_cond_init(&ss->readers_cond, NULL);
    pthread_mutex_init(&ss->checkpoint_mutex, NULL);
    clock_mono_cond_init(&ss->checkpoint_cond);
    buf_init(&ss->data, TIX_OUTBOX_DATA_LEN_MAX);
    buf_init(&ss->ids, SQLITE_STORE_SEAT_IDS_LEN_MAX);
    buf_init(&ss->change_ids, SQLITE_STORE_SEAT_IDS_LEN_MAX);
    ss->event_rules = calloc(SQLITE_STORE_EVENT_SLOTS, sizeof(*ss->event_rules));
    if (!ss->event_rules) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    if ((size_t)snprintf(ss->path, sizeof(ss->path), "%s/tix.db", o->data_dir) >=
        sizeof(ss->path)) {
        snprintf(err, err_len, "data dir path too long");
        goto fail;
    }
    if (sqlite_store__open_writer(ss, err, err_len) != 0) goto fail;
    if (sqlite_store__checkpointer_start(ss) != 0) {
        snprintf(err, err_len, "cannot start the checkpointer of %s", ss->path);
        goto fail;
    }
    if (sqlite_store__open_readers(ss, readers, err, err_len) != 0) goto fail;
    *out = &ss->base;
    return 0;
fail:
    sqlite_store__close(&ss->base);
    return -1;
}
