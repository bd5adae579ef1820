/* listen: waking the feed follower when another node committed (store_watch).
 *
 * A thread of the store keeps a connection of its own that LISTENs on tix_feed; every batch
 * that appended to the feed sends a notification after its COMMIT (tix_feed_notify). The
 * listener calls the watcher for each one it receives from another backend (this node's own
 * writer is skipped: its changes reach the follower directly). Notifications are a hint: they
 * are not kept while the listener is disconnected, so once it has connected again it calls the
 * watcher once, and the follower reads from its position whatever it missed. Polling stays the
 * fallback (src/feed/feed.c). */
#include "store/pg/internal.h"

#include "util/clock.h"
#include "util/log.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

enum { PG_LISTEN_IDLE_MS = 1000 };

/* Call the watcher, if any (under watch_mutex: never after store_watch cleared it). */
static void pg_store__tell(store_pg *ss)
{
    pthread_mutex_lock(&ss->watch_mutex);
    if (ss->watch_fn) ss->watch_fn(ss->watch_ctx);
    pthread_mutex_unlock(&ss->watch_mutex);
}

/* Wait for the listening socket (fd, -1 for none) or the stop signal, at most wait_ms. Returns
 * false when the listener must stop. */
static bool pg_store__listen_wait(store_pg *ss, int fd, int64_t wait_ms, bool *readable)
{
    struct pollfd pfd[2] = {{.fd = ss->listen_stop_fd, .events = POLLIN},
                            {.fd = fd, .events = POLLIN}};
    int n = poll(pfd, fd >= 0 ? 2 : 1, (int)(wait_ms > 0 ? wait_ms : 0));
    if (n < 0 && errno != EINTR) log_warn("store: listener: poll: %s", strerror(errno));
    *readable = n > 0 && fd >= 0 && (pfd[1].revents & (POLLIN | POLLERR | POLLHUP));
    return !(n > 0 && (pfd[0].revents & POLLIN));
}

/* Read what arrived; true when some other backend notified. */
static bool pg_store__notified(store_pg *ss, pg_conn *c)
{
    if (!PQconsumeInput(c->conn) || PQstatus(c->conn) != CONNECTION_OK) {
        const char *message = c->conn ? PQerrorMessage(c->conn) : "";
        log_warn("store: tix-listener connection lost: %.*s", (int)strcspn(message, "\n"), message);
        pg_store_disconnect(c);
        return false;
    }
    int own = __atomic_load_n(&ss->writer_pid, __ATOMIC_ACQUIRE);
    bool other = false;
    PGnotify *n;
    while ((n = PQnotifies(c->conn))) {
        other |= n->be_pid != own;
        PQfreemem(n);
    }
    return other;
}

static void *pg_store__listener(void *arg)
{
    store_pg *ss = arg;
    pthread_setname_np(pthread_self(), "tix-listen");
    pg_conn c = {.role = PG_ROLE_LISTENER};
    bool running = true, resync = false;
    while (running) {
        bool readable = false;
        if (!c.conn && pg_store_ensure(ss, &c) != 0) { /* away: wait for the next try */
            resync = true;
            running = pg_store__listen_wait(ss, -1, c.retry_at_ms - clock_mono_ms(), &readable);
            continue;
        }
        if (resync) { /* whatever was said while we were away is lost: read the feed */
            resync = false;
            pg_store__tell(ss);
        }
        running = pg_store__listen_wait(ss, PQsocket(c.conn), PG_LISTEN_IDLE_MS, &readable);
        if (running && readable && pg_store__notified(ss, &c)) pg_store__tell(ss);
        if (!c.conn) resync = true;
    }
    pg_store_disconnect(&c);
    return NULL;
}

int pg_store_watch(store *s, void (*fn)(void *ctx), void *ctx)
{
    store_pg *ss = pg_store_of(s);
    pthread_mutex_lock(&ss->watch_mutex);
    ss->watch_fn = fn;
    ss->watch_ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&ss->watch_mutex);
    if (!fn || ss->listening) return 0;
    ss->listen_stop_fd = eventfd(0, EFD_CLOEXEC);
    if (ss->listen_stop_fd < 0) return log_error("store: eventfd: %s", strerror(errno)), -1;
    if (pthread_create(&ss->listen_thread, NULL, pg_store__listener, ss) != 0) {
        close(ss->listen_stop_fd);
        ss->listen_stop_fd = -1;
        return log_error("store: cannot start the listener"), -1;
    }
    ss->listening = true;
    return 0;
}

void pg_store_listen_stop(store_pg *ss)
{
    if (ss->listening) {
        uint64_t one = 1;
        if (write(ss->listen_stop_fd, &one, sizeof(one)) != sizeof(one))
            log_warn("store: cannot stop the listener: %s", strerror(errno));
        pthread_join(ss->listen_thread, NULL);
        ss->listening = false;
    }
    if (ss->listen_stop_fd >= 0) close(ss->listen_stop_fd);
    ss->listen_stop_fd = -1;
}
