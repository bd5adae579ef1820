/* model: the nouns of tix (events, sections, seats, holds), their limits and result codes.
 *
 * Every limit that protects the server from a request is a named constant here, so that
 * the API, the store and the docs agree on one number. */
#ifndef TIX_MODEL_H
#define TIX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    TIX_EVENT_ID_LEN_MAX = 64,      /* [A-Za-z0-9_-] */
    TIX_EVENT_NAME_LEN_MAX = 200,   /* bytes of UTF-8, for name and venue */
    TIX_SECTIONS_MAX = 100,         /* per event */
    TIX_ROWS_MAX = 2000,            /* per section */
    TIX_SEATS_PER_ROW_MAX = 10000,
    TIX_ROW_LABEL_LEN_MAX = 16,     /* [A-Za-z0-9] */
    TIX_SEAT_ID_LEN_MAX = 24,       /* row label + number, with room for the NUL */
    TIX_EVENT_SEATS_MAX = 1000000,  /* per event */
    TIX_EVENTS_MAX = 4096,          /* per server */
    TIX_USER_ID_LEN_MAX = 128,
    TIX_HOLD_SEATS_MAX = 100,       /* absolute cap on max_seats_per_hold */
    TIX_HOLD_SEATS_DEFAULT = 10,
    TIX_HOLD_TTL_S_DEFAULT = 600,
    TIX_HOLD_TTL_S_MAX = 86400,
    TIX_PRICE_CENTS_MAX = 100000000, /* one million in the currency's unit */
    TIX_HOLD_ID_LEN = 32,           /* 128 random bits, hex */
};

/* The outcome of a command. Each maps to one HTTP status and one stable error code. */
typedef enum tix_rc {
    TIX_RC_OK = 0,
    TIX_RC_SEAT_UNAVAILABLE,
    TIX_RC_EVENT_NOT_FOUND,
    TIX_RC_SEAT_NOT_FOUND,
    TIX_RC_HOLD_NOT_FOUND,
    TIX_RC_HOLD_NOT_ACTIVE,
    TIX_RC_EVENT_EXISTS,
    TIX_RC_TOO_MANY_EVENTS,
    TIX_RC_STORE_ERROR,  /* the store failed: nothing of the command was kept */
    TIX_RC_OVERLOADED,   /* the commit queue is full */
    TIX_RC_SHUTTING_DOWN,
} tix_rc;

typedef enum seat_status {
    SEAT_AVAILABLE = 0,
    SEAT_HELD = 1,
    SEAT_SOLD = 2,
} seat_status;

typedef enum hold_status {
    HOLD_ACTIVE = 0,
    HOLD_RELEASED = 1,
    HOLD_EXPIRED = 2,
} hold_status;

typedef struct section_spec {
    char *name;
    int64_t price_cents;
    uint32_t seats_per_row;
    uint32_t row_count;
    char **rows; /* row labels */
} section_spec;

/* An event as created: what POST /events carries and what the store keeps. */
typedef struct event_spec {
    char id[TIX_EVENT_ID_LEN_MAX + 1];
    char *name;
    char *venue;
    int64_t starts_at_ms;
    int32_t hold_ttl_s;
    int32_t max_seats_per_hold;
    int64_t created_at_ms;
    uint32_t section_count;
    section_spec *sections;
} event_spec;

/* A hold as the store keeps it. seat_ids are fixed-size so a record needs no allocation. */
typedef struct hold_record {
    int64_t seq; /* the store's key; also what the seat index records per seat */
    char id[TIX_HOLD_ID_LEN + 1];
    char event_id[TIX_EVENT_ID_LEN_MAX + 1];
    char user_id[TIX_USER_ID_LEN_MAX + 1];
    hold_status status;
    int64_t created_at_ms;
    int64_t expires_at_ms;
    int64_t ended_at_ms; /* 0 while active */
    uint32_t seat_count;
    char seat_ids[TIX_HOLD_SEATS_MAX][TIX_SEAT_ID_LEN_MAX];
} hold_record;

/* Total seats of a spec (sum over sections of rows x seats per row). */
uint64_t model_event_seat_count(const event_spec *spec);

/* Free everything a spec owns (not the spec itself) and zero it. */
void model_event_spec_free(event_spec *spec);

/* Deep-copy src into dst. Returns 0, or -1 when out of memory (dst is then empty). */
int model_event_spec_copy(event_spec *dst, const event_spec *src);

/* Names used in JSON and in the store. */
const char *model_seat_status_name(seat_status status);
const char *model_hold_status_name(hold_status status);
int model_seat_status_parse(const char *s, seat_status *out);
int model_hold_status_parse(const char *s, hold_status *out);

#endif
