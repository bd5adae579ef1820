/* serve_ops: what `tix serve` offers the people who run it, beside the API itself: the log
 * format and level, the access log, the metrics (GET /metrics with the admin token, and
 * --metrics-listen: a port of its own, without one). serve.c calls these at three points:
 * after parsing its options (serve_ops_configure), between creating the API and starting HTTP
 * (serve_ops_start), and after HTTP stopped (serve_ops_stop). */
#ifndef TIX_CLI_SERVE_OPS_H
#define TIX_CLI_SERVE_OPS_H

#include "cli/cli.h"
#include "cli/options.h"
#include "http/metrics_listener.h"
#include "http/server.h"

typedef struct serve_ops_options {
    char metrics_listen[128];      /* HOST:PORT, or "" for none */
    char log_format[8];            /* text | json */
    char log_level[8];             /* debug | info | warn | error */
    char access_log[CLI_PATH_MAX]; /* a file, "-" for standard output, "" for none */
} serve_ops_options;

/* The options' defaults. */
#define SERVE_OPS_OPTIONS_DEFAULT                                                                  \
    {                                                                                              \
        .log_format = "text", .log_level = "info"                                                  \
    }

/* The lines of serve.c's option table for o (a serve_ops_options). */
/* clang-format off */
#define SERVE_OPS_OPTIONS(o)                                                                       \
    {"metrics-listen", "TIX_METRICS_LISTEN", "HOST:PORT",                                          \
     "also serve GET /metrics there, without the admin token (default: none; only on a private "   \
     "network)", CLI_STRING, (o).metrics_listen, sizeof((o).metrics_listen), 0, 0},                \
    {"log-format", "TIX_LOG_FORMAT", "text|json",                                                  \
     "log lines as text or as JSON objects (default text)", CLI_STRING, (o).log_format,            \
     sizeof((o).log_format), 0, 0},                                                                \
    {"log-level", "TIX_LOG_LEVEL", "LEVEL",                                                        \
     "least level logged: debug (a line per request), info (default), warn, error", CLI_STRING,    \
     (o).log_level, sizeof((o).log_level), 0, 0},                                                  \
    {"access-log", "TIX_ACCESS_LOG", "FILE|-",                                                     \
     "a line per request, combined log format + request id and duration (default: none; -: "      \
     "standard output)", CLI_STRING, (o).access_log, sizeof((o).access_log), 0, 0}
/* clang-format on */

typedef struct serve_ops {
    access_log *access;
    metrics_listener *metrics;
    bool api_metrics; /* the API's collectors are registered */
} serve_ops;

/* Check the options and apply the log's format and level. Prints why to stderr and returns -1
 * when one is not valid (a usage error). */
int serve_ops_configure(const serve_ops_options *o);

/* Open the access log (into http->access_log), register the metrics of a and open the
 * metrics port. Returns 0, or -1 with a reason in err (serve_ops_stop then undoes the rest). */
int serve_ops_start(const serve_ops_options *o, api *a, http_config *http, serve_ops *ops,
                    char *err, size_t err_len);

/* Undo serve_ops_start, after HTTP has stopped and before the API is destroyed. */
void serve_ops_stop(serve_ops *ops);

#endif
