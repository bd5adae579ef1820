/* events: GET /events, GET /events/{id}, GET /events/{id}/seats, POST /events. */
#include "api/internal.h"

#include "api/json_in.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

api_result api_events_list(api *a, api_response *res)
{
    inv_event **list = malloc(TIX_EVENTS_MAX * sizeof(*list));
    if (!list) return api_error(res, 500, "internal", "out of memory"), API_DONE;
    uint32_t n = inventory_list(a->inv, list, TIX_EVENTS_MAX);
    int64_t now_ms = clock_now_ms();
    buf_append_str(&res->body, "{\"events\":[");
    for (uint32_t i = 0; i < n; i++) {
        if (i) buf_append_char(&res->body, ',');
        api__write_event(&res->body, list[i], now_ms, false);
    }
    buf_append_str(&res->body, "]}");
    free(list);
    api__ok(res, 200);
    return API_DONE;
}

api_result api_event_get(api *a, api_request *req, api_response *res)
{
    inv_event *ev = api__find_event(a, req->match.param, req->match.param_len, res);
    if (!ev) return API_DONE;
    api__write_event(&res->body, ev, clock_now_ms(), true);
    api__ok(res, 200);
    return API_DONE;
}

/* A seat map as built once and sent many times (until the event's seats change, or a hold
 * it shows lapses). Reference-counted: the cache holds one reference, each response being
 * sent holds one. */
struct api_seatmap {
    int refs;
    inv_snapshot snap;
    char etag[48];
    size_t len;
    char *data;
};

static void api__seatmap_release(void *cls)
{
    api_seatmap *m = cls;
    if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) > 0) return;
    free(m->data);
    free(m);
}

void api__seatmaps_clear(api *a)
{
    for (uint32_t i = 0; i < TIX_EVENTS_MAX; i++)
        for (int f = 0; f < API_SEATMAP_FILTERS; f++)
            if (a->seatmaps[i][f]) api__seatmap_release(a->seatmaps[i][f]);
}

/* The seat map of ev with filter at now_ms, from the cache when still true, else built and
 * cached. Its ETag is made of the store's id, the feed position of the event's last change, the
 * moment a hold it shows lapses and the filter: the same on every node that follows the same
 * store, and never the same for two different maps. The caller owns one reference. NULL when
 * it cannot be built. */
static api_seatmap *api__seatmap_get(api *a, inv_event *ev, int filter, int64_t now_ms)
{
    api_seatmap **slot = &a->seatmaps[ev->index][filter + 1];
    uint64_t version = inv_event_version(ev);
    pthread_mutex_lock(&a->seatmaps_mutex);
    api_seatmap *m = *slot;
    bool fresh = m && m->snap.version == version && now_ms < m->snap.valid_until_ms;
    if (fresh) __atomic_add_fetch(&m->refs, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&a->seatmaps_mutex);
    if (fresh) return m;
    m = calloc(1, sizeof(*m));
    buf b;
    buf_init(&b, API_RESPONSE_LEN_MAX);
    int64_t position = feed_position(a->follower); /* before the map: it has all up to here */
    if (!m || inv_event_write_seat_map(ev, filter, now_ms, position, &b, &m->snap) != 0) {
        buf_free(&b);
        free(m);
        return NULL;
    }
    m->data = buf_detach(&b, &m->len);
    m->refs = 2; /* the cache's and the caller's */
    snprintf(m->etag, sizeof(m->etag), "\"%s-%llx-%llx-%d\"", a->etag_salt,
             (unsigned long long)m->snap.version, (unsigned long long)m->snap.valid_until_ms,
             filter + 1);
    pthread_mutex_lock(&a->seatmaps_mutex);
    api_seatmap *old = *slot;
    *slot = m;
    pthread_mutex_unlock(&a->seatmaps_mutex);
    if (old) api__seatmap_release(old);
    return m;
}

/* Does an If-None-Match header name this ETag (or "*")? */
static bool api__etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match) return false;
    if (strcmp(if_none_match, "*") == 0) return true;
    return strstr(if_none_match, etag) != NULL;
}

api_result api_event_seats(api *a, api_request *req, api_response *res)
{
    inv_event *ev = api__find_event(a, req->match.param, req->match.param_len, res);
    if (!ev) return API_DONE;
    int filter = -1;
    if (req->status_filter) {
        seat_status status;
        if (model_seat_status_parse(req->status_filter, &status) != 0) {
            api_error(res, 422, "invalid_request",
                      "query parameter 'status' must be available, held or sold");
            return API_DONE;
        }
        filter = (int)status;
    }
    api_seatmap *m = api__seatmap_get(a, ev, filter, clock_now_ms());
    if (!m) {
        api_error(res, 500, "internal", "the seat map could not be built");
        return API_DONE;
    }
    snprintf(res->etag, sizeof(res->etag), "%s", m->etag);
    if (api__etag_matches(req->if_none_match, m->etag)) {
        res->status = 304; /* not modified: nothing built, nothing sent */
        api__seatmap_release(m);
        return API_DONE;
    }
    res->status = 200;
    res->shared_data = m->data;
    res->shared_len = m->len;
    res->shared_release = api__seatmap_release;
    res->shared_cls = m;
    return API_DONE;
}

