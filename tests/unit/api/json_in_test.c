/* json_in: what request bodies and fields are acceptable, with a message naming the field. */
#include "../test.h"

#include "api/json_in.h"

#include <stdlib.h>

/* Parse body from an exactly-sized heap copy (no NUL after it), so that ASan sees any read
 * past len. */
static api_json_status parse_exact(const char *body, size_t len, cJSON **out, char *err)
{
    char *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, body, len);
    api_json_status st = api_json_parse_object(copy, len, out, err);
    free(copy);
    return st;
}

static api_json_status parse(const char *body)
{
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN] = "";
    api_json_status st = parse_exact(body, strlen(body), &root, err);
    if (st == API_JSON_OK && !root) return (api_json_status)-1;
    if (st != API_JSON_OK && (root || !err[0])) return (api_json_status)-2;
    cJSON_Delete(root);
    return st;
}

/* Parse a body that the test knows is a valid object. */
static cJSON *object(const char *body)
{
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN];
    if (api_json_parse_object(body, strlen(body), &root, err) != API_JSON_OK) return NULL;
    return root;
}

/* A body of depth nested objects: {"a":{"a":...{}...}}. */
static char *nested_objects(int depth)
{
    char *s = malloc((size_t)depth * 6 + 1), *p = s;
    for (int i = 0; i < depth - 1; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < depth - 1; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

/* {"a":[[...[]...]]}: one object plus arrays, depth levels in all. */
static char *nested_arrays(int depth)
{
    char *s = malloc((size_t)depth * 2 + 16), *p = s;
    p += sprintf(p, "{\"a\":");
    for (int i = 0; i < depth - 1; i++)
        *p++ = '[';
    for (int i = 0; i < depth - 1; i++)
        *p++ = ']';
    *p++ = '}';
    *p = '\0';
    return s;
}

TEST(json_parse_accepts_an_object_with_surrounding_whitespace)
{
    ASSERT_EQ_INT(parse("{\"a\":1}"), API_JSON_OK);
    ASSERT_EQ_INT(parse("  \t\r\n{ \"a\" : [1, 2, {\"b\": null}] }\n\r\t "), API_JSON_OK);
    ASSERT_EQ_INT(parse("{}"), API_JSON_OK);
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN];
    const char *body = "{\"name\":\"x\"}";
    ASSERT_EQ_INT(api_json_parse_object(body, strlen(body), &root, err), API_JSON_OK);
    ASSERT_TRUE(cJSON_IsObject(root));
    ASSERT_EQ_STR(cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring, "x");
    cJSON_Delete(root);
}

TEST(json_parse_rejects_an_empty_body_as_malformed)
{
    cJSON *root = (cJSON *)1;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_parse_object("", 0, &root, err), API_JSON_MALFORMED);
    ASSERT_NULL(root);
    ASSERT_CONTAINS(err, "empty");
    ASSERT_EQ_INT(parse("   \n"), API_JSON_MALFORMED);
}

TEST(json_parse_rejects_malformed_json)
{
    static const char *const bad[] = {
        "{",
        "}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{'a':1}",
        "{a:1}",
        "{\"a\" 1}",
        "{\"a\":tru}",
        "{\"a\":\"x}",
        "nul",
        "{\"a\":[1,}",
        "{\"a\":NaN}",
        "{\"a\":\"\\x\"}",
        /* what lenient cJSON would take but RFC 8259 does not */
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":+1}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "\xef\xbb\xbf{}",
        "\v{}",
        "{\v}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\U0041\"}",
        "{\"a\":True}",
        "{\"a\" : [1 2]}",
        "{\"a\":1 \"b\":2}",
        NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        if (parse(bad[i]) != API_JSON_MALFORMED) {
            test_fail(__FILE__, __LINE__, "%s: want malformed, got %d", bad[i], parse(bad[i]));
            return;
        }
    }
}

