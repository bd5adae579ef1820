/* store_sqlite: what only the embedded store has: its file, schema and migrations, its
 * checkpointer, the outbox rows and CHECK constraints as SQLite keeps them, the feed's table,
 * and its read pool. Results are checked with plain SQLite queries on the database file wherever
 * the store's own reads could hide a mistake. (What every backend must do is in
 * conformance.c.) */
#include "../test.h"

#include "../fixtures.h"
#include "store/sqlite/internal.h"
#include "store/store.h"
#include "util/ids.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { SCHEMA_VERSION = 4 };

static store *open_store(const char *dir)
{
    store *st = NULL;
    char err[256] = "";
    store_options o = {.data_dir = dir, .readers = 2};
    if (store_sqlite_open(&o, &st, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "store_sqlite_open(%s): %s", dir, err);
        return NULL;
    }
    return st;
}

/* Run one command on st at now_ms with default rules; returns its rc (-1 if the batch failed). */
static int run1(store *st, store_cmd *cmd, int64_t now_ms)
{
    store_rules rules = {.checkout_timeout_s = 900,
                         .max_attempts = 3,
                         .lease_ms = 30000,
                         .idempotency_ttl_s = 86400,
                         .feed_retain = 1000000};
    store_batch b = {.now_ms = now_ms, .rules = &rules, .node_id = "n", .cmds = &cmd, .count = 1};
    change_page_init(&b.changes);
    store_status status = store_batch_run(st, &b);
    change_page_free(&b.changes);
    return status == STORE_OK ? (int)cmd->rc : -1;
}

/* Event id: Floor rows A, B of 4 seats; a Balcony (with a name to escape) row C of 2. */
static int create_event(store *st, const char *id)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_EVENT_CREATE);
    event_spec *spec = &cmd->u.event_create.spec;
    fx_spec_init(spec, id, 600, 10);
    static const char *const floor_rows[] = {"A", "B"};
    static const char *const balcony_rows[] = {"C"};
    fx_spec_add_section(spec, "Floor", 5000, 4, floor_rows, 2);
    fx_spec_add_section(spec, "Balcony \"up\" caf\xc3\xa9", 2500, 2, balcony_rows, 1);
    int rc = run1(st, cmd, 1000);
    model_event_spec_free(spec);
    free(cmd);
    return rc;
}

/* Hold seats ("A1,B2") of event for user at now_ms; the hold's id into id_out (may be NULL). */
static int hold(store *st, const char *event_id, const char *seats, int64_t now_ms, char *id_out)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_HOLD);
    hold_record *h = &cmd->u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", event_id);
    snprintf(h->user_id, sizeof(h->user_id), "alice");
    char list[128];
    snprintf(list, sizeof(list), "%s", seats);
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        snprintf(h->seat_ids[h->seat_count++], TIX_SEAT_ID_LEN_MAX, "%s", p);
    int rc = run1(st, cmd, now_ms);
    if (id_out) snprintf(id_out, TIX_HOLD_ID_LEN + 1, "%s", h->id);
    free(cmd);
    return rc;
}

TEST(store_open_creates_the_data_dir_and_a_wal_database_at_the_current_schema)
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
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), SCHEMA_VERSION);
    char *mode = fx_sql_text(dir, "PRAGMA journal_mode");
    bool wal = mode && strcmp(mode, "wal") == 0;
    free(mode);
    ASSERT_TRUE(wal);
    static const char *const tables[] = {"meta",  "events", "sections", "seats",
                                         "holds", "outbox", "feed",     NULL};
    for (size_t i = 0; tables[i]; i++)
        ASSERT_EQ_INT(fx_sql_int(dir, -1,
                                 "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"
                                 " AND name = '%s'",
                                 tables[i]),
                      1);
    /* the store's id, made once */
    char *id = fx_sql_text(dir, "SELECT value FROM meta WHERE key = 'store_id'");
    bool same = id && strcmp(id, store_id(st)) == 0 && ids_is_valid_hex(id, strlen(id));
    free(id);
    ASSERT_TRUE(same);
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
    store_options o = {.data_dir = dir, .readers = 1};
    ASSERT_EQ_INT(store_sqlite_open(&o, &st, err, sizeof(err)), -1);
    ASSERT_NULL(st);
    ASSERT_CONTAINS(err, "data dir");
}

