/* envelope: the JSON form of an outbox event as delivered to subscribers (webhooks) and shown
 * in the dead-letter queue, in the spirit of CloudEvents and EventBridge:
 *   {"id", "type", "source": "tix", "time", "event_id", "data": {...}} */
#ifndef TIX_ENVELOPE_H
#define TIX_ENVELOPE_H

#include "core/model.h"
#include "util/buf.h"

/* Append the envelope of e to b. Returns 0 or -1 (b over its cap). */
int bus_envelope_write(buf *b, const outbox_record *e);

/* Does event type `type` match routing pattern `pattern` ('*' matches any run of
 * characters)? The store applies the same rule when it fans events out. */
bool bus_pattern_match(const char *pattern, const char *type);

/* Is s a valid routing pattern: 1..TIX_PATTERN_LEN_MAX of [A-Za-z*]? */
bool bus_pattern_valid(const char *s);

#endif
