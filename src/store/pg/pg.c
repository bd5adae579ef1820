/* pg: the PostgreSQL store, many tix nodes on one database: opening, closing and the batch.
 * The rules of every command live in the database, one PL/pgSQL function per command kind
 * (sql/v1_*.sql, the rules of src/store/sqlite/); see internal.h for the map.
 *
 * A batch is one transaction and one round trip. In libpq's pipeline mode the writer queues
 *     BEGIN; one function call per command; tix_feed_flush(); COMMIT; tix_feed_notify(); sync
 * and reads the results back in order: nothing waits for the server between the statements of
 * a batch, whatever its size. A function refuses a command by returning its outcome and writing
 * nothing, so one command's conflict never aborts its neighbours; only a real error (the store
 * holds what it must not, the connection broke) fails the batch, which is then rolled back
 * whole. A batch with idempotency keys takes a second round trip: the responses to keep are
 * rendered from the commands' outcomes (store_idem.render, on the writer thread), so they can
 * only be sent once the first round trip's results are in; the flush and COMMIT go with them.
 *
 * Durability: a request is acknowledged only after COMMIT returned, and PostgreSQL returns it
 * only once the commit is in its WAL (synchronous_commit, the server's setting: keep it on).
 * The notification after COMMIT is its own small transaction with an asynchronous commit: the
 * hot transaction never waits for the notification queue.
 *
 * Feed seqs: tix_feed_flush takes the feed's counter row (feed_head) with a row lock as the
 * last statement before COMMIT, so batches that append to the feed commit one after another in
 * seq order: dense seqs in commit order across every node (v1_common.sql). */
#include "store/pg/internal.h"

#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_OUTCOME "o_rc, o_idem_status, o_idem_body"
#define PG_OUTCOME_R "r.o_rc, r.o_idem_status, r.o_idem_body"

const pg_statement pg_store_sql[PG_SQL_COUNT] = {
    [PG_SQL_BEGIN] = {"tix_begin", "BEGIN ISOLATION LEVEL READ COMMITTED"},
    [PG_SQL_COMMIT] = {"tix_commit", "COMMIT"},
    [PG_SQL_ROLLBACK] = {"tix_rollback", "ROLLBACK"},
    [PG_SQL_FLUSH] = {"tix_flush", "SELECT * FROM tix_feed_flush()"},
    [PG_SQL_NOTIFY] = {"tix_notify", "SELECT tix_feed_notify()"},
    [PG_SQL_KEEP] = {"tix_keep", "UPDATE idempotency SET status = $2, body = $3 WHERE key = $1"},
    [PG_SQL_XACT_STATUS] = {"tix_xact_status", "SELECT pg_xact_status($1::xid8)"},
    [PG_SQL_HOLD] = {"tix_hold", "SELECT " PG_OUTCOME ", o_seq, o_expires_at_ms, o_taken"
                                 " FROM tix_hold($1, $2, $3, $4, $5, $6, $7, $8, $9)"},
    [PG_SQL_RELEASE] = {"tix_release", "SELECT " PG_OUTCOME_R ", (r.o_hold).*"
                                       " FROM tix_release($1, $2, $3, $4, $5) r"},
    [PG_SQL_CHECKOUT] = {"tix_checkout",
                         "SELECT " PG_OUTCOME_R ", (r.o_booking).*"
                         " FROM tix_checkout($1, $2, $3, $4, $5, $6, $7, $8, $9) r"},
    [PG_SQL_PAYMENT] = {"tix_payment", "SELECT o_rc FROM tix_payment($1, $2, $3, $4, $5)"},
    [PG_SQL_CANCEL] = {"tix_cancel", "SELECT " PG_OUTCOME_R ", (r.o_booking).*"
                                     " FROM tix_cancel($1, $2, $3, $4, $5) r"},
    [PG_SQL_REFUND] = {"tix_refund", "SELECT o_rc FROM tix_refund($1, $2, $3, $4)"},
    [PG_SQL_EVENT_CREATE] = {"tix_event_create",
                             "SELECT " PG_OUTCOME " FROM tix_event_create($1, $2, $3, $4, $5,"
                             " $6, $7, $8, $9, $10, $11, $12)"},
    [PG_SQL_SUBSCRIBER_ADD] = {"tix_subscriber_add",
                               "SELECT " PG_OUTCOME
                               " FROM tix_subscriber_add($1, $2, $3, $4, $5, $6, $7, $8)"},
    [PG_SQL_CLAIM] = {"tix_claim", "SELECT * FROM tix_claim($1, $2, $3, $4, $5)"},
    [PG_SQL_DELIVERY] = {"tix_delivery", "SELECT o_rc FROM tix_delivery($1, $2, $3, $4, $5)"},
    [PG_SQL_REDRIVE] = {"tix_redrive", "SELECT " PG_OUTCOME " FROM tix_redrive($1, $2, $3, $4)"},
    [PG_SQL_RECLAIM] = {"tix_reclaim", "SELECT o_rc, o_count FROM tix_reclaim($1, $2)"},
    [PG_SQL_SWEEP] = {"tix_sweep", "SELECT o_rc, o_expired FROM tix_sweep($1, $2, $3, $4, $5)"},
    [PG_SQL_PING] = {"tix_ping", "SELECT o_rc FROM tix_ping($1, $2)"},
    [PG_SQL_RESPONSE] = {"tix_response", "SELECT " PG_OUTCOME " FROM tix_response($1, $2, $3)"},
};

