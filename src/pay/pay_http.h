/* pay_http (internal): the pure part of the "http" payment provider, the classification of
 * the payment service's answers, exposed so that tests and fuzz/fuzz_payment_response.c can
 * drive it without a network. Nothing outside src/pay/, tests/ and fuzz/ includes this. */
#ifndef TIX_PAY_HTTP_H
#define TIX_PAY_HTTP_H

#include "pay/payment.h"

#include <stddef.h>

/* Turn an HTTP answer (status, and body of len bytes, not necessarily NUL-terminated; body
 * may be NULL when len is 0) into out, as the table at the top of pay_http.c says. out's
 * message is always printable, valid UTF-8 (it is logged and shown in dead letters); on
 * PAY_OK its payment_id is 1..PAY_ID_LEN_MAX-1 bytes of printable ASCII. */
void pay_http_classify(long status, const char *body, size_t len, pay_result *out);

#endif
