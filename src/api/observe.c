/* observe: what the API tells the operators. Per request: a count by route, method and
 * status, and a latency histogram per route (metrics/metrics.h: per-thread slots, no
 * allocation, no lock), the outcome of a hold request, and a log line with the request's ids
 * (debug level; warn when it failed with a 5xx). At scrape time: seats by status per event
 * (from the inventory: a label per event, at most TIX_EVENTS_MAX) and the dead letters
 * waiting (from the store). GET /metrics (admin token) renders it all; so does the
 * unauthenticated --metrics-listen port (http/metrics_listener.c). */
#include "api/internal.h"
#include "feed/feed.h"

#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statuses tix answers with, each its own label; anything else counts as "other". */
static const unsigned api__statuses[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                         409, 413, 414, 415, 422, 429, 431, 500, 503};
enum {
    API_STATUSES = sizeof(api__statuses) / sizeof(api__statuses[0]) + 1, /* + other */
    API_METHODS = 5,                                                     /* as http_method */
};
static const char *const api__method_names[API_METHODS] = {"GET", "HEAD", "POST", "DELETE",
                                                           "OTHER"};

/* The label index of a status: its place in api__statuses, or the last ("other"). A switch:
 * this runs for every request. */
static uint32_t api__status_index(unsigned status)
{
    switch (status) {
    case 200:
        return 0;
    case 201:
        return 1;
    case 202:
        return 2;
    case 204:
        return 3;
    case 304:
        return 4;
    case 400:
        return 5;
    case 401:
        return 6;
    case 403:
        return 7;
    case 404:
        return 8;
    case 405:
        return 9;
    case 409:
        return 10;
    case 413:
        return 11;
    case 414:
        return 12;
    case 415:
        return 13;
    case 422:
        return 14;
    case 429:
        return 15;
    case 431:
        return 16;
    case 500:
        return 17;
    case 503:
        return 18;
    default:
        return API_STATUSES - 1;
    }
}

static uint32_t api__method_index(http_method method)
{
    uint32_t i = method ? (uint32_t)__builtin_ctz((unsigned)method) : API_METHODS - 1;
    return i < API_METHODS ? i : API_METHODS - 1;
}

static void api__route_label(buf *out, uint32_t route)
{
    const char *template = router_route_template((route_id)route);
    metrics_label(out, "route", template[0] ? template : "unmatched");
}

/* series = (route * API_METHODS + method) * API_STATUSES + status */
static void api__requests_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    uint32_t status = series % API_STATUSES, method = series / API_STATUSES % API_METHODS;
    api__route_label(out, series / API_STATUSES / API_METHODS);
    metrics_label(out, "method", api__method_names[method]);
    char code[16];
    if (status < API_STATUSES - 1)
        snprintf(code, sizeof(code), "%u", api__statuses[status]);
    else
        snprintf(code, sizeof(code), "other");
    metrics_label(out, "status", code);
}

static void api__latency_labels(const metrics_family *f, uint32_t series, buf *out)
{
    (void)f;
    api__route_label(out, series);
}

static metrics_family api__requests = {
    .name = "tix_http_requests_total",
    .help = "HTTP requests answered, by route (its path template), method and status",
    .kind = METRICS_COUNTER,
    .series = ROUTE_COUNT * API_METHODS * API_STATUSES,
    .labels = api__requests_labels,
    .sparse = true,
};

static metrics_family api__latency = {
    .name = "tix_http_request_duration_seconds",
    .help = "Time from a request's headers received to its answer queued, by route (a write "
            "includes its wait for the group commit)",
    .kind = METRICS_HISTOGRAM,
    .series = ROUTE_COUNT,
    .labels = api__latency_labels,
    .sparse = true,
    .bounds = metrics_latency_bounds_us,
    .bound_count = METRICS_LATENCY_BOUNDS,
    .unit = 1e-6,
};

/* The ids a request's log line carries: the route's parameter, and what its command made. */
static void api__log_ids(const api_request *req, bool committed,
                         char (*ids)[TIX_EVENT_ID_LEN_MAX + 1], log_fields *f)
{
    const route_match *m = &req->match;
    size_t n = m->param_len < TIX_EVENT_ID_LEN_MAX ? m->param_len : TIX_EVENT_ID_LEN_MAX;
    if (m->param) snprintf(ids[0], TIX_EVENT_ID_LEN_MAX + 1, "%.*s", (int)n, m->param);
    switch (m->route) {
    case ROUTE_EVENT:
    case ROUTE_EVENT_SEATS:
    case ROUTE_EVENT_CHANGES:
    case ROUTE_EVENT_STREAM:
    case ROUTE_EVENT_HOLDS:
    case ROUTE_EVENT_STATS:
        f->event_id = ids[0];
        break;
    case ROUTE_HOLD:
    case ROUTE_HOLD_CHECKOUT:
        f->hold_id = ids[0];
        break;
    case ROUTE_BOOKING:
    case ROUTE_BOOKING_CANCEL:
        f->booking_id = ids[0];
        break;
    default:
        break;
    }
    if (!committed) return;
    if (req->made.event_id[0]) f->event_id = req->made.event_id;
    if (req->made.hold_id[0]) f->hold_id = req->made.hold_id;
    if (req->made.booking_id[0]) f->booking_id = req->made.booking_id;
}

