/* request_id: see request_id.h. */
#include "http/request_id.h"

#include <assert.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

static __thread uint64_t http__rid_state[2];

bool http_request_id_is_sane(const char *id, size_t len)
{
    if (!id || len == 0 || len > HTTP_REQUEST_ID_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

/* xorshift128+ (Vigna): fast, and plenty for ids that only need to differ. */
static uint64_t http__rid_next(void)
{
    uint64_t *s = http__rid_state;
    while (s[0] == 0 && s[1] == 0)
        randombytes_buf(s, 2 * sizeof(uint64_t));
    uint64_t x = s[0], y = s[1];
    s[0] = y;
    x ^= x << 23;
    s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return s[1] + y;
}

size_t http_request_id_take(char *out, const char *client, size_t client_len)
{
    if (http_request_id_is_sane(client, client_len)) {
        memcpy(out, client, client_len);
        out[client_len] = '\0';
        return client_len;
    }
    static const char hex[] = "0123456789abcdef";
    uint64_t v = http__rid_next();
    for (int i = 0; i < HTTP_REQUEST_ID_GENERATED_LEN; i += 2, v >>= 8) {
        out[i] = hex[(v >> 4) & 15];
        out[i + 1] = hex[v & 15];
    }
    out[HTTP_REQUEST_ID_GENERATED_LEN] = '\0';
    static_assert(HTTP_REQUEST_ID_GENERATED_LEN == 16, "16 hex digits of 64 bits");
    return HTTP_REQUEST_ID_GENERATED_LEN;
}
