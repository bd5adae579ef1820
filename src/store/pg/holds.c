/* holds: HOLD, RELEASE, SWEEP and EVENT_CREATE on PostgreSQL: the parameters of their
 * functions (sql/v1_holds.sql, where the rules are) and their outcomes; the hold records
 * shared with the reads. */
#include "store/pg/internal.h"

#include "core/json_out.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ---- */

/* Columns of the holds table, in order. */
enum {
    PG_HOLD_SEQ,
    PG_HOLD_ID,
    PG_HOLD_EVENT,
    PG_HOLD_USER,
    PG_HOLD_STATUS,
    PG_HOLD_SEATS,
    PG_HOLD_CREATED,
    PG_HOLD_EXPIRES,
    PG_HOLD_ENDED,
    PG_HOLD_COLUMNS
};

int pg_store_hold_decode(const PGresult *res, int row, int col, hold_record *out)
{
    if (PQnfields(res) < col + PG_HOLD_COLUMNS) return -1;
    out->seq = pg_store_i64(res, row, col + PG_HOLD_SEQ);
    pg_store_text(out->id, sizeof(out->id), res, row, col + PG_HOLD_ID);
    pg_store_text(out->event_id, sizeof(out->event_id), res, row, col + PG_HOLD_EVENT);
    pg_store_text(out->user_id, sizeof(out->user_id), res, row, col + PG_HOLD_USER);
    if (model_hold_status_parse(PQgetvalue(res, row, col + PG_HOLD_STATUS), &out->status) != 0)
        return log_error("store: hold %s has an unknown status", out->id), -1;
    out->created_at_ms = pg_store_i64(res, row, col + PG_HOLD_CREATED);
    out->expires_at_ms = pg_store_i64(res, row, col + PG_HOLD_EXPIRES);
    out->ended_at_ms = pg_store_i64(res, row, col + PG_HOLD_ENDED);
    if (model_seat_ids_parse(PQgetvalue(res, row, col + PG_HOLD_SEATS), out->seat_ids,
                             &out->seat_count) != 0)
        return log_error("store: hold %s has malformed seat_ids", out->id), -1;
    return 0;
}

/* ---- HOLD ---- */

static int pg_store__hold_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    hold_record *h = &cmd->u.hold.hold;
    assert(h->seat_count > 0 && h->seat_count <= TIX_HOLD_SEATS_MAX);
    cmd->u.hold.taken_count = 0;
    ids_sortable_hex(h->id, now_ms);
    h->seq = 0;
    h->status = HOLD_ACTIVE;
    h->created_at_ms = now_ms;
    h->ended_at_ms = 0;
    buf_reset(&ss->scratch);
    json_out_seat_ids(&ss->scratch, h->seat_ids, h->seat_count);
    if (ss->scratch.failed ||
        pg_store_array(&ss->ids, h->seat_ids, sizeof(h->seat_ids[0]), h->seat_count) != 0)
        return pg_store_fail_with(ss, STORE_UNAVAILABLE, "out of memory");
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_i64(&p, ss->batch->rules->user_seats_max);
    pg_params_text(&p, h->id);
    pg_params_text(&p, h->event_id);
    pg_params_text(&p, h->user_id);
    pg_params_text(&p, ss->ids.data);
    pg_params_text(&p, ss->scratch.data);
    return pg_store_send(ss, PG_SQL_HOLD, &p);
}

/* The positions of an int[] text ('{0,3}') into taken. Returns how many, or -1. */
static int pg_store__positions(const char *text, uint8_t *taken, uint32_t cap)
{
    if (text[0] != '{') return -1;
    uint32_t n = 0;
    for (const char *p = text + 1; *p && *p != '}';) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= TIX_HOLD_SEATS_MAX || n == cap) return -1;
        taken[n++] = (uint8_t)v;
        p = *end == ',' ? end + 1 : end;
    }
    return (int)n;
}

