/* responses: reading tix's JSON answers with cJSON. Nothing here trusts the server: every
 * member is looked up by name and checked for its type and size before it is used.
 *
 * During a run cJSON allocates from an arena (loadtest_json_arena_install): a seat map of
 * 50,000 seats is about 650,000 small allocations, and a bump allocator that is reset when no
 * tree is alive parses it three times faster than malloc, so that the load tester is not the
 * bottleneck of its own test. The arena grows in chunks up to LOADTEST_JSON_ARENA_BYTES_MAX
 * and keeps them for the next parse; a parse that would exceed it fails like one out of
 * memory. */
#ifndef TIX_LOADTEST_RESPONSES_H
#define TIX_LOADTEST_RESPONSES_H

#include "loadtest/client.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define LOADTEST_JSON_ARENA_BYTES_MAX ((size_t)1 << 30)

/* Make cJSON allocate from the arena (until loadtest_json_arena_remove). Single thread only. */
void loadtest_json_arena_install(void);

/* Give cJSON back its default allocator and free the arena. No tree may be alive. */
void loadtest_json_arena_remove(void);

/* The response body of t parsed as JSON (free with loadtest_json_free), or NULL if it is not
 * JSON (or does not fit in memory). */
cJSON *loadtest_response_parse(const loadtest_transfer *t);

/* Free a tree from loadtest_response_parse (NULL is fine). */
void loadtest_json_free(cJSON *root);

/* The string member `key` of obj, or NULL when it is missing or not a string. */
const char *loadtest_json_string(const cJSON *obj, const char *key);

/* The "code" of an error body {"error": {"code": ...}}, or "" when there is none. */
const char *loadtest_json_error_code(const cJSON *root);

/* Copy the member `key` of obj into out (out_size bytes) when it is a string of 1 to
 * out_size - 1 bytes. Returns 0 or -1. */
int loadtest_json_copy(const cJSON *obj, const char *key, char *out, size_t out_size);

/* Copy a 32-character hex id (hold or booking) from member `key`. Returns 0 or -1. */
int loadtest_json_copy_id(const cJSON *obj, const char *key, char out[TIX_HOLD_ID_LEN + 1]);

#endif
