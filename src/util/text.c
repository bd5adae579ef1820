/* text: see text.h. */
#include "util/text.h"

#include <stdint.h>
#include <string.h>

/* The length (1..4) of the well-formed UTF-8 sequence at p (len > 0 bytes available), or 0
 * when none starts there (overlong, surrogate, past U+10FFFF, truncated, stray byte). */
static size_t text__sequence(const unsigned char *p, size_t len)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
        n = 1, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 2, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 3, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t k = 1; k <= n; k++) {
        if (k >= len || (p[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n + 1;
}

/* Shared walk: control characters are refused only when allow_control is false. */
static bool text__utf8(const char *s, size_t len, bool allow_control)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] >= 0x20 && p[i] < 0x7f) { /* printable ASCII, nearly every byte: no decoding */
            i++;
            continue;
        }
        size_t n = text__sequence(p + i, len - i);
        if (n == 0) return false;
        if (n == 1 && !allow_control && (p[i] < 0x20 || p[i] == 0x7f)) return false;
        i += n;
    }
    return true;
}

bool text_is_utf8(const char *s, size_t len)
{
    return text__utf8(s, len, true);
}

bool text_is_clean_utf8(const char *s, size_t len)
{
    return text__utf8(s, len, false);
}

void text_make_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        size_t n = text__sequence(p + i, len - i);
        if (n == 0) p[i] = '?', n = 1;
        i += n;
    }
}

static bool text__is_alnum_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool text_is_slug(const char *s, size_t len, size_t len_max)
{
    if (len == 0 || len > len_max) return false;
    for (size_t i = 0; i < len; i++)
        if (!text__is_alnum_char(s[i]) && s[i] != '-' && s[i] != '_') return false;
    return true;
}

bool text_is_alnum(const char *s, size_t len, size_t len_max)
{
    if (len == 0 || len > len_max) return false;
    for (size_t i = 0; i < len; i++)
        if (!text__is_alnum_char(s[i])) return false;
    return true;
}
