/* serve_ops: see serve_ops.h. */
#include "cli/serve_ops.h"

#include "http/listen.h"
#include "metrics/metrics.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

int serve_ops_configure(const serve_ops_options *o)
{
    log_format format;
    log_level level;
    char host[64];
    uint16_t port;
    if (log_parse_format(o->log_format, &format) != 0) {
        fprintf(stderr, "tix serve: --log-format '%s' is not text or json\n", o->log_format);
        return -1;
    }
    if (log_parse_level(o->log_level, &level) != 0) {
        fprintf(stderr, "tix serve: --log-level '%s' is not debug, info, warn or error\n",
                o->log_level);
        return -1;
    }
    if (o->metrics_listen[0] &&
        http_listen_parse(o->metrics_listen, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "tix serve: --metrics-listen '%s' is not HOST:PORT\n", o->metrics_listen);
        return -1;
    }
    log_set_format(format);
    log_set_level(level);
    return metrics_probes_register() == 0 ? 0 : (fprintf(stderr, "tix: metrics: no room\n"), -1);
}

int serve_ops_start(const serve_ops_options *o, api *a, http_config *http, serve_ops *ops,
                    char *err, size_t err_len)
{
    memset(ops, 0, sizeof(*ops));
    char why[256] = "not HOST:PORT";
    if (o->access_log[0]) {
        if (!(ops->access = access_log_open(o->access_log, why, sizeof(why))))
            return snprintf(err, err_len, "access log: %s", why), -1;
        http->access_log = ops->access;
    }
    if (api_metrics_start(a) != 0) return snprintf(err, err_len, "metrics: no room"), -1;
    ops->api_metrics = true;
    if (!o->metrics_listen[0]) return 0;
    char host[64];
    uint16_t port;
    if (http_listen_parse(o->metrics_listen, host, sizeof(host), &port) != 0 ||
        !(ops->metrics = metrics_listener_start(host, port, api_metrics_render, why, sizeof(why))))
        return snprintf(err, err_len, "--metrics-listen: %s", why), -1;
    log_info("metrics served on %s:%u at /metrics, without the admin token", host,
             (unsigned)metrics_listener_port(ops->metrics));
    return 0;
}

void serve_ops_stop(serve_ops *ops)
{
    metrics_listener_stop(ops->metrics);
    if (ops->api_metrics) api_metrics_stop();
    access_log_close(ops->access);
    memset(ops, 0, sizeof(*ops));
}
