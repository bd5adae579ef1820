/* accept: see accept.h. */
#include "http/accept.h"

#include "core/model.h"
#include "util/clock.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The longest stream request line's start fits in the bytes peeked at. */
_Static_assert(HTTP_ACCEPT_HEAD_LEN >=
                   sizeof("GET /events/") - 1 + TIX_EVENT_ID_LEN_MAX + sizeof("/stream?") - 1,
               "a stream's request line is told by its first HTTP_ACCEPT_HEAD_LEN bytes");

/* A connection accepted whose first bytes have not arrived yet. */
typedef struct http_accept_pending {
    int fd;
    int64_t deadline_ms;
    socklen_t addr_len;
    struct sockaddr_storage addr;
} http_accept_pending;

struct http_acceptor {
    int listen_fd, epoll_fd, stop_fd;
    uint16_t port;
    http_accept_fn hand;
    void *ctx;
    pthread_t thread;
    http_accept_pending *pending; /* HTTP_ACCEPT_PENDING_MAX */
    uint32_t pending_count;
    int64_t warned_ms; /* the last "cannot accept" warning (one a second at most) */
};

bool http_accept_is_stream(const char *head, size_t len)
{
    static const char prefix[] = "GET /events/", suffix[] = "/stream";
    const size_t prefix_len = sizeof(prefix) - 1, suffix_len = sizeof(suffix) - 1;
    if (len <= prefix_len || memcmp(head, prefix, prefix_len) != 0) return false;
    const char *id = head + prefix_len, *end = head + len;
    const char *slash = memchr(id, '/', (size_t)(end - id));
    if (!slash || slash == id) return false;
    for (const char *p = id; p < slash; p++)
        if (*p == ' ' || *p == '?') return false;
    if ((size_t)(end - slash) <= suffix_len || memcmp(slash, suffix, suffix_len) != 0) return false;
    char after = slash[suffix_len];
    return after == ' ' || after == '?';
}

/* Peek at fd's first bytes: 1 and *stream when some arrived, 0 when none yet, -1 when the
 * client is gone (closed or failed). */
static int http_accept__peek(int fd, bool *stream)
{
    char head[HTTP_ACCEPT_HEAD_LEN];
    ssize_t n;
    do
        n = recv(fd, head, sizeof(head), MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0) {
        *stream = http_accept_is_stream(head, (size_t)n);
        return 1;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* Decide p's connection now (stream or not, or gone) and drop it from the pending set. */
static void http_accept__settle(http_acceptor *a, uint32_t i)
{
    assert(i < a->pending_count);
    http_accept_pending p = a->pending[i];
    a->pending[i] = a->pending[--a->pending_count];
    epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, p.fd, NULL);
    bool stream = false;
    if (http_accept__peek(p.fd, &stream) < 0) {
        close(p.fd);
        return;
    }
    a->hand(a->ctx, p.fd, (const struct sockaddr *)&p.addr, p.addr_len, stream);
}

/* A connection just accepted: handed on at once when its first bytes are there, else kept
 * until they come (or its time is up). */
static void http_accept__route(http_acceptor *a, int fd, const struct sockaddr_storage *addr,
                               socklen_t addr_len)
{
    bool stream = false;
    int peeked = http_accept__peek(fd, &stream);
    if (peeked < 0) {
        close(fd);
        return;
    }
    if (peeked == 0 && a->pending_count < HTTP_ACCEPT_PENDING_MAX) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = fd};
        if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0) {
            http_accept_pending *p = &a->pending[a->pending_count++];
            *p = (http_accept_pending){.fd = fd,
                                       .deadline_ms = clock_mono_ms() + HTTP_ACCEPT_PEEK_MS,
                                       .addr_len = addr_len};
            memcpy(&p->addr, addr, addr_len);
            return;
        }
    }
    a->hand(a->ctx, fd, (const struct sockaddr *)addr, addr_len, stream);
}

/* Accept every connection waiting. */
static void http_accept__drain(http_acceptor *a)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t addr_len = sizeof(addr);
        int fd = accept4(a->listen_fd, (struct sockaddr *)&addr, &addr_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            http_accept__route(a, fd, &addr, addr_len);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        /* out of descriptors or memory: the connection waits in the backlog; try again soon
         * (the listening socket stays readable: without a pause this would spin) */
        int64_t now_ms = clock_mono_ms();
        if (now_ms - a->warned_ms >= 1000) {
            log_warn("http: cannot accept a connection: %s", strerror(errno));
            a->warned_ms = now_ms;
        }
        usleep(10 * 1000);
        return;
    }
}

