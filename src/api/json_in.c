/* json_in: see json_in.h. cJSON does the parsing; this file decides what is acceptable. */
#include "api/json_in.h"

#include "util/text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A strict RFC 8259 check of the text before cJSON (which is lenient: it takes "01", for
 * one) parses it: grammar, string escapes, no raw control characters, well-formed UTF-8, and
 * nesting of at most API_JSON_NESTING_MAX levels. Returns the offset of the first bad byte,
 * or len when the whole text is one valid JSON value with only whitespace around it. */
typedef struct api_json__scan {
    const char *s;
    size_t len, at;
    int depth;
    bool has_nul; /* a string holds \u0000, which cJSON cannot represent */
} api_json__scan;

static bool api_json__value(api_json__scan *p);

static void api_json__ws(api_json__scan *p)
{
    while (p->at < p->len && (p->s[p->at] == ' ' || p->s[p->at] == '\n' || p->s[p->at] == '\r' ||
                              p->s[p->at] == '\t'))
        p->at++;
}

static bool api_json__lit(api_json__scan *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->at < n || memcmp(p->s + p->at, word, n) != 0) return false;
    p->at += n;
    return true;
}

static bool api_json__digits(api_json__scan *p)
{
    size_t start = p->at;
    while (p->at < p->len && p->s[p->at] >= '0' && p->s[p->at] <= '9')
        p->at++;
    return p->at > start;
}

static bool api_json__number(api_json__scan *p)
{
    if (p->at < p->len && p->s[p->at] == '-') p->at++;
    if (p->at < p->len && p->s[p->at] == '0')
        p->at++;
    else if (!api_json__digits(p))
        return false;
    if (p->at < p->len && p->s[p->at] == '.') {
        p->at++;
        if (!api_json__digits(p)) return false;
    }
    if (p->at < p->len && (p->s[p->at] == 'e' || p->s[p->at] == 'E')) {
        p->at++;
        if (p->at < p->len && (p->s[p->at] == '+' || p->s[p->at] == '-')) p->at++;
        if (!api_json__digits(p)) return false;
    }
    return true;
}

static bool api_json__string(api_json__scan *p)
{
    p->at++; /* opening quote */
    size_t run = p->at;
    while (p->at < p->len) {
        unsigned char c = (unsigned char)p->s[p->at];
        if (c == '"') {
            if (!text_is_utf8(p->s + run, p->at - run)) return false;
            p->at++;
            return true;
        }
        if (c < 0x20) return false;
        if (c == '\\') {
            if (!text_is_utf8(p->s + run, p->at - run)) return false;
            if (++p->at >= p->len) return false;
            char e = p->s[p->at];
            if (e == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (p->at + k >= p->len || !strchr("0123456789abcdefABCDEF", p->s[p->at + k]) ||
                        !p->s[p->at + k])
                        return false;
                if (memcmp(p->s + p->at + 1, "0000", 4) == 0) p->has_nul = true;
                p->at += 4;
            } else if (!strchr("\"\\/bfnrt", e) || !e) {
                return false;
            }
            run = p->at + 1;
        }
        p->at++;
    }
    return false;
}

static bool api_json__container(api_json__scan *p, char close, bool object)
{
    if (++p->depth > API_JSON_NESTING_MAX) return false;
    p->at++;
    api_json__ws(p);
    if (p->at < p->len && p->s[p->at] == close) {
        p->at++;
        p->depth--;
        return true;
    }
    for (;;) {
        if (object) {
            if (p->at >= p->len || p->s[p->at] != '"' || !api_json__string(p)) return false;
            api_json__ws(p);
            if (p->at >= p->len || p->s[p->at] != ':') return false;
            p->at++;
        }
        if (!api_json__value(p)) return false;
        if (p->at < p->len && p->s[p->at] == ',') {
            p->at++;
            api_json__ws(p);
            continue;
        }
        if (p->at < p->len && p->s[p->at] == close) {
            p->at++;
            p->depth--;
            return true;
        }
        return false;
    }
}

