/* ids: unguessable identifiers as 32 lowercase hex digits.
 *
 * Two kinds, one shape (so that either passes ids_is_valid_hex):
 *   - random: 128 random bits, for secrets and ids that must not reveal anything;
 *   - sortable: 48 bits of the creation time in milliseconds, then 80 random bits (like a
 *     ULID or a UUIDv7). Records keyed by them (holds, bookings, outbox rows) are inserted at
 *     the right end of their index instead of on a random page: a batch of new holds dirties
 *     one or two index pages instead of one per hold. 80 random bits keep them unguessable;
 *     the creation time they show is in the record anyway.
 * Random bytes come from libsodium's ChaCha20 generator through a small per-thread pool. */
#ifndef TIX_IDS_H
#define TIX_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    IDS_HEX_LEN = 32,       /* 16 bytes as hex */
    IDS_TIME_HEX_LEN = 12,  /* a sortable id's leading 48-bit millisecond time */
};

/* Initialise the random source. Returns 0, or -1 if libsodium cannot start. */
int ids_init(void);

/* Write IDS_HEX_LEN hex characters of 128 random bits and a NUL into out. */
void ids_random_hex(char *out);

/* Write a sortable id made at now_ms (>= 0) and a NUL into out (IDS_HEX_LEN + 1 bytes): ids of
 * a later millisecond compare greater (strcmp) than ids of an earlier one. */
void ids_sortable_hex(char *out, int64_t now_ms);

/* True when s (len bytes) has the shape of an id made by ids_random_hex or ids_sortable_hex. */
bool ids_is_valid_hex(const char *s, size_t len);

#endif
