/* buyer_token: see buyer_token.h. */
#include "api/buyer_token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char buyer__prefix[] = "tixb1.";

/* HMAC-SHA256 of msg (len bytes) under secret, as 64 hex characters + NUL. */
static void buyer__sign(const char *secret, const char *msg, size_t len, char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof(mac));
}

int buyer_token_make(const char *secret, const char *user_id, int64_t expires_s, char *out)
{
    size_t user_len = strlen(user_id);
    if (user_len == 0 || user_len > TIX_USER_ID_LEN_MAX) return -1;
    char user64[TIX_USER_ID_LEN_MAX * 4 / 3 + 8];
    sodium_bin2base64(user64, sizeof(user64), (const unsigned char *)user_id, user_len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    int n = snprintf(out, BUYER_TOKEN_LEN_MAX + 1, "%s%s.%lld.", buyer__prefix, user64,
                     (long long)expires_s);
    if (n < 0 || (size_t)n + 64 > BUYER_TOKEN_LEN_MAX) return -1;
    buyer__sign(secret, out, (size_t)n - 1, out + n); /* signs up to the last dot */
    return 0;
}

bool buyer_token_verify(const char *secret, const char *token, int64_t now_s, char *user_out)
{
    size_t len = strlen(token);
    if (len > BUYER_TOKEN_LEN_MAX || strncmp(token, buyer__prefix, sizeof(buyer__prefix) - 1))
        return false;
    const char *sig = strrchr(token, '.');
    if (!sig || strlen(sig + 1) != 64) return false;
    char want[65];
    buyer__sign(secret, token, (size_t)(sig - token), want);
    if (sodium_memcmp(want, sig + 1, 64) != 0) return false;
    /* signed: now the fields can be trusted */
    const char *user64 = token + sizeof(buyer__prefix) - 1;
    const char *dot = strchr(user64, '.');
    if (!dot || dot >= sig) return false;
    char *end = NULL;
    long long expires_s = strtoll(dot + 1, &end, 10);
    if (end != sig || expires_s < now_s) return false;
    size_t user_len = 0;
    if (sodium_base642bin((unsigned char *)user_out, TIX_USER_ID_LEN_MAX, user64,
                          (size_t)(dot - user64), NULL, &user_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        user_len == 0)
        return false;
    user_out[user_len] = '\0';
    return strlen(user_out) == user_len; /* no NUL inside */
}
