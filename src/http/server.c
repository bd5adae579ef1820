/* http server: see server.h. */
#include "http/server.h"

#include "http/accept.h"
#include "http/conn_watch.h"
#include "http/listen.h"
#include "http/rate_limit.h"
#include "http/request_id.h"
#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/log.h"

#include <arpa/inet.h>
#include <assert.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_server {
    http_config config;
    api *api;
    struct MHD_Daemon *daemon;         /* the API's connections */
    struct MHD_Daemon *streams_daemon; /* the live streams' (see accept.h) */
    http_acceptor *acceptor;
    atomic_uint connections; /* open in both daemons: at most config.connections_max */
    int64_t full_warned_ms;  /* the last "connections full" warning (acceptor's thread) */
    atomic_int in_flight;
    atomic_bool quiesced; /* new connections are closed at once (http_quiesce) */
    conn_watch *watch;    /* NULL: no request timeout */
    rate_limit *writes;   /* NULL: writes not rate limited */
    /* finished requests kept for the next ones (LIFO, warm in cache): a request is about
     * 10 KB, too big for malloc's per-thread cache */
    pthread_mutex_t spare_lock;
    struct http_request *spare;
    uint32_t spare_count; /* <= HTTP_SPARE_REQUESTS_MAX */
};

/* What a page of tix may load: its own scripts, styles, images and API, nothing else. */
#define HTTP_PAGE_CSP                                                                              \
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "               \
    "frame-ancestors 'none'; form-action 'self'"

enum {
    HTTP_SPARE_REQUESTS_MAX = 64,    /* finished requests kept for reuse */
    HTTP_SPARE_BODY_CAP_MAX = 16384, /* a kept request keeps a body buffer up to this size */
    /* libmicrohttpd's block of a stream's response, allocated with it: an HTTP/1.0 stream (not
     * chunked) is read into it and sent from it; an HTTP/1.1 stream is chunked, each chunk read
     * straight into the connection's own write buffer, and never touches it */
    HTTP_STREAM_BLOCK_LEN = 1024,
    HTTP_STREAM_BLOCK_LEN_CHUNKED = 64,
};

_Static_assert((int)HTTP_REQUEST_ID_LEN_MAX == (int)API_REQUEST_ID_LEN_MAX,
               "one request id length");

/* What a connection's request context (*req_cls) is: the first byte of both. */
enum { HTTP_CTX_REQUEST = 1, HTTP_CTX_STREAM = 2 };

/* One request, from its first header to its completion (or to its stream's start). */
typedef struct http_request {
    uint8_t kind; /* HTTP_CTX_REQUEST */
    api_request req;
    api_response res;
    struct MHD_Connection *conn;
    buf body;
    int64_t started_us;  /* its headers were received (latency is measured from here) */
    const char *method;  /* as sent; these live in the connection's memory */
    const char *version; /* "HTTP/1.1" */
    char request_id[HTTP_REQUEST_ID_LEN_MAX + 1];
    bool body_too_large;
    bool committed;      /* its command went through the writer */
    bool pending;        /* suspended, waiting for the writer */
    bool counted;        /* whole request received and handed to the API: counts as in flight */
    atomic_bool resumed; /* the writer has answered the parked request */
    struct http_request *next_spare;
} http_request;

/* A live stream, once its answer began: all a viewer costs beside its connection. */
typedef struct http_stream {
    uint8_t kind; /* HTTP_CTX_STREAM */
    struct MHD_Connection *conn;
    live_stream *live;
} http_stream;

/* Whether libmicrohttpd's message (format fmt, as written: line) says that a live stream's
 * client went away: the chunked body (only streams are chunked) met a reset or closed socket.
 * That is how every viewer leaves (the heartbeat finds it), not a warning. */
static bool http__viewer_left(const char *fmt, const char *line)
{
    static const char chunked[] = "Failed to send the chunked response body";
    return strncmp(fmt, chunked, sizeof(chunked) - 1) == 0 &&
           (strstr(line, "no longer available for sending") ||
            strstr(line, "forcibly closed by remote peer"));
}

/* libmicrohttpd's messages: warnings, but for a viewer leaving (debug). */
static void http__log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t len = strlen(line);
    while (len && line[len - 1] == '\n')
        line[--len] = '\0';
    if (http__viewer_left(fmt, line))
        log_debug("http: %s", line);
    else
        log_warn("http: %s", line);
}

