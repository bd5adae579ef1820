/* feed: the end of a batch on PostgreSQL, the writer's side of the change feed.
 *
 * The commands of a batch append their changes to a temporary table of the writer's connection
 * (tix_feed_add). The batch's last statement before COMMIT, tix_feed_flush, takes the feed's
 * counter row with a row lock, gives the waiting changes the next seqs and writes them to the
 * feed: from that lock to COMMIT nothing else runs, so appending batches commit one at a time,
 * in seq order, and the lock is held for the least time. A batch that appended nothing takes no
 * lock and reads the committed head instead. tix_feed_notify then tells the other nodes, in a
 * transaction of its own (see pg.c). */
#include "store/pg/internal.h"

#include "metrics/metrics.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pg_store_send_tail(store_pg *ss)
{
    pg_params none = {0};
    if (pg_store_send(ss, PG_SQL_FLUSH, &none) != 0 || pg_store_send(ss, PG_SQL_COMMIT, &none) != 0)
        return -1;
    return pg_store_send(ss, PG_SQL_NOTIFY, &none);
}

/* Columns of tix_feed_flush. */
enum {
    PG_FLUSH_BEFORE,
    PG_FLUSH_WOKE,
    PG_FLUSH_XID,
    PG_FLUSH_OUTBOX,
    PG_FLUSH_SEQ,
    PG_FLUSH_TIME,
    PG_FLUSH_KIND,
    PG_FLUSH_EVENT,
    PG_FLUSH_REF,
    PG_FLUSH_HOLD,
    PG_FLUSH_EXPIRES,
    PG_FLUSH_SEATS,
    PG_FLUSH_COLUMNS
};

/* Add change `row` of the flush to the batch's page. */
static int pg_store__change_add(store_pg *ss, const PGresult *res, int row)
{
    change_record c = {
        .seq = pg_store_i64(res, row, PG_FLUSH_SEQ),
        .time_ms = pg_store_i64(res, row, PG_FLUSH_TIME),
        .hold_seq = pg_store_i64(res, row, PG_FLUSH_HOLD),
        .expires_ms = pg_store_i64(res, row, PG_FLUSH_EXPIRES),
    };
    if (model_change_kind_parse(PQgetvalue(res, row, PG_FLUSH_KIND), &c.kind) != 0)
        return pg_store_fail_with(ss, STORE_FATAL, "change %lld has an unknown kind",
                                  (long long)c.seq);
    pg_store_text(c.event_id, sizeof(c.event_id), res, row, PG_FLUSH_EVENT);
    pg_store_text(c.ref, sizeof(c.ref), res, row, PG_FLUSH_REF);
    const char *ids = PQgetvalue(res, row, PG_FLUSH_SEATS);
    size_t len = (size_t)PQgetlength(res, row, PG_FLUSH_SEATS), pos = 0;
    char id[TIX_SEAT_ID_LEN_MAX];
    int got;
    while ((got = model_seat_ids_next(ids, len, &pos, id)) > 0)
        c.seat_count++;
    if (got < 0)
        return pg_store_fail_with(ss, STORE_FATAL, "change %lld has malformed seat_ids",
                                  (long long)c.seq);
    if (change_page_add(&ss->batch->changes, &c, ids, len) != 0)
        return pg_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    return 0;
}

const char *pg_store_flush_xid(const PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 ||
        PQnfields(res) != PG_FLUSH_COLUMNS || PQgetisnull(res, 0, PG_FLUSH_XID))
        return NULL;
    return PQgetvalue(res, 0, PG_FLUSH_XID);
}

/* Count the outbox rows the batch wrote ("HoldCreated:3,HoldExpired:1") for the metrics. */
static void pg_store__count_outbox(const char *list)
{
    char type[TIX_EVENT_TYPE_LEN_MAX + 1];
    while (*list) {
        size_t len = strcspn(list, ":");
        if (!list[len] || len > TIX_EVENT_TYPE_LEN_MAX) return;
        memcpy(type, list, len);
        type[len] = '\0';
        long n = strtol(list + len + 1, NULL, 10);
        for (long i = 0; i < n && i < 1000000; i++)
            metrics_outbox_event(type);
        list += len + 1 + strcspn(list + len + 1, ",");
        if (*list == ',') list++;
    }
}

int pg_store_recv_flush(store_pg *ss, const PGresult *res)
{
    store_batch *b = ss->batch;
    int rows = PQntuples(res);
    if (rows < 1 || PQnfields(res) != PG_FLUSH_COLUMNS)
        return pg_store_fail_with(ss, STORE_FATAL, "the feed's flush cannot be read");
    b->feed_before = pg_store_i64(res, 0, PG_FLUSH_BEFORE);
    b->deliveries_written = strcmp(PQgetvalue(res, 0, PG_FLUSH_WOKE), "t") == 0;
    pg_store__count_outbox(PQgetvalue(res, 0, PG_FLUSH_OUTBOX));
    if (PQgetisnull(res, 0, PG_FLUSH_SEQ)) return 0; /* nothing appended */
    for (int row = 0; row < rows; row++) {
        if (pg_store_i64(res, row, PG_FLUSH_SEQ) != b->feed_before + 1 + row)
            return pg_store_fail_with(ss, STORE_FATAL, "the feed's flush is not dense");
        if (pg_store__change_add(ss, res, row) != 0) return -1;
    }
    return 0;
}
