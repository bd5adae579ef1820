/* store_sqlite: schema, durability across reopen, the conditional seat write, holds,
 * transactions and savepoints, the outbox, and the read pool. Results are checked with plain
 * SQLite queries on the database file wherever the store's own reads could hide a mistake. */
#include "../test.h"

#include "../fixtures.h"
#include "store/store.h"
#include "util/ids.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static store *open_store(const char *dir)
{
    store *st = NULL;
    char err[256] = "";
    if (store_sqlite_open(dir, 2, &st, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "store_sqlite_open(%s): %s", dir, err);
        return NULL;
    }
    return st;
}

/* Event "e1": Floor rows A, B of 4 seats (A1..A4, B1..B4), Balcony row C of 2 (C1, C2). */
static void small_spec(event_spec *spec, const char *id)
{
    fx_spec_init(spec, id, 600, 10);
    static const char *const floor_rows[] = {"A", "B"};
    static const char *const balcony_rows[] = {"C"};
    fx_spec_add_section(spec, "Floor", 5000, 4, floor_rows, 2);
    fx_spec_add_section(spec, "Balcony \"up\" caf\xc3\xa9", 2500, 2, balcony_rows, 1);
}

/* Insert event id (small_spec) in its own transaction. */
static int insert_event(store *st, const char *id)
{
    event_spec spec;
    small_spec(&spec, id);
    bool exists = true;
    int rc = store_begin(st);
    if (rc == 0) rc = store_tx_event_insert(st, &spec, &exists);
    if (rc == 0 && exists) rc = -1;
    if (rc == 0) rc = store_commit(st);
    if (rc != 0) store_rollback(st);
    model_event_spec_free(&spec);
    return rc;
}

/* A hold record ready for store_tx_hold_insert. seats: NULL-terminated. */
static hold_record make_hold(const char *event_id, const char *user_id, int64_t created_ms,
                             int64_t expires_ms, const char *const *seats)
{
    hold_record h;
    memset(&h, 0, sizeof(h));
    ids_random_hex(h.id);
    snprintf(h.event_id, sizeof(h.event_id), "%s", event_id);
    snprintf(h.user_id, sizeof(h.user_id), "%s", user_id);
    h.status = HOLD_ACTIVE;
    h.created_at_ms = created_ms;
    h.expires_at_ms = expires_ms;
    for (; seats && seats[h.seat_count]; h.seat_count++)
        snprintf(h.seat_ids[h.seat_count], TIX_SEAT_ID_LEN_MAX, "%s", seats[h.seat_count]);
    return h;
}

/* Insert a hold and take its seats (all must be available) in the open transaction. */
static int hold_and_take(store *st, hold_record *h)
{
    if (store_tx_hold_insert(st, h) != 0) return -1;
    for (uint32_t i = 0; i < h->seat_count; i++) {
        bool taken = false;
        if (store_tx_seat_take(st, h->event_id, h->seat_ids[i], h->seq, &taken) != 0 || !taken)
            return -1;
    }
    return 0;
}

/* ---- events_load / seats_load collectors ---- */

typedef struct loaded {
    uint32_t count;
    event_spec specs[8];
} loaded;

static int collect_event(void *ctx, event_spec *spec)
{
    loaded *l = ctx;
    if (l->count == 8) return -1;
    l->specs[l->count++] = *spec; /* take ownership */
    memset(spec, 0, sizeof(*spec));
    return 0;
}

static void loaded_free(loaded *l)
{
    for (uint32_t i = 0; i < l->count; i++)
        model_event_spec_free(&l->specs[i]);
    l->count = 0;
}

typedef struct seat_row {
    char seat_id[TIX_SEAT_ID_LEN_MAX];
    seat_status status;
    int64_t hold_seq, expires_ms;
} seat_row;

typedef struct seats_loaded {
    uint32_t count;
    seat_row rows[32];
} seats_loaded;

static int collect_seat(void *ctx, const char *seat_id, seat_status status, int64_t hold_seq,
                        int64_t hold_expires_ms)
{
    seats_loaded *l = ctx;
    if (l->count == 32) return -1;
    seat_row *r = &l->rows[l->count++];
    snprintf(r->seat_id, sizeof(r->seat_id), "%s", seat_id);
    r->status = status;
    r->hold_seq = hold_seq;
    r->expires_ms = hold_expires_ms;
    return 0;
}

static const seat_row *seat_in(const seats_loaded *l, const char *seat_id)
{
    for (uint32_t i = 0; i < l->count; i++)
        if (strcmp(l->rows[i].seat_id, seat_id) == 0) return &l->rows[i];
    return NULL;
}

