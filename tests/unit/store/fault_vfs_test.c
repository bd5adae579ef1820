/* fault_vfs: the test-only storage fault shim, and what the store does when a commit fails
 * under it: the commit is refused, the store recovers once the fault is gone, and a commit
 * refused by a failed fsync does not come back from the WAL after a crash (the crash is
 * simulated by copying the database and its WAL while the store is open, then opening the
 * copy, which runs SQLite's WAL recovery).
 *
 * The fault VFS is registered once per process, for one directory: only this file uses it,
 * and it resets the store's fault dir when its test ends. */
#include "../test.h"

#include "../fixtures.h"
#include "store/fault_vfs.h"
#include "store/store.h"
#include "util/ids.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void fault_vfs_test__reset(void *arg)
{
    (void)arg;
    store_sqlite_set_fault_dir(NULL);
}

/* Arm (create) or disarm (remove) fault file `name` in dir. Returns 0 or -1. */
static int fault_vfs_test__arm(const char *dir, const char *name, bool armed)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!armed) return unlink(path);
    FILE *f = fopen(path, "w");
    return f && fclose(f) == 0 ? 0 : -1;
}

/* One transaction: a hold of seat `seat_id` of e1. Returns store_commit's result (after
 * rolling back a failed commit, as the writer does), or -1 if an earlier step failed. */
static int fault_vfs_test__hold(store *st, const char *seat_id)
{
    hold_record h;
    memset(&h, 0, sizeof(h));
    ids_random_hex(h.id);
    snprintf(h.event_id, sizeof(h.event_id), "e1");
    snprintf(h.user_id, sizeof(h.user_id), "user-%s", seat_id);
    h.status = HOLD_ACTIVE;
    h.created_at_ms = 1;
    h.expires_at_ms = INT64_MAX / 2;
    h.seat_count = 1;
    snprintf(h.seat_ids[0], TIX_SEAT_ID_LEN_MAX, "%s", seat_id);
    bool taken = false;
    int rc = store_begin(st);
    if (rc == 0) rc = store_tx_hold_insert(st, &h);
    if (rc == 0) rc = store_tx_seat_take(st, "e1", seat_id, h.seq, &taken);
    if (rc == 0 && !taken) rc = -1;
    if (rc == 0) rc = store_commit(st);
    if (rc != 0) store_rollback(st);
    return rc;
}

TEST(store_commits_refused_by_fsync_or_write_faults_leave_no_trace_even_after_a_crash)
{
    char data[256], faults[256], image[256], from[600], to[600];
    snprintf(data, sizeof(data), "%s/data", test_tmpdir());
    snprintf(faults, sizeof(faults), "%s/faults", test_tmpdir());
    snprintf(image, sizeof(image), "%s/image", test_tmpdir());
    ASSERT_EQ_INT(mkdir(faults, 0700), 0);
    ASSERT_EQ_INT(mkdir(image, 0700), 0);
    store_sqlite_set_fault_dir(faults);
    test_defer(fault_vfs_test__reset, NULL);
    store *st = NULL;
    char err[256] = "";
    ASSERT_EQ_INT(store_sqlite_open(data, 1, &st, err, sizeof(err)), 0);
    event_spec spec;
    fx_spec_init(&spec, "e1", 600, 10);
    static const char *const rows[] = {"A"};
    fx_spec_add_section(&spec, "Floor", 5000, 8, rows, 1);
    bool exists = true;
    int rc = store_begin(st);
    if (rc == 0) rc = store_tx_event_insert(st, &spec, &exists);
    if (rc == 0) rc = store_commit(st);
    model_event_spec_free(&spec);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_FALSE(exists);

    /* a failed write, then a failed fsync: refused; gone: accepted again, no reopen */
    ASSERT_EQ_INT(fault_vfs_test__arm(faults, "fail-write", true), 0);
    ASSERT_EQ_INT(fault_vfs_test__hold(st, "A1"), -1);
    ASSERT_EQ_INT(fault_vfs_test__arm(faults, "fail-write", false), 0);
    ASSERT_EQ_INT(fault_vfs_test__hold(st, "A1"), 0);

    /* a reader keeps the WAL from being restarted, so the refused commit is appended */
    sqlite3 *reader = NULL;
    char db[300];
    snprintf(db, sizeof(db), "%s/tix.db", data);
    ASSERT_EQ_INT(sqlite3_open_v2(db, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM holds;", NULL, NULL, NULL),
                  SQLITE_OK);
    ASSERT_EQ_INT(fault_vfs_test__arm(faults, "fail-fsync", true), 0);
    ASSERT_EQ_INT(fault_vfs_test__hold(st, "A2"), -1);
    /* the crash: the files as they are on disk now */
    for (int i = 0; i < 2; i++) {
        const char *suffix = i == 0 ? "" : "-wal";
        snprintf(from, sizeof(from), "%s/tix.db%s", data, suffix);
        snprintf(to, sizeof(to), "%s/tix.db%s", image, suffix);
        ASSERT_EQ_INT(fx_copy_file(from, to), 0);
    }
    ASSERT_EQ_INT(fault_vfs_test__arm(faults, "fail-fsync", false), 0);
    sqlite3_close(reader);
    ASSERT_EQ_INT(fault_vfs_test__hold(st, "A3"), 0);
    store_close(st);

    ASSERT_EQ_INT(fx_sql_int(data, -1, "SELECT count(*) FROM holds"), 2); /* A1, A3 */
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM holds WHERE user_id = 'user-A2'"), 0);
    ASSERT_EQ_INT(fx_sql_int(image, -1, "SELECT count(*) FROM seats WHERE status <> 'available'"),
                  1); /* A1 only */
}
