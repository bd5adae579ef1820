/* ids: see ids.h. */
#include "util/ids.h"

#include <sodium.h>
#include <sodium/randombytes_internal_random.h>

int ids_init(void)
{
    /* libsodium's own ChaCha20 generator, seeded from the kernel and kept per thread: ids
     * cost no system call (the default asks getrandom(2) for every one) */
    randombytes_set_implementation(&randombytes_internal_implementation);
    return sodium_init() < 0 ? -1 : 0;
}

void ids_random_hex(char *out)
{
    unsigned char raw[IDS_HEX_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, IDS_HEX_LEN + 1, raw, sizeof(raw));
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
