/* mhd_bench: what parking a request costs in libmicrohttpd, without tix.
 *
 * A durable write in tix (a hold) cannot be answered from the request's own callback: the
 * connection is parked (MHD_suspend_connection) while the group commit syncs and resumed
 * (MHD_resume_connection) by the writer. This server answers every request with the same
 * small body, the way tix serves the epoll loop (MHD_USE_INTERNAL_POLLING_THREAD |
 * MHD_USE_EPOLL, 8 KiB of connection memory, one thread), either at once (--park 0) or after
 * parking the connection and resuming it at once from the same thread (--park 1): the
 * difference in CPU per request between the two is libmicrohttpd's own cost of a park (its
 * epoll changes and wake-up), a lower bound of what tix's holds pay for it (there, another
 * thread resumes, which adds a cross-thread wake-up).
 *
 * Usage: mhd_bench --port N --status CODE --body FILE [--park 0|1]
 * Prints "mhd_bench: listening on 127.0.0.1:N", serves until SIGTERM or SIGINT, exit 0;
 * 2 on a usage error, 1 when it cannot start. A benchmark, not a test. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BENCH_BODY_MAX = 4096, BENCH_CONNECTION_MEMORY = 8 * 1024 };

static volatile sig_atomic_t bench_stop;
static struct MHD_Response *bench_response;
static unsigned bench_status;
static bool bench_park;

/* Per request: NULL until the head arrived, then &bench_seen; &bench_parked once parked. */
static int bench_seen, bench_parked;

static void bench_on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

static enum MHD_Result bench_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **req_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    if (*req_cls == NULL) { /* the head: wait for the body */
        *req_cls = &bench_seen;
        return MHD_YES;
    }
    if (*upload_data_size) { /* the body: read and dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (bench_park && *req_cls == &bench_seen) { /* whole request: park, resume, answer next */
        *req_cls = &bench_parked;
        MHD_suspend_connection(conn);
        MHD_resume_connection(conn);
        return MHD_YES;
    }
    return MHD_queue_response(conn, bench_status, bench_response);
}

static int bench_usage(void)
{
    fprintf(stderr, "usage: mhd_bench --port N --status CODE --body FILE [--park 0|1]\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned port = 0;
    const char *body_path = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--status") == 0)
            bench_status = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--body") == 0)
            body_path = argv[i + 1];
        else if (strcmp(argv[i], "--park") == 0)
            bench_park = strcmp(argv[i + 1], "1") == 0;
        else
            return bench_usage();
    }
    if (argc % 2 == 0 || port == 0 || port > 65535 || bench_status < 100 ||
        bench_status > 599 || !body_path)
        return bench_usage();
    static char body[BENCH_BODY_MAX];
    FILE *f = fopen(body_path, "rb");
    size_t len = f ? fread(body, 1, sizeof(body), f) : 0;
    if (!f || ferror(f)) {
        fprintf(stderr, "mhd_bench: cannot read %s\n", body_path);
        if (f) fclose(f);
        return 1;
    }
    fclose(f);
    bench_response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!bench_response ||
        MHD_add_response_header(bench_response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json") != MHD_YES) {
        fprintf(stderr, "mhd_bench: cannot build the response\n");
        return 1;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)port,
        NULL, NULL, bench_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BENCH_CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_bench: cannot listen on port %u\n", port);
        return 1;
    }
    signal(SIGTERM, bench_on_signal);
    signal(SIGINT, bench_on_signal);
    printf("mhd_bench: listening on 127.0.0.1:%u (%s)\n", port,
           bench_park ? "every request parked and resumed" : "answered at once");
    fflush(stdout);
    while (!bench_stop)
        pause();
    MHD_stop_daemon(d);
    MHD_destroy_response(bench_response);
    return 0;
}
