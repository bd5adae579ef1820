/* access_log: see access_log.h. Two buffers: request threads fill one while the writer thread
 * writes the other out, swapped under the mutex; a line is copied whole or dropped whole. */
#include "http/access_log.h"

#include "metrics/metrics.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct access_log {
    int fd;
    bool owns_fd; /* not standard output */
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool stopping;
    char *fill; /* request threads append here */
    size_t fill_len;
    char *drain; /* the writer thread writes this out */
};

/* The line being formatted: never past ACCESS_LOG_LINE_LEN_MAX - 1 (room for '\n'). */
typedef struct access__line {
    char *out;
    size_t len;
} access__line;

static void access__put(access__line *l, const char *s, size_t n)
{
    size_t room = ACCESS_LOG_LINE_LEN_MAX - 1 - l->len;
    if (n > room) n = room;
    memcpy(l->out + l->len, s, n);
    l->len += n;
}

/* A field inside quotes: anything that could break the line or the quoting as \xHH. */
static void access__quoted(access__line *l, const char *s)
{
    if (!s) return access__put(l, "-", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char esc[5];
            snprintf(esc, sizeof(esc), "\\x%02X", c);
            access__put(l, esc, 4);
        } else {
            access__put(l, s, 1);
        }
    }
}

size_t access_log_format(const access_log_entry *e, char *out)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    access__line l = {out, 0};
    time_t secs = (time_t)(e->time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char head[128];
    int n = snprintf(head, sizeof(head), "%s - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"",
                     e->client ? e->client : "-", tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    access__put(&l, head, n > 0 ? (size_t)n : 0);
    access__quoted(&l, e->method);
    access__put(&l, " ", 1);
    access__quoted(&l, e->url);
    if (e->query && e->query[0]) {
        access__put(&l, "?", 1);
        access__quoted(&l, e->query);
    }
    access__put(&l, " ", 1);
    access__quoted(&l, e->version);
    n = snprintf(head, sizeof(head), "\" %u %llu \"", e->status, (unsigned long long)e->bytes);
    access__put(&l, head, (size_t)n);
    access__quoted(&l, e->referer);
    access__put(&l, "\" \"", 3);
    access__quoted(&l, e->user_agent);
    n = snprintf(head, sizeof(head), "\" rid=%.64s dur=%lld.%06lld",
                 e->request_id && e->request_id[0] ? e->request_id : "-",
                 (long long)(e->duration_us / 1000000), (long long)(e->duration_us % 1000000));
    access__put(&l, head, (size_t)n);
    out[l.len++] = '\n';
    return l.len;
}

/* Write all of data; gives up (and says so once per batch) when the file fails. */
static void access__write_all(access_log *log, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(log->fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            log_error("access log: write failed (%s); %zu bytes lost", strerror(errno), len);
            return;
        }
        data += w;
        len -= (size_t)w;
    }
}

static void *access__writer(void *arg)
{
    access_log *log = arg;
    pthread_setname_np(pthread_self(), "tix-access-log");
    pthread_mutex_lock(&log->mutex);
    for (;;) {
        while (log->fill_len == 0 && !log->stopping)
            pthread_cond_wait(&log->wake, &log->mutex);
        if (log->fill_len == 0) break; /* stopping, and everything written */
        char *full = log->fill;
        size_t len = log->fill_len;
        log->fill = log->drain;
        log->fill_len = 0;
        log->drain = full;
        pthread_mutex_unlock(&log->mutex);
        access__write_all(log, full, len);
        pthread_mutex_lock(&log->mutex);
    }
    pthread_mutex_unlock(&log->mutex);
    return NULL;
}

access_log *access_log_open(const char *path, char *err, size_t err_len)
{
    access_log *log = calloc(1, sizeof(*log));
    if (!log) return snprintf(err, err_len, "out of memory"), NULL;
    log->owns_fd = strcmp(path, "-") != 0;
    log->fd =
        log->owns_fd ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640) : STDOUT_FILENO;
    if (log->fd < 0) {
        snprintf(err, err_len, "cannot open %s: %s", path, strerror(errno));
        free(log);
        return NULL;
    }
    log->fill = malloc(ACCESS_LOG_BUFFER_BYTES);
    log->drain = malloc(ACCESS_LOG_BUFFER_BYTES);
    bool ok = log->fill && log->drain && pthread_mutex_init(&log->mutex, NULL) == 0 &&
              pthread_cond_init(&log->wake, NULL) == 0;
    if (!ok || pthread_create(&log->thread, NULL, access__writer, log) != 0) {
        snprintf(err, err_len, "cannot start the access log's writer");
        if (log->owns_fd) close(log->fd);
        free(log->fill);
        free(log->drain);
        free(log);
        return NULL;
    }
    return log;
}

int access_log_write(access_log *log, const access_log_entry *e)
{
    char line[ACCESS_LOG_LINE_LEN_MAX];
    size_t len = access_log_format(e, line);
    pthread_mutex_lock(&log->mutex);
    bool fits = log->fill_len + len <= ACCESS_LOG_BUFFER_BYTES;
    if (fits) {
        memcpy(log->fill + log->fill_len, line, len);
        if (log->fill_len == 0) pthread_cond_signal(&log->wake);
        log->fill_len += len;
    }
    pthread_mutex_unlock(&log->mutex);
    if (!fits) metrics_access_log_dropped();
    return fits ? 0 : -1;
}

void access_log_close(access_log *log)
{
    if (!log) return;
    pthread_mutex_lock(&log->mutex);
    log->stopping = true;
    pthread_cond_signal(&log->wake);
    pthread_mutex_unlock(&log->mutex);
    pthread_join(log->thread, NULL);
    if (log->owns_fd && close(log->fd) != 0) log_error("access log: close: %s", strerror(errno));
    pthread_mutex_destroy(&log->mutex);
    pthread_cond_destroy(&log->wake);
    free(log->fill);
    free(log->drain);
    free(log);
}
