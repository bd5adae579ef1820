/* fuzz_router: a request line (method and URL) through router_match, then through the whole
 * API as the HTTP layer would hand it over (no body).
 *
 * Input: byte 0 picks the method (low 3 bits) and headers (admin token, If-None-Match); the
 * rest, up to a NUL, is the URL as libmicrohttpd gives it (already percent-decoded, so any
 * byte but NUL): the path before the first '?', and the query after it, from which the
 * `status` argument is taken as the HTTP layer does.
 *
 * Checked: router_match agrees with a reference matcher written independently (segments split
 * on '/', `*` matching one non-empty segment, first route in table order wins); the parameter
 * is the exact segment of the path (rebuilding the path from the pattern gives the path back);
 * method_ok holds exactly when the method is named in `allow`. Then every response obeys the
 * fixture's checks (known status, one strict JSON object, error shape). */
#include "fixture_api.h"

#include "api/router.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct fx_route {
    route_id route;
    const char *pattern; /* '*' is one parameter segment */
} fx_route;

/* The API surface as README.md documents it, in the router's order. A route added to
 * src/api/router.c must be added here too (this is the reference the fuzzer holds it to). */
static const fx_route fx_routes[] = {
    {ROUTE_EVENTS, "/events"},
    {ROUTE_EVENT, "/events/*"},
    {ROUTE_EVENT_SEATS, "/events/*/seats"},
    {ROUTE_EVENT_CHANGES, "/events/*/changes"},
    {ROUTE_EVENT_HOLDS, "/events/*/holds"},
    {ROUTE_RESERVE, "/reserve"},
    {ROUTE_HOLD, "/holds/*"},
    {ROUTE_HEALTHZ, "/healthz"},
    {ROUTE_HOLD_CHECKOUT, "/holds/*/checkout"},
    {ROUTE_BOOKING, "/bookings/*"},
    {ROUTE_BOOKING_CANCEL, "/bookings/*/cancel"},
    {ROUTE_USER_BOOKINGS, "/users/*/bookings"},
    {ROUTE_DEAD_LETTERS, "/admin/dead-letters"},
    {ROUTE_DEAD_LETTER_REDRIVE, "/admin/dead-letters/*/redrive"},
    {ROUTE_WEBHOOKS, "/admin/webhooks"},
    {ROUTE_BUYER_TOKENS, "/admin/buyer-tokens"},
    {ROUTE_PAGE, "/"},
    {ROUTE_ASSET, "/assets/*"},
    {ROUTE_METRICS, "/metrics"},
    {ROUTE_OPENAPI, "/openapi.json"},
    {ROUTE_ADMIN_PAGE, "/admin"},
    {ROUTE_EVENT_STATS, "/admin/events/*/stats"},
    {ROUTE_EVENT_STREAM, "/events/*/stream"},
};

static const char *const fx_methods[8] = {"GET", "HEAD", "POST",    "DELETE",
                                          "PUT", "get",  "OPTIONS", ""};

/* Reference: does path match pattern, segment by segment? */
static bool fx_ref_matches(const char *pattern, const char *path)
{
    for (;;) {
        const char *p_end = strchr(pattern, '/'), *s_end = strchr(path, '/');
        size_t p_len = p_end ? (size_t)(p_end - pattern) : strlen(pattern);
        size_t s_len = s_end ? (size_t)(s_end - path) : strlen(path);
        bool same = (p_len == 1 && pattern[0] == '*')
                        ? s_len > 0
                        : p_len == s_len && memcmp(pattern, path, p_len) == 0;
        if (!same || !p_end != !s_end) return false;
        if (!p_end) return true;
        pattern = p_end + 1;
        path = s_end + 1;
    }
}

static const fx_route *fx_ref_route(const char *path)
{
    for (size_t i = 0; i < sizeof(fx_routes) / sizeof(fx_routes[0]); i++)
        if (fx_ref_matches(fx_routes[i].pattern, path)) return &fx_routes[i];
    return NULL;
}

/* Is name one of the comma-separated tokens of allow? */
static bool fx_allow_names(const char *allow, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = allow; (p = strstr(p, name)); p += n) {
        bool starts = p == allow || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends) return true;
    }
    return false;
}

static void fx_check_match(const char *path, const char *method_name, http_method method)
{
    route_match m;
    route_id got = router_match(path, method, &m);
    const fx_route *want = fx_ref_route(path);
    FX_CHECK(got == m.route, "router_match returned %d, match says %d", got, m.route);
    FX_CHECK(got == (want ? want->route : ROUTE_NONE), "path '%s': route %d, reference %d", path,
             got, want ? (int)want->route : 0);
    if (!want) {
        FX_CHECK(!m.method_ok && !m.allow && !m.param, "no route, yet a match was filled");
        return;
    }
    FX_CHECK(m.allow != NULL, "route %d without an Allow value", got);
    bool named = method != HTTP_OTHER && fx_allow_names(m.allow, method_name);
    FX_CHECK(m.method_ok == named, "%s on %s: method_ok %d, Allow: %s", method_name, want->pattern,
             m.method_ok, m.allow);
    const char *star = strchr(want->pattern, '*');
    if (!star) {
        FX_CHECK(!m.param && strcmp(path, want->pattern) == 0, "a parameter on %s", want->pattern);
        return;
    }
    FX_CHECK(m.param && m.param_len > 0 && m.param >= path &&
                 m.param + m.param_len <= path + strlen(path) && !memchr(m.param, '/', m.param_len),
             "the parameter of %s is not a segment of the path", want->pattern);
    size_t head = (size_t)(star - want->pattern);
    FX_CHECK((size_t)(m.param - path) == head && memcmp(path, want->pattern, head) == 0 &&
                 strcmp(m.param + m.param_len, star + 1) == 0,
             "the path is not pattern %s with its parameter in place", want->pattern);
}

/* The value of the `status` argument of query (up to its end), as a NUL-terminated copy
 * written into out (cap bytes); NULL when there is none. */
static const char *fx_status_arg(const char *query, char *out, size_t cap)
{
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, "status=", 7) != 0) continue;
        const char *end = strchr(p + 7, '&');
        size_t len = end ? (size_t)(end - p - 7) : strlen(p + 7);
        if (len >= cap) len = cap - 1;
        memcpy(out, p + 7, len);
        out[len] = '\0';
        return out;
    }
    return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_api_get();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static api_request req; /* large (it embeds a commit command): not on the stack */
    if (size == 0) return 0;
    uint8_t flags = data[0];
    char *url = malloc(size); /* the rest, NUL-terminated (a C string, as the HTTP layer has) */
    if (!url) return 0;
    memcpy(url, data + 1, size - 1);
    url[size - 1] = '\0';
    char *query = strchr(url, '?');
    if (query) *query++ = '\0';

    const char *method_name = fx_methods[flags & 7];
    http_method method = router_method(method_name);
    fx_check_match(url, method_name, method);

    char status[256];
    fx_api_request_init(&req, method, url);
    req.status_filter = query ? fx_status_arg(query, status, sizeof(status)) : NULL;
    req.authorization = (flags & 0x08) ? "Bearer " FX_ADMIN_TOKEN : NULL;
    req.if_none_match = (flags & 0x10) ? "*" : NULL;
    fx_api_handle(&req, NULL);
    free(url);
    return 0;
}
