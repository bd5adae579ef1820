/* fuzz_payment_response: the http payment provider's reading of the payment service's answer
 * (pay_http_classify), which decides whether money was taken.
 *
 * Input: bytes 0-1 are the HTTP status (big-endian, folded into 0..999 as libcurl reports
 * it); the rest is the answer's body, in a buffer of exactly its size.
 *
 * Checked against the table at the top of src/pay/pay_http.c:
 *   - PAY_OK only for a 2xx whose body is an object with a string "id" of 1..127 printable
 *     ASCII bytes, and the payment id is exactly that string;
 *   - any other 2xx, 1xx, 3xx, 5xx, 408, 409, 425, 429 and 0 are PAY_TRANSIENT (never final);
 *   - every other 4xx is PAY_DECLINED;
 *   - the message is NUL-terminated, printable and valid UTF-8 (it goes to the log, to the
 *     booking's payment error and to /admin/dead-letters, a JSON document). */
#include "check.h"

#include "pay/pay_http.h"
#include "util/text.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool fx_printable_ascii(const char *s, size_t len_max)
{
    size_t len = strnlen(s, len_max);
    if (len == 0 || len == len_max) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

/* The id of a 2xx body that the table says is a success, or NULL. */
static char *fx_expected_id(const char *body, size_t len)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    char *copy = NULL;
    if (cJSON_IsString(id) && fx_printable_ascii(id->valuestring, PAY_ID_LEN_MAX))
        copy = strdup(id->valuestring);
    cJSON_Delete(root);
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    long status = (long)(((unsigned)data[0] << 8 | data[1]) % 1000);
    size_t len = size - 2;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 2, len);
    pay_result out;
    memset(&out, 0x5a, sizeof(out)); /* no field may be left as it was */
    pay_http_classify(status, len ? body : NULL, len, &out);

    size_t message_len = strnlen(out.message, sizeof(out.message));
    FX_CHECK(message_len < sizeof(out.message), "the message is not NUL-terminated");
    FX_CHECK(text_is_clean_utf8(out.message, message_len),
             "status %ld: the message is not printable UTF-8: '%s'", status, out.message);
    bool transient = status < 200 || (status >= 300 && status < 400) || status >= 500 ||
                     status == 408 || status == 409 || status == 425 || status == 429;
    if (status >= 200 && status <= 299) {
        char *want = fx_expected_id(body, len);
        if (want) {
            FX_CHECK(out.outcome == PAY_OK && strcmp(out.payment_id, want) == 0,
                     "2xx with id '%s': outcome %d, payment id '%.*s'", want, out.outcome,
                     PAY_ID_LEN_MAX, out.payment_id);
        } else {
            FX_CHECK(out.outcome == PAY_TRANSIENT, "2xx without a usable id: outcome %d",
                     out.outcome);
        }
        free(want);
    } else if (transient) {
        FX_CHECK(out.outcome == PAY_TRANSIENT, "status %ld: outcome %d", status, out.outcome);
    } else {
        FX_CHECK(out.outcome == PAY_DECLINED, "status %ld: outcome %d", status, out.outcome);
    }
    if (out.outcome != PAY_OK)
        FX_CHECK(out.payment_id[0] == '\0', "a payment id without a success");
    free(body);
    return 0;
}