static int api__cmp_label(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Row labels must be unique in the event (which makes seat ids unique, since a label never
 * ends in a digit). Returns the first repeated label, or NULL. */
static const char *api__repeated_label(const event_spec *spec)
{
    uint32_t total = 0;
    for (uint32_t s = 0; s < spec->section_count; s++)
        total += spec->sections[s].row_count;
    char **labels = malloc((total ? total : 1) * sizeof(char *));
    if (!labels) return "?";
    uint32_t n = 0;
    for (uint32_t s = 0; s < spec->section_count; s++)
        for (uint32_t r = 0; r < spec->sections[s].row_count; r++)
            labels[n++] = spec->sections[s].rows[r];
    qsort(labels, n, sizeof(char *), api__cmp_label);
    const char *repeated = NULL;
    for (uint32_t i = 1; i < n && !repeated; i++)
        if (strcmp(labels[i - 1], labels[i]) == 0) repeated = labels[i];
    free(labels);
    return repeated;
}

/* Read one section object into sec. Returns 0 or -1 with err set. */
static int api__parse_section(const cJSON *item, uint32_t index, section_spec *sec, char *err)
{
    char field[64];
    if (!cJSON_IsObject(item)) {
        snprintf(err, API_JSON_ERR_LEN, "sections[%u] must be an object", index);
        return -1;
    }
    const char *name;
    int64_t seats_per_row = 0, price_cents = 0;
    const cJSON *rows;
    if (api_json_string(item, "name", true, 1, TIX_EVENT_NAME_LEN_MAX, &name, err) != 0 ||
        api_json_int(item, "seats_per_row", true, 1, TIX_SEATS_PER_ROW_MAX, &seats_per_row, err) !=
            0 ||
        api_json_int(item, "price_cents", true, 0, TIX_PRICE_CENTS_MAX, &price_cents, err) != 0 ||
        api_json_array(item, "rows", TIX_ROWS_MAX, &rows, err) != 0) {
        snprintf(field, sizeof(field), "sections[%u]: ", index);
        size_t len = strlen(field), err_len = strlen(err);
        if (err_len + len < API_JSON_ERR_LEN) {
            memmove(err + len, err, err_len + 1);
            memcpy(err, field, len);
        }
        return -1;
    }
    sec->name = strdup(name);
    sec->seats_per_row = (uint32_t)seats_per_row;
    sec->price_cents = price_cents;
    sec->rows = calloc((size_t)cJSON_GetArraySize(rows), sizeof(char *));
    if (!sec->name || !sec->rows) return snprintf(err, API_JSON_ERR_LEN, "out of memory"), -1;
    const cJSON *row;
    cJSON_ArrayForEach(row, rows)
    {
        const char *label = cJSON_IsString(row) ? row->valuestring : "";
        size_t len = strlen(label);
        if (!text_is_alnum(label, len, TIX_ROW_LABEL_LEN_MAX) ||
            (label[len - 1] >= '0' && label[len - 1] <= '9')) {
            snprintf(err, API_JSON_ERR_LEN,
                     "sections[%u].rows[%u] must be 1 to %d letters and digits, ending in a "
                     "letter",
                     index, sec->row_count, TIX_ROW_LABEL_LEN_MAX);
            return -1;
        }
        if (!(sec->rows[sec->row_count] = strdup(label)))
            return snprintf(err, API_JSON_ERR_LEN, "out of memory"), -1;
        sec->row_count++;
    }
    return 0;
}

/* Read and check the body of POST /events into spec. Returns 0 or -1 with err set. */
static int api__parse_event(const cJSON *root, event_spec *spec, char *err)
{
    const char *id = NULL, *name, *venue, *starts_at;
    int64_t hold_ttl_s = TIX_HOLD_TTL_S_DEFAULT, max_seats = TIX_HOLD_SEATS_DEFAULT;
    const cJSON *sections;
    if (api_json_string(root, "id", false, 1, TIX_EVENT_ID_LEN_MAX, &id, err) != 0 ||
        api_json_string(root, "name", true, 1, TIX_EVENT_NAME_LEN_MAX, &name, err) != 0 ||
        api_json_string(root, "venue", true, 1, TIX_EVENT_NAME_LEN_MAX, &venue, err) != 0 ||
        api_json_string(root, "starts_at", true, 1, 64, &starts_at, err) != 0 ||
        api_json_int(root, "hold_ttl_s", false, 1, TIX_HOLD_TTL_S_MAX, &hold_ttl_s, err) != 0 ||
        api_json_int(root, "max_seats_per_hold", false, 1, TIX_HOLD_SEATS_MAX, &max_seats, err) !=
            0 ||
        api_json_array(root, "sections", TIX_SECTIONS_MAX, &sections, err) != 0)
        return -1;
    if (id && !text_is_slug(id, strlen(id), TIX_EVENT_ID_LEN_MAX)) {
        snprintf(err, API_JSON_ERR_LEN, "field 'id' must be 1 to %d letters, digits, '-' or '_'",
                 TIX_EVENT_ID_LEN_MAX);
        return -1;
    }
    if (clock_parse_rfc3339(starts_at, strlen(starts_at), &spec->starts_at_ms) != 0) {
        snprintf(err, API_JSON_ERR_LEN,
                 "field 'starts_at' must be an RFC 3339 date-time such as 2027-06-01T19:30:00Z");
        return -1;
    }
    if (id)
        snprintf(spec->id, sizeof(spec->id), "%s", id);
    else {
        char hex[IDS_HEX_LEN + 1];
        ids_random_hex(hex);
        snprintf(spec->id, sizeof(spec->id), "evt_%.16s", hex);
    }
    spec->name = strdup(name);
    spec->venue = strdup(venue);
    spec->hold_ttl_s = (int32_t)hold_ttl_s;
    spec->max_seats_per_hold = (int32_t)max_seats;
    spec->sections = calloc((size_t)cJSON_GetArraySize(sections), sizeof(section_spec));
    if (!spec->name || !spec->venue || !spec->sections)
        return snprintf(err, API_JSON_ERR_LEN, "out of memory"), -1;
    const cJSON *item;
    cJSON_ArrayForEach(item, sections)
    {
        spec->section_count++;
        if (api__parse_section(item, spec->section_count - 1,
                               &spec->sections[spec->section_count - 1], err) != 0)
            return -1;
    }
    if (model_event_seat_count(spec) > TIX_EVENT_SEATS_MAX) {
        snprintf(err, API_JSON_ERR_LEN, "an event has at most %d seats", TIX_EVENT_SEATS_MAX);
        return -1;
    }
    const char *repeated = api__repeated_label(spec);
    if (repeated) {
        snprintf(err, API_JSON_ERR_LEN, "row '%.20s' appears twice: seat ids must be unique",
                 repeated);
        return -1;
    }
    return 0;
}

api_result api_event_create(api *a, api_request *req, api_response *res)
{
    if (!api__is_admin(a, req)) {
        api_error(res, 401, "unauthorized",
                  "creating events needs the admin token: Authorization: Bearer <token>");
        return API_DONE;
    }
    cJSON *root = api__parse_body(req, res);
    if (!root) return API_DONE;
    commit_cmd *cmd = api__command(a, req, STORE_CMD_EVENT_CREATE, res);
    if (!cmd) {
        cJSON_Delete(root);
        return API_DONE;
    }
    event_spec *spec = &cmd->op.u.event_create.spec;
    memset(spec, 0, sizeof(*spec));
    char err[API_JSON_ERR_LEN];
    int rc = api__parse_event(root, spec, err);
    cJSON_Delete(root);
    if (rc != 0) {
        api_error(res, 422, "invalid_request", "%s", err);
    } else if (inventory_find(a->inv, spec->id, strlen(spec->id))) { /* ids are for ever */
        api__error_rc(res, TIX_RC_EVENT_EXISTS);
        rc = -1;
    }
    if (rc == 0) return API_COMMIT;
    model_event_spec_free(spec);
    commit_cmd_free(a->writer, cmd);
    api_request_reset(req);
    return API_DONE;
}

void api_event_create_finish(api *a, api_request *req, api_response *res)
{
    const store_cmd *op = &req->cmd->op;
    if (op->rc != TIX_RC_OK) return api__error_rc(res, op->rc);
    const event_spec *spec = &op->u.event_create.spec;
    inv_event *ev = inventory_find(a->inv, spec->id, strlen(spec->id));
    if (ev) {
        api__write_event(&res->body, ev, clock_now_ms(), true);
    } else { /* rendered inside the writer, before the feed brought it: all seats free */
        uint32_t total = (uint32_t)model_event_seat_count(spec);
        inv_counts counts = {.total = total, .available = total};
        api__write_event_spec(&res->body, spec, counts, true);
    }
    api__ok(res, 201);
}

/* The number in `value` (0 when absent) into *out. Returns 0, or -1 with a 422 in res, naming
 * `what` (the query parameter or header), when it is not a whole number within [0, max]. */
static int api__query_int(const char *value, const char *what, int64_t max, int64_t *out,
                          api_response *res)
{
    *out = 0;
    if (!value) return 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < 0 || v > max) {
        api_error(res, 422, "invalid_request", "%s must be a whole number from 0 to %lld", what,
                  (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

/* One change of the feed as JSON: what a viewer of the seat map needs. */
static void api__write_change(buf *b, const change_page *page, const change_record *c)
{
    size_t len;
    const char *seats = change_page_seats(page, c, &len);
    buf_appendf(
        b, "{\"seq\":%lld,\"kind\":\"%s\",\"status\":\"%s\",\"seat_ids\":", (long long)c->seq,
        model_change_kind_name(c->kind), model_seat_status_name(model_change_seat_status(c->kind)));
    buf_append(b, seats, len);
    api__append_time(b, "time", c->time_ms);
    if (c->kind == CHANGE_HELD || c->kind == CHANGE_CHECKOUT)
        api__append_time(b, "expires_at", c->expires_ms);
    buf_append_char(b, '}');
}

api_result api_event_changes(api *a, api_request *req, api_response *res)
{
    inv_event *ev = api__find_event(a, req->match.param, req->match.param_len, res);
    if (!ev) return API_DONE;
    int64_t after, limit;
    if (!req->after) {
        api_error(res, 422, "invalid_request",
                  "query parameter 'after' is required: the position of the seat map or of the "
                  "last change seen");
        return API_DONE;
    }
    if (api__query_int(req->after, "query parameter 'after'", INT64_MAX / 2, &after, res) != 0 ||
        api__query_int(req->limit, "query parameter 'limit'", API_CHANGES_MAX, &limit, res) != 0)
        return API_DONE;
    if (limit == 0) limit = API_CHANGES_MAX;
    change_page page;
    change_page_init(&page);
    store_feed_bounds bounds;
    int64_t next = after;
    store_status status = STORE_OK;
    if (store_changes_read(a->st, after, (uint32_t)limit, ev->spec.id, API_CHANGES_SCAN_MAX, &page,
                           &bounds, &next, &status) != 0) {
        change_page_free(&page);
        api__error_store(res, status);
        return API_DONE;
    }
    if (after + 1 < bounds.oldest_seq) {
        change_page_free(&page);
        api_error(res, 410, "position_expired",
                  "changes after %lld are no longer kept (the oldest is %lld): load the seat map "
                  "again and follow on from its position",
                  (long long)after, (long long)bounds.oldest_seq);
        return API_DONE;
    }
    buf *b = &res->body;
    buf_append_str(b, "{\"event_id\":");
    buf_append_json_str(b, ev->spec.id);
    buf_appendf(b, ",\"after\":%lld,\"next\":%lld,\"head\":%lld,\"changes\":[", (long long)after,
                (long long)next, (long long)bounds.head_seq);
    for (uint32_t i = 0; i < page.count; i++) {
        if (i) buf_append_char(b, ',');
        api__write_change(b, &page, &page.items[i]);
    }
    buf_append_str(b, "]}");
    change_page_free(&page);
    api__ok(res, 200);
    return API_DONE;
}

api_result api_event_stream(api *a, api_request *req, api_response *res)
{
    inv_event *ev = api__find_event(a, req->match.param, req->match.param_len, res);
    if (!ev) return API_DONE;
    if (!a->live) {
        api_error(res, 404, "not_found", "this server has no live streams");
        return API_DONE;
    }
    /* the browser's reconnection names the last message it saw; a first connection the seat
     * map's position (after); neither: from now on */
    int64_t after = -1;
    if (req->last_event_id) {
        if (api__query_int(req->last_event_id, "header Last-Event-ID", INT64_MAX / 2, &after,
                           res) != 0)
            return API_DONE;
    } else if (req->after &&
               api__query_int(req->after, "query parameter 'after'", INT64_MAX / 2, &after, res) !=
                   0) {
        return API_DONE;
    }
    live_stream *stream;
    switch (live_stream_open(a->live, ev->spec.id, after, &stream)) {
    case LIVE_OPENED:
        break;
    case LIVE_FULL:
        api_error(res, 503, "too_many_streams",
                  "this server has as many live streams open as it takes; retry later, or poll "
                  "the seat map");
        res->retry_after_s = API_STREAM_RETRY_AFTER_S;
        return API_DONE;
    case LIVE_CLOSING:
        api__error_rc(res, TIX_RC_SHUTTING_DOWN);
        return API_DONE;
    case LIVE_NO_EVENT:
    case LIVE_NO_MEMORY:
        api__error_rc(res, TIX_RC_OVERLOADED);
        return API_DONE;
    }
    res->stream = stream;
    res->status = 200;
    res->content_type = "text/event-stream";
    return API_STREAM;
}
