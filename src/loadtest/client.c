/* client: see client.h. Every curl call is checked; a transfer that cannot be set up is
 * reported to its caller at once rather than left half-started in the multi handle. */
#include "loadtest/client.h"

#include "cli/cli.h"
#include "util/log.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CLIENT_BIG_BUFFER_BYTES = 1 << 20 };

int loadtest_client_init(loadtest_client *c, const char *base_url, unsigned connections)
{
    assert(connections >= 1 && connections <= LOADTEST_CONCURRENCY_MAX + 64);
    memset(c, 0, sizeof(*c));
    size_t len = strlen(base_url);
    while (len > 0 && base_url[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof(c->base_url))
        return log_error("loadtest: --url is empty or longer than %d characters",
                         LOADTEST_URL_LEN_MAX),
               -1;
    memcpy(c->base_url, base_url, len);
    c->base_url[len] = '\0';
    if (!(c->multi = curl_multi_init())) return log_error("loadtest: curl_multi_init failed"), -1;
    CURLMcode rc = curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)connections);
    if (rc == CURLM_OK) rc = curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)connections);
    if (rc != CURLM_OK) {
        log_error("loadtest: curl_multi_setopt: %s", curl_multi_strerror(rc));
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        return -1;
    }
    return 0;
}

void loadtest_client_free(loadtest_client *c)
{
    assert(c->in_flight == 0);
    if (c->multi) curl_multi_cleanup(c->multi);
    c->multi = NULL;
}

void loadtest_transfer_init(loadtest_transfer *t, loadtest_client *c, void *owner)
{
    memset(t, 0, sizeof(*t));
    t->client = c;
    t->owner = owner;
    buf_init(&t->request, LOADTEST_REQUEST_BYTES_MAX);
    buf_init(&t->response, LOADTEST_RESPONSE_BYTES_MAX);
}

void loadtest_transfer_cancel(loadtest_transfer *t)
{
    if (!t->in_flight) return;
    CURLMcode rc = curl_multi_remove_handle(t->client->multi, t->easy);
    if (rc != CURLM_OK)
        log_error("loadtest: curl_multi_remove_handle: %s", curl_multi_strerror(rc));
    t->in_flight = false;
    t->client->in_flight--;
}

void loadtest_transfer_release(loadtest_transfer *t)
{
    loadtest_transfer_cancel(t);
    if (t->easy) curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    buf_free(&t->request);
    buf_free(&t->response);
    t->easy = NULL;
    t->headers = NULL;
}

void loadtest_transfer_trim(loadtest_transfer *t)
{
    if (t->response.cap > CLIENT_BIG_BUFFER_BYTES) buf_free(&t->response);
}

