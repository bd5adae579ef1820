/* webhook: the signature (a known answer and an independent HMAC), the request a subscriber
 * receives, and which answers count as failures. */
#include "../test.h"

#include "../stub_http.h"
#include "notify/webhook.h"
#include "util/clock.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>

/* "t=<t>,v1=<hex>" computed with the one-shot libsodium API (32-byte keys only). */
static void sign_independently(const unsigned char key[32], int64_t t_s, const char *body,
                               char *out, size_t out_len)
{
    char message[1024];
    int n = snprintf(message, sizeof(message), "%" PRId64 ".%s", t_s, body);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)message, (unsigned long long)n, key);
    char hex[2 * sizeof(mac) + 1];
    sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
    snprintf(out, out_len, "t=%" PRId64 ",v1=%s", t_s, hex);
}

TEST(webhook_sign_matches_a_known_answer)
{
    /* python3: hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest() */
    char signature[WEBHOOK_SIGNATURE_LEN_MAX];
    const char *body = "{\"a\":1}";
    webhook_sign("whsec_test", 1700000000, body, strlen(body), signature);
    ASSERT_EQ_STR(signature, "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e"
                             "4cf4ca4d3789");
}

TEST(webhook_sign_agrees_with_libsodiums_one_shot_hmac)
{
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)('a' + i % 26);
    char secret[33];
    memcpy(secret, key, 32);
    secret[32] = '\0';
    const char *body = "{\"type\":\"booking.confirmed\",\"data\":{\"seats\":[\"A-1\"]}}";
    char want[WEBHOOK_SIGNATURE_LEN_MAX], got[WEBHOOK_SIGNATURE_LEN_MAX];
    sign_independently(key, 1800000123, body, want, sizeof(want));
    webhook_sign(secret, 1800000123, body, strlen(body), got);
    ASSERT_EQ_STR(got, want);
    /* Only len bytes are signed. */
    webhook_sign(secret, 1800000123, body, 5, got);
    ASSERT_NE_STR(got, want);
}

TEST(webhook_post_sends_the_body_and_the_signed_headers)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    stub_http_answer(s, 204, "", 0);
    char url[128], err[256] = "";
    snprintf(url, sizeof(url), "%s/hooks/tix", stub_http_url(s));
    const char *body = "{\"id\":\"ev_1\",\"type\":\"booking.confirmed\"}";
    int64_t before_s = clock_now_ms() / 1000;
    int rc = webhook_post(url, "s3cret", "ev_1", body, strlen(body), 2000, err, sizeof(err));
    int64_t after_s = clock_now_ms() / 1000;
    size_t got_len = 0;
    char *method = stub_http_last_method(s), *path = stub_http_last_path(s);
    char *event_id = stub_http_last_header(s, "Tix-Event-Id");
    char *signature = stub_http_last_header(s, "Tix-Signature");
    char *type = stub_http_last_header(s, "Content-Type");
    char *got = stub_http_last_body(s, &got_len);
    stub_http_stop(s);

    int64_t t_s = -1;
    char want[WEBHOOK_SIGNATURE_LEN_MAX] = "";
    if (signature && sscanf(signature, "t=%" SCNd64 ",", &t_s) == 1)
        webhook_sign("s3cret", t_s, body, strlen(body), want);
    bool ok = rc == 0 && method && !strcmp(method, "POST") && path && !strcmp(path, "/hooks/tix") &&
              event_id && !strcmp(event_id, "ev_1") && type && !strcmp(type, "application/json") &&
              got && got_len == strlen(body) && !memcmp(got, body, got_len) && t_s >= before_s &&
              t_s <= after_s && signature && !strcmp(signature, want);
    if (!ok)
        test_fail(__FILE__, __LINE__, "rc %d (%s) %s %s id %s sig %s type %s body %s", rc, err,
                  method, path, event_id, signature, type, got);
    free(method), free(path), free(event_id), free(signature), free(type), free(got);
}

TEST(webhook_post_without_a_secret_sends_no_signature)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    char err[256] = "";
    int rc = webhook_post(stub_http_url(s), "", "ev_2", "{}", 2, 2000, err, sizeof(err));
    char *signature = stub_http_last_header(s, "Tix-Signature");
    char *event_id = stub_http_last_header(s, "Tix-Event-Id");
    stub_http_stop(s);
    bool ok = rc == 0 && !signature && event_id && !strcmp(event_id, "ev_2");
    free(signature), free(event_id);
    ASSERT_TRUE(ok);
}

/* Post once to a stub answering status after delay_ms; webhook_post's return and err. */
static int post_against(unsigned status, unsigned delay_ms, unsigned timeout_ms, char *err,
                        size_t err_len, int64_t *elapsed_ms)
{
    stub_http *s = stub_http_start();
    if (!s) return test_fail(__FILE__, __LINE__, "no stub server"), 99;
    stub_http_answer(s, status, "{\"ok\":false}", delay_ms);
    int64_t started = clock_mono_ms();
    int rc = webhook_post(stub_http_url(s), "k", "ev_3", "{}", 2, timeout_ms, err, err_len);
    if (elapsed_ms) *elapsed_ms = clock_mono_ms() - started;
    unsigned requests = stub_http_request_count(s);
    stub_http_stop(s);
    if (requests != 1) test_fail(__FILE__, __LINE__, "%u requests, want 1", requests);
    return rc;
}

TEST(webhook_post_fails_on_a_non_2xx_answer)
{
    char err[256] = "";
    ASSERT_EQ_INT(post_against(500, 0, 2000, err, sizeof(err), NULL), -1);
    ASSERT_CONTAINS(err, "500");
    ASSERT_EQ_INT(post_against(404, 0, 2000, err, sizeof(err), NULL), -1);
    ASSERT_CONTAINS(err, "404");
    ASSERT_EQ_INT(post_against(302, 0, 2000, err, sizeof(err), NULL), -1); /* not followed */
    ASSERT_CONTAINS(err, "302");
    ASSERT_EQ_INT(post_against(200, 0, 2000, err, sizeof(err), NULL), 0);
}

TEST(webhook_post_fails_on_a_timeout_within_the_bound)
{
    char err[256] = "";
    int64_t elapsed_ms = 0;
    ASSERT_EQ_INT(post_against(200, 400, 100, err, sizeof(err), &elapsed_ms), -1);
    ASSERT_LT(elapsed_ms, 350);
    ASSERT_TRUE(err[0] != '\0');
}

TEST(webhook_post_refuses_header_injection_and_other_schemes)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    char err[256] = "";
    int rc_id =
        webhook_post(stub_http_url(s), "k", "ev\r\nX-Evil: 1", "{}", 2, 1000, err, sizeof(err));
    int rc_scheme =
        webhook_post("file:///etc/passwd", "k", "ev_4", "{}", 2, 1000, err, sizeof(err));
    unsigned requests = stub_http_request_count(s);
    stub_http_stop(s);
    ASSERT_EQ_INT(rc_id, -1);
    ASSERT_EQ_INT(rc_scheme, -1);
    ASSERT_EQ_INT(requests, 0);
}

TEST(webhook_post_fails_when_nothing_listens)
{
    stub_http *s = stub_http_start();
    ASSERT_NOT_NULL(s);
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "%s", stub_http_url(s));
    stub_http_stop(s);
    ASSERT_EQ_INT(webhook_post(url, NULL, "ev_5", "{}", 2, 1000, err, sizeof(err)), -1);
    ASSERT_TRUE(err[0] != '\0');
}
