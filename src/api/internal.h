/* api internal: what the endpoint files (events.c, holds.c) share with api.c. */
#ifndef TIX_API_INTERNAL_H
#define TIX_API_INTERNAL_H

#include "api/api.h"

#include <cjson/cJSON.h>

struct api {
    inventory *inv;
    commit *writer;
    store *st;
    const char *admin_token;
};

/* Shared helpers (api.c). */
void api__error_rc(api_response *res, tix_rc rc);
void api__append_time(buf *b, const char *key, int64_t ms);
void api__write_event(buf *b, inv_event *ev, int64_t now_ms, bool detail);
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
api_result api_event_create(api *a, api_request *req, api_response *res);
void api_event_create_finish(api_request *req, api_response *res);
api_result api_hold_create(api *a, api_request *req, api_response *res, bool single_seat);
void api_hold_create_finish(api *a, api_request *req, api_response *res);
api_result api_hold_get(api *a, api_request *req, api_response *res);
api_result api_hold_release(api *a, api_request *req, api_response *res);
void api_hold_release_finish(api_request *req, api_response *res);
api_result api_healthz(api_request *req);

#endif
