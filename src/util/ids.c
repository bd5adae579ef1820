/* ids: see ids.h. */
#include "util/ids.h"

#include <assert.h>
#include <sodium.h>
#include <sodium/randombytes_internal_random.h>
#include <string.h>

/* Random bytes drawn from libsodium IDS_POOL_BYTES at a time: its generator checks getpid()
 * on every call (fork safety), which was two system calls per hold. tix never forks. */
enum { IDS_POOL_BYTES = 256 };

static _Thread_local unsigned char ids__pool[IDS_POOL_BYTES];
static _Thread_local size_t ids__pool_used = IDS_POOL_BYTES;

int ids_init(void)
{
    /* libsodium's own ChaCha20 generator, seeded from the kernel and kept per thread: ids
     * cost no system call (the default asks getrandom(2) for every one) */
    randombytes_set_implementation(&randombytes_internal_implementation);
    return sodium_init() < 0 ? -1 : 0;
}

/* n (<= IDS_POOL_BYTES) random bytes into out; what is handed out is wiped from the pool. */
static void ids__random(unsigned char *out, size_t n)
{
    assert(n <= IDS_POOL_BYTES);
    if (n > IDS_POOL_BYTES - ids__pool_used) {
        randombytes_buf(ids__pool, sizeof(ids__pool));
        ids__pool_used = 0;
    }
    memcpy(out, ids__pool + ids__pool_used, n);
    sodium_memzero(ids__pool + ids__pool_used, n);
    ids__pool_used += n;
}

void ids_random_hex(char *out)
{
    unsigned char raw[IDS_HEX_LEN / 2];
    ids__random(raw, sizeof(raw));
    sodium_bin2hex(out, IDS_HEX_LEN + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

void ids_sortable_hex(char *out, int64_t now_ms)
{
    assert(now_ms >= 0);
    unsigned char raw[IDS_HEX_LEN / 2];
    uint64_t t = (uint64_t)now_ms;
    for (int i = IDS_TIME_HEX_LEN / 2 - 1; i >= 0; i--) { /* big-endian: sorts as text */
        raw[i] = (unsigned char)(t & 0xff);
        t >>= 8;
    }
    ids__random(raw + IDS_TIME_HEX_LEN / 2, sizeof(raw) - IDS_TIME_HEX_LEN / 2);
    sodium_bin2hex(out, IDS_HEX_LEN + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

bool ids_is_valid_hex(const char *s, size_t len)
{
    if (len != IDS_HEX_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}