/* The query string of a request, rebuilt from its arguments (for the access log). */
static enum MHD_Result http__append_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    buf *b = cls;
    if (b->len) buf_append_char(b, '&');
    buf_append_str(b, key);
    if (value) buf_append_char(b, '='), buf_append_str(b, value);
    return MHD_YES;
}

static void http__client_address(http_server *s, struct MHD_Connection *conn, char *out,
                                 size_t cap);

/* One line of the access log for the answer to r (body_len bytes). */
static void http__access_log(http_server *s, http_request *r, size_t body_len, int64_t took_us)
{
    char client[64], query_text[1024];
    buf query = {
        .data = query_text, .len = 0, .cap = sizeof(query_text), .len_max = sizeof(query_text) - 1};
    query_text[0] = '\0';
    http__client_address(s, r->conn, client, sizeof(client));
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, http__append_arg, &query);
    access_log_entry e = {
        .client = client,
        .time_ms = clock_now_ms(),
        .method = r->method,
        .url = r->req.path,
        .query = query_text,
        .version = r->version,
        .status = r->res.status,
        .bytes = body_len,
        .referer = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER),
        .user_agent =
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_USER_AGENT),
        .request_id = r->request_id,
        .duration_us = took_us,
    };
    access_log_write(s->config.access_log, &e);
}

static enum MHD_Result http__respond(http_server *s, http_request *r)
{
    api_response *res = &r->res;
    size_t len = 0;
    struct MHD_Response *resp;
    if (res->shared_data) { /* a cached body: released by MHD once sent */
        len = res->shared_len;
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            res->shared_len, (void *)res->shared_data, res->shared_release, res->shared_cls);
        if (!resp) res->shared_release(res->shared_cls);
        res->shared_data = NULL;
    } else {
        char *data = buf_detach(&res->body, &len);
        resp = data ? MHD_create_response_from_buffer_with_free_callback(len, data, free)
                    : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) free(data);
    }
    if (!resp) return MHD_NO;
    const char *type = res->content_type ? res->content_type : "application/json";
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    if (strncmp(type, "text/html", 9) == 0) { /* a page: nothing from elsewhere, no framing */
        MHD_add_response_header(resp, "Content-Security-Policy", HTTP_PAGE_CSP);
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    }
    if (res->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, res->allow);
    if (res->etag[0]) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, res->etag);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    if (res->retry_after_s) {
        char value[16];
        snprintf(value, sizeof(value), "%u", res->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, value);
    }
    enum MHD_Result rc = MHD_queue_response(r->conn, res->status, resp);
    MHD_destroy_response(resp);
    int64_t took_us = clock_mono_us() - r->started_us;
    api_observe(&r->req, res, r->committed, took_us);
    if (s->config.access_log) http__access_log(s, r, len, took_us);
    return rc;
}

/* Called by the API from the writer thread when the parked request's outcome is known. */
static void http__resume(api_request *req)
{
    http_request *r = req->http_ctx;
    atomic_store(&r->resumed, true);
    MHD_resume_connection(r->conn);
}

/* What one pass over a request's headers (and query arguments) finds: the framing headers,
 * the request id, and the headers the API reads (into the request, the first of each).
 * Cheaper than a lookup each: every lookup walks the whole list again. */
typedef struct http__headers {
    api_request *req;
    unsigned content_lengths, transfer_encodings;
    const char *content_length; /* the first one */
    const char *request_id;     /* X-Request-Id, or NULL */
    size_t request_id_len;
} http__headers;

/* Keep value in *slot unless a header of that name came first. */
static void http__keep_first(const char **slot, const char *value)
{
    if (!*slot) *slot = value;
}

