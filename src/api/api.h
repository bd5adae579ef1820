/* api: the HTTP API of tix, independent of the HTTP library.
 *
 * The HTTP layer fills an api_request and calls api_handle. A read is answered at once
 * (API_DONE). A write is turned into a commit command (API_COMMIT): the HTTP layer then
 * parks the connection and calls api_submit; when the writer has committed (or refused, or
 * failed), req->resume is called from the writer thread, and the HTTP layer, back on its own
 * thread, calls api_finish to render the response. A live stream (GET /events/{id}/stream) is
 * opened by the API (API_STREAM) and then written by the HTTP layer (live/live.h).
 *
 * Every error body is {"error": {"code": "...", "message": "...", "request_id": "..."}} with a
 * stable code (request_id: the request's X-Request-Id, when the HTTP layer gave one). */
#ifndef TIX_API_H
#define TIX_API_H

#include "api/router.h"
#include "commit/commit.h"
#include "core/inventory.h"
#include "feed/feed.h"
#include "live/live.h"
#include "store/store.h"
#include "util/buf.h"

enum {
    API_BODY_LEN_MAX_DEFAULT = 64 * 1024,
    API_RESPONSE_LEN_MAX = 256 * 1024 * 1024, /* a 1,000,000-seat map is about 100 MB */
    API_REQUEST_ID_LEN_MAX = 64,              /* longer ones are left out of error bodies */
};

typedef struct api api;

typedef struct api_request {
    /* filled by the HTTP layer */
    http_method method;
    const char *path;
    const char *status_filter;   /* ?status=, or NULL */
    const char *after;           /* ?after=, or NULL */
    const char *limit;           /* ?limit=, or NULL */
    const char *content_type;    /* or NULL */
    const char *authorization;   /* or NULL */
    const char *idempotency_key; /* Idempotency-Key header, or NULL */
    const char *if_none_match;   /* If-None-Match header, or NULL */
    const char *last_event_id;   /* Last-Event-ID header (a stream resuming), or NULL */
    const char *request_id;      /* X-Request-Id (the client's or made up), or NULL */
    const char *body;
    size_t body_len;
    void (*resume)(struct api_request *req); /* called from the writer thread */
    void *http_ctx;
    /* owned by the API */
    struct api *api;
    route_match match;
    char actor[TIX_USER_ID_LEN_MAX + 1]; /* the buyer of a valid buyer token, or "" */
    commit_cmd *cmd;                     /* a write's command (API_COMMIT), from the pool */
    bool idempotent;                     /* idem is attached to cmd */
    store_idem idem;                     /* the Idempotency-Key a write answers */
    /* what a committed command was about, for its log line (set by api_finish: the command
     * itself is back in the pool by the time the line is written) */
    struct {
        char event_id[TIX_EVENT_ID_LEN_MAX + 1];
        char hold_id[TIX_HOLD_ID_LEN + 1];
        char booking_id[TIX_BOOKING_ID_LEN + 1];
    } made;
} api_request;

typedef struct api_response {
    unsigned status;
    buf body;
    const char *allow;        /* Allow header, for 405 */
    unsigned retry_after_s;   /* Retry-After header when > 0 */
    char etag[48];            /* ETag header when not empty */
    const char *content_type; /* NULL: application/json */
    const char *request_id;   /* added to error bodies when not NULL */
    /* a shared, immutable body (a cached seat map) used instead of `body` when not NULL;
     * the HTTP layer calls shared_release(shared_cls) once it has been sent */
    const char *shared_data;
    size_t shared_len;
    void (*shared_release)(void *cls);
    void *shared_cls;
    live_stream *stream; /* API_STREAM: the stream to write (the HTTP layer closes it) */
} api_response;

/* API_DONE: res is the answer. API_COMMIT: call api_submit. API_STREAM: answer res->status
 * with res->content_type and then what res->stream reads, until it ends or the client goes. */
typedef enum api_result { API_DONE, API_COMMIT, API_STREAM } api_result;

/* Create the API over its collaborators (not owned). admin_token must stay alive. */
api *api_create(inventory *inv, commit *writer, store *st, feed *follower, const char *admin_token);

/* Reject a hold from memory (a 409 without asking the store) only while the feed's lag is
 * under lag_ms; past it the store decides (FEED_LAG_MS_MAX_DEFAULT until set). */
void api_set_feed_lag_max(api *a, uint32_t lag_ms);

/* Serve GET /events/{id}/stream from l (not owned); without it the route answers 404. */
void api_set_live(api *a, live *l);
void api_destroy(api *a);

/* Buyer tokens (see buyer_token.h): verify them with secret (NULL or "": none can be
 * valid), and, when required, refuse buyer endpoints without one. Call before traffic. */
void api_set_buyer_auth(api *a, const char *secret, bool required);

/* Initialise res (status 500, empty body with the response cap). */
void api_response_init(api_response *res);

/* Handle a whole request (see api_result). */
api_result api_handle(api *a, api_request *req, api_response *res);

/* Queue req's command; req->resume is called exactly once when its outcome is known (at
 * once, from this thread, when the queue refuses it). */
void api_submit(api *a, api_request *req);

/* Render the outcome of a committed (or refused) command into res, and let its command go.
 * Called exactly once for every request that returned API_COMMIT. */
void api_finish(api *a, api_request *req, api_response *res);

/* Clear what the API keeps in a request before a new one uses it. */
void api_request_reset(api_request *req);

/* Fill res with an error: {"error":{"code":code,"message":...,"request_id":...}}. */
void api_error(api_response *res, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Account a finished request (the HTTP layer calls it once per answer): its count by route,
 * method and status, its latency (duration_us) by route, the outcome of a hold request, and a
 * log line (debug level; warn for a 5xx) with its ids. `committed`: its command went through
 * the writer (its outcome fields are set). See observe.c. */
void api_observe(const api_request *req, const api_response *res, bool committed,
                 int64_t duration_us);

/* Register the request families only (api_metrics_start does it too). Returns 0 or -1. */
int api_observe_register(void);

/* Register the API's metrics (requests, latencies) and its scrape-time collectors (seats by
 * status per event, dead letters) over a; api_metrics_stop removes the collectors (before
 * api_destroy). Returns 0 or -1. */
int api_metrics_start(api *a);
void api_metrics_stop(void);

/* The whole Prometheus exposition into out (for GET /metrics and --metrics-listen). */
int api_metrics_render(buf *out);

#endif
