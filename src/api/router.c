/* router: see router.h. The table is the whole API surface. */
#include "api/router.h"

#include <assert.h>
#include <string.h>

typedef struct router__route {
    route_id route;
    const char *pattern; /* a template: "{name}" stands for one parameter segment */
    unsigned methods;
    const char *allow;
} router__route;

static const router__route router__routes[] = {
    {ROUTE_EVENTS, "/events", HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
    {ROUTE_EVENT, "/events/{event_id}", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_EVENT_SEATS, "/events/{event_id}/seats", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_EVENT_CHANGES, "/events/{event_id}/changes", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_EVENT_STREAM, "/events/{event_id}/stream", HTTP_GET, "GET"},
    {ROUTE_EVENT_HOLDS, "/events/{event_id}/holds", HTTP_POST, "POST"},
    {ROUTE_RESERVE, "/reserve", HTTP_POST, "POST"},
    {ROUTE_HOLD, "/holds/{hold_id}", HTTP_GET | HTTP_HEAD | HTTP_DELETE, "GET, HEAD, DELETE"},
    {ROUTE_HEALTHZ, "/healthz", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_HOLD_CHECKOUT, "/holds/{hold_id}/checkout", HTTP_POST, "POST"},
    {ROUTE_BOOKING, "/bookings/{booking_id}", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_BOOKING_CANCEL, "/bookings/{booking_id}/cancel", HTTP_POST, "POST"},
    {ROUTE_USER_BOOKINGS, "/users/{user_id}/bookings", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_DEAD_LETTERS, "/admin/dead-letters", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_DEAD_LETTER_REDRIVE, "/admin/dead-letters/{seq}/redrive", HTTP_POST, "POST"},
    {ROUTE_WEBHOOKS, "/admin/webhooks", HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
    {ROUTE_BUYER_TOKENS, "/admin/buyer-tokens", HTTP_POST, "POST"},
    {ROUTE_PAGE, "/", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_ASSET, "/assets/{name}", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_METRICS, "/metrics", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_OPENAPI, "/openapi.json", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_ADMIN_PAGE, "/admin", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {ROUTE_EVENT_STATS, "/admin/events/{event_id}/stats", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
};

http_method router_method(const char *method)
{
    if (strcmp(method, "GET") == 0) return HTTP_GET;
    if (strcmp(method, "POST") == 0) return HTTP_POST;
    if (strcmp(method, "DELETE") == 0) return HTTP_DELETE;
    if (strcmp(method, "HEAD") == 0) return HTTP_HEAD;
    return HTTP_OTHER;
}

/* Does path match pattern? Records the parameter segment if there is one. */
static bool router__matches(const char *pattern, const char *path, const char **param,
                            size_t *param_len)
{
    while (*pattern && *path) {
        if (*pattern == '{') {
            const char *end = strchr(path, '/');
            size_t len = end ? (size_t)(end - path) : strlen(path);
            if (len == 0) return false;
            *param = path;
            *param_len = len;
            path += len;
            pattern = strchr(pattern, '}');
            assert(pattern);
            pattern++;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

route_id router_match(const char *path, http_method method, route_match *match)
{
    memset(match, 0, sizeof(*match));
    for (size_t i = 0; i < sizeof(router__routes) / sizeof(router__routes[0]); i++) {
        const router__route *r = &router__routes[i];
        const char *param = NULL;
        size_t param_len = 0;
        if (!router__matches(r->pattern, path, &param, &param_len)) continue;
        match->route = r->route;
        match->method_ok = (r->methods & (unsigned)method) != 0;
        match->allow = r->allow;
        match->param = param;
        match->param_len = param_len;
        return r->route;
    }
    return ROUTE_NONE;
}

const char *router_route_template(route_id route)
{
    for (size_t i = 0; i < sizeof(router__routes) / sizeof(router__routes[0]); i++)
        if (router__routes[i].route == route) return router__routes[i].pattern;
    return "";
}