/* ---- tests ---- */

TEST(store_open_creates_the_data_dir_and_a_wal_database_at_schema_version_2)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    struct stat sb;
    ASSERT_EQ_INT(stat(dir, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0700);
    char path[300];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    ASSERT_EQ_INT(stat(path, &sb), 0);
    ASSERT_EQ_INT(sb.st_mode & 0777, 0600);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), 2);
    char *mode = fx_sql_text(dir, "PRAGMA journal_mode");
    bool wal = mode && strcmp(mode, "wal") == 0;
    free(mode);
    ASSERT_TRUE(wal);
    static const char *const tables[] = {"meta",  "events", "sections", "seats",
                                         "holds", "outbox", NULL};
    for (size_t i = 0; tables[i]; i++)
        ASSERT_EQ_INT(fx_sql_int(dir, -1,
                                 "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
                                 " AND name = '%s'",
                                 tables[i]),
                      1);
    store_close(st);
}

/* The nice value of this process's thread named NAME, or INT_MIN if there is none. */
static int store_test__thread_nice(const char *name)
{
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return INT_MIN;
    int nice = INT_MIN;
    for (struct dirent *e; nice == INT_MIN && (e = readdir(tasks));) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        bool named = fgets(comm, sizeof(comm), f) && strcspn(comm, "\n") == strlen(name) &&
                     strncmp(comm, name, strlen(name)) == 0;
        fclose(f);
        errno = 0; /* getpriority can return -1 as a value; on Linux a nice is per thread */
        int value = named ? getpriority(PRIO_PROCESS, (id_t)atoi(e->d_name)) : -1;
        if (named && errno == 0) nice = value;
    }
    closedir(tasks);
    return nice;
}

TEST(store_checkpointer_runs_below_the_request_threads_priority)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/data", test_tmpdir());
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    int own = getpriority(PRIO_PROCESS, 0);
    int nice = INT_MIN;
    for (int i = 0; i < 200 && nice != 10; i++) { /* the thread sets it as it starts */
        nice = store_test__thread_nice("tix-checkpoint");
        usleep(10 * 1000);
    }
    store_close(st);
    if (own < 10) ASSERT_EQ_INT(nice, 10); /* a process already nicer keeps its own */
}

TEST(store_open_fails_with_a_reason_when_the_data_dir_cannot_be_made)
{
    char dir[256], err[256] = "";
    snprintf(dir, sizeof(dir), "%s/no/such/parent", test_tmpdir());
    store *st = NULL;
    ASSERT_EQ_INT(store_sqlite_open(dir, 1, &st, err, sizeof(err)), -1);
    ASSERT_NULL(st);
    ASSERT_CONTAINS(err, "data dir");
}

TEST(store_open_refuses_a_database_from_a_newer_schema)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    store_close(st);
    char path[300];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char err[256] = "";
    st = NULL;
    ASSERT_EQ_INT(store_sqlite_open(dir, 1, &st, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "newer");
}

/* True when SQLite compiles sql (on DIR/tix.db) into a program that builds a temporary b-tree
 * (OpenEphemeral): what a CHECK "x IN (3 or more constants)" costs on every row written. */
static bool builds_temp_btree(const char *dir, const char *sql)
{
    return fx_sql_explain_has(dir, sql, "OpenEphemeral");
}

/* The statements of a hold, of a booking and of a delivery never build a temporary b-tree to
 * check a status (schema version 2). */
static void assert_writes_build_no_temp_btree(const char *dir)
{
    static const char *const writes[] = {
        "UPDATE seats SET status = 'held', hold_seq = 1 WHERE event_id = 'x' AND seat_id = 'y'"
        " AND status = 'available'",
        "INSERT INTO holds(id, event_id, user_id, status, seat_ids, created_at_ms,"
        " expires_at_ms) VALUES ('i', 'e', 'u', 'active', '[]', 1, 2)",
        "UPDATE holds SET status = 'released' WHERE seq = 1",
        "UPDATE bookings SET status = 'confirmed' WHERE seq = 1",
        "UPDATE deliveries SET status = 'delivered' WHERE seq = 1",
        "INSERT INTO subscribers(id, kind, created_at_ms) VALUES ('w', 'webhook', 0)",
        NULL,
    };
    for (size_t i = 0; writes[i]; i++) {
        if (builds_temp_btree(dir, writes[i]))
            test_fail(__FILE__, __LINE__, "builds a temporary b-tree: %s", writes[i]);
    }
    ASSERT_EQ_INT(
        fx_sql_int(dir, -1,
                   "SELECT COUNT(*) FROM sqlite_schema WHERE sql LIKE '%%CHECK (status IN%%'"
                   " OR sql LIKE '%%CHECK (kind IN%%'"),
        0);
}

