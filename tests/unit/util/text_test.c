/* text: the UTF-8 validator and the identifier shapes. */
#include "../test.h"

#include "util/text.h"

static bool clean(const char *s)
{
    return text_is_clean_utf8(s, strlen(s));
}

/* Check every string of a NULL-terminated list against want. */
#define ASSERT_ALL_CLEAN(list, want)                                                               \
    do {                                                                                           \
        for (size_t i_ = 0; (list)[i_]; i_++) {                                                    \
            if (clean((list)[i_]) != (want)) {                                                     \
                test_fail(__FILE__, __LINE__, "case %zu: text_is_clean_utf8 should be %s", i_,     \
                          (want) ? "true" : "false");                                              \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

TEST(utf8_accepts_ascii_text_and_the_empty_string)
{
    ASSERT_TRUE(clean("hello, world ~ !"));
    ASSERT_TRUE(text_is_clean_utf8("", 0));
}

TEST(utf8_accepts_well_formed_multibyte_sequences)
{
    static const char *const good[] = {
        "\xc2\x80",         /* U+0080, the smallest two-byte value */
        "caf\xc3\xa9",      /* é */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800, the smallest three-byte value */
        "\xe2\x82\xac",     /* € */
        "\xed\x9f\xbf",     /* U+D7FF, just below the surrogates */
        "\xee\x80\x80",     /* U+E000, just above them */
        "\xef\xbf\xbd",     /* U+FFFD */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000, the smallest four-byte value */
        "\xf0\x9f\x98\x80", /* 😀 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the largest */
        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e a \xc3\xa9",
        NULL,
    };
    ASSERT_ALL_CLEAN(good, true);
}

TEST(utf8_rejects_overlong_encodings)
{
    static const char *const bad[] = {
        "\xc0\x80", /* NUL in two bytes */
        "\xc0\xaf", /* '/' in two bytes */
        "\xc1\xbf",
        "\xe0\x80\x80",
        "\xe0\x9f\xbf", /* U+07FF in three bytes */
        "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", /* U+FFFF in four bytes */
        NULL,
    };
    ASSERT_ALL_CLEAN(bad, false);
}

TEST(utf8_rejects_surrogates)
{
    static const char *const bad[] = {
        "\xed\xa0\x80",             /* U+D800 */
        "\xed\xaf\xbf",             /* U+DBFF */
        "\xed\xb0\x80",             /* U+DC00 */
        "\xed\xbf\xbf",             /* U+DFFF */
        "\xed\xa0\xbd\xed\xb8\x80", /* a CESU-8 surrogate pair */
        NULL,
    };
    ASSERT_ALL_CLEAN(bad, false);
}

TEST(utf8_rejects_values_past_u10ffff_and_invalid_lead_bytes)
{
    static const char *const bad[] = {
        "\xf4\x90\x80\x80", /* U+110000 */
        "\xf5\x80\x80\x80",
        "\xf7\xbf\xbf\xbf",
        "\xf8\x88\x80\x80\x80", /* five-byte form */
        "\xfc\x84\x80\x80\x80\x80",
        "\xfe",
        "\xff",
        NULL,
    };
    ASSERT_ALL_CLEAN(bad, false);
}

TEST(utf8_rejects_truncated_sequences_and_stray_continuation_bytes)
{
    static const char *const bad[] = {
        "\xc3",
        "a\xc3",
        "\xc3z",
        "\xe2\x82",
        "\xe2\x82z",
        "\xf0\x9f\x98",
        "\xf0\x9f",
        "\xf0\x9f\x98 x",
        "\x80",
        "\xbf",
        "a\x80"
        "b",
        "\xc3\xa9\xa9",
        "\xe2\xc3\xa9",
        NULL,
    };
    ASSERT_ALL_CLEAN(bad, false);
}

TEST(utf8_is_bounded_by_len_not_by_nul)
{
    const char *euro = "\xe2\x82\xac";
    ASSERT_TRUE(text_is_clean_utf8(euro, 3));
    ASSERT_FALSE(text_is_clean_utf8(euro, 2)); /* cut inside the character */
    ASSERT_FALSE(text_is_clean_utf8(euro, 1));
    ASSERT_TRUE(text_is_clean_utf8("abc\xff", 3)); /* the bad byte is past len */
}

TEST(utf8_rejects_control_characters)
{
    static const char *const bad[] = {
        "\x01", "a\x1f", "tab\there", "line\nbreak", "cr\r", "\x1b[31m", "del\x7f", NULL,
    };
    ASSERT_ALL_CLEAN(bad, false);
    ASSERT_FALSE(text_is_clean_utf8("a\0b", 3));                 /* an embedded NUL */
    ASSERT_TRUE(clean(" "));                                     /* U+0020 is the first allowed */
    ASSERT_TRUE(clean("~"));                                     /* U+007E the last ASCII one */
    ASSERT_FALSE(clean("a long run of plain ASCII, then \xff")); /* decoded after a run */
}

TEST(slug_accepts_letters_digits_dash_and_underscore)
{
    ASSERT_TRUE(text_is_slug("nba-finals_2027", 15, 64));
    ASSERT_TRUE(text_is_slug("a", 1, 64));
    ASSERT_TRUE(text_is_slug("-_", 2, 64));
    ASSERT_TRUE(text_is_slug("ABCxyz019", 9, 64));
}

TEST(slug_enforces_length_from_one_to_len_max)
{
    ASSERT_FALSE(text_is_slug("", 0, 64));
    ASSERT_TRUE(text_is_slug("abcd", 4, 4));
    ASSERT_FALSE(text_is_slug("abcde", 5, 4));
    char long_id[66];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    ASSERT_TRUE(text_is_slug(long_id, 64, 64));
    ASSERT_FALSE(text_is_slug(long_id, 65, 64));
}

TEST(slug_rejects_every_other_character)
{
    static const char *const bad[] = {"a b", "a/b", "a.b", "a%2F", "caf\xc3\xa9", "a:b",
                                      "a?b", "a#b", "a+b", "..",   "a\\b",        NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (text_is_slug(bad[i], strlen(bad[i]), 64)) {
            test_fail(__FILE__, __LINE__, "\"%s\" is not a slug", bad[i]);
            return;
        }
    }
    ASSERT_FALSE(text_is_slug("ab\0c", 4, 64));
}

TEST(alnum_accepts_only_letters_and_digits)
{
    ASSERT_TRUE(text_is_alnum("A1", 2, 16));
    ASSERT_TRUE(text_is_alnum("AA", 2, 16));
    ASSERT_TRUE(text_is_alnum("z9Z0", 4, 16));
    ASSERT_FALSE(text_is_alnum("a-b", 3, 16));
    ASSERT_FALSE(text_is_alnum("a_b", 3, 16));
    ASSERT_FALSE(text_is_alnum(" A", 2, 16));
    ASSERT_FALSE(text_is_alnum("\xc3\xa9", 2, 16));
    ASSERT_FALSE(text_is_alnum("", 0, 16));
    ASSERT_TRUE(text_is_alnum("ABCDEFGHIJKLMNOP", 16, 16));
    ASSERT_FALSE(text_is_alnum("ABCDEFGHIJKLMNOPQ", 17, 16));
}

TEST(utf8_without_the_control_rule_accepts_control_characters)
{
    ASSERT_TRUE(text_is_utf8("tab\there\nnew\x7f", 13));
    ASSERT_TRUE(text_is_utf8("a\0b", 3));
    ASSERT_TRUE(text_is_utf8("\x01\xc3\xa9", 3));
    ASSERT_TRUE(text_is_utf8("", 0));
}

TEST(utf8_without_the_control_rule_still_rejects_malformed_sequences)
{
    static const char *const bad[] = {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc3",
                                      "\x80",     "\xff",         "\xe0\x9f\xbf",     NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (text_is_utf8(bad[i], strlen(bad[i]))) {
            test_fail(__FILE__, __LINE__, "case %zu accepted", i);
            return;
        }
    }
}
