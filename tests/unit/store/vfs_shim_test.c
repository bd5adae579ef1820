/* vfs_shim: the VFS every store connection uses.
 *
 * WAL frames: written with one write each (header and page joined), and the database reads
 * back what was committed, also after a crash (simulated by copying the database and its WAL
 * while the store is open, then opening the copy, which runs SQLite's WAL recovery).
 *
 * Storage faults (tests only), and what the store does when a commit fails under them: the
 * commit is refused, the store recovers once the fault is gone, and a commit refused by a
 * failed fsync does not come back from the WAL after a crash. Only this file sets a fault
 * directory, and it resets it when its test ends. */
#include "../test.h"

#include "../fixtures.h"
#include "store/vfs_shim.h"
#include "store/store.h"
#include "util/ids.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void vfs_shim_test__reset(void *arg)
{
    (void)arg;
    store_sqlite_set_fault_dir(NULL);
}

/* Arm (create) or disarm (remove) fault file `name` in dir. Returns 0 or -1. */
static int vfs_shim_test__arm(const char *dir, const char *name, bool armed)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!armed) return unlink(path);
    FILE *f = fopen(path, "w");
    return f && fclose(f) == 0 ? 0 : -1;
}

/* Run one command in its own batch (the writer's path). Returns its rc, or -1 when the batch
 * failed (nothing of it kept). */
static int vfs_shim_test__run(store *st, store_cmd *cmd)
{
    store_rules rules = {.max_attempts = 3, .lease_ms = 30000, .feed_retain = 1000000};
    store_batch b = {.now_ms = 1, .rules = &rules, .node_id = "n", .cmds = &cmd, .count = 1};
    change_page_init(&b.changes);
    store_status status = store_batch_run(st, &b);
    change_page_free(&b.changes);
    return status == STORE_OK ? (int)cmd->rc : -1;
}

/* One transaction: a hold of seat `seat_id` of e1. Returns 0 when it committed, -1 when the
 * store failed (or refused it). */
static int vfs_shim_test__hold(store *st, const char *seat_id)
{
    store_cmd cmd;
    store_cmd_init(&cmd, STORE_CMD_HOLD);
    hold_record *h = &cmd.u.hold.hold;
    memset(h, 0, sizeof(*h));
    snprintf(h->event_id, sizeof(h->event_id), "e1");
    snprintf(h->user_id, sizeof(h->user_id), "user-%s", seat_id);
    h->seat_count = 1;
    snprintf(h->seat_ids[0], TIX_SEAT_ID_LEN_MAX, "%s", seat_id);
    return vfs_shim_test__run(st, &cmd) == TIX_RC_OK ? 0 : -1;
}

/* Copy the database and its WAL as they are on disk (a crash image) into dir image. */
static int vfs_shim_test__crash_image(const char *data, const char *image)
{
    char from[600], to[600];
    for (int i = 0; i < 2; i++) {
        const char *suffix = i == 0 ? "" : "-wal";
        snprintf(from, sizeof(from), "%s/tix.db%s", data, suffix);
        snprintf(to, sizeof(to), "%s/tix.db%s", image, suffix);
        if (fx_copy_file(from, to) != 0) return -1;
    }
    return 0;
}

/* Open a store in data with event e1 of rows A.. (row_count x seats_per_row seats). NULL
 * after a failed assertion. */
static store *vfs_shim_test__open(const char *data, uint32_t row_count, uint32_t seats_per_row)
{
    store *st = NULL;
    char err[256] = "";
    store_options o = {.data_dir = data, .readers = 1};
    if (store_sqlite_open(&o, &st, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "store_sqlite_open: %s", err);
        return NULL;
    }
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    store_cmd_init(cmd, STORE_CMD_EVENT_CREATE);
    fx_spec_init(&cmd->u.event_create.spec, "e1", 86400, 10);
    fx_spec_add_rows(&cmd->u.event_create.spec, "Floor", 5000, seats_per_row, 0, row_count);
    int rc = vfs_shim_test__run(st, cmd);
    model_event_spec_free(&cmd->u.event_create.spec);
    free(cmd);
    if (rc != TIX_RC_OK) {
        test_fail(__FILE__, __LINE__, "creating e1");
        store_close(st);
        return NULL;
    }
    return st;
}

/* A reader in a read transaction on data/tix.db: the WAL cannot be restarted while it lasts,
 * so every frame written meanwhile is appended. NULL after a failed assertion. */
