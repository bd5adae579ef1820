/* payment: the payment provider interface, chosen by configuration.
 *
 *  - "simulated" (the default): deterministic test tokens in the style of Stripe's.
 *      tok_visa            succeeds
 *      tok_chargeDeclined  is declined (final)
 *      tok_processingError fails transiently on its first 2 attempts for an idempotency key,
 *                          then succeeds (so retries are exercised)
 *      anything else       is declined as an invalid token (final)
 *    with a configurable latency. A charge repeated with the same idempotency key returns the
 *    first result's payment id and is counted once (pay_sim_charge_count).
 *  - "http": a payment service over HTTP (libcurl), see docs/PAYMENTS.md:
 *      POST {url}/charges  {"amount_cents","token","booking_id"}   Idempotency-Key: <key>
 *      POST {url}/refunds  {"amount_cents","payment_id","booking_id"} Idempotency-Key: <key>
 *    2xx with {"id": "..."} succeeds; timeouts, connection errors and 5xx are transient;
 *    other 4xx are final (declined). The idempotency key makes retries never charge twice.
 *
 * Every call is thread-safe and blocking (bounded by the configured timeout). */
#ifndef TIX_PAYMENT_H
#define TIX_PAYMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PAY_ID_LEN_MAX = 128, PAY_MESSAGE_LEN_MAX = 256, PAY_URL_LEN_MAX = 512 };

typedef enum pay_outcome {
    PAY_OK = 0,
    PAY_DECLINED,  /* final: do not retry */
    PAY_TRANSIENT, /* retry later with the same idempotency key */
} pay_outcome;

typedef struct pay_result {
    pay_outcome outcome;
    char payment_id[PAY_ID_LEN_MAX];   /* on PAY_OK: the provider's charge or refund id */
    char message[PAY_MESSAGE_LEN_MAX]; /* on failure: why, for logs and dead letters */
    /* on PAY_TRANSIENT: the provider answered that it did nothing (a 5xx, 408, 409, 425 or
     * 429 answer, which settles nothing under the key), so no money moved; false when it may
     * have (no answer: a timeout, a lost connection; or an answer tix cannot read) */
    bool no_effect;
} pay_result;

typedef struct pay_config {
    char kind[16];             /* "simulated" or "http" */
    char url[PAY_URL_LEN_MAX]; /* http: base URL of the payment service */
    unsigned latency_ms;       /* simulated: added delay per call */
    unsigned timeout_ms;       /* http: whole-request timeout */
} pay_config;

typedef struct pay_provider pay_provider;

/* Create the provider described by config. Returns NULL with a reason in err. */
pay_provider *pay_create(const pay_config *config, char *err, size_t err_len);
void pay_destroy(pay_provider *p);

/* Charge amount_cents (> 0) with token for booking_id, once per idempotency_key. */
void pay_charge(pay_provider *p, const char *idempotency_key, const char *booking_id,
                const char *token, int64_t amount_cents, pay_result *out);

/* Refund amount_cents (> 0) of payment_id for booking_id, once per idempotency_key. */
void pay_refund(pay_provider *p, const char *idempotency_key, const char *booking_id,
                const char *payment_id, int64_t amount_cents, pay_result *out);

/* Simulated provider only: how many distinct successful charges it made (for tests). */
unsigned pay_sim_charge_count(const pay_provider *p);

#endif