TEST(store_schema_checks_statuses_without_a_temporary_btree)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    store_close(st);
    assert_writes_build_no_temp_btree(dir);
    /* the constraints still hold */
    ASSERT_EQ_INT(fx_sql_exec(dir, "UPDATE seats SET status = 'lost' WHERE seat_id = 'A1'"), -1);
    ASSERT_EQ_INT(fx_sql_exec(dir, "INSERT INTO holds(id, event_id, user_id, status, seat_ids,"
                                   " created_at_ms, expires_at_ms)"
                                   " VALUES ('i', 'e1', 'u', 'gone', '[]', 1, 2)"),
                  -1);
    ASSERT_EQ_INT(fx_sql_exec(dir, "INSERT INTO subscribers(id, kind, created_at_ms)"
                                   " VALUES ('w', 'pigeon', 0)"),
                  -1);
    ASSERT_EQ_INT(fx_sql_exec(dir, "UPDATE seats SET status = 'sold' WHERE seat_id = 'A1'"), 0);
}

/* tests/fixtures/tix-schema-v1.db: made by tix at schema version 1 (the last commit before
 * version 2): event v1-show (A1-A3, B1-B3), alice's active hold of A1 (lapsed), bob's hold of B1
 * and B2 checked out, paid and booked (seats sold), its outbox rows and deliveries. */
TEST(store_open_migrates_a_schema_1_database_and_keeps_its_data)
{
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    ASSERT_EQ_INT(fx_copy_file("tests/fixtures/tix-schema-v1.db", path), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), 1);
    int64_t outbox_before = fx_sql_int(dir, -1, "SELECT COUNT(*) FROM outbox");

    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), 2);
    char *check = fx_sql_text(dir, "PRAGMA integrity_check");
    ASSERT_EQ_STR(check, "ok");
    free(check);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'sold'"), 2);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM holds WHERE status = 'active'"
                             " AND user_id = 'alice'"),
                  1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM bookings WHERE status = 'confirmed'"
                             " AND user_id = 'bob'"),
                  1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM outbox"), outbox_before);
    loaded l = {0};
    ASSERT_EQ_INT(store_events_load(st, collect_event, &l), 0);
    ASSERT_EQ_INT(l.count, 1);
    ASSERT_EQ_STR(l.specs[0].id, "v1-show");
    loaded_free(&l);

    /* the migrated store takes holds through its (re)prepared statements */
    static const char *const seats[] = {"A2", NULL};
    hold_record h = make_hold("v1-show", "carol", 1000, 2000, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 2);
    assert_writes_build_no_temp_btree(dir);

    st = open_store(dir); /* a second open has nothing to migrate */
    ASSERT_NOT_NULL(st);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), 2);
}

TEST(store_reopen_keeps_the_schema_and_the_data)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const seats[] = {"A1", "B2", NULL};
    hold_record h = make_hold("e1", "alice", 1000, 2000, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    store_close(st);

    st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), 2);
    loaded l = {0};
    ASSERT_EQ_INT(store_events_load(st, collect_event, &l), 0);
    ASSERT_EQ_INT(l.count, 1);
    ASSERT_EQ_STR(l.specs[0].id, "e1");
    loaded_free(&l);
    hold_record got;
    bool found = false;
    ASSERT_EQ_INT(store_hold_get(st, h.id, &got, &found), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(got.seq, h.seq);
    ASSERT_EQ_INT(got.seat_count, 2);
    seats_loaded sl = {0};
    ASSERT_EQ_INT(store_seats_load(st, "e1", collect_seat, &sl), 0);
    ASSERT_EQ_INT(sl.count, 2);
    store_close(st);
}

