/* buf: bounded growable buffer; see buf.h. */
#include "util/buf.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BUF_CAP_MIN = 256 };

void buf_init(buf *b, size_t len_max)
{
    assert(b);
    memset(b, 0, sizeof(*b));
    b->len_max = len_max;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = false;
}

void buf_reset(buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data) b->data[0] = '\0';
}

char *buf_detach(buf *b, size_t *len_out)
{
    char *data = b->data;
    if (len_out) *len_out = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}

/* Make room for `extra` more bytes plus the terminating NUL. */
static int buf__reserve(buf *b, size_t extra)
{
    if (b->failed) return -1;
    if (extra > b->len_max || b->len > b->len_max - extra) {
        b->failed = true;
        return -1;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : BUF_CAP_MIN;
    while (cap < need)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) {
        b->failed = true;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

int buf_append(buf *b, const void *data, size_t len)
{
    if (buf__reserve(b, len) != 0) return -1;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_str(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_char(buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_append_i64(buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    assert(n > 0 && (size_t)n < sizeof(tmp));
    return buf_append(b, tmp, (size_t)n);
}

size_t buf_format_u32(char *out, uint32_t v)
{
    size_t n = 1;
    for (uint32_t rest = v; rest >= 10; rest /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10)
        out[i] = (char)('0' + v % 10);
    return n;
}

int buf_append_u32(buf *b, uint32_t v)
{
    char tmp[BUF_U32_LEN_MAX];
    return buf_append(b, tmp, buf_format_u32(tmp, v));
}

int buf_appendf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf__reserve(b, (size_t)n) != 0) {
        b->failed = true;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

/* Undo a partial append: back to len_before, keeping `failed` set. Returns -1. */
static int buf__rollback(buf *b, size_t len_before)
{
    b->len = len_before;
    if (b->data) b->data[b->len] = '\0';
    b->failed = true;
    return -1;
}

int buf_append_json_string(buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t len_before = b->len;
    if (b->failed) return -1;
    if (buf_append_char(b, '"') != 0) return buf__rollback(b, len_before);
    size_t run = 0; /* start of the current run of bytes that need no escaping */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f) continue;
        if (buf_append(b, s + run, i - run) != 0) return buf__rollback(b, len_before);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            esc_len = 6;
        }
        if (buf_append(b, esc, esc_len) != 0) return buf__rollback(b, len_before);
    }
    if (buf_append(b, s + run, len - run) != 0 || buf_append_char(b, '"') != 0)
        return buf__rollback(b, len_before);
    return 0;
}

int buf_append_json_str(buf *b, const char *s)
{
    return buf_append_json_string(b, s, strlen(s));
}

int buf_append_json_plain(buf *b, const char *s)
{
    size_t len = strlen(s), len_before = b->len;
    if (buf__reserve(b, len + 2) != 0) return -1;
    if (buf_append_char(b, '"') != 0 || buf_append(b, s, len) != 0 || buf_append_char(b, '"') != 0)
        return buf__rollback(b, len_before);
    return 0;
}
