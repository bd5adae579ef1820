/* payment: the simulated provider's test tokens and idempotency, and the HTTP provider's
 * protocol and classification against an in-process payment service. */
#include "../test.h"

#include "../stub_http.h"
#include "pay/payment.h"
#include "util/clock.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>

static pay_provider *sim_create(unsigned latency_ms)
{
    pay_config config = {.kind = "simulated", .latency_ms = latency_ms};
    char err[256] = "";
    pay_provider *p = pay_create(&config, err, sizeof(err));
    if (!p) test_fail(__FILE__, __LINE__, "pay_create: %s", err);
    return p;
}

static pay_provider *http_create(const char *url, unsigned timeout_ms)
{
    pay_config config = {.kind = "http", .timeout_ms = timeout_ms};
    snprintf(config.url, sizeof(config.url), "%s", url);
    char err[256] = "";
    pay_provider *p = pay_create(&config, err, sizeof(err));
    if (!p) test_fail(__FILE__, __LINE__, "pay_create: %s", err);
    return p;
}

/* Whether id is prefix followed by 24 lowercase hex digits. */
static bool id_has_shape(const char *id, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(id, prefix, n) != 0 || strlen(id) != n + 24) return false;
    for (const char *c = id + n; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
    return true;
}

/* ---- configuration ---- */

TEST(pay_create_refuses_an_unknown_kind_and_a_bad_url)
{
    char err[256] = "";
    pay_config config = {.kind = "bitcoin"};
    ASSERT_NULL(pay_create(&config, err, sizeof(err)));
    ASSERT_CONTAINS(err, "bitcoin");
    pay_config http = {.kind = "http", .url = "ftp://pay.example", .timeout_ms = 100};
    ASSERT_NULL(pay_create(&http, err, sizeof(err)));
    ASSERT_CONTAINS(err, "http://");
    pay_config sim_default = {.kind = ""};
    pay_provider *p = pay_create(&sim_default, err, sizeof(err));
    ASSERT_NOT_NULL(p);
    pay_destroy(p);
}

/* ---- simulated ---- */

TEST(pay_sim_tok_visa_succeeds_with_a_charge_id)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    pay_charge(p, "bk_1-charge", "bk_1-charge", "tok_visa", 2500, &r);
    ASSERT_EQ_INT(r.outcome, PAY_OK);
    ASSERT_TRUE(id_has_shape(r.payment_id, "sim_ch_"));
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 1);
    pay_destroy(p);
}

TEST(pay_sim_repeated_key_returns_the_same_id_and_counts_once)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result first, again, other;
    pay_charge(p, "key-a", "key-a", "tok_visa", 1000, &first);
    pay_charge(p, "key-a", "key-a", "tok_visa", 1000, &again);
    ASSERT_EQ_INT(again.outcome, PAY_OK);
    ASSERT_EQ_STR(again.payment_id, first.payment_id);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 1);
    pay_charge(p, "key-b", "key-b", "tok_visa", 1000, &other);
    ASSERT_EQ_INT(other.outcome, PAY_OK);
    ASSERT_NE_STR(other.payment_id, first.payment_id);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 2);
    pay_destroy(p);

    /* Ids are a function of the key: a fresh provider (a restart) gives the same one. */
    p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_charge(p, "key-a", "key-a", "tok_visa", 1000, &again);
    ASSERT_EQ_STR(again.payment_id, first.payment_id);
    pay_destroy(p);
}

TEST(pay_sim_key_reused_with_other_parameters_is_declined)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    pay_charge(p, "key-a", "key-a", "tok_visa", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_OK);
    pay_charge(p, "key-a", "key-a", "tok_visa", 2000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    ASSERT_CONTAINS(r.message, "idempotency key");
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 1);
    pay_destroy(p);
}

TEST(pay_sim_declined_and_unknown_tokens_are_final)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    for (int i = 0; i < 2; i++) {
        pay_charge(p, "k-declined", "k-declined", "tok_chargeDeclined", 1000, &r);
        ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
        ASSERT_CONTAINS(r.message, "declined");
        ASSERT_EQ_STR(r.payment_id, "");
    }
    pay_charge(p, "k-unknown", "k-unknown", "tok_bogus", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    ASSERT_CONTAINS(r.message, "invalid token");
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 0);
    pay_destroy(p);
}