TEST(store_event_insert_round_trips_through_events_load)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    event_spec spec;
    small_spec(&spec, "e1");
    spec.starts_at_ms = 1811878200000;
    spec.hold_ttl_s = 120;
    spec.max_seats_per_hold = 4;
    spec.created_at_ms = 1700000000123;
    bool exists = true;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_event_insert(st, &spec, &exists), 0);
    ASSERT_FALSE(exists);
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(insert_event(st, "e2"), 0);

    loaded l = {0};
    ASSERT_EQ_INT(store_events_load(st, collect_event, &l), 0);
    ASSERT_EQ_INT(l.count, 2);
    const event_spec *got = &l.specs[0];
    ASSERT_EQ_STR(got->id, "e1");
    ASSERT_EQ_STR(l.specs[1].id, "e2"); /* creation order */
    ASSERT_EQ_STR(got->name, spec.name);
    ASSERT_EQ_STR(got->venue, spec.venue);
    ASSERT_EQ_INT(got->starts_at_ms, 1811878200000);
    ASSERT_EQ_INT(got->hold_ttl_s, 120);
    ASSERT_EQ_INT(got->max_seats_per_hold, 4);
    ASSERT_EQ_INT(got->created_at_ms, 1700000000123);
    ASSERT_EQ_INT(got->section_count, 2);
    for (uint32_t s = 0; s < 2; s++) {
        ASSERT_EQ_STR(got->sections[s].name, spec.sections[s].name);
        ASSERT_EQ_INT(got->sections[s].price_cents, spec.sections[s].price_cents);
        ASSERT_EQ_INT(got->sections[s].seats_per_row, spec.sections[s].seats_per_row);
        ASSERT_EQ_INT(got->sections[s].row_count, spec.sections[s].row_count);
        for (uint32_t r = 0; r < spec.sections[s].row_count; r++)
            ASSERT_EQ_STR(got->sections[s].rows[r], spec.sections[s].rows[r]);
    }
    ASSERT_EQ_UINT(model_event_seat_count(got), 10);
    loaded_free(&l);
    model_event_spec_free(&spec);

    /* every seat is in the store, available, without a holder */
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE event_id = 'e1'"), 10);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM seats WHERE event_id = 'e1'"
                             " AND status = 'available' AND hold_seq IS NULL"),
                  10);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT number FROM seats WHERE event_id = 'e1' AND seat_id = 'B4'"
                             " AND row_label = 'B' AND section_idx = 0"),
                  4);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT section_idx FROM seats WHERE event_id = 'e1'"
                             " AND seat_id = 'C2'"),
                  1);
    /* with no holds, no seat is loaded */
    seats_loaded sl = {0};
    ASSERT_EQ_INT(store_seats_load(st, "e1", collect_seat, &sl), 0);
    ASSERT_EQ_INT(sl.count, 0);
    store_close(st);
}

TEST(store_event_insert_of_an_existing_id_reports_exists_and_changes_nothing)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    event_spec spec;
    fx_spec_init(&spec, "e1", 60, 2);
    static const char *const rows[] = {"Z"};
    fx_spec_add_section(&spec, "Other", 1, 3, rows, 1);
    bool exists = false;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_event_insert(st, &spec, &exists), 0);
    ASSERT_TRUE(exists);
    ASSERT_EQ_INT(store_commit(st), 0);
    model_event_spec_free(&spec);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM events"), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT hold_ttl_s FROM events WHERE id = 'e1'"), 600);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE seat_id LIKE 'Z%%'"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM sections"), 2);
    store_close(st);
}

TEST(store_seat_take_is_conditional_on_the_seat_being_available)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const seats[] = {"A1", NULL};
    hold_record h1 = make_hold("e1", "alice", 1000, 9000, seats);
    hold_record h2 = make_hold("e1", "bob", 1000, 9000, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &h1), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &h2), 0);
    ASSERT_GT(h1.seq, 0);
    ASSERT_GT(h2.seq, h1.seq);
    bool taken = false;
    ASSERT_EQ_INT(store_tx_seat_take(st, "e1", "A1", h1.seq, &taken), 0);
    ASSERT_TRUE(taken);
    taken = true;
    ASSERT_EQ_INT(store_tx_seat_take(st, "e1", "A1", h2.seq, &taken), 0);
    ASSERT_FALSE(taken);
    taken = true;
    ASSERT_EQ_INT(store_tx_seat_take(st, "e1", "A1", h1.seq, &taken), 0); /* even for its holder */
    ASSERT_FALSE(taken);
    taken = true;
    ASSERT_EQ_INT(store_tx_seat_take(st, "e1", "Q9", h2.seq, &taken), 0); /* no such seat */
    ASSERT_FALSE(taken);
    ASSERT_EQ_INT(store_tx_seat_take(st, "e2", "A1", h2.seq, &taken), 0); /* no such event */
    ASSERT_FALSE(taken);
    int64_t holder = -1;
    ASSERT_EQ_INT(store_tx_seat_holder(st, "e1", "A1", &holder), 0);
    ASSERT_EQ_INT(holder, h1.seq);
    ASSERT_EQ_INT(store_tx_seat_holder(st, "e1", "A2", &holder), 0);
    ASSERT_EQ_INT(holder, 0);
    ASSERT_EQ_INT(store_tx_seat_holder(st, "e1", "Q9", &holder), 0);
    ASSERT_EQ_INT(holder, 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT hold_seq FROM seats WHERE event_id = 'e1' AND seat_id = 'A1'"
                             " AND status = 'held'"),
                  h1.seq);
    store_close(st);
}