static enum MHD_Result http__scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         size_t key_size, const char *value, size_t value_size)
{
    http__headers *h = cls;
    api_request *req = h->req;
    if (kind == MHD_GET_ARGUMENT_KIND) {
        if (key_size == 6 && strcmp(key, "status") == 0)
            http__keep_first(&req->status_filter, value);
        else if (key_size == 5 && strcmp(key, "after") == 0)
            http__keep_first(&req->after, value);
        else if (key_size == 5 && strcmp(key, "limit") == 0)
            http__keep_first(&req->limit, value);
        return MHD_YES;
    }
    switch (key_size) { /* lengths first: most headers are dismissed by one comparison */
    case 12:
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) == 0)
            http__keep_first(&req->content_type, value);
        else if (strcasecmp(key, "X-Request-Id") == 0 && !h->request_id)
            h->request_id = value, h->request_id_len = value ? value_size : 0;
        break;
    case 13:
        if (strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION) == 0)
            http__keep_first(&req->authorization, value);
        else if (strcasecmp(key, MHD_HTTP_HEADER_IF_NONE_MATCH) == 0)
            http__keep_first(&req->if_none_match, value);
        else if (strcasecmp(key, "Last-Event-ID") == 0)
            http__keep_first(&req->last_event_id, value);
        break;
    case 14:
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
            h->content_lengths++, http__keep_first(&h->content_length, value);
        break;
    case 15:
        if (strcasecmp(key, "Idempotency-Key") == 0) http__keep_first(&req->idempotency_key, value);
        break;
    case 17:
        if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) h->transfer_encodings++;
        break;
    }
    return MHD_YES;
}

/* Scan the headers into r (and its request id). Returns 1 when the body length is ambiguous
 * (two Content-Lengths, or one with a Transfer-Encoding: proxies could read it differently,
 * request smuggling), 2 when the body announced is over the cap, else 0. */
static int http__read_headers(http_server *s, http_request *r)
{
    http__headers h = {.req = &r->req};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, http__scan_header,
                                &h);
    http_request_id_take(r->request_id, h.request_id, h.request_id_len);
    if (h.content_lengths > 1 || (h.content_lengths == 1 && h.transfer_encodings > 0)) return 1;
    if (h.content_length && strtoull(h.content_length, NULL, 10) > s->config.body_len_max) return 2;
    return 0;
}

/* The watch entry of a connection (its socket context), or NULL. */
static conn_watch_entry *http__watch_entry(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static void http__on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode toe)
{
    http_server *s = cls;
    metrics_connection(toe == MHD_CONNECTION_NOTIFY_STARTED);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
    else
        atomic_fetch_sub(&s->connections, 1);
    if (!s->watch) return;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? conn_watch_add(s->watch, info->connect_fd) : NULL;
    } else {
        conn_watch_remove(s->watch, *socket_context);
        *socket_context = NULL;
    }
}

/* Called when a request line has arrived: its request's clock starts. */
static void *http__on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)uri;
    http_server *s = cls;
    if (s->watch) conn_watch_request_started(s->watch, http__watch_entry(conn));
    return NULL; /* keeps *req_cls NULL for the first call of the handler */
}

/* The client's address as text: the socket's peer, or with trust_proxy the rightmost entry
 * of X-Forwarded-For (the one the trusted proxy appended). */
