/* accept: which daemon a connection goes to, from its first bytes, over real sockets. */
#include "../test.h"

#include "http/accept.h"
#include "util/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

TEST(accept_tells_a_stream_request_line_from_any_other)
{
    static const char *const streams[] = {
        "GET /events/nba-finals/stream HTTP/1.1\r\n",
        "GET /events/e/stream?after=12 HTTP/1.1\r\n",
        "GET /events/x/stream ",
    };
    static const char *const others[] = {
        "POST /events/nba-finals/holds HTTP/1.1\r\n",
        "GET /events/nba-finals/seats HTTP/1.1\r\n",
        "GET /events/nba-finals/streams HTTP/1.1\r\n",
        "GET /events//stream HTTP/1.1\r\n",
        "GET /events/a b/stream HTTP/1.1\r\n",
        "GET /events/a?b/stream HTTP/1.1\r\n",
        "GET /events/a/b/stream HTTP/1.1\r\n",
        "HEAD /events/x/stream HTTP/1.1\r\n",
        "POST /events/x/stream HTTP/1.1\r\n",
        "GET /events/x/stream", /* cut short: cannot tell yet */
        "GET /events/x/str",
        "GET /ev",
        "",
    };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
        ASSERT_TRUE(http_accept_is_stream(streams[i], strlen(streams[i])));
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        if (http_accept_is_stream(others[i], strlen(others[i])))
            test_fail(__FILE__, __LINE__, "'%s' taken for a stream", others[i]);
    }
}

/* ---- an acceptor on a real port ---- */

enum { HANDED_MAX = 8 };

typedef struct handed {
    pthread_mutex_t mutex;
    unsigned count;
    int fd[HANDED_MAX];
    bool stream[HANDED_MAX];
    bool from_loopback[HANDED_MAX];
} handed;

static void record(void *ctx, int fd, const struct sockaddr *addr, socklen_t addr_len, bool stream)
{
    handed *h = ctx;
    pthread_mutex_lock(&h->mutex);
    if (h->count < HANDED_MAX) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        h->from_loopback[h->count] = addr_len == sizeof(*in) && in->sin_family == AF_INET &&
                                     ntohl(in->sin_addr.s_addr) == INADDR_LOOPBACK;
        h->stream[h->count] = stream;
        h->fd[h->count++] = fd;
    } else {
        close(fd);
    }
    pthread_mutex_unlock(&h->mutex);
}

static unsigned handed_count(handed *h)
{
    pthread_mutex_lock(&h->mutex);
    unsigned n = h->count;
    pthread_mutex_unlock(&h->mutex);
    return n;
}

/* Wait (5 s at most) until n connections were handed on. */
static bool wait_handed(handed *h, unsigned n)
{
    for (int64_t deadline = clock_mono_ms() + 5000; clock_mono_ms() < deadline; usleep(2000))
        if (handed_count(h) >= n) return true;
    return false;
}

