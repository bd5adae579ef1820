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
    TIX_EVENT_ID_LEN_MAX = 64,    /* [A-Za-z0-9_-] */
    TIX_EVENT_NAME_LEN_MAX = 200, /* bytes of UTF-8, for name and venue */
    TIX_SECTIONS_MAX = 100,       /* per event */
    TIX_ROWS_MAX = 2000,          /* per section */
    TIX_SEATS_PER_ROW_MAX = 10000,
    TIX_ROW_LABEL_LEN_MAX = 16,    /* [A-Za-z0-9] */
    TIX_SEAT_ID_LEN_MAX = 24,      /* row label + number, with room for the NUL */
    TIX_EVENT_SEATS_MAX = 1000000, /* per event */
    TIX_EVENTS_MAX = 4096,         /* per server */
    TIX_USER_ID_LEN_MAX = 128,
    TIX_HOLD_SEATS_MAX = 100, /* absolute cap on max_seats_per_hold */
    TIX_HOLD_SEATS_DEFAULT = 10,
    TIX_HOLD_TTL_S_DEFAULT = 600,
    TIX_HOLD_TTL_S_MAX = 86400,
    TIX_PRICE_CENTS_MAX = 100000000, /* one million in the currency's unit */
    TIX_HOLD_ID_LEN = 32,            /* 128 random bits, hex */
    TIX_BOOKING_ID_LEN = 32,         /* 128 random bits, hex */
    TIX_EMAIL_LEN_MAX = 254,
    TIX_PAYMENT_TOKEN_LEN_MAX = 255,
    TIX_PAYMENT_ID_LEN_MAX = 127,
    TIX_CHECKOUT_TIMEOUT_S_DEFAULT = 900,
    TIX_USER_SEATS_DEFAULT = 10, /* seats one buyer may hold at once in an event */
    TIX_NODE_ID_LEN_MAX = 63,    /* [A-Za-z0-9._-] */
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
    TIX_RC_STORE_ERROR, /* the store failed: nothing of the command was kept */
    TIX_RC_OVERLOADED,  /* the commit queue is full */
    TIX_RC_SHUTTING_DOWN,
    TIX_RC_BOOKING_NOT_FOUND,
    TIX_RC_BOOKING_NOT_CANCELLABLE,
    TIX_RC_NOT_FOUND,      /* a generic resource (webhook, dead letter) */
    TIX_RC_USER_LIMIT,     /* the buyer would hold more seats of the event than allowed */
    TIX_RC_FORBIDDEN,      /* the buyer token is another buyer's */
    TIX_RC_TOO_MANY_SEATS, /* more seats than the event's max_seats_per_hold */
    TIX_RC_REPLAYED,       /* the idempotency key was answered before: its response is kept */
    TIX_RC_KEY_REUSED,     /* the idempotency key was used with another request */
    TIX_RC_STORE_FATAL,    /* the store holds what it must not: nothing kept, a person must look */
} tix_rc;

typedef enum seat_status {
    SEAT_AVAILABLE = 0,
    SEAT_HELD = 1,
    SEAT_SOLD = 2,
} seat_status;

/* A hold is active until released or expired; checkout freezes it (its expiry becomes the
 * checkout deadline) until the payment confirms it (booked) or fails (released). */
typedef enum hold_status {
    HOLD_ACTIVE = 0,
    HOLD_RELEASED = 1,
    HOLD_EXPIRED = 2,
    HOLD_CHECKOUT = 3,
    HOLD_BOOKED = 4,
} hold_status;

/* What a change of the feed is about (see store/store.h). Seat changes: HELD (seats held by a
 * new hold), CHECKOUT (a hold frozen for its payment: a new expiry), SOLD, and RELEASED, EXPIRED,
 * FREED (a cancelled booking's seats), after which the hold's seats are available. */
typedef enum change_kind {
    CHANGE_HELD = 0,
    CHANGE_CHECKOUT = 1,
    CHANGE_SOLD = 2,
    CHANGE_RELEASED = 3,
    CHANGE_EXPIRED = 4,
    CHANGE_FREED = 5,
    CHANGE_EVENT_CREATED = 6,
    CHANGE_SUBSCRIBER_ADDED = 7,
} change_kind;

typedef enum booking_status {
    BOOKING_PENDING_PAYMENT = 0,
    BOOKING_CONFIRMED = 1,
    BOOKING_PAYMENT_FAILED = 2,
    BOOKING_CANCELLED = 3,
} booking_status;

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

/* A booking: a hold on its way to being paid for. */
typedef struct booking_record {
    int64_t seq;
    char id[TIX_BOOKING_ID_LEN + 1];
    int64_t hold_seq;
    char hold_id[TIX_HOLD_ID_LEN + 1];
    char event_id[TIX_EVENT_ID_LEN_MAX + 1];
    char user_id[TIX_USER_ID_LEN_MAX + 1];
    char email[TIX_EMAIL_LEN_MAX + 1]; /* "" when none was given */
    booking_status status;
    int64_t amount_cents;
    char payment_token[TIX_PAYMENT_TOKEN_LEN_MAX + 1];
    char payment_id[TIX_PAYMENT_ID_LEN_MAX + 1]; /* "" until paid */
    char refund_id[TIX_PAYMENT_ID_LEN_MAX + 1];  /* "" until refunded */
    int64_t created_at_ms;
    int64_t updated_at_ms;
    int64_t checkout_deadline_ms;
    uint32_t seat_count;
    char seat_ids[TIX_HOLD_SEATS_MAX][TIX_SEAT_ID_LEN_MAX];
} booking_record;

