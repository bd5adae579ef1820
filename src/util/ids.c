/* ids: see ids.h. */
#include "util/ids.h"

#include <sodium.h>

int ids_init(void)
{
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
