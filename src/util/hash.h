/* hash: FNV-1a, for the open-addressing tables of tix (seat ids, the event rules of a store,
 * rate-limit buckets). Not for anything an attacker must not steer: every such table bounds
 * its probes. */
#ifndef TIX_HASH_H
#define TIX_HASH_H

#include <stddef.h>
#include <stdint.h>

/* 32-bit FNV-1a of len bytes of s. */
static inline uint32_t hash_fnv1a32(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

#endif
