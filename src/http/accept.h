/* accept: tix's listening socket and the thread that accepts on it, for two libmicrohttpd
 * daemons: one for the API, one for the live seat streams.
 *
 * Why: libmicrohttpd walks every suspended connection of a daemon on each turn of its loop
 * that resumes one, and tix parks every durable write (and every idle viewer). With the
 * viewers of a flash sale in the same daemon as the buyers, each hold's answer waited behind
 * a walk over thousands of parked streams and behind the writes of their messages. In a daemon
 * of their own, on their own thread, streams cost the buying path nothing but CPU.
 *
 * How: each accepted connection waits (at most HTTP_ACCEPT_PEEK_MS) until its first bytes
 * arrive; they are peeked at (MSG_PEEK: left in the socket for the daemon to read), and a
 * request line "GET /events/{id}/stream..." sends the connection to the streams' daemon, any
 * other to the API's. A connection that sends nothing in time, or more undecided connections
 * than HTTP_ACCEPT_PENDING_MAX, go to the API's daemon: it serves streams too (only slower
 * for everyone), and its idle and request timeouts deal with a silent client. */
#ifndef TIX_HTTP_ACCEPT_H
#define TIX_HTTP_ACCEPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum {
    HTTP_ACCEPT_BACKLOG = 4096,     /* listen(2)'s queue of connections not accepted yet */
    HTTP_ACCEPT_PEEK_MS = 200,      /* how long a new connection may stay silent */
    HTTP_ACCEPT_PENDING_MAX = 1024, /* silent connections waited on at once */
    HTTP_ACCEPT_HEAD_LEN = 128,     /* bytes peeked at: a request line's start */
};

typedef struct http_acceptor http_acceptor;

/* Where a connection goes: fd (non-blocking, now the callee's: handed on or closed) from
 * addr, to the streams' daemon when stream. Called on the acceptor's thread. */
typedef void (*http_accept_fn)(void *ctx, int fd, const struct sockaddr *addr, socklen_t addr_len,
                               bool stream);

/* Whether a connection whose first bytes are head[0..len) asks for a live seat stream:
 * "GET /events/{id}/stream" followed by a space or a query. False when head is too short to
 * tell (the API's daemon serves it). */
bool http_accept_is_stream(const char *head, size_t len);

/* Bind addr, listen, and start the acceptor thread, which hands each connection to hand.
 * Returns NULL with a reason in err. */
http_acceptor *http_acceptor_start(const struct sockaddr_storage *addr, bool ipv6,
                                   http_accept_fn hand, void *ctx, char *err, size_t err_len);

/* The port bound (useful with port 0). */
uint16_t http_acceptor_port(const http_acceptor *a);

/* Stop the thread and close the listening socket and the connections still undecided.
 * NULL is a no-op. */
void http_acceptor_stop(http_acceptor *a);

#endif
