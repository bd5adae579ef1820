/* bus: the event bus on the embedded store: outbox rows and their fan-out to subscribers,
 * SUBSCRIBER_ADD, CLAIM (leases carrying the node's id), DELIVERY outcomes, REDRIVE of dead
 * letters and RECLAIM of a restarted node's own leases.
 *
 * Fan-out is computed from the store in the transaction of the outbox row: one delivery per
 * subscriber whose routing pattern (GLOB, like EventBridge rules) matches the row's type. Which
 * types have any subscriber at all is cached per writer (most rows, HoldCreated above all, have
 * none, and skip the fan-out statement), and the cache is checked at the start of every batch
 * against subscribers_version, which every SUBSCRIBER_ADD moves in its own transaction: a
 * subscriber added by any writer is routed by every other from its next batch on. */
#include "store/sqlite/internal.h"

#include "core/json_out.h"
#include "metrics/metrics.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* ---- routes ---- */

int sqlite_store_routes_check(store_sqlite *ss)
{
    int64_t version = 0;
    if (sqlite_store_int(ss, SQL_SUBSCRIBERS_VERSION, &version, NULL) != 0) return -1;
    if (version != ss->subscribers_version) ss->route_count = 0;
    ss->subscribers_version = version;
    return 0;
}

/* Does any subscriber pattern match event type `type`? Cached per type (see above). */
static int sqlite_store__routed(store_sqlite *ss, const char *type, bool *routed)
{
    for (uint32_t i = 0; i < ss->route_count; i++) {
        if (strcmp(ss->routes[i].type, type) == 0) return *routed = ss->routes[i].routed, 0;
    }
    sqlite3_stmt *st = ss->stmt[SQL_ROUTED];
    sqlite_store_bind_text(st, 1, type);
    int64_t one = 0;
    if (sqlite_store_int(ss, SQL_ROUTED, &one, routed) != 0) return -1;
    if (ss->route_count < SQLITE_STORE_ROUTES_MAX && strlen(type) <= TIX_EVENT_TYPE_LEN_MAX) {
        sqlite_route *r = &ss->routes[ss->route_count++];
        snprintf(r->type, sizeof(r->type), "%s", type);
        r->routed = *routed;
    }
    return 0;
}

/* ---- the outbox ---- */

int sqlite_store_outbox(store_sqlite *ss, const char *type, const char *event_id,
                        const char *aggregate_id, int64_t now_ms)
{
    if (ss->data.failed)
        return sqlite_store_fail_with(ss, STORE_FATAL, "outbox payload of %s too large", type);
    char id[IDS_HEX_LEN + 1];
    ids_sortable_hex(id, now_ms);
    sqlite3_stmt *st = ss->stmt[SQL_OUTBOX_INSERT];
    sqlite_store_bind_text(st, 1, id);
    sqlite_store_bind_text(st, 2, type);
    sqlite_store_bind_text(st, 3, event_id);
    sqlite_store_bind_text(st, 4, aggregate_id);
    sqlite3_bind_int64(st, 5, now_ms);
    sqlite3_bind_text(st, 6, ss->data.data, (int)ss->data.len, SQLITE_STATIC);
    if (sqlite_store_run(ss, SQL_OUTBOX_INSERT) != 0) return -1;
    metrics_outbox_event(type); /* counted if the batch commits (metrics_writer_batch) */
    bool routed = true;
    if (sqlite_store__routed(ss, type, &routed) != 0) return -1;
    if (!routed) return 0;
    st = ss->stmt[SQL_OUTBOX_FANOUT];
    sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(ss->db));
    sqlite_store_bind_text(st, 2, aggregate_id ? aggregate_id : "");
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite_store_bind_text(st, 4, type);
    if (sqlite_store_run(ss, SQL_OUTBOX_FANOUT) != 0) return -1;
    if (sqlite_store_changes(ss) > 0) ss->batch->deliveries_written = true;
    return 0;
}

int sqlite_store_outbox_hold(store_sqlite *ss, const char *type, const hold_record *h,
                             int64_t now_ms)
{
    buf_reset(&ss->data);
    json_out_hold(&ss->data, h, now_ms, true);
    return sqlite_store_outbox(ss, type, h->event_id, h->id, now_ms);
}

int sqlite_store_outbox_booking(store_sqlite *ss, const char *type, const booking_record *b,
                                int64_t now_ms)
{
    buf_reset(&ss->data);
    json_out_booking(&ss->data, b, true);
    return sqlite_store_outbox(ss, type, b->event_id, b->id, now_ms);
}

/* ---- subscribers ---- */

static const char *const sqlite_store__kind_names[] = {"payment", "notification", "webhook"};

int sqlite_store_do_subscriber_add(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    subscriber_record *sub = &cmd->u.subscriber_add.sub;
    assert(sub->pattern_count > 0 && sub->pattern_count <= TIX_PATTERNS_MAX);
    sub->created_at_ms = now_ms;
    sqlite3_stmt *st = ss->stmt[SQL_SUBSCRIBER_INSERT];
    sqlite_store_bind_text(st, 1, sub->id);
    sqlite_store_bind_text(st, 2, sqlite_store__kind_names[sub->kind]);
    sqlite_store_bind_text(st, 3, sub->url);
    sqlite_store_bind_text(st, 4, sub->secret);
    sqlite3_bind_int64(st, 5, sub->created_at_ms);
    if (sqlite_store_run(ss, SQL_SUBSCRIBER_INSERT) != 0) return -1;
    for (uint32_t i = 0; i < sub->pattern_count; i++) {
        st = ss->stmt[SQL_PATTERN_INSERT];
        sqlite_store_bind_text(st, 1, sub->id);
        sqlite_store_bind_text(st, 2, sub->patterns[i]);
        if (sqlite_store_run(ss, SQL_PATTERN_INSERT) != 0) return -1;
    }
    if (sqlite_store_run(ss, SQL_SUBSCRIBERS_VERSION_BUMP) != 0) return -1;
    ss->route_count = 0; /* this batch's later rows are routed to it too */
    return sqlite_store_feed_append(ss, CHANGE_SUBSCRIBER_ADDED, "", sub->id, 0, 0, "[]", 2, 0,
                                    now_ms);
}

