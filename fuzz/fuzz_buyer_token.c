/* fuzz_buyer_token: buyer_token_verify on arbitrary bytes (what follows "Bearer " in an
 * Authorization header on every buyer endpoint).
 *
 * Checked:
 *   - no crash, no read past the text, whatever it holds;
 *   - nothing is accepted unless it is exactly a token made with the server's secret: an
 *     accepted input is rebuilt with buyer_token_make from the user and expiry it carries,
 *     and must be byte for byte the input (so a forged or altered token never passes);
 *   - a token made from the input's bytes as a user id verifies to that user, and fails once
 *     expired or once any byte of it is changed. */
#include "check.h"

#include "api/buyer_token.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char fx_secret[] = "fuzz-secret-0123456789abcdef";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return sodium_init() < 0 ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[BUYER_TOKEN_LEN_MAX * 2 + 1];
    size_t len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, len);
    text[len] = '\0';
    char user[TIX_USER_ID_LEN_MAX + 1];
    const int64_t now_s = 1800000000;
    if (buyer_token_verify(fx_secret, text, now_s, user)) {
        const char *sig = strrchr(text, '.'), *exp = sig;
        while (exp > text && exp[-1] != '.')
            exp--;
        char again[BUYER_TOKEN_LEN_MAX + 1];
        FX_CHECK(buyer_token_make(fx_secret, user, strtoll(exp, NULL, 10), again) == 0, "user %s",
                 user);
        FX_CHECK(strcmp(again, text) == 0, "accepted %s, rebuilt %s", text, again);
    }
    /* a token for the input's bytes as a user id (when it is one) */
    size_t user_len = strlen(text);
    if (user_len == 0 || user_len > TIX_USER_ID_LEN_MAX) return 0;
    char token[BUYER_TOKEN_LEN_MAX + 1], got[TIX_USER_ID_LEN_MAX + 1];
    FX_CHECK(buyer_token_make(fx_secret, text, now_s + 60, token) == 0, "user %s", text);
    FX_CHECK(buyer_token_verify(fx_secret, token, now_s, got) && strcmp(got, text) == 0, "token %s",
             token);
    FX_CHECK(!buyer_token_verify(fx_secret, token, now_s + 61, got), "expired %s", token);
    FX_CHECK(!buyer_token_verify("another-secret", token, now_s, got), "other key %s", token);
    size_t at = (size_t)data[0] % strlen(token);
    token[at] = token[at] == 'a' ? 'b' : 'a';
    FX_CHECK(!buyer_token_verify(fx_secret, token, now_s, got), "altered %s", token);
    return 0;
}
