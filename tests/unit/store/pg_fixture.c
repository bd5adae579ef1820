/* pg_fixture: see pg_fixture.h. */
#include "pg_fixture.h"

#include "../test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PGFX_URL_MAX = 1024 };

const char *pgfx_cluster(void)
{
    const char *url = getenv("TIX_TEST_PG_URL");
    if (url && url[0]) return url;
    test_note("TIX_TEST_PG_URL is not set: nothing tested on PostgreSQL (make test sets it)");
    return NULL;
}

/* url with its database (the path after the authority) replaced by name. */
static int pgfx__url_of(const char *base, const char *name, char *out, size_t cap)
{
    const char *scheme = strstr(base, "://");
    if (!scheme) return -1;
    const char *path = scheme + 3 + strcspn(scheme + 3, "/?");
    const char *rest = path + strcspn(path, "?");
    int n = snprintf(out, cap, "%.*s/%s%s", (int)(path - base), base, name, rest);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void pgfx__quiet(void *arg, const char *message)
{
    (void)arg, (void)message; /* the tests' own connections: NOTICEs are not news */
}

static void pgfx__finish(void *arg)
{
    PQfinish(arg);
}

PGconn *pgfx_connect(const char *url)
{
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        test_fail(__FILE__, __LINE__, "cannot connect to %s: %s", url, PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, pgfx__quiet, NULL);
    test_defer(pgfx__finish, conn);
    return conn;
}

static int pgfx__vexec(PGconn *conn, PGresult **out, const char *fmt, va_list ap)
{
    char sql[4096];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(conn));
        PQclear(res);
        return -1;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return 0;
}

int pgfx_exec(PGconn *conn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = pgfx__vexec(conn, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int64_t pgfx_int(PGconn *conn, int64_t missing, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PGresult *res = NULL;
    int rc = pgfx__vexec(conn, &res, fmt, ap);
    va_end(ap);
    if (rc != 0) return missing;
    int64_t v = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)
                    ? strtoll(PQgetvalue(res, 0, 0), NULL, 10)
                    : missing;
    PQclear(res);
    return v;
}

/* A database made for a test, dropped when it ends. */
typedef struct pgfx__db {
    char name[64];
} pgfx__db;

static void pgfx__drop(void *arg)
{
    pgfx__db *db = arg;
    PGconn *admin = PQconnectdb(getenv("TIX_TEST_PG_URL"));
    if (PQstatus(admin) == CONNECTION_OK) {
        char sql[128];
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db->name);
        PQclear(PQexec(admin, sql));
    }
    PQfinish(admin);
    free(db);
}

/* Make database db->name (dropped first if it exists). Returns 0 or -1 after test_fail. */
static int pgfx__create(const char *cluster, pgfx__db *db)
{
    PGconn *admin = PQconnectdb(cluster);
    PQsetNoticeProcessor(admin, pgfx__quiet, NULL);
    char sql[160];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", db->name);
    PQclear(PQexec(admin, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\" TEMPLATE template0 ENCODING 'UTF8'",
             db->name);
    PGresult *res = PQexec(admin, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(admin));
    PQclear(res);
    PQfinish(admin);
    return ok ? 0 : -1;
}

/* A new database's name, its URL into url. */
static pgfx__db *pgfx__new(const char *cluster, char *url, size_t cap)
{
    static unsigned made;
    pgfx__db *db = calloc(1, sizeof(*db));
    snprintf(db->name, sizeof(db->name), "tixu_%d_%u", (int)getpid(), ++made);
    if (pgfx__url_of(cluster, db->name, url, cap) == 0 && pgfx__create(cluster, db) == 0) return db;
    test_fail(__FILE__, __LINE__, "no database %s on %s", db->name, cluster);
    free(db);
    return NULL;
}

int pgfx_fresh(char *url, size_t cap)
{
    const char *cluster = pgfx_cluster();
    if (!cluster) return test_fail(__FILE__, __LINE__, "no cluster"), -1;
    pgfx__db *db = pgfx__new(cluster, url, cap);
    if (!db) return -1;
    test_defer(pgfx__drop, db);
    return 0;
}

static pgfx__db *pgfx__kept; /* the last database made by pgfx_fresh_kept */

static void pgfx__drop_kept(void)
{
    if (pgfx__kept) pgfx__drop(pgfx__kept);
    pgfx__kept = NULL;
}

int pgfx_fresh_kept(char *url, size_t cap)
{
    static bool registered;
    const char *cluster = pgfx_cluster();
    if (!cluster) return test_fail(__FILE__, __LINE__, "no cluster"), -1;
    pgfx__drop_kept(); /* the previous test's handles are closed by now */
    if (!registered) atexit(pgfx__drop_kept);
    registered = true;
    pgfx__kept = pgfx__new(cluster, url, cap);
    return pgfx__kept ? 0 : -1;
}

static void pgfx__close(void *arg)
{
    store_close(arg);
}

store *pgfx_open(const char *url, unsigned readers, unsigned busy_timeout_ms)
{
    store_options o = {
        .data_dir = NULL, .url = url, .readers = readers, .busy_timeout_ms = busy_timeout_ms};
    store *st = NULL;
    char err[512] = "";
    if (store_open(&o, &st, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "store_open(%s): %s", url, err);
        return NULL;
    }
    test_defer(pgfx__close, st);
    return st;
}

int pgfx_wait_backend(PGconn *conn, const char *app, const char *state, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int pid =
            (int)pgfx_int(conn, 0,
                          "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                          " AND application_name = '%s' AND (%s) LIMIT 1",
                          app, state);
        if (pid > 0 || test_failed()) return pid;
        usleep(10000);
    }
    return 0;
}
