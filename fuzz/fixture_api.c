/* fixture_api: see fixture_api.h.
 *
 * Set-up speaks to the API as a client would (JSON requests through api_handle, committed by
 * a real writer through api_submit), so the frozen state is one tix itself could be in: two
 * events, an active hold, a booking waiting for its payment, a webhook, and a response kept
 * for an Idempotency-Key. The store lives in $TMPDIR/tix-fuzz-XXXXXX (removed at a normal
 * exit; a crash leaves it, which is why scripts/fuzz.sh points TMPDIR at its own temp dir). */
#include "fixture_api.h"

#include "api/json_in.h"
#include "commit/commit.h"
#include "util/ids.h"
#include "util/log.h"

#include <cjson/cJSON.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fx_api fx__api;
static bool fx__ready;
static char fx__dir[4096]; /* $TMPDIR/tix-fuzz-XXXXXX */

void fx_api_request_init(api_request *req, http_method method, const char *path)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = path;
    req->body = "";
}

void fx_check_json(const char *what, const char *data, size_t len)
{
    size_t bad_at;
    bool too_deep, has_nul;
    bool ok = api_json_validate(data, len, &bad_at, &too_deep, &has_nul);
    FX_CHECK(ok && !has_nul, "%s is not strict JSON (byte %zu of %zu): %.*s", what, bad_at, len,
             (int)(len > 600 ? 600 : len), data);
}

void fx_api_response_free(api_response *res)
{
    if (res->shared_release) res->shared_release(res->shared_cls);
    res->shared_release = NULL;
    res->shared_data = NULL;
    buf_free(&res->body);
}

/* Is status one that tix sends? Never a 500 (a bug, or a store read that failed); 503 only
 * when the fixture itself refused the command. */
static bool fx__status_known(unsigned status, bool refused)
{
    static const unsigned known[] = {200, 201, 202, 204, 304, 400, 401, 403,
                                     404, 405, 409, 410, 413, 415, 422, 429};
    if (status == 503) return refused;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (known[i] == status) return true;
    return false;
}

/* The promises every response keeps: a known status; no body for 304; a page (a content type
 * other than JSON) only as a 200 of GET / or /assets/; otherwise one JSON object, which for an
 * error is {"error":{"code":"...","message":"..."}}. */
static void fx__check_response(const api_request *req, const api_response *res, bool refused)
{
    FX_CHECK(fx__status_known(res->status, refused), "status %u for %s", res->status, req->path);
    const char *data = res->shared_data ? res->shared_data : res->body.data;
    size_t len = res->shared_data ? res->shared_len : res->body.len;
    if (res->status == 304) {
        FX_CHECK(len == 0 || res->shared_data, "a 304 with a body");
        return;
    }
    if (res->content_type) { /* an embedded page or asset (/openapi.json too), or the metrics */
        route_id r = req->match.route;
        bool page = r == ROUTE_PAGE || r == ROUTE_ASSET || r == ROUTE_ADMIN_PAGE ||
                    r == ROUTE_OPENAPI || r == ROUTE_METRICS;
        FX_CHECK(page && res->status == 200 && (len > 0 || r == ROUTE_METRICS),
                 "a %u of type %s for %s", res->status, res->content_type, req->path);
        return;
    }
    FX_CHECK(len > 0 && data[0] == '{', "status %u with a body that is not an object: %.*s",
             res->status, (int)(len > 200 ? 200 : len), data ? data : "");
    fx_check_json("the response body", data, len);
    if (res->status < 400) return;
    cJSON *root = cJSON_ParseWithLength(data, len);
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(error, "code");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(error, "message");
    bool shaped = cJSON_IsString(code) && code->valuestring[0] && cJSON_IsString(message);
    cJSON_Delete(root);
    FX_CHECK(shaped, "error %u without error.code and error.message: %.*s", res->status,
             (int)(len > 300 ? 300 : len), data);
}

api_result fx_api_begin(api_request *req, api_response *res)
{
    api_response_init(res);
    return api_handle(fx_api_get()->api, req, res);
}

