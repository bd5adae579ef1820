/* holds: POST /reserve, POST /events/{id}/holds, GET /holds/{id}, DELETE /holds/{id}. */
#include "api/internal.h"

#include "api/json_in.h"
#include "util/clock.h"
#include "util/ids.h"

#include <stdio.h>
#include <string.h>

/* 409 seat_unavailable naming the taken seats. */
static void api__seats_unavailable(api_response *res, const char (*ids)[TIX_SEAT_ID_LEN_MAX],
                                   uint32_t n)
{
    buf *b = &res->body;
    buf_reset(b);
    res->status = 409;
    buf_append_str(b, "{\"error\":{\"code\":\"seat_unavailable\",\"message\":\"");
    buf_append_str(b, n == 1 ? "this seat is already held or sold: "
                             : "these seats are already held or sold: ");
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_append(b, ", ", 2);
        buf_append_str(b, ids[i]); /* seat ids are letters and digits: no escaping */
    }
    buf_append_str(b, "\",\"seat_ids\":[");
    for (uint32_t i = 0; i < n; i++) {
        buf_append(b, i ? ",\"" : "\"", i ? 2 : 1);
        buf_append_str(b, ids[i]);
        buf_append_char(b, '"');
    }
    buf_append_char(b, ']');
    api__error_end(res);
}

/* What a hold request asks for, parsed before anything else is touched: the common case
 * (seats already taken) is answered from this alone. */
typedef struct api__hold_input {
    inv_event *event;
    uint32_t seat_count;
    uint32_t seat_index[TIX_HOLD_SEATS_MAX];
    const char *user_id; /* points into the parsed body */
} api__hold_input;

/* Resolve one requested seat id into in. Returns 0, or -1 with res set. */
static int api__add_seat(api__hold_input *in, const cJSON *item, const char *field,
                         api_response *res)
{
    inv_event *ev = in->event;
    if (!cJSON_IsString(item)) {
        api_error(res, 422, "invalid_request", "%s must contain seat id strings", field);
        return -1;
    }
    const char *seat_id = item->valuestring;
    int64_t index = inv_event_seat_find(ev, seat_id, strlen(seat_id));
    if (index < 0) {
        api_error(res, 404, "seat_not_found", "event '%s' has no seat '%.24s'", ev->spec.id,
                  seat_id);
        return -1;
    }
    for (uint32_t i = 0; i < in->seat_count; i++) {
        if (in->seat_index[i] == (uint32_t)index) {
            api_error(res, 422, "invalid_request", "%s names seat '%s' twice", field, seat_id);
            return -1;
        }
    }
    in->seat_index[in->seat_count++] = (uint32_t)index;
    return 0;
}

/* Read the body into in: event, seats and user. Returns 0, or -1 with res set. */
static int api__parse_hold(api *a, api_request *req, const cJSON *root, api__hold_input *in,
                           bool single_seat, api_response *res)
{
    char err[API_JSON_ERR_LEN];
    const char *event_id = NULL, *seat_id;
    if ((single_seat &&
         api_json_string(root, "event_id", true, 1, TIX_EVENT_ID_LEN_MAX + 1, &event_id, err)) ||
        api_json_string(root, "user_id", true, 1, TIX_USER_ID_LEN_MAX, &in->user_id, err) != 0) {
        api_error(res, 422, "invalid_request", "%s", err);
        return -1;
    }
    in->event = single_seat ? api__find_event(a, event_id, strlen(event_id), res)
                            : api__find_event(a, req->match.param, req->match.param_len, res);
    if (!in->event) return -1;
    if (single_seat) {
        if (api_json_string(root, "seat_id", true, 1, TIX_SEAT_ID_LEN_MAX, &seat_id, err) != 0) {
            api_error(res, 422, "invalid_request", "%s", err);
            return -1;
        }
        return api__add_seat(in, cJSON_GetObjectItemCaseSensitive(root, "seat_id"),
                             "field 'seat_id'", res);
    }
    const cJSON *seats = cJSON_GetObjectItemCaseSensitive(root, "seat_ids");
    int count = cJSON_IsArray(seats) ? cJSON_GetArraySize(seats) : -1;
    if (count < 1) {
        api_error(res, 422, "invalid_request",
                  "field 'seat_ids' must be a non-empty array of seat ids");
        return -1;
    }
    if (count > in->event->spec.max_seats_per_hold) {
        api_error(res, 422, "too_many_seats", "a hold on this event takes at most %d seats",
                  in->event->spec.max_seats_per_hold);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, seats)
    {
        if (api__add_seat(in, item, "field 'seat_ids'", res) != 0) return -1;
    }
    return 0;
}

