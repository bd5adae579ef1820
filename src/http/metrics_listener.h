/* metrics_listener: GET /metrics on a port of its own (tix serve --metrics-listen), without
 * the admin token, for a Prometheus server on a private network. One small libmicrohttpd
 * daemon (one thread, at most METRICS_LISTENER_CONNECTIONS_MAX connections); every other
 * path is a JSON 404, every other method a 405. */
#ifndef TIX_HTTP_METRICS_LISTENER_H
#define TIX_HTTP_METRICS_LISTENER_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

enum { METRICS_LISTENER_CONNECTIONS_MAX = 64, METRICS_LISTENER_TIMEOUT_S = 10 };

typedef struct metrics_listener metrics_listener;

/* Render the exposition into out; 0 or -1. */
typedef int (*metrics_listener_render_fn)(buf *out);

/* Listen on host:port (port 0: a free one). Returns NULL with a reason in err. */
metrics_listener *metrics_listener_start(const char *host, uint16_t port,
                                         metrics_listener_render_fn render, char *err,
                                         size_t err_len);

/* The port bound. */
uint16_t metrics_listener_port(const metrics_listener *l);

/* Stop and free (NULL: no-op). */
void metrics_listener_stop(metrics_listener *l);

#endif