/* How long epoll may wait: until the first pending connection's time is up (-1: none). */
static int http_accept__wait_ms(const http_acceptor *a, int64_t now_ms)
{
    int64_t first = INT64_MAX;
    for (uint32_t i = 0; i < a->pending_count; i++)
        if (a->pending[i].deadline_ms < first) first = a->pending[i].deadline_ms;
    if (first == INT64_MAX) return -1;
    return first <= now_ms ? 0 : (int)(first - now_ms);
}

static void *http_accept__run(void *arg)
{
    http_acceptor *a = arg;
    pthread_setname_np(pthread_self(), "tix-accept");
    struct epoll_event events[64];
    for (;;) {
        int n = epoll_wait(a->epoll_fd, events, 64, http_accept__wait_ms(a, clock_mono_ms()));
        if (n < 0 && errno != EINTR) {
            log_error("http: the acceptor's epoll_wait failed: %s", strerror(errno));
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == a->stop_fd) return NULL;
            if (fd == a->listen_fd) {
                http_accept__drain(a);
                continue;
            }
            for (uint32_t j = 0; j < a->pending_count; j++)
                if (a->pending[j].fd == fd) {
                    http_accept__settle(a, j);
                    break;
                }
        }
        int64_t now_ms = clock_mono_ms();
        for (uint32_t j = 0; j < a->pending_count;) /* silent too long: the API's daemon */
            if (a->pending[j].deadline_ms <= now_ms)
                http_accept__settle(a, j);
            else
                j++;
    }
}

/* Bind and listen on addr; the socket, or -1 with a reason in err. */
static int http_accept__listen(const struct sockaddr_storage *addr, bool ipv6, uint16_t *port,
                               char *err, size_t err_len)
{
    int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return snprintf(err, err_len, "socket: %s", strerror(errno)), -1;
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (ipv6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    socklen_t len = ipv6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, HTTP_ACCEPT_BACKLOG) != 0) {
        snprintf(err, err_len, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    struct sockaddr_storage bound;
    len = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &len) == 0)
        *port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                           : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

http_acceptor *http_acceptor_start(const struct sockaddr_storage *addr, bool ipv6,
                                   http_accept_fn hand, void *ctx, char *err, size_t err_len)
{
    http_acceptor *a = calloc(1, sizeof(*a));
    if (a) a->pending = calloc(HTTP_ACCEPT_PENDING_MAX, sizeof(*a->pending));
    if (!a || !a->pending) {
        free(a);
        return snprintf(err, err_len, "out of memory"), NULL;
    }
    a->hand = hand;
    a->ctx = ctx;
    a->epoll_fd = a->stop_fd = -1;
    a->listen_fd = http_accept__listen(addr, ipv6, &a->port, err, err_len);
    if (a->listen_fd < 0) goto fail;
    a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event on_listen = {.events = EPOLLIN, .data.fd = a->listen_fd},
                       on_stop = {.events = EPOLLIN, .data.fd = a->stop_fd};
    if (a->epoll_fd < 0 || a->stop_fd < 0 ||
        epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->listen_fd, &on_listen) != 0 ||
        epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, a->stop_fd, &on_stop) != 0) {
        snprintf(err, err_len, "epoll: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&a->thread, NULL, http_accept__run, a) != 0) {
        snprintf(err, err_len, "cannot start the acceptor thread");
        goto fail;
    }
    return a;
fail:
    if (a->listen_fd >= 0) close(a->listen_fd);
    if (a->epoll_fd >= 0) close(a->epoll_fd);
    if (a->stop_fd >= 0) close(a->stop_fd);
    free(a->pending);
    free(a);
    return NULL;
}

uint16_t http_acceptor_port(const http_acceptor *a)
{
    return a->port;
}

void http_acceptor_stop(http_acceptor *a)
{
    if (!a) return;
    uint64_t one = 1;
    if (write(a->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        log_error("http: cannot wake the acceptor: %s", strerror(errno));
    pthread_join(a->thread, NULL);
    for (uint32_t i = 0; i < a->pending_count; i++)
        close(a->pending[i].fd);
    close(a->listen_fd);
    close(a->epoll_fd);
    close(a->stop_fd);
    free(a->pending);
    free(a);
}
