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