unsigned fx_api_end(api_request *req, api_response *res, api_result result)
{
    bool refused = false;
    if (result == API_COMMIT) {
        /* The end of the line: a response that depends only on the request is rendered as
         * the writer would render it in its transaction; any other command is refused as by
         * a writer that is shutting down. Either way api_finish frees what it holds. */
        commit_cmd *cmd = req->cmd;
        FX_CHECK(cmd != NULL, "API_COMMIT without a command");
        store_cmd_kind kind = cmd ? cmd->op.kind : STORE_CMD_PING;
        bool from_request = kind == STORE_CMD_EVENT_CREATE || kind == STORE_CMD_SUBSCRIBER_ADD ||
                            kind == STORE_CMD_RESPONSE;
        if (cmd) cmd->op.rc = from_request ? TIX_RC_OK : TIX_RC_SHUTTING_DOWN;
        refused = !from_request;
        if (cmd && cmd->op.idem) { /* the writer renders a kept response in its transaction */
            store_idem *idem = cmd->op.idem;
            if (idem->render) idem->render(idem->render_ctx, &cmd->op, &idem->status, &idem->body);
        }
        api_finish(fx_api_get()->api, req, res);
    }
    FX_CHECK(req->cmd == NULL, "a command left with the request after api_finish");
    fx__check_response(req, res, refused);
    return res->status;
}

unsigned fx_api_handle(api_request *req, api_response *res_out)
{
    api_response local;
    api_response *res = res_out ? res_out : &local;
    unsigned status = fx_api_end(req, res, fx_api_begin(req, res));
    if (!res_out) fx_api_response_free(res);
    return status;
}

/* ---- set-up, through the real write path ---- */

typedef struct fx__wait {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool done;
} fx__wait;

static void fx__resume(api_request *req)
{
    fx__wait *w = req->http_ctx;
    pthread_mutex_lock(&w->mutex);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
}

static void fx__die(const char *what)
{
    fprintf(stderr, "fuzz fixture: %s\n", what);
    abort();
}

/* One request committed by the writer; returns the response's "id" into id_out (when not
 * NULL) and aborts unless the status is want. */
static void fx__setup_request(api *a, http_method method, const char *path, const char *body,
                              const char *key, unsigned want, char *id_out, size_t id_cap)
{
    api_request *req = malloc(sizeof(*req));
    if (!req) fx__die("out of memory");
    fx_api_request_init(req, method, path);
    fx__wait w = {.done = false};
    pthread_mutex_init(&w.mutex, NULL);
    pthread_cond_init(&w.cond, NULL);
    req->content_type = "application/json";
    req->authorization = "Bearer " FX_ADMIN_TOKEN;
    req->idempotency_key = key;
    req->body = body;
    req->body_len = strlen(body);
    req->resume = fx__resume;
    req->http_ctx = &w;
    api_response res;
    api_response_init(&res);
    if (api_handle(a, req, &res) == API_COMMIT) {
        api_submit(a, req);
        pthread_mutex_lock(&w.mutex);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.mutex);
        pthread_mutex_unlock(&w.mutex);
        api_finish(a, req, &res);
    }
    if (res.status != want) {
        fprintf(stderr, "fuzz fixture: %s %s: %u %s\n", path, body, res.status,
                res.body.data ? res.body.data : "");
        fx__die("unexpected status");
    }
    if (id_out) {
        cJSON *root = cJSON_ParseWithLength(res.body.data, res.body.len);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
        if (!cJSON_IsString(id)) fx__die("no id in a response");
        snprintf(id_out, id_cap, "%s", id->valuestring);
        cJSON_Delete(root);
    }
    fx_api_response_free(&res);
    pthread_mutex_destroy(&w.mutex);
    pthread_cond_destroy(&w.cond);
    free(req);
}

