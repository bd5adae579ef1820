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
#include <sys/stat.h>

enum { STORE_READERS_MAX = 64, STORE_BUSY_TIMEOUT_MS = 10000, STORE_PATH_MAX = 4096 };

static const char *const store__migrations[] = {
    /* version 0 -> 1: events, seats, holds and the outbox */
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
    "  status TEXT NOT NULL CHECK (status IN ('active','released','expired')),"
    "  seat_ids TEXT NOT NULL, created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,"
    "  ended_at_ms INTEGER);"
    "CREATE INDEX holds_due ON holds(expires_at_ms) WHERE status = 'active';"
    "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
    "  event_id TEXT, aggregate_id TEXT, time_ms INTEGER NOT NULL, data TEXT NOT NULL);",
};
enum { STORE_SCHEMA_VERSION = sizeof(store__migrations) / sizeof(store__migrations[0]) };

/* Prepared statements of the writer connection. */
typedef enum {
    SQL_BEGIN, SQL_COMMIT, SQL_ROLLBACK, SQL_SAVEPOINT, SQL_RELEASE, SQL_ROLLBACK_TO,
    SQL_EVENT_INSERT, SQL_SECTION_INSERT, SQL_SEAT_INSERT,
    SQL_HOLD_INSERT, SQL_HOLD_BY_ID, SQL_HOLD_BY_SEQ, SQL_HOLD_END,
    SQL_SEAT_TAKE, SQL_SEAT_HOLDER, SQL_SEATS_FREE, SQL_HOLDS_DUE, SQL_OUTBOX_INSERT, SQL_PING,
    SQL_COUNT
} store__sql;

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
    [SQL_HOLD_BY_ID] = "SELECT seq, id, event_id, user_id, status, seat_ids, created_at_ms,"
                       " expires_at_ms, ended_at_ms FROM holds WHERE id = ?",
    [SQL_HOLD_BY_SEQ] = "SELECT seq, id, event_id, user_id, status, seat_ids, created_at_ms,"
                        " expires_at_ms, ended_at_ms FROM holds WHERE seq = ?",
    [SQL_HOLD_END] = "UPDATE holds SET status = ?, ended_at_ms = ?"
                     " WHERE seq = ? AND status = 'active'",
    [SQL_SEAT_TAKE] = "UPDATE seats SET status = 'held', hold_seq = ?"
                      " WHERE event_id = ? AND seat_id = ? AND status = 'available'",
    [SQL_SEAT_HOLDER] = "SELECT hold_seq FROM seats WHERE event_id = ? AND seat_id = ?"
                        " AND status = 'held'",
    [SQL_SEATS_FREE] = "UPDATE seats SET status = 'available', hold_seq = NULL"
                       " WHERE hold_seq = ? AND status = 'held'",
    [SQL_HOLDS_DUE] = "SELECT seq FROM holds WHERE status = 'active' AND expires_at_ms <= ?"
                      " ORDER BY expires_at_ms LIMIT ?",
    [SQL_OUTBOX_INSERT] = "INSERT INTO outbox(id, type, event_id, aggregate_id, time_ms, data)"
                          " VALUES (?,?,?,?,?,?)",
    [SQL_PING] = "INSERT INTO meta(key, value) VALUES ('last_write_ms', ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
};

typedef struct store_reader {
    sqlite3 *db;
    sqlite3_stmt *hold_by_id;
    bool busy;
} store_reader;

typedef struct store_sqlite {
    store base;
    sqlite3 *db; /* the writer connection */
    sqlite3_stmt *stmt[SQL_COUNT];
    char path[STORE_PATH_MAX];
    pthread_mutex_t readers_mutex;
    pthread_cond_t readers_cond;
    unsigned reader_count;
    store_reader readers[STORE_READERS_MAX];
} store_sqlite;

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
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
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
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    const char *pragmas = read_only ? "PRAGMA query_only=1;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                      " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-65536;";
    if (store__exec(db, pragmas) != 0) {
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

static int store__migrate(sqlite3 *db, char *err, size_t err_len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return store__fail(db, "read schema version");
    int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0 || version > STORE_SCHEMA_VERSION) {
        snprintf(err, err_len, "database schema version %d is newer than this tix (%d)", version,
                 STORE_SCHEMA_VERSION);
        return -1;
    }
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        char bump[64];
        snprintf(bump, sizeof(bump), "PRAGMA user_version=%d;", v + 1);
        if (store__exec(db, "BEGIN IMMEDIATE") != 0) goto fail;
        if (store__exec(db, store__migrations[v]) != 0 || store__exec(db, bump) != 0 ||
            store__exec(db, "COMMIT") != 0) {
            store__exec(db, "ROLLBACK");
            goto fail;
        }
        log_info("store: schema migrated to version %d", v + 1);
    }
    return 0;
fail:
    snprintf(err, err_len, "schema migration failed: %s", sqlite3_errmsg(db));
    return -1;
}

static const store_ops store__sqlite_ops;

