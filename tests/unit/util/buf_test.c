/* buf: the size cap, the sticky failure flag, and JSON string escaping. */
#include "../test.h"

#include "util/buf.h"

#include <stdlib.h>

/* The JSON literal buf_append_json_string makes of (s, len). */
static char *json_of(const char *s, size_t len)
{
    buf b;
    buf_init(&b, 1024);
    if (buf_append_json_string(&b, s, len) != 0) {
        buf_free(&b);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

TEST(buf_init_allocates_nothing_and_free_is_safe_on_an_empty_buffer)
{
    buf b;
    buf_init(&b, 10);
    ASSERT_NULL(b.data);
    ASSERT_EQ_INT(b.len, 0);
    ASSERT_EQ_INT(b.len_max, 10);
    ASSERT_FALSE(b.failed);
    buf_free(&b);
    buf_free(&b);
    ASSERT_NULL(b.data);
}

TEST(buf_appends_are_nul_terminated_and_accumulate)
{
    buf b;
    buf_init(&b, 100);
    ASSERT_EQ_INT(buf_append_str(&b, "ab"), 0);
    ASSERT_EQ_INT(buf_append_char(&b, 'c'), 0);
    ASSERT_EQ_INT(buf_append(&b, "dexx", 2), 0);
    ASSERT_EQ_INT(buf_append_i64(&b, -42), 0);
    ASSERT_EQ_INT(buf_appendf(&b, "[%d|%s]", 7, "x"), 0);
    ASSERT_EQ_STR(b.data, "abcde-42[7|x]");
    ASSERT_EQ_INT(b.len, strlen("abcde-42[7|x]"));
    ASSERT_EQ_INT(b.data[b.len], '\0');
    buf_free(&b);
}

TEST(buf_append_i64_writes_the_extremes)
{
    buf b;
    buf_init(&b, 100);
    buf_append_i64(&b, INT64_MIN);
    buf_append_char(&b, ' ');
    buf_append_i64(&b, INT64_MAX);
    ASSERT_EQ_STR(b.data, "-9223372036854775808 9223372036854775807");
    buf_free(&b);
}

TEST(buf_append_u32_writes_zero_each_digit_count_and_the_maximum)
{
    buf b;
    buf_init(&b, 100);
    static const uint32_t values[] = {0, 7, 10, 999, 1000, 4294967295u};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        if (i) buf_append_char(&b, ' ');
        buf_append_u32(&b, values[i]);
    }
    ASSERT_EQ_STR(b.data, "0 7 10 999 1000 4294967295");
    buf_free(&b);
    char out[BUF_U32_LEN_MAX + 1];
    memset(out, 'x', sizeof(out));
    ASSERT_EQ_INT(buf_format_u32(out, 4294967295u), BUF_U32_LEN_MAX);
    ASSERT_EQ_INT(out[BUF_U32_LEN_MAX], 'x'); /* no NUL, nothing past the digits */
}

TEST(buf_append_that_fills_the_cap_exactly_succeeds)
{
    buf b;
    buf_init(&b, 5);
    ASSERT_EQ_INT(buf_append_str(&b, "abc"), 0);
    ASSERT_EQ_INT(buf_append_str(&b, "de"), 0);
    ASSERT_EQ_STR(b.data, "abcde");
    ASSERT_FALSE(b.failed);
    buf_free(&b);
}

TEST(buf_append_past_the_cap_fails_and_leaves_the_buffer_unchanged)
{
    buf b;
    buf_init(&b, 5);
    ASSERT_EQ_INT(buf_append_str(&b, "abc"), 0);
    ASSERT_EQ_INT(buf_append_str(&b, "def"), -1);
    ASSERT_TRUE(b.failed);
    ASSERT_EQ_INT(b.len, 3);
    ASSERT_EQ_STR(b.data, "abc");
    buf_free(&b);
}

TEST(buf_failure_is_sticky_even_for_appends_that_would_fit)
{
    buf b;
    buf_init(&b, 5);
    ASSERT_EQ_INT(buf_append_str(&b, "abcdef"), -1);
    ASSERT_EQ_INT(buf_append_char(&b, 'x'), -1);
    ASSERT_EQ_INT(buf_append_str(&b, ""), -1);
    ASSERT_EQ_INT(buf_appendf(&b, "%d", 1), -1);
    ASSERT_EQ_INT(buf_append_i64(&b, 1), -1);
    ASSERT_EQ_INT(buf_append_json_str(&b, "a"), -1);
    ASSERT_TRUE(b.failed);
    ASSERT_EQ_INT(b.len, 0);
    buf_free(&b);
}

TEST(buf_appendf_past_the_cap_fails_and_leaves_the_buffer_unchanged)
{
    buf b;
    buf_init(&b, 8);
    ASSERT_EQ_INT(buf_appendf(&b, "%s", "1234"), 0);
    ASSERT_EQ_INT(buf_appendf(&b, "%s", "56789"), -1);
    ASSERT_TRUE(b.failed);
    ASSERT_EQ_STR(b.data, "1234");
    ASSERT_EQ_INT(b.len, 4);
    buf_free(&b);
}

TEST(buf_with_a_zero_cap_takes_only_empty_appends)
{
    buf b;
    buf_init(&b, 0);
    ASSERT_EQ_INT(buf_append(&b, "", 0), 0);
    ASSERT_EQ_INT(b.len, 0);
    ASSERT_EQ_INT(buf_append_char(&b, 'x'), -1);
    ASSERT_TRUE(b.failed);
    buf_free(&b);
}

TEST(buf_append_of_a_huge_length_fails_without_overflow)
{
    buf b;
    buf_init(&b, 64);
    ASSERT_EQ_INT(buf_append_str(&b, "abc"), 0);
    ASSERT_EQ_INT(buf_append(&b, "x", SIZE_MAX), -1);
    ASSERT_EQ_INT(buf_append(&b, "x", SIZE_MAX - 2), -1);
    ASSERT_EQ_STR(b.data, "abc");
    buf_free(&b);
}

TEST(buf_grows_past_its_first_allocation)
{
    buf b;
    buf_init(&b, 100000);
    for (int i = 0; i < 10000; i++)
        ASSERT_EQ_INT(buf_append_str(&b, "0123456789"), 0);
    ASSERT_EQ_INT(b.len, 100000);
    ASSERT_GT(b.cap, b.len);
    ASSERT_EQ_INT(buf_append_char(&b, 'x'), -1);
    ASSERT_EQ_INT(b.len, 100000);
    ASSERT_EQ_INT(memcmp(b.data + 99990, "0123456789", 11), 0);
    buf_free(&b);
}

TEST(buf_reset_forgets_contents_and_failure_but_keeps_memory_and_cap)
{
    buf b;
    buf_init(&b, 4);
    buf_append_str(&b, "abcd");
    buf_append_char(&b, 'e');
    ASSERT_TRUE(b.failed);
    char *before = b.data;
    buf_reset(&b);
    ASSERT_FALSE(b.failed);
    ASSERT_EQ_INT(b.len, 0);
    ASSERT_TRUE(b.data == before);
    ASSERT_EQ_STR(b.data, "");
    ASSERT_EQ_INT(b.len_max, 4);
    ASSERT_EQ_INT(buf_append_str(&b, "wxyz"), 0);
    ASSERT_EQ_INT(buf_append_char(&b, '!'), -1);
    ASSERT_EQ_STR(b.data, "wxyz");
    buf_free(&b);
}

TEST(buf_detach_hands_over_the_memory_and_leaves_the_buffer_empty)
{
    buf b;
    buf_init(&b, 100);
    buf_append_str(&b, "hello");
    size_t len = 0;
    char *data = buf_detach(&b, &len);
    ASSERT_EQ_INT(len, 5);
    ASSERT_EQ_STR(data, "hello");
    ASSERT_NULL(b.data);
    ASSERT_EQ_INT(b.len, 0);
    ASSERT_EQ_INT(buf_append_str(&b, "again"), 0);
    ASSERT_EQ_STR(b.data, "again");
    free(data);
    buf_free(&b);
}

TEST(json_string_of_plain_text_is_quoted)
{
    char *s = json_of("hello world", 11);
    ASSERT_EQ_STR(s, "\"hello world\"");
    free(s);
    s = json_of("", 0);
    ASSERT_EQ_STR(s, "\"\"");
    free(s);
}

TEST(json_string_escapes_quotes_and_backslashes)
{
    char *s = json_of("a\"b\\c\"", 6);
    ASSERT_EQ_STR(s, "\"a\\\"b\\\\c\\\"\"");
    free(s);
}

TEST(json_string_escapes_the_short_control_characters)
{
    char *s = json_of("\n\r\t\b\f", 5);
    ASSERT_EQ_STR(s, "\"\\n\\r\\t\\b\\f\"");
    free(s);
}

TEST(json_string_escapes_other_control_characters_as_u00XX)
{
    char *s = json_of("\x01\x1f\x0b", 3);
    ASSERT_EQ_STR(s, "\"\\u0001\\u001f\\u000b\"");
    free(s);
    s = json_of("a\0b", 3); /* an embedded NUL, counted by len */
    ASSERT_EQ_STR(s, "\"a\\u0000b\"");
    free(s);
}

TEST(json_string_escapes_delete_0x7f)
{
    char *s = json_of("x\x7fy", 3);
    ASSERT_EQ_STR(s, "\"x\\u007fy\"");
    free(s);
}

TEST(json_string_passes_utf8_through_unchanged)
{
    const char *text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* café € 😀 */
    char *s = json_of(text, strlen(text));
    char want[64];
    snprintf(want, sizeof(want), "\"%s\"", text);
    ASSERT_EQ_STR(s, want);
    free(s);
}

TEST(json_string_escapes_in_the_middle_of_runs)
{
    char *s = json_of("ab\"cd\ne", 7);
    ASSERT_EQ_STR(s, "\"ab\\\"cd\\ne\"");
    free(s);
}

TEST(json_string_that_fits_the_cap_exactly_succeeds)
{
    buf b;
    buf_init(&b, 4); /* "ab" plus quotes */
    ASSERT_EQ_INT(buf_append_json_str(&b, "ab"), 0);
    ASSERT_EQ_STR(b.data, "\"ab\"");
    buf_free(&b);
}

/* buf.h: "Every append either succeeds whole or fails with the buffer left as it was". */
TEST(json_string_append_past_the_cap_leaves_the_buffer_unchanged)
{
    buf b;
    buf_init(&b, 8);
    int first = buf_append_str(&b, "x:");
    int rc = buf_append_json_str(&b, "abcdefgh");
    bool failed = b.failed;
    size_t len = b.len;
    char got[16];
    snprintf(got, sizeof(got), "%s", b.data);
    buf_free(&b);
    ASSERT_EQ_INT(first, 0);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_TRUE(failed);
    ASSERT_EQ_STR(got, "x:");
    ASSERT_EQ_INT(len, 2);
}

TEST(buf_append_json_plain_quotes_without_escaping_and_respects_the_cap)
{
    buf b;
    buf_init(&b, 12);
    ASSERT_EQ_INT(buf_append_json_plain(&b, "A12"), 0);
    ASSERT_EQ_STR(b.data, "\"A12\"");
    ASSERT_EQ_INT(buf_append_json_plain(&b, "0123456"), -1); /* 5 + 9 > 12: nothing of it */
    ASSERT_TRUE(b.failed);
    ASSERT_EQ_STR(b.data, "\"A12\"");
    buf_free(&b);
}