TEST(json_parse_rejects_trailing_garbage)
{
    static const char *const bad[] = {"{} x",     "{}{}", "{\"a\":1} 1", "{}]",
                                      "{} /* */", "{}\v", NULL};
    for (size_t i = 0; bad[i]; i++) {
        if (parse(bad[i]) != API_JSON_MALFORMED) {
            test_fail(__FILE__, __LINE__, "%s: want malformed, got %d", bad[i], parse(bad[i]));
            return;
        }
    }
    /* An embedded NUL counts as garbage too (len covers it). */
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(parse_exact("{}\0 ", 4, &root, err), API_JSON_MALFORMED);
    ASSERT_NULL(root);
    ASSERT_EQ_INT(parse_exact("{\"a\":1}\0", 8, &root, err), API_JSON_MALFORMED);
    ASSERT_NULL(root);
}

TEST(json_parse_names_the_byte_where_it_went_wrong)
{
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(parse_exact("{}  x", 5, &root, err), API_JSON_MALFORMED);
    ASSERT_CONTAINS(err, "byte 4");
    ASSERT_EQ_INT(parse_exact("{\"a\":01}", 8, &root, err), API_JSON_MALFORMED);
    ASSERT_CONTAINS(err, "byte 6");
}

TEST(json_parse_reads_only_len_bytes)
{
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN];
    /* Truncated bodies in exactly-sized buffers: ASan catches any read past the end. */
    static const char *const bodies[] = {
        "{\"a\":", "{\"a\":\"abc", "{\"a\":12", "{\"a\":tr", "{\"a\":[", "{", NULL};
    for (size_t i = 0; bodies[i]; i++) {
        if (parse_exact(bodies[i], strlen(bodies[i]), &root, err) != API_JSON_MALFORMED) {
            test_fail(__FILE__, __LINE__, "%s: want malformed", bodies[i]);
            return;
        }
    }
    ASSERT_EQ_INT(parse_exact("{\"a\":1}", 7, &root, err), API_JSON_OK);
    cJSON_Delete(root);
    /* len shorter than the text: only the prefix counts */
    ASSERT_EQ_INT(api_json_parse_object("{}garbage", 2, &root, err), API_JSON_OK);
    cJSON_Delete(root);
}

TEST(json_parse_rejects_other_json_values_as_not_an_object)
{
    static const char *const values[] = {"[]",   "[{}]", "1",     "-2.5", "\"s\"",
                                         "null", "true", "false", NULL};
    for (size_t i = 0; values[i]; i++) {
        if (parse(values[i]) != API_JSON_NOT_OBJECT) {
            test_fail(__FILE__, __LINE__, "%s: want not-object, got %d", values[i],
                      parse(values[i]));
            return;
        }
    }
}

TEST(json_parse_accepts_nesting_up_to_the_limit)
{
    char *s = nested_objects(API_JSON_NESTING_MAX);
    ASSERT_EQ_INT(parse(s), API_JSON_OK);
    free(s);
    s = nested_arrays(API_JSON_NESTING_MAX);
    ASSERT_EQ_INT(parse(s), API_JSON_OK);
    free(s);
}

TEST(json_parse_rejects_nesting_past_the_limit)
{
    char *s = nested_objects(API_JSON_NESTING_MAX + 1);
    ASSERT_EQ_INT(parse(s), API_JSON_MALFORMED);
    free(s);
    s = nested_arrays(API_JSON_NESTING_MAX + 1);
    ASSERT_EQ_INT(parse(s), API_JSON_MALFORMED);
    free(s);
    s = nested_arrays(100000); /* far past cJSON's own limit, without deep recursion */
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_parse_object(s, strlen(s), &root, err), API_JSON_MALFORMED);
    ASSERT_CONTAINS(err, "nested");
    free(s);
}

TEST(json_parse_does_not_count_brackets_inside_strings)
{
    char body[256];
    char brackets[101];
    memset(brackets, '[', 100);
    brackets[100] = '\0';
    snprintf(body, sizeof(body), "{\"a\":\"%s\",\"b\":\"\\\"{{{{\"}", brackets);
    ASSERT_EQ_INT(parse(body), API_JSON_OK);
}

TEST(json_string_reads_a_present_string)
{
    cJSON *o = object("{\"name\":\"caf\xc3\xa9\",\"n\":1}");
    ASSERT_NOT_NULL(o);
    const char *out = NULL;
    char err[API_JSON_ERR_LEN];
    ASSERT_EQ_INT(api_json_string(o, "name", true, 1, 64, &out, err), 0);
    ASSERT_EQ_STR(out, "caf\xc3\xa9");
    cJSON_Delete(o);
}