static const pg_store_cmd_ops *const pg_store__ops_of[STORE_CMD_KINDS] = {
    [STORE_CMD_HOLD] = &pg_store_hold_ops,
    [STORE_CMD_RELEASE] = &pg_store_release_ops,
    [STORE_CMD_CHECKOUT] = &pg_store_checkout_ops,
    [STORE_CMD_PAYMENT] = &pg_store_payment_ops,
    [STORE_CMD_CANCEL] = &pg_store_cancel_ops,
    [STORE_CMD_REFUND] = &pg_store_refund_ops,
    [STORE_CMD_EVENT_CREATE] = &pg_store_event_create_ops,
    [STORE_CMD_SUBSCRIBER_ADD] = &pg_store_subscriber_add_ops,
    [STORE_CMD_CLAIM] = &pg_store_claim_ops,
    [STORE_CMD_DELIVERY] = &pg_store_delivery_ops,
    [STORE_CMD_REDRIVE] = &pg_store_redrive_ops,
    [STORE_CMD_RECLAIM] = &pg_store_reclaim_ops,
    [STORE_CMD_SWEEP] = &pg_store_sweep_ops,
    [STORE_CMD_PING] = &pg_store_ping_ops,
    [STORE_CMD_RESPONSE] = &pg_store_response_ops,
};

/* ---- outcomes ---- */

static const struct {
    const char *name;
    tix_rc rc;
} pg_store__rcs[] = {
    {"ok", TIX_RC_OK},
    {"seat_unavailable", TIX_RC_SEAT_UNAVAILABLE},
    {"event_not_found", TIX_RC_EVENT_NOT_FOUND},
    {"hold_not_found", TIX_RC_HOLD_NOT_FOUND},
    {"hold_not_active", TIX_RC_HOLD_NOT_ACTIVE},
    {"event_exists", TIX_RC_EVENT_EXISTS},
    {"too_many_events", TIX_RC_TOO_MANY_EVENTS},
    {"booking_not_found", TIX_RC_BOOKING_NOT_FOUND},
    {"booking_not_cancellable", TIX_RC_BOOKING_NOT_CANCELLABLE},
    {"not_found", TIX_RC_NOT_FOUND},
    {"user_limit", TIX_RC_USER_LIMIT},
    {"forbidden", TIX_RC_FORBIDDEN},
    {"too_many_seats", TIX_RC_TOO_MANY_SEATS},
    {"replayed", TIX_RC_REPLAYED},
    {"key_reused", TIX_RC_KEY_REUSED},
};

int pg_store_rc_parse(const char *name, tix_rc *rc)
{
    for (size_t i = 0; i < sizeof(pg_store__rcs) / sizeof(pg_store__rcs[0]); i++)
        if (strcmp(name, pg_store__rcs[i].name) == 0) return *rc = pg_store__rcs[i].rc, 0;
    return -1;
}