TEST(store_hold_insert_then_get_by_id_and_by_seq_returns_every_field)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const seats[] = {"A1", "A2", "C2", NULL};
    hold_record h = make_hold("e1", "user \"q\" caf\xc3\xa9", 1111, 2222, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &h), 0);
    ASSERT_GT(h.seq, 0);
    for (int by_seq = 0; by_seq < 2; by_seq++) {
        hold_record got;
        bool found = false;
        ASSERT_EQ_INT(store_tx_hold_get(st, by_seq ? NULL : h.id, by_seq ? h.seq : 0, &got, &found),
                      0);
        ASSERT_TRUE(found);
        ASSERT_EQ_INT(got.seq, h.seq);
        ASSERT_EQ_STR(got.id, h.id);
        ASSERT_EQ_STR(got.event_id, "e1");
        ASSERT_EQ_STR(got.user_id, h.user_id);
        ASSERT_EQ_INT(got.status, HOLD_ACTIVE);
        ASSERT_EQ_INT(got.created_at_ms, 1111);
        ASSERT_EQ_INT(got.expires_at_ms, 2222);
        ASSERT_EQ_INT(got.ended_at_ms, 0);
        ASSERT_EQ_INT(got.seat_count, 3);
        ASSERT_EQ_STR(got.seat_ids[0], "A1");
        ASSERT_EQ_STR(got.seat_ids[1], "A2");
        ASSERT_EQ_STR(got.seat_ids[2], "C2");
    }
    hold_record got;
    bool found = true;
    ASSERT_EQ_INT(store_tx_hold_get(st, "0123456789abcdef0123456789abcdef", 0, &got, &found), 0);
    ASSERT_FALSE(found);
    found = true;
    ASSERT_EQ_INT(store_tx_hold_get(st, NULL, h.seq + 100, &got, &found), 0);
    ASSERT_FALSE(found);
    ASSERT_EQ_INT(store_commit(st), 0);
    store_close(st);
}

TEST(store_hold_insert_of_a_duplicate_id_fails)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    static const char *const seats[] = {"A1", NULL};
    hold_record h = make_hold("e1", "alice", 1, 2, seats);
    hold_record again = h;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &h), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &again), -1); /* logs a constraint error */
    store_rollback(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds"), 0);
    store_close(st);
}

TEST(store_hold_end_changes_only_an_active_hold_and_only_once)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const seats[] = {"B1", NULL};
    hold_record h = make_hold("e1", "alice", 1000, 5000, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    bool changed = false;
    ASSERT_EQ_INT(store_tx_hold_end(st, h.seq, HOLD_RELEASED, 3000, &changed), 0);
    ASSERT_TRUE(changed);
    changed = true;
    ASSERT_EQ_INT(store_tx_hold_end(st, h.seq, HOLD_RELEASED, 3500, &changed), 0);
    ASSERT_FALSE(changed);
    changed = true;
    ASSERT_EQ_INT(store_tx_hold_end(st, h.seq, HOLD_EXPIRED, 6000, &changed), 0);
    ASSERT_FALSE(changed);
    changed = true;
    ASSERT_EQ_INT(store_tx_hold_end(st, h.seq + 1000, HOLD_EXPIRED, 6000, &changed), 0);
    ASSERT_FALSE(changed);
    hold_record got;
    bool found = false;
    ASSERT_EQ_INT(store_tx_hold_get(st, NULL, h.seq, &got, &found), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(got.status, HOLD_RELEASED);
    ASSERT_EQ_INT(got.ended_at_ms, 3000);
    ASSERT_EQ_INT(store_commit(st), 0);
    /* ending a hold does not touch its seats */
    ASSERT_EQ_INT(
        fx_sql_int(dir, -1, "SELECT hold_seq FROM seats WHERE seat_id = 'B1' AND status = 'held'"),
        h.seq);
    char *status = fx_sql_text(dir, "SELECT status FROM holds WHERE seq = %lld", (long long)h.seq);
    bool released = status && strcmp(status, "released") == 0;
    free(status);
    ASSERT_TRUE(released);
    store_close(st);
}

TEST(store_seats_free_releases_exactly_the_seats_of_that_hold)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    ASSERT_EQ_INT(insert_event(st, "e2"), 0);
    static const char *const mine[] = {"A1", "A2", "C1", NULL}, *const theirs[] = {"A3", NULL};
    hold_record h1 = make_hold("e1", "alice", 1, 9000, mine);
    hold_record h2 = make_hold("e1", "bob", 1, 9000, theirs);
    hold_record h3 = make_hold("e2", "carol", 1, 9000, mine); /* same seat ids, other event */
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h1), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h2), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h3), 0);
    ASSERT_EQ_INT(store_tx_seats_free(st, h1.seq), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM seats WHERE event_id = 'e1' AND seat_id IN"
                             " ('A1','A2','C1') AND status = 'available' AND hold_seq IS NULL"),
                  3);
    ASSERT_EQ_INT(
        fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE hold_seq = %lld", (long long)h1.seq),
        0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 4);
    ASSERT_EQ_INT(
        fx_sql_int(dir, -1, "SELECT hold_seq FROM seats WHERE event_id = 'e1' AND seat_id = 'A3'"),
        h2.seq);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM seats WHERE event_id = 'e2' AND hold_seq = %lld",
                             (long long)h3.seq),
                  3);
    store_close(st);
}