TEST(json_string_missing_is_an_error_only_when_required)
{
    cJSON *o = object("{\"other\":\"x\"}");
    const char *out = "unchanged";
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_string(o, "name", false, 1, 64, &out, err), 0);
    ASSERT_EQ_STR(out, "unchanged");
    ASSERT_EQ_INT(api_json_string(o, "name", true, 1, 64, &out, err), -1);
    ASSERT_CONTAINS(err, "'name'");
    ASSERT_CONTAINS(err, "required");
    ASSERT_EQ_INT(api_json_string(o, "Other", true, 1, 64, &out, err), -1); /* case matters */
    cJSON_Delete(o);
}

TEST(json_string_rejects_other_types)
{
    static const char *const bodies[] = {"{\"s\":1}",       "{\"s\":null}", "{\"s\":true}",
                                         "{\"s\":[\"x\"]}", "{\"s\":{}}",   NULL};
    for (size_t i = 0; bodies[i]; i++) {
        cJSON *o = object(bodies[i]);
        const char *out = NULL;
        char err[API_JSON_ERR_LEN] = "";
        int rc = api_json_string(o, "s", true, 0, 64, &out, err);
        cJSON_Delete(o);
        if (rc != -1 || !strstr(err, "'s'")) {
            test_fail(__FILE__, __LINE__, "%s: want -1 naming 's', got %d (%s)", bodies[i], rc,
                      err);
            return;
        }
    }
}

TEST(json_string_bounds_are_inclusive_and_in_bytes)
{
    cJSON *o = object("{\"s\":\"abcd\",\"e\":\"\",\"u\":\"\xc3\xa9\xc3\xa9\"}");
    const char *out;
    char err[API_JSON_ERR_LEN];
    ASSERT_EQ_INT(api_json_string(o, "s", true, 4, 4, &out, err), 0);
    ASSERT_EQ_INT(api_json_string(o, "s", true, 5, 10, &out, err), -1);
    ASSERT_EQ_INT(api_json_string(o, "s", true, 1, 3, &out, err), -1);
    ASSERT_EQ_INT(api_json_string(o, "e", true, 0, 3, &out, err), 0);
    ASSERT_EQ_STR(out, "");
    ASSERT_EQ_INT(api_json_string(o, "e", true, 1, 3, &out, err), -1);
    ASSERT_EQ_INT(api_json_string(o, "u", true, 1, 4, &out, err), 0); /* 2 characters, 4 bytes */
    ASSERT_EQ_INT(api_json_string(o, "u", true, 1, 3, &out, err), -1);
    cJSON_Delete(o);
}

TEST(json_string_rejects_control_characters_and_bad_utf8)
{
    static const char *const bodies[] = {
        "{\"s\":\"a\\u0001b\"}",    "{\"s\":\"tab\\there\"}", "{\"s\":\"nl\\n\"}",
        "{\"s\":\"del\\u007f\"}",   "{\"s\":\"del\x7f\"}",    "{\"s\":\"bad\xc3\x28\"}",
        "{\"s\":\"\xed\xa0\x80\"}", "{\"s\":\"\xc0\xaf\"}",   NULL,
    };
    for (size_t i = 0; bodies[i]; i++) {
        cJSON *o = object(bodies[i]);
        if (!o) continue; /* cJSON itself refused it: fine too */
        const char *out = NULL;
        char err[API_JSON_ERR_LEN] = "";
        int rc = api_json_string(o, "s", true, 0, 64, &out, err);
        cJSON_Delete(o);
        if (rc != -1) {
            test_fail(__FILE__, __LINE__, "body %zu: want -1, got %d", i, rc);
            return;
        }
    }
}

TEST(json_string_accepts_escaped_unicode)
{
    cJSON *o = object("{\"s\":\"\\u00e9\\ud83d\\ude00\\\"\\\\\"}");
    const char *out = NULL;
    char err[API_JSON_ERR_LEN];
    ASSERT_EQ_INT(api_json_string(o, "s", true, 1, 64, &out, err), 0);
    ASSERT_EQ_STR(out, "\xc3\xa9\xf0\x9f\x98\x80\"\\");
    cJSON_Delete(o);
}

