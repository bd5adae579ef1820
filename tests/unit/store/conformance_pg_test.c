/* conformance on PostgreSQL: every case of conformance.h on the PostgreSQL store, on the cluster
 * at TIX_TEST_PG_URL (make test starts one; without it the cases say so and test nothing), with
 * its faults made the PostgreSQL way: another connection holding the tables' locks in a long
 * transaction (the store's lock_timeout, its busy timeout, runs out: a retry), a trigger that
 * fails every write of holds with disk_full (SQLSTATE 53100), a row rewritten behind the
 * store's back. Each case gets a database of its own. */
#include "../test.h"

#include "conformance.h"
#include "pg_fixture.h"

#include <stdio.h>

static PGconn *pg_locker;

static int pg_fresh(void *ctx, char *where, size_t cap)
{
    (void)ctx;
    return pgfx_fresh_kept(where, cap);
}

static store *pg_open(void *ctx, const char *where, unsigned busy_timeout_ms)
{
    (void)ctx;
    store_options o = {.url = where, .readers = 2, .busy_timeout_ms = busy_timeout_ms};
    store *st = NULL;
    char err[512] = "";
    if (store_open(&o, &st, err, sizeof(err)) != 0)
        test_fail(__FILE__, __LINE__, "store_open(%s): %s", where, err);
    return st;
}

/* Run sql on a connection of its own to where. Returns 0 or -1 (after test_fail). */
static int pg_exec_on(const char *where, const char *sql)
{
    PGconn *conn = PQconnectdb(where);
    int rc = PQstatus(conn) == CONNECTION_OK ? 0 : -1;
    if (rc == 0) {
        PGresult *res = PQexec(conn, sql);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK ? 0
                                                                                               : -1;
        PQclear(res);
    }
    if (rc != 0) test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(conn));
    PQfinish(conn);
    return rc;
}

static int pg_lock_writes(void *ctx, const char *where)
{
    (void)ctx;
    pg_locker = PQconnectdb(where);
    PGresult *res = PQexec(pg_locker, "BEGIN; LOCK TABLE seats, holds IN EXCLUSIVE MODE");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    return rc;
}

static int pg_unlock_writes(void *ctx, const char *where)
{
    (void)ctx, (void)where;
    PGresult *res = PQexec(pg_locker, "COMMIT");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    PQclear(res);
    PQfinish(pg_locker);
    pg_locker = NULL;
    return rc;
}

static int pg_fail_writes(void *ctx, const char *where, bool on)
{
    (void)ctx;
    if (!on) return pg_exec_on(where, "DROP TRIGGER tix_test_disk_full ON holds");
    return pg_exec_on(where, "CREATE OR REPLACE FUNCTION tix_test_disk_full() RETURNS trigger"
                             " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file:"
                             " No space left on device' USING ERRCODE = 'disk_full'; END $$;"
                             " CREATE TRIGGER tix_test_disk_full BEFORE INSERT OR UPDATE ON holds"
                             " FOR EACH ROW EXECUTE FUNCTION tix_test_disk_full()");
}

static int pg_corrupt_hold(void *ctx, const char *where, const char *hold_id)
{
    (void)ctx;
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE holds SET seat_ids = '[\"A1\"' WHERE id = '%s'", hold_id);
    return pg_exec_on(where, sql);
}

static const conformance_backend pg_backend = {
    .name = "postgresql",
    .fresh = pg_fresh,
    .open = pg_open,
    .lock_writes = pg_lock_writes,
    .unlock_writes = pg_unlock_writes,
    .fail_writes = pg_fail_writes,
    .corrupt_hold = pg_corrupt_hold,
};

#define CONFORMANCE_PG(name)                                                                       \
    TEST(conformance_pg_##name)                                                                    \
    {                                                                                              \
        if (pgfx_cluster()) conformance_##name(&pg_backend);                                       \
    }
CONFORMANCE_CASES(CONFORMANCE_PG)
