/* payment: configuration and dispatch to the provider; see payment.h.
 *
 * This file checks what every provider would otherwise check again (a well-formed idempotency
 * key, a token or payment id present, a positive amount) and answers a final PAY_DECLINED for
 * a call that breaks those rules: retrying a malformed call can never make it succeed. */
#include "pay/payment.h"

#include "pay/pay_provider.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum pay_kind { PAY_KIND_SIMULATED, PAY_KIND_HTTP } pay_kind;

struct pay_provider {
    pay_kind kind;
    pay_sim *sim;   /* PAY_KIND_SIMULATED */
    pay_http *http; /* PAY_KIND_HTTP */
};

bool pay_key_is_valid(const char *key)
{
    if (!key) return false;
    size_t len = strnlen(key, PAY_KEY_LEN_MAX + 1);
    if (len == 0 || len > PAY_KEY_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x21 || c > 0x7e) return false;
    }
    return true;
}

void pay_result_set(pay_result *out, pay_outcome outcome, const char *fmt, ...)
{
    assert(out);
    out->outcome = outcome;
    out->payment_id[0] = '\0';
    out->no_effect = false; /* the caller says so when it knows */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

pay_provider *pay_create(const pay_config *config, char *err, size_t err_len)
{
    if (!config) return snprintf(err, err_len, "payment: no configuration"), NULL;
    size_t kind_len = strnlen(config->kind, sizeof(config->kind));
    if (kind_len == sizeof(config->kind))
        return snprintf(err, err_len, "payment: provider kind is not terminated"), NULL;
    pay_provider *p = calloc(1, sizeof(*p));
    if (!p) return snprintf(err, err_len, "payment: out of memory"), NULL;
    if (kind_len == 0 || strcmp(config->kind, "simulated") == 0) {
        p->kind = PAY_KIND_SIMULATED;
        p->sim = pay_sim_create(config->latency_ms, err, err_len);
        if (!p->sim) goto fail;
    } else if (strcmp(config->kind, "http") == 0) {
        if (strnlen(config->url, sizeof(config->url)) == sizeof(config->url)) {
            snprintf(err, err_len, "payment: url is not terminated");
            goto fail;
        }
        p->kind = PAY_KIND_HTTP;
        p->http = pay_http_create(config->url, config->timeout_ms, err, err_len);
        if (!p->http) goto fail;
    } else {
        snprintf(err, err_len, "payment: unknown provider '%s' (want simulated or http)",
                 config->kind);
        goto fail;
    }
    return p;
fail:
    free(p);
    return NULL;
}

void pay_destroy(pay_provider *p)
{
    if (!p) return;
    if (p->sim) pay_sim_destroy(p->sim);
    if (p->http) pay_http_destroy(p->http);
    free(p);
}

/* The checks shared by charges and refunds. Returns 0, or -1 with out set to PAY_DECLINED. */
static int pay__check_call(const char *key, const char *what, const char *value,
                           int64_t amount_cents, pay_result *out)
{
    if (!pay_key_is_valid(key)) {
        pay_result_set(out, PAY_DECLINED, "invalid idempotency key");
        return -1;
    }
    if (!value || !value[0]) {
        pay_result_set(out, PAY_DECLINED, "missing %s", what);
        return -1;
    }
    if (amount_cents <= 0) {
        pay_result_set(out, PAY_DECLINED, "amount must be positive, got %lld",
                       (long long)amount_cents);
        return -1;
    }
    return 0;
}

void pay_charge(pay_provider *p, const char *idempotency_key, const char *booking_id,
                const char *token, int64_t amount_cents, pay_result *out)
{
    assert(p && out);
    if (pay__check_call(idempotency_key, "token", token, amount_cents, out) != 0) return;
    if (p->kind == PAY_KIND_SIMULATED)
        pay_sim_charge(p->sim, idempotency_key, token, amount_cents, out);
    else
        pay_http_charge(p->http, idempotency_key, booking_id, token, amount_cents, out);
    assert(out->outcome != PAY_OK || out->payment_id[0]);
}

void pay_refund(pay_provider *p, const char *idempotency_key, const char *booking_id,
                const char *payment_id, int64_t amount_cents, pay_result *out)
{
    assert(p && out);
    if (pay__check_call(idempotency_key, "payment id", payment_id, amount_cents, out) != 0) return;
    if (p->kind == PAY_KIND_SIMULATED)
        pay_sim_refund(p->sim, idempotency_key, payment_id, amount_cents, out);
    else
        pay_http_refund(p->http, idempotency_key, booking_id, payment_id, amount_cents, out);
    assert(out->outcome != PAY_OK || out->payment_id[0]);
}

unsigned pay_sim_charge_count(const pay_provider *p)
{
    if (!p || p->kind != PAY_KIND_SIMULATED) return 0;
    return pay_sim_count_charges(p->sim);
}
