/* text: validation of untrusted strings (UTF-8 well-formedness, identifier shapes). */
#ifndef TIX_TEXT_H
#define TIX_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when s (len bytes) is well-formed UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF); control characters allowed. */
bool text_is_utf8(const char *s, size_t len);

/* True when s (len bytes) is well-formed UTF-8 (no overlongs, surrogates or values past
 * U+10FFFF) and holds no control characters (U+0000..U+001F, U+007F). */
bool text_is_clean_utf8(const char *s, size_t len);

/* Make the NUL-terminated s well-formed UTF-8 in place: every byte that does not start a
 * well-formed sequence (a stray or invalid byte, or what is left of a character cut short by
 * a truncation) becomes '?'. For text built from untrusted bytes (error messages that quote
 * the request), before it goes into JSON. */
void text_make_utf8(char *s);

/* True when s (len bytes) is 1..len_max of [A-Za-z0-9_-]: the shape of event ids and the
 * like, safe in URLs and file names. */
bool text_is_slug(const char *s, size_t len, size_t len_max);

/* True when s is 1..len_max of [A-Za-z0-9]: the shape of row labels. */
bool text_is_alnum(const char *s, size_t len, size_t len_max);

#endif
