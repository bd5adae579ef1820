/* conn_watch: a deadline for receiving each request (head and body), against slow clients
 * (slowloris) that trickle bytes to keep a connection and its memory forever.
 *
 * libmicrohttpd's own timeout is an idle timeout: a byte every few seconds resets it. Here
 * each connection is tracked from accept, and each request from its request line until its
 * last body byte; a watcher thread shuts down (shutdown(2)) the socket of a connection that
 * has been receiving one request for longer than the deadline, and libmicrohttpd then
 * closes it as it would any broken connection. Idle keep-alive connections between requests
 * are left to the idle timeout. */
#ifndef TIX_CONN_WATCH_H
#define TIX_CONN_WATCH_H

#include <stdint.h>

typedef struct conn_watch conn_watch;
typedef struct conn_watch_entry conn_watch_entry;

/* Start watching with a deadline of timeout_ms per request. NULL when out of resources. */
conn_watch *conn_watch_start(int64_t timeout_ms);

/* Stop the watcher thread and free w (every entry must have been removed). */
void conn_watch_stop(conn_watch *w);

/* A new connection on socket fd: receiving its first request from now. */
conn_watch_entry *conn_watch_add(conn_watch *w, int fd);

/* The connection is closing: forget it (fd is not used afterwards). */
void conn_watch_remove(conn_watch *w, conn_watch_entry *e);

/* A request line arrived / a whole request was received. */
void conn_watch_request_started(conn_watch *w, conn_watch_entry *e);
void conn_watch_request_received(conn_watch *w, conn_watch_entry *e);

/* How many connections were cut for being too slow (for logs and tests). */
uint64_t conn_watch_cut_count(conn_watch *w);

#endif