TEST(store_seats_load_returns_every_seat_that_is_not_available_with_its_hold)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    ASSERT_EQ_INT(insert_event(st, "e2"), 0);
    static const char *const s1[] = {"A1", "B4", NULL}, *const s2[] = {"C1", NULL},
                             *const s3[] = {"A2", NULL};
    hold_record active = make_hold("e1", "a", 1, 7777, s1);
    hold_record released = make_hold("e1", "b", 1, 8888, s2);
    hold_record other_event = make_hold("e2", "c", 1, 9999, s3);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &active), 0);
    ASSERT_EQ_INT(hold_and_take(st, &released), 0);
    ASSERT_EQ_INT(hold_and_take(st, &other_event), 0);
    bool changed;
    ASSERT_EQ_INT(store_tx_hold_end(st, released.seq, HOLD_RELEASED, 5, &changed), 0);
    ASSERT_EQ_INT(store_tx_seats_free(st, released.seq), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    seats_loaded sl = {0};
    ASSERT_EQ_INT(store_seats_load(st, "e1", collect_seat, &sl), 0);
    ASSERT_EQ_INT(sl.count, 2);
    const seat_row *a1 = seat_in(&sl, "A1"), *b4 = seat_in(&sl, "B4");
    ASSERT_NOT_NULL(a1);
    ASSERT_NOT_NULL(b4);
    ASSERT_EQ_INT(a1->status, SEAT_HELD);
    ASSERT_EQ_INT(a1->hold_seq, active.seq);
    ASSERT_EQ_INT(a1->expires_ms, 7777);
    ASSERT_EQ_INT(b4->hold_seq, active.seq);
    store_close(st);
}

TEST(store_holds_due_lists_lapsed_live_holds_oldest_expiry_first_up_to_max)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    static const char *const seats[] = {"A1", NULL};
    static const int64_t expiries[] = {500, 100, 300, 900, 50, 600};
    hold_record h[6];
    ASSERT_EQ_INT(store_begin(st), 0);
    for (int i = 0; i < 6; i++) {
        h[i] = make_hold("e1", "u", 0, expiries[i], seats);
        ASSERT_EQ_INT(store_tx_hold_insert(st, &h[i]), 0);
    }
    bool changed;
    ASSERT_EQ_INT(store_tx_hold_end(st, h[4].seq, HOLD_RELEASED, 10, &changed), 0); /* the 50 */
    ASSERT_EQ_INT(store_commit(st), 0);

    ASSERT_EQ_INT(store_begin(st), 0);
    int64_t seqs[10];
    uint32_t n = 99;
    ASSERT_EQ_INT(store_tx_holds_due(st, 600, seqs, 10, &n), 0);
    ASSERT_EQ_INT(n, 4); /* 100, 300, 500, 600 (at or before now) */
    ASSERT_EQ_INT(seqs[0], h[1].seq);
    ASSERT_EQ_INT(seqs[1], h[2].seq);
    ASSERT_EQ_INT(seqs[2], h[0].seq);
    ASSERT_EQ_INT(seqs[3], h[5].seq);
    ASSERT_EQ_INT(store_tx_holds_due(st, 600, seqs, 2, &n), 0);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(seqs[0], h[1].seq);
    ASSERT_EQ_INT(seqs[1], h[2].seq);
    ASSERT_EQ_INT(store_tx_holds_due(st, 99, seqs, 10, &n), 0);
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(store_tx_holds_due(st, 100, seqs, 10, &n), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(store_tx_holds_due(st, 1000, seqs, 1, &n), 0);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(seqs[0], h[1].seq);
    store_rollback(st);
    store_close(st);
}

