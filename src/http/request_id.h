/* request_id: the id of each request (X-Request-Id), for the logs, the error body and the
 * answer's header.
 *
 * A client's own id is kept when it is sane: 1 to HTTP_REQUEST_ID_LEN_MAX characters of
 * letters, digits and - _ . : (so it can go into a header, a log line and JSON unescaped).
 * Otherwise a new one is made: 16 hex digits from a per-thread generator (xorshift128+,
 * seeded once per thread from the system's random source): no lock, no system call. */
#ifndef TIX_HTTP_REQUEST_ID_H
#define TIX_HTTP_REQUEST_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HTTP_REQUEST_ID_LEN_MAX = 64, HTTP_REQUEST_ID_GENERATED_LEN = 16 };

/* Is the client's id (len bytes) one to keep? */
bool http_request_id_is_sane(const char *id, size_t len);

/* Fill out (HTTP_REQUEST_ID_LEN_MAX + 1 bytes) with the client's id when sane (client may be
 * NULL), else with a new one. Returns the length. */
size_t http_request_id_take(char *out, const char *client, size_t client_len);

/* v as 16 lowercase hex digits and a NUL (out: 17 bytes). */
void http_request_id_hex(uint64_t v, char *out);

#endif
