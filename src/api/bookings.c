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
    commit_cmd *cmd = api__command(a, req, STORE_CMD_CHECKOUT, res);
    if (!cmd) {
        cJSON_Delete(root);
        return API_DONE;
    }
    store_checkout *in = &cmd->op.u.checkout;
    memcpy(in->actor, req->actor, sizeof(in->actor));
    memcpy(in->hold_id, hold_id, sizeof(hold_id));
    snprintf(in->booking.payment_token, sizeof(in->booking.payment_token), "%s", token);
    snprintf(in->booking.email, sizeof(in->booking.email), "%s", email ? email : "");
    cJSON_Delete(root);
    return API_COMMIT;
}

void api_booking_finish(api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    if (op->rc != TIX_RC_OK) return api__error_rc(res, op->rc);
    bool checkout = op->kind == STORE_CMD_CHECKOUT;
    api__write_booking(&res->body, checkout ? &op->u.checkout.booking : &op->u.cancel.booking,
                       checkout);
    api__ok(res, checkout ? 202 : 200);
}

api_result api_booking_get(api *a, api_request *req, api_response *res)
{
    char id[TIX_BOOKING_ID_LEN + 1];
    booking_record booking, *b = &booking;
    bool found = false;
    store_status status = STORE_OK;
    if (api__param_id(req, id, sizeof(id)) &&
        store_booking_get(a->st, id, b, &found, &status) != 0) {
        api__error_store(res, status);
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
    char id[TIX_BOOKING_ID_LEN + 1];
    if (!api__param_id(req, id, sizeof(id))) {
        api__error_rc(res, TIX_RC_BOOKING_NOT_FOUND);
        return API_DONE;
    }
    commit_cmd *cmd = api__command(a, req, STORE_CMD_CANCEL, res);
    if (!cmd) return API_DONE;
    store_cancel *in = &cmd->op.u.cancel;
    memcpy(in->actor, req->actor, sizeof(in->actor));
    memcpy(in->booking.id, id, sizeof(id));
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
    store_status status = STORE_OK;
    if (store_bookings_by_user(a->st, user_id, API_USER_BOOKINGS_MAX, api__booking_list_cb, &list,
                               &status) != 0) {
        api__error_store(res, status);
        return API_DONE;
    }
    buf_append_str(&res->body, "]}");
    api__ok(res, 200);
    return API_DONE;
}