TEST(store_rollback_discards_everything_of_the_transaction)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "keep"), 0);
    event_spec spec;
    small_spec(&spec, "gone");
    static const char *const seats[] = {"A1", NULL};
    hold_record h = make_hold("keep", "u", 0, 100, seats);
    bool exists;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_event_insert(st, &spec, &exists), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    ASSERT_EQ_INT(store_tx_outbox_append(st, "HoldCreated", "keep", h.id, 5, "{}", NULL), 0);
    ASSERT_EQ_INT(store_tx_ping(st, 5), 0);
    store_rollback(st);
    model_event_spec_free(&spec);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM events"), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE event_id = 'gone'"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM sections WHERE event_id = 'gone'"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM outbox"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM meta"), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status <> 'available'"), 0);
    /* and the store goes on working */
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds"), 1);
    store_close(st);
}

TEST(store_savepoint_rollback_discards_only_that_command)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const sa[] = {"A1", NULL}, *const sb[] = {"A2", "A3", NULL},
                             *const sc[] = {"A2", NULL};
    hold_record a = make_hold("e1", "a", 0, 100, sa), b = make_hold("e1", "b", 0, 100, sb),
                c = make_hold("e1", "c", 0, 100, sc);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_savepoint(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &a), 0);
    ASSERT_EQ_INT(store_tx_outbox_append(st, "HoldCreated", "e1", a.id, 1, "{\"n\":1}", NULL), 0);
    ASSERT_EQ_INT(store_savepoint_release(st), 0);

    ASSERT_EQ_INT(store_savepoint(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &b), 0);
    ASSERT_EQ_INT(store_tx_outbox_append(st, "HoldCreated", "e1", b.id, 2, "{\"n\":2}", NULL), 0);
    ASSERT_EQ_INT(store_savepoint_rollback(st), 0);

    ASSERT_EQ_INT(store_savepoint(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &c), 0); /* A2 is free again */
    ASSERT_EQ_INT(store_savepoint_release(st), 0);
    ASSERT_EQ_INT(store_commit(st), 0);

    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds WHERE id = '%s'", a.id), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds WHERE id = '%s'", b.id), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM holds WHERE id = '%s'", c.id), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM outbox"), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT hold_seq FROM seats WHERE seat_id = 'A1'"), a.seq);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT hold_seq FROM seats WHERE seat_id = 'A2'"), c.seq);
    ASSERT_EQ_INT(fx_sql_int(dir, -2, "SELECT hold_seq FROM seats WHERE seat_id = 'A3'"), -2);
    store_close(st);
}

TEST(store_outbox_rows_are_written_with_a_fresh_id_each)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(store_begin(st), 0);
    bool delivered = true;
    ASSERT_EQ_INT(store_tx_outbox_append(st, "HoldCreated", "e1", "h1", 1234,
                                         "{\"hold_id\":\"h1\"}", &delivered),
                  0);
    ASSERT_FALSE(delivered); /* no subscriber takes HoldCreated by default */
    ASSERT_EQ_INT(store_tx_outbox_append(st, "EventCreated", "e2", "e2", 5678, "{}", NULL), 0);
    ASSERT_EQ_INT(store_tx_outbox_append(st, "Ping", NULL, NULL, 9, "{}", NULL), 0);
    delivered = false;
    ASSERT_EQ_INT(store_tx_outbox_append(st, "CheckoutStarted", "e1", "b1", 9, "{}", &delivered),
                  0);
    ASSERT_TRUE(delivered); /* the payment subscriber takes it */
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM deliveries"), 0); /* not committed */
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM deliveries"), 1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM outbox"), 4);
    char *type = fx_sql_text(dir, "SELECT type FROM outbox ORDER BY seq LIMIT 1");
    char *event_id = fx_sql_text(dir, "SELECT event_id FROM outbox ORDER BY seq LIMIT 1");
    char *aggregate = fx_sql_text(dir, "SELECT aggregate_id FROM outbox ORDER BY seq LIMIT 1");
    char *data = fx_sql_text(dir, "SELECT data FROM outbox ORDER BY seq LIMIT 1");
    char *id = fx_sql_text(dir, "SELECT id FROM outbox ORDER BY seq LIMIT 1");
    int64_t time_ms = fx_sql_int(dir, -1, "SELECT time_ms FROM outbox ORDER BY seq LIMIT 1");
    bool ok = type && strcmp(type, "HoldCreated") == 0 && event_id && strcmp(event_id, "e1") == 0 &&
              aggregate && strcmp(aggregate, "h1") == 0 && data &&
              strcmp(data, "{\"hold_id\":\"h1\"}") == 0 && id && ids_is_valid_hex(id, strlen(id));
    free(type), free(event_id), free(aggregate), free(data), free(id);
    ASSERT_TRUE(ok);
    ASSERT_EQ_INT(time_ms, 1234);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(DISTINCT id) FROM outbox"), 4);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM outbox WHERE type = 'Ping'"
                             " AND event_id IS NULL AND aggregate_id IS NULL"),
                  1);
    store_close(st);
}

