/* listen: see listen.h. */
#include "http/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int http_listen_parse(const char *listen, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) return -1;
    const char *start = listen, *end = colon;
    if (start[0] == '[') {
        if (end[-1] != ']') return -1;
        start++, end--;
    }
    size_t len = (size_t)(end - start);
    if (len == 0 || len >= host_cap) return -1;
    memcpy(host, start, len);
    host[len] = '\0';
    char *stop;
    errno = 0;
    long value = strtol(colon + 1, &stop, 10);
    if (errno || *stop || stop == colon + 1 || value < 0 || value > 65535) return -1;
    *port = (uint16_t)value;
    return 0;
}

int http_listen_address(const char *host, uint16_t port, struct sockaddr_storage *addr, bool *ipv6)
{
    memset(addr, 0, sizeof(*addr));
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *ipv6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *ipv6 = true;
        return 0;
    }
    return -1;
}
