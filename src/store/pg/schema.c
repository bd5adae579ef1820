/* schema: the PostgreSQL backend's schema and its migrations.
 *
 * The schema is versioned by the one row of tix_schema; migration i moves version i to i + 1 in
 * one transaction. Each migration is SQL text built into the binary (the files of sql/, embed.S):
 * the tables, and the PL/pgSQL functions that apply the commands' rules. A released version is
 * never edited: a change is a new migration (a function changes by CREATE OR REPLACE in it).
 *
 * Nodes starting together do not race: every migration runs while holding a session advisory
 * lock (PG_STORE_MIGRATION_LOCK) that one connection at a time can hold across the cluster; a
 * node that waited for it finds the work done. A database newer than this tix is refused. */
#include "store/pg/internal.h"

#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char pg_store_sql_v1_tables[], pg_store_sql_v1_common[], pg_store_sql_v1_holds[],
    pg_store_sql_v1_bookings[], pg_store_sql_v1_bus[], pg_store_sql_v2_plans[],
    pg_store_sql_v3_claim[], pg_store_sql_v4_bookings_by_event[];

/* The advisory lock of migrations: "tix" and 1, as one bigint. */
#define PG_STORE_MIGRATION_LOCK "8388367722349592577"

/* Version 0 -> 1: every table, then the functions (each file's own in order). */
static const char *const pg_store__v1[] = {
    "CREATE TABLE tix_schema (version integer NOT NULL); INSERT INTO tix_schema VALUES (0);",
    pg_store_sql_v1_tables,
    pg_store_sql_v1_common,
    pg_store_sql_v1_holds,
    pg_store_sql_v1_bookings,
    pg_store_sql_v1_bus,
    NULL,
};

/* Version 1 -> 2: tix_hold's statements planned once per connection (v2_plans.sql). */
static const char *const pg_store__v2[] = {pg_store_sql_v2_plans, NULL};

/* Version 2 -> 3: a claim picks its deliveries once (v3_claim.sql). */
static const char *const pg_store__v3[] = {pg_store_sql_v3_claim, NULL};

/* Version 3 -> 4: an event's bookings by status and time (v4_bookings_by_event.sql). */
static const char *const pg_store__v4[] = {pg_store_sql_v4_bookings_by_event, NULL};

static const char *const *const pg_store__migrations[] = {pg_store__v1, pg_store__v2, pg_store__v3,
                                                          pg_store__v4};

enum {
    PG_STORE_SCHEMA_VERSION = sizeof(pg_store__migrations) / sizeof(pg_store__migrations[0]),
};

/* Run sql on conn; on failure, its reason into err (prefixed with what). Returns 0 or -1. */
static int pg_store__run(PGconn *conn, const char *sql, const char *what, char *err, size_t err_len)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) {
        const char *message = PQerrorMessage(conn);
        snprintf(err, err_len, "%s: %.*s", what, (int)strcspn(message, "\n"), message);
    }
    PQclear(res);
    return rc;
}

/* The schema version of the database (0: none yet). Returns 0 or -1. */
static int pg_store__version(PGconn *conn, int *version, char *err, size_t err_len)
{
    PGresult *res = PQexec(conn, "SELECT to_regclass('tix_schema') IS NOT NULL");
    int rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 0 : -1;
    bool versioned = rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    *version = 0;
    if (rc == 0 && versioned) {
        res = PQexec(conn, "SELECT version FROM tix_schema");
        rc = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? 0 : -1;
        if (rc == 0) *version = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    if (rc != 0) {
        const char *message = PQerrorMessage(conn);
        snprintf(err, err_len, "cannot read the schema version: %.*s", (int)strcspn(message, "\n"),
                 message);
    }
    return rc;
}

/* Apply migration v (to version v + 1) in one transaction. */
static int pg_store__apply(PGconn *conn, int v, char *err, size_t err_len)
{
    if (pg_store__run(conn, "BEGIN", "migration", err, err_len) != 0) return -1;
    char what[64], bump[64];
    snprintf(what, sizeof(what), "schema migration to version %d", v + 1);
    int rc = 0;
    for (const char *const *part = pg_store__migrations[v]; *part && rc == 0; part++)
        rc = pg_store__run(conn, *part, what, err, err_len);
    snprintf(bump, sizeof(bump), "UPDATE tix_schema SET version = %d", v + 1);
    if (rc == 0) rc = pg_store__run(conn, bump, what, err, err_len);
    if (rc == 0) rc = pg_store__run(conn, "COMMIT", what, err, err_len);
    if (rc != 0) {
        char ignored[64];
        pg_store__run(conn, "ROLLBACK", "rollback", ignored, sizeof(ignored));
        return -1;
    }
    log_info("store: schema migrated to version %d", v + 1);
    return 0;
}

int pg_store_migrate(PGconn *conn, char *err, size_t err_len)
{
    if (pg_store__run(conn, "SELECT pg_advisory_lock(" PG_STORE_MIGRATION_LOCK ")",
                      "take the migrations' lock", err, err_len) != 0)
        return -1;
    int version = 0;
    int rc = pg_store__version(conn, &version, err, err_len);
    if (rc == 0 && (version < 0 || version > PG_STORE_SCHEMA_VERSION)) {
        snprintf(err, err_len, "database schema version %d is newer than this tix (%d)", version,
                 PG_STORE_SCHEMA_VERSION);
        rc = -1;
    }
    for (int v = version; rc == 0 && v < PG_STORE_SCHEMA_VERSION; v++)
        rc = pg_store__apply(conn, v, err, err_len);
    char ignored[64];
    pg_store__run(conn, "SELECT pg_advisory_unlock(" PG_STORE_MIGRATION_LOCK ")", "unlock", ignored,
                  sizeof(ignored));
    return rc;
}