static int pg_store__hold_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    if (pg_store_recv_outcome(ss, cmd, res, true) != 0) return -1;
    store_hold *in = &cmd->u.hold;
    if (cmd->rc == TIX_RC_OK) {
        in->hold.seq = pg_store_i64(res, 0, 3);
        in->hold.expires_at_ms = pg_store_i64(res, 0, 4);
        if (in->hold.seq <= 0) return pg_store_fail_with(ss, STORE_FATAL, "a hold without a seq");
    } else if (cmd->rc == TIX_RC_SEAT_UNAVAILABLE) {
        int n = pg_store__positions(PQgetvalue(res, 0, 5), in->taken, TIX_HOLD_SEATS_MAX);
        if (n <= 0) return pg_store_fail_with(ss, STORE_FATAL, "a refused hold names no seat");
        in->taken_count = (uint32_t)n;
    }
    return 0;
}

const pg_store_cmd_ops pg_store_hold_ops = {pg_store__hold_send, pg_store__hold_recv, true};

/* ---- RELEASE ---- */

static int pg_store__release_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_text(&p, cmd->u.release.hold.id);
    pg_params_text(&p, cmd->u.release.actor);
    return pg_store_send(ss, PG_SQL_RELEASE, &p);
}

static int pg_store__release_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    if (pg_store_recv_outcome(ss, cmd, res, true) != 0) return -1;
    if (cmd->rc == TIX_RC_REPLAYED || cmd->rc == TIX_RC_KEY_REUSED || PQgetisnull(res, 0, 3))
        return 0;
    if (pg_store_hold_decode(res, 0, 3, &cmd->u.release.hold) != 0)
        return pg_store_fail_with(ss, STORE_FATAL, "a hold row cannot be read");
    return 0;
}

const pg_store_cmd_ops pg_store_release_ops = {pg_store__release_send, pg_store__release_recv,
                                               true};

/* ---- SWEEP ---- */

static int pg_store__sweep_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    const store_rules *rules = ss->batch->rules;
    pg_params p = {0};
    pg_params_i64(&p, now_ms);
    pg_params_i64(&p, cmd->u.sweep.holds_max);
    pg_params_i64(&p, rules->idempotency_ttl_s);
    pg_params_i64(&p, rules->feed_retain);
    pg_params_i64(&p, PG_STORE_TRIM_MAX);
    return pg_store_send(ss, PG_SQL_SWEEP, &p);
}

static int pg_store__sweep_recv(store_pg *ss, store_cmd *cmd, const PGresult *res)
{
    if (pg_store_recv_outcome(ss, cmd, res, false) != 0) return -1;
    cmd->u.sweep.expired = (uint32_t)pg_store_i64(res, 0, 1);
    return 0;
}

const pg_store_cmd_ops pg_store_sweep_ops = {pg_store__sweep_send, pg_store__sweep_recv, false};

/* ---- EVENT_CREATE ---- */

/* The sections of spec as the JSON tix_event_create reads, into b. */
static int pg_store__sections_json(const event_spec *spec, buf *b)
{
    buf_reset(b);
    json_out_sections(b, spec);
    return b->failed ? -1 : 0;
}

static int pg_store__event_create_send(store_pg *ss, store_cmd *cmd, int64_t now_ms)
{
    event_spec *spec = &cmd->u.event_create.spec;
    spec->created_at_ms = now_ms;
    if (pg_store__sections_json(spec, &ss->scratch) != 0)
        return pg_store_fail_with(ss, STORE_FATAL, "the sections of event %s are too large",
                                  spec->id);
    pg_params p = {0};
    pg_params_idem(&p, cmd, now_ms);
    pg_params_i64(&p, TIX_EVENTS_MAX);
    pg_params_text(&p, spec->id);
    pg_params_text(&p, spec->name);
    pg_params_text(&p, spec->venue);
    pg_params_i64(&p, spec->starts_at_ms);
    pg_params_i64(&p, spec->hold_ttl_s);
    pg_params_i64(&p, spec->max_seats_per_hold);
    pg_params_text(&p, ss->scratch.data);
    pg_params_i64(&p, (int64_t)model_event_seat_count(spec));
    return pg_store_send(ss, PG_SQL_EVENT_CREATE, &p);
}

const pg_store_cmd_ops pg_store_event_create_ops = {pg_store__event_create_send,
                                                    pg_store_recv_keyed, true};
