/* sqlite_bench: the raw SQLite cost of tix's hold path, without tix.
 *
 * What it measures: for each batch size (1, 100, 1000 commands per transaction), a fresh
 * database with tix's tables for seats, holds and the outbox, copied from
 * src/store/store_sqlite.c (at schema version 2) with their indexes (seats WITHOUT ROWID keyed by
 * (event_id, seat_id)), journal_mode=WAL, synchronous=FULL, cache_size as tix sets it, a
 * connection opened as tix opens its own (SQLITE_OPEN_NOMUTEX, no memory statistics), and a
 * table of --seats seats (default 100,000). Then, seat after seat in key order, one "hold":
 *
 *     INSERT INTO holds ...                  -- the hold row (its rowid is the hold_seq)
 *     UPDATE seats SET status='held', hold_seq=? WHERE event_id=? AND seat_id=?
 *                                             AND status='available'   -- must change 1 row
 *     INSERT INTO outbox ...                 -- the HoldCreated row, a hold-sized JSON
 *
 * committed every `batch` holds, until every seat is held or --seconds have passed (checked
 * at commit boundaries, so every run is bounded). It reports updates per second and the
 * process's CPU time (getrusage: user + system, so fsync's kernel time counts) per update.
 * SQLite's automatic checkpoints run inline, on the measured thread (tix moves them to a
 * thread of their own, whose CPU time tix's process still pays).
 *
 * Keep the schema in step with src/store/store_sqlite.c when that changes.
 *
 * This is a benchmark, not a test: it never judges a number. Exit status 0 when every run
 * completed, 1 on any SQLite error, 2 on a usage error. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum {
    BENCH_SEATS_DEFAULT = 100000,
    BENCH_SEATS_MAX = 1000000,
    BENCH_SEATS_PER_ROW = 1000,
    BENCH_SECONDS_DEFAULT = 5,
    BENCH_SECONDS_MAX = 600,
    BENCH_PATH_MAX = 4096,
    BENCH_TEXT_MAX = 512,
};

/* The part of tix's schema (src/store/store_sqlite.c, version 2) that a hold touches. */
static const char *const bench_schema =
    "CREATE TABLE seats(event_id TEXT NOT NULL, seat_id TEXT NOT NULL,"
    "  section_idx INTEGER NOT NULL, row_label TEXT NOT NULL, number INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'available'"
    "    CHECK (status = 'available' OR status = 'held' OR status = 'sold'),"
    "  hold_seq INTEGER, PRIMARY KEY(event_id, seat_id)) WITHOUT ROWID;"
    "CREATE INDEX seats_by_hold ON seats(hold_seq) WHERE hold_seq IS NOT NULL;"
    "CREATE TABLE holds(seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  event_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    "    CHECK (status = 'active' OR status = 'released' OR status = 'expired'"
    "      OR status = 'checkout' OR status = 'booked'),"
    "  seat_ids TEXT NOT NULL, created_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,"
    "  ended_at_ms INTEGER);"
    "CREATE INDEX holds_due ON holds(expires_at_ms) WHERE status IN ('active','checkout');"
    "CREATE INDEX holds_by_user ON holds(event_id, user_id) WHERE status IN ('active','checkout');"
    "CREATE TABLE outbox(seq INTEGER PRIMARY KEY, id TEXT NOT NULL, type TEXT NOT NULL,"
    "  event_id TEXT, aggregate_id TEXT, time_ms INTEGER NOT NULL, data TEXT NOT NULL);";

typedef enum {
    STMT_BEGIN,
    STMT_COMMIT,
    STMT_HOLD_INSERT,
    STMT_SEAT_TAKE,
    STMT_OUTBOX_INSERT,
    STMT_COUNT
} bench_stmt;

/* The same statements as tix's writer (store__sql_text). */
static const char *const bench_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_HOLD_INSERT] = "INSERT INTO holds(id, event_id, user_id, status, seat_ids,"
                         " created_at_ms, expires_at_ms) VALUES (?,?,?,'active',?,?,?)",
    [STMT_SEAT_TAKE] = "UPDATE seats SET status = 'held', hold_seq = ?"
                       " WHERE event_id = ? AND seat_id = ? AND status = 'available'",
    [STMT_OUTBOX_INSERT] = "INSERT INTO outbox(id, type, event_id, aggregate_id, time_ms, data)"
                           " VALUES (?,?,?,?,?,?)",
};