TEST(store_ping_records_the_last_write_time)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    for (int64_t t = 1; t <= 2; t++) {
        ASSERT_EQ_INT(store_begin(st), 0);
        ASSERT_EQ_INT(store_tx_ping(st, t * 1000), 0);
        ASSERT_EQ_INT(store_commit(st), 0);
    }
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT value FROM meta WHERE key = 'last_write_ms'"), 2000);
    store_close(st);
}

TEST(store_hold_get_from_the_read_pool_sees_only_committed_data)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(insert_event(st, "e1"), 0);
    static const char *const seats[] = {"C1", NULL};
    hold_record h = make_hold("e1", "alice", 10, 20, seats);
    hold_record got;
    bool found = true;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(hold_and_take(st, &h), 0);
    /* inside the writer's open transaction: invisible to readers, and they do not block */
    ASSERT_EQ_INT(store_hold_get(st, h.id, &got, &found), 0);
    ASSERT_FALSE(found);
    ASSERT_EQ_INT(store_commit(st), 0);
    ASSERT_EQ_INT(store_hold_get(st, h.id, &got, &found), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(got.seq, h.seq);
    ASSERT_EQ_STR(got.user_id, "alice");
    ASSERT_EQ_INT(got.status, HOLD_ACTIVE);
    /* an uncommitted end is not seen either; a rolled-back one never is */
    bool changed;
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_hold_end(st, h.seq, HOLD_RELEASED, 15, &changed), 0);
    ASSERT_EQ_INT(store_hold_get(st, h.id, &got, &found), 0);
    ASSERT_EQ_INT(got.status, HOLD_ACTIVE);
    store_rollback(st);
    ASSERT_EQ_INT(store_hold_get(st, h.id, &got, &found), 0);
    ASSERT_EQ_INT(got.status, HOLD_ACTIVE);
    ASSERT_EQ_INT(store_hold_get(st, "ffffffffffffffffffffffffffffffff", &got, &found), 0);
    ASSERT_FALSE(found);
    store_close(st);
}

/* More readers than pool connections: each waits for a free one. */
typedef struct pool_ctx {
    store *st;
    const char *id;
    atomic_int bad;
} pool_ctx;

static void *pool_reader(void *arg)
{
    pool_ctx *p = arg;
    for (int i = 0; i < 50; i++) {
        hold_record got;
        bool found = false;
        if (store_hold_get(p->st, p->id, &got, &found) != 0 || !found || strcmp(got.id, p->id) != 0)
            atomic_fetch_add(&p->bad, 1);
    }
    return NULL;
}

TEST(store_read_pool_serves_more_threads_than_it_has_connections)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir); /* 2 readers */
    ASSERT_NOT_NULL(st);
    static const char *const seats[] = {"A1", NULL};
    hold_record h = make_hold("e1", "u", 1, 2, seats);
    ASSERT_EQ_INT(store_begin(st), 0);
    ASSERT_EQ_INT(store_tx_hold_insert(st, &h), 0);
    ASSERT_EQ_INT(store_commit(st), 0);
    pool_ctx p = {.st = st, .id = h.id};
    pthread_t threads[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&threads[i], NULL, pool_reader, &p);
    for (int i = 0; i < 6; i++)
        pthread_join(threads[i], NULL);
    ASSERT_EQ_INT(atomic_load(&p.bad), 0);
    store_close(st);
}
