/* log: see log.h. A line is built in a stack buffer (no allocation) and written with one
 * write(2); text that does not fit is cut, and a JSON line is still closed properly. */
#include "util/log.h"

#include "util/clock.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static _Atomic int log__level = LOG_LEVEL_INFO;
static _Atomic int log__format = LOG_FORMAT_TEXT;
static __thread const log_fields *log__thread_fields;

static const char *const log__level_names[] = {"debug", "info", "warn", "error"};
static const char *const log__level_text[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* The line being built: len <= limit < sizeof(data) - LOG__TAIL, room kept for "}\n". */
typedef struct log__line {
    char data[LOG_LINE_LEN_MAX];
    size_t len;
    size_t limit; /* appends stop here: the message leaves room for what follows it */
} log__line;

enum { LOG__TAIL = 3 }; /* "}\n" and slack */

void log_set_level(log_level level)
{
    atomic_store_explicit(&log__level, level, memory_order_relaxed);
}

void log_set_format(log_format format)
{
    atomic_store_explicit(&log__format, format, memory_order_relaxed);
}

int log_parse_level(const char *name, log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, log__level_names[i]) != 0) continue;
        *out = (log_level)i;
        return 0;
    }
    return -1;
}

int log_parse_format(const char *name, log_format *out)
{
    if (strcmp(name, "text") == 0) return *out = LOG_FORMAT_TEXT, 0;
    if (strcmp(name, "json") == 0) return *out = LOG_FORMAT_JSON, 0;
    return -1;
}

bool log_enabled(log_level level)
{
    return (int)level >= atomic_load_explicit(&log__level, memory_order_relaxed);
}

void log_fields_set(const log_fields *fields)
{
    log__thread_fields = fields;
}

static void log__raw(log__line *l, const char *s, size_t n)
{
    size_t room = l->limit - l->len;
    if (n > room) n = room;
    memcpy(l->data + l->len, s, n);
    l->len += n;
}

static void log__str(log__line *l, const char *s)
{
    log__raw(l, s, strlen(s));
}

/* s as the inside of a JSON string: quotes, backslashes and control bytes escaped; an escape
 * that would not fit whole is left out. */
static void log__json_chars(log__line *l, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c == '\n')
            snprintf(esc, sizeof(esc), "\\n");
        else if (c < 0x20)
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        else
            esc[0] = (char)c, esc[1] = '\0';
        size_t n = strlen(esc);
        if (l->len + n > l->limit) return;
        log__raw(l, esc, n);
    }
}

/* One field: ` name=value` (text) or `,"name":"value"` (json); skipped when empty. */
static void log__field(log__line *l, bool json, const char *name, const char *value)
{
    if (!value || !value[0]) return;
    if (!json) {
        log__str(l, " ");
        log__str(l, name);
        log__str(l, "=");
        log__str(l, value);
        return;
    }
    log__str(l, ",\"");
    log__str(l, name);
    log__str(l, "\":\"");
    log__json_chars(l, value);
    log__str(l, "\"");
}

static void log__vwrite(log_level level, const log_fields *fields, const char *fmt, va_list ap)
{
    if (!log_enabled(level)) return;
    bool json = atomic_load_explicit(&log__format, memory_order_relaxed) == LOG_FORMAT_JSON;
    char when[CLOCK_RFC3339_LEN_MAX], message[LOG_LINE_LEN_MAX], head[128];
    clock_format_rfc3339(clock_now_ms(), when);
    vsnprintf(message, sizeof(message), fmt, ap);
    if (json) text_make_utf8(message); /* a message may quote bytes of a request */
    /* the fields first, aside: the message is cut to leave them room */
    log__line tail = {.len = 0, .limit = sizeof(tail.data) - LOG__TAIL};
    if (json) log__str(&tail, "\"");
    if (fields) {
        log__field(&tail, json, "request_id", fields->request_id);
        log__field(&tail, json, "event_id", fields->event_id);
        log__field(&tail, json, "hold_id", fields->hold_id);
        log__field(&tail, json, "booking_id", fields->booking_id);
    }
    log__line l = {.len = 0, .limit = sizeof(l.data) - LOG__TAIL - tail.len};
    if (json) {
        snprintf(head, sizeof(head), "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%d,\"message\":\"",
                 when, log__level_names[level], (int)getpid());
        log__str(&l, head);
        log__json_chars(&l, message);
    } else {
        snprintf(head, sizeof(head), "%s tix[%d] %s ", when, (int)getpid(), log__level_text[level]);
        log__str(&l, head);
        log__str(&l, message);
    }
    l.limit = sizeof(l.data) - LOG__TAIL;
    log__raw(&l, tail.data, tail.len);
    if (json) l.data[l.len++] = '}';
    l.data[l.len++] = '\n';
    ssize_t w = write(STDERR_FILENO, l.data, l.len);
    (void)w; /* nowhere left to report a failing stderr */
}

void log_write(log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log__vwrite(level, log__thread_fields, fmt, ap);
    va_end(ap);
}

void log_write_fields(log_level level, const log_fields *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log__vwrite(level, fields ? fields : log__thread_fields, fmt, ap);
    va_end(ap);
}
