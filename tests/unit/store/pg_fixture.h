/* pg_fixture: PostgreSQL for the unit tests. TIX_TEST_PG_URL names a cluster's `postgres`
 * database (scripts/pg.sh url DIR; make test sets it); each test makes databases of its own on
 * it, dropped when the test ends. Without TIX_TEST_PG_URL, the PostgreSQL tests say so and
 * pass nothing (make test always sets it). */
#ifndef TIX_TEST_PG_FIXTURE_H
#define TIX_TEST_PG_FIXTURE_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cluster to test on, or NULL (after a note) when TIX_TEST_PG_URL is not set. */
const char *pgfx_cluster(void);

/* A fresh, empty UTF8 database for the running test (dropped when it ends): its URL into url
 * (cap bytes). Returns 0, or -1 after test_fail. */
int pgfx_fresh(char *url, size_t cap);

/* A fresh, empty UTF8 database whose handles the caller closes itself (the conformance suite):
 * dropped at the next call, or when the process exits. Returns 0, or -1 after test_fail. */
int pgfx_fresh_kept(char *url, size_t cap);

/* A connection of the test's own to url (blocking, autocommit); NULL after test_fail. Closed
 * when the test ends. */
PGconn *pgfx_connect(const char *url);

/* Run SQL (printf-style) on conn. Returns 0, or -1 after test_fail. */
int pgfx_exec(PGconn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first column of the first row of a query as an integer (`missing` when there is no row
 * or it is NULL); test_fail on an error. */
int64_t pgfx_int(PGconn *conn, int64_t missing, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A store handle on url (closed when the test ends); NULL after test_fail. */
store *pgfx_open(const char *url, unsigned readers, unsigned busy_timeout_ms);

/* Wait until a backend of the database of url whose application_name is app matches `state`
 * (an SQL condition on pg_stat_activity, e.g. "wait_event_type = 'Lock'"), at most
 * timeout_ms. Returns its pid, or 0. */
int pgfx_wait_backend(PGconn *conn, const char *app, const char *state, int timeout_ms);

#endif
