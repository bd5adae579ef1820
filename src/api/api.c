/* api: creation, dispatch by route, and the helpers every endpoint shares (errors, JSON
 * bodies, rendering of events and holds). The endpoints live in events.c and holds.c.
 *
 * Reads are served from the inventory (events, seat maps) or from the store's read
 * connections (holds). Writes are checked first (shape of the input, event and seats exist,
 * seats not already taken in memory) so that hopeless requests never reach the writer; the
 * writer's conditional writes still decide. */
#include "api/internal.h"

#include "api/json_in.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"
#include "util/text.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


api *api_create(inventory *inv, commit *writer, store *st, const char *admin_token)
{
    api *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    *a = (api){inv, writer, st, admin_token};
    return a;
}

void api_destroy(api *a)
{
    free(a);
}

void api_response_init(api_response *res)
{
    memset(res, 0, sizeof(*res));
    res->status = 500;
    buf_init(&res->body, API_RESPONSE_LEN_MAX);
}

void api_error(api_response *res, unsigned status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    res->status = status;
    buf_reset(&res->body);
    buf_append_str(&res->body, "{\"error\":{\"code\":");
    buf_append_json_str(&res->body, code);
    buf_append_str(&res->body, ",\"message\":");
    buf_append_json_str(&res->body, message);
    buf_append_str(&res->body, "}}");
}

/* The error for a command outcome. */
void api__error_rc(api_response *res, tix_rc rc)
{
    switch (rc) {
    case TIX_RC_EVENT_NOT_FOUND: api_error(res, 404, "event_not_found", "no such event"); break;
    case TIX_RC_SEAT_NOT_FOUND: api_error(res, 404, "seat_not_found", "no such seat"); break;
    case TIX_RC_HOLD_NOT_FOUND: api_error(res, 404, "hold_not_found", "no such hold"); break;
    case TIX_RC_HOLD_NOT_ACTIVE:
        api_error(res, 409, "hold_not_active", "the hold is no longer active");
        break;
    case TIX_RC_EVENT_EXISTS:
        api_error(res, 409, "event_exists", "an event with this id already exists");
        break;
    case TIX_RC_TOO_MANY_EVENTS:
        api_error(res, 422, "limit_exceeded", "this server holds at most %d events",
                  TIX_EVENTS_MAX);
        break;
    case TIX_RC_OVERLOADED:
        api_error(res, 503, "overloaded", "too many writes are waiting; retry shortly");
        res->retry_after_s = 1;
        break;
    case TIX_RC_SHUTTING_DOWN:
        api_error(res, 503, "shutting_down", "the server is shutting down; retry shortly");
        res->retry_after_s = 1;
        break;
    case TIX_RC_SEAT_UNAVAILABLE: /* rendered with the seat list by api__hold_finish */
    case TIX_RC_STORE_ERROR:
    default:
        api_error(res, 503, "store_unavailable", "the store could not commit the change; nothing "
                                                 "was changed, retry shortly");
        res->retry_after_s = 1;
        break;
    }
}

void api__append_time(buf *b, const char *key, int64_t ms)
{
    char when[CLOCK_RFC3339_LEN_MAX];
    clock_format_rfc3339(ms, when);
    buf_appendf(b, ",\"%s\":\"%s\"", key, when);
}

/* The event object. With detail, its sections too. */
void api__write_event(buf *b, inv_event *ev, int64_t now_ms, bool detail)
{
    const event_spec *spec = &ev->spec;
    inv_counts counts = inv_event_counts(ev, now_ms);
    buf_append_str(b, "{\"id\":");
    buf_append_json_str(b, spec->id);
    buf_append_str(b, ",\"name\":");
    buf_append_json_str(b, spec->name);
    buf_append_str(b, ",\"venue\":");
    buf_append_json_str(b, spec->venue);
    api__append_time(b, "starts_at", spec->starts_at_ms);
    buf_appendf(b, ",\"seats_total\":%u,\"seats_available\":%u,\"hold_ttl_s\":%d,"
                   "\"max_seats_per_hold\":%d",
                counts.total, counts.available, spec->hold_ttl_s, spec->max_seats_per_hold);
    if (detail) {
        buf_appendf(b, ",\"seats_held\":%u,\"seats_sold\":%u,\"sections\":[", counts.held,
                    counts.sold);
        for (uint32_t i = 0; i < spec->section_count; i++) {
            const section_spec *sec = &spec->sections[i];
            buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
            buf_append_json_str(b, sec->name);
            buf_appendf(b, ",\"price_cents\":%lld,\"seats_per_row\":%u,\"rows\":[",
                        (long long)sec->price_cents, sec->seats_per_row);
            for (uint32_t r = 0; r < sec->row_count; r++) {
                if (r) buf_append_char(b, ',');
                buf_append_json_str(b, sec->rows[r]);
            }
            buf_append_str(b, "]}");
        }
        buf_append_char(b, ']');
    }
    buf_append_char(b, '}');
}

