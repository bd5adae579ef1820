/* conn_watch: see conn_watch.h. */
#include "http/conn_watch.h"

#include "util/clock.h"
#include "util/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

enum { CONN_WATCH_TICK_MS = 250 };

struct conn_watch_entry {
    int fd;
    bool receiving;
    bool cut;
    int64_t started_ms; /* monotonic: when the request being received began */
    conn_watch_entry *prev, *next;
};

struct conn_watch {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_t thread;
    bool stopping;
    int64_t timeout_ms;
    uint64_t cut_count;
    conn_watch_entry *head;
};

static void *conn_watch__loop(void *arg)
{
    conn_watch *w = arg;
    pthread_setname_np(pthread_self(), "tix-connwatch");
    pthread_mutex_lock(&w->mutex);
    while (!w->stopping) {
        struct timespec ts = clock_mono_deadline((int64_t)CONN_WATCH_TICK_MS * 1000);
        pthread_cond_timedwait(&w->cond, &w->mutex, &ts);
        int64_t now = clock_mono_ms();
        for (conn_watch_entry *e = w->head; e && !w->stopping; e = e->next) {
            if (!e->receiving || e->cut || now - e->started_ms <= w->timeout_ms) continue;
            /* the fd stays open until conn_watch_remove (libmicrohttpd notifies before it
             * closes), so this cannot hit another connection's socket */
            shutdown(e->fd, SHUT_RDWR);
            e->cut = true;
            w->cut_count++;
        }
    }
    pthread_mutex_unlock(&w->mutex);
    return NULL;
}

conn_watch *conn_watch_start(int64_t timeout_ms)
{
    conn_watch *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    w->timeout_ms = timeout_ms;
    pthread_mutex_init(&w->mutex, NULL);
    clock_mono_cond_init(&w->cond);
    if (pthread_create(&w->thread, NULL, conn_watch__loop, w) != 0) {
        pthread_mutex_destroy(&w->mutex);
        pthread_cond_destroy(&w->cond);
        free(w);
        return NULL;
    }
    return w;
}

void conn_watch_stop(conn_watch *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mutex);
    w->stopping = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    pthread_join(w->thread, NULL);
    if (w->cut_count)
        log_info("http: %llu slow connections were cut", (unsigned long long)w->cut_count);
    while (w->head) { /* normally empty: the HTTP server removed every connection */
        conn_watch_entry *e = w->head;
        w->head = e->next;
        free(e);
    }
    pthread_mutex_destroy(&w->mutex);
    pthread_cond_destroy(&w->cond);
    free(w);
}

conn_watch_entry *conn_watch_add(conn_watch *w, int fd)
{
    conn_watch_entry *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->fd = fd;
    e->receiving = true;
    e->started_ms = clock_mono_ms();
    pthread_mutex_lock(&w->mutex);
    e->next = w->head;
    if (w->head) w->head->prev = e;
    w->head = e;
    pthread_mutex_unlock(&w->mutex);
    return e;
}

void conn_watch_remove(conn_watch *w, conn_watch_entry *e)
{
    if (!e) return;
    pthread_mutex_lock(&w->mutex);
    if (e->prev)
        e->prev->next = e->next;
    else
        w->head = e->next;
    if (e->next) e->next->prev = e->prev;
    pthread_mutex_unlock(&w->mutex);
    free(e);
}

void conn_watch_request_started(conn_watch *w, conn_watch_entry *e)
{
    if (!e) return;
    pthread_mutex_lock(&w->mutex);
    if (!e->receiving) { /* a first request keeps the clock that started at accept */
        e->receiving = true;
        e->started_ms = clock_mono_ms();
    }
    pthread_mutex_unlock(&w->mutex);
}

void conn_watch_request_received(conn_watch *w, conn_watch_entry *e)
{
    if (!e) return;
    pthread_mutex_lock(&w->mutex);
    e->receiving = false;
    pthread_mutex_unlock(&w->mutex);
}

uint64_t conn_watch_cut_count(conn_watch *w)
{
    pthread_mutex_lock(&w->mutex);
    uint64_t n = w->cut_count;
    pthread_mutex_unlock(&w->mutex);
    return n;
}
