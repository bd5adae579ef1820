/* model: helpers over the shared types; see model.h. */
#include "core/model.h"

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
