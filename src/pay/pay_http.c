/* pay_http: the "http" payment provider, a payment service spoken to over HTTP (libcurl).
 *
 *   POST {url}/charges  {"amount_cents":N,"token":"...","booking_id":"..."}
 *   POST {url}/refunds  {"amount_cents":N,"payment_id":"...","booking_id":"..."}
 *   Idempotency-Key: <key>
 *
 * How an answer is classified (the caller retries PAY_TRANSIENT with the same key, so a
 * classification may err towards transient but must never call a charge final by mistake):
 *   2xx with a string "id"               PAY_OK, the id is the payment id
 *   2xx without a usable "id"            PAY_TRANSIENT (the service broke its protocol)
 *   5xx, 408, 409, 425, 429              PAY_TRANSIENT (server trouble, timeout, conflict with
 *                                        a concurrent request on the key, rate limiting)
 *   other 4xx                            PAY_DECLINED, with the body's error message if any
 *   timeouts, connection errors, 1xx/3xx PAY_TRANSIENT (redirects are never followed)
 * Only the transient statuses, and a connection never made, say that the call did nothing
 * (pay_result.no_effect); after no answer (a timeout, a connection lost), or one that breaks
 * the protocol, the provider may have charged.
 *
 * Each call uses its own easy handle (no shared state but the immutable configuration), is
 * bounded by timeout_ms, reads at most PAY_HTTP_RESPONSE_LEN_MAX bytes of answer and never
 * raises signals (CURLOPT_NOSIGNAL; names resolve in curl's resolver thread). */
#include "pay/pay_provider.h"

#include "pay/pay_http.h"
#include "util/buf.h"
#include "util/http_post.h"
#include "util/log.h"
#include "util/text.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    PAY_HTTP_TIMEOUT_MS_DEFAULT = 10000, /* when the configuration says 0 */
    PAY_HTTP_RESPONSE_LEN_MAX = 64 * 1024,
    PAY_HTTP_REQUEST_LEN_MAX = 4096, /* key, token and id are short; a bigger body is a bug */
    PAY_HTTP_ENDPOINT_LEN_MAX = PAY_URL_LEN_MAX + 16,
};

struct pay_http {
    char url_charges[PAY_HTTP_ENDPOINT_LEN_MAX];
    char url_refunds[PAY_HTTP_ENDPOINT_LEN_MAX];
    unsigned timeout_ms;
};

static pthread_once_t pay_http__curl_once = PTHREAD_ONCE_INIT;
static CURLcode pay_http__curl_rc = CURLE_FAILED_INIT;

static void pay_http__curl_init(void)
{
    pay_http__curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

pay_http *pay_http_create(const char *url, unsigned timeout_ms, char *err, size_t err_len)
{
    pthread_once(&pay_http__curl_once, pay_http__curl_init);
    if (pay_http__curl_rc != CURLE_OK)
        return snprintf(err, err_len, "payment: libcurl failed to start"), NULL;
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)
        return snprintf(err, err_len, "payment: url must start with http:// or https://"), NULL;
    size_t len = strlen(url);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7f)
            return snprintf(err, err_len, "payment: url holds a space or control character"), NULL;
    }
    while (len > 0 && url[len - 1] == '/')
        len--; /* "http://pay/" + "/charges" */
    pay_http *h = calloc(1, sizeof(*h));
    if (!h) return snprintf(err, err_len, "payment: out of memory"), NULL;
    int n1 = snprintf(h->url_charges, sizeof(h->url_charges), "%.*s/charges", (int)len, url);
    int n2 = snprintf(h->url_refunds, sizeof(h->url_refunds), "%.*s/refunds", (int)len, url);
    assert(n1 > 0 && (size_t)n1 < sizeof(h->url_charges)); /* url < PAY_URL_LEN_MAX */
    assert(n2 > 0 && (size_t)n2 < sizeof(h->url_refunds));
    h->timeout_ms = timeout_ms ? timeout_ms : PAY_HTTP_TIMEOUT_MS_DEFAULT;
    return h;
}

void pay_http_destroy(pay_http *h)
{
    free(h);
}

/* libcurl write callback: keep the answer, up to the cap; returning short aborts. */
static size_t pay_http__on_data(char *data, size_t size, size_t count, void *userdata)
{
    buf *response = userdata;
    size_t len = size * count;
    return buf_append(response, data, len) == 0 ? len : 0;
}

/* Copy s into out (out_len bytes), replacing control characters and bytes that are not
 * UTF-8 (a character cut by the cap included) with '?', so it is safe to log and to show in
 * JSON (found by fuzz/fuzz_payment_response: a decline's message went out as is). */
static void pay_http__copy_printable(char *out, size_t out_len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < out_len; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    out[i] = '\0';
    text_make_utf8(out);
}

/* The error message of a JSON answer: "error" as a string, "error"."message", or "message". */
static const char *pay_http__error_message(const cJSON *root)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (cJSON_IsString(error)) return error->valuestring;
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
    if (cJSON_IsString(message)) return message->valuestring;
    message = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (cJSON_IsString(message)) return message->valuestring;
    return NULL;
}

