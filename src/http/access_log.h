/* access_log: one line per answered request, in the combined log format of Apache and nginx
 * followed by the request id and the time taken:
 *
 *   127.0.0.1 - - [29/Nov/2026:02:34:24 +0000] "POST /reserve HTTP/1.1" 201 187 "-" "curl/7.88"
 *   rid=5f0c2a9e1b7d4c3a dur=0.000532
 *
 * (one line). Request threads never wait for the disk: a line is copied into a bounded buffer
 * (ACCESS_LOG_BUFFER_BYTES, under a mutex held for the copy) and a thread of the log writes
 * the buffer out; when the buffer is full (the disk is slower than the traffic) the line is
 * dropped and counted (tix_access_log_dropped_lines_total), never waited for. */
#ifndef TIX_HTTP_ACCESS_LOG_H
#define TIX_HTTP_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

enum {
    ACCESS_LOG_BUFFER_BYTES = 1 << 20, /* lines waiting for the disk, at most */
    ACCESS_LOG_LINE_LEN_MAX = 4096,    /* a longer line is cut (its URL, its user agent) */
};

typedef struct access_log access_log;

/* Open path for appending ("-": standard output) and start its writer thread. Returns NULL
 * with a reason in err. */
access_log *access_log_open(const char *path, char *err, size_t err_len);

/* The fields of one line; NULL strings are written as "-". */
typedef struct access_log_entry {
    const char *client;
    int64_t time_ms; /* wall clock, when the answer was queued */
    const char *method;
    const char *url;   /* path */
    const char *query; /* without the '?', or NULL */
    const char *version;
    unsigned status;
    uint64_t bytes;
    const char *referer;
    const char *user_agent;
    const char *request_id;
    int64_t duration_us;
} access_log_entry;

/* Format e into a line (at most ACCESS_LOG_LINE_LEN_MAX bytes, newline included) at out.
 * Quotes, backslashes and control bytes inside quoted fields are escaped (\x22). Returns the
 * length. */
size_t access_log_format(const access_log_entry *e, char *out);

/* Queue one line; never blocks on the disk. Returns 0, or -1 when it was dropped. */
int access_log_write(access_log *log, const access_log_entry *e);

/* Write out what is queued, stop the writer thread, close the file. NULL is a no-op. */
void access_log_close(access_log *log);

#endif