int pg_store_recv_outcome(store_pg *ss, store_cmd *cmd, const PGresult *res, bool keyed)
{
    if (PQntuples(res) != 1 || PQnfields(res) < (keyed ? 3 : 1) || PQgetisnull(res, 0, 0) ||
        pg_store_rc_parse(PQgetvalue(res, 0, 0), &cmd->rc) != 0)
        return pg_store_fail_with(ss, STORE_FATAL, "a command's outcome cannot be read");
    if (cmd->rc != TIX_RC_REPLAYED) return 0;
    store_idem *idem = cmd->idem;
    assert(idem && keyed);
    idem->status = (unsigned)pg_store_i64(res, 0, 1);
    size_t len = 0;
    unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 2), &len);
    buf_reset(&idem->body);
    int rc = body && buf_append(&idem->body, (const char *)body, len) == 0 ? 0 : -1;
    PQfreemem(body);
    if (rc != 0) return pg_store_fail_with(ss, STORE_UNAVAILABLE, "kept response too large");
    return 0;
}

int pg_store_recv_keyed(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    return pg_store_recv_outcome(ss, cmd, res, true);
}

int pg_store_recv_plain(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    return pg_store_recv_outcome(ss, cmd, res, false);
}

/* ---- a round trip ---- */

static void pg_store__results_clear(store_pg *ss, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        PQclear(ss->results[i]);
        ss->results[i] = NULL;
    }
}

/* Make room for n results. Returns 0 or -1 (recorded). */
static int pg_store__results_reserve(store_pg *ss, uint32_t n)
{
    if (n <= ss->result_cap) return 0;
    PGresult **grown = realloc(ss->results, n * sizeof(*grown));
    if (!grown) return pg_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    memset(grown + ss->result_cap, 0, (n - ss->result_cap) * sizeof(*grown));
    ss->results = grown;
    ss->result_cap = n;
    return 0;
}

/* Sync the n queries queued on the writer, send them, and read their results into
 * into[0..n) (each query's one result; ss->results_got says how many came), then the sync's.
 * Returns 0, or -1 (recorded) when the connection broke: the results read so far are kept
 * (and freed by the caller). */
static int pg_store__round_trip(store_pg *ss, PGresult **into, uint32_t n)
{
    pg_conn *w = &ss->writer;
    ss->results_got = 0;
    if (!PQpipelineSync(w->conn) || pg_store_flush(w) != 0)
        return pg_store_fail(ss, w->conn, NULL, "send a batch");
    for (uint32_t i = 0; i <= n; i++) {
        if (pg_store_wait(w) != 0) return pg_store_fail(ss, NULL, NULL, "read a batch's results");
        PGresult *res = PQgetResult(w->conn);
        if (!res) return pg_store_fail(ss, w->conn, NULL, "a batch's results ended early");
        if (i == n) { /* the sync */
            bool synced = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
            PQclear(res);
            if (!synced) return pg_store_fail_with(ss, STORE_FATAL, "a batch lost its sync");
            return 0;
        }
        into[i] = res;
        ss->results_got = i + 1;
        if (pg_store_wait(w) != 0) return pg_store_fail(ss, NULL, NULL, "read a batch's results");
        PGresult *end = PQgetResult(w->conn); /* the end of this query's results */
        if (end) {
            PQclear(end);
            return pg_store_fail_with(ss, STORE_FATAL, "a query returned more than one result");
        }
    }
    return 0;
}

/* The connection broke after the batch's COMMIT was sent (ss->results[0..flush] all read and
 * done, the flush's result at index flush): whether the transaction committed all the same.
 * A new connection asks the server about the transaction the flush named (one that wrote
 * nothing changed nothing either way). Without an answer, it did not: the caller reports the
 * store unavailable, as for any lost connection. */
static bool pg_store__committed_anyway(store_pg *ss, uint32_t flush)
{
    if (ss->writer.conn || ss->results_got <= flush) return false; /* not a lost connection */
    for (uint32_t i = 0; i <= flush; i++) {
        ExecStatusType st = PQresultStatus(ss->results[i]);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return false;
    }
    const char *xid = pg_store_flush_xid(ss->results[flush]);
    if (!xid) return PQresultStatus(ss->results[flush]) == PGRES_TUPLES_OK;
    PGresult *answer = NULL;
    pg_params p = {0};
    pg_params_text(&p, xid);
    bool committed =
        pg_store_ensure(ss, &ss->writer) == 0 && pg_store_send(ss, PG_SQL_XACT_STATUS, &p) == 0 &&
        pg_store__round_trip(ss, &answer, 1) == 0 && PQresultStatus(answer) == PGRES_TUPLES_OK &&
        PQntuples(answer) == 1 && strcmp(PQgetvalue(answer, 0, 0), "committed") == 0;
    log_warn("store: the connection was lost before COMMIT's answer; transaction %s %s", xid,
             committed ? "committed: the batch stands" : "did not commit (or cannot be asked)");
    PQclear(answer);
    ss->results_got = flush + 1;
    return committed;
}

