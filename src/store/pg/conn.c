/* conn: the PostgreSQL backend's connections (see internal.h).
 *
 * Every connection is non-blocking and every wait is a poll() with a deadline
 * (PG_STORE_IO_TIMEOUT_MS), so that a dead link never hangs the writer or a reader: the
 * connection is dropped and the store answers unavailable. A dropped connection is made again
 * by the next batch or read that needs it, at once the first time, then no more often than a
 * back-off that doubles from PG_STORE_BACKOFF_MS_FIRST to PG_STORE_BACKOFF_MS_MAX while the
 * database stays away: meanwhile writes answer 503 store_unavailable at once and reads fail
 * cleanly, and tix never restarts. As soon as one connection of the store gets through, every
 * other one in back-off tries again at its next use (the database is back for all of them). TCP keepalives and tcp_user_timeout find a peer that
 * vanished without a word. */
#include "store/pg/internal.h"

#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const pg_store__role_names[] = {"tix-writer", "tix-reader", "tix-listener",
                                                   "tix-admin"};

/* libpq's notices (a warning raised by a function) go to tix's log. An error the server sends
 * to an idle connection arrives as one: FATAL or PANIC means the server is ending it (a
 * shutdown, pg_terminate_backend), so the connection is doomed before its socket says so. */
static void pg_store__notice(void *arg, const PGresult *res)
{
    pg_conn *c = arg;
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
        c->doomed = true;
    const char *message = PQresultErrorMessage(res);
    log_warn("store: postgresql says: %.*s", (int)strcspn(message, "\n"), message);
}

/* Run one statement (no results kept) on a connection in blocking mode. Returns 0 or -1 with
 * the server's reason in err. */
static int pg_store__exec(PGconn *conn, const char *sql, char *err, size_t err_len)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) snprintf(err, err_len, "%s", PQerrorMessage(conn));
    PQclear(res);
    return rc;
}

/* Prepare statements[0..n) on conn (blocking mode). Returns 0 or -1 with a reason in err. */
static int pg_store__prepare(PGconn *conn, const pg_statement *statements, int n, char *err,
                             size_t err_len)
{
    for (int i = 0; i < n; i++) {
        PGresult *res = PQprepare(conn, statements[i].name, statements[i].text, 0, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, err_len, "cannot prepare %s: %s", statements[i].name,
                     PQerrorMessage(conn));
        PQclear(res);
        if (!ok) return -1;
    }
    return 0;
}

/* What a role needs once connected. */
static int pg_store__setup(store_pg *ss, pg_conn *c, char *err, size_t err_len)
{
    PGconn *conn = c->conn;
    if (c->role == PG_ROLE_ADMIN) return 0;
    if (c->role == PG_ROLE_LISTENER) return pg_store__exec(conn, "LISTEN tix_feed", err, err_len);
    if (c->role == PG_ROLE_READER)
        return pg_store__prepare(conn, pg_store_rsql, PG_RSQL_COUNT, err, err_len);
    char sql[160];
    snprintf(sql, sizeof(sql), "SET lock_timeout = %u", ss->lock_timeout_ms);
    if (pg_store__exec(conn, sql, err, err_len) != 0 ||
        pg_store__exec(conn,
                       "CREATE TEMP TABLE IF NOT EXISTS tix_feed_pending (ord bigserial,"
                       " time_ms bigint, kind text, event_id text, ref text, hold_seq bigint,"
                       " expires_ms bigint, seat_ids text);"
                       " CREATE TEMP TABLE IF NOT EXISTS tix_outbox_pending (type text)",
                       err, err_len) != 0 ||
        pg_store__prepare(conn, pg_store_sql, PG_SQL_COUNT, err, err_len) != 0)
        return -1;
    if (!PQenterPipelineMode(conn))
        return snprintf(err, err_len, "cannot enter pipeline mode: %s", PQerrorMessage(conn)), -1;
    __atomic_store_n(&ss->writer_pid, PQbackendPID(conn), __ATOMIC_RELEASE);
    return 0;
}

/* Check what tix needs of the server: its version and a UTF-8 database (the JSON tix writes
 * and reads is UTF-8, and so are names and ids). */
static int pg_store__check_server(PGconn *conn, char *err, size_t err_len)
{
    int version = PQserverVersion(conn);
    if (version < PG_STORE_SERVER_VERSION_MIN)
        return snprintf(err, err_len, "PostgreSQL %d.%d is too old (13 or newer is needed)",
                        version / 10000, version % 10000),
               -1;
    const char *encoding = PQparameterStatus(conn, "server_encoding");
    if (!encoding || strcmp(encoding, "UTF8") != 0)
        return snprintf(err, err_len,
                        "the database's encoding is %s: tix needs UTF8 (CREATE DATABASE ..."
                        " ENCODING 'UTF8' TEMPLATE template0)",
                        encoding ? encoding : "unknown"),
               -1;
    return 0;
}

