/* admin: GET /admin/dead-letters, POST /admin/dead-letters/{id}/redrive,
 * POST /admin/webhooks, GET /admin/webhooks. All need the admin token. */
#include "api/internal.h"

#include "api/json_in.h"
#include "bus/envelope.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { API_DEAD_LETTERS_MAX = 1000 };

typedef struct api__list {
    buf *b;
    uint32_t count;
} api__list;

static int api__dead_letter_cb(void *ctx, const delivery_record *d)
{
    api__list *l = ctx;
    buf *b = l->b;
    if (l->count++) buf_append_char(b, ',');
    buf_appendf(b, "{\"id\":\"%lld\",\"subscriber\":", (long long)d->seq);
    buf_append_json_str(b, d->subscriber_id);
    buf_appendf(b, ",\"attempts\":%d,\"last_error\":", d->attempts);
    buf_append_json_str(b, d->last_error);
    api__append_time(b, "failed_at", d->updated_at_ms);
    buf_append_str(b, ",\"event\":");
    bus_envelope_write(b, &d->event);
    buf_append_char(b, '}');
    return b->failed ? -1 : 0;
}

api_result api_dead_letters(api *a, api_request *req, api_response *res)
{
    if (!api__require_admin(a, req, res)) return API_DONE;
    buf_append_str(&res->body, "{\"dead_letters\":[");
    api__list list = {&res->body, 0};
    store_status status = STORE_OK;
    if (store_dead_letters_list(a->st, API_DEAD_LETTERS_MAX, api__dead_letter_cb, &list, &status) !=
        0) {
        api__error_store(res, status);
        return API_DONE;
    }
    buf_append_str(&res->body, "]}");
    api__ok(res, 200);
    return API_DONE;
}

api_result api_dead_letter_redrive(api *a, api_request *req, api_response *res)
{
    if (!api__require_admin(a, req, res)) return API_DONE;
    const route_match *m = &req->match;
    char digits[24];
    char *end = NULL;
    long long seq = 0;
    if (m->param_len < sizeof(digits)) {
        memcpy(digits, m->param, m->param_len);
        digits[m->param_len] = '\0';
        seq = strtoll(digits, &end, 10);
    }
    if (!end || *end || seq <= 0) {
        api__error_rc(res, TIX_RC_NOT_FOUND);
        return API_DONE;
    }
    commit_cmd *cmd = api__command(a, req, STORE_CMD_REDRIVE, res);
    if (!cmd) return API_DONE;
    cmd->op.u.redrive.seq = seq;
    return API_COMMIT;
}

void api_dead_letter_redrive_finish(api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    if (op->rc != TIX_RC_OK) {
        api_error(res, 404, "not_found", "no dead letter with this id");
        return;
    }
    buf_appendf(&res->body, "{\"id\":\"%lld\",\"status\":\"pending\"}",
                (long long)op->u.redrive.seq);
    api__ok(res, 200);
}

static void api__write_webhook(buf *b, const subscriber_record *sub)
{
    buf_append_str(b, "{\"id\":");
    buf_append_json_str(b, sub->id);
    buf_append_str(b, ",\"url\":");
    buf_append_json_str(b, sub->url);
    buf_append_str(b, ",\"types\":[");
    for (uint32_t i = 0; i < sub->pattern_count; i++) {
        if (i) buf_append_char(b, ',');
        buf_append_json_str(b, sub->patterns[i]);
    }
    buf_appendf(b, "],\"signed\":%s", sub->secret[0] ? "true" : "false");
    api__append_time(b, "created_at", sub->created_at_ms);
    buf_append_char(b, '}');
}

/* Read the body of POST /admin/webhooks into sub. Returns 0 or -1 with err set. */
static int api__parse_webhook(const cJSON *root, subscriber_record *sub, char *err)
{
    const char *url, *secret = NULL;
    const cJSON *types;
    if (api_json_string(root, "url", true, 8, TIX_URL_LEN_MAX, &url, err) != 0 ||
        api_json_string(root, "secret", false, 1, TIX_SECRET_LEN_MAX, &secret, err) != 0 ||
        api_json_array(root, "types", TIX_PATTERNS_MAX, &types, err) != 0)
        return -1;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, API_JSON_ERR_LEN, "field 'url' must be an http:// or https:// URL");
        return -1;
    }
    if (strchr(url, ' ')) {
        snprintf(err, API_JSON_ERR_LEN, "field 'url' must not contain spaces");
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, types)
    {
        if (!cJSON_IsString(item) || !bus_pattern_valid(item->valuestring)) {
            snprintf(err, API_JSON_ERR_LEN,
                     "field 'types' must hold event type patterns: 1 to %d letters and '*'",
                     TIX_PATTERN_LEN_MAX);
            return -1;
        }
        snprintf(sub->patterns[sub->pattern_count++], TIX_PATTERN_LEN_MAX + 1, "%s",
                 item->valuestring);
    }
    char hex[IDS_HEX_LEN + 1];
    ids_random_hex(hex);
    snprintf(sub->id, sizeof(sub->id), "wh_%.24s", hex);
    sub->kind = SUBSCRIBER_WEBHOOK;
    snprintf(sub->url, sizeof(sub->url), "%s", url);
    snprintf(sub->secret, sizeof(sub->secret), "%s", secret ? secret : "");
    return 0;
}