/* The first result of ss->results[from..to) that failed, recorded; 0 when none did. */
static int pg_store__check(store_pg *ss, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) {
        ExecStatusType st = PQresultStatus(ss->results[i]);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            return pg_store_fail(ss, ss->writer.conn, ss->results[i], "a batch failed");
    }
    return 0;
}

/* Read the commands' rows (results from `first` on), in order. Once the batch committed, a row
 * that cannot be read fails its command only (TIX_RC_STORE_FATAL): the batch must not run
 * again. */
static int pg_store__recv_cmds(store_pg *ss, uint32_t first, bool committed)
{
    store_batch *b = ss->batch;
    for (uint32_t i = 0; i < b->count; i++) {
        store_cmd *cmd = b->cmds[i];
        if (pg_store__ops_of[cmd->kind]->recv(ss, cmd, ss->results[first + i]) == 0) continue;
        if (!committed) return -1;
        log_error("store: command %u of a committed batch cannot be read: answered as fatal", i);
        cmd->rc = TIX_RC_STORE_FATAL;
        ss->status = STORE_OK;
    }
    return 0;
}

/* The tail's results (flush, COMMIT, notify) from `first` on: the batch committed, so a flush
 * that cannot be read only loses the batch's page (the follower reads the changes from the
 * store instead); the batch must not run again. */
static int pg_store__recv_tail(store_pg *ss, uint32_t first)
{
    if (pg_store_recv_flush(ss, ss->results[first]) != 0) {
        log_error("store: the changes of a committed batch cannot be read: followers read them"
                  " from the store");
        change_page_reset(&ss->batch->changes);
        ss->status = STORE_OK;
    }
    const PGresult *notified = ss->results[first + 2];
    if (notified && PQresultStatus(notified) != PGRES_TUPLES_OK) /* followers poll anyway */
        pg_store_fail(NULL, ss->writer.conn, notified, "notify the followers");
    return 0;
}

/* ---- idempotency keys: the second round trip ---- */

/* Whether cmd answers a key that an earlier command of the batch answered (it reads as
 * replayed with status 0: that command's response is not kept yet); that command. */
static store_cmd *pg_store__same_key(store_batch *b, uint32_t i)
{
    store_cmd *cmd = b->cmds[i];
    if (cmd->rc != TIX_RC_REPLAYED || cmd->idem->status != 0) return NULL;
    for (uint32_t k = 0; k < i; k++) {
        store_cmd *first = b->cmds[k];
        if (first->idem && strcmp(first->idem->key, cmd->idem->key) == 0 &&
            first->rc != TIX_RC_REPLAYED && first->rc != TIX_RC_KEY_REUSED)
            return first;
    }
    return NULL;
}

/* Render and queue the responses to keep. *queued: how many queries. */
static int pg_store__send_keeps(store_pg *ss, uint32_t *queued)
{
    store_batch *b = ss->batch;
    *queued = 0;
    for (uint32_t i = 0; i < b->count; i++) {
        store_cmd *cmd = b->cmds[i];
        store_idem *idem = cmd->idem;
        if (!idem || cmd->rc == TIX_RC_KEY_REUSED || cmd->rc == TIX_RC_REPLAYED) continue;
        if (idem->render) {
            buf_reset(&idem->body);
            idem->render(idem->render_ctx, cmd, &idem->status, &idem->body);
        }
        if (idem->body.failed)
            return pg_store_fail_with(ss, STORE_FATAL, "response to keep too large");
        pg_params p = {0};
        pg_params_text(&p, idem->key);
        pg_params_i64(&p, idem->status);
        pg_params_bytes(&p, idem->body.data, idem->body.len);
        if (pg_store_send(ss, PG_SQL_KEEP, &p) != 0) return -1;
        (*queued)++;
    }
    for (uint32_t i = 0; i < b->count; i++) { /* answered earlier in this batch: the same */
        store_cmd *first = pg_store__same_key(b, i);
        if (!first) continue;
        b->cmds[i]->idem->status = first->idem->status;
        buf_reset(&b->cmds[i]->idem->body);
        if (buf_append(&b->cmds[i]->idem->body, first->idem->body.data, first->idem->body.len))
            return pg_store_fail_with(ss, STORE_FATAL, "response to keep too large");
    }
    return 0;
}

