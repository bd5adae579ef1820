/* webhook: outbound deliveries of tix events to subscribers' URLs (libcurl).
 *
 * Each delivery is POST <url> with the JSON envelope as body, Content-Type application/json,
 * and headers:
 *   Tix-Event-Id: <event id>       (receivers dedupe on it: delivery is at least once)
 *   Tix-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
 * (the signature header is sent only when the subscription has a secret). A 2xx answer is a
 * success; anything else, a timeout or a connection error is a failure to retry. */
#ifndef TIX_WEBHOOK_H
#define TIX_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

enum { WEBHOOK_SIGNATURE_LEN_MAX = 128 };

/* Post body (len bytes) to url. Returns 0 on a 2xx answer, -1 otherwise with a reason in err
 * (status code or curl error). secret may be NULL or empty (no signature). */
int webhook_post(const char *url, const char *secret, const char *event_id, const char *body,
                 size_t len, unsigned timeout_ms, char *err, size_t err_len);

/* The Tix-Signature header value for body at unix time t_s, into out
 * (WEBHOOK_SIGNATURE_LEN_MAX bytes). */
void webhook_sign(const char *secret, int64_t t_s, const char *body, size_t len, char *out);

#endif