api_result api_hold_create(api *a, api_request *req, api_response *res, bool single_seat)
{
    cJSON *root = api__parse_body(req, res);
    if (!root) return API_DONE;
    api__hold_input in = {0};
    if (api__parse_hold(a, req, root, &in, single_seat, res) != 0 ||
        !api__owns(req, in.user_id, res)) { /* a buyer token holds only for its buyer */
        cJSON_Delete(root);
        return API_DONE;
    }
    /* The flood's common case: reject from memory, without touching the store, while the
     * follower is fresh (past the lag bound the store decides). */
    int64_t now_ms = clock_now_ms();
    uint32_t taken[TIX_HOLD_SEATS_MAX];
    uint32_t n = feed_lag_ms(a->follower, now_ms) <= a->feed_lag_max_ms
                     ? inv_event_find_taken(in.event, in.seat_index, in.seat_count, now_ms, taken)
                     : 0;
    if (n > 0) {
        cJSON_Delete(root);
        char ids[TIX_HOLD_SEATS_MAX][TIX_SEAT_ID_LEN_MAX];
        for (uint32_t i = 0; i < n; i++)
            inv_event_seat_id(in.event, taken[i], ids[i]);
        api__seats_unavailable(res, ids, n);
        return API_DONE;
    }
    commit_cmd *cmd = api__command(a, req, STORE_CMD_HOLD, res);
    if (!cmd) {
        cJSON_Delete(root);
        return API_DONE;
    }
    hold_record *h = &cmd->op.u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", in.event->spec.id);
    snprintf(h->user_id, sizeof(h->user_id), "%s", in.user_id);
    h->seat_count = in.seat_count;
    for (uint32_t i = 0; i < in.seat_count; i++)
        inv_event_seat_id(in.event, in.seat_index[i], h->seat_ids[i]);
    cJSON_Delete(root);
    return API_COMMIT;
}

void api_hold_create_finish(api_request *req, api_response *res)
{
    const store_hold *out = &req->cmd->op.u.hold;
    tix_rc rc = req->cmd->op.rc;
    if (rc == TIX_RC_SEAT_UNAVAILABLE) {
        char ids[TIX_HOLD_SEATS_MAX][TIX_SEAT_ID_LEN_MAX];
        for (uint32_t i = 0; i < out->taken_count; i++)
            memcpy(ids[i], out->hold.seat_ids[out->taken[i]], TIX_SEAT_ID_LEN_MAX);
        return api__seats_unavailable(res, (const char(*)[TIX_SEAT_ID_LEN_MAX])ids,
                                      out->taken_count);
    }
    if (rc != TIX_RC_OK) return api__error_rc(res, rc);
    api__write_hold(&res->body, &out->hold, clock_now_ms());
    api__ok(res, 201);
}

api_result api_hold_get(api *a, api_request *req, api_response *res)
{
    const route_match *m = &req->match;
    if (!ids_is_valid_hex(m->param, m->param_len)) {
        api__error_rc(res, TIX_RC_HOLD_NOT_FOUND);
        return API_DONE;
    }
    char id[TIX_HOLD_ID_LEN + 1];
    memcpy(id, m->param, TIX_HOLD_ID_LEN);
    id[TIX_HOLD_ID_LEN] = '\0';
    hold_record hold, *h = &hold;
    bool found;
    store_status status = STORE_OK;
    if (store_hold_get(a->st, id, h, &found, &status) != 0) {
        api__error_store(res, status);
        return API_DONE;
    }
    if (!found) {
        api__error_rc(res, TIX_RC_HOLD_NOT_FOUND);
        return API_DONE;
    }
    if (!api__owns(req, h->user_id, res)) return API_DONE;
    api__write_hold(&res->body, h, clock_now_ms());
    api__ok(res, 200);
    return API_DONE;
}

api_result api_hold_release(api *a, api_request *req, api_response *res)
{
    const route_match *m = &req->match;
    if (!ids_is_valid_hex(m->param, m->param_len)) {
        api__error_rc(res, TIX_RC_HOLD_NOT_FOUND);
        return API_DONE;
    }
    commit_cmd *cmd = api__command(a, req, STORE_CMD_RELEASE, res);
    if (!cmd) return API_DONE;
    store_release *in = &cmd->op.u.release;
    memcpy(in->actor, req->actor, sizeof(in->actor));
    memcpy(in->hold.id, m->param, TIX_HOLD_ID_LEN);
    in->hold.id[TIX_HOLD_ID_LEN] = '\0';
    return API_COMMIT;
}

void api_hold_release_finish(api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    if (op->rc != TIX_RC_OK) return api__error_rc(res, op->rc);
    api__write_hold(&res->body, &op->u.release.hold, clock_now_ms());
    api__ok(res, 200);
}
