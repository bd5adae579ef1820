/* fuzz_idempotency_key: the Idempotency-Key header and the request hash.
 *
 * Input: byte 0 picks the endpoint (0: POST /reserve, 1: POST /bookings/{id}/cancel, 2: POST
 * /events/fuzz-event/holds); then the header value up to the first '\n' (cut at a NUL: a
 * header is a C string), then the body.
 *
 * Checked, for one request (and its twins, sent while it is in flight and after it ended):
 *   - a key is refused with 400 invalid_idempotency_key exactly when it is not 1..255
 *     printable ASCII characters (reference written here);
 *   - the request hash is SHA-256 of "POST\n<path>\n<buyer>\n<body>" as lowercase hex
 *     (computed here; no buyer token is sent, so <buyer> is empty);
 *   - the key kept by the fixture replays its response for the same request (same status and
 *     body) and answers 422 idempotency_key_reused for any other;
 *   - any other valid key goes to the writer attached to the request's command (API_COMMIT,
 *     the store decides it in the transaction), and so does a twin sent meanwhile: nothing
 *     about a key is decided from memory; once the first ends nothing of it is left. */
#include "fixture_api.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fx_key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > TIX_IDEMPOTENCY_KEY_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e) return false;
    return true;
}

static void fx_request_hash(const char *path, const char *body, size_t len, char out[65])
{
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"POST\n", 5);
    crypto_hash_sha256_update(&st, (const unsigned char *)path, strlen(path));
    /* then the acting buyer and "\n": these requests carry no buyer token, so "" */
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n\n", 2);
    crypto_hash_sha256_update(&st, (const unsigned char *)body, len);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

/* Does the body of res hold the error code? */
static bool fx_has_code(const api_response *res, const char *code)
{
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "\"code\":\"%s\"", code);
    return res->body.data && strstr(res->body.data, quoted) != NULL;
}

static void fx_request(api_request *req, const char *path, const char *key, const char *body,
                       size_t len)
{
    fx_api_request_init(req, HTTP_POST, path);
    req->content_type = "application/json";
    req->idempotency_key = key;
    req->body = body;
    req->body_len = len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_api_get();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static api_request first, twin; /* large: not on the stack */
    if (size == 0) return 0;
    fx_api *f = fx_api_get();
    char path[128];
    switch (data[0] % 3) {
    case 0:
        snprintf(path, sizeof(path), "/reserve");
        break;
    case 1:
        snprintf(path, sizeof(path), "/bookings/%s/cancel", f->booking_id);
        break;
    default:
        snprintf(path, sizeof(path), "/events/" FX_EVENT_ID "/holds");
        break;
    }
    const uint8_t *rest = data + 1, *end = data + size;
    const uint8_t *newline = memchr(rest, '\n', (size_t)(end - rest));
    size_t key_len = (size_t)((newline ? newline : end) - rest);
    char *key = malloc(key_len + 1);
    size_t body_len = newline ? (size_t)(end - newline - 1) : 0;
    char *body = malloc(body_len ? body_len : 1);
    if (!key || !body) goto out;
    memcpy(key, rest, key_len);
    key[key_len] = '\0';
    if (body_len) memcpy(body, newline + 1, body_len);

    api_response res, twin_res;
    fx_request(&first, path, key, body, body_len);
    api_result result = fx_api_begin(&first, &res);
    char want_hash[65];
    fx_request_hash(path, body, body_len, want_hash);
    bool valid = fx_key_valid(key);
    if (!valid) {
        FX_CHECK(result == API_DONE && res.status == 400 &&
                     fx_has_code(&res, "invalid_idempotency_key"),
                 "key '%s' (%zu bytes) accepted: status %u", key, strlen(key), res.status);
    } else if (strcmp(key, FX_REPLAY_KEY) == 0) {
        bool same = strcmp(path, "/reserve") == 0 && body_len == strlen(FX_REPLAY_BODY) &&
                    memcmp(body, FX_REPLAY_BODY, body_len) == 0;
        FX_CHECK(result == API_DONE && !first.cmd, "a kept key went to the writer");
        FX_CHECK(strcmp(first.idem.request_hash, want_hash) == 0, "request hash %s, want %s",
                 first.idem.request_hash, want_hash);
        if (same)
            FX_CHECK(res.status == 409 && fx_has_code(&res, "seat_unavailable"),
                     "the kept response was not replayed: %u", res.status);
        else
            FX_CHECK(res.status == 422 && fx_has_code(&res, "idempotency_key_reused"),
                     "a reused key answered %u", res.status);
    } else {
        FX_CHECK(result == API_COMMIT && first.idempotent && first.cmd &&
                     first.cmd->op.idem == &first.idem,
                 "valid key '%s' not attached to a command: status %u", key, res.status);
        FX_CHECK(strcmp(first.idem.request_hash, want_hash) == 0, "request hash %s, want %s",
                 first.idem.request_hash, want_hash);
        fx_request(&twin, path, key, body, body_len);
        api_result twin_result = fx_api_begin(&twin, &twin_res);
        FX_CHECK(twin_result == API_COMMIT && twin.idempotent &&
                     strcmp(twin.idem.request_hash, want_hash) == 0,
                 "a twin in flight answered %u", twin_res.status);
        fx_api_end(&twin, &twin_res, twin_result);
        fx_api_response_free(&twin_res);
    }
    fx_api_end(&first, &res, result);
    fx_api_response_free(&res);
out:
    free(key);
    free(body);
    return 0;
}
