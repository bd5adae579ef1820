/* json_out: the JSON form of holds and bookings, one writer for every place that shows them:
 * API responses and the data of outbox events (so a webhook receives a booking in the same
 * shape as GET /bookings/{id} returns it). */
#ifndef TIX_JSON_OUT_H
#define TIX_JSON_OUT_H

#include "core/model.h"
#include "util/buf.h"

/* Append ,"key":"<RFC 3339 time>" to b. */
void json_out_time(buf *b, const char *key, int64_t ms);

/* Seat ids as a JSON array of strings (["A1","B2"]): what the stores keep and events carry. */
void json_out_seat_ids(buf *b, const char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t n);

/* The sections of an event as a JSON array: [{"name","price_cents","seats_per_row","rows"}]. */
void json_out_sections(buf *b, const event_spec *spec);

/* The hold object, with the status it reads as at now_ms (a lapsed live hold is expired).
 * With with_hold_id, a "hold_id" field repeats "id" (for event data). */
void json_out_hold(buf *b, const hold_record *h, int64_t now_ms, bool with_hold_id);

/* The booking object. With with_booking_id, a "booking_id" field repeats "id". */
void json_out_booking(buf *b, const booking_record *bk, bool with_booking_id);

#endif