static bool api_json__value(api_json__scan *p)
{
    api_json__ws(p);
    if (p->at >= p->len) return false;
    bool ok;
    switch (p->s[p->at]) {
    case '{':
        ok = api_json__container(p, '}', true);
        break;
    case '[':
        ok = api_json__container(p, ']', false);
        break;
    case '"':
        ok = api_json__string(p);
        break;
    case 't':
        ok = api_json__lit(p, "true");
        break;
    case 'f':
        ok = api_json__lit(p, "false");
        break;
    case 'n':
        ok = api_json__lit(p, "null");
        break;
    default:
        ok = api_json__number(p);
        break;
    }
    if (ok) api_json__ws(p);
    return ok;
}

bool api_json_validate(const char *s, size_t len, size_t *bad_at, bool *too_deep, bool *has_nul)
{
    api_json__scan p = {s, len, 0, 0, false};
    bool ok = api_json__value(&p) && p.at == len;
    *too_deep = !ok && p.depth > API_JSON_NESTING_MAX;
    *has_nul = ok && p.has_nul;
    *bad_at = ok ? len : p.at;
    return ok;
}

api_json_status api_json_parse_object(const char *body, size_t len, cJSON **out, char *err)
{
    *out = NULL;
    if (len == 0) {
        snprintf(err, API_JSON_ERR_LEN, "the request body is empty; a JSON object is expected");
        return API_JSON_MALFORMED;
    }
    bool too_deep, has_nul;
    size_t bad_at;
    if (!api_json_validate(body, len, &bad_at, &too_deep, &has_nul)) {
        if (too_deep)
            snprintf(err, API_JSON_ERR_LEN, "JSON nested deeper than %d levels",
                     API_JSON_NESTING_MAX);
        else
            snprintf(err, API_JSON_ERR_LEN, "malformed JSON at byte %zu", bad_at);
        return API_JSON_MALFORMED;
    }
    if (has_nul) {
        snprintf(err, API_JSON_ERR_LEN, "strings must not contain \\u0000");
        return API_JSON_NOT_OBJECT;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root) {
        snprintf(err, API_JSON_ERR_LEN, "malformed JSON");
        return API_JSON_MALFORMED;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, API_JSON_ERR_LEN, "the request body must be a JSON object");
        return API_JSON_NOT_OBJECT;
    }
    *out = root;
    return API_JSON_OK;
}

int api_json_string(const cJSON *obj, const char *name, bool required, size_t len_min,
                    size_t len_max, const char **out, char *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item) {
        if (!required) return 0;
        snprintf(err, API_JSON_ERR_LEN, "field '%s' is required", name);
        return -1;
    }
    size_t len = cJSON_IsString(item) ? strlen(item->valuestring) : 0;
    /* cJSON stops a string at an escaped \u0000; clean UTF-8 rules out control characters */
    if (!cJSON_IsString(item) || len < len_min || len > len_max ||
        !text_is_clean_utf8(item->valuestring, len)) {
        snprintf(err, API_JSON_ERR_LEN,
                 "field '%s' must be a string of %zu to %zu bytes of UTF-8 text without control "
                 "characters",
                 name, len_min, len_max);
        return -1;
    }
    *out = item->valuestring;
    return 0;
}

int api_json_int(const cJSON *obj, const char *name, bool required, int64_t min, int64_t max,
                 int64_t *out, char *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item) {
        if (!required) return 0;
        snprintf(err, API_JSON_ERR_LEN, "field '%s' is required", name);
        return -1;
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    /* within int64 first (2^63 would not convert), then within the bounds, as integers */
    bool ok = isfinite(v) && v == floor(v) && v >= -0x1p63 && v < 0x1p63;
    if (ok) ok = (int64_t)v >= min && (int64_t)v <= max;
    if (!ok) {
        snprintf(err, API_JSON_ERR_LEN, "field '%s' must be an integer from %lld to %lld", name,
                 (long long)min, (long long)max);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

int api_json_array(const cJSON *obj, const char *name, int count_max, const cJSON **out, char *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    int count = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : -1;
    if (count < 1 || count > count_max) {
        snprintf(err, API_JSON_ERR_LEN, "field '%s' must be an array of 1 to %d items", name,
                 count_max);
        return -1;
    }
    *out = item;
    return 0;
}
