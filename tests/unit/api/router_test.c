/* router: every route and method, 405 Allow values, parameters, and paths that match nothing. */
#include "../test.h"

#include "api/router.h"

static const http_method all_methods[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_DELETE, HTTP_OTHER};

TEST(router_method_names_the_four_methods_and_nothing_else)
{
    ASSERT_EQ_INT(router_method("GET"), HTTP_GET);
    ASSERT_EQ_INT(router_method("HEAD"), HTTP_HEAD);
    ASSERT_EQ_INT(router_method("POST"), HTTP_POST);
    ASSERT_EQ_INT(router_method("DELETE"), HTTP_DELETE);
    ASSERT_EQ_INT(router_method("get"), HTTP_OTHER); /* methods are case-sensitive */
    ASSERT_EQ_INT(router_method("PUT"), HTTP_OTHER);
    ASSERT_EQ_INT(router_method("PATCH"), HTTP_OTHER);
    ASSERT_EQ_INT(router_method("OPTIONS"), HTTP_OTHER);
    ASSERT_EQ_INT(router_method("GETX"), HTTP_OTHER);
    ASSERT_EQ_INT(router_method(""), HTTP_OTHER);
}

/* For each route: a path, its parameter, the methods it takes and its Allow value. */
static const struct {
    const char *path;
    route_id route;
    const char *param; /* NULL: none */
    unsigned methods;
    const char *allow;
} routes[] = {
    {"/events", ROUTE_EVENTS, NULL, HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
    {"/events/nba-finals", ROUTE_EVENT, "nba-finals", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/events/nba-finals/seats", ROUTE_EVENT_SEATS, "nba-finals", HTTP_GET | HTTP_HEAD,
     "GET, HEAD"},
    {"/events/nba-finals/holds", ROUTE_EVENT_HOLDS, "nba-finals", HTTP_POST, "POST"},
    {"/reserve", ROUTE_RESERVE, NULL, HTTP_POST, "POST"},
    {"/holds/0123456789abcdef0123456789abcdef", ROUTE_HOLD, "0123456789abcdef0123456789abcdef",
     HTTP_GET | HTTP_HEAD | HTTP_DELETE, "GET, HEAD, DELETE"},
    {"/healthz", ROUTE_HEALTHZ, NULL, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/holds/0123456789abcdef0123456789abcdef/checkout", ROUTE_HOLD_CHECKOUT,
     "0123456789abcdef0123456789abcdef", HTTP_POST, "POST"},
    {"/bookings/b1", ROUTE_BOOKING, "b1", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/bookings/b1/cancel", ROUTE_BOOKING_CANCEL, "b1", HTTP_POST, "POST"},
    {"/users/alice/bookings", ROUTE_USER_BOOKINGS, "alice", HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/admin/dead-letters", ROUTE_DEAD_LETTERS, NULL, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/admin/dead-letters/42/redrive", ROUTE_DEAD_LETTER_REDRIVE, "42", HTTP_POST, "POST"},
    {"/admin/webhooks", ROUTE_WEBHOOKS, NULL, HTTP_GET | HTTP_HEAD | HTTP_POST, "GET, HEAD, POST"},
    {"/metrics", ROUTE_METRICS, NULL, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/openapi.json", ROUTE_OPENAPI, NULL, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/admin", ROUTE_ADMIN_PAGE, NULL, HTTP_GET | HTTP_HEAD, "GET, HEAD"},
    {"/admin/events/nba-finals/stats", ROUTE_EVENT_STATS, "nba-finals", HTTP_GET | HTTP_HEAD,
     "GET, HEAD"},
    {"/events/nba-finals/stream", ROUTE_EVENT_STREAM, "nba-finals", HTTP_GET, "GET"},
};

TEST(router_matches_each_route_with_each_method)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        for (size_t k = 0; k < sizeof(all_methods) / sizeof(all_methods[0]); k++) {
            route_match m;
            route_id id = router_match(routes[i].path, all_methods[k], &m);
            bool want_ok = (routes[i].methods & (unsigned)all_methods[k]) != 0;
            if (id != routes[i].route || m.route != routes[i].route || m.method_ok != want_ok) {
                test_fail(__FILE__, __LINE__, "%s with method %d: route %d ok %d, want %d ok %d",
                          routes[i].path, all_methods[k], id, m.method_ok, routes[i].route,
                          want_ok);
                return;
            }
            ASSERT_EQ_STR(m.allow, routes[i].allow);
            if (routes[i].param) {
                ASSERT_EQ_SLICE(m.param, m.param_len, routes[i].param);
            } else {
                ASSERT_NULL(m.param);
                ASSERT_EQ_INT(m.param_len, 0);
            }
        }
    }
}

TEST(router_answers_405_with_the_allow_value_of_the_route)
{
    route_match m;
    ASSERT_EQ_INT(router_match("/events", HTTP_DELETE, &m), ROUTE_EVENTS);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "GET, HEAD, POST");
    ASSERT_EQ_INT(router_match("/events/x", HTTP_POST, &m), ROUTE_EVENT);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "GET, HEAD");
    ASSERT_EQ_INT(router_match("/events/x/holds", HTTP_GET, &m), ROUTE_EVENT_HOLDS);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "POST");
    ASSERT_EQ_INT(router_match("/reserve", HTTP_GET, &m), ROUTE_RESERVE);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "POST");
    ASSERT_EQ_INT(router_match("/holds/abc", HTTP_POST, &m), ROUTE_HOLD);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "GET, HEAD, DELETE");
    ASSERT_EQ_INT(router_match("/healthz", HTTP_OTHER, &m), ROUTE_HEALTHZ);
    ASSERT_FALSE(m.method_ok);
    ASSERT_EQ_STR(m.allow, "GET, HEAD");
}