void api_observe(const api_request *req, const api_response *res, bool committed,
                 int64_t duration_us)
{
    uint32_t route = (uint32_t)req->match.route < ROUTE_COUNT ? (uint32_t)req->match.route : 0;
    uint32_t series = (route * API_METHODS + api__method_index(req->method)) * API_STATUSES +
                      api__status_index(res->status);
    metrics_add(&api__requests, series, 1);
    metrics_observe(&api__latency, route, duration_us > 0 ? (uint64_t)duration_us : 0);
    if ((route == ROUTE_RESERVE || route == ROUTE_EVENT_HOLDS) && res->status >= 400)
        metrics_hold_refused(res->status);
    log_level level = res->status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG;
    if (!log_enabled(level)) return;
    char ids[1][TIX_EVENT_ID_LEN_MAX + 1] = {""};
    log_fields f = {.request_id = req->request_id};
    api__log_ids(req, committed, ids, &f);
    log_write_fields(level, &f, "%s %s %u (%lld us)",
                     api__method_names[api__method_index(req->method)], req->path ? req->path : "?",
                     res->status, (long long)duration_us);
}

/* ---- scrape-time collectors ---- */

static void api__collect_seats(void *ctx, metrics_sink *sink)
{
    api *a = ctx;
    static const char *const names[] = {"available", "held", "sold"};
    inv_event **events = malloc(TIX_EVENTS_MAX * sizeof(*events));
    if (!events) return;
    uint32_t n = inventory_list(a->inv, events, TIX_EVENTS_MAX);
    int64_t now_ms = clock_now_ms();
    buf labels;
    buf_init(&labels, 256);
    for (uint32_t i = 0; i < n && i < TIX_EVENTS_MAX; i++) {
        inv_counts c = inv_event_counts(events[i], now_ms);
        uint32_t values[] = {c.available, c.held, c.sold};
        for (int k = 0; k < 3; k++) {
            buf_reset(&labels);
            metrics_label(&labels, "event", events[i]->spec.id);
            metrics_label(&labels, "status", names[k]);
            metrics_sample(sink, labels.data, values[k]);
        }
    }
    buf_free(&labels);
    free(events);
}

static void api__collect_dead_letters(void *ctx, metrics_sink *sink)
{
    api *a = ctx;
    uint64_t count;
    store_status status = STORE_OK;
    if (store_dead_letters_count(a->st, &count, &status) == 0)
        metrics_sample(sink, NULL, (double)count);
}

int api_observe_register(void)
{
    int rc = metrics_register(&api__requests);
    return rc | metrics_register(&api__latency);
}

static double api__feed_position(void *ctx)
{
    api *a = ctx;
    return a->follower ? (double)feed_position(a->follower) : 0;
}

static double api__feed_lag_seconds(void *ctx)
{
    api *a = ctx;
    return a->follower ? (double)feed_lag_ms(a->follower, clock_now_ms()) / 1000.0 : 0;
}

int api_metrics_start(api *a)
{
    int rc = metrics_probes_register();
    rc |= api_observe_register();
    rc |= metrics_collector_register("tix_seats",
                                     "Seats by status per event, as the in-memory index has them "
                                     "now (a lapsed hold's seats read as available)",
                                     "gauge", api__collect_seats, a);
    rc |= metrics_collector_register("tix_dead_letters",
                                     "Event-bus deliveries in the dead-letter queue, waiting for "
                                     "a person (POST /admin/dead-letters/{seq}/redrive)",
                                     "gauge", api__collect_dead_letters, a);
    rc |= metrics_gauge_register("tix_feed_position",
                                 "The change feed position this node has applied (every change up "
                                 "to it is in its caches)",
                                 api__feed_position, a);
    rc |= metrics_gauge_register("tix_feed_lag_seconds",
                                 "Seconds since this node last knew it had applied every "
                                 "committed change (about the poll interval when idle)",
                                 api__feed_lag_seconds, a);
    return rc ? -1 : 0;
}

void api_metrics_stop(void)
{
    metrics_collector_unregister("tix_seats");
    metrics_collector_unregister("tix_dead_letters");
    metrics_collector_unregister("tix_feed_position");
    metrics_collector_unregister("tix_feed_lag_seconds");
}

int api_metrics_render(buf *out)
{
    return metrics_render(out);
}

api_result api_metrics(api_response *res)
{
    buf_reset(&res->body);
    if (api_metrics_render(&res->body) != 0) {
        api_error(res, 500, "internal", "the metrics could not be rendered");
        return API_DONE;
    }
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    res->status = 200;
    return API_DONE;
}
