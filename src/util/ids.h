/* ids: unguessable identifiers (128 random bits from libsodium, lowercase hex). */
#ifndef TIX_IDS_H
#define TIX_IDS_H

#include <stdbool.h>
#include <stddef.h>

enum { IDS_HEX_LEN = 32 }; /* 16 random bytes as hex */

/* Initialise the random source. Returns 0, or -1 if libsodium cannot start. */
int ids_init(void);

/* Write IDS_HEX_LEN hex characters and a NUL into out (>= IDS_HEX_LEN + 1 bytes). */
void ids_random_hex(char *out);

/* True when s (len bytes) has the shape of an id made by ids_random_hex. */
bool ids_is_valid_hex(const char *s, size_t len);

#endif
