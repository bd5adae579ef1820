/* api: creation, dispatch by route, and the helpers every endpoint shares (errors, JSON
 * bodies, rendering of events and holds). The endpoints live in events.c and holds.c.
 *
 * Reads are served from the inventory (events, seat maps) or from the store's read
 * connections (holds). Writes are checked first (shape of the input, event and seats exist,
 * seats not already taken in memory) so that hopeless requests never reach the writer; the
 * writer's conditional writes still decide. */
#include "api/internal.h"

#include "api/json_in.h"
#include "core/json_out.h"
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

api *api_create(inventory *inv, commit *writer, store *st, feed *follower, const char *admin_token)
{
    api *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->inv = inv;
    a->writer = writer;
    a->st = st;
    a->follower = follower;
    a->feed_lag_max_ms = FEED_LAG_MS_MAX_DEFAULT;
    a->admin_token = admin_token;
    snprintf(a->etag_salt, sizeof(a->etag_salt), "%.8s", store_id(st));
    if (pthread_mutex_init(&a->seatmaps_mutex, NULL) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void api_set_live(api *a, live *l)
{
    a->live = l;
}

void api_set_feed_lag_max(api *a, uint32_t lag_ms)
{
    a->feed_lag_max_ms = lag_ms;
}

void api_destroy(api *a)
{
    if (!a) return;
    api__seatmaps_clear(a);
    pthread_mutex_destroy(&a->seatmaps_mutex);
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
    /* Messages quote the request (a path segment, a seat id cut at %.24s), which may hold
     * bytes that are not UTF-8 or end inside a character: the body must stay valid JSON
     * (found by fuzz/fuzz_router, fuzz/fuzz_json_body). */
    text_make_utf8(message);
    res->status = status;
    buf_reset(&res->body);
    buf_append_str(&res->body, "{\"error\":{\"code\":");
    buf_append_json_str(&res->body, code);
    buf_append_str(&res->body, ",\"message\":");
    buf_append_json_str(&res->body, message);
    api__error_end(res);
}

void api__error_end(api_response *res)
{
    static const char head[] = ",\"request_id\":\"", tail[] = "\"}}";
    const char *id = res->request_id;
    size_t id_len = id ? strnlen(id, API_REQUEST_ID_LEN_MAX + 1) : 0;
    if (id_len == 0 || id_len > API_REQUEST_ID_LEN_MAX) {
        buf_append(&res->body, "}}", 2);
        return;
    }
    /* one append (this is on the path of every rejected hold); the id is sane by
     * construction (http/request_id.h): nothing to escape */
    char end[sizeof(head) + API_REQUEST_ID_LEN_MAX + sizeof(tail)];
    memcpy(end, head, sizeof(head) - 1);
    memcpy(end + sizeof(head) - 1, id, id_len);
    memcpy(end + sizeof(head) - 1 + id_len, tail, sizeof(tail) - 1);
    buf_append(&res->body, end, sizeof(head) - 1 + id_len + sizeof(tail) - 1);
}

/* The error for a command outcome. */
void api__error_rc(api_response *res, tix_rc rc)
{
    switch (rc) {
    case TIX_RC_EVENT_NOT_FOUND:
        api_error(res, 404, "event_not_found", "no such event");
        break;
    case TIX_RC_SEAT_NOT_FOUND:
        api_error(res, 404, "seat_not_found", "no such seat");
        break;
    case TIX_RC_HOLD_NOT_FOUND:
        api_error(res, 404, "hold_not_found", "no such hold");
        break;
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
    case TIX_RC_BOOKING_NOT_FOUND:
        api_error(res, 404, "booking_not_found", "no such booking");
        break;
    case TIX_RC_BOOKING_NOT_CANCELLABLE:
        api_error(res, 409, "booking_not_cancellable",
                  "only a pending or confirmed booking can be cancelled");
        break;
    case TIX_RC_NOT_FOUND:
        api_error(res, 404, "not_found", "no such resource");
        break;
    case TIX_RC_FORBIDDEN:
        api_error(res, 403, "forbidden", "the buyer token belongs to another buyer");
        break;
    case TIX_RC_USER_LIMIT:
        api_error(res, 429, "limit_exceeded",
                  "this buyer already holds as many seats of this event as allowed; release a "
                  "hold or let it expire first");
        break;
    case TIX_RC_TOO_MANY_SEATS:
        api_error(res, 422, "too_many_seats", "a hold on this event takes fewer seats");
        break;
    case TIX_RC_KEY_REUSED:
        api_error(res, 422, "idempotency_key_reused",
                  "this Idempotency-Key was used with a different request");
        break;
    case TIX_RC_STORE_FATAL:
        api_error(res, 500, "internal",
                  "the store refused the change as inconsistent; nothing was changed (the "
                  "server log says why)");
        break;
    case TIX_RC_SEAT_UNAVAILABLE: /* rendered with the seat list by api__hold_finish */
    case TIX_RC_STORE_ERROR:
    default:
        api_error(res, 503, "store_unavailable",
                  "the store could not commit the change; nothing "
                  "was changed, retry shortly");
        res->retry_after_s = 1;
        break;
    }
}

void api__error_store(api_response *res, store_status status)
{
    if (status == STORE_FATAL) {
        api__error_rc(res, TIX_RC_STORE_FATAL);
        return;
    }
    /* a read: nothing was to be changed (a database server away, or a busy store) */
    api_error(res, 503, "store_unavailable", "the store cannot be read right now; retry shortly");
    res->retry_after_s = 1;
}

/* The event object from its spec and counts. With detail, its sections too. */
void api__write_event_spec(buf *b, const event_spec *spec, inv_counts counts, bool detail)
{
    buf_append_str(b, "{\"id\":");
    buf_append_json_str(b, spec->id);
    buf_append_str(b, ",\"name\":");
    buf_append_json_str(b, spec->name);
    buf_append_str(b, ",\"venue\":");
    buf_append_json_str(b, spec->venue);
    api__append_time(b, "starts_at", spec->starts_at_ms);
    buf_appendf(b,
                ",\"seats_total\":%u,\"seats_available\":%u,\"hold_ttl_s\":%d,"
                "\"max_seats_per_hold\":%d",
                counts.total, counts.available, spec->hold_ttl_s, spec->max_seats_per_hold);
    if (detail) {
        buf_appendf(b, ",\"seats_held\":%u,\"seats_sold\":%u,\"sections\":", counts.held,
                    counts.sold);
        json_out_sections(b, spec);
    }
    buf_append_char(b, '}');
}

/* The event object as the inventory has it now. */
void api__write_event(buf *b, inv_event *ev, int64_t now_ms, bool detail)
{
    api__write_event_spec(b, &ev->spec, inv_event_counts(ev, now_ms), detail);
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
    if (ct && strncasecmp(ct, "application/json", n) == 0 &&
        (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
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
    case API_JSON_OK:
        return root;
    case API_JSON_MALFORMED:
        api_error(res, 400, "invalid_json", "%s", err);
        return NULL;
    case API_JSON_NOT_OBJECT:
        api_error(res, 422, "invalid_request", "%s", err);
        return NULL;
    }
    return NULL;
}

inv_event *api__find_event(api *a, const char *id, size_t len, api_response *res)
{
    inv_event *ev =
        text_is_slug(id, len, TIX_EVENT_ID_LEN_MAX) ? inventory_find(a->inv, id, len) : NULL;
    if (!ev)
        api_error(res, 404, "event_not_found", "no event with id '%.*s'",
                  (int)(len > 64 ? 64 : len), id);
    return ev;
}

bool api__require_admin(api *a, const api_request *req, api_response *res)
{
    if (api__is_admin(a, req)) return true;
    api_error(res, 401, "unauthorized",
              "this endpoint needs the admin token: Authorization: Bearer <token>");
    return false;
}

void api_set_buyer_auth(api *a, const char *secret, bool required)
{
    snprintf(a->buyer_secret, sizeof(a->buyer_secret), "%s", secret ? secret : "");
    a->buyer_token_required = required;
}

/* Who is acting on a buyer endpoint: the admin (its token), a buyer (a valid buyer token:
 * req->actor), or anyone (no token, unless tokens are required). Answers 401 otherwise. */
static bool api__buyer_auth(api *a, api_request *req, api_response *res)
{
    req->actor[0] = '\0';
    const char *auth = req->authorization;
    if (!auth) {
        if (!a->buyer_token_required) return true;
        api_error(res, 401, "unauthorized",
                  "this endpoint needs a buyer token: Authorization: Bearer <token>");
        return false;
    }
    if (api__is_admin(a, req)) return true;
    int64_t now_s = clock_now_ms() / 1000;
    if (strncmp(auth, "Bearer ", 7) == 0 && a->buyer_secret[0] &&
        buyer_token_verify(a->buyer_secret, auth + 7, now_s, req->actor))
        return true;
    req->actor[0] = '\0';
    api_error(res, 401, "invalid_token", "the buyer token is not valid (or has expired)");
    return false;
}

bool api__owns(const api_request *req, const char *user_id, api_response *res)
{
    if (!req->actor[0] || strcmp(req->actor, user_id) == 0) return true;
    api__error_rc(res, TIX_RC_FORBIDDEN);
    return false;
}

bool api__param_id(const api_request *req, char *out, size_t cap)
{
    const route_match *m = &req->match;
    if (!ids_is_valid_hex(m->param, m->param_len) || m->param_len >= cap) return false;
    memcpy(out, m->param, m->param_len);
    out[m->param_len] = '\0';
    return true;
}

bool api__is_admin(api *a, const api_request *req)
{
    const char *auth = req->authorization;
    if (!auth || strncmp(auth, "Bearer ", 7) != 0) return false;
    const char *token = auth + 7;
    size_t len = strlen(token), want = strlen(a->admin_token);
    return len == want && sodium_memcmp(token, a->admin_token, len) == 0;
}

static api_result api__dispatch(api *a, api_request *req, api_response *res)
{
    bool write = req->method == HTTP_POST || req->method == HTTP_DELETE;
    switch (req->match.route) {
    case ROUTE_EVENTS:
        return write ? api_event_create(a, req, res) : api_events_list(a, res);
    case ROUTE_EVENT:
        return api_event_get(a, req, res);
    case ROUTE_EVENT_SEATS:
        return api_event_seats(a, req, res);
    case ROUTE_EVENT_CHANGES:
        return api_event_changes(a, req, res);
    case ROUTE_EVENT_STREAM:
        return api_event_stream(a, req, res);
    case ROUTE_EVENT_HOLDS:
        return api_hold_create(a, req, res, false);
    case ROUTE_RESERVE:
        return api_hold_create(a, req, res, true);
    case ROUTE_HOLD:
        return write ? api_hold_release(a, req, res) : api_hold_get(a, req, res);
    case ROUTE_HEALTHZ:
        return api_healthz(a, req, res);
    case ROUTE_HOLD_CHECKOUT:
        return api_checkout(a, req, res);
    case ROUTE_BOOKING:
        return api_booking_get(a, req, res);
    case ROUTE_BOOKING_CANCEL:
        return api_booking_cancel(a, req, res);
    case ROUTE_USER_BOOKINGS:
        return api_user_bookings(a, req, res);
    case ROUTE_DEAD_LETTERS:
        return api_dead_letters(a, req, res);
    case ROUTE_DEAD_LETTER_REDRIVE:
        return api_dead_letter_redrive(a, req, res);
    case ROUTE_WEBHOOKS:
        return write ? api_webhook_create(a, req, res) : api_webhooks_list(a, req, res);
    case ROUTE_BUYER_TOKENS:
        return api_buyer_token_create(a, req, res);
    case ROUTE_PAGE:
        return api_page(req, res);
    case ROUTE_ASSET:
        return api_asset(req, res);
    case ROUTE_METRICS:
        return api_metrics(res);
    case ROUTE_OPENAPI:
        return api_openapi(req, res);
    case ROUTE_ADMIN_PAGE:
        return api_admin_page(req, res);
    case ROUTE_EVENT_STATS:
        return api_event_stats(a, req, res);
    case ROUTE_NONE:
        break;
    }
    assert(!"unreachable");
    return API_DONE;
}

api_result api_handle(api *a, api_request *req, api_response *res)
{
    req->api = a;
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
    /* authorisation comes first: a kept response is never replayed to someone who may not
     * make the request */
    bool admin_only = m->route == ROUTE_DEAD_LETTERS || m->route == ROUTE_DEAD_LETTER_REDRIVE ||
                      m->route == ROUTE_WEBHOOKS || m->route == ROUTE_BUYER_TOKENS ||
                      m->route == ROUTE_METRICS || m->route == ROUTE_EVENT_STATS ||
                      (m->route == ROUTE_EVENTS && req->method == HTTP_POST);
    if (admin_only && !api__require_admin(a, req, res)) return API_DONE;
    bool buyer_route = m->route == ROUTE_EVENT_HOLDS || m->route == ROUTE_RESERVE ||
                       m->route == ROUTE_HOLD || m->route == ROUTE_HOLD_CHECKOUT ||
                       m->route == ROUTE_BOOKING || m->route == ROUTE_BOOKING_CANCEL ||
                       m->route == ROUTE_USER_BOOKINGS;
    if (buyer_route && !api__buyer_auth(a, req, res)) return API_DONE;
    if (req->idempotency_key && req->method == HTTP_POST &&
        api__idempotency_begin(a, req, res) == API_DONE)
        return API_DONE;
    api_result result = api__dispatch(a, req, res);
    bool keyed = req->idempotency_key && req->method == HTTP_POST;
    if (keyed && !(result == API_DONE && res->status >= 500)) /* a transient failure is not kept */
        return api__idempotency_attach(a, req, res, result);
    if (keyed) buf_free(&req->idem.body);
    return result;
}

/* Called from the writer thread once the command's outcome is final. */
static void api__on_done(commit_cmd *cmd)
{
    api_request *req = cmd->ctx;
    req->resume(req);
}

commit_cmd *api__command(api *a, api_request *req, store_cmd_kind kind, api_response *res)
{
    assert(!req->cmd);
    req->cmd = commit_cmd_new(a->writer, kind);
    if (!req->cmd) api__error_rc(res, TIX_RC_OVERLOADED);
    return req->cmd;
}

void api_request_reset(api_request *req)
{
    req->cmd = NULL;
    req->idempotent = false;
}

void api_submit(api *a, api_request *req)
{
    commit_cmd *cmd = req->cmd;
    assert(cmd);
    cmd->on_done = api__on_done;
    cmd->ctx = req;
    tix_rc rc = commit_submit(a->writer, cmd);
    if (rc != TIX_RC_OK) {
        cmd->op.rc = rc;
        req->resume(req);
    }
}

void api__render(api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    switch (op->kind) {
    case STORE_CMD_HOLD:
        api_hold_create_finish(req, res);
        break;
    case STORE_CMD_RELEASE:
        api_hold_release_finish(req, res);
        break;
    case STORE_CMD_EVENT_CREATE:
        api_event_create_finish(req->api, req, res);
        break;
    case STORE_CMD_PING:
        buf_append_str(&res->body, "{\"status\":\"ok\"}");
        api__ok(res, 200);
        break;
    case STORE_CMD_CHECKOUT:
    case STORE_CMD_CANCEL:
        api_booking_finish(req, res);
        break;
    case STORE_CMD_REDRIVE:
        api_dead_letter_redrive_finish(req, res);
        break;
    case STORE_CMD_SUBSCRIBER_ADD:
        api_webhook_create_finish(req, res);
        break;
    default:
        api_error(res, 500, "internal", "no response for this command");
        break;
    }
}

/* Copy id (NUL-terminated) into out (cap bytes), cut to fit. */
static void api__copy_id(char *out, size_t cap, const char *id)
{
    size_t len = strnlen(id, cap - 1);
    memcpy(out, id, len);
    out[len] = '\0';
}

/* Note in req->made the ids the command was about (a failed hold: its event only), for the
 * request's log line: only when one will be written (debug, or a 5xx). */
static void api__note_made(api_request *req, const api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    const hold_record *hold = NULL;
    const booking_record *booking = NULL;
    req->made.event_id[0] = req->made.hold_id[0] = req->made.booking_id[0] = '\0';
    if (!log_enabled(res->status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG)) return;
    if (op->kind == STORE_CMD_HOLD) {
        api__copy_id(req->made.event_id, sizeof(req->made.event_id), op->u.hold.hold.event_id);
        if (op->rc == TIX_RC_OK) hold = &op->u.hold.hold;
    } else if (op->rc != TIX_RC_OK) {
        return;
    } else if (op->kind == STORE_CMD_RELEASE) {
        hold = &op->u.release.hold;
    } else if (op->kind == STORE_CMD_CHECKOUT) {
        booking = &op->u.checkout.booking;
    } else if (op->kind == STORE_CMD_CANCEL) {
        booking = &op->u.cancel.booking;
    }
    if (hold) {
        api__copy_id(req->made.hold_id, sizeof(req->made.hold_id), hold->id);
        api__copy_id(req->made.event_id, sizeof(req->made.event_id), hold->event_id);
    } else if (booking) {
        api__copy_id(req->made.booking_id, sizeof(req->made.booking_id), booking->id);
        api__copy_id(req->made.hold_id, sizeof(req->made.hold_id), booking->hold_id);
        api__copy_id(req->made.event_id, sizeof(req->made.event_id), booking->event_id);
    }
}

void api_finish(api *a, api_request *req, api_response *res)
{
    commit_cmd *cmd = req->cmd;
    assert(cmd);
    tix_rc rc = cmd->op.rc;
    store_idem *idem = &req->idem;
    if (rc == TIX_RC_OVERLOADED || rc == TIX_RC_SHUTTING_DOWN || rc == TIX_RC_STORE_ERROR ||
        rc == TIX_RC_STORE_FATAL || rc == TIX_RC_KEY_REUSED) {
        api__error_rc(res, rc);
    } else if (req->idempotent) { /* exactly what was kept, or replayed */
        res->status = idem->status;
        buf tmp = res->body;
        res->body = idem->body;
        idem->body = tmp;
    } else {
        api__render(req, res);
    }
    api__note_made(req, res);
    if (cmd->op.kind == STORE_CMD_EVENT_CREATE) model_event_spec_free(&cmd->op.u.event_create.spec);
    if (req->idempotent) buf_free(&idem->body);
    commit_cmd_free(a->writer, cmd);
    api_request_reset(req);
}

api_result api_healthz(api *a, api_request *req, api_response *res)
{
    return api__command(a, req, STORE_CMD_PING, res) ? API_COMMIT : API_DONE;
}

void api__append_time(buf *b, const char *key, int64_t ms)
{
    json_out_time(b, key, ms);
}

void api__write_hold(buf *b, const hold_record *h, int64_t now_ms)
{
    json_out_hold(b, h, now_ms, false);
}

void api__write_booking(buf *b, const booking_record *bk, bool with_booking_id)
{
    json_out_booking(b, bk, with_booking_id);
}