TEST(json_parse_refuses_strings_holding_an_escaped_nul_as_unprocessable)
{
    /* Valid JSON that cJSON cannot represent (it would cut "alice\u0000mallory" short). */
    static const char *const bodies[] = {"{\"user_id\":\"alice\\u0000mallory\"}",
                                         "{\"a\":[\"\\u0000\"]}", "{\"\\u0000\":1}", NULL};
    for (size_t i = 0; bodies[i]; i++) {
        cJSON *root = (cJSON *)1;
        char err[API_JSON_ERR_LEN] = "";
        api_json_status st = parse_exact(bodies[i], strlen(bodies[i]), &root, err);
        if (st != API_JSON_NOT_OBJECT || root != NULL || !strstr(err, "\\u0000")) {
            test_fail(__FILE__, __LINE__, "%s: want not-object naming \\u0000, got %d (%s)",
                      bodies[i], st, err);
            return;
        }
    }
    ASSERT_EQ_INT(parse("{\"a\":\"\\u0001\\u00000\\u1000\"}"), API_JSON_NOT_OBJECT);
    ASSERT_EQ_INT(parse("{\"a\":\"\\\\u0000\"}"),
                  API_JSON_OK); /* an escaped backslash, then text */
}

TEST(json_parse_rejects_raw_control_characters_and_bad_utf8_in_strings)
{
    static const char *const bad[] = {
        "{\"a\":\"x\ty\"}",         "{\"a\":\"x\ny\"}",
        "{\"a\":\"\x01\"}",         "{\"a\":\"\xc3\x28\"}",
        "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\xc0\xaf\"}",
        "{\"a\":\"\xff\"}",         "{\"\xc3\":1}",
        "{\"a\":\"\xe2\x82\"}",     NULL,
    };
    for (size_t i = 0; bad[i]; i++) {
        if (parse(bad[i]) != API_JSON_MALFORMED) {
            test_fail(__FILE__, __LINE__, "body %zu: want malformed, got %d", i, parse(bad[i]));
            return;
        }
    }
    /* raw DEL and multibyte text are valid JSON */
    ASSERT_EQ_INT(parse("{\"a\":\"\x7f caf\xc3\xa9 \xf0\x9f\x98\x80\"}"), API_JSON_OK);
}

/* The offset of the first bad byte, or (size_t)-1 when the text is one valid value. */
static size_t validate_at(const char *s, size_t len, bool *too_deep, bool *has_nul)
{
    size_t bad_at;
    return api_json_validate(s, len, &bad_at, too_deep, has_nul) ? (size_t)-1 : bad_at;
}

TEST(json_validate_accepts_one_valid_value)
{
    static const char *const good[] = {"{}",
                                       "[]",
                                       "1",
                                       "-0",
                                       "0.5",
                                       "-1.5e+3",
                                       "2E-2",
                                       "\"s\"",
                                       "true",
                                       "false",
                                       "null",
                                       " [1, {\"a\": [null]}] ",
                                       "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\ude00\"",
                                       NULL};
    for (size_t i = 0; good[i]; i++) {
        bool too_deep = true, has_nul = true;
        size_t len = strlen(good[i]);
        size_t at = validate_at(good[i], len, &too_deep, &has_nul);
        if (at != (size_t)-1 || too_deep || has_nul) {
            test_fail(__FILE__, __LINE__, "%s: got %zu of %zu (too_deep %d, has_nul %d)", good[i],
                      at, len, too_deep, has_nul);
            return;
        }
    }
}

