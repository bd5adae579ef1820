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

/* The 8 hex digits of v, most significant first, as the 8 bytes of a little-endian word:
 * each nibble spread into a byte, then '0' + n, plus 'a' - '0' - 10 where n > 9, for all 8
 * at once (no loop, no table: this runs for every request without an id). */
static uint64_t http__hex8(uint32_t v)
{
    uint64_t x = v;
    x = ((x & 0xffff0000ull) << 16) | (x & 0xffffull);
    x = ((x & 0x0000ff000000ff00ull) << 8) | (x & 0x000000ff000000ffull);
    x = ((x & 0x00f000f000f000f0ull) << 4) | (x & 0x000f000f000f000full);
    x = __builtin_bswap64(x); /* the most significant nibble first in memory */
    uint64_t letters = ((x + 0x0606060606060606ull) >> 4) & 0x0101010101010101ull;
    return x + 0x3030303030303030ull + letters * 0x27;
}

size_t http_request_id_take(char *out, const char *client, size_t client_len)
{
    if (http_request_id_is_sane(client, client_len)) {
        memcpy(out, client, client_len);
        out[client_len] = '\0';
        return client_len;
    }
    static_assert(HTTP_REQUEST_ID_GENERATED_LEN == 16, "16 hex digits of 64 bits");
    static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "http__hex8 builds little-endian");
    http_request_id_hex(http__rid_next(), out);
    return HTTP_REQUEST_ID_GENERATED_LEN;
}

void http_request_id_hex(uint64_t v, char *out)
{
    uint64_t high = http__hex8((uint32_t)(v >> 32)), low = http__hex8((uint32_t)v);
    memcpy(out, &high, 8);
    memcpy(out + 8, &low, 8);
    out[16] = '\0';
}
