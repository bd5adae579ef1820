/* client: HTTP transfers on one libcurl multi handle, driven from one thread.
 *
 * A transfer is owned by its caller (a buyer, or the invariant check) and reused request
 * after request: its easy handle, header list and body buffers live as long as it does, and
 * the multi handle keeps the connections alive between them (at most `connections` open).
 * loadtest_client_step waits for network activity and calls each finished transfer's `done`
 * callback, which may start the next request on the same transfer at once. */
#ifndef TIX_LOADTEST_CLIENT_H
#define TIX_LOADTEST_CLIENT_H

#include "loadtest/internal.h"
#include "util/buf.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct loadtest_client loadtest_client;
typedef struct loadtest_transfer loadtest_transfer;
typedef void (*loadtest_transfer_done)(loadtest_transfer *t);

struct loadtest_transfer {
    loadtest_client *client;
    CURL *easy;
    struct curl_slist *headers;
    buf request;  /* the JSON body of a POST, filled by the caller before starting */
    buf response; /* the response body, up to the cap given at start */
    char url[LOADTEST_URL_LEN_MAX + 256];
    char curl_error[CURL_ERROR_SIZE];
    long status; /* HTTP status; 0 when the transfer failed */
    CURLcode result;
    bool response_too_large;
    unsigned retry_after_s; /* Retry-After of the response, 0 if none */
    int64_t started_us, latency_us;
    loadtest_transfer_done done;
    void *owner;
    bool in_flight;
};

struct loadtest_client {
    CURLM *multi;
    char base_url[LOADTEST_URL_LEN_MAX + 1]; /* without a trailing '/' */
    uint32_t in_flight;
    uint64_t requests_done; /* finished transfers, successful or not */
};

/* Create the multi handle for base_url with at most `connections` connections. Returns 0, or
 * -1 after logging why. curl_global_init must have been called. */
int loadtest_client_init(loadtest_client *c, const char *base_url, unsigned connections);

/* Close the multi handle. Every transfer must have been released before. */
void loadtest_client_free(loadtest_client *c);

/* Prepare an idle transfer for client c. Allocates nothing yet. */
void loadtest_transfer_init(loadtest_transfer *t, loadtest_client *c, void *owner);

/* Stop the transfer if it is in flight; its callback is not called. */
void loadtest_transfer_cancel(loadtest_transfer *t);

/* Stop the transfer if it is in flight (no callback) and free everything it holds. */
void loadtest_transfer_release(loadtest_transfer *t);

/* Start GET base_url+path, or POST base_url+path with t->request as its JSON body and an
 * Idempotency-Key unless key is NULL. The response is cut at response_len_max bytes (the
 * transfer then fails with response_too_large set). On completion `done` is called from
 * loadtest_client_step. Returns 0, or -1 (curl or memory failure: `done` will not be called;
 * t->curl_error says why). */
int loadtest_transfer_get(loadtest_transfer *t, const char *path, size_t response_len_max,
                          loadtest_transfer_done done);
int loadtest_transfer_post(loadtest_transfer *t, const char *path, const char *key,
                           size_t response_len_max, loadtest_transfer_done done);

/* Wait up to timeout_ms for activity (less if curl wants to act sooner), advance every
 * transfer and run the callbacks of those that finished. Returns 0, or -1 if the multi
 * handle failed (logged). */
int loadtest_client_step(loadtest_client *c, int timeout_ms);

/* Run GET path to completion (loadtest_client_step until it is done; curl's timeouts bound
 * the wait). Returns 0 with t->status set (0 when there was no answer), or -1 on a client
 * failure (t->curl_error says why). Other transfers progress meanwhile. */
int loadtest_transfer_get_wait(loadtest_transfer *t, const char *path, size_t response_len_max);

/* Give back a large response buffer after it was used, so idle transfers hold little. */
void loadtest_transfer_trim(loadtest_transfer *t);

#endif
