/* idempotency: Idempotency-Key on every POST.
 *
 * Same key and same request (method, path, acting buyer and body, hashed with SHA-256) -> the
 * first response replayed exactly; same key, different request -> 422 idempotency_key_reused.
 * The response is kept by the store in the transaction of the change it answers (so a crash
 * keeps both or neither), for the rules' idempotency_ttl_s.
 *
 * Who decides is the store, inside the writer's transaction (store/store.h, store_idem): a key
 * already answered is replayed there instead of running the command again, whichever node or
 * process answered it. A second request with the same key that arrives while the first is still
 * queued is queued behind it and gets its response. The read below is only a fast path: a key
 * answered long ago is replayed without queueing anything. */
#include "api/internal.h"

#include "util/log.h"

#include <sodium.h>
#include <string.h>

/* SHA-256 of method, path, acting buyer and body, as hex. */
static void api__request_hash(const api_request *req, char out[65])
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "DELETE", "OTHER"};
    int m = 0;
    while (m < 4 && (1u << m) != (unsigned)req->method)
        m++;
    crypto_hash_sha256_state st;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)methods[m], strlen(methods[m]));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)req->path, strlen(req->path));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    /* the buyer acting is part of the request: a key is never replayed to another buyer */
    crypto_hash_sha256_update(&st, (const unsigned char *)req->actor, strlen(req->actor));
    crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)req->body, req->body_len);
    crypto_hash_sha256_final(&st, digest);
    sodium_bin2hex(out, 65, digest, sizeof(digest));
}

typedef struct api__replay {
    const char *hash;
    api_response *res;
    bool same;
} api__replay;

static int api__replay_cb(void *ctx, const char *request_hash, unsigned status, const char *body,
                          size_t body_len)
{
    api__replay *r = ctx;
    r->same = request_hash && strcmp(request_hash, r->hash) == 0;
    if (!r->same) return 0;
    r->res->status = status;
    buf_reset(&r->res->body);
    return buf_append(&r->res->body, body, body_len);
}

static bool api__key_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len > TIX_IDEMPOTENCY_KEY_LEN_MAX) return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e) return false;
    return true;
}

api_result api__idempotency_begin(api *a, api_request *req, api_response *res)
{
    const char *key = req->idempotency_key;
    if (!api__key_valid(key)) {
        api_error(res, 400, "invalid_idempotency_key",
                  "Idempotency-Key must be 1 to %d printable ASCII characters",
                  TIX_IDEMPOTENCY_KEY_LEN_MAX);
        return API_DONE;
    }
    store_idem *idem = &req->idem;
    memset(idem, 0, sizeof(*idem));
    idem->key = key;
    api__request_hash(req, idem->request_hash);
    buf_init(&idem->body, API_RESPONSE_LEN_MAX);
    api__replay replay = {idem->request_hash, res, false};
    bool found;
    store_status status = STORE_OK;
    if (store_idempotency_get(a->st, key, api__replay_cb, &replay, &found, &status) != 0) {
        api__error_store(res, status);
        return API_DONE;
    }
    if (found && !replay.same) api__error_rc(res, TIX_RC_KEY_REUSED);
    return found ? API_DONE : API_COMMIT;
}

/* The writer's hook: render the response now, inside the transaction that keeps it. */
static void api__render_for_writer(void *ctx, const store_cmd *cmd, unsigned *status, buf *body)
{
    (void)cmd;
    api_request *req = ctx;
    api_response tmp;
    api_response_init(&tmp);
    tmp.request_id = req->request_id; /* kept, and so replayed, with the first request's id */
    api__render(req, &tmp);
    *status = tmp.status;
    buf_reset(body);
    if (buf_append(body, tmp.body.data ? tmp.body.data : "", tmp.body.len) != 0)
        log_error("api: the response to keep for an idempotency key is too large");
    buf_free(&tmp.body);
}

api_result api__idempotency_attach(api *a, api_request *req, api_response *res, api_result result)
{
    store_idem *idem = &req->idem;
    if (result == API_DONE) { /* answered without a state change: keep that answer all the same */
        if (!api__command(a, req, STORE_CMD_RESPONSE, res)) return API_DONE;
        idem->render = NULL;
        idem->status = res->status;
        buf tmp = idem->body;
        idem->body = res->body;
        res->body = tmp;
    } else {
        idem->render = api__render_for_writer;
        idem->render_ctx = req;
    }
    req->cmd->op.idem = idem;
    req->idempotent = true;
    return API_COMMIT;
}
