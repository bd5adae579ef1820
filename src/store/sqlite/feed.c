/* feed: the change feed on the embedded store (store/store.h), the writer's side.
 *
 * A change's seq is the feed's head + 1, read once per batch inside its write lock (BEGIN
 * IMMEDIATE): no other writer can append between, so seqs are dense and commit order is seq
 * order. A refused command's changes are rolled back with its savepoint and the head with them
 * (sqlite.c). The sweep trims changes older than rules.feed_retain, a bounded number at a time,
 * and never the newest one: the head survives any trim, so seqs never restart. */
#include "store/sqlite/internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int sqlite_store_feed_begin(store_sqlite *ss)
{
    return sqlite_store_int(ss, SQL_FEED_HEAD, &ss->feed_head, NULL);
}

int sqlite_store_feed_append(store_sqlite *ss, change_kind kind, const char *event_id,
                             const char *ref, int64_t hold_seq, int64_t expires_ms,
                             const char *seat_ids_json, size_t seat_ids_len, uint32_t seat_count,
                             int64_t now_ms)
{
    assert(!model_change_is_seats(kind) || (seat_count > 0 && hold_seq > 0));
    change_record c = {
        .seq = ss->feed_head + 1,
        .time_ms = now_ms,
        .kind = kind,
        .hold_seq = hold_seq,
        .expires_ms = expires_ms,
        .seat_count = seat_count,
    };
    snprintf(c.event_id, sizeof(c.event_id), "%s", event_id);
    snprintf(c.ref, sizeof(c.ref), "%s", ref);
    sqlite3_stmt *st = ss->stmt[SQL_FEED_INSERT];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite_store_bind_text(st, 2, model_change_kind_name(kind));
    sqlite_store_bind_text(st, 3, event_id);
    sqlite_store_bind_text(st, 4, ref);
    sqlite3_bind_int64(st, 5, hold_seq);
    sqlite3_bind_int64(st, 6, expires_ms);
    sqlite3_bind_text(st, 7, seat_ids_json, (int)seat_ids_len, SQLITE_STATIC);
    if (sqlite_store_run(ss, SQL_FEED_INSERT) != 0) return -1;
    if (sqlite3_last_insert_rowid(ss->db) != c.seq) /* the head never leaves the table */
        return sqlite_store_fail_with(ss, STORE_FATAL, "feed seq %lld where %lld was due",
                                      (long long)sqlite3_last_insert_rowid(ss->db),
                                      (long long)c.seq);
    if (change_page_add(&ss->batch->changes, &c, seat_ids_json, seat_ids_len) != 0)
        return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    ss->feed_head = c.seq;
    return 0;
}

int sqlite_store_feed_hold(store_sqlite *ss, change_kind kind, const hold_record *h,
                           int64_t expires_ms, int64_t now_ms)
{
    buf *ids = &ss->change_ids; /* not ss->ids: a hold may expire another on its way */
    if (sqlite_store_seat_ids_encode(h->seat_ids, h->seat_count, ids) != 0)
        return sqlite_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    return sqlite_store_feed_append(ss, kind, h->event_id, "", h->seq, expires_ms, ids->data,
                                    ids->len, h->seat_count, now_ms);
}

int sqlite_store_feed_trim(store_sqlite *ss)
{
    uint32_t retain = ss->batch->rules->feed_retain;
    if (retain == 0) retain = 1; /* the head is never trimmed */
    if (ss->feed_head <= (int64_t)retain) return 0;
    sqlite3_stmt *st = ss->stmt[SQL_FEED_TRIM];
    sqlite3_bind_int64(st, 1, ss->feed_head - retain);
    sqlite3_bind_int64(st, 2, SQLITE_STORE_TRIM_MAX);
    return sqlite_store_run(ss, SQL_FEED_TRIM);
}
