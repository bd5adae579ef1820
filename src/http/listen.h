/* listen: the addresses tix listens on ("HOST:PORT", "[v6]:PORT"), for the API and for the
 * metrics port. */
#ifndef TIX_HTTP_LISTEN_H
#define TIX_HTTP_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Split "HOST:PORT" (or "[v6]:PORT") into host (cap bytes) and port (0..65535). Returns 0,
 * or -1 when it is not of that shape. */
int http_listen_parse(const char *listen, char *host, size_t host_cap, uint16_t *port);

/* The socket address of host ("localhost", an IPv4 or an IPv6 address) and port. Returns 0,
 * or -1 when host is not an IP address. */
int http_listen_address(const char *host, uint16_t port, struct sockaddr_storage *addr, bool *ipv6);

#endif