static void fx__populate(fx_api *f, commit *writer)
{
    api *a = api_create(f->inv, writer, f->st, f->follower, FX_ADMIN_TOKEN);
    if (!a) fx__die("api_create");
    char path[128], hold2[TIX_HOLD_ID_LEN + 1];
    fx__setup_request(
        a, HTTP_POST, "/events",
        "{\"id\":\"" FX_EVENT_ID "\",\"name\":\"Fuzz Night\",\"venue\":\"Hall\","
        "\"starts_at\":\"2027-06-01T19:30:00Z\",\"hold_ttl_s\":86400,"
        "\"max_seats_per_hold\":4,\"sections\":["
        "{\"name\":\"Floor\",\"rows\":[\"A\",\"B\"],\"seats_per_row\":10,"
        "\"price_cents\":4500},"
        "{\"name\":\"Free\",\"rows\":[\"C\"],\"seats_per_row\":5,\"price_cents\":0}]}",
        NULL, 201, NULL, 0);
    fx__setup_request(a, HTTP_POST, "/events",
                      "{\"id\":\"" FX_EVENT_SMALL_ID "\",\"name\":\"Small\",\"venue\":\"Room\","
                      "\"starts_at\":\"2027-01-01T00:00:00+01:00\",\"hold_ttl_s\":86400,"
                      "\"max_seats_per_hold\":1,\"sections\":[{\"name\":\"S\",\"rows\":[\"A\"],"
                      "\"seats_per_row\":3,\"price_cents\":100}]}",
                      NULL, 201, NULL, 0);
    fx__setup_request(a, HTTP_POST, "/events/" FX_EVENT_ID "/holds",
                      "{\"user_id\":\"alice\",\"seat_ids\":[\"A1\",\"A2\"]}", NULL, 201, f->hold_id,
                      sizeof(f->hold_id));
    fx__setup_request(a, HTTP_POST, "/events/" FX_EVENT_ID "/holds",
                      "{\"user_id\":\"carol\",\"seat_ids\":[\"B1\"]}", NULL, 201, hold2,
                      sizeof(hold2));
    snprintf(path, sizeof(path), "/holds/%s/checkout", hold2);
    fx__setup_request(a, HTTP_POST, path,
                      "{\"payment_token\":\"tok_visa\",\"email\":\"carol@example.com\"}", NULL, 202,
                      f->booking_id, sizeof(f->booking_id));
    fx__setup_request(a, HTTP_POST, "/admin/webhooks",
                      "{\"url\":\"http://127.0.0.1:9/hook\",\"types\":[\"Hold*\"],"
                      "\"secret\":\"s3cret\"}",
                      NULL, 201, NULL, 0);
    /* A1 is held: a 409 from memory, kept for the key by the writer */
    fx__setup_request(a, HTTP_POST, "/reserve", FX_REPLAY_BODY, FX_REPLAY_KEY, 409, NULL, 0);
    api_destroy(a);
}

static int fx__remove(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void fx__teardown(void)
{
    fx_api *f = &fx__api;
    api_destroy(f->api);
    commit_destroy(f->writer);
    feed_close(f->follower);
    inventory_destroy(f->inv);
    store_close(f->st);
    nftw(fx__dir, fx__remove, 16, FTW_DEPTH | FTW_PHYS);
}

fx_api *fx_api_get(void)
{
    fx_api *f = &fx__api;
    if (fx__ready) return f;
    log_set_level(LOG_LEVEL_ERROR);
    if (ids_init() != 0) fx__die("libsodium");
    const char *tmp = getenv("TMPDIR");
    snprintf(fx__dir, sizeof(fx__dir), "%s/tix-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(fx__dir)) fx__die("mkdtemp");
    char err[256] = "";
    store_options so = {.data_dir = fx__dir, .readers = 2};
    if (store_open(&so, &f->st, err, sizeof(err)) != 0) fx__die(err);
    f->inv = inventory_create();
    feed_config fc = {.poll_ms = FEED_POLL_MS_MAX, .page_max = FEED_PAGE_MAX_DEFAULT};
    if (!f->inv || !(f->follower = feed_open(f->st, f->inv, &fc))) fx__die("inventory");
    commit_config config = commit_config_default();
    config.sweep_interval_ms = 3600 * 1000;
    f->writer = commit_start(f->st, &config);
    if (!f->writer) fx__die("commit_start");
    commit_on_changes(f->writer, feed_apply_committed, f->follower);
    fx__populate(f, f->writer);
    commit_stop(f->writer); /* frozen from here: nothing writes */
    f->api = api_create(f->inv, f->writer, f->st, f->follower, FX_ADMIN_TOKEN);
    api_set_feed_lag_max(f->api, UINT32_MAX); /* no poller: memory is up to date all the same */
    if (!f->api) fx__die("api_create");
    atexit(fx__teardown);
    fx__ready = true;
    return f;
}