TEST(json_validate_returns_the_offset_of_the_first_bad_byte)
{
    bool too_deep, has_nul;
    ASSERT_EQ_INT(validate_at("{\"a\":01}", 8, &too_deep, &has_nul), 6);
    ASSERT_FALSE(too_deep);
    ASSERT_EQ_INT(validate_at("[1,,2]", 6, &too_deep, &has_nul), 3);
    ASSERT_EQ_INT(validate_at("{} x", 4, &too_deep, &has_nul), 3);
    ASSERT_EQ_INT(validate_at("x", 1, &too_deep, &has_nul), 0);
    char deep[40];
    memset(deep, '[', sizeof(deep));
    ASSERT_EQ_INT(validate_at(deep, sizeof(deep), &too_deep, &has_nul), API_JSON_NESTING_MAX);
    ASSERT_TRUE(too_deep);
    ASSERT_EQ_INT(validate_at("[\"\\u0000\"]", 10, &too_deep, &has_nul), (size_t)-1);
    ASSERT_TRUE(has_nul);
}

/* A text that simply ends too early is not valid (regression: a truncated text used to be
 * reported with an offset equal to its length, which read as valid). */
TEST(json_validate_does_not_report_a_truncated_text_as_valid)
{
    static const char *const truncated[] = {"{\"a\":", "{\"a\":1", "[1,", "\"abc",          "-",
                                            "1e",      "{",        "[",   "{\"a\":\"\\u00", NULL};
    for (size_t i = 0; truncated[i]; i++) {
        bool too_deep, has_nul;
        size_t len = strlen(truncated[i]);
        size_t at = validate_at(truncated[i], len, &too_deep, &has_nul);
        if (at == (size_t)-1) {
            test_fail(__FILE__, __LINE__,
                      "truncated \"%s\" validated as one whole JSON value "
                      "(returned len %zu)",
                      truncated[i], len);
            return;
        }
    }
}

/* A truncated body is malformed JSON (400), whatever its strings held before the cut. */
TEST(json_parse_reports_a_truncated_body_with_an_escaped_nul_as_malformed)
{
    cJSON *root = NULL;
    char err[API_JSON_ERR_LEN] = "";
    const char *body = "{\"user_id\":\"a\\u0000";
    api_json_status st = parse_exact(body, strlen(body), &root, err);
    if (st != API_JSON_MALFORMED)
        test_fail(__FILE__, __LINE__, "want malformed (400), got %s (%s)",
                  st == API_JSON_NOT_OBJECT ? "not-object (422)" : "ok", err);
    cJSON_Delete(root);
}

TEST(json_int_reads_integers_in_range)
{
    cJSON *o = object("{\"a\":5,\"b\":-3,\"c\":0,\"d\":1e2,\"e\":-0,\"f\":100000000}");
    int64_t v = 0;
    char err[API_JSON_ERR_LEN];
    ASSERT_EQ_INT(api_json_int(o, "a", true, 1, 10, &v, err), 0);
    ASSERT_EQ_INT(v, 5);
    ASSERT_EQ_INT(api_json_int(o, "b", true, -10, 10, &v, err), 0);
    ASSERT_EQ_INT(v, -3);
    ASSERT_EQ_INT(api_json_int(o, "c", true, 0, 0, &v, err), 0);
    ASSERT_EQ_INT(v, 0);
    ASSERT_EQ_INT(api_json_int(o, "d", true, 0, 1000, &v, err), 0); /* 1e2 is the integer 100 */
    ASSERT_EQ_INT(v, 100);
    ASSERT_EQ_INT(api_json_int(o, "e", true, 0, 1, &v, err), 0);
    ASSERT_EQ_INT(v, 0);
    ASSERT_EQ_INT(api_json_int(o, "f", true, 0, 100000000, &v, err), 0);
    ASSERT_EQ_INT(v, 100000000);
    cJSON_Delete(o);
}

TEST(json_int_bounds_are_inclusive)
{
    cJSON *o = object("{\"lo\":1,\"hi\":10,\"under\":0,\"over\":11}");
    int64_t v = 0;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_int(o, "lo", true, 1, 10, &v, err), 0);
    ASSERT_EQ_INT(api_json_int(o, "hi", true, 1, 10, &v, err), 0);
    ASSERT_EQ_INT(v, 10);
    ASSERT_EQ_INT(api_json_int(o, "under", true, 1, 10, &v, err), -1);
    ASSERT_CONTAINS(err, "'under'");
    ASSERT_CONTAINS(err, "from 1 to 10");
    ASSERT_EQ_INT(api_json_int(o, "over", true, 1, 10, &v, err), -1);
    ASSERT_EQ_INT(v, 10); /* untouched by a failure */
    cJSON_Delete(o);
}