TEST(router_returns_the_parameter_as_a_slice_of_the_path)
{
    const char *path = "/events/e1/seats";
    route_match m;
    ASSERT_EQ_INT(router_match(path, HTTP_GET, &m), ROUTE_EVENT_SEATS);
    ASSERT_TRUE(m.param == path + 8);
    ASSERT_EQ_INT(m.param_len, 2);
    ASSERT_EQ_INT(router_match("/events/x", HTTP_GET, &m), ROUTE_EVENT);
    ASSERT_EQ_SLICE(m.param, m.param_len, "x");
    /* A parameter is one segment of any bytes but '/'; checking its shape is the caller's job. */
    ASSERT_EQ_INT(router_match("/events/a%20b.c", HTTP_GET, &m), ROUTE_EVENT);
    ASSERT_EQ_SLICE(m.param, m.param_len, "a%20b.c");
    ASSERT_EQ_INT(router_match("/events/seats", HTTP_GET, &m), ROUTE_EVENT);
    ASSERT_EQ_SLICE(m.param, m.param_len, "seats");
    ASSERT_EQ_INT(router_match("/holds/..", HTTP_GET, &m), ROUTE_HOLD);
    ASSERT_EQ_SLICE(m.param, m.param_len, "..");
}

TEST(router_serves_the_page_at_the_root_and_its_files_under_assets)
{
    route_match m;
    ASSERT_EQ_INT(router_match("/", HTTP_GET, &m), ROUTE_PAGE);
    ASSERT_TRUE(m.method_ok);
    ASSERT_EQ_INT(router_match("/", HTTP_POST, &m), ROUTE_PAGE);
    ASSERT_TRUE(!m.method_ok);
    ASSERT_EQ_INT(router_match("/assets/app.js", HTTP_HEAD, &m), ROUTE_ASSET);
    ASSERT_EQ_SLICE(m.param, m.param_len, "app.js");
}

static void expect_no_route(const char *path)
{
    for (size_t k = 0; k < sizeof(all_methods) / sizeof(all_methods[0]); k++) {
        route_match m;
        memset(&m, 0xab, sizeof(m));
        route_id id = router_match(path, all_methods[k], &m);
        if (id != ROUTE_NONE || m.route != ROUTE_NONE || m.param != NULL || m.allow != NULL) {
            test_fail(__FILE__, __LINE__, "\"%s\" (method %d) matched route %d", path,
                      all_methods[k], id);
            return;
        }
    }
}

TEST(router_matches_no_route_for_unknown_paths)
{
    static const char *const paths[] = {
        "",
        "//",
        "/assets",
        "/assets/",
        "/assets/a/b",
        "/event",
        "/eventsx",
        "/events/a/b",
        "/events/a/seats/x",
        "/events/a/seat",
        "/events/a/holdsx",
        "/holds",
        "/hold/x",
        "/holds/a/b",
        "/reserve/x",
        "/reservex",
        "/healthz/x",
        "/HEALTHZ",
        "/Events",
        "events",
        "healthz",
        "/v1/events",
        "/events?x=1",
        "/holds/a/checkoutx",
        "/bookings",
        "/bookings/a/b",
        "/users/a",
        "/users/a/bookings/x",
        "/admin/",
        "/admin/events",
        "/admin/events/x",
        "/metrics/x",
        "/admin/dead-letters/1",
        "/admin/dead-letters/1/redrive/x",
        "/admin/webhooks/x",
        NULL,
    };
    for (size_t i = 0; paths[i]; i++)
        TEST_CHECK(expect_no_route(paths[i]));
}

TEST(router_does_not_ignore_trailing_slashes)
{
    static const char *const paths[] = {"/events/",
                                        "/events/a/",
                                        "/events/a/seats/",
                                        "/events/a/holds/",
                                        "/reserve/",
                                        "/holds/x/",
                                        "/healthz/",
                                        "/holds/x/checkout/",
                                        "/bookings/b/",
                                        "/admin/webhooks/",
                                        "/admin/dead-letters/",
                                        NULL};
    for (size_t i = 0; paths[i]; i++)
        TEST_CHECK(expect_no_route(paths[i]));
}

TEST(router_rejects_empty_segments)
{
    static const char *const paths[] = {"//events",
                                        "/events//seats",
                                        "/events//",
                                        "/holds//",
                                        "//",
                                        "/events/a//seats",
                                        "//healthz",
                                        "/holds//checkout",
                                        "/users//bookings",
                                        "/bookings//cancel",
                                        "/admin//webhooks",
                                        NULL};
    for (size_t i = 0; paths[i]; i++)
        TEST_CHECK(expect_no_route(paths[i]));
}

TEST(router_names_each_route_by_its_path_template)
{
    ASSERT_EQ_STR(router_route_template(ROUTE_NONE), "");
    ASSERT_EQ_STR(router_route_template(ROUTE_EVENTS), "/events");
    ASSERT_EQ_STR(router_route_template(ROUTE_HOLD_CHECKOUT), "/holds/{hold_id}/checkout");
    ASSERT_EQ_STR(router_route_template(ROUTE_EVENT_STATS), "/admin/events/{event_id}/stats");
    for (int r = 1; r < ROUTE_COUNT; r++) /* every route has one, and it matches itself */
        ASSERT_EQ_INT(router_route_template((route_id)r)[0], '/');
    route_match m;
    ASSERT_EQ_INT(router_match("/admin/events/x/stats/more", HTTP_GET, &m), ROUTE_NONE);
    ASSERT_EQ_INT(router_match("/admin/events//stats", HTTP_GET, &m), ROUTE_NONE);
}