static void http__client_address(http_server *s, struct MHD_Connection *conn, char *out, size_t cap)
{
    snprintf(out, cap, "?");
    const char *xff = s->config.trust_proxy
                          ? MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For")
                          : NULL;
    if (xff) {
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ')
            last++;
        size_t len = strcspn(last, " \t");
        if (len > 0 && len < cap) {
            memcpy(out, last, len);
            out[len] = '\0';
            return;
        }
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

/* Refuse a write over the client's rate (429 rate_limited). Returns true when refused. */
static bool http__rate_limited(http_server *s, http_request *r, const char *method)
{
    if (!s->writes || (strcmp(method, "POST") != 0 && strcmp(method, "DELETE") != 0)) return false;
    char client[RATE_LIMIT_KEY_LEN_MAX + 1];
    http__client_address(s, r->conn, client, sizeof(client));
    uint32_t retry_after_s = 1;
    if (rate_limit_take(s->writes, client, clock_mono_ms(), &retry_after_s)) return false;
    api_error(&r->res, 429, "rate_limited",
              "too many write requests from this address; retry after %u s", retry_after_s);
    r->res.retry_after_s = retry_after_s;
    return true;
}

/* A request from the spare stack, or a new one; NULL when out of memory. */
static http_request *http__request_take(http_server *s)
{
    pthread_mutex_lock(&s->spare_lock);
    http_request *r = s->spare;
    if (r) {
        s->spare = r->next_spare;
        s->spare_count--;
    }
    pthread_mutex_unlock(&s->spare_lock);
    if (r) return r;
    r = malloc(sizeof(*r));
    if (r) buf_init(&r->body, s->config.body_len_max);
    return r;
}

static void http__request_free(http_request *r)
{
    buf_free(&r->body);
    free(r);
}

/* Give a finished request back: kept for reuse when the stack has room, else freed. */
static void http__request_give(http_server *s, http_request *r)
{
    buf_free(&r->res.body);
    if (r->body.cap > HTTP_SPARE_BODY_CAP_MAX) buf_free(&r->body);
    buf_reset(&r->body);
    pthread_mutex_lock(&s->spare_lock);
    bool kept = s->spare_count < HTTP_SPARE_REQUESTS_MAX;
    if (kept) {
        r->next_spare = s->spare;
        s->spare = r;
        s->spare_count++;
    }
    pthread_mutex_unlock(&s->spare_lock);
    if (!kept) http__request_free(r);
}

static http_request *http__request_new(http_server *s, struct MHD_Connection *conn)
{
    /* the idempotency part is initialised by the API only for requests with a key */
    http_request *r = http__request_take(s);
    if (!r) return NULL;
    r->kind = HTTP_CTX_REQUEST;
    memset(&r->req, 0, offsetof(api_request, idem));
    r->body_too_large = r->pending = r->counted = r->committed = false;
    atomic_init(&r->resumed, false);
    r->conn = conn;
    api_response_init(&r->res);
    r->res.request_id = r->req.request_id = r->request_id;
    r->req.resume = http__resume;
    r->req.http_ctx = r;
    return r;
}

/* ---- live streams ---- */

static void http__stream_park(void *ctx)
{
    http_stream *st = ctx;
    MHD_suspend_connection(st->conn); /* from the content reader: allowed */
}

static void http__stream_wake(void *ctx)
{
    http_stream *st = ctx;
    MHD_resume_connection(st->conn);
}

static ssize_t http__stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    http_stream *st = cls;
    ssize_t n = live_stream_read(st->live, out, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : n;
}

/* The stream's connection is done (the client went, the stream ended, or the server stops). */
static void http__stream_end(http_stream *st)
{
    live_stream_close(st->live);
    free(st);
}

/* Answer r with the stream the API opened: 200, text/event-stream, then what the stream reads
 * (libmicrohttpd calls http__stream_read whenever the socket can take more; the stream parks
 * the connection when it has nothing to say). The request context becomes a small http_stream
 * and r goes back to the spare stack; the stream is no longer in flight (a graceful stop does
 * not wait for it: it ends it) and has no idle timeout (its heartbeat keeps it honest). */
static enum MHD_Result http__stream_start(http_server *s, http_request *r, void **req_cls)
{
    live_stream *ls = r->res.stream;
    r->res.stream = NULL;
    size_t block_len = strcmp(r->version, MHD_HTTP_VERSION_1_1) == 0 ? HTTP_STREAM_BLOCK_LEN_CHUNKED
                                                                     : HTTP_STREAM_BLOCK_LEN;
    http_stream *st = malloc(sizeof(*st));
    struct MHD_Response *resp = st ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, block_len,
                                                                       http__stream_read, st, NULL)
                                   : NULL;
    if (!resp) {
        live_stream_close(ls);
        free(st);
        api_error(&r->res, 503, "overloaded", "out of memory for a stream; retry later");
        return http__respond(s, r);
    }
    *st = (http_stream){.kind = HTTP_CTX_STREAM, .conn = r->conn, .live = ls};
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->res.content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, no-store");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no"); /* nginx: pass it on at once */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    live_stream_bind(ls, http__stream_park, http__stream_wake, st);
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);
    enum MHD_Result rc = MHD_queue_response(r->conn, r->res.status, resp);
    MHD_destroy_response(resp);
    int64_t took_us = clock_mono_us() - r->started_us;
    api_observe(&r->req, &r->res, false, took_us);
    if (s->config.access_log) http__access_log(s, r, 0, took_us);
    if (r->counted) atomic_fetch_sub(&s->in_flight, 1);
    *req_cls = st;
    http__request_give(s, r);
    return rc;
}