/* ---- the event bus: outbox events, subscribers and their deliveries ---- */

enum {
    TIX_SUBSCRIBER_ID_LEN_MAX = 40,
    TIX_URL_LEN_MAX = 512,
    TIX_SECRET_LEN_MAX = 128,
    TIX_PATTERNS_MAX = 16,
    TIX_PATTERN_LEN_MAX = 64,
    TIX_EVENT_TYPE_LEN_MAX = 32,
    TIX_OUTBOX_ID_LEN = 32,
    TIX_OUTBOX_DATA_LEN_MAX = 8192,
    TIX_DELIVERY_ERROR_LEN_MAX = 256,
    TIX_IDEMPOTENCY_KEY_LEN_MAX = 255,
};

typedef enum subscriber_kind {
    SUBSCRIBER_PAYMENT = 0,      /* the built-in payment worker */
    SUBSCRIBER_NOTIFICATION = 1, /* the built-in notification (email) worker */
    SUBSCRIBER_WEBHOOK = 2,      /* an outbound webhook */
} subscriber_kind;

/* Who receives which events: routing rules are type patterns ("Booking*", "*"). */
typedef struct subscriber_record {
    char id[TIX_SUBSCRIBER_ID_LEN_MAX + 1];
    subscriber_kind kind;
    char url[TIX_URL_LEN_MAX + 1];       /* webhooks */
    char secret[TIX_SECRET_LEN_MAX + 1]; /* webhooks: HMAC key, "" for none */
    uint32_t pattern_count;
    char patterns[TIX_PATTERNS_MAX][TIX_PATTERN_LEN_MAX + 1];
    int64_t created_at_ms;
} subscriber_record;

/* One row of the outbox: an event that happened, in the transaction that made it happen. */
typedef struct outbox_record {
    int64_t seq;
    char id[TIX_OUTBOX_ID_LEN + 1];
    char type[TIX_EVENT_TYPE_LEN_MAX + 1];
    char event_id[TIX_EVENT_ID_LEN_MAX + 1];
    char aggregate_id[TIX_EVENT_ID_LEN_MAX + 1]; /* hold or booking id: order is kept per id */
    int64_t time_ms;
    char data[TIX_OUTBOX_DATA_LEN_MAX]; /* a JSON object */
} outbox_record;

typedef enum delivery_status {
    DELIVERY_PENDING = 0,
    DELIVERY_DELIVERED = 1,
    DELIVERY_DEAD = 2, /* in the dead-letter queue */
} delivery_status;

/* One event for one subscriber, with its retry state. */
typedef struct delivery_record {
    int64_t seq;
    char subscriber_id[TIX_SUBSCRIBER_ID_LEN_MAX + 1];
    delivery_status status;
    int32_t attempts;
    int64_t next_attempt_ms;
    int64_t updated_at_ms;
    char last_error[TIX_DELIVERY_ERROR_LEN_MAX + 1];
    outbox_record event;
} delivery_record;

/* Total seats of a spec (sum over sections of rows x seats per row). */
uint64_t model_event_seat_count(const event_spec *spec);

/* Free everything a spec owns (not the spec itself) and zero it. */
void model_event_spec_free(event_spec *spec);

/* Deep-copy src into dst. Returns 0, or -1 when out of memory (dst is then empty). */
int model_event_spec_copy(event_spec *dst, const event_spec *src);

/* Names used in JSON and in the store. */
const char *model_seat_status_name(seat_status status);
const char *model_hold_status_name(hold_status status);
const char *model_booking_status_name(booking_status status);
int model_booking_status_parse(const char *s, booking_status *out);
int model_seat_status_parse(const char *s, seat_status *out);
int model_hold_status_parse(const char *s, hold_status *out);
const char *model_change_kind_name(change_kind kind);
int model_change_kind_parse(const char *s, change_kind *out);

/* Is a change of this kind about seats (and then, the status its seats have after it)? */
bool model_change_is_seats(change_kind kind);
seat_status model_change_seat_status(change_kind kind);

/* Walk a JSON array of seat ids as tix writes them (["A1","B12"]: strings of letters and
 * digits, no escapes): *pos starts at 0; each call writes the next id into out (NUL-terminated,
 * TIX_SEAT_ID_LEN_MAX bytes) and returns its length, 0 at the end, or -1 when the text is not
 * such an array (or an id is too long). */
int model_seat_ids_next(const char *json, size_t len, size_t *pos, char *out);

/* Every id of such an array into ids (at most TIX_HOLD_SEATS_MAX), their count into *n.
 * Returns 0, or -1 when the text is not such an array or holds more. */
int model_seat_ids_parse(const char *json, char (*ids)[TIX_SEAT_ID_LEN_MAX], uint32_t *n);

#endif
