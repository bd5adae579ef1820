/* conformance on the embedded store: every case of conformance.h on SQLite, with its faults
 * made the SQLite way (another connection holding the write lock, the VFS shim's fault files,
 * a row rewritten behind the store's back). */
#include "../test.h"

#include "../fixtures.h"
#include "conformance.h"
#include "store/vfs_shim.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned sqlite_dbs; /* databases made by the running process */
static sqlite3 *sqlite_locker;

static void sqlite_no_fault_dir(void *arg)
{
    (void)arg;
    store_sqlite_set_fault_dir(NULL);
}

static int sqlite_fresh(void *ctx, char *where, size_t cap)
{
    (void)ctx;
    snprintf(where, cap, "%s/db%u", test_tmpdir(), ++sqlite_dbs);
    if (mkdir(where, 0700) != 0) return -1;
    /* the stores opened from now on watch this directory for fault files */
    store_sqlite_set_fault_dir(where);
    test_defer(sqlite_no_fault_dir, NULL);
    return 0;
}

static store *sqlite_open(void *ctx, const char *where, unsigned busy_timeout_ms)
{
    (void)ctx;
    store_options o = {.data_dir = where, .readers = 2, .busy_timeout_ms = busy_timeout_ms};
    store *st = NULL;
    char err[256] = "";
    if (store_open(&o, &st, err, sizeof(err)) != 0)
        test_fail(__FILE__, __LINE__, "store_open(%s): %s", where, err);
    return st;
}

static int sqlite_lock_writes(void *ctx, const char *where)
{
    (void)ctx;
    char path[600];
    snprintf(path, sizeof(path), "%s/tix.db", where);
    if (sqlite3_open(path, &sqlite_locker) != SQLITE_OK) return -1;
    return sqlite3_exec(sqlite_locker, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

static int sqlite_unlock_writes(void *ctx, const char *where)
{
    (void)ctx, (void)where;
    int rc = sqlite3_exec(sqlite_locker, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(sqlite_locker);
    sqlite_locker = NULL;
    return rc == SQLITE_OK ? 0 : -1;
}

static int sqlite_fail_writes(void *ctx, const char *where, bool on)
{
    (void)ctx;
    char path[600];
    snprintf(path, sizeof(path), "%s/fail-write", where);
    if (!on) return unlink(path);
    FILE *f = fopen(path, "w");
    return f ? fclose(f) : -1;
}

static int sqlite_corrupt_hold(void *ctx, const char *where, const char *hold_id)
{
    (void)ctx;
    return fx_sql_exec(where, "UPDATE holds SET seat_ids = '[\"A1\"' WHERE id = '%s'", hold_id);
}

static const conformance_backend sqlite_backend = {
    .name = "sqlite",
    .fresh = sqlite_fresh,
    .open = sqlite_open,
    .lock_writes = sqlite_lock_writes,
    .unlock_writes = sqlite_unlock_writes,
    .fail_writes = sqlite_fail_writes,
    .corrupt_hold = sqlite_corrupt_hold,
};

#define CONFORMANCE_SQLITE(name)                                                                   \
    TEST(conformance_sqlite_##name)                                                                \
    {                                                                                              \
        conformance_##name(&sqlite_backend);                                                       \
    }
CONFORMANCE_CASES(CONFORMANCE_SQLITE)
