/* log: one line per message on stderr, in one of two formats:
 *
 *   text  2026-11-29T02:34:24.123Z tix[pid] LEVEL message request_id=... event_id=...
 *   json  {"time":"2026-11-29T02:34:24.123Z","level":"info","pid":12,"message":"...",
 *          "request_id":"...","event_id":"...","hold_id":"...","booking_id":"..."}
 *
 * Fields (request, event, hold, booking ids) are added where known: those given to
 * log_write_fields, else those the calling thread set with log_fields_set (the HTTP layer
 * sets the request id while it handles a request, so any line written on its behalf carries
 * it). A line is at most LOG_LINE_LEN_MAX bytes (the message is cut), written with one
 * write(2) so that lines of different threads never mix. */
#ifndef TIX_LOG_H
#define TIX_LOG_H

#include <stdbool.h>

typedef enum { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR } log_level;
typedef enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON } log_format;

enum { LOG_LINE_LEN_MAX = 2048 };

/* Ids a line may carry; NULL or "" fields are left out. */
typedef struct log_fields {
    const char *request_id;
    const char *event_id;
    const char *hold_id;
    const char *booking_id;
} log_fields;

void log_set_level(log_level level);
void log_set_format(log_format format);

/* Parse "debug|info|warn|error" / "text|json". Return 0, or -1 when name is not one. */
int log_parse_level(const char *name, log_level *out);
int log_parse_format(const char *name, log_format *out);

/* Would a line at this level be written? (To skip building fields nobody reads.) */
bool log_enabled(log_level level);

/* The fields of every line the calling thread writes from now on (NULL: none). The struct
 * and its strings must outlive the setting. */
void log_fields_set(const log_fields *fields);

void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_write_fields(log_level level, const log_fields *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
