/* stub_http: see stub_http.h. */
#include "stub_http.h"

#include "util/buf.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum {
    STUB_HTTP_BODY_LEN_MAX = 1024 * 1024,
    STUB_HTTP_HEADERS_LEN_MAX = 64 * 1024,
    STUB_HTTP_DELAY_MS_MAX = 2000,
};

struct stub_http {
    struct MHD_Daemon *daemon;
    char url[64];
    pthread_mutex_t mutex; /* guards everything below */
    unsigned status;
    char *answer;
    unsigned delay_ms;
    unsigned request_count;
    bool has_request;
    char *method, *path;
    buf headers; /* "name\0value\0" pairs */
    buf body;
};

/* One request's body, as it arrives. */
typedef struct stub_http_conn {
    buf body;
} stub_http_conn;

static enum MHD_Result stub_http__add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                             const char *value)
{
    (void)kind;
    buf *headers = cls;
    buf_append(headers, key, strlen(key) + 1);
    buf_append(headers, value ? value : "", (value ? strlen(value) : 0) + 1);
    return MHD_YES;
}

static void stub_http__record(stub_http *s, struct MHD_Connection *conn, const char *url,
                              const char *method, const buf *body)
{
    s->request_count++;
    s->has_request = true;
    free(s->method);
    free(s->path);
    s->method = strdup(method);
    s->path = strdup(url);
    buf_reset(&s->headers);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, stub_http__add_header, &s->headers);
    buf_reset(&s->body);
    buf_append(&s->body, body->data ? body->data : "", body->len);
}

static enum MHD_Result stub_http__on_request(void *cls, struct MHD_Connection *conn,
                                             const char *url, const char *method,
                                             const char *version, const char *upload_data,
                                             size_t *upload_data_size, void **req_cls)
{
    (void)version;
    stub_http *s = cls;
    stub_http_conn *c = *req_cls;
    if (!c) {
        if (!(c = calloc(1, sizeof(*c)))) return MHD_NO;
        buf_init(&c->body, STUB_HTTP_BODY_LEN_MAX);
        *req_cls = c;
        return MHD_YES;
    }
    if (*upload_data_size) {
        buf_append(&c->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mutex);
    stub_http__record(s, conn, url, method, &c->body);
    unsigned status = s->status, delay_ms = s->delay_ms;
    char *answer = strdup(s->answer ? s->answer : "");
    pthread_mutex_unlock(&s->mutex);
    if (!answer) return MHD_NO;
    if (delay_ms) {
        struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(strlen(answer), answer, free);
    if (!resp) {
        free(answer);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (status >= 300 && status < 400) MHD_add_response_header(resp, "Location", "/elsewhere");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void stub_http__on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    stub_http_conn *c = *req_cls;
    if (!c) return;
    buf_free(&c->body);
    free(c);
    *req_cls = NULL;
}

stub_http *stub_http_start(void)
{
    stub_http *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_init(&s->mutex, NULL);
    buf_init(&s->headers, STUB_HTTP_HEADERS_LEN_MAX);
    buf_init(&s->body, STUB_HTTP_BODY_LEN_MAX);
    s->status = 200;
    s->answer = strdup("{}");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, stub_http__on_request, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT, 5u,
                         MHD_OPTION_NOTIFY_COMPLETED, stub_http__on_completed, s, MHD_OPTION_END);
    const union MHD_DaemonInfo *info =
        s->daemon ? MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || !info->port) {
        fprintf(stderr, "stub_http: cannot start a server on 127.0.0.1\n");
        stub_http_stop(s);
        return NULL;
    }
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)info->port);
    return s;
}

void stub_http_stop(stub_http *s)
{
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->mutex);
    free(s->answer);
    free(s->method);
    free(s->path);
    buf_free(&s->headers);
    buf_free(&s->body);
    free(s);
}

const char *stub_http_url(const stub_http *s)
{
    return s->url;
}

void stub_http_answer(stub_http *s, unsigned status, const char *body, unsigned delay_ms)
{
    char *copy = strdup(body ? body : "");
    pthread_mutex_lock(&s->mutex);
    free(s->answer);
    s->answer = copy;
    s->status = status;
    s->delay_ms = delay_ms < STUB_HTTP_DELAY_MS_MAX ? delay_ms : STUB_HTTP_DELAY_MS_MAX;
    pthread_mutex_unlock(&s->mutex);
}

unsigned stub_http_request_count(stub_http *s)
{
    pthread_mutex_lock(&s->mutex);
    unsigned n = s->request_count;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

/* A copy of a recorded string, under the mutex. */
static char *stub_http__copy(stub_http *s, char *const *field)
{
    pthread_mutex_lock(&s->mutex);
    char *copy = s->has_request && *field ? strdup(*field) : NULL;
    pthread_mutex_unlock(&s->mutex);
    return copy;
}

char *stub_http_last_method(stub_http *s)
{
    return stub_http__copy(s, &s->method);
}

char *stub_http_last_path(stub_http *s)
{
    return stub_http__copy(s, &s->path);
}

char *stub_http_last_header(stub_http *s, const char *name)
{
    char *value = NULL;
    pthread_mutex_lock(&s->mutex);
    for (size_t at = 0; s->has_request && at < s->headers.len;) {
        const char *key = s->headers.data + at;
        const char *v = key + strlen(key) + 1;
        if (strcasecmp(key, name) == 0) {
            value = strdup(v);
            break;
        }
        at = (size_t)(v + strlen(v) + 1 - s->headers.data);
    }
    pthread_mutex_unlock(&s->mutex);
    return value;
}

char *stub_http_last_body(stub_http *s, size_t *len_out)
{
    char *copy = NULL;
    pthread_mutex_lock(&s->mutex);
    if (s->has_request && (copy = malloc(s->body.len + 1))) {
        memcpy(copy, s->body.data ? s->body.data : "", s->body.len);
        copy[s->body.len] = '\0';
        if (len_out) *len_out = s->body.len;
    }
    pthread_mutex_unlock(&s->mutex);
    return copy;
}