int pg_store_connect(store_pg *ss, pg_conn *c, char *err, size_t err_len)
{
    assert(!c->conn);
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", PG_STORE_CONNECT_TIMEOUT_S);
    /* tix's defaults first: what the URL says wins (it is expanded after them) */
    const char *const keys[] = {"connect_timeout",  "application_name",
                                "client_encoding",  "keepalives",
                                "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "tcp_user_timeout",
                                "dbname",           NULL};
    const char *const values[] = {
        timeout, pg_store__role_names[c->role], "UTF8", "1", "10", "5", "3", "30000", ss->url,
        NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn) return snprintf(err, err_len, "out of memory"), -1;
    c->conn = conn;
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, err_len, "%s", PQerrorMessage(conn));
    } else {
        c->doomed = false;
        PQsetNoticeReceiver(conn, pg_store__notice, c);
        if (pg_store__check_server(conn, err, err_len) == 0 &&
            pg_store__setup(ss, c, err, err_len) == 0 &&
            (c->role == PG_ROLE_ADMIN || PQsetnonblocking(conn, 1) == 0))
            return 0;
    }
    err[strcspn(err, "\n")] = '\0';
    pg_store_disconnect(c);
    return -1;
}

void pg_store_disconnect(pg_conn *c)
{
    if (c->conn) PQfinish(c->conn);
    c->conn = NULL;
}

int pg_store_ensure(store_pg *ss, pg_conn *c)
{
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK) return 0;
    pg_store_disconnect(c);
    int64_t now = clock_mono_ms();
    uint64_t epoch = __atomic_load_n(&ss->connect_epoch, __ATOMIC_ACQUIRE);
    if (now < c->retry_at_ms && c->failed_in == epoch) return -1; /* the database is away */
    char err[512];
    if (pg_store_connect(ss, c, err, sizeof(err)) == 0) {
        if (c->backoff_ms) log_info("store: %s connected again", pg_store__role_names[c->role]);
        c->backoff_ms = 0;
        __atomic_add_fetch(&ss->connect_epoch, 1, __ATOMIC_RELEASE);
        return 0;
    }
    c->failed_in = epoch;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : PG_STORE_BACKOFF_MS_FIRST;
    if (c->backoff_ms > PG_STORE_BACKOFF_MS_MAX) c->backoff_ms = PG_STORE_BACKOFF_MS_MAX;
    c->retry_at_ms = now + c->backoff_ms;
    log_warn("store: %s cannot connect (next try in %u ms): %s", pg_store__role_names[c->role],
             c->backoff_ms, err);
    return -1;
}

/* Wait for events on conn's socket until deadline_ms (monotonic). Returns the events seen, 0
 * at the deadline, -1 when poll fails. */
static int pg_store__poll(PGconn *conn, short events, int64_t deadline_ms)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = events};
    for (;;) {
        int64_t left = deadline_ms - clock_mono_ms();
        if (left <= 0) return 0;
        int n = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
        if (n > 0) return pfd.revents;
        if (n < 0 && errno != EINTR) return -1;
    }
}

/* The connection broke or timed out while waiting: say so and drop it. */
static int pg_store__broken(pg_conn *c, const char *why)
{
    const char *message = c->conn ? PQerrorMessage(c->conn) : "";
    log_warn("store: %s connection lost (%s): %.*s", pg_store__role_names[c->role], why,
             (int)strcspn(message, "\n"), message);
    pg_store_disconnect(c);
    return -1;
}

int pg_store_flush(pg_conn *c)
{
    int64_t deadline = clock_mono_ms() + PG_STORE_IO_TIMEOUT_MS;
    for (;;) {
        int rc = PQflush(c->conn);
        if (rc == 0) return 0;
        if (rc < 0) return pg_store__broken(c, "sending");
        int events = pg_store__poll(c->conn, POLLIN | POLLOUT, deadline);
        if (events <= 0) return pg_store__broken(c, "timed out sending");
        if ((events & POLLIN) && !PQconsumeInput(c->conn)) return pg_store__broken(c, "reading");
    }
}

int pg_store_wait(pg_conn *c)
{
    int64_t deadline = clock_mono_ms() + PG_STORE_IO_TIMEOUT_MS;
    while (PQisBusy(c->conn)) {
        if (PQstatus(c->conn) != CONNECTION_OK) return pg_store__broken(c, "reading");
        int events = pg_store__poll(c->conn, POLLIN, deadline);
        if (events <= 0) return pg_store__broken(c, "timed out waiting for the server");
        if (!PQconsumeInput(c->conn)) return pg_store__broken(c, "reading");
    }
    return 0;
}