/* The hold object, with the status it reads as at now_ms (a lapsed active hold is expired). */
void api__write_hold(buf *b, const hold_record *h, int64_t now_ms)
{
    hold_status status = h->status;
    int64_t ended_ms = h->ended_at_ms;
    if (status == HOLD_ACTIVE && h->expires_at_ms <= now_ms) {
        status = HOLD_EXPIRED;
        ended_ms = h->expires_at_ms;
    }
    buf_append_str(b, "{\"id\":");
    buf_append_json_str(b, h->id);
    buf_append_str(b, ",\"event_id\":");
    buf_append_json_str(b, h->event_id);
    buf_append_str(b, ",\"user_id\":");
    buf_append_json_str(b, h->user_id);
    buf_append_str(b, ",\"seat_ids\":[");
    for (uint32_t i = 0; i < h->seat_count; i++) {
        if (i) buf_append_char(b, ',');
        buf_append_json_str(b, h->seat_ids[i]);
    }
    buf_appendf(b, "],\"status\":\"%s\"", model_hold_status_name(status));
    api__append_time(b, "created_at", h->created_at_ms);
    api__append_time(b, "expires_at", h->expires_at_ms);
    if (status == HOLD_RELEASED) api__append_time(b, "released_at", ended_ms);
    if (status == HOLD_EXPIRED) api__append_time(b, "expired_at", ended_ms);
    buf_append_char(b, '}');
}

void api__ok(api_response *res, unsigned status)
{
    res->status = res->body.failed ? 500 : status;
    if (res->body.failed) api_error(res, 500, "internal", "the response could not be built");
}

/* 415 unless the request declares a JSON body. */
bool api__require_json(const api_request *req, api_response *res)
{
    const char *ct = req->content_type;
    size_t n = strlen("application/json");
    if (ct && strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' ||
                                                                ct[n] == ' '))
        return true;
    api_error(res, 415, "unsupported_media_type",
              "the request body must be JSON, sent with Content-Type: application/json");
    return false;
}

/* Parse the body as a JSON object, or answer 415/400/422. */
cJSON *api__parse_body(const api_request *req, api_response *res)
{
    if (!api__require_json(req, res)) return NULL;
    char err[API_JSON_ERR_LEN];
    cJSON *root;
    switch (api_json_parse_object(req->body, req->body_len, &root, err)) {
    case API_JSON_OK: return root;
    case API_JSON_MALFORMED: api_error(res, 400, "invalid_json", "%s", err); return NULL;
    case API_JSON_NOT_OBJECT: api_error(res, 422, "invalid_request", "%s", err); return NULL;
    }
    return NULL;
}

inv_event *api__find_event(api *a, const char *id, size_t len, api_response *res)
{
    inv_event *ev = text_is_slug(id, len, TIX_EVENT_ID_LEN_MAX) ? inventory_find(a->inv, id, len)
                                                                : NULL;
    if (!ev) api_error(res, 404, "event_not_found", "no event with id '%.*s'",
                       (int)(len > 64 ? 64 : len), id);
    return ev;
}

bool api__is_admin(api *a, const api_request *req)
{
    const char *auth = req->authorization;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0) return false;
    const char *token = auth + 7;
    size_t len = strlen(token), want = strlen(a->admin_token);
    return len == want && sodium_memcmp(token, a->admin_token, len) == 0;
}


api_result api_handle(api *a, api_request *req, api_response *res)
{
    route_match *m = &req->match;
    router_match(req->path, req->method, m);
    if (m->route == ROUTE_NONE) {
        api_error(res, 404, "not_found", "no such endpoint");
        return API_DONE;
    }
    if (!m->method_ok) {
        api_error(res, 405, "method_not_allowed", "this endpoint accepts %s", m->allow);
        res->allow = m->allow;
        return API_DONE;
    }
    bool write = req->method == HTTP_POST || req->method == HTTP_DELETE;
    switch (m->route) {
    case ROUTE_EVENTS: return write ? api_event_create(a, req, res) : api_events_list(a, res);
    case ROUTE_EVENT: return api_event_get(a, req, res);
    case ROUTE_EVENT_SEATS: return api_event_seats(a, req, res);
    case ROUTE_EVENT_HOLDS: return api_hold_create(a, req, res, false);
    case ROUTE_RESERVE: return api_hold_create(a, req, res, true);
    case ROUTE_HOLD: return write ? api_hold_release(a, req, res) : api_hold_get(a, req, res);
    case ROUTE_HEALTHZ: return api_healthz(req);
    case ROUTE_NONE: break;
    }
    assert(!"unreachable");
    return API_DONE;
}

/* Called from the writer thread once the command's outcome is final. */
static void api__on_done(commit_cmd *cmd)
{
    api_request *req = cmd->ctx;
    req->resume(req);
}

void api_submit(api *a, api_request *req)
{
    req->cmd.on_done = api__on_done;
    req->cmd.ctx = req;
    tix_rc rc = commit_submit(a->writer, &req->cmd);
    if (rc != TIX_RC_OK) {
        req->cmd.rc = rc;
        req->resume(req);
    }
}

void api_finish(api *a, api_request *req, api_response *res)
{
    commit_cmd *cmd = &req->cmd;
    if (cmd->rc == TIX_RC_OVERLOADED || cmd->rc == TIX_RC_SHUTTING_DOWN ||
        cmd->rc == TIX_RC_STORE_ERROR) {
        api__error_rc(res, cmd->rc);
        if (cmd->type == COMMIT_EVENT_CREATE) model_event_spec_free(&cmd->spec);
        return;
    }
    switch (cmd->type) {
    case COMMIT_HOLD: api_hold_create_finish(a, req, res); break;
    case COMMIT_RELEASE: api_hold_release_finish(req, res); break;
    case COMMIT_EVENT_CREATE: api_event_create_finish(req, res); break;
    case COMMIT_PING:
        buf_append_str(&res->body, "{\"status\":\"ok\"}");
        api__ok(res, 200);
        break;
    }
}

api_result api_healthz(api_request *req)
{
    memset(&req->cmd, 0, sizeof(req->cmd));
    req->cmd.type = COMMIT_PING;
    return API_COMMIT;
}
