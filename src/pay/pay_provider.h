/* pay_provider: the private interface between payment.c (dispatch) and the providers.
 *
 * Each provider keeps its own state behind an opaque pointer; payment.c owns the pay_provider
 * and calls through the provider's functions. Nothing outside src/pay/ includes this. */
#ifndef TIX_PAY_PROVIDER_H
#define TIX_PAY_PROVIDER_H

#include "pay/payment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PAY_KEY_LEN_MAX = 255 }; /* longest idempotency key accepted */

typedef struct pay_sim pay_sim;
typedef struct pay_http pay_http;

/* Whether key is 1..PAY_KEY_LEN_MAX bytes of printable ASCII (safe in an HTTP header and a
 * log line). Both providers refuse other keys as a final decline: it is a caller's bug. */
bool pay_key_is_valid(const char *key);

/* Set out to outcome with a printf-style message and an empty payment id. */
void pay_result_set(pay_result *out, pay_outcome outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The simulated provider (pay_simulated.c). */
pay_sim *pay_sim_create(unsigned latency_ms, char *err, size_t err_len);
void pay_sim_destroy(pay_sim *s);
void pay_sim_charge(pay_sim *s, const char *key, const char *token, int64_t amount_cents,
                    pay_result *out);
void pay_sim_refund(pay_sim *s, const char *key, const char *payment_id, int64_t amount_cents,
                    pay_result *out);
unsigned pay_sim_count_charges(const pay_sim *s);

/* The HTTP provider (pay_http.c). */
pay_http *pay_http_create(const char *url, unsigned timeout_ms, char *err, size_t err_len);
void pay_http_destroy(pay_http *h);
void pay_http_charge(pay_http *h, const char *key, const char *booking_id, const char *token,
                     int64_t amount_cents, pay_result *out);
void pay_http_refund(pay_http *h, const char *key, const char *booking_id, const char *payment_id,
                     int64_t amount_cents, pay_result *out);

#endif
