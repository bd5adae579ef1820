/* fuzz_utf8: the checks of untrusted text (src/util/text.c) and the JSON string path that
 * depends on them, against references written from the standards.
 *
 * Input: any bytes.
 *
 * Checked:
 *   - text_is_utf8 agrees with a decoder built from Table 3-7 of the Unicode Standard
 *     ("Well-Formed UTF-8 Byte Sequences"); text_is_clean_utf8 agrees with it plus "no
 *     U+0000..U+001F, no U+007F";
 *   - text_is_slug and text_is_alnum agree with their one-line definitions, for every cap;
 *   - the JSON scanner agrees: the input between quotes (when it holds no '"', '\' or
 *     control byte) is a valid JSON text exactly when it is UTF-8;
 *   - what tix writes is what it reads: valid UTF-8 written by buf_append_json_string is
 *     strict JSON, and cJSON reads the same bytes back;
 *   - text_make_utf8 leaves UTF-8 as it is and turns anything else into UTF-8 of the same
 *     length, changing only bytes that did not start a well-formed sequence, into '?'. */
#include "check.h"

#include "api/json_in.h"
#include "util/buf.h"
#include "util/text.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool fx_ref_utf8(const uint8_t *s, size_t n, bool clean)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (clean && (c < 0x20 || c == 0x7f)) return false;
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf; /* the range of the second byte */
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c == 0xe0)
            need = 2, lo = 0xa0;
        else if (c >= 0xe1 && c <= 0xec)
            need = 2;
        else if (c == 0xed)
            need = 2, hi = 0x9f;
        else if (c >= 0xee && c <= 0xef)
            need = 2;
        else if (c == 0xf0)
            need = 3, lo = 0x90;
        else if (c >= 0xf1 && c <= 0xf3)
            need = 3;
        else if (c == 0xf4)
            need = 3, hi = 0x8f;
        else
            return false;
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf) return false;
        i += need + 1;
    }
    return true;
}

static bool fx_is_alnum(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool fx_ref_shape(const uint8_t *s, size_t n, size_t cap, bool slug)
{
    if (n == 0 || n > cap) return false;
    for (size_t i = 0; i < n; i++)
        if (!fx_is_alnum(s[i]) && !(slug && (s[i] == '-' || s[i] == '_'))) return false;
    return true;
}

static void fx_check_json_string(const char *s, size_t n, bool utf8)
{
    bool plain = true;
    for (size_t i = 0; i < n && plain; i++)
        plain = s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20;
    size_t bad_at;
    bool too_deep, has_nul;
    if (plain) {
        char *quoted = malloc(n + 2);
        if (!quoted) return;
        quoted[0] = '"';
        memcpy(quoted + 1, s, n);
        quoted[n + 1] = '"';
        bool ok = api_json_validate(quoted, n + 2, &bad_at, &too_deep, &has_nul);
        FX_CHECK(ok == utf8, "a quoted string: scanner %d, UTF-8 %d", ok, utf8);
        free(quoted);
    }
    if (!utf8) return;
    buf b;
    buf_init(&b, 8 * n + 16);
    FX_CHECK(buf_append_json_string(&b, s, n) == 0, "buf_append_json_string failed");
    bool ok = api_json_validate(b.data, b.len, &bad_at, &too_deep, &has_nul);
    FX_CHECK(ok && has_nul == (memchr(s, '\0', n) != NULL),
             "written string is not strict JSON (byte %zu): %s", bad_at, b.data);
    if (!has_nul) {
        cJSON *back = cJSON_ParseWithLength(b.data, b.len);
        FX_CHECK(cJSON_IsString(back) && strlen(back->valuestring) == n &&
                     memcmp(back->valuestring, s, n) == 0,
                 "cJSON reads back something else than was written: %s", b.data);
        cJSON_Delete(back);
    }
    buf_free(&b);
}

static void fx_check_make_utf8(const char *s, size_t n)
{
    size_t len = strnlen(s, n); /* it takes a C string: up to the first NUL */
    char *copy = malloc(len + 1);
    if (!copy) return;
    memcpy(copy, s, len);
    copy[len] = '\0';
    bool was_utf8 = text_is_utf8(copy, len);
    text_make_utf8(copy);
    FX_CHECK(strlen(copy) == len && text_is_utf8(copy, len), "text_make_utf8 left no UTF-8");
    for (size_t i = 0; i < len; i++)
        FX_CHECK(copy[i] == s[i] || (copy[i] == '?' && !was_utf8),
                 "text_make_utf8 changed byte %zu of %zu to %02x", i, len, (unsigned char)copy[i]);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1); /* exactly the input: no NUL after it */
    if (!s) return 0;
    memcpy(s, data, size);
    bool utf8 = text_is_utf8(s, size);
    FX_CHECK(utf8 == fx_ref_utf8(data, size, false), "text_is_utf8 says %d", utf8);
    bool clean = text_is_clean_utf8(s, size);
    FX_CHECK(clean == fx_ref_utf8(data, size, true), "text_is_clean_utf8 says %d", clean);
    size_t caps[] = {0, 1, 16, 64, size, size ? size - 1 : 0};
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
        FX_CHECK(text_is_slug(s, size, caps[i]) == fx_ref_shape(data, size, caps[i], true),
                 "text_is_slug, cap %zu", caps[i]);
        FX_CHECK(text_is_alnum(s, size, caps[i]) == fx_ref_shape(data, size, caps[i], false),
                 "text_is_alnum, cap %zu", caps[i]);
    }
    fx_check_json_string(s, size, utf8);
    fx_check_make_utf8(s, size);
    free(s);
    return 0;
}