static size_t loadtest__on_body(char *data, size_t size, size_t count, void *user)
{
    loadtest_transfer *t = user;
    size_t len = size * count;
    if (buf_append(&t->response, data, len) != 0) {
        t->response_too_large = true;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

/* Keep the one header the load tester acts on: Retry-After (seconds). */
static size_t loadtest__on_header(char *data, size_t size, size_t count, void *user)
{
    loadtest_transfer *t = user;
    size_t len = size * count;
    static const char name[] = "retry-after:";
    if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
        unsigned long s = 0;
        for (size_t i = sizeof(name) - 1; i < len && s < 86400; i++) {
            if (isdigit((unsigned char)data[i]))
                s = s * 10 + (unsigned long)(data[i] - '0');
            else if (data[i] != ' ' && data[i] != '\t')
                break;
        }
        t->retry_after_s = (unsigned)s;
    }
    return len;
}

/* Build the header list of the next request. Returns 0 or -1 (out of memory). */
static int loadtest__headers(loadtest_transfer *t, bool post, const char *key)
{
    curl_slist_free_all(t->headers);
    t->headers = NULL;
    if (!post) return 0;
    char line[LOADTEST_KEY_LEN_MAX + 32];
    const char *lines[3] = {"Content-Type: application/json", "Expect:", NULL};
    if (key) {
        snprintf(line, sizeof(line), "Idempotency-Key: %s", key);
        lines[2] = line;
    }
    for (int i = 0; i < 3 && lines[i]; i++) {
        struct curl_slist *next = curl_slist_append(t->headers, lines[i]);
        if (!next) return -1;
        t->headers = next;
    }
    return 0;
}

#define LOADTEST__SET(opt, value)                                                                  \
    (rc == CURLE_OK ? (rc = curl_easy_setopt(t->easy, opt, value)) : rc)

static int loadtest__start(loadtest_transfer *t, const char *path, bool post, const char *key,
                           size_t response_len_max, loadtest_transfer_done done)
{
    assert(!t->in_flight && done);
    t->curl_error[0] = '\0';
    if (!t->easy && !(t->easy = curl_easy_init()))
        return snprintf(t->curl_error, sizeof(t->curl_error), "curl_easy_init failed"), -1;
    curl_easy_reset(t->easy);
    int n = snprintf(t->url, sizeof(t->url), "%s%s", t->client->base_url, path);
    if (n < 0 || (size_t)n >= sizeof(t->url))
        return snprintf(t->curl_error, sizeof(t->curl_error), "URL too long"), -1;
    if (loadtest__headers(t, post, key) != 0)
        return snprintf(t->curl_error, sizeof(t->curl_error), "out of memory"), -1;
    buf_reset(&t->response);
    t->response.len_max = response_len_max;
    t->status = 0;
    t->result = CURLE_OK;
    t->response_too_large = false;
    t->retry_after_s = 0;
    t->done = done;
    CURLcode rc = CURLE_OK;
    LOADTEST__SET(CURLOPT_URL, t->url);
    LOADTEST__SET(CURLOPT_PRIVATE, (void *)t);
    LOADTEST__SET(CURLOPT_ERRORBUFFER, t->curl_error);
    LOADTEST__SET(CURLOPT_NOSIGNAL, 1L);
    LOADTEST__SET(CURLOPT_CONNECTTIMEOUT_MS, (long)LOADTEST_CONNECT_TIMEOUT_MS);
    LOADTEST__SET(CURLOPT_TIMEOUT_MS, (long)LOADTEST_REQUEST_TIMEOUT_MS);
    LOADTEST__SET(CURLOPT_WRITEFUNCTION, loadtest__on_body);
    LOADTEST__SET(CURLOPT_WRITEDATA, (void *)t);
    LOADTEST__SET(CURLOPT_HEADERFUNCTION, loadtest__on_header);
    LOADTEST__SET(CURLOPT_HEADERDATA, (void *)t);
    LOADTEST__SET(CURLOPT_USERAGENT, "tix-loadtest/" TIX_VERSION);
    LOADTEST__SET(CURLOPT_HTTPHEADER, t->headers);
    if (post) {
        LOADTEST__SET(CURLOPT_POST, 1L);
        LOADTEST__SET(CURLOPT_POSTFIELDS, t->request.data ? t->request.data : "");
        LOADTEST__SET(CURLOPT_POSTFIELDSIZE, (long)t->request.len);
    }
    if (rc != CURLE_OK) {
        snprintf(t->curl_error, sizeof(t->curl_error), "curl_easy_setopt: %s",
                 curl_easy_strerror(rc));
        return -1;
    }
    CURLMcode mrc = curl_multi_add_handle(t->client->multi, t->easy);
    if (mrc != CURLM_OK) {
        snprintf(t->curl_error, sizeof(t->curl_error), "curl_multi_add_handle: %s",
                 curl_multi_strerror(mrc));
        return -1;
    }
    t->in_flight = true;
    t->client->in_flight++;
    t->started_us = loadtest_now_us();
    return 0;
}

#undef LOADTEST__SET

int loadtest_transfer_get(loadtest_transfer *t, const char *path, size_t response_len_max,
                          loadtest_transfer_done done)
{
    return loadtest__start(t, path, false, NULL, response_len_max, done);
}

int loadtest_transfer_post(loadtest_transfer *t, const char *path, const char *key,
                           size_t response_len_max, loadtest_transfer_done done)
{
    if (t->request.failed)
        return snprintf(t->curl_error, sizeof(t->curl_error), "request body too large"), -1;
    return loadtest__start(t, path, true, key, response_len_max, done);
}

/* A finished transfer: record its outcome, take it out of the multi handle, call back. */
static void loadtest__finish(loadtest_client *c, CURL *easy, CURLcode result)
{
    char *priv = NULL;
    CURLcode rc = curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    assert(rc == CURLE_OK && priv);
    (void)rc;
    loadtest_transfer *t = (loadtest_transfer *)(void *)priv;
    assert(t->easy == easy && t->in_flight);
    t->latency_us = loadtest_now_us() - t->started_us;
    t->result = result;
    t->status = 0;
    if (result == CURLE_OK) {
        long status = 0;
        if (curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
            t->status = status;
    } else if (!t->curl_error[0]) {
        snprintf(t->curl_error, sizeof(t->curl_error), "%s", curl_easy_strerror(result));
    }
    loadtest_transfer_cancel(t);
    c->requests_done++;
    t->done(t);
}

int loadtest_client_step(loadtest_client *c, int timeout_ms)
{
    CURLMcode rc = curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
    int running = 0;
    if (rc == CURLM_OK) rc = curl_multi_perform(c->multi, &running);
    if (rc != CURLM_OK) {
        log_error("loadtest: curl multi: %s", curl_multi_strerror(rc));
        return -1;
    }
    /* Bounded: each message is one finished transfer, and at most in_flight are in flight.
     * A callback may add transfers; they finish in a later step. */
    uint32_t budget = c->in_flight;
    for (uint32_t i = 0; i < budget; i++) {
        int left = 0;
        CURLMsg *msg = curl_multi_info_read(c->multi, &left);
        if (!msg) break;
        if (msg->msg == CURLMSG_DONE) loadtest__finish(c, msg->easy_handle, msg->data.result);
    }
    return 0;
}

static void loadtest__done_nothing(loadtest_transfer *t)
{
    (void)t;
}

int loadtest_transfer_get_wait(loadtest_transfer *t, const char *path, size_t response_len_max)
{
    if (loadtest_transfer_get(t, path, response_len_max, loadtest__done_nothing) != 0) return -1;
    /* curl ends the transfer within LOADTEST_REQUEST_TIMEOUT_MS; the bound is a backstop. */
    int64_t deadline_us = loadtest_now_us() + (int64_t)(LOADTEST_REQUEST_TIMEOUT_MS + 5000) * 1000;
    while (t->in_flight) {
        if (loadtest_client_step(t->client, 100) != 0 || loadtest_now_us() > deadline_us) {
            loadtest_transfer_cancel(t);
            snprintf(t->curl_error, sizeof(t->curl_error), "the transfer did not finish");
            return -1;
        }
    }
    return 0;
}