static int connect_to(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_text(int fd, const char *text)
{
    return send(fd, text, strlen(text), MSG_NOSIGNAL) == (ssize_t)strlen(text);
}

/* What fd (handed on) still has to read: the bytes peeked at are left for the daemon. */
static bool reads(int fd, const char *want)
{
    char got[256];
    size_t len = 0, want_len = strlen(want);
    for (int64_t deadline = clock_mono_ms() + 5000; len < want_len && clock_mono_ms() < deadline;) {
        ssize_t n = recv(fd, got + len, sizeof(got) - 1 - len, MSG_DONTWAIT);
        if (n > 0)
            len += (size_t)n;
        else
            usleep(1000);
    }
    return len == want_len && memcmp(got, want, len) == 0;
}

static void stop_acceptor(void *a)
{
    http_acceptor_stop(a);
}

/* An acceptor on a free port of 127.0.0.1 that records what it hands on in h; NULL after a
 * failed assertion. */
static http_acceptor *start_on_loopback(handed *h, struct sockaddr_storage *addr)
{
    memset(addr, 0, sizeof(*addr));
    struct sockaddr_in *in = (struct sockaddr_in *)addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char err[128] = "";
    http_acceptor *a = http_acceptor_start(addr, false, record, h, err, sizeof(err));
    if (!a) test_fail(__FILE__, __LINE__, "acceptor: %s", err);
    return a;
}

TEST(accept_hands_each_connection_on_with_its_bytes_once_they_arrive)
{
    handed h = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_storage addr;
    http_acceptor *a = start_on_loopback(&h, &addr);
    ASSERT_NOT_NULL(a);
    test_defer(stop_acceptor, a);
    uint16_t port = http_acceptor_port(a);
    ASSERT_GT(port, 0);
    static const char stream[] = "GET /events/e/stream HTTP/1.1\r\n\r\n",
                      hold[] = "POST /events/e/holds HTTP/1.1\r\n\r\n";
    /* a stream, its request sent at once */
    int c0 = connect_to(port);
    ASSERT_TRUE(c0 >= 0 && send_text(c0, stream));
    ASSERT_TRUE(wait_handed(&h, 1));
    ASSERT_TRUE(h.stream[0]);
    ASSERT_TRUE(h.from_loopback[0]);
    ASSERT_TRUE(reads(h.fd[0], stream));
    /* a hold */
    int c1 = connect_to(port);
    ASSERT_TRUE(c1 >= 0 && send_text(c1, hold));
    ASSERT_TRUE(wait_handed(&h, 2));
    ASSERT_FALSE(h.stream[1]);
    ASSERT_TRUE(reads(h.fd[1], hold));
    /* a stream whose request comes a little later: waited for */
    int c2 = connect_to(port);
    ASSERT_TRUE(c2 >= 0);
    usleep(50 * 1000);
    ASSERT_EQ_UINT(handed_count(&h), 2);
    ASSERT_TRUE(send_text(c2, stream));
    ASSERT_TRUE(wait_handed(&h, 3));
    ASSERT_TRUE(h.stream[2]);
    ASSERT_TRUE(reads(h.fd[2], stream));
    /* a client that closes without a word is not handed on */
    int c3 = connect_to(port);
    ASSERT_TRUE(c3 >= 0);
    close(c3);
    /* a silent one goes to the API's daemon when its time is up */
    int c4 = connect_to(port);
    ASSERT_TRUE(c4 >= 0);
    ASSERT_TRUE(wait_handed(&h, 4));
    ASSERT_FALSE(h.stream[3]);
    ASSERT_TRUE(send_text(c4, stream)); /* too late to change where it went */
    ASSERT_TRUE(reads(h.fd[3], stream));
    ASSERT_EQ_UINT(handed_count(&h), 4);
    int clients[] = {c0, c1, c2, c4};
    for (unsigned i = 0; i < 4; i++) {
        close(clients[i]);
        close(h.fd[i]);
    }
}

TEST(accept_stop_closes_the_connections_still_undecided)
{
    handed h = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_storage addr;
    http_acceptor *a = start_on_loopback(&h, &addr);
    ASSERT_NOT_NULL(a);
    int c = connect_to(http_acceptor_port(a));
    ASSERT_TRUE(c >= 0);
    usleep(20 * 1000); /* accepted, waiting for its first bytes */
    http_acceptor_stop(a);
    char byte;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(c, &byte, 1, 0); /* closed by the server (reset if never accepted) */
    ASSERT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET));
    ASSERT_EQ_UINT(handed_count(&h), 0);
    close(c);
}

TEST(accept_start_fails_with_a_reason_on_a_port_in_use)
{
    handed h = {.mutex = PTHREAD_MUTEX_INITIALIZER};
    struct sockaddr_storage addr;
    http_acceptor *a = start_on_loopback(&h, &addr);
    ASSERT_NOT_NULL(a);
    test_defer(stop_acceptor, a);
    ((struct sockaddr_in *)&addr)->sin_port = htons(http_acceptor_port(a));
    char err[128] = "";
    ASSERT_NULL(http_acceptor_start(&addr, false, record, &h, err, sizeof(err)));
    ASSERT_TRUE(strstr(err, "in use") != NULL);
}