static const char bench_event_id[] = "bench-arena";

typedef struct bench_db {
    sqlite3 *db;
    sqlite3_stmt *stmt[STMT_COUNT];
    uint64_t rng_state;
} bench_db;

typedef struct bench_result {
    uint32_t updates;
    double wall_s;
    double cpu_s;
} bench_result;

static int bench_fail(sqlite3 *db, const char *what)
{
    fprintf(stderr, "sqlite_bench: %s: %s\n", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

static double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time (user + system) of this process so far, in seconds. */
static double bench_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Row label of row `index` (0-based): A..Z, AA..ZZ, AAA..: bijective base 26, as the wrk
 * scripts and bench/run.sh name them. */
static void bench_row_label(uint32_t index, char *out, size_t cap)
{
    char rev[16];
    size_t n = 0;
    uint64_t v = (uint64_t)index + 1;
    while (v > 0 && n < sizeof(rev)) {
        v--;
        rev[n++] = (char)('A' + v % 26);
        v /= 26;
    }
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        out[i] = rev[n - 1 - i];
    out[i] = '\0';
}

static void bench_seat_id(uint32_t index, char *out, size_t cap)
{
    char row[16];
    bench_row_label(index / BENCH_SEATS_PER_ROW, row, sizeof(row));
    snprintf(out, cap, "%s%u", row, index % BENCH_SEATS_PER_ROW + 1);
}

/* xorshift64*: cheap; the ids only need to be unique in the run. */
static uint64_t bench_random(bench_db *b)
{
    b->rng_state ^= b->rng_state >> 12;
    b->rng_state ^= b->rng_state << 25;
    b->rng_state ^= b->rng_state >> 27;
    return b->rng_state * 2685821657736338717ULL;
}

/* A hold or outbox id as tix makes them (src/util/ids.c, ids_sortable_hex): 12 hex digits of
 * the time in milliseconds, then 20 random ones. */
static void bench_sortable_hex(bench_db *b, char out[33])
{
    static const char digits[] = "0123456789abcdef";
    uint64_t now_ms = (uint64_t)(bench_now_s() * 1000.0);
    for (int i = 0; i < 12; i++)
        out[i] = digits[(now_ms >> (4 * (11 - i))) & 15];
    uint64_t r[2] = {bench_random(b), bench_random(b)};
    for (int i = 0; i < 20; i++)
        out[12 + i] = digits[(r[i / 16] >> (4 * (i % 16))) & 15];
    out[32] = '\0';
}

static int bench_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    fprintf(stderr, "sqlite_bench: %.60s...: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return -1;
}

/* Step a statement that returns no rows, then reset it. Returns 0 or -1. */
static int bench_run(bench_db *b, bench_stmt which)
{
    sqlite3_stmt *st = b->stmt[which];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : bench_fail(b->db, bench_sql[which]);
}

static void bench_close(bench_db *b)
{
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(b->stmt[i]);
    sqlite3_close(b->db);
    memset(b, 0, sizeof(*b));
}

/* Create a fresh database at `path` with tix's settings and schema and `seat_count` free
 * seats, and prepare the statements. Returns 0 or -1 (b is then closed). */
static int bench_open(bench_db *b, const char *path, uint32_t seat_count)
{
    memset(b, 0, sizeof(*b));
    b->rng_state = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL) ^ (uint64_t)getpid();
    char side[BENCH_PATH_MAX + 8];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
        if (unlink(side) != 0 && errno != ENOENT) {
            fprintf(stderr, "sqlite_bench: cannot remove %s: %s\n", side, strerror(errno));
            return -1;
        }
    }
    if (sqlite3_open_v2(path, &b->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        bench_fail(b->db, "open");
        bench_close(b);
        return -1;
    }
    if (bench_exec(b->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                          " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384;") != 0 ||
        bench_exec(b->db, bench_schema) != 0)
        goto fail;
    for (int i = 0; i < STMT_COUNT; i++)
        if (sqlite3_prepare_v2(b->db, bench_sql[i], -1, &b->stmt[i], NULL) != SQLITE_OK) {
            bench_fail(b->db, bench_sql[i]);
            goto fail;
        }
    sqlite3_stmt *ins;
    if (sqlite3_prepare_v2(b->db,
                           "INSERT INTO seats(event_id, seat_id, section_idx, row_label, number)"
                           " VALUES (?,?,0,?,?)",
                           -1, &ins, NULL) != SQLITE_OK) {
        bench_fail(b->db, "prepare seat insert");
        goto fail;
    }
    int rc = bench_exec(b->db, "BEGIN");
    for (uint32_t i = 0; i < seat_count && rc == 0; i++) {
        char seat[32], row[16];
        bench_seat_id(i, seat, sizeof(seat));
        bench_row_label(i / BENCH_SEATS_PER_ROW, row, sizeof(row));
        sqlite3_bind_text(ins, 1, bench_event_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, seat, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, row, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 4, (int)(i % BENCH_SEATS_PER_ROW + 1));
        if (sqlite3_step(ins) != SQLITE_DONE) rc = bench_fail(b->db, "insert seat");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    if (rc != 0 || bench_exec(b->db, "COMMIT") != 0 ||
        bench_exec(b->db, "PRAGMA wal_checkpoint(TRUNCATE)") != 0)
        goto fail;
    return 0;
fail:
    bench_close(b);
    return -1;
}

/* One hold of seat `index` by its own buyer: hold row, conditional seat update (must change
 * exactly one row), outbox row. Returns 0 or -1. */
static int bench_hold(bench_db *b, uint32_t index, int64_t now_ms)
{
    char seat[32], hold_id[33], outbox_id[33], seat_ids[48], user_id[32], data[BENCH_TEXT_MAX];
    bench_seat_id(index, seat, sizeof(seat));
    bench_sortable_hex(b, hold_id);
    bench_sortable_hex(b, outbox_id);
    snprintf(seat_ids, sizeof(seat_ids), "[\"%s\"]", seat);
    snprintf(user_id, sizeof(user_id), "buyer%" PRIu32, index);
    snprintf(data, sizeof(data),
             "{\"id\":\"%s\",\"event_id\":\"%s\",\"user_id\":\"%s\",\"seat_ids\":%s,"
             "\"status\":\"active\",\"created_at\":\"2030-01-01T00:00:00.000Z\","
             "\"expires_at\":\"2030-01-02T00:00:00.000Z\"}",
             hold_id, bench_event_id, user_id, seat_ids);

    sqlite3_stmt *st = b->stmt[STMT_HOLD_INSERT];
    sqlite3_bind_text(st, 1, hold_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, bench_event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, user_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, seat_ids, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_int64(st, 6, now_ms + 86400000);
    if (bench_run(b, STMT_HOLD_INSERT) != 0) return -1;
    int64_t hold_seq = sqlite3_last_insert_rowid(b->db);

    st = b->stmt[STMT_SEAT_TAKE];
    sqlite3_bind_int64(st, 1, hold_seq);
    sqlite3_bind_text(st, 2, bench_event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, seat, -1, SQLITE_STATIC);
    if (bench_run(b, STMT_SEAT_TAKE) != 0) return -1;
    if (sqlite3_changes(b->db) != 1) {
        fprintf(stderr, "sqlite_bench: seat %s was not available\n", seat);
        return -1;
    }

    st = b->stmt[STMT_OUTBOX_INSERT];
    sqlite3_bind_text(st, 1, outbox_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, "HoldCreated", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, bench_event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hold_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_text(st, 6, data, -1, SQLITE_STATIC);
    return bench_run(b, STMT_OUTBOX_INSERT);
}

/* Hold seats 0, 1, 2, ... in transactions of `batch` holds until every seat is held or
 * `seconds` have passed. Fills `out` with what was done and what it cost. Returns 0 or -1. */
static int bench_measure(bench_db *b, uint32_t seat_count, uint32_t batch, double seconds,
                         bench_result *out)
{
    memset(out, 0, sizeof(*out));
    double wall_start_s = bench_now_s(), cpu_start_s = bench_cpu_s();
    double deadline_s = wall_start_s + seconds;
    uint32_t next = 0;
    while (next < seat_count && bench_now_s() < deadline_s) {
        int64_t now_ms = (int64_t)(bench_now_s() * 1000);
        if (bench_run(b, STMT_BEGIN) != 0) return -1;
        for (uint32_t i = 0; i < batch && next < seat_count; i++, next++)
            if (bench_hold(b, next, now_ms) != 0) return -1;
        if (bench_run(b, STMT_COMMIT) != 0) return -1;
    }
    out->updates = next;
    out->wall_s = bench_now_s() - wall_start_s;
    out->cpu_s = bench_cpu_s() - cpu_start_s;
    return 0;
}

static int bench_usage(FILE *to)
{
    fprintf(to,
            "Usage: sqlite_bench [--dir DIR] [--seats N] [--seconds S] [--version]\n"
            "\n"
            "The raw SQLite cost of tix's hold: conditional UPDATE of a seat + INSERT of a\n"
            "hold row + INSERT of an outbox row, in transactions of 1, 100 and 1000, on a\n"
            "fresh WAL database (synchronous=FULL) of N seats (default %d) in DIR (default\n"
            "the current directory); each run stops after S seconds (default %d).\n",
            BENCH_SEATS_DEFAULT, BENCH_SECONDS_DEFAULT);
    return 2;
}

static long bench_parse(const char *text, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || end == text || v < min || v > max) return -1;
    return v;
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    long seats = BENCH_SEATS_DEFAULT, seconds = BENCH_SECONDS_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--version")) {
            printf("%s\n", sqlite3_libversion());
            return 0;
        } else if (!strcmp(argv[i], "--help")) {
            return bench_usage(stdout), 0;
        } else if (!strcmp(argv[i], "--dir") && value) {
            dir = value, i++;
        } else if (!strcmp(argv[i], "--seats") && value) {
            if ((seats = bench_parse(value, 1, BENCH_SEATS_MAX)) < 0) return bench_usage(stderr);
            i++;
        } else if (!strcmp(argv[i], "--seconds") && value) {
            if ((seconds = bench_parse(value, 1, BENCH_SECONDS_MAX)) < 0)
                return bench_usage(stderr);
            i++;
        } else {
            return bench_usage(stderr);
        }
    }
    char path[BENCH_PATH_MAX];
    snprintf(path, sizeof(path), "%s/sqlite_bench.db", dir);
    /* as src/store/store_sqlite.c configures SQLite before its first use */
    if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK) {
        fprintf(stderr, "sqlite_bench: cannot turn SQLite's memory statistics off\n");
        return 1;
    }

    static const uint32_t batches[] = {1, 100, 1000};
    printf("sqlite_bench: SQLite %s, WAL, synchronous=FULL, %ld seats, up to %ld s per run\n",
           sqlite3_libversion(), seats, seconds);
    for (size_t r = 0; r < sizeof(batches) / sizeof(batches[0]); r++) {
        bench_db b;
        bench_result res;
        if (bench_open(&b, path, (uint32_t)seats) != 0) return 1;
        int rc = bench_measure(&b, (uint32_t)seats, batches[r], (double)seconds, &res);
        bench_close(&b);
        if (rc != 0 || res.updates == 0) return 1;
        printf("sqlite_bench: batch=%" PRIu32 " updates=%" PRIu32
               " seconds=%.2f updates_per_s=%.0f cpu_us_per_update=%.1f"
               " wall_us_per_update=%.1f\n",
               batches[r], res.updates, res.wall_s, res.updates / res.wall_s,
               res.cpu_s * 1e6 / res.updates, res.wall_s * 1e6 / res.updates);
        fflush(stdout);
    }
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char side[BENCH_PATH_MAX + 8];
        snprintf(side, sizeof(side), "%s%s", path, suffixes[i]);
        unlink(side);
    }
    return 0;
}
