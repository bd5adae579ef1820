/* fuzz_json_body: arbitrary bytes as the JSON body of each endpoint that reads one.
 *
 * Input: byte 0 picks the endpoint (low 3 bits), whether the request carries an
 * Idempotency-Key (bit 3) and its Content-Type (bits 4-6: 7 is not JSON, for the 415 path);
 * the rest is the body, handed over in a buffer of exactly its size (as the HTTP layer hands
 * body and body_len).
 *
 *   0, 7  POST /events                       (admin)  event creation
 *   1     POST /events/fuzz-event/holds               hold of several seats
 *   2     POST /reserve                               hold of one seat
 *   3     POST /holds/{active hold}/checkout          checkout
 *   4     POST /admin/webhooks               (admin)  webhook creation
 *   5     POST /events/fuzz-small/holds               hold on an event of 1 seat a hold
 *   6     POST /bookings/{booking}/cancel             a POST that ignores its body
 *
 * Checked: api_json_parse_object sorts the body the way its contract says (OK only for an
 * object; MALFORMED exactly when api_json_validate refuses it), then every response obeys the
 * fixture's checks; requests end at API_COMMIT, never reaching the writer. */
#include "fixture_api.h"

#include "api/json_in.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fx_content_types[8] = {
    "application/json",  "application/json; charset=utf-8",
    "APPLICATION/JSON",  "application/json",
    "application/json ", "application/json;",
    "application/json",  "text/plain",
};

static void fx_check_parse(const char *body, size_t len)
{
    char err[API_JSON_ERR_LEN] = "";
    cJSON *root = (cJSON *)1;
    api_json_status status = api_json_parse_object(body, len, &root, err);
    size_t bad_at;
    bool too_deep, has_nul;
    bool valid = len > 0 && api_json_validate(body, len, &bad_at, &too_deep, &has_nul);
    FX_CHECK((root != NULL) == (status == API_JSON_OK), "status %d with root %p", status,
             (void *)root);
    FX_CHECK(status == API_JSON_OK || (err[0] && strlen(err) < API_JSON_ERR_LEN),
             "no error message for status %d", status);
    if (!valid)
        FX_CHECK(status == API_JSON_MALFORMED, "invalid JSON answered with status %d", status);
    if (status == API_JSON_OK) {
        FX_CHECK(valid && !has_nul && cJSON_IsObject(root), "accepted a body that is not a "
                                                            "strict JSON object");
        cJSON_Delete(root);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_api_get();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static api_request req; /* large (it embeds a commit command): not on the stack */
    if (size == 0) return 0;
    fx_api *f = fx_api_get();
    uint8_t flags = data[0];
    size_t len = size - 1;
    char *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 1, len);
    fx_check_parse(body, len);

    char path[128];
    bool admin = false;
    switch (flags & 7) {
    case 0:
    case 7:
        snprintf(path, sizeof(path), "/events"), admin = true;
        break;
    case 1:
        snprintf(path, sizeof(path), "/events/" FX_EVENT_ID "/holds");
        break;
    case 2:
        snprintf(path, sizeof(path), "/reserve");
        break;
    case 3:
        snprintf(path, sizeof(path), "/holds/%s/checkout", f->hold_id);
        break;
    case 4:
        snprintf(path, sizeof(path), "/admin/webhooks"), admin = true;
        break;
    case 5:
        snprintf(path, sizeof(path), "/events/" FX_EVENT_SMALL_ID "/holds");
        break;
    case 6:
        snprintf(path, sizeof(path), "/bookings/%s/cancel", f->booking_id);
        break;
    }
    fx_api_request_init(&req, HTTP_POST, path);
    req.body = body;
    req.body_len = len;
    req.content_type = fx_content_types[(flags >> 4) & 7];
    req.authorization = admin ? "Bearer " FX_ADMIN_TOKEN : NULL;
    req.idempotency_key = (flags & 0x08) ? "fuzz-body-key" : NULL;
    fx_api_handle(&req, NULL);
    free(body);
    return 0;
}
