/* router: maps a method and a path to an API route. Pure: no allocation, no state.
 *
 * Paths are matched segment by segment; `{param}` segments match one non-empty segment and
 * are returned as a slice of the path. A path that matches no route gives ROUTE_NONE (404);
 * a path that matches with another method gives method_ok = false and `allow`, the value of
 * the Allow header for 405. */
#ifndef TIX_ROUTER_H
#define TIX_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

typedef enum http_method {
    HTTP_GET = 1 << 0,
    HTTP_HEAD = 1 << 1,
    HTTP_POST = 1 << 2,
    HTTP_DELETE = 1 << 3,
    HTTP_OTHER = 1 << 4,
} http_method;

typedef enum route_id {
    ROUTE_NONE = 0,
    ROUTE_EVENTS,              /* /events */
    ROUTE_EVENT,               /* /events/{event_id} */
    ROUTE_EVENT_SEATS,         /* /events/{event_id}/seats */
    ROUTE_EVENT_CHANGES,       /* /events/{event_id}/changes */
    ROUTE_EVENT_HOLDS,         /* /events/{event_id}/holds */
    ROUTE_RESERVE,             /* /reserve */
    ROUTE_HOLD,                /* /holds/{hold_id} */
    ROUTE_HEALTHZ,             /* /healthz */
    ROUTE_HOLD_CHECKOUT,       /* /holds/{hold_id}/checkout */
    ROUTE_BOOKING,             /* /bookings/{booking_id} */
    ROUTE_BOOKING_CANCEL,      /* /bookings/{booking_id}/cancel */
    ROUTE_USER_BOOKINGS,       /* /users/{user_id}/bookings */
    ROUTE_DEAD_LETTERS,        /* /admin/dead-letters */
    ROUTE_DEAD_LETTER_REDRIVE, /* /admin/dead-letters/{id}/redrive */
    ROUTE_WEBHOOKS,            /* /admin/webhooks */
    ROUTE_BUYER_TOKENS,        /* /admin/buyer-tokens */
    ROUTE_PAGE,                /* / (the buyer's page) */
    ROUTE_ASSET,               /* /assets/{name} (its scripts and styles) */
    ROUTE_METRICS,             /* /metrics (Prometheus) */
    ROUTE_OPENAPI,             /* /openapi.json */
    ROUTE_ADMIN_PAGE,          /* /admin (the organiser's page) */
    ROUTE_EVENT_STATS,         /* /admin/events/{event_id}/stats */
    ROUTE_EVENT_STREAM,        /* /events/{event_id}/stream (Server-Sent Events) */
} route_id;

enum { ROUTE_COUNT = ROUTE_EVENT_STREAM + 1 }; /* route ids are 0 .. ROUTE_COUNT - 1 */

typedef struct route_match {
    route_id route;
    bool method_ok;
    const char *allow; /* for 405 */
    const char *param; /* the {param} segment, not NUL-terminated */
    size_t param_len;
} route_match;

/* The http_method of a request method string ("GET", ...). */
http_method router_method(const char *method);

/* Match path (without the query string) against the routes. Returns match->route. */
route_id router_match(const char *path, http_method method, route_match *match);

/* The path template of a route ("/events/{event_id}/holds"), as docs/openapi.json names it
 * and metrics label it; "" for ROUTE_NONE. */
const char *router_route_template(route_id route);

#endif
