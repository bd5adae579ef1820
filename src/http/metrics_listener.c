/* metrics_listener: see metrics_listener.h. Scrapes are rare (every few seconds): each
 * renders into a fresh buffer handed to libmicrohttpd, which frees it once sent. */
#include "http/metrics_listener.h"

#include "http/listen.h"
#include "util/log.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics_listener {
    struct MHD_Daemon *daemon;
    metrics_listener_render_fn render;
    uint16_t port;
};

static void metrics__log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warn("metrics listener: %s", line);
}

/* Queue a whole answer; body (malloc'ed, or NULL for a static one) is the daemon's now. */
static enum MHD_Result metrics__answer(struct MHD_Connection *conn, unsigned status,
                                       const char *type, char *body, size_t len, const char *fixed)
{
    struct MHD_Response *resp =
        body
            ? MHD_create_response_from_buffer_with_free_callback(len, body, free)
            : MHD_create_response_from_buffer(strlen(fixed), (void *)fixed, MHD_RESPMEM_PERSISTENT);
    if (!resp) return free(body), MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (status == 405) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result metrics__on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                           const char *method, const char *version,
                                           const char *upload_data, size_t *upload_data_size,
                                           void **req_cls)
{
    (void)version, (void)upload_data;
    metrics_listener *l = cls;
    if (!*req_cls) { /* first call: headers only */
        *req_cls = l;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body nobody asked for: read and ignored */
        *upload_data_size = 0;
        return MHD_YES;
    }
    static const char json[] = "application/json";
    if (strcmp(url, "/metrics") != 0)
        return metrics__answer(conn, 404, json, NULL, 0,
                               "{\"error\":{\"code\":\"not_found\",\"message\":\"this port "
                               "serves GET /metrics only\"}}");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return metrics__answer(conn, 405, json, NULL, 0,
                               "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"this "
                               "endpoint accepts GET, HEAD\"}}");
    buf out;
    buf_init(&out, 64u << 20);
    if (l->render(&out) != 0) {
        buf_free(&out);
        return metrics__answer(conn, 500, json, NULL, 0,
                               "{\"error\":{\"code\":\"internal\",\"message\":\"the metrics "
                               "could not be rendered\"}}");
    }
    size_t len;
    char *text = buf_detach(&out, &len);
    return metrics__answer(conn, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, "");
}

metrics_listener *metrics_listener_start(const char *host, uint16_t port,
                                         metrics_listener_render_fn render, char *err,
                                         size_t err_len)
{
    struct sockaddr_storage addr;
    bool ipv6;
    if (http_listen_address(host, port, &addr, &ipv6) != 0) {
        snprintf(err, err_len, "cannot listen on '%s': not an IP address", host);
        return NULL;
    }
    metrics_listener *l = calloc(1, sizeof(*l));
    if (!l) return snprintf(err, err_len, "out of memory"), NULL;
    l->render = render;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, metrics__on_request, l, MHD_OPTION_EXTERNAL_LOGGER, metrics__log,
        NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)METRICS_LISTENER_CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)METRICS_LISTENER_TIMEOUT_S, MHD_OPTION_END);
    if (!l->daemon) {
        snprintf(err, err_len, "cannot listen on %s:%u (address in use, or not allowed?)", host,
                 (unsigned)port);
        free(l);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info ? info->port : port;
    return l;
}

uint16_t metrics_listener_port(const metrics_listener *l)
{
    return l->port;
}

void metrics_listener_stop(metrics_listener *l)
{
    if (!l) return;
    MHD_stop_daemon(l->daemon);
    free(l);
}