static sqlite3 *vfs_shim_test__pin_wal(const char *data)
{
    sqlite3 *reader = NULL;
    char db[300];
    snprintf(db, sizeof(db), "%s/tix.db", data);
    if (sqlite3_open_v2(db, &reader, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM holds;", NULL, NULL, NULL) != SQLITE_OK) {
        test_fail(__FILE__, __LINE__, "cannot pin the WAL");
        sqlite3_close(reader);
        return NULL;
    }
    return reader;
}

TEST(store_commits_refused_by_fsync_or_write_faults_leave_no_trace_even_after_a_crash)
{
    char data[256], faults[256], image[256];
    snprintf(data, sizeof(data), "%s/data", test_tmpdir());
    snprintf(faults, sizeof(faults), "%s/faults", test_tmpdir());
    snprintf(image, sizeof(image), "%s/image", test_tmpdir());
    ASSERT_EQ_INT(mkdir(faults, 0700), 0);
    ASSERT_EQ_INT(mkdir(image, 0700), 0);
    store_sqlite_set_fault_dir(faults);
    test_defer(vfs_shim_test__reset, NULL);
    store *st = vfs_shim_test__open(data, 1, 8); /* A1..A8 */
    ASSERT_NOT_NULL(st);

    /* a failed write, then a failed fsync: refused; gone: accepted again, no reopen */
    ASSERT_EQ_INT(vfs_shim_test__arm(faults, "fail-write", true), 0);
    ASSERT_EQ_INT(vfs_shim_test__hold(st, "A1"), -1);
    ASSERT_EQ_INT(vfs_shim_test__arm(faults, "fail-write", false), 0);
    ASSERT_EQ_INT(vfs_shim_test__hold(st, "A1"), 0);

    sqlite3 *reader = vfs_shim_test__pin_wal(data); /* the refused commit is appended */
    ASSERT_NOT_NULL(reader);
    ASSERT_EQ_INT(vfs_shim_test__arm(faults, "fail-fsync", true), 0);
    ASSERT_EQ_INT(vfs_shim_test__hold(st, "A2"), -1);
    ASSERT_EQ_INT(vfs_shim_test__crash_image(data, image), 0); /* the crash: files as on disk */
    ASSERT_EQ_INT(vfs_shim_test__arm(faults, "fail-fsync", false), 0);
    sqlite3_close(reader);
    ASSERT_EQ_INT(vfs_shim_test__hold(st, "A3"), 0);
    store_close(st);

    ASSERT_EQ_INT(fx_sql_int(data, -1, "SELECT count(*) FROM holds"), 2); /* A1, A3 */
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM holds WHERE user_id = 'user-A2'"), 0);
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM seats WHERE status <> 'available'"),
                  1); /* A1 only */
}

TEST(store_wal_frames_are_written_with_one_write_each_and_read_back_after_a_crash)
{
    char data[256], image[256];
    snprintf(data, sizeof(data), "%s/data", test_tmpdir());
    snprintf(image, sizeof(image), "%s/image", test_tmpdir());
    ASSERT_EQ_INT(mkdir(image, 0700), 0);
    store *st = vfs_shim_test__open(data, 20, 100); /* rows A..T, 100 seats each */
    ASSERT_NOT_NULL(st);
    sqlite3 *reader = vfs_shim_test__pin_wal(data); /* every frame below stays in the WAL */
    ASSERT_NOT_NULL(reader);
    uint64_t asked0, made0, asked1, made1;
    vfs_shim_wal_writes(&asked0, &made0);
    static const char *const rows[] = {"A", "C", "F", "K", "T"};
    char seat[16];
    for (int i = 0; i < 5; i++) { /* five commits, a few pages each */
        snprintf(seat, sizeof(seat), "%s%d", rows[i], 10 * i + 1);
        ASSERT_EQ_INT(vfs_shim_test__hold(st, seat), 0);
    }
    vfs_shim_wal_writes(&asked1, &made1);
    uint64_t asked = asked1 - asked0, made = made1 - made0;
    /* SQLite asked for a header and a page per frame; each pair reached the disk as one */
    ASSERT_GE(asked, 10);
    ASSERT_EQ_INT(asked % 2, 0);
    ASSERT_EQ_INT(made, asked / 2);

    ASSERT_EQ_INT(vfs_shim_test__crash_image(data, image), 0);
    sqlite3_close(reader);
    store_close(st);
    /* the crash image recovers every committed hold from its WAL, and so does the store */
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM holds"), 5);
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM seats WHERE status = 'held'"), 5);
    char *check = fx_sql_text(image, "PRAGMA integrity_check");
    ASSERT_EQ_STR(check, "ok");
    free(check);
    ASSERT_EQ_INT(fx_sql_int(data, -1, "SELECT count(*) FROM holds"), 5);
}
