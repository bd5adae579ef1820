/* api internal: what the endpoint files (events.c, holds.c) share with api.c. */
#ifndef TIX_API_INTERNAL_H
#define TIX_API_INTERNAL_H

#include "api/api.h"
#include "api/buyer_token.h"

#include <cjson/cJSON.h>

#include <pthread.h>

typedef struct api_seatmap api_seatmap;

enum {
    API_SEATMAP_FILTERS = 4,      /* all, available, held, sold */
    API_CHANGES_MAX = 1000,       /* changes in one answer of GET /events/{id}/changes */
    API_CHANGES_SCAN_MAX = 10000, /* feed positions one answer looks through */
    API_STREAM_RETRY_AFTER_S = 5, /* Retry-After of a stream refused for too many */
};

struct api {
    inventory *inv;
    commit *writer;
    store *st;
    feed *follower;
    live *live; /* NULL: no streams */
    uint32_t feed_lag_max_ms;
    const char *admin_token;
    char buyer_secret[BUYER_TOKEN_SECRET_LEN_MAX + 1];
    bool buyer_token_required;
    /* seat maps as last built, per event and filter, shared by the responses that send them */
    pthread_mutex_t seatmaps_mutex;
    char etag_salt[9]; /* the store's id: ETags of two stores never meet */
    api_seatmap *seatmaps[TIX_EVENTS_MAX][API_SEATMAP_FILTERS];
};

/* Drop every cached seat map (api_destroy). */
void api__seatmaps_clear(api *a);

/* Shared helpers (api.c). */
void api__error_rc(api_response *res, tix_rc rc);
/* The error for a store read that failed with status. */
void api__error_store(api_response *res, store_status status);
/* Close an error body: the request id (when known, at most API_REQUEST_ID_LEN_MAX
 * characters), then "}}". */
void api__error_end(api_response *res);
void api__append_time(buf *b, const char *key, int64_t ms);
void api__write_event(buf *b, inv_event *ev, int64_t now_ms, bool detail);
void api__write_event_spec(buf *b, const event_spec *spec, inv_counts counts, bool detail);
void api__write_booking(buf *b, const booking_record *bk, bool with_booking_id);
bool api__require_admin(api *a, const api_request *req, api_response *res);
/* With a buyer token, is `user_id` its buyer? Answers 403 forbidden when not. */
bool api__owns(const api_request *req, const char *user_id, api_response *res);
api_result api_buyer_token_create(api *a, api_request *req, api_response *res);
/* Copy the {param} of the route into out (cap bytes) if it has the shape of an id. */
bool api__param_id(const api_request *req, char *out, size_t cap);
void api__write_hold(buf *b, const hold_record *h, int64_t now_ms);
void api__ok(api_response *res, unsigned status);
bool api__require_json(const api_request *req, api_response *res);
cJSON *api__parse_body(const api_request *req, api_response *res);
inv_event *api__find_event(api *a, const char *id, size_t len, api_response *res);
bool api__is_admin(api *a, const api_request *req);

/* Endpoints. */
api_result api_events_list(api *a, api_response *res);
api_result api_event_get(api *a, api_request *req, api_response *res);
api_result api_event_seats(api *a, api_request *req, api_response *res);
api_result api_event_changes(api *a, api_request *req, api_response *res);
api_result api_event_stream(api *a, api_request *req, api_response *res);
api_result api_event_create(api *a, api_request *req, api_response *res);
void api_event_create_finish(api *a, api_request *req, api_response *res);
api_result api_hold_create(api *a, api_request *req, api_response *res, bool single_seat);
void api_hold_create_finish(api_request *req, api_response *res);
api_result api_hold_get(api *a, api_request *req, api_response *res);
api_result api_hold_release(api *a, api_request *req, api_response *res);
void api_hold_release_finish(api_request *req, api_response *res);
api_result api_healthz(api *a, api_request *req, api_response *res);
api_result api_checkout(api *a, api_request *req, api_response *res);
api_result api_booking_get(api *a, api_request *req, api_response *res);
api_result api_booking_cancel(api *a, api_request *req, api_response *res);
api_result api_user_bookings(api *a, api_request *req, api_response *res);
void api_booking_finish(api_request *req, api_response *res);
api_result api_dead_letters(api *a, api_request *req, api_response *res);
api_result api_dead_letter_redrive(api *a, api_request *req, api_response *res);
void api_dead_letter_redrive_finish(api_request *req, api_response *res);
api_result api_webhook_create(api *a, api_request *req, api_response *res);
void api_webhook_create_finish(api_request *req, api_response *res);
api_result api_webhooks_list(api *a, api_request *req, api_response *res);
api_result api_page(api_request *req, api_response *res);
api_result api_asset(api_request *req, api_response *res);
api_result api_openapi(api_request *req, api_response *res);
api_result api_admin_page(api_request *req, api_response *res);
api_result api_metrics(api_response *res);
api_result api_event_stats(api *a, api_request *req, api_response *res);

/* Take a command of this kind for req (from the writer's pool). Returns it, or NULL with a 503
 * in res when out of memory. */
commit_cmd *api__command(api *a, api_request *req, store_cmd_kind kind, api_response *res);

/* Render the outcome of a command into res (used after commit, and inside the writer for
 * requests with an idempotency key). */
void api__render(api_request *req, api_response *res);

/* Idempotency keys (idempotency.c). api__idempotency_begin answers the request itself (a
 * replay of a kept response, 422 reused, 400 bad key) and returns API_DONE, or returns
 * API_COMMIT: the store decides in the transaction (store/store.h). api__idempotency_attach
 * attaches the key to the request's command (a RESPONSE command when the handler answered
 * without one). */
api_result api__idempotency_begin(api *a, api_request *req, api_response *res);
api_result api__idempotency_attach(api *a, api_request *req, api_response *res, api_result result);

#endif