api_result api_webhook_create(api *a, api_request *req, api_response *res)
{
    if (!api__require_admin(a, req, res)) return API_DONE;
    cJSON *root = api__parse_body(req, res);
    if (!root) return API_DONE;
    subscriber_record sub;
    memset(&sub, 0, sizeof(sub));
    char err[API_JSON_ERR_LEN];
    int rc = api__parse_webhook(root, &sub, err);
    cJSON_Delete(root);
    if (rc != 0) {
        api_error(res, 422, "invalid_request", "%s", err);
        return API_DONE;
    }
    commit_cmd *cmd = api__command(a, req, STORE_CMD_SUBSCRIBER_ADD, res);
    if (!cmd) return API_DONE;
    cmd->op.u.subscriber_add.sub = sub;
    return API_COMMIT;
}

void api_webhook_create_finish(api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    if (op->rc != TIX_RC_OK) return api__error_rc(res, op->rc);
    api__write_webhook(&res->body, &op->u.subscriber_add.sub);
    api__ok(res, 201);
}

static int api__webhook_cb(void *ctx, const subscriber_record *sub)
{
    api__list *l = ctx;
    if (sub->kind != SUBSCRIBER_WEBHOOK) return 0;
    if (l->count++) buf_append_char(l->b, ',');
    api__write_webhook(l->b, sub);
    return l->b->failed ? -1 : 0;
}

api_result api_webhooks_list(api *a, api_request *req, api_response *res)
{
    if (!api__require_admin(a, req, res)) return API_DONE;
    buf_append_str(&res->body, "{\"webhooks\":[");
    api__list list = {&res->body, 0};
    store_status status = STORE_OK;
    if (store_subscribers_list(a->st, api__webhook_cb, &list, &status) != 0) {
        api__error_store(res, status);
        return API_DONE;
    }
    buf_append_str(&res->body, "]}");
    api__ok(res, 200);
    return API_DONE;
}

api_result api_buyer_token_create(api *a, api_request *req, api_response *res)
{
    cJSON *root = api__parse_body(req, res);
    if (!root) return API_DONE;
    char err[API_JSON_ERR_LEN];
    const char *user_id;
    int64_t ttl_s = BUYER_TOKEN_TTL_S_DEFAULT;
    int rc = api_json_string(root, "user_id", true, 1, TIX_USER_ID_LEN_MAX, &user_id, err);
    if (rc == 0) rc = api_json_int(root, "ttl_s", false, 1, BUYER_TOKEN_TTL_S_MAX, &ttl_s, err);
    if (rc == 0 && !a->buyer_secret[0]) {
        snprintf(err, sizeof(err), "buyer tokens are not configured on this server");
        rc = -1;
    }
    char token[BUYER_TOKEN_LEN_MAX + 1];
    int64_t expires_ms = (clock_now_ms() / 1000 + ttl_s) * 1000;
    if (rc == 0 && buyer_token_make(a->buyer_secret, user_id, expires_ms / 1000, token) != 0) {
        snprintf(err, sizeof(err), "field 'user_id' is too long for a token");
        rc = -1;
    }
    if (rc != 0) {
        cJSON_Delete(root);
        api_error(res, 422, "invalid_request", "%s", err);
        return API_DONE;
    }
    buf_append_str(&res->body, "{\"token\":");
    buf_append_json_str(&res->body, token);
    buf_append_str(&res->body, ",\"user_id\":");
    buf_append_json_str(&res->body, user_id);
    api__append_time(&res->body, "expires_at", expires_ms);
    buf_append_char(&res->body, '}');
    cJSON_Delete(root);
    api__ok(res, 201);
    return API_DONE;
}
