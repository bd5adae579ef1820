/* idempotency: Idempotency-Key on every POST.
 *
 * Same key and same request (method, path and body, hashed with SHA-256) -> the first
 * response replayed exactly; same key, different request -> 422 idempotency_key_reused; the
 * same key while its first request is still running -> 409 idempotency_key_in_flight with
 * Retry-After. The response is kept by the writer in the transaction of the change it
 * answers (so a crash keeps both or neither), for commit_config.idempotency_ttl_s.
 *
 * Order matters: a request first registers its key as in flight, then looks in the store.
 * The first request lets its key go only after its response is committed, so a second one
 * either sees it in flight or finds its response stored: never neither. */
#include "api/internal.h"

#include "util/hash.h"
#include "util/log.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { API_INFLIGHT_SLOTS = 16384, API_INFLIGHT_MAX = API_INFLIGHT_SLOTS / 2 };

static char api__tombstone[1];

struct api_inflight {
    pthread_mutex_t mutex;
    uint32_t count, tombstones;
    char *slots[API_INFLIGHT_SLOTS];
};

api_inflight *api__inflight_create(void)
{
    api_inflight *f = calloc(1, sizeof(*f));
    if (f) pthread_mutex_init(&f->mutex, NULL);
    return f;
}

void api__inflight_destroy(api_inflight *f)
{
    if (!f) return;
    for (uint32_t i = 0; i < API_INFLIGHT_SLOTS; i++)
        if (f->slots[i] && f->slots[i] != api__tombstone) free(f->slots[i]);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}

/* Drop tombstones by re-inserting every live key. Caller holds the mutex. */
static void api__inflight_rehash(api_inflight *f)
{
    char **live = malloc(f->count * sizeof(char *) + 1);
    if (!live) return;
    uint32_t n = 0;
    for (uint32_t i = 0; i < API_INFLIGHT_SLOTS; i++) {
        if (f->slots[i] && f->slots[i] != api__tombstone) live[n++] = f->slots[i];
        f->slots[i] = NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t slot = hash_fnv1a32(live[i], strlen(live[i])) & (API_INFLIGHT_SLOTS - 1);
        while (f->slots[slot])
            slot = (slot + 1) & (API_INFLIGHT_SLOTS - 1);
        f->slots[slot] = live[i];
    }
    f->tombstones = 0;
    free(live);
}

/* Add key. Returns 0, 1 when it is there already, -1 when the table is full. */
static int api__inflight_add(api_inflight *f, const char *key)
{
    int rc = 0;
    pthread_mutex_lock(&f->mutex);
    if (f->tombstones > API_INFLIGHT_SLOTS / 4) api__inflight_rehash(f);
    uint32_t slot = hash_fnv1a32(key, strlen(key)) & (API_INFLIGHT_SLOTS - 1);
    int64_t free_slot = -1;
    for (uint32_t probes = 0; probes < API_INFLIGHT_SLOTS; probes++) {
        char *entry = f->slots[slot];
        if (!entry) break;
        if (entry == api__tombstone) {
            if (free_slot < 0) free_slot = slot;
        } else if (strcmp(entry, key) == 0) {
            rc = 1;
            goto out;
        }
        slot = (slot + 1) & (API_INFLIGHT_SLOTS - 1);
    }
    if (f->count >= API_INFLIGHT_MAX) {
        rc = -1;
        goto out;
    }
    char *copy = strdup(key);
    if (!copy) {
        rc = -1;
        goto out;
    }
    if (free_slot >= 0) {
        slot = (uint32_t)free_slot;
        f->tombstones--;
    }
    f->slots[slot] = copy;
    f->count++;
out:
    pthread_mutex_unlock(&f->mutex);
    return rc;
}

static void api__inflight_remove(api_inflight *f, const char *key)
{
    pthread_mutex_lock(&f->mutex);
    uint32_t slot = hash_fnv1a32(key, strlen(key)) & (API_INFLIGHT_SLOTS - 1);
    for (uint32_t probes = 0; probes < API_INFLIGHT_SLOTS && f->slots[slot]; probes++) {
        char *entry = f->slots[slot];
        if (entry != api__tombstone && strcmp(entry, key) == 0) {
            free(entry);
            f->slots[slot] = api__tombstone;
            f->count--;
            f->tombstones++;
            break;
        }
        slot = (slot + 1) & (API_INFLIGHT_SLOTS - 1);
    }
    pthread_mutex_unlock(&f->mutex);
}

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
    int added = api__inflight_add(a->inflight, key);
    if (added != 0) {
        if (added > 0)
            api_error(res, 409, "idempotency_key_in_flight",
                      "a request with this Idempotency-Key is still being processed");
        else
            api_error(res, 503, "overloaded", "too many requests with idempotency keys");
        res->retry_after_s = 1;
        return API_DONE;
    }
    api__request_hash(req, req->request_hash);
    api__replay replay = {req->request_hash, res, false};
    bool found;
    if (store_idempotency_get(a->st, key, api__replay_cb, &replay, &found) != 0) {
        api__inflight_remove(a->inflight, key);
        api__error_rc(res, TIX_RC_STORE_ERROR);
        return API_DONE;
    }
    if (found) {
        api__inflight_remove(a->inflight, key);
        if (!replay.same)
            api_error(res, 422, "idempotency_key_reused",
                      "this Idempotency-Key was used with a different request");
        return API_DONE;
    }
    req->idempotency_registered = true;
    return API_COMMIT;
}

/* The writer's hook: render the response now, inside the transaction that keeps it. */
static void api__render_for_writer(commit_cmd *cmd)
{
    api_request *req = cmd->ctx;
    api_response tmp;
    api_response_init(&tmp);
    tmp.request_id = req->request_id; /* kept, and so replayed, with the first request's id */
    api__render(req, &tmp);
    cmd->idempotency.status = tmp.status;
    buf_free(&cmd->idempotency.body);
    cmd->idempotency.body = tmp.body;
}

void api__idempotency_attach(api_request *req, api_response *res, api_result result)
{
    commit_cmd *cmd = &req->cmd;
    commit_idempotency *idem = &cmd->idempotency;
    if (result == API_DONE) /* the command was never built: start from a clean one */
        commit_cmd_clear(cmd, COMMIT_RESPONSE_STORE);
    memset(idem, 0, sizeof(*idem));
    idem->key = req->idempotency_key;
    memcpy(idem->request_hash, req->request_hash, sizeof(idem->request_hash));
    buf_init(&idem->body, API_RESPONSE_LEN_MAX);
    if (result == API_COMMIT) {
        idem->render = api__render_for_writer;
        return;
    }
    /* answered without a state change: keep that answer through the writer all the same */
    idem->rendered = true;
    idem->status = res->status;
    buf tmp = idem->body;
    idem->body = res->body;
    res->body = tmp;
}

void api__idempotency_end(api *a, api_request *req)
{
    if (!req->idempotency_registered) return;
    req->idempotency_registered = false;
    api__inflight_remove(a->inflight, req->idempotency_key);
}