static void store__sqlite_close(store *s)
{
    store_sqlite *ss = store__of(s);
    for (int i = 0; i < SQL_COUNT; i++) sqlite3_finalize(ss->stmt[i]);
    for (unsigned i = 0; i < ss->reader_count; i++) {
        sqlite3_finalize(ss->readers[i].hold_by_id);
        sqlite3_close(ss->readers[i].db);
    }
    if (ss->db && sqlite3_close(ss->db) != SQLITE_OK) store__fail(ss->db, "close");
    pthread_mutex_destroy(&ss->readers_mutex);
    pthread_cond_destroy(&ss->readers_cond);
    free(ss);
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
    store_sqlite *ss = calloc(1, sizeof(*ss));
    if (!ss) return snprintf(err, err_len, "out of memory"), -1;
    ss->base.ops = &store__sqlite_ops;
    pthread_mutex_init(&ss->readers_mutex, NULL);
    pthread_cond_init(&ss->readers_cond, NULL);
    if ((size_t)snprintf(ss->path, sizeof(ss->path), "%s/tix.db", data_dir) >= sizeof(ss->path)) {
        snprintf(err, err_len, "data dir path too long");
        goto fail;
    }
    if (store__connect(ss->path, false, &ss->db) != 0) {
        snprintf(err, err_len, "cannot open database %s (see the log above)", ss->path);
        goto fail;
    }
    chmod(ss->path, 0600);
    if (store__migrate(ss->db, err, err_len) != 0) goto fail;
    for (int i = 0; i < SQL_COUNT; i++) {
        if (sqlite3_prepare_v3(ss->db, store__sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &ss->stmt[i], NULL) != SQLITE_OK) {
            snprintf(err, err_len, "prepare failed: %s", sqlite3_errmsg(ss->db));
            goto fail;
        }
    }
    for (unsigned i = 0; i < readers; i++) {
        store_reader *r = &ss->readers[i];
        if (store__connect(ss->path, true, &r->db) != 0 ||
            sqlite3_prepare_v3(r->db, store__sql_text[SQL_HOLD_BY_ID], -1,
                               SQLITE_PREPARE_PERSISTENT, &r->hold_by_id, NULL) != SQLITE_OK) {
            snprintf(err, err_len, "cannot open a read connection to %s", ss->path);
            if (r->db) sqlite3_close(r->db);
            r->db = NULL;
            goto fail;
        }
        ss->reader_count = i + 1;
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

static int store__sqlite_commit(store *s)
{
    return store__run(store__of(s), SQL_COMMIT);
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

static int store__sqlite_tx_hold_insert(store *s, hold_record *hold)
{
    store_sqlite *ss = store__of(s);
    buf ids;
    buf_init(&ids, (size_t)TIX_HOLD_SEATS_MAX * (TIX_SEAT_ID_LEN_MAX + 4) + 8);
    buf_append_char(&ids, '[');
    for (uint32_t i = 0; i < hold->seat_count; i++) {
        if (i) buf_append_char(&ids, ',');
        buf_append_json_str(&ids, hold->seat_ids[i]);
    }
    buf_append_char(&ids, ']');
    if (ids.failed) {
        buf_free(&ids);
        return log_error("store: out of memory"), -1;
    }
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
static int store__hold_decode(sqlite3_stmt *st, hold_record *out)
{
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
    cJSON *ids = cJSON_Parse((const char *)sqlite3_column_text(st, 5));
    int rc = cJSON_IsArray(ids) ? 0 : -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, ids)
    {
        if (!cJSON_IsString(item) || out->seat_count == TIX_HOLD_SEATS_MAX) {
            rc = -1;
            break;
        }
        snprintf(out->seat_ids[out->seat_count++], TIX_SEAT_ID_LEN_MAX, "%s", item->valuestring);
    }
    cJSON_Delete(ids);
    if (rc != 0) log_error("store: hold %s has malformed seat_ids", out->id);
    return rc;
}

/* Step a hold query once and decode its row if there is one. */
static int store__hold_fetch(sqlite3 *db, sqlite3_stmt *st, hold_record *out, bool *found)
{
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    int result = 0;
    if (rc == SQLITE_ROW) result = store__hold_decode(st, out);
    else if (rc != SQLITE_DONE) result = store__fail(db, "read hold");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
}

static int store__sqlite_tx_hold_get(store *s, const char *id, int64_t seq, hold_record *out,
                                     bool *found)
{
    store_sqlite *ss = store__of(s);
    sqlite3_stmt *st = ss->stmt[id ? SQL_HOLD_BY_ID : SQL_HOLD_BY_SEQ];
    if (id) store__bind_text(st, 1, id);
    else sqlite3_bind_int64(st, 1, seq);
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
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) seqs[(*n)++] = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store__fail(ss->db, "read due holds");
    return 0;
}

static int store__sqlite_tx_outbox_append(store *s, const char *type, const char *event_id,
                                          const char *aggregate_id, int64_t time_ms,
                                          const char *data_json)
{
    store_sqlite *ss = store__of(s);
    char id[IDS_HEX_LEN + 1];
    ids_random_hex(id);
    sqlite3_stmt *st = ss->stmt[SQL_OUTBOX_INSERT];
    store__bind_text(st, 1, id);
    store__bind_text(st, 2, type);
    store__bind_text(st, 3, event_id);
    store__bind_text(st, 4, aggregate_id);
    sqlite3_bind_int64(st, 5, time_ms);
    store__bind_text(st, 6, data_json);
    return store__run(ss, SQL_OUTBOX_INSERT);
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
    store__bind_text(r->hold_by_id, 1, id);
    int rc = store__hold_fetch(r->db, r->hold_by_id, out, found);
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
            else sec->row_count++;
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
    const char *sql = "SELECT s.seat_id, s.status, s.hold_seq, h.expires_at_ms FROM holds h"
                      " JOIN seats s ON s.hold_seq = h.seq"
                      " WHERE h.event_id = ? AND h.status = 'active' AND s.status <> 'available'";
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
};
