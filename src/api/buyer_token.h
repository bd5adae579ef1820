/* buyer_token: signed buyer tokens, so that one buyer cannot read, release or check out
 * another's hold (or booking).
 *
 *   tixb1.<user id, base64url>.<expiry, unix seconds>.<HMAC-SHA256, hex>
 *
 * The HMAC (libsodium) covers everything before the last dot, with the server's buyer-token
 * secret as key. A front end that has authenticated a buyer asks tix for a token
 * (POST /admin/buyer-tokens, admin only) and hands it to the buyer's client, which sends it
 * as `Authorization: Bearer <token>`. Verification is constant-time. */
#ifndef TIX_BUYER_TOKEN_H
#define TIX_BUYER_TOKEN_H

#include "core/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    BUYER_TOKEN_SECRET_LEN_MAX = 256,
    BUYER_TOKEN_LEN_MAX = 16 + (TIX_USER_ID_LEN_MAX * 4 / 3 + 4) + 24 + 64,
    BUYER_TOKEN_TTL_S_DEFAULT = 3600,
    BUYER_TOKEN_TTL_S_MAX = 30 * 86400,
};

/* Write the token of user_id valid until expires_s into out (BUYER_TOKEN_LEN_MAX + 1 bytes).
 * Returns 0, or -1 when user_id is too long. */
int buyer_token_make(const char *secret, const char *user_id, int64_t expires_s, char *out);

/* Check token at now_s: well formed, signed with secret, not expired. On success writes the
 * user id into user_out (TIX_USER_ID_LEN_MAX + 1 bytes) and returns true. */
bool buyer_token_verify(const char *secret, const char *token, int64_t now_s, char *user_out);

#endif