bool pg_store_alive(pg_conn *c)
{
    if (!c->conn || PQstatus(c->conn) != CONNECTION_OK || c->doomed) return false;
    struct pollfd pfd = {.fd = PQsocket(c->conn), .events = POLLIN};
    if (poll(&pfd, 1, 0) <= 0) return true; /* nothing pending: an idle connection */
    /* Something arrived on a connection that waits for nothing (it does not LISTEN): the
     * error of a server that ends it (a shutdown, pg_terminate_backend) and the end of the
     * connection, or, rarely, a harmless message. Either way a new connection is the safe
     * choice: it costs one connection, and a batch sent on a dying one would fail. */
    PQconsumeInput(c->conn);
    return false;
}

/* ---- errors ---- */

store_status pg_store_classify(PGconn *conn, const PGresult *res)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK) return STORE_UNAVAILABLE;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state) return STORE_UNAVAILABLE; /* libpq's own failure: out of memory, lost link */
    /* serialization_failure, deadlock_detected, lock_not_available (lock_timeout) */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
        return STORE_RETRY;
    /* connection_exception, operator intervention (admin or crash shutdown, cannot connect
     * now, a cancel or timeout), insufficient resources (disk full, out of memory, too many
     * connections), system errors (I/O), a read-only transaction (a standby), a commit whose
     * completion is unknown */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strncmp(state, "53", 2) == 0 || strncmp(state, "58", 2) == 0 ||
        strcmp(state, "25006") == 0 || strcmp(state, "40003") == 0)
        return STORE_UNAVAILABLE;
    return STORE_FATAL; /* integrity, data, a schema that is not tix's, TX001: a person looks */
}

int pg_store_fail(store_pg *ss, PGconn *conn, const PGresult *res, const char *what)
{
    store_status status = pg_store_classify(conn, res);
    const char *message = res ? PQresultErrorMessage(res) : "";
    if (!message[0] && conn) message = PQerrorMessage(conn);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    log_error("store: %s: %.*s (sqlstate %s: %s)", what, (int)strcspn(message, "\n"), message,
              state ? state : "none", store_status_name(status));
    if (ss && ss->status == STORE_OK) ss->status = status;
    return -1;
}

int pg_store_fail_with(store_pg *ss, store_status status, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    log_error("store: %s (%s)", message, store_status_name(status));
    if (ss && ss->status == STORE_OK) ss->status = status;
    return -1;
}

/* ---- parameters and fields ---- */

static void pg_params__add(pg_params *p, const char *value, int len, int format)
{
    assert(p->count < PG_STORE_PARAMS_MAX);
    p->values[p->count] = value;
    p->lengths[p->count] = len;
    p->formats[p->count] = format;
    p->count++;
}

void pg_params_text(pg_params *p, const char *s)
{
    pg_params__add(p, s, 0, 0);
}

void pg_params_i64(pg_params *p, int64_t v)
{
    assert(p->count < PG_STORE_PARAMS_MAX);
    snprintf(p->numbers[p->count], sizeof(p->numbers[0]), "%" PRId64, v);
    pg_params__add(p, p->numbers[p->count], 0, 0);
}

void pg_params_bool(pg_params *p, bool v)
{
    pg_params__add(p, v ? "t" : "f", 0, 0);
}

void pg_params_bytes(pg_params *p, const char *data, size_t len)
{
    pg_params__add(p, data ? data : "", (int)len, 1);
}

void pg_params_idem(pg_params *p, const store_cmd *cmd, int64_t now_ms)
{
    pg_params_text(p, cmd->idem ? cmd->idem->key : NULL);
    pg_params_text(p, cmd->idem ? cmd->idem->request_hash : NULL);
    pg_params_i64(p, now_ms);
}

int pg_store_array(buf *b, const void *items, size_t stride, uint32_t n)
{
    buf_reset(b);
    buf_append_char(b, '{');
    const char *item = (const char *)items;
    for (uint32_t i = 0; i < n; i++, item += stride) {
        if (i) buf_append_char(b, ',');
        buf_append_char(b, '"');
        for (const char *c = item; *c; c++) {
            if (*c == '"' || *c == '\\') buf_append_char(b, '\\');
            buf_append_char(b, *c);
        }
        buf_append_char(b, '"');
    }
    buf_append_char(b, '}');
    return b->failed ? -1 : 0;
}

int pg_store_send(store_pg *ss, pg_sql which, const pg_params *p)
{
    if (PQsendQueryPrepared(ss->writer.conn, pg_store_sql[which].name, p->count, p->values,
                            p->lengths, p->formats, 0))
        return 0;
    return pg_store_fail(ss, ss->writer.conn, NULL, pg_store_sql[which].name);
}

int64_t pg_store_i64(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void pg_store_text(char *dst, size_t cap, const PGresult *res, int row, int col)
{
    snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}