TEST(store_open_refuses_a_database_from_a_newer_schema)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_exec(dir, "PRAGMA user_version = 99"), 0);
    char err[256] = "";
    st = NULL;
    store_options o = {.data_dir = dir, .readers = 1};
    ASSERT_EQ_INT(store_sqlite_open(&o, &st, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "newer");
}

TEST(store_open_refuses_a_url_it_has_no_backend_for)
{
    store *st = NULL;
    char err[256] = "";
    store_options o = {.data_dir = test_tmpdir(), .url = "redis://127.0.0.1/", .readers = 1};
    ASSERT_EQ_INT(store_open(&o, &st, err, sizeof(err)), -1);
    ASSERT_NULL(st);
    ASSERT_CONTAINS(err, "redis://");
}

/* True when SQLite compiles sql (on DIR/tix.db) into a program that builds a temporary b-tree
 * (OpenEphemeral): what a CHECK "x IN (3 or more constants)" costs on every row written. */
static bool builds_temp_btree(const char *dir, const char *sql)
{
    return fx_sql_explain_has(dir, sql, "OpenEphemeral");
}

/* The statements of a hold, of a booking, of a delivery and of the feed never build a
 * temporary b-tree to check a status (schema version 2 on). */
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
        "INSERT INTO feed(seq, time_ms, kind, event_id, hold_seq, seat_ids)"
        " VALUES (99, 1, 'held', 'e', 1, '[]')",
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
    ASSERT_EQ_INT(create_event(st, "e1"), TIX_RC_OK);
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
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), SCHEMA_VERSION);
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
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM feed"), 0); /* it starts empty */
    event_spec spec;
    bool found = false;
    ASSERT_EQ_INT(store_event_get(st, "v1-show", &spec, &found, NULL), 0);
    ASSERT_TRUE(found);
    model_event_spec_free(&spec);

    /* the migrated store takes holds through its prepared statements, and feeds them */
    ASSERT_EQ_INT(hold(st, "v1-show", "A2", 1900000000000, NULL), TIX_RC_OK);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 2);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM feed WHERE kind = 'held'"), 1);
    assert_writes_build_no_temp_btree(dir);

    st = open_store(dir); /* a second open has nothing to migrate */
    ASSERT_NOT_NULL(st);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "PRAGMA user_version"), SCHEMA_VERSION);
}

TEST(store_outbox_rows_carry_fresh_ids_and_the_hold_as_data)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(create_event(st, "e1"), TIX_RC_OK);
    char id1[TIX_HOLD_ID_LEN + 1], id2[TIX_HOLD_ID_LEN + 1];
    ASSERT_EQ_INT(hold(st, "e1", "A1", 1234, id1), TIX_RC_OK);
    ASSERT_EQ_INT(hold(st, "e1", "A2", 1235, id2), TIX_RC_OK);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(DISTINCT id) FROM outbox"), 3);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT time_ms FROM outbox WHERE type = 'HoldCreated'"
                             " AND aggregate_id = '%s' AND event_id = 'e1'",
                             id1),
                  1234);
    char *data = fx_sql_text(dir, "SELECT data FROM outbox WHERE aggregate_id = '%s'", id2);
    bool ok = data && strstr(data, "\"hold_id\":\"") && strstr(data, id2) &&
              strstr(data, "\"seat_ids\":[\"A2\"]");
    free(data);
    ASSERT_TRUE(ok);
    char *id = fx_sql_text(dir, "SELECT id FROM outbox ORDER BY seq DESC LIMIT 1");
    ok = id && ids_is_valid_hex(id, strlen(id));
    free(id);
    ASSERT_TRUE(ok);
    /* no subscriber takes HoldCreated by default: no delivery */
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT COUNT(*) FROM deliveries"), 0);
}

