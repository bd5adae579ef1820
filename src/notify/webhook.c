/* webhook: signed outbound deliveries over HTTP(S); see webhook.h.
 *
 * The signature follows Stripe's scheme so receivers can reuse their verification code:
 * v1 is hex HMAC-SHA256 keyed with the subscription's secret (any length) over "<t>.<body>",
 * and t, the sending time, lets a receiver refuse replays of old deliveries.
 *
 * A delivery is bounded: whole-request timeout, no redirects followed (a 3xx is a failure,
 * so a subscriber cannot bounce tix to another host), only http and https, no signals, and
 * the answer's body is discarded, at most WEBHOOK_RESPONSE_LEN_MAX bytes of it read. Each call
 * uses its own easy handle, so concurrent calls share nothing. */
#include "notify/webhook.h"

#include "util/clock.h"
#include "util/http_post.h"

#include <assert.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    WEBHOOK_TIMEOUT_MS_DEFAULT = 10000, /* when the caller passes 0 */
    WEBHOOK_RESPONSE_LEN_MAX = 64 * 1024,
    WEBHOOK_EVENT_ID_LEN_MAX = 200,
    WEBHOOK_URL_LEN_MAX = 2048,
};

static pthread_once_t webhook__curl_once = PTHREAD_ONCE_INIT;
static CURLcode webhook__curl_rc = CURLE_FAILED_INIT;

static void webhook__curl_init(void)
{
    webhook__curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (webhook__curl_rc == CURLE_OK && sodium_init() < 0) webhook__curl_rc = CURLE_FAILED_INIT;
}

void webhook_sign(const char *secret, int64_t t_s, const char *body, size_t len, char *out)
{
    assert(out && (body || len == 0));
    char t[24];
    int t_len = snprintf(t, sizeof(t), "%" PRId64 ".", t_s);
    assert(t_len > 0 && (size_t)t_len < sizeof(t));
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char mac_hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    crypto_auth_hmacsha256_state st;
    const char *key = secret ? secret : "";
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, (unsigned long long)t_len);
    if (len) crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(mac_hex, sizeof(mac_hex), mac, sizeof(mac));
    int n = snprintf(out, WEBHOOK_SIGNATURE_LEN_MAX, "t=%" PRId64 ",v1=%s", t_s, mac_hex);
    assert(n > 0 && n < WEBHOOK_SIGNATURE_LEN_MAX);
    sodium_memzero(&st, sizeof(st));
}

typedef struct webhook_answer {
    size_t len;    /* bytes of body read and dropped */
    bool too_long; /* the body passed WEBHOOK_RESPONSE_LEN_MAX and the transfer was cut */
} webhook_answer;

/* Counts and drops the answer's body; returning short past the cap aborts the transfer. */
static size_t webhook__on_data(char *data, size_t size, size_t count, void *userdata)
{
    (void)data;
    webhook_answer *answer = userdata;
    size_t len = size * count;
    if (len > WEBHOOK_RESPONSE_LEN_MAX - answer->len) {
        answer->too_long = true;
        return 0;
    }
    answer->len += len;
    return len;
}

/* Whether s is 1..len_max bytes of printable ASCII (header-safe, no spaces). */
static bool webhook__is_token(const char *s, size_t len_max)
{
    if (!s) return false;
    size_t len = strnlen(s, len_max + 1);
    if (len == 0 || len > len_max) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

/* The request headers, or NULL when out of memory. */
static struct curl_slist *webhook__headers(const char *secret, const char *event_id,
                                           const char *body, size_t len)
{
    char event_line[WEBHOOK_EVENT_ID_LEN_MAX + 32];
    char signature_line[WEBHOOK_SIGNATURE_LEN_MAX + 32];
    char signature[WEBHOOK_SIGNATURE_LEN_MAX];
    snprintf(event_line, sizeof(event_line), "Tix-Event-Id: %s", event_id);
    const char *lines[4] = {"Content-Type: application/json", "Expect:", event_line, NULL};
    if (secret && secret[0]) {
        webhook_sign(secret, clock_now_ms() / 1000, body, len, signature);
        snprintf(signature_line, sizeof(signature_line), "Tix-Signature: %s", signature);
        lines[3] = signature_line;
    }
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < 4 && lines[i]; i++) {
        struct curl_slist *grown = curl_slist_append(headers, lines[i]);
        if (!grown) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = grown;
    }
    return headers;
}

int webhook_post(const char *url, const char *secret, const char *event_id, const char *body,
                 size_t len, unsigned timeout_ms, char *err, size_t err_len)
{
    pthread_once(&webhook__curl_once, webhook__curl_init);
    if (webhook__curl_rc != CURLE_OK)
        return snprintf(err, err_len, "webhook: libcurl failed to start"), -1;
    if (!webhook__is_token(url, WEBHOOK_URL_LEN_MAX) ||
        (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0))
        return snprintf(err, err_len, "webhook: url must be http:// or https://"), -1;
    if (!webhook__is_token(event_id, WEBHOOK_EVENT_ID_LEN_MAX))
        return snprintf(err, err_len, "webhook: invalid event id"), -1;
    if (!body && len) return snprintf(err, err_len, "webhook: no body"), -1;
    struct curl_slist *headers = webhook__headers(secret, event_id, body ? body : "", len);
    CURL *curl = headers ? curl_easy_init() : NULL;
    if (!curl) {
        curl_slist_free_all(headers);
        return snprintf(err, err_len, "webhook: cannot set up the request (out of memory?)"), -1;
    }
    long timeout = (long)(timeout_ms ? timeout_ms : WEBHOOK_TIMEOUT_MS_DEFAULT);
    char curl_error[CURL_ERROR_SIZE] = "";
    webhook_answer answer = {0, false};
    CURLcode rc = CURLE_OK;
    if (http_post_prepare(curl, url, headers, body, len, timeout, webhook__on_data, &answer,
                          curl_error, "tix-webhook") != 0)
        rc = CURLE_FAILED_INIT;
    if (rc == CURLE_OK) rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    /* An answer too long to read still counts when its status said 2xx: the receiver got it. */
    bool cut_short = rc == CURLE_WRITE_ERROR && answer.too_long;
    if (rc != CURLE_OK && !cut_short)
        return snprintf(err, err_len, "webhook: %s",
                        curl_error[0] ? curl_error : curl_easy_strerror(rc)),
               -1;
    if (status < 200 || status > 299)
        return snprintf(err, err_len, "webhook: HTTP %ld", status), -1;
    return 0;
}