/* The second round trip of a keyed batch: the kept responses, the flush, COMMIT. */
static int pg_store__commit_keyed(store_pg *ss)
{
    uint32_t keeps;
    if (pg_store__send_keeps(ss, &keeps) != 0 || pg_store_send_tail(ss) != 0) return -1;
    uint32_t n = keeps + 3;
    int rc = pg_store__results_reserve(ss, n);
    if (rc == 0) rc = pg_store__round_trip(ss, ss->results, n);
    if (rc != 0 && pg_store__committed_anyway(ss, keeps))
        rc = 0, ss->status = STORE_OK;
    else if (rc == 0)
        rc = pg_store__check(ss, 0, keeps + 2);
    if (rc == 0) rc = pg_store__recv_tail(ss, keeps);
    pg_store__results_clear(ss, n);
    return rc;
}

/* ---- the batch ---- */

/* Queue BEGIN and every command; with `tail`, the flush, COMMIT and notification too. *n: the
 * queries queued. */
static int pg_store__send_batch(store_pg *ss, bool tail, uint32_t *n)
{
    store_batch *b = ss->batch;
    pg_params none = {0};
    *n = 0;
    if (pg_store_send(ss, PG_SQL_BEGIN, &none) != 0) return -1;
    for (uint32_t i = 0; i < b->count; i++) {
        store_cmd *cmd = b->cmds[i];
        const pg_store_cmd_ops *ops = pg_store__ops_of[cmd->kind];
        cmd->rc = TIX_RC_OK;
        if (cmd->idem && !ops->keyed)
            return pg_store_fail_with(ss, STORE_FATAL,
                                      "a command of kind %d cannot answer an"
                                      " idempotency key",
                                      cmd->kind);
        if (ops->send(ss, cmd, b->now_ms) != 0) return -1;
    }
    *n = b->count + 1;
    if (tail && pg_store_send_tail(ss) != 0) return -1;
    *n += tail ? 3 : 0;
    return 0;
}

/* After a failure: end the transaction if one is open (the connection is dropped when even
 * that fails, or when the failure says the server is going away). */
static void pg_store__abort(store_pg *ss)
{
    pg_conn *w = &ss->writer;
    if (!w->conn) return;
    PGTransactionStatusType tx = PQtransactionStatus(w->conn);
    if (PQstatus(w->conn) != CONNECTION_OK || tx == PQTRANS_ACTIVE || tx == PQTRANS_UNKNOWN) {
        pg_store_disconnect(w); /* mid-pipeline: start again on a new connection */
        return;
    }
    if (tx == PQTRANS_IDLE) return;
    pg_params none = {0};
    store_status failed = ss->status; /* a failing ROLLBACK must not hide the cause */
    if (pg_store_send(ss, PG_SQL_ROLLBACK, &none) != 0 ||
        pg_store__round_trip(ss, ss->results, 1) != 0 ||
        PQresultStatus(ss->results[0]) != PGRES_COMMAND_OK)
        pg_store_disconnect(w);
    pg_store__results_clear(ss, 1);
    ss->status = failed;
}

static store_status pg_store__batch_run(store *s, store_batch *b)
{
    store_pg *ss = pg_store_of(s);
    ss->batch = b;
    ss->status = STORE_OK;
    b->feed_before = 0;
    if (!pg_store_alive(&ss->writer)) pg_store_disconnect(&ss->writer); /* lost while idle */
    if (pg_store_ensure(ss, &ss->writer) != 0) {
        ss->batch = NULL;
        return STORE_UNAVAILABLE;
    }
    bool keyed = false;
    for (uint32_t i = 0; i < b->count; i++)
        keyed |= b->cmds[i]->idem != NULL;
    uint32_t n = 0;
    int rc = pg_store__results_reserve(ss, b->count + 4);
    if (rc == 0) rc = pg_store__send_batch(ss, !keyed, &n);
    if (rc == 0) rc = pg_store__round_trip(ss, ss->results, n);
    if (rc != 0 && !keyed && pg_store__committed_anyway(ss, b->count + 1))
        rc = 0, ss->status = STORE_OK;
    else if (rc == 0)
        rc = pg_store__check(ss, 0, n);
    if (rc == 0 && !keyed) rc = pg_store__recv_tail(ss, b->count + 1);
    if (rc == 0) rc = pg_store__recv_cmds(ss, 1, !keyed);
    pg_store__results_clear(ss, n);
    if (rc == 0 && keyed) rc = pg_store__commit_keyed(ss);
    store_status status = rc == 0 ? STORE_OK : ss->status;
    if (rc != 0 && status == STORE_OK) status = STORE_FATAL;
    if (rc != 0) pg_store__abort(ss);
    ss->batch = NULL;
    return status;
}

