/* stub_http: a tiny HTTP server inside the test process (libmicrohttpd on 127.0.0.1, an
 * ephemeral port), for testing HTTP clients. It records the last request it received and
 * answers every request the same configurable way: status, body, and an optional delay
 * (to make a client time out). Thread-safe. */
#ifndef TIX_TEST_STUB_HTTP_H
#define TIX_TEST_STUB_HTTP_H

#include <stddef.h>

typedef struct stub_http stub_http;

/* Start a server answering 200 "{}". NULL (and a message on stderr) when it cannot. */
stub_http *stub_http_start(void);

/* Stop the server (waiting for requests in progress) and free it. NULL is a no-op. */
void stub_http_stop(stub_http *s);

/* "http://127.0.0.1:<port>" */
const char *stub_http_url(const stub_http *s);

/* Answer the following requests with status and body (copied), after delay_ms (<= 2000). */
void stub_http_answer(stub_http *s, unsigned status, const char *body, unsigned delay_ms);

/* How many requests were answered or are being answered. */
unsigned stub_http_request_count(stub_http *s);

/* About the last request: malloc'd copies for the caller to free; NULL when there was no
 * request, or no such header (name compared case-insensitively, the first one if repeated). */
char *stub_http_last_method(stub_http *s);
char *stub_http_last_path(stub_http *s);
char *stub_http_last_header(stub_http *s, const char *name);
char *stub_http_last_body(stub_http *s, size_t *len_out);

#endif