TEST(store_ping_records_the_last_write_time)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    store_cmd cmd;
    for (int64_t t = 1; t <= 2; t++) {
        store_cmd_init(&cmd, STORE_CMD_PING);
        ASSERT_EQ_INT(run1(st, &cmd, t * 1000), TIX_RC_OK);
    }
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT value FROM meta WHERE key = 'last_write_ms'"), 2000);
    store_close(st);
}

TEST(store_feed_rows_are_what_the_changes_say)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(create_event(st, "e1"), TIX_RC_OK);
    char id[TIX_HOLD_ID_LEN + 1];
    ASSERT_EQ_INT(hold(st, "e1", "B1,C2", 5000, id), TIX_RC_OK);
    store_close(st);
    ASSERT_EQ_INT(fx_sql_int(dir, -1, "SELECT max(seq) FROM feed"), 2);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM feed f JOIN holds h ON h.seq = f.hold_seq"
                             " WHERE f.seq = 2 AND f.kind = 'held' AND f.event_id = 'e1'"
                             " AND f.seat_ids = '[\"B1\",\"C2\"]' AND f.time_ms = 5000"
                             " AND f.expires_ms = h.expires_at_ms AND h.id = '%s'",
                             id),
                  1);
    ASSERT_EQ_INT(fx_sql_int(dir, -1,
                             "SELECT COUNT(*) FROM feed WHERE seq = 1 AND kind = 'event_created'"
                             " AND event_id = 'e1'"),
                  1);
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
        if (store_hold_get(p->st, p->id, &got, &found, NULL) != 0 || !found ||
            strcmp(got.id, p->id) != 0)
            atomic_fetch_add(&p->bad, 1);
    }
    return NULL;
}

TEST(store_read_pool_serves_more_threads_than_it_has_connections)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir); /* 2 readers */
    ASSERT_NOT_NULL(st);
    ASSERT_EQ_INT(create_event(st, "e1"), TIX_RC_OK);
    char id[TIX_HOLD_ID_LEN + 1];
    ASSERT_EQ_INT(hold(st, "e1", "A1", 1000, id), TIX_RC_OK);
    pool_ctx p = {.st = st, .id = id};
    pthread_t threads[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&threads[i], NULL, pool_reader, &p);
    for (int i = 0; i < 6; i++)
        pthread_join(threads[i], NULL);
    ASSERT_EQ_INT(atomic_load(&p.bad), 0);
    store_close(st);
}

/* Regression: the feed's bounds were read as SELECT min(seq), max(seq), which SQLite answers by
 * scanning the whole table (it finds a lone min or max with one seek): the feed's poller read
 * every change kept, 20 times a second. Neither the bounds nor the writer's head scan. */
TEST(store_reads_the_feeds_bounds_and_head_without_a_scan)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    store_close(st);
    ASSERT_FALSE(fx_sql_plan_has(dir, sqlite_rsql_text[RSQL_FEED_BOUNDS], "SCAN feed"));
    ASSERT_FALSE(fx_sql_plan_has(dir, sqlite_sql_text[SQL_FEED_HEAD], "SCAN feed"));
    /* the check itself sees a scan */
    ASSERT_TRUE(fx_sql_plan_has(dir, "SELECT min(seq), max(seq) FROM feed", "SCAN feed"));
}

/* An event's stats (GET /admin/events/{id}/stats) read a range of bookings_by_event (schema
 * version 4), not every booking of every event, at every refresh of the organiser's page. */
TEST(store_reads_an_events_stats_without_a_scan_of_every_booking)
{
    const char *dir = test_tmpdir();
    store *st = open_store(dir);
    ASSERT_NOT_NULL(st);
    store_close(st);
    ASSERT_FALSE(fx_sql_plan_has(dir, sqlite_store_stats_sql, "SCAN bookings"));
    ASSERT_TRUE(fx_sql_plan_has(dir, sqlite_store_stats_sql, "bookings_by_event"));
    /* the check itself sees a scan without the index */
    ASSERT_EQ_INT(fx_sql_exec(dir, "DROP INDEX bookings_by_event"), 0);
    ASSERT_TRUE(fx_sql_plan_has(dir, sqlite_store_stats_sql, "SCAN bookings"));
}