TEST(json_int_rejects_fractions_infinities_negatives_and_other_types)
{
    static const char *const bodies[] = {
        "{\"n\":1.5}",  "{\"n\":0.0001}", "{\"n\":1e400}", "{\"n\":-1e400}",
        "{\"n\":-1}",   "{\"n\":1e19}",   "{\"n\":\"5\"}", "{\"n\":true}",
        "{\"n\":null}", "{\"n\":[5]}",    "{\"n\":{}}",    "{\"n\":10.5}",
        NULL,
    };
    for (size_t i = 0; bodies[i]; i++) {
        cJSON *o = object(bodies[i]);
        ASSERT_NOT_NULL(o);
        int64_t v = 77;
        char err[API_JSON_ERR_LEN] = "";
        int rc = api_json_int(o, "n", true, 0, 1000000, &v, err);
        cJSON_Delete(o);
        if (rc != -1 || v != 77 || !strstr(err, "'n'")) {
            test_fail(__FILE__, __LINE__, "%s: want -1, got %d (value %lld)", bodies[i], rc,
                      (long long)v);
            return;
        }
    }
}

TEST(json_int_missing_is_an_error_only_when_required)
{
    cJSON *o = object("{}");
    int64_t v = 600;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_int(o, "ttl", false, 1, 10, &v, err), 0);
    ASSERT_EQ_INT(v, 600); /* the default stays */
    ASSERT_EQ_INT(api_json_int(o, "ttl", true, 1, 10, &v, err), -1);
    ASSERT_CONTAINS(err, "'ttl'");
    cJSON_Delete(o);
}

/* The whole int64 range as bounds: 2^63 (what 9223372036854775807 becomes as a double) is
 * past INT64_MAX and must be refused, not converted (which is undefined behaviour). */
TEST(json_int_refuses_values_past_int64_max_even_with_full_range_bounds)
{
    cJSON *o = object("{\"n\":9223372036854775808}");
    int64_t v = 77;
    char err[API_JSON_ERR_LEN] = "";
    int rc = api_json_int(o, "n", true, INT64_MIN, INT64_MAX, &v, err);
    cJSON_Delete(o);
    if (rc == 0) {
        test_fail(__FILE__, __LINE__,
                  "2^63 accepted within [INT64_MIN, INT64_MAX] and converted to %lld",
                  (long long)v);
        return;
    }
    ASSERT_EQ_INT(rc, -1);
}

TEST(json_array_takes_one_to_count_max_items)
{
    cJSON *o = object("{\"one\":[1],\"three\":[1,2,3],\"empty\":[],\"obj\":{\"a\":1},"
                      "\"str\":\"abc\",\"nul\":null}");
    const cJSON *arr = NULL;
    char err[API_JSON_ERR_LEN] = "";
    ASSERT_EQ_INT(api_json_array(o, "one", 3, &arr, err), 0);
    ASSERT_EQ_INT(cJSON_GetArraySize(arr), 1);
    ASSERT_EQ_INT(api_json_array(o, "three", 3, &arr, err), 0);
    ASSERT_EQ_INT(cJSON_GetArraySize(arr), 3);
    arr = NULL;
    ASSERT_EQ_INT(api_json_array(o, "three", 2, &arr, err), -1);
    ASSERT_NULL(arr);
    ASSERT_CONTAINS(err, "'three'");
    ASSERT_CONTAINS(err, "1 to 2");
    ASSERT_EQ_INT(api_json_array(o, "empty", 3, &arr, err), -1);
    ASSERT_EQ_INT(api_json_array(o, "obj", 3, &arr, err), -1);
    ASSERT_EQ_INT(api_json_array(o, "str", 3, &arr, err), -1);
    ASSERT_EQ_INT(api_json_array(o, "nul", 3, &arr, err), -1);
    ASSERT_EQ_INT(api_json_array(o, "missing", 3, &arr, err), -1);
    ASSERT_CONTAINS(err, "'missing'");
    cJSON_Delete(o);
}
