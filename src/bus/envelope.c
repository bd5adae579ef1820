/* envelope: see envelope.h. */
#include "bus/envelope.h"

#include "util/clock.h"

#include <string.h>

int bus_envelope_write(buf *b, const outbox_record *e)
{
    char when[CLOCK_RFC3339_LEN_MAX];
    clock_format_rfc3339(e->time_ms, when);
    buf_append_str(b, "{\"id\":");
    buf_append_json_str(b, e->id);
    buf_append_str(b, ",\"type\":");
    buf_append_json_str(b, e->type);
    buf_appendf(b, ",\"source\":\"tix\",\"time\":\"%s\",\"event_id\":", when);
    buf_append_json_str(b, e->event_id);
    buf_append_str(b, ",\"data\":");
    buf_append_str(b, e->data[0] ? e->data : "{}"); /* written by tix as a JSON object */
    buf_append_char(b, '}');
    return b->failed ? -1 : 0;
}

bool bus_pattern_match(const char *pattern, const char *type)
{
    if (*pattern == '\0') return *type == '\0';
    if (*pattern == '*') {
        for (const char *t = type;; t++) {
            if (bus_pattern_match(pattern + 1, t)) return true;
            if (*t == '\0') return false;
        }
    }
    return *pattern == *type && bus_pattern_match(pattern + 1, type + 1);
}

bool bus_pattern_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > TIX_PATTERN_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*')) return false;
    }
    return true;
}