TEST(pay_sim_processing_error_is_transient_twice_then_succeeds)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    pay_charge(p, "k-flaky", "k-flaky", "tok_processingError", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_TRUE(r.no_effect);
    pay_charge(p, "k-flaky", "k-flaky", "tok_processingError", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 0);
    pay_charge(p, "k-flaky", "k-flaky", "tok_processingError", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_OK);
    char id[PAY_ID_LEN_MAX];
    memcpy(id, r.payment_id, sizeof(id));
    pay_charge(p, "k-flaky", "k-flaky", "tok_processingError", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_OK);
    ASSERT_EQ_STR(r.payment_id, id);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 1);
    /* The attempts are counted per key: another key starts over. */
    pay_charge(p, "k-flaky-2", "k-flaky-2", "tok_processingError", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    pay_destroy(p);
}

TEST(pay_sim_refund_is_idempotent_and_needs_a_simulated_charge)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result charge, refund, again;
    pay_charge(p, "bk_9-charge", "bk_9-charge", "tok_visa", 1000, &charge);
    ASSERT_EQ_INT(charge.outcome, PAY_OK);
    pay_refund(p, "bk_9-refund", "bk_9-refund", charge.payment_id, 1000, &refund);
    ASSERT_EQ_INT(refund.outcome, PAY_OK);
    ASSERT_TRUE(id_has_shape(refund.payment_id, "sim_re_"));
    pay_refund(p, "bk_9-refund", "bk_9-refund", charge.payment_id, 1000, &again);
    ASSERT_EQ_STR(again.payment_id, refund.payment_id);
    pay_refund(p, "bk_9-refund-2", "bk_9-refund-2", "ch_not_ours", 1000, &again);
    ASSERT_EQ_INT(again.outcome, PAY_DECLINED);
    /* A charge's key cannot be reused for a refund. */
    pay_refund(p, "bk_9-charge", "bk_9-charge", charge.payment_id, 1000, &again);
    ASSERT_EQ_INT(again.outcome, PAY_DECLINED);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 1);
    pay_destroy(p);
}

TEST(pay_malformed_calls_are_declined_without_reaching_the_provider)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    pay_charge(p, "", "", "tok_visa", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    pay_charge(p, "key\r\nX-Evil: 1", "key\r\nX-Evil: 1", "tok_visa", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    pay_charge(p, "key", "key", "tok_visa", 0, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    pay_charge(p, "key", "key", "tok_visa", -5, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    pay_charge(p, "key", "key", "", 100, &r);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 0);
    pay_destroy(p);
}

TEST(pay_sim_waits_its_latency)
{
    pay_provider *p = sim_create(30);
    ASSERT_NOT_NULL(p);
    pay_result r;
    int64_t started = clock_mono_ms();
    pay_charge(p, "k-slow", "k-slow", "tok_visa", 1000, &r);
    ASSERT_EQ_INT(r.outcome, PAY_OK);
    ASSERT_GE(clock_mono_ms() - started, 30);
    pay_destroy(p);
}

TEST(pay_sim_forgets_the_oldest_keys_beyond_its_bound)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    pay_result r;
    char key[32];
    enum { KEYS = 100001 }; /* one past the table's bound */
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        pay_charge(p, key, key, "tok_visa", 100, &r);
        ASSERT_EQ_INT(r.outcome, PAY_OK);
    }
    ASSERT_EQ_UINT(pay_sim_charge_count(p), KEYS);
    pay_charge(p, "k1", "k1", "tok_visa", 100, &r); /* still remembered */
    ASSERT_EQ_UINT(pay_sim_charge_count(p), KEYS);
    pay_charge(p, "k0", "k0", "tok_visa", 100, &r); /* forgotten: charged again */
    ASSERT_EQ_UINT(pay_sim_charge_count(p), KEYS + 1);
    pay_destroy(p);
}

typedef struct sim_worker {
    pay_provider *p;
    char ids[50][PAY_ID_LEN_MAX];
} sim_worker;

