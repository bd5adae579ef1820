/* bookings: POST /holds/{id}/checkout, GET /bookings/{id}, POST /bookings/{id}/cancel,
 * GET /users/{user_id}/bookings. */
#include "api/internal.h"

#include "api/json_in.h"
#include "util/text.h"

#include <stdio.h>
#include <string.h>

enum { API_USER_BOOKINGS_MAX = 1000 };

/* A plausible address: one '@' with text on both sides, no spaces or control characters. */
static bool api__email_valid(const char *email)
{
    const char *at = strchr(email, '@');
    size_t len = strlen(email);
    if (!at || at == email || at == email + len - 1 || strchr(at + 1, '@')) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)email[i] <= 0x20 || email[i] == 0x7f || strchr("<>,;\"", email[i]))
            return false;
    return true;
}

api_result api_checkout(api *a, api_request *req, api_response *res)
{
    (void)a;
    char hold_id[TIX_HOLD_ID_LEN + 1];
    if (!api__param_id(req, hold_id, sizeof(hold_id))) {
        api__error_rc(res, TIX_RC_HOLD_NOT_FOUND);
        return API_DONE;
    }
    cJSON *root = api__parse_body(req, res);
    if (!root) return API_DONE;
    char err[API_JSON_ERR_LEN];
    const char *token, *email = NULL;
    int rc =
        api_json_string(root, "payment_token", true, 1, TIX_PAYMENT_TOKEN_LEN_MAX, &token, err);
    if (rc == 0) rc = api_json_string(root, "email", false, 3, TIX_EMAIL_LEN_MAX, &email, err);
    if (rc == 0 && email && !api__email_valid(email)) {
        snprintf(err, sizeof(err), "field 'email' must be an email address");
        rc = -1;
    }
    if (rc != 0) {
        cJSON_Delete(root);
        api_error(res, 422, "invalid_request", "%s", err);
        return API_DONE;
    }
    commit_cmd *cmd = &req->cmd;
    commit_cmd_clear(cmd, COMMIT_CHECKOUT);
    memcpy(cmd->actor, req->actor, sizeof(cmd->actor));
    memcpy(cmd->hold.id, hold_id, sizeof(hold_id));
    snprintf(cmd->booking.payment_token, sizeof(cmd->booking.payment_token), "%s", token);
    snprintf(cmd->booking.email, sizeof(cmd->booking.email), "%s", email ? email : "");
    cJSON_Delete(root);
    return API_COMMIT;
}

void api_booking_finish(api_request *req, api_response *res, unsigned status)
{
    commit_cmd *cmd = &req->cmd;
    if (cmd->rc != TIX_RC_OK) return api__error_rc(res, cmd->rc);
    api__write_booking(&res->body, &cmd->booking, cmd->type == COMMIT_CHECKOUT);
    api__ok(res, status);
}

api_result api_booking_get(api *a, api_request *req, api_response *res)
{
    char id[TIX_BOOKING_ID_LEN + 1];
    booking_record *b = &req->cmd.booking;
    bool found = false;
    if (api__param_id(req, id, sizeof(id)) && store_booking_get(a->st, id, b, &found) != 0) {
        api__error_rc(res, TIX_RC_STORE_ERROR);
        return API_DONE;
    }
    if (!found) {
        api__error_rc(res, TIX_RC_BOOKING_NOT_FOUND);
        return API_DONE;
    }
    if (!api__owns(req, b->user_id, res)) return API_DONE;
    api__write_booking(&res->body, b, false);
    api__ok(res, 200);
    return API_DONE;
}

api_result api_booking_cancel(api *a, api_request *req, api_response *res)
{
    (void)a;
    char id[TIX_BOOKING_ID_LEN + 1];
    if (!api__param_id(req, id, sizeof(id))) {
        api__error_rc(res, TIX_RC_BOOKING_NOT_FOUND);
        return API_DONE;
    }
    commit_cmd *cmd = &req->cmd;
    commit_cmd_clear(cmd, COMMIT_CANCEL);
    memcpy(cmd->actor, req->actor, sizeof(cmd->actor));
    memcpy(cmd->booking.id, id, sizeof(id));
    return API_COMMIT;
}

typedef struct api__booking_list {
    buf *b;
    uint32_t count;
} api__booking_list;

static int api__booking_list_cb(void *ctx, const booking_record *bk)
{
    api__booking_list *l = ctx;
    if (l->count++) buf_append_char(l->b, ',');
    api__write_booking(l->b, bk, false);
    return l->b->failed ? -1 : 0;
}

api_result api_user_bookings(api *a, api_request *req, api_response *res)
{
    const route_match *m = &req->match;
    char user_id[TIX_USER_ID_LEN_MAX + 1];
    if (m->param_len > TIX_USER_ID_LEN_MAX || !text_is_clean_utf8(m->param, m->param_len)) {
        api_error(res, 422, "invalid_request", "the user id in the path is not valid");
        return API_DONE;
    }
    memcpy(user_id, m->param, m->param_len);
    user_id[m->param_len] = '\0';
    if (!api__owns(req, user_id, res)) return API_DONE;
    buf_append_str(&res->body, "{\"user_id\":");
    buf_append_json_str(&res->body, user_id);
    buf_append_str(&res->body, ",\"bookings\":[");
    api__booking_list list = {&res->body, 0};
    if (store_bookings_by_user(a->st, user_id, API_USER_BOOKINGS_MAX, api__booking_list_cb,
                               &list) != 0) {
        api__error_rc(res, TIX_RC_STORE_ERROR);
        return API_DONE;
    }
    buf_append_str(&res->body, "]}");
    api__ok(res, 200);
    return API_DONE;
}