static enum MHD_Result http__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                        const char *method, const char *version,
                                        const char *upload_data, size_t *upload_data_size,
                                        void **req_cls)
{
    http_server *s = cls;
    http_request *r = *req_cls;
    if (!r) {
        if (!(r = http__request_new(s, conn))) return MHD_NO;
        *req_cls = r;
        r->started_us = clock_mono_us();
        r->method = method;
        r->version = version;
        r->req.method = router_method(method);
        r->req.path = url;
        int headers = http__read_headers(s, r);
        if (headers == 1) {
            api_error(&r->res, 400, "bad_request",
                      "a request must not carry two Content-Length headers, nor one with "
                      "Transfer-Encoding");
            return http__respond(s, r);
        }
        if (headers == 2) {
            r->body_too_large = true; /* answer before reading the body */
            if (s->watch) conn_watch_request_received(s->watch, http__watch_entry(conn));
            goto too_large;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->body_too_large && buf_append(&r->body, upload_data, *upload_data_size) != 0)
            r->body_too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    log_fields fields = {.request_id = r->request_id};
    if (r->pending) { /* resumed by the writer */
        r->pending = false;
        r->committed = true;
        atomic_store(&r->resumed, false);
        log_fields_set(&fields);
        api_finish(s->api, &r->req, &r->res);
        log_fields_set(NULL);
        return http__respond(s, r);
    }
    if (s->watch) conn_watch_request_received(s->watch, http__watch_entry(conn));
    if (r->body_too_large) goto too_large;
    if (http__rate_limited(s, r, method)) return http__respond(s, r);
    /* in flight from here: a client still sending (or gone quiet mid-body) does not hold up
     * a graceful stop; its connection is closed by the idle timeout or at the stop */
    r->counted = true;
    atomic_fetch_add(&s->in_flight, 1);
    api_request *req = &r->req;
    req->body = r->body.data ? r->body.data : "";
    req->body_len = r->body.len;
    log_fields_set(&fields);
    api_result result = api_handle(s->api, req, &r->res);
    log_fields_set(NULL);
    if (result == API_DONE) return http__respond(s, r);
    if (result == API_STREAM) return http__stream_start(s, r, req_cls);
    r->pending = true;
    MHD_suspend_connection(conn); /* before submitting: the writer may resume at once */
    api_submit(s->api, req);
    return MHD_YES;
too_large:
    api_error(&r->res, 413, "payload_too_large", "the request body is larger than %zu bytes",
              s->config.body_len_max);
    return http__respond(s, r);
}

static void http__on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                               enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    http_server *s = cls;
    if (*req_cls && *(const uint8_t *)*req_cls == HTTP_CTX_STREAM) {
        http__stream_end(*req_cls);
        *req_cls = NULL;
        return;
    }
    http_request *r = *req_cls;
    if (!r) return;
    if (r->pending) {
        /* The writer resumed the request (only it does), then the client was found gone
         * before the answer could be sent: the outcome stands (it is committed), the answer
         * is dropped, and what the API holds for the request (an idempotency key in flight,
         * say) is let go by finishing it into the void. */
        if (!atomic_load(&r->resumed)) {
            log_error("http: a parked request ended before the writer answered it; leaking it");
            return; /* the writer still owns its command: freeing it would be worse */
        }
        api_finish(s->api, &r->req, &r->res);
        if (r->res.shared_data) r->res.shared_release(r->res.shared_cls);
    }
    bool counted = r->counted;
    http__request_give(s, r);
    *req_cls = NULL;
    if (counted) atomic_fetch_sub(&s->in_flight, 1);
}

/* libmicrohttpd's accept policy: every connection, until http_quiesce. */
static enum MHD_Result http__accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    (void)addr, (void)len;
    const http_server *s = cls;
    return atomic_load(&s->quiesced) ? MHD_NO : MHD_YES;
}

/* A daemon without a listening socket (connections come from the acceptor) on threads
 * threads (a pool from 2), serving at most connections_max at once; NULL on failure. */
