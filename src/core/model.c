/* model: helpers over the shared types; see model.h. */
#include "core/model.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

uint64_t model_event_seat_count(const event_spec *spec)
{
    uint64_t total = 0;
    for (uint32_t i = 0; i < spec->section_count; i++)
        total += (uint64_t)spec->sections[i].row_count * spec->sections[i].seats_per_row;
    return total;
}

void model_event_spec_free(event_spec *spec)
{
    free(spec->name);
    free(spec->venue);
    for (uint32_t i = 0; i < spec->section_count; i++) {
        section_spec *sec = &spec->sections[i];
        free(sec->name);
        for (uint32_t r = 0; r < sec->row_count; r++)
            free(sec->rows[r]);
        free(sec->rows);
    }
    free(spec->sections);
    memset(spec, 0, sizeof(*spec));
}

int model_event_spec_copy(event_spec *dst, const event_spec *src)
{
    *dst = *src;
    dst->name = strdup(src->name);
    dst->venue = strdup(src->venue);
    dst->sections = calloc(src->section_count ? src->section_count : 1, sizeof(section_spec));
    dst->section_count = 0;
    if (!dst->name || !dst->venue || !dst->sections) goto fail;
    for (uint32_t i = 0; i < src->section_count; i++) {
        const section_spec *from = &src->sections[i];
        section_spec *to = &dst->sections[i];
        dst->section_count = i + 1;
        *to = *from;
        to->row_count = 0;
        to->name = strdup(from->name);
        to->rows = calloc(from->row_count ? from->row_count : 1, sizeof(char *));
        if (!to->name || !to->rows) goto fail;
        for (uint32_t r = 0; r < from->row_count; r++) {
            to->rows[r] = strdup(from->rows[r]);
            if (!to->rows[r]) goto fail;
            to->row_count = r + 1;
        }
    }
    return 0;
fail:
    model_event_spec_free(dst);
    return -1;
}

static const char *const model__seat_names[] = {"available", "held", "sold"};
static const char *const model__hold_names[] = {"active", "released", "expired", "checkout",
                                                "booked"};
static const char *const model__booking_names[] = {"pending_payment", "confirmed", "payment_failed",
                                                   "cancelled"};

const char *model_seat_status_name(seat_status status)
{
    return model__seat_names[status];
}

const char *model_hold_status_name(hold_status status)
{
    return model__hold_names[status];
}

int model_seat_status_parse(const char *s, seat_status *out)
{
    if (!s) return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(s, model__seat_names[i]) == 0) return *out = (seat_status)i, 0;
    return -1;
}

int model_hold_status_parse(const char *s, hold_status *out)
{
    if (!s) return -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(s, model__hold_names[i]) == 0) return *out = (hold_status)i, 0;
    return -1;
}

const char *model_booking_status_name(booking_status status)
{
    return model__booking_names[status];
}

int model_booking_status_parse(const char *s, booking_status *out)
{
    if (!s) return -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(s, model__booking_names[i]) == 0) return *out = (booking_status)i, 0;
    return -1;
}

static const char *const model__change_names[] = {
    "held", "checkout", "sold", "released", "expired", "freed", "event_created", "subscriber_added",
};

const char *model_change_kind_name(change_kind kind)
{
    assert((size_t)kind < sizeof(model__change_names) / sizeof(model__change_names[0]));
    return model__change_names[kind];
}

int model_change_kind_parse(const char *s, change_kind *out)
{
    if (!s) return -1;
    for (size_t i = 0; i < sizeof(model__change_names) / sizeof(model__change_names[0]); i++)
        if (strcmp(s, model__change_names[i]) == 0) return *out = (change_kind)i, 0;
    return -1;
}

bool model_change_is_seats(change_kind kind)
{
    return kind <= CHANGE_FREED;
}

seat_status model_change_seat_status(change_kind kind)
{
    assert(model_change_is_seats(kind));
    switch (kind) {
    case CHANGE_HELD:
    case CHANGE_CHECKOUT:
        return SEAT_HELD;
    case CHANGE_SOLD:
        return SEAT_SOLD;
    default:
        return SEAT_AVAILABLE;
    }
}

int model_seat_ids_next(const char *json, size_t len, size_t *pos, char *out)
{
    size_t i = *pos;
    if (i == 0) { /* the opening bracket, or an empty array */
        if (len < 2 || json[0] != '[') return -1;
        i = 1;
        if (json[1] == ']') return *pos = 2, 0;
    } else if (i >= len || json[i - 1] == ']') {
        return 0;
    }
    if (json[i] != '"') return -1;
    size_t start = ++i;
    while (i < len && json[i] != '"') {
        char c = json[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return -1;
        i++;
    }
    size_t n = i - start;
    if (i >= len || n == 0 || n >= TIX_SEAT_ID_LEN_MAX) return -1;
    memcpy(out, json + start, n);
    out[n] = '\0';
    i++; /* the closing quote */
    if (i >= len || (json[i] != ',' && json[i] != ']')) return -1;
    if (json[i] == ']' && i + 1 != len) return -1;
    *pos = i + 1;
    return (int)n;
}

int model_seat_ids_parse(const char *json, char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t *n)
{
    size_t len = json ? strlen(json) : 0, pos = 0;
    int got;
    *n = 0;
    while ((got = model_seat_ids_next(json, len, &pos, ids[*n])) > 0)
        if (++*n == TIX_HOLD_SEATS_MAX && pos < len) return -1;
    return got;
}