/* ---- deliveries ---- */

int sqlite_store_delivery_decode(sqlite3_stmt *st, delivery_record *out)
{
    memset(out, 0, sizeof(*out));
    out->seq = sqlite3_column_int64(st, 0);
    sqlite_store_copy_text(out->subscriber_id, sizeof(out->subscriber_id), st, 1);
    const char *status = (const char *)sqlite3_column_text(st, 2);
    out->status = status && strcmp(status, "dead") == 0        ? DELIVERY_DEAD
                  : status && strcmp(status, "delivered") == 0 ? DELIVERY_DELIVERED
                                                               : DELIVERY_PENDING;
    out->attempts = sqlite3_column_int(st, 3);
    out->next_attempt_ms = sqlite3_column_int64(st, 4);
    out->updated_at_ms = sqlite3_column_int64(st, 5);
    sqlite_store_copy_text(out->last_error, sizeof(out->last_error), st, 6);
    outbox_record *e = &out->event;
    e->seq = sqlite3_column_int64(st, 7);
    sqlite_store_copy_text(e->id, sizeof(e->id), st, 8);
    sqlite_store_copy_text(e->type, sizeof(e->type), st, 9);
    sqlite_store_copy_text(e->event_id, sizeof(e->event_id), st, 10);
    sqlite_store_copy_text(e->aggregate_id, sizeof(e->aggregate_id), st, 11);
    e->time_ms = sqlite3_column_int64(st, 12);
    sqlite_store_copy_text(e->data, sizeof(e->data), st, 13);
    return 0;
}

/* Read the claimed delivery out[i] (its seq set) whole, with its outbox row. */
static int sqlite_store__delivery_load(store_sqlite *ss, delivery_record *d)
{
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_BY_SEQ];
    sqlite3_bind_int64(st, 1, d->seq);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sqlite_store_delivery_decode(st, d);
    sqlite_store_done(st);
    if (rc != SQLITE_ROW) return sqlite_store_fail(ss, ss->db, "read a claimed delivery");
    return 0;
}

int sqlite_store_do_claim(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    store_claim *in = &cmd->u.claim;
    const store_rules *rules = ss->batch->rules;
    assert(in->out && in->max > 0 && rules->max_attempts > 0);
    in->count = 0;
    /* never an attempt past max_attempts, even when the last one was lost in a crash */
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERIES_EXHAUST];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, rules->max_attempts);
    if (sqlite_store_run(ss, SQL_DELIVERIES_EXHAUST) != 0) return -1;
    st = ss->stmt[SQL_DELIVERIES_CLAIM];
    sqlite_store_bind_text(st, 1, ss->batch->node_id);
    sqlite3_bind_int64(st, 2, now_ms + (int64_t)rules->lease_ms);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, in->max);
    int rc;
    /* RETURNING rows come while the statement runs: collect every one before reading more */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (in->count < in->max) in->out[in->count++].seq = sqlite3_column_int64(st, 0);
    sqlite_store_done(st);
    if (rc != SQLITE_DONE) return sqlite_store_fail(ss, ss->db, "claim deliveries");
    for (uint32_t i = 0; i < in->count; i++)
        if (sqlite_store__delivery_load(ss, &in->out[i]) != 0) return -1;
    return 0;
}

int sqlite_store_do_delivery(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_delivery *in = &cmd->u.delivery;
    sqlite_sql which =
        in->outcome == STORE_DELIVERY_RETRY ? SQL_DELIVERY_RETRY : SQL_DELIVERY_FINISH;
    sqlite3_stmt *st = ss->stmt[which];
    if (which == SQL_DELIVERY_RETRY) {
        sqlite3_bind_int64(st, 1, in->next_attempt_ms);
    } else {
        sqlite_store_bind_text(st, 1, in->outcome == STORE_DELIVERY_DEAD ? "dead" : "delivered");
    }
    sqlite_store_bind_text(st, 2, in->outcome == STORE_DELIVERED ? "" : in->error);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, in->seq);
    return sqlite_store_run(ss, which);
}

int sqlite_store_do_redrive(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERY_REDRIVE];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, cmd->u.redrive.seq);
    if (sqlite_store_run(ss, SQL_DELIVERY_REDRIVE) != 0) return -1;
    if (sqlite_store_changes(ss) == 0)
        cmd->rc = TIX_RC_NOT_FOUND;
    else
        ss->batch->deliveries_written = true; /* wake the dispatchers */
    return 0;
}

int sqlite_store_do_reclaim(store_sqlite *ss, store_cmd *cmd, int64_t now_ms)
{
    sqlite3_stmt *st = ss->stmt[SQL_DELIVERIES_RECLAIM];
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite_store_bind_text(st, 2, ss->batch->node_id);
    if (sqlite_store_run(ss, SQL_DELIVERIES_RECLAIM) != 0) return -1;
    cmd->u.reclaim.count = (uint32_t)sqlite_store_changes(ss);
    if (cmd->u.reclaim.count > 0) ss->batch->deliveries_written = true;
    return 0;
}
