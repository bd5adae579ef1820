/* request_id: a client's id is kept when sane, otherwise a fresh 16-hex-digit one is made. */
#include "../test.h"

#include "http/request_id.h"

TEST(request_id_keeps_a_sane_client_id)
{
    char out[HTTP_REQUEST_ID_LEN_MAX + 1];
    ASSERT_EQ_INT(http_request_id_take(out, "abc-123_x.y:z", 13), 13);
    ASSERT_EQ_STR(out, "abc-123_x.y:z");
    char longest[HTTP_REQUEST_ID_LEN_MAX + 1];
    memset(longest, 'a', HTTP_REQUEST_ID_LEN_MAX);
    longest[HTTP_REQUEST_ID_LEN_MAX] = '\0';
    ASSERT_EQ_INT(http_request_id_take(out, longest, HTTP_REQUEST_ID_LEN_MAX),
                  HTTP_REQUEST_ID_LEN_MAX);
    ASSERT_EQ_STR(out, longest);
}

TEST(request_id_replaces_a_missing_empty_long_or_unsafe_one)
{
    static const char *const bad[] = {"", "a b", "a\"b", "a\nb", "a/b", "\xc3\xa9", "{x}"};
    char out[HTTP_REQUEST_ID_LEN_MAX + 1], prev[HTTP_REQUEST_ID_LEN_MAX + 1] = "";
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_FALSE(http_request_id_is_sane(bad[i], strlen(bad[i])));
        ASSERT_EQ_INT(http_request_id_take(out, bad[i], strlen(bad[i])), 16);
        for (int k = 0; k < 16; k++)
            ASSERT_TRUE(strchr("0123456789abcdef", out[k]) != NULL);
        ASSERT_NE_STR(out, prev); /* each one new */
        memcpy(prev, out, sizeof(out));
    }
    char too_long[HTTP_REQUEST_ID_LEN_MAX + 2];
    memset(too_long, 'a', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    ASSERT_FALSE(http_request_id_is_sane(too_long, strlen(too_long)));
    ASSERT_EQ_INT(http_request_id_take(out, NULL, 0), 16);
}

TEST(request_id_made_ones_are_hex_digits_of_every_value)
{
    /* every digit value shows up in a few hundred ids, and nothing else does */
    bool seen[16] = {false};
    char out[HTTP_REQUEST_ID_LEN_MAX + 1];
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ_INT(http_request_id_take(out, NULL, 0), 16);
        ASSERT_EQ_INT(strlen(out), 16);
        for (int k = 0; k < 16; k++) {
            const char *at = strchr("0123456789abcdef", out[k]);
            ASSERT_TRUE(at != NULL && out[k] != '\0');
            seen[at - "0123456789abcdef"] = true;
        }
    }
    for (int d = 0; d < 16; d++)
        ASSERT_TRUE(seen[d]);
}

TEST(request_id_hex_writes_each_nibble_in_order)
{
    char out[17];
    http_request_id_hex(0x0123456789abcdefull, out);
    ASSERT_EQ_STR(out, "0123456789abcdef");
    http_request_id_hex(0xfedcba9876543210ull, out);
    ASSERT_EQ_STR(out, "fedcba9876543210");
    http_request_id_hex(0, out);
    ASSERT_EQ_STR(out, "0000000000000000");
    http_request_id_hex(UINT64_MAX, out);
    ASSERT_EQ_STR(out, "ffffffffffffffff");
    for (uint64_t v = 1; v; v <<= 1) { /* each bit where it belongs */
        char want[17];
        snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
        http_request_id_hex(v, out);
        ASSERT_EQ_STR(out, want);
    }
}