static void *sim_worker_run(void *arg)
{
    sim_worker *w = arg;
    char key[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 50; i++) {
            pay_result r;
            snprintf(key, sizeof(key), "shared-%d", i);
            pay_charge(w->p, key, key, i % 2 ? "tok_visa" : "tok_processingError", 700, &r);
            if (r.outcome == PAY_OK) memcpy(w->ids[i], r.payment_id, PAY_ID_LEN_MAX);
        }
    }
    return NULL;
}

TEST(pay_sim_concurrent_retries_of_the_same_keys_charge_each_once)
{
    pay_provider *p = sim_create(0);
    ASSERT_NOT_NULL(p);
    static sim_worker workers[4];
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        memset(&workers[t], 0, sizeof(workers[t]));
        workers[t].p = p;
        ASSERT_EQ_INT(pthread_create(&threads[t], NULL, sim_worker_run, &workers[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    ASSERT_EQ_UINT(pay_sim_charge_count(p), 50);
    /* 12 attempts per key: every key settled, and all threads saw one id per key. */
    for (int i = 0; i < 50; i++)
        for (int t = 1; t < 4; t++)
            if (workers[t].ids[i][0] && workers[0].ids[i][0])
                ASSERT_EQ_STR(workers[t].ids[i], workers[0].ids[i]);
    pay_destroy(p);
}

/* ---- http ---- */

TEST(pay_http_charge_posts_the_protocol_and_takes_the_id)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    stub_http_answer(s, 200, "{\"id\":\"ch_123\",\"status\":\"succeeded\"}", 0);
    char base[128];
    snprintf(base, sizeof(base), "%s/", stub_http_url(s)); /* a trailing slash is fine */
    pay_provider *p = http_create(base, 2000);
    pay_result r;
    if (p) pay_charge(p, "bk_1-charge", "bk_1-charge", "tok_visa", 2500, &r);
    char *method = stub_http_last_method(s), *path = stub_http_last_path(s);
    char *key = stub_http_last_header(s, "Idempotency-Key");
    char *type = stub_http_last_header(s, "Content-Type");
    char *body = stub_http_last_body(s, NULL);
    cJSON *json = body ? cJSON_Parse(body) : NULL;
    stub_http_stop(s);
    pay_destroy(p);
    bool ok = p && r.outcome == PAY_OK && strcmp(r.payment_id, "ch_123") == 0;
    bool sent = method && !strcmp(method, "POST") && path && !strcmp(path, "/charges") && key &&
                !strcmp(key, "bk_1-charge") && type && !strcmp(type, "application/json");
    const cJSON *amount = cJSON_GetObjectItemCaseSensitive(json, "amount_cents");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(json, "token");
    const cJSON *booking = cJSON_GetObjectItemCaseSensitive(json, "booking_id");
    bool fields = cJSON_IsNumber(amount) && amount->valuedouble == 2500 && cJSON_IsString(token) &&
                  !strcmp(token->valuestring, "tok_visa") && cJSON_IsString(booking);
    if (!ok)
        test_fail(__FILE__, __LINE__, "outcome %d id '%s' (%s)", r.outcome, r.payment_id,
                  r.message);
    if (!sent) test_fail(__FILE__, __LINE__, "sent %s %s key %s type %s", method, path, key, type);
    if (!fields) test_fail(__FILE__, __LINE__, "body %s", body ? body : "(none)");
    cJSON_Delete(json);
    free(method), free(path), free(key), free(type), free(body);
}

TEST(pay_http_refund_posts_to_refunds_with_the_payment_id)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    stub_http_answer(s, 201, "{\"id\":\"re_9\"}", 0);
    pay_provider *p = http_create(stub_http_url(s), 2000);
    pay_result r = {0};
    if (p) pay_refund(p, "bk_1-refund", "bk_1-refund", "ch_123", 2500, &r);
    char *path = stub_http_last_path(s), *body = stub_http_last_body(s, NULL);
    stub_http_stop(s);
    pay_destroy(p);
    bool ok = r.outcome == PAY_OK && !strcmp(r.payment_id, "re_9") && path &&
              !strcmp(path, "/refunds") && body && strstr(body, "\"payment_id\":\"ch_123\"");
    if (!ok)
        test_fail(__FILE__, __LINE__, "refund %d %s path %s body %s", r.outcome, r.payment_id, path,
                  body);
    free(path), free(body);
}

/* Charge once against a service answering status/answer after delay_ms; the result. */
static pay_result http_charge_against(unsigned status, const char *answer, unsigned delay_ms,
                                      unsigned timeout_ms, int64_t *elapsed_ms)
{
    pay_result r = {.outcome = PAY_OK, .message = "not called"};
    stub_http *s = stub_http_start();
    if (!s) return test_fail(__FILE__, __LINE__, "no stub server"), r;
    stub_http_answer(s, status, answer, delay_ms);
    pay_provider *p = http_create(stub_http_url(s), timeout_ms);
    int64_t started = clock_mono_ms();
    if (p) pay_charge(p, "k-1", "k-1", "tok_visa", 100, &r);
    if (elapsed_ms) *elapsed_ms = clock_mono_ms() - started;
    pay_destroy(p);
    stub_http_stop(s);
    return r;
}

TEST(pay_http_402_is_declined_with_the_services_message)
{
    pay_result r = http_charge_against(402, "{\"error\":{\"message\":\"Your card was declined.\"}}",
                                       0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    ASSERT_CONTAINS(r.message, "Your card was declined.");
    ASSERT_CONTAINS(r.message, "402");
    r = http_charge_against(400, "{\"error\":\"bad token\"}", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
    ASSERT_CONTAINS(r.message, "bad token");
    r = http_charge_against(404, "not json", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_DECLINED);
}

TEST(pay_http_5xx_and_rate_limits_are_transient)
{
    pay_result r = http_charge_against(500, "{\"error\":\"boom\"}", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_CONTAINS(r.message, "500");
    ASSERT_TRUE(r.no_effect); /* the service says it did nothing under the key */
    r = http_charge_against(503, "", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_TRUE(r.no_effect);
    r = http_charge_against(429, "{\"error\":\"slow down\"}", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_TRUE(r.no_effect);
    r = http_charge_against(302, "", 0, 2000, NULL); /* redirects are not followed */
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_FALSE(r.no_effect); /* not an answer of the protocol: it may have charged */
}

TEST(pay_http_2xx_without_an_id_is_transient)
{
    pay_result r = http_charge_against(200, "{\"status\":\"ok\"}", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    r = http_charge_against(200, "{\"id\":42}", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    r = http_charge_against(200, "garbage", 0, 2000, NULL);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_FALSE(r.no_effect); /* a success tix cannot read: the money may be taken */
}

TEST(pay_http_an_answer_past_the_size_cap_is_transient)
{
    size_t len = 100 * 1024;
    char *big = malloc(len + 1);
    ASSERT_NOT_NULL(big);
    memset(big, ' ', len);
    memcpy(big, "{\"id\":\"ch_1\",\"pad\":\"", 20);
    memcpy(big + len - 2, "\"}", 2);
    big[len] = '\0';
    pay_result r = http_charge_against(200, big, 0, 2000, NULL);
    free(big);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_CONTAINS(r.message, "larger");
}

TEST(pay_http_a_slow_service_times_out_as_transient)
{
    int64_t elapsed_ms = 0;
    pay_result r = http_charge_against(200, "{\"id\":\"ch_late\"}", 400, 100, &elapsed_ms);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_FALSE(r.no_effect); /* no answer: it may have charged */
    ASSERT_LT(elapsed_ms, 350);
}

TEST(pay_http_a_refused_connection_is_transient)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    char url[64];
    snprintf(url, sizeof(url), "%s", stub_http_url(s));
    stub_http_stop(s); /* nothing listens on the port now */
    pay_provider *p = http_create(url, 1000);
    ASSERT_NOT_NULL(p);
    pay_result r;
    pay_charge(p, "k-1", "k-1", "tok_visa", 100, &r);
    pay_destroy(p);
    ASSERT_EQ_INT(r.outcome, PAY_TRANSIENT);
    ASSERT_TRUE(r.no_effect); /* nothing was sent */
}
