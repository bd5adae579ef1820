/* http server: the libmicrohttpd front end of the API.
 *
 * Two libmicrohttpd daemons behind one listening socket (see accept.h), each with one epoll
 * loop per thread (MHD's thread pool): the API's, and the live streams' on threads of their
 * own, so that fanning seat changes out to thousands of viewers never holds up a buyer's
 * answer.
 * A write request is parked with
 * MHD_suspend_connection while the commit writer works, so no thread waits on a sync;
 * the writer resumes it and the response is rendered on the connection's own thread.
 * Limits (connections, per-IP connections, idle timeout, header memory, body size) are
 * MHD's own options plus the body cap enforced here (413).
 *
 * Every request gets an id (X-Request-Id: the client's when sane, else made up; see
 * request_id.h), sent back as a header, put in its error body and its log lines; every answer
 * is counted (api_observe: metrics and a log line) and written to the access log if any. */
#ifndef TIX_HTTP_SERVER_H
#define TIX_HTTP_SERVER_H

#include "api/api.h"
#include "http/access_log.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_config {
    char host[64];
    uint16_t port;                   /* 0: pick a free port */
    unsigned threads;                /* the API's */
    unsigned stream_threads;         /* the live streams' (0: one) */
    size_t body_len_max;             /* 413 beyond */
    unsigned connections_max;        /* open at once, streams included */
    unsigned streams_max;            /* of those, live streams (--max-streams; 503 beyond) */
    unsigned connections_per_ip_max; /* 0: no limit */
    unsigned timeout_s;              /* idle connections are closed after this */
    size_t connection_memory;        /* per connection: request line and headers must fit (431) */
    unsigned request_timeout_s;      /* to receive a whole request, head and body; 0: none */
    unsigned write_rate_per_s;       /* write requests per second per client address; 0: off */
    bool trust_proxy;                /* client address from X-Forwarded-For (rightmost entry) */
    access_log *access_log;          /* a line per answer; NULL: none (not owned) */
} http_config;

enum {
    HTTP_CONNECTIONS_MAX_DEFAULT = 16384,
    HTTP_REQUEST_TIMEOUT_S_DEFAULT = 10,
    HTTP_TIMEOUT_S_DEFAULT = 30,
    HTTP_CONNECTION_MEMORY_DEFAULT = 8 * 1024,
    /* connections the streams' daemon takes beyond streams_max (within connections_max):
     * enough to answer the excess 503 too_many_streams instead of closing it unanswered */
    HTTP_STREAMS_SPARE = 64,
};

typedef struct http_server http_server;

/* Bind and start serving. Returns NULL with a reason in err on failure. */
http_server *http_start(const http_config *config, api *a, char *err, size_t err_len);

/* The port actually bound (useful with port 0). */
uint16_t http_port(const http_server *s);

/* Stop taking new connections: from now on each is closed as soon as it is accepted, before
 * anything is read from it; connections already open are still served. The listening socket
 * itself closes in http_stop. */
void http_quiesce(http_server *s);

/* Wait until no request is in flight or timeout_ms passed. Returns true when idle. */
bool http_wait_idle(http_server *s, int64_t timeout_ms);

/* Close every connection and stop the threads. No connection may be suspended. */
void http_stop(http_server *s);

#endif