static struct MHD_Daemon *http__daemon_start(http_server *s, unsigned threads,
                                             unsigned connections_max)
{
    const http_config *config = &s->config;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
    /* a thread pool only with 2+ threads (a pool of 0 or 1 makes MHD warn at every start) */
    struct MHD_OptionItem pool[] = {
        {threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    return MHD_start_daemon(
        flags, 0, http__accept_policy, s, http__on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
        http__log, NULL, MHD_OPTION_ARRAY, pool, MHD_OPTION_CONNECTION_LIMIT, connections_max,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->connections_per_ip_max,
        MHD_OPTION_CONNECTION_TIMEOUT, config->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        config->connection_memory, MHD_OPTION_NOTIFY_COMPLETED, http__on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http__on_connection, s, MHD_OPTION_URI_LOG_CALLBACK,
        http__on_request_line, s, MHD_OPTION_END);
}

/* The acceptor's hand-over: a stream's connection to the streams' daemon, any other to the
 * API's; closed at once after http_quiesce, or when connections_max are open in the two
 * together. libmicrohttpd closes what it refuses itself (over a daemon's own limits). */
static void http__hand(void *ctx, int fd, const struct sockaddr *addr, socklen_t addr_len,
                       bool stream)
{
    http_server *s = ctx;
    if (atomic_load(&s->quiesced)) {
        close(fd);
        return;
    }
    if (atomic_load(&s->connections) >= s->config.connections_max) {
        int64_t now_ms = clock_mono_ms();
        if (now_ms - s->full_warned_ms >= 1000) {
            log_warn("http: %u connections open (--max-connections): closing new ones",
                     s->config.connections_max);
            s->full_warned_ms = now_ms;
        }
        close(fd);
        return;
    }
    MHD_add_connection(stream ? s->streams_daemon : s->daemon, fd, addr, addr_len);
}

http_server *http_start(const http_config *config, api *a, char *err, size_t err_len)
{
    struct sockaddr_storage addr;
    bool ipv6;
    if (http_listen_address(config->host, config->port, &addr, &ipv6) != 0) {
        snprintf(err, err_len, "cannot listen on '%s': not an IP address", config->host);
        return NULL;
    }
    http_server *s = calloc(1, sizeof(*s));
    if (!s) return snprintf(err, err_len, "out of memory"), NULL;
    s->config = *config;
    s->api = a;
    s->spare_lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    if (config->request_timeout_s &&
        !(s->watch = conn_watch_start((int64_t)config->request_timeout_s * 1000))) {
        free(s);
        return snprintf(err, err_len, "cannot start the connection watcher"), NULL;
    }
    if (config->write_rate_per_s &&
        !(s->writes = rate_limit_create(config->write_rate_per_s, 2 * config->write_rate_per_s))) {
        conn_watch_stop(s->watch);
        free(s);
        return snprintf(err, err_len, "out of memory"), NULL;
    }
    s->daemon = http__daemon_start(s, config->threads, config->connections_max);
    s->streams_daemon =
        s->daemon ? http__daemon_start(s, config->stream_threads ? config->stream_threads : 1,
                                       config->streams_max + HTTP_STREAMS_SPARE)
                  : NULL;
    char why[128] = "cannot start libmicrohttpd";
    if (s->streams_daemon)
        s->acceptor = http_acceptor_start(&addr, ipv6, http__hand, s, why, sizeof(why));
    if (!s->acceptor) {
        snprintf(err, err_len, "cannot listen on %s:%u: %s", config->host, (unsigned)config->port,
                 why);
        if (s->streams_daemon) MHD_stop_daemon(s->streams_daemon);
        if (s->daemon) MHD_stop_daemon(s->daemon);
        conn_watch_stop(s->watch);
        rate_limit_destroy(s->writes);
        free(s);
        return NULL;
    }
    s->config.port = http_acceptor_port(s->acceptor);
    return s;
}

uint16_t http_port(const http_server *s)
{
    return s->config.port;
}

void http_quiesce(http_server *s)
{
    /* Not MHD_quiesce_daemon: in libmicrohttpd 0.9.75 it takes the listening socket out of
     * each thread's epoll set while that thread may be doing the same, and the loser aborts
     * the process (MHD_PANIC "Failed to remove listen FD from epoll set"): about 1 stop in 150
     * with 2 threads when a connection closed just before the signal. */
    atomic_store(&s->quiesced, true);
}

bool http_wait_idle(http_server *s, int64_t timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (atomic_load(&s->in_flight) > 0) {
        if (clock_mono_ms() >= deadline) return false;
        usleep(10 * 1000);
    }
    return true;
}

void http_stop(http_server *s)
{
    if (!s) return;
    http_acceptor_stop(s->acceptor);
    MHD_stop_daemon(s->streams_daemon);
    MHD_stop_daemon(s->daemon);
    conn_watch_stop(s->watch);
    rate_limit_destroy(s->writes);
    for (http_request *r = s->spare, *next; r; r = next) {
        next = r->next_spare;
        http__request_free(r);
    }
    pthread_mutex_destroy(&s->spare_lock);
    free(s);
}
