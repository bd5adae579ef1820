/* json_in: reading untrusted JSON request bodies into typed values with clear errors.
 *
 * Each getter writes a message naming the field into err (API_JSON_ERR_LEN bytes) and
 * returns -1 when the field is missing (and required), of the wrong type or out of range. */
#ifndef TIX_JSON_IN_H
#define TIX_JSON_IN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { API_JSON_ERR_LEN = 256, API_JSON_NESTING_MAX = 32 };

typedef enum api_json_status {
    API_JSON_OK,
    API_JSON_MALFORMED,  /* 400 invalid_json */
    API_JSON_NOT_OBJECT, /* 422 invalid_request: not an object, or a string with \u0000 */
} api_json_status;

/* Is s (len bytes) exactly one strict RFC 8259 JSON value (whitespace around it allowed)
 * with valid UTF-8 strings, nested at most API_JSON_NESTING_MAX deep? When not, *bad_at is
 * the offset of the first offending byte and *too_deep tells whether nesting was the cause.
 * When it is, *has_nul tells whether a string holds an escaped NUL (valid JSON that tix
 * refuses: 422). */
bool api_json_validate(const char *s, size_t len, size_t *bad_at, bool *too_deep, bool *has_nul);

/* Parse body as one JSON object (nothing but whitespace after it, nesting bounded). */
api_json_status api_json_parse_object(const char *body, size_t len, cJSON **out, char *err);

/* A string field of len_min..len_max bytes of clean UTF-8. *out points into obj. */
int api_json_string(const cJSON *obj, const char *name, bool required, size_t len_min,
                    size_t len_max, const char **out, char *err);

/* An integer field in min..max; *out keeps its value when the field is absent and optional. */
int api_json_int(const cJSON *obj, const char *name, bool required, int64_t min, int64_t max,
                 int64_t *out, char *err);

/* An array field of 1..count_max items. */
int api_json_array(const cJSON *obj, const char *name, int count_max, const cJSON **out, char *err);

#endif
