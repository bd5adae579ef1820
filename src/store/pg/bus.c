/* bus: SUBSCRIBER_ADD, CLAIM, DELIVERY, REDRIVE and RECLAIM on PostgreSQL (the rules are in
 * sql/v1_bus.sql; the fan-out of outbox rows in sql/v1_common.sql), and the two commands that
 * change no state: PING and RESPONSE. */
#include "store/pg/internal.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const pg_store__kind_names[] = {"payment", "notification", "webhook"};

/* ---- SUBSCRIBER_ADD ---- */

static int pg_store__subscriber_add_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    subscriber_record *sub = &cmd->u.subscriber_add.sub;
    assert(sub->pattern_count > 0 && sub->pattern_count <= TIX_PATTERNS_MAX);
    assert((unsigned)sub->kind < sizeof(pg_store__kind_names) / sizeof(pg_store__kind_names[0]));
    sub->created_at_ms = now_ms;
    if (pg_store_array(&ss->ids, sub->patterns, sizeof(sub->patterns[0]), sub->pattern_count))
        return pg_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_text(&p, sub->id);
    pg_params_text(&p, pg_store__kind_names[sub->kind]);
    pg_params_text(&p, sub->url);
    pg_params_text(&p, sub->secret);
    pg_params_text(&p, ss->ids.data);
    return pg_store_send(ss, PG_SQL_SUBSCRIBER_ADD, &p);
}

const pg_store_cmd_ops pg_store_subscriber_add_ops = {pg_store__subscriber_add_send,
                                                      pg_store_recv_keyed, true};

/* ---- CLAIM ---- */

void pg_store_delivery_decode(const PGresult *res, int row, int col, delivery_record *out)
{
    memset(out, 0, sizeof(*out));
    out->seq = pg_store_i64(res, row, col);
    pg_store_text(out->subscriber_id, sizeof(out->subscriber_id), res, row, col + 1);
    const char *status = PQgetvalue(res, row, col + 2);
    out->status = strcmp(status, "dead") == 0        ? DELIVERY_DEAD
                  : strcmp(status, "delivered") == 0 ? DELIVERY_DELIVERED
                                                     : DELIVERY_PENDING;
    out->attempts = (int32_t)pg_store_i64(res, row, col + 3);
    out->next_attempt_ms = pg_store_i64(res, row, col + 4);
    out->updated_at_ms = pg_store_i64(res, row, col + 5);
    pg_store_text(out->last_error, sizeof(out->last_error), res, row, col + 6);
    outbox_record *e = &out->event;
    e->seq = pg_store_i64(res, row, col + 7);
    pg_store_text(e->id, sizeof(e->id), res, row, col + 8);
    pg_store_text(e->type, sizeof(e->type), res, row, col + 9);
    pg_store_text(e->event_id, sizeof(e->event_id), res, row, col + 10);
    pg_store_text(e->aggregate_id, sizeof(e->aggregate_id), res, row, col + 11);
    e->time_ms = pg_store_i64(res, row, col + 12);
    pg_store_text(e->data, sizeof(e->data), res, row, col + 13);
}

static int pg_store__claim_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_rules *rules = ss->batch->rules;
    store_claim *in = &cmd->u.claim;
    assert(in->out && in->max > 0 && rules->max_attempts > 0);
    in->count = 0;
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_text(&p, ss->batch->node_id);
    pg_params_i64(&p, now_ms + (int64_t)rules->lease_ms);
    pg_params_i64(&p, in->max);
    pg_params_i64(&p, rules->max_attempts);
    return pg_store_send(ss, PG_SQL_CLAIM, &p);
}

static int pg_store__claim_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    store_claim *in = &cmd->u.claim;
    int rows = PQntuples(res);
    if (PQnfields(res) != 14 || (uint32_t)rows > in->max)
        return pg_store_fail_with(ss, STORE_FATAL, "claimed deliveries cannot be read");
    cmd->rc = TIX_RC_OK;
    for (int row = 0; row < rows; row++)
        pg_store_delivery_decode(res, row, 0, &in->out[row]);
    in->count = (uint32_t)rows;
    return 0;
}

const pg_store_cmd_ops pg_store_claim_ops = {pg_store__claim_send, pg_store__claim_recv, false};

/* ---- DELIVERY, REDRIVE, RECLAIM ---- */

static int pg_store__delivery_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_delivery *in = &cmd->u.delivery;
    static const char *const outcomes[] = {[STORE_DELIVERED] = "delivered",
                                           [STORE_DELIVERY_RETRY] = "retry",
                                           [STORE_DELIVERY_DEAD] = "dead"};
    assert((unsigned)in->outcome <= STORE_DELIVERY_DEAD);
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_i64(&p, in->seq);
    pg_params_text(&p, outcomes[in->outcome]);
    pg_params_i64(&p, in->next_attempt_ms);
    pg_params_text(&p, in->outcome == STORE_DELIVERED ? "" : in->error);
    return pg_store_send(ss, PG_SQL_DELIVERY, &p);
}

const pg_store_cmd_ops pg_store_delivery_ops = {pg_store__delivery_send, pg_store_recv_plain,
                                                false};

static int pg_store__redrive_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_i64(&p, cmd->u.redrive.seq);
    return pg_store_send(ss, PG_SQL_REDRIVE, &p);
}

const pg_store_cmd_ops pg_store_redrive_ops = {pg_store__redrive_send, pg_store_recv_keyed, true};

static int pg_store__reclaim_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    (void)cmd;
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_text(&p, ss->batch->node_id);
    return pg_store_send(ss, PG_SQL_RECLAIM, &p);
}

static int pg_store__reclaim_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    if (pg_store_recv_outcome(ss, cmd, res, false) != 0) return -1;
    cmd->u.reclaim.count = (uint32_t)pg_store_i64(res, 0, 1);
    return 0;
}

const pg_store_cmd_ops pg_store_reclaim_ops = {pg_store__reclaim_send, pg_store__reclaim_recv,
                                               false};

/* ---- PING, RESPONSE ---- */

static int pg_store__ping_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    (void)cmd;
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_text(&p, ss->batch->node_id);
    return pg_store_send(ss, PG_SQL_PING, &p);
}

const pg_store_cmd_ops pg_store_ping_ops = {pg_store__ping_send, pg_store_recv_plain, false};

static int pg_store__response_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    assert(cmd->idem && !cmd->idem->render);
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    return pg_store_send(ss, PG_SQL_RESPONSE, &p);
}

const pg_store_cmd_ops pg_store_response_ops = {pg_store__response_send, pg_store_recv_keyed, true};
