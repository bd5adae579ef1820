/* fixture_api: one tix API over a real inventory and a temp SQLite store, built once per
 * process, for the fuzz targets that drive api_handle (fuzz_router, fuzz_json_body,
 * fuzz_idempotency_key).
 *
 * The state is made through the real write path (api_handle, then the commit writer) and
 * then frozen: the writer is stopped before any input is run, and the API the targets use has
 * no writer at all. An input never reaches api_submit: fx_api_handle treats API_COMMIT as the
 * end of the request, and lets api_finish release what the command holds, as when the writer
 * refuses a command while shutting down (or, for the commands whose response depends only on
 * the request, as when the writer renders it inside its transaction).
 *
 * Every response is checked: a status tix can send, and a body that is one strict JSON value
 * (api_json_validate: grammar, nesting, well-formed UTF-8). A broken promise aborts, which
 * libFuzzer reports as a crash. */
#ifndef TIX_FUZZ_FIXTURE_API_H
#define TIX_FUZZ_FIXTURE_API_H

#include "api/api.h"
#include "check.h"

#include <stdbool.h>
#include <stddef.h>

#define FX_ADMIN_TOKEN "fuzz-admin-token"
#define FX_EVENT_ID "fuzz-event"        /* rows A, B (10 seats), C (5 seats, free); max 4 a hold */
#define FX_EVENT_SMALL_ID "fuzz-small"  /* row A (3 seats); max 1 seat a hold */
#define FX_REPLAY_KEY "fuzz-replay-key" /* an Idempotency-Key with a kept response */
#define FX_REPLAY_BODY "{\"event_id\":\"fuzz-event\",\"seat_id\":\"A1\",\"user_id\":\"bob\"}"

typedef struct fx_api {
    api *api;
    inventory *inv;
    store *st;
    feed *follower;
    commit *writer; /* stopped once the fixture is built: it takes nothing, it only lends
                       commands from its pool */
    char hold_id[TIX_HOLD_ID_LEN + 1];       /* active: A1, A2 of FX_EVENT_ID, user alice */
    char booking_id[TIX_BOOKING_ID_LEN + 1]; /* pending payment: B1, user carol */
} fx_api;

/* Build the fixture (first call; aborts when it cannot) and return it. */
fx_api *fx_api_get(void);

/* What an api_request looks like when the HTTP layer hands it over: zeroed, with path and
 * method set. */
void fx_api_request_init(api_request *req, http_method method, const char *path);

/* Run req to its end without the writer (see above), check the response, and return its
 * status. When res_out is not NULL the response is left there for the caller to look at and
 * release with fx_api_response_free; otherwise it is released here. */
unsigned fx_api_handle(api_request *req, api_response *res_out);

/* The same in two steps, to keep a request in flight (its Idempotency-Key registered) while
 * others run: fx_api_begin initialises res and calls api_handle; fx_api_end takes its result
 * and does the rest as fx_api_handle does. */
api_result fx_api_begin(api_request *req, api_response *res);
unsigned fx_api_end(api_request *req, api_response *res, api_result result);

/* Release what a response holds (its body, a shared seat map). */
void fx_api_response_free(api_response *res);

/* Check the invariants of any response body: one strict JSON value. */
void fx_check_json(const char *what, const char *data, size_t len);

#endif