/* ---- opening and closing ---- */

static const char *pg_store__store_id(store *s)
{
    return pg_store_of(s)->id;
}

static void pg_store__close(store *s)
{
    store_pg *ss = pg_store_of(s);
    pg_store_listen_stop(ss);
    pg_store_disconnect(&ss->writer);
    for (unsigned i = 0; i < ss->reader_count; i++)
        pg_store_disconnect(&ss->readers[i].c);
    pthread_mutex_destroy(&ss->readers_mutex);
    pthread_cond_destroy(&ss->readers_cond);
    pthread_mutex_destroy(&ss->watch_mutex);
    buf_free(&ss->scratch);
    buf_free(&ss->ids);
    free(ss->results);
    free(ss->url);
    free(ss);
}

static const store_ops pg_store__ops = {
    .close = pg_store__close,
    .id = pg_store__store_id,
    .batch_run = pg_store__batch_run,
    .changes_read = pg_store_changes_read,
    .snapshot_load = pg_store_snapshot_load,
    .event_get = pg_store_event_get,
    .hold_get = pg_store_hold_read,
    .booking_get = pg_store_booking_read,
    .bookings_by_user = pg_store_bookings_by_user,
    .subscribers_list = pg_store_subscribers_list,
    .dead_letters_list = pg_store_dead_letters_list,
    .idempotency_get = pg_store_idempotency_get,
    .event_stats = pg_store_event_stats,
    .dead_letters_count = pg_store_dead_letters_count,
    .watch = pg_store_watch,
};

/* Migrate the database, then read its id, on a connection of its own. */
static int pg_store__prepare_database(store_pg *ss, char *err, size_t err_len)
{
    pg_conn admin = {.role = PG_ROLE_ADMIN};
    if (pg_store_connect(ss, &admin, err, err_len) != 0) return -1;
    int rc = pg_store_migrate(admin.conn, err, err_len);
    PGresult *res = NULL;
    if (rc == 0) {
        res = PQexec(admin.conn, "SELECT value FROM meta WHERE key = 'store_id'");
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
            pg_store_text(ss->id, sizeof(ss->id), res, 0, 0);
        if (!ids_is_valid_hex(ss->id, strlen(ss->id)))
            rc = -1, snprintf(err, err_len, "the database has no valid store_id");
    }
    PQclear(res);
    pg_store_disconnect(&admin);
    return rc;
}

int store_pg_open(const store_options *o, store **out, char *err, size_t err_len)
{
    assert(o->url && o->url[0]);
    unsigned readers = o->readers ? o->readers : 1;
    if (readers > PG_STORE_READERS_MAX) readers = PG_STORE_READERS_MAX;
    store_pg *ss = calloc(1, sizeof(*ss));
    if (!ss || !(ss->url = strdup(o->url))) {
        free(ss);
        return snprintf(err, err_len, "out of memory"), -1;
    }
    ss->base.ops = &pg_store__ops;
    ss->lock_timeout_ms = o->busy_timeout_ms ? o->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS_DEFAULT;
    ss->listen_stop_fd = -1;
    pthread_mutex_init(&ss->readers_mutex, NULL);
    pthread_cond_init(&ss->readers_cond, NULL);
    pthread_mutex_init(&ss->watch_mutex, NULL);
    buf_init(&ss->scratch, PG_STORE_SECTIONS_LEN_MAX);
    buf_init(&ss->ids, PG_STORE_ARRAY_LEN_MAX);
    ss->writer.role = PG_ROLE_WRITER;
    if (pg_store__prepare_database(ss, err, err_len) != 0 ||
        pg_store_connect(ss, &ss->writer, err, err_len) != 0)
        goto fail;
    for (unsigned i = 0; i < readers; i++) {
        ss->readers[i].c.role = PG_ROLE_READER;
        ss->reader_count = i + 1;
        if (pg_store_connect(ss, &ss->readers[i].c, err, err_len) != 0) goto fail;
    }
    *out = &ss->base;
    return 0;
fail:
    pg_store__close(&ss->base);
    return -1;
}
