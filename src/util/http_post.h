/* http_post: the options every outbound POST of tix sets (the payment service, webhooks), so
 * that both keep the same safety: http and https only, no redirect followed, no signals, one
 * timeout for connecting and for the whole call. */
#ifndef TIX_HTTP_POST_H
#define TIX_HTTP_POST_H

#include <curl/curl.h>
#include <stddef.h>

/* Set up curl to POST body (len bytes) with headers to url, within timeout_ms, handing the
 * answer to on_data(ctx) and curl's error text to error_buffer (CURL_ERROR_SIZE bytes).
 * Returns 0, or -1 when an option could not be set (curl is then unusable). */
int http_post_prepare(CURL *curl, const char *url, struct curl_slist *headers, const char *body,
                      size_t len, long timeout_ms, curl_write_callback on_data, void *ctx,
                      char *error_buffer, const char *user_agent);

#endif