/* Whether id can be handed on as a payment id: 1..PAY_ID_LEN_MAX-1 printable ASCII bytes. */
static bool pay_http__id_is_valid(const char *id)
{
    size_t len = strnlen(id, PAY_ID_LEN_MAX);
    if (len == 0 || len == PAY_ID_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e) return false;
    return true;
}

static bool pay_http__status_is_transient(long status)
{
    return status >= 500 || status == 408 || status == 409 || status == 425 || status == 429;
}

void pay_http_classify(long status, const char *body, size_t len, pay_result *out)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    if (status >= 200 && status <= 299) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
        if (cJSON_IsString(id) && pay_http__id_is_valid(id->valuestring)) {
            pay_result_set(out, PAY_OK, "%s", "");
            memcpy(out->payment_id, id->valuestring, strlen(id->valuestring) + 1);
        } else {
            pay_result_set(out, PAY_TRANSIENT, "payment service: HTTP %ld without a payment id",
                           status);
        }
    } else if (status >= 400 && status <= 499 && !pay_http__status_is_transient(status)) {
        char reason[PAY_MESSAGE_LEN_MAX - 32]; /* room for "HTTP <status>: ": never cut */
        const char *message = pay_http__error_message(root);
        pay_http__copy_printable(reason, sizeof(reason), message ? message : "declined");
        pay_result_set(out, PAY_DECLINED, "HTTP %ld: %s", status, reason);
    } else {
        pay_result_set(out, PAY_TRANSIENT, "payment service: HTTP %ld", status);
        /* an answer that settles nothing under the key: the call was not carried out */
        out->no_effect = pay_http__status_is_transient(status);
    }
    cJSON_Delete(root);
}

/* POST body to url with the idempotency key, and classify what comes back. */
static void pay_http__post(const pay_http *h, const char *url, const char *key, const buf *body,
                           pay_result *out)
{
    char key_header[PAY_KEY_LEN_MAX + 32];
    char curl_error[CURL_ERROR_SIZE] = "";
    snprintf(key_header, sizeof(key_header), "Idempotency-Key: %s", key);
    buf response;
    buf_init(&response, PAY_HTTP_RESPONSE_LEN_MAX);
    struct curl_slist *headers = NULL, *grown;
    const char *lines[] = {"Content-Type: application/json", "Accept: application/json",
                           "Expect:", key_header};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!(grown = curl_slist_append(headers, lines[i]))) goto fail_setup;
        headers = grown;
    }
    CURL *curl = curl_easy_init();
    if (!curl) goto fail_setup;
    long timeout_ms = (long)h->timeout_ms;
    if (http_post_prepare(curl, url, headers, body->data, body->len, timeout_ms, pay_http__on_data,
                          &response, curl_error, "tix") != 0) {
        curl_easy_cleanup(curl);
        goto fail_setup;
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) rc = curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_WRITE_ERROR && response.failed)
        pay_result_set(out, PAY_TRANSIENT, "payment service: answer larger than %d bytes",
                       PAY_HTTP_RESPONSE_LEN_MAX);
    else if (rc != CURLE_OK) {
        pay_result_set(out, PAY_TRANSIENT, "payment service: %s",
                       curl_error[0] ? curl_error : curl_easy_strerror(rc));
        /* no connection, so nothing sent: the provider did nothing */
        out->no_effect = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
    } else
        pay_http_classify(status, response.data, response.len, out);
    if (out->outcome != PAY_OK) log_debug("payment %s key %s: %s", url, key, out->message);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    buf_free(&response);
    return;
fail_setup:
    curl_slist_free_all(headers);
    buf_free(&response);
    pay_result_set(out, PAY_TRANSIENT, "payment: cannot set up the request (out of memory?)");
}

/* {"amount_cents":N,"<field>":"<value>","booking_id":"<booking>"}, or -1 past the cap. */
static int pay_http__body(buf *body, int64_t amount_cents, const char *field, const char *value,
                          const char *booking_id)
{
    buf_append_str(body, "{\"amount_cents\":");
    buf_append_i64(body, amount_cents);
    buf_appendf(body, ",\"%s\":", field);
    buf_append_json_str(body, value);
    buf_append_str(body, ",\"booking_id\":");
    buf_append_json_str(body, booking_id);
    buf_append_char(body, '}');
    return body->failed ? -1 : 0;
}

static void pay_http__call(pay_http *h, const char *url, const char *key, const char *booking_id,
                           const char *field, const char *value, int64_t amount_cents,
                           pay_result *out)
{
    assert(h && key && value && out);
    buf body;
    buf_init(&body, PAY_HTTP_REQUEST_LEN_MAX);
    if (pay_http__body(&body, amount_cents, field, value, booking_id ? booking_id : key) != 0)
        pay_result_set(out, PAY_DECLINED, "%s too long", field);
    else
        pay_http__post(h, url, key, &body, out);
    buf_free(&body);
}

void pay_http_charge(pay_http *h, const char *key, const char *booking_id, const char *token,
                     int64_t amount_cents, pay_result *out)
{
    pay_http__call(h, h->url_charges, key, booking_id, "token", token, amount_cents, out);
}

void pay_http_refund(pay_http *h, const char *key, const char *booking_id, const char *payment_id,
                     int64_t amount_cents, pay_result *out)
{
    pay_http__call(h, h->url_refunds, key, booking_id, "payment_id", payment_id, amount_cents, out);
}
