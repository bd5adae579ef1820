/* observe: each answer counted under its route's template, its method and its status (the
 * statuses tix answers with by name, any other as "other"), and timed per route. */
#include "../test.h"

#include "api/api.h"
#include "metrics/metrics.h"

#include <stdlib.h>

/* The value of a sample in a fresh rendering, or -1. */
static double test_observed(const char *series)
{
    buf out;
    buf_init(&out, METRICS_RENDER_LEN_MAX);
    double v = -1;
    if (metrics_render(&out) == 0) {
        size_t n = strlen(series);
        for (const char *p = out.data; p && (p = strstr(p, series)); p += n)
            if ((p == out.data || p[-1] == '\n') && p[n] == ' ') v = strtod(p + n + 1, NULL);
    }
    buf_free(&out);
    return v;
}

TEST(observe_labels_each_status_tix_answers_with_and_others_as_other)
{
    ASSERT_EQ_INT(api_observe_register(), 0);
    static const unsigned statuses[] = {200, 201, 202, 204, 304, 400, 401, 403, 404, 405,
                                        409, 413, 414, 415, 422, 429, 431, 500, 503};
    api_request req = {.method = HTTP_DELETE, .path = "/holds/x"};
    req.match.route = ROUTE_HOLD;
    api_response res = {.status = 0};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        char series[160];
        snprintf(series, sizeof(series),
                 "tix_http_requests_total{route=\"/holds/{hold_id}\",method=\"DELETE\","
                 "status=\"%u\"}",
                 statuses[i]);
        double before = test_observed(series);
        res.status = statuses[i];
        api_observe(&req, &res, false, 1500);
        ASSERT_TRUE(test_observed(series) == (before < 0 ? 1 : before + 1));
    }
    const char *other = "tix_http_requests_total{route=\"/holds/{hold_id}\",method=\"DELETE\","
                        "status=\"other\"}";
    double before = test_observed(other);
    res.status = 418;
    api_observe(&req, &res, false, 20);
    ASSERT_TRUE(test_observed(other) == (before < 0 ? 1 : before + 1));
    req.match.route = ROUTE_NONE; /* a path no route matches */
    req.method = HTTP_OTHER;
    res.status = 404;
    api_observe(&req, &res, false, 20);
    ASSERT_TRUE(test_observed("tix_http_requests_total{route=\"unmatched\",method=\"OTHER\","
                              "status=\"404\"}") >= 1);
    ASSERT_TRUE(
        test_observed("tix_http_request_duration_seconds_count{route=\"/holds/{hold_id}\"}") >= 20);
}
