/* buf: a growable byte buffer with a hard size cap (in the spirit of curl's dynbuf).
 *
 * Every append either succeeds whole or fails with the buffer left as it was; once an append
 * fails the buffer is marked `failed` so that a caller may append many pieces and check once.
 * The contents are always NUL-terminated so they can be handed to C string APIs. */
#ifndef TIX_BUF_H
#define TIX_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t len_max; /* appends that would exceed this fail */
    bool failed;    /* sticky: an append failed (cap or out of memory) */
} buf;

/* Initialise an empty buffer that may hold at most len_max bytes. Allocates nothing. */
void buf_init(buf *b, size_t len_max);

/* Free the buffer's memory and reset it to empty. Safe on an initialised, empty buffer. */
void buf_free(buf *b);

/* Forget the contents but keep the memory and the cap. */
void buf_reset(buf *b);

/* Hand the memory to the caller (who must free() it); the buffer is left empty. */
char *buf_detach(buf *b, size_t *len_out);

/* Append bytes. Returns 0, or -1 (and sets `failed`) when the cap or memory is exhausted. */
int buf_append(buf *b, const void *data, size_t len);
int buf_append_str(buf *b, const char *s);
int buf_append_char(buf *b, char c);
int buf_append_i64(buf *b, int64_t v);
int buf_append_u32(buf *b, uint32_t v); /* decimal, without printf */

enum { BUF_U32_LEN_MAX = 10 }; /* digits of the largest uint32_t */

/* Write v in decimal (at most BUF_U32_LEN_MAX digits, no NUL) at out, without printf; returns
 * the number of digits. */
size_t buf_format_u32(char *out, uint32_t v);

/* printf-style append. Returns 0 or -1 as above. */
int buf_appendf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append `s` (len bytes) as a JSON string literal, quotes included, escaping as RFC 8259
 * requires. Bytes >= 0x80 are copied as they are: callers only store validated UTF-8. */
int buf_append_json_string(buf *b, const char *s, size_t len);
int buf_append_json_str(buf *b, const char *s);

/* Append s as a JSON string literal when it is known to need no escaping (ids tix makes or
 * validates: hex ids, event slugs, seat ids of letters and digits): quotes and bytes, without
 * looking at each one. */
int buf_append_json_plain(buf *b, const char *s);

#endif
