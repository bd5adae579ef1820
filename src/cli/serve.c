/* serve: `tix serve`, the server. Start-up order: store, inventory, writer, API, HTTP.
 * Shutdown (SIGINT/SIGTERM): stop accepting, let in-flight requests finish, commit what is
 * queued, close connections, close the store, exit 0. */
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/serve_ops.h"

#include "api/api.h"
#include "api/buyer_token.h"
#include "bus/dispatcher.h"
#include "http/accept.h"
#include "http/listen.h"
#include "http/server.h"
#include "live/live.h"
#include "notify/mailer.h"
#include "pay/payment.h"
#include "store/vfs_shim.h"
#include "util/clock.h"
#include "util/ids.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    SERVE_DRAIN_TIMEOUT_MS = 10000,
    SERVE_STREAMS_CLOSE_TIMEOUT_MS = 2000, /* for the streams to end at a stop */
    SERVE_TOKEN_LEN_MAX = 256,
};

typedef struct serve_options {
    char listen[128];
    char data_dir[CLI_PATH_MAX];
    char store_url[CLI_STORE_URL_LEN_MAX];
    char admin_token[SERVE_TOKEN_LEN_MAX];
    unsigned threads;
    unsigned stream_threads; /* 0: as many as threads */
    unsigned max_body_bytes;
    unsigned max_connections;
    unsigned max_connections_per_ip;
    unsigned idle_timeout_s;
    unsigned sweep_interval_ms;
    unsigned batch_max;
    unsigned batch_gather_us;
    unsigned queue_max;
    char payment_provider[16];
    char payment_url[PAY_URL_LEN_MAX];
    unsigned payment_latency_ms;
    unsigned payment_timeout_ms;
    char smtp_url[512];
    char mail_from[256];
    unsigned workers;
    unsigned checkout_timeout_s;
    unsigned max_attempts;
    unsigned retry_base_ms;
    unsigned lease_ms;
    unsigned max_seats_per_user;
    unsigned request_timeout_s;
    unsigned write_rate_limit;
    unsigned trust_proxy;
    char buyer_token_secret[BUYER_TOKEN_SECRET_LEN_MAX + 1];
    unsigned require_buyer_token;
    char node_id[TIX_NODE_ID_LEN_MAX + 1];
    unsigned feed_poll_ms;
    unsigned feed_retain;
    unsigned max_feed_lag_ms;
    unsigned max_streams;
    unsigned stream_heartbeat_ms;
    char test_fault_dir[CLI_PATH_MAX]; /* tests only: see store/vfs_shim.h */
    serve_ops_options ops;             /* logs, access log, metrics (serve_ops.h) */
} serve_options;

/* Use the secret given (value, cap bytes), else the one in DATA/name, else make one there
 * (0600). The secret itself is never logged. */
static int serve__secret(const serve_options *o, const char *name, char *value, size_t cap)
{
    if (value[0]) return 0;
    char path[CLI_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", o->data_dir, name);
    FILE *f = fopen(path, "r");
    if (f) {
        bool ok = fgets(value, (int)cap, f) != NULL;
        fclose(f);
        value[strcspn(value, "\r\n")] = '\0';
        if (ok && value[0]) {
            log_info("%s read from %s", name, path);
            return 0;
        }
    }
    char random_hex[2][IDS_HEX_LEN + 1];
    ids_random_hex(random_hex[0]);
    ids_random_hex(random_hex[1]);
    snprintf(value, cap, "%s%s", random_hex[0], random_hex[1]); /* 256 bits */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return log_error("cannot write %s: %s", path, strerror(errno)), -1;
    size_t len = strlen(value);
    bool ok = write(fd, value, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    if (!ok) return log_error("cannot write %s", path), -1;
    log_info("%s generated and stored in %s", name, path);
    return 0;
}

/* The event bus and its collaborators: payment provider, mailer, dispatcher. */
typedef struct serve_bus {
    pay_provider *pay;
    mailer *mail;
    bus *dispatcher;
} serve_bus;

static int serve__bus_start(const serve_options *o, const commit_config *cc, cli_core *core,
                            serve_bus *sb)
{
    char err[256], mail_dir[CLI_PATH_MAX + 8];
    memset(sb, 0, sizeof(*sb));
    pay_config pc = {.latency_ms = o->payment_latency_ms, .timeout_ms = o->payment_timeout_ms};
    snprintf(pc.kind, sizeof(pc.kind), "%s", o->payment_provider);
    snprintf(pc.url, sizeof(pc.url), "%s", o->payment_url);
    if (!(sb->pay = pay_create(&pc, err, sizeof(err))))
        return log_error("payment provider: %s", err), -1;
    snprintf(mail_dir, sizeof(mail_dir), "%s/mail", o->data_dir);
    if (!(sb->mail = mailer_create(mail_dir, o->smtp_url, o->mail_from, err, sizeof(err)))) {
        log_error("mailer: %s", err);
        pay_destroy(sb->pay);
        return -1;
    }
    bus_config bc = {.workers = o->workers,
                     .poll_ms = BUS_POLL_MS_DEFAULT,
                     .webhook_timeout_ms = BUS_WEBHOOK_TIMEOUT_MS_DEFAULT,
                     .max_attempts = cc->rules.max_attempts,
                     .retry_base_ms = o->retry_base_ms,
                     .retry_max_ms = BUS_RETRY_MAX_MS_DEFAULT};
    if (!(sb->dispatcher = bus_start(core->writer, core->st, core->inv, sb->pay, sb->mail, &bc))) {
        mailer_destroy(sb->mail);
        pay_destroy(sb->pay);
        return -1;
    }
    commit_on_outbox(core->writer, bus_wake, sb->dispatcher);
    if (feed_listen(core->follower, bus_on_change, sb->dispatcher) != 0)
        log_warn("event bus: cannot follow the feed; new webhooks are found when first used");
    log_info("event bus: %u workers, payments %s, mail %s", o->workers, o->payment_provider,
             o->smtp_url[0] ? o->smtp_url : mail_dir);
    return 0;
}

/* Stop the bus while the writer still runs (its workers report through it). */
static void serve__bus_stop(cli_core *core, serve_bus *sb)
{
    commit_on_outbox(core->writer, NULL, NULL);
    bus_stop(sb->dispatcher);
    mailer_destroy(sb->mail);
    pay_destroy(sb->pay);
}

static int serve__with_node(serve_options *o, const http_config *http_cfg, const commit_config *cc);

/* Let the process open a file per connection it may accept, plus its own files. */
static void serve__raise_fd_limit(unsigned connections_max)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    /* + the store, logs, outbound calls, the connections the acceptor waits on */
    rlim_t want = (rlim_t)connections_max + 256 + HTTP_ACCEPT_PENDING_MAX;
    if (lim.rlim_cur >= want) return;
    lim.rlim_cur = lim.rlim_max < want ? lim.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
        log_warn("only %llu file descriptors: fewer connections than --max-connections %u fit",
                 (unsigned long long)lim.rlim_cur, connections_max);
}

/* End every live stream (each finishes the message it is writing) and wait a little for them
 * to close: a graceful stop does not wait for viewers, who reconnect to another node. */
static void serve__streams_end(live *streams)
{
    live_shutdown(streams);
    int64_t deadline_ms = clock_mono_ms() + SERVE_STREAMS_CLOSE_TIMEOUT_MS;
    while (live_streams_open(streams) > 0 && clock_mono_ms() < deadline_ms)
        usleep(10 * 1000);
    uint32_t left = live_streams_open(streams);
    if (left)
        log_warn("%u live streams still open after %d ms; closing them", left,
                 SERVE_STREAMS_CLOSE_TIMEOUT_MS);
}

static int serve__run(serve_options *o, const http_config *http_cfg, commit_config *cc)
{
    umask(077); /* everything tix creates is its own: data dir 0700, files 0600 */
    serve__raise_fd_limit(http_cfg->connections_max);
    if (ids_init() != 0) return log_error("cannot initialise libsodium"), CLI_EXIT_RUNTIME;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL); /* every thread started below inherits it */
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(o->data_dir, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create data dir %s: %s", o->data_dir, strerror(errno));
        return CLI_EXIT_RUNTIME;
    }
    int node_lock = -1;
    if (serve__secret(o, "admin-token", o->admin_token, sizeof(o->admin_token)) != 0 ||
        serve__secret(o, "buyer-token-secret", o->buyer_token_secret,
                      sizeof(o->buyer_token_secret)) != 0 ||
        cli_node_id(o->data_dir, o->node_id, cc->node_id, sizeof(cc->node_id), &node_lock) != 0)
        return CLI_EXIT_RUNTIME;
    int rc = serve__with_node(o, http_cfg, cc);
    if (node_lock >= 0) close(node_lock);
    return rc;
}

/* serve__run once the node has its id: the store, the bus, the API, HTTP, until a signal. */
static int serve__with_node(serve_options *o, const http_config *http_cfg, const commit_config *cc)
{
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    cli_core core;
    serve_bus sb;
    if (o->test_fault_dir[0]) store_sqlite_set_fault_dir(o->test_fault_dir); /* tests only */
    cli_core_options co = cli_core_options_default(o->data_dir);
    co.store_url = o->store_url;
    co.readers = o->threads;
    co.commit = *cc;
    co.feed.poll_ms = o->feed_poll_ms;
    if (cli_core_open(&co, &core) != 0) return CLI_EXIT_RUNTIME;
    if (serve__bus_start(o, cc, &core, &sb) != 0) {
        cli_core_close(&core);
        return CLI_EXIT_RUNTIME;
    }
    api *a = api_create(core.inv, core.writer, core.st, core.follower, o->admin_token);
    if (a) api_set_buyer_auth(a, o->buyer_token_secret, o->require_buyer_token != 0);
    if (a) api_set_feed_lag_max(a, o->max_feed_lag_ms);
    live_config lc = {.streams_max = o->max_streams,
                      .flush_ms = LIVE_FLUSH_MS_DEFAULT,
                      .heartbeat_ms = o->stream_heartbeat_ms};
    live *streams = a ? live_open(core.follower, core.inv, &lc) : NULL;
    if (streams) api_set_live(a, streams);
    char err[256] = "out of memory";
    serve_ops ops = {0};
    http_config http_ops_cfg = *http_cfg; /* with the access log */
    http_server *http =
        streams && serve_ops_start(&o->ops, a, &http_ops_cfg, &ops, err, sizeof(err)) == 0
            ? http_start(&http_ops_cfg, a, err, sizeof(err))
            : NULL;
    if (!http) {
        log_error("%s", err);
        serve_ops_stop(&ops);
        live_close(streams);
        api_destroy(a);
        serve__bus_stop(&core, &sb);
        cli_core_close(&core);
        return CLI_EXIT_RUNTIME;
    }
    char store_name[CLI_STORE_URL_LEN_MAX];
    cli_store_name(o->data_dir, o->store_url, store_name, sizeof(store_name));
    log_info("listening on %s:%u (%u threads, %u for streams, store %s, node %s)", http_cfg->host,
             (unsigned)http_port(http), o->threads, http_cfg->stream_threads, store_name,
             cc->node_id);
    int sig = 0;
    sigwait(&signals, &sig);
    log_info("%s received: stopping (no new connections, finishing in-flight requests)",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    http_quiesce(http);
    if (!http_wait_idle(http, SERVE_DRAIN_TIMEOUT_MS))
        log_warn("requests still in flight after %d ms; closing them", SERVE_DRAIN_TIMEOUT_MS);
    serve__streams_end(streams);
    serve__bus_stop(&core, &sb);
    commit_stop(core.writer); /* commits what is queued; later writes get 503 shutting_down */
    http_stop(http);
    serve_ops_stop(&ops);
    live_close(streams);
    api_destroy(a);
    cli_core_close(&core);
    log_info("stopped cleanly");
    return CLI_EXIT_OK;
}

int cli_serve(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    serve_options o = {
        .listen = "127.0.0.1:8080",
        .data_dir = "./tix-data",
        .threads = cores > 0 ? (unsigned)cores : 1,
        .max_body_bytes = API_BODY_LEN_MAX_DEFAULT,
        .max_connections = HTTP_CONNECTIONS_MAX_DEFAULT,
        .max_connections_per_ip = 0,
        .idle_timeout_s = HTTP_TIMEOUT_S_DEFAULT,
        .sweep_interval_ms = COMMIT_SWEEP_INTERVAL_MS_DEFAULT,
        .batch_max = COMMIT_BATCH_MAX_DEFAULT,
        .batch_gather_us = COMMIT_GATHER_US_DEFAULT,
        .queue_max = COMMIT_QUEUE_MAX_DEFAULT,
        .payment_provider = "simulated",
        .payment_timeout_ms = 10000,
        .mail_from = "tix <tickets@tix.invalid>",
        .workers = BUS_WORKERS_DEFAULT,
        .checkout_timeout_s = TIX_CHECKOUT_TIMEOUT_S_DEFAULT,
        .max_attempts = COMMIT_MAX_ATTEMPTS_DEFAULT,
        .retry_base_ms = BUS_RETRY_BASE_MS_DEFAULT,
        .lease_ms = COMMIT_LEASE_MS_DEFAULT,
        .max_seats_per_user = TIX_USER_SEATS_DEFAULT,
        .request_timeout_s = HTTP_REQUEST_TIMEOUT_S_DEFAULT,
        .feed_poll_ms = FEED_POLL_MS_DEFAULT,
        .feed_retain = COMMIT_FEED_RETAIN_DEFAULT,
        .max_feed_lag_ms = FEED_LAG_MS_MAX_DEFAULT,
        .max_streams = LIVE_STREAMS_MAX_DEFAULT,
        .stream_heartbeat_ms = LIVE_HEARTBEAT_MS_DEFAULT,
        .ops = SERVE_OPS_OPTIONS_DEFAULT,
    };
    const cli_option options[] = {
        {"listen", "TIX_LISTEN", "HOST:PORT",
         "address to listen on (default 127.0.0.1:8080; "
         "port 0 picks a free one)",
         CLI_STRING, o.listen, sizeof(o.listen), 0, 0},
        {"data", "TIX_DATA", "DIR",
         "data directory: the embedded store, the node id and the tokens (default ./tix-data)",
         CLI_STRING, o.data_dir, sizeof(o.data_dir), 0, 0},
        CLI_STORE_OPTION(o.store_url),
        {"threads", "TIX_THREADS", "N",
         "HTTP threads for the API (default: one per core; live streams have their own)", CLI_UINT,
         &o.threads, 0, 1, 256},
        {"stream-threads", "TIX_STREAM_THREADS", "N",
         "HTTP threads for the live seat streams, apart from the API's (default: as many as "
         "--threads)",
         CLI_UINT, &o.stream_threads, 0, 1, 256},
        {"admin-token", "TIX_ADMIN_TOKEN", "TOKEN",
         "bearer token for admin endpoints (default: "
         "DIR/admin-token, generated if missing)",
         CLI_STRING, o.admin_token, sizeof(o.admin_token), 0, 0},
        {"max-body-bytes", "TIX_MAX_BODY_BYTES", "N", "largest request body (default 65536)",
         CLI_UINT, &o.max_body_bytes, 0, 1024, 64u << 20},
        {"max-connections", "TIX_MAX_CONNECTIONS", "N", "open connections (default 16384)",
         CLI_UINT, &o.max_connections, 0, 1, 1000000},
        {"max-connections-per-ip", "TIX_MAX_CONNECTIONS_PER_IP", "N",
         "open connections per client address (default 0: no limit)", CLI_UINT,
         &o.max_connections_per_ip, 0, 0, 1000000},
        {"idle-timeout", "TIX_IDLE_TIMEOUT", "S",
         "close idle connections after S seconds "
         "(default 30)",
         CLI_UINT, &o.idle_timeout_s, 0, 1, 3600},
        {"sweep-interval-ms", "TIX_SWEEP_INTERVAL_MS", "MS",
         "how often lapsed holds are expired "
         "(default 250)",
         CLI_UINT, &o.sweep_interval_ms, 0, 10, 60000},
        {"batch-max", "TIX_BATCH_MAX", "N", "commands per group commit (default 1024)", CLI_UINT,
         &o.batch_max, 0, 1, 100000},
        {"batch-gather-us", "TIX_BATCH_GATHER_US", "US",
         "under load, after a batch of n writes, wait up to US for n more before the next "
         "(default 1000; 0: never)",
         CLI_UINT, &o.batch_gather_us, 0, 0, COMMIT_GATHER_US_MAX},
        {"queue-max", "TIX_QUEUE_MAX", "N",
         "writes waiting for the writer before 503 overloaded "
         "(default 65536)",
         CLI_UINT, &o.queue_max, 0, 1, 10000000},
        {"payment-provider", "TIX_PAYMENT_PROVIDER", "simulated|http",
         "payment provider "
         "(default simulated: tok_visa, tok_chargeDeclined, tok_processingError)",
         CLI_STRING, o.payment_provider, sizeof(o.payment_provider), 0, 0},
        {"payment-url", "TIX_PAYMENT_URL", "URL", "base URL of the http payment provider",
         CLI_STRING, o.payment_url, sizeof(o.payment_url), 0, 0},
        {"payment-latency-ms", "TIX_PAYMENT_LATENCY_MS", "MS",
         "simulated provider: delay per "
         "call (default 0)",
         CLI_UINT, &o.payment_latency_ms, 0, 0, 60000},
        {"payment-timeout-ms", "TIX_PAYMENT_TIMEOUT_MS", "MS",
         "http provider: timeout per "
         "call (default 10000)",
         CLI_UINT, &o.payment_timeout_ms, 0, 100, 120000},
        {"smtp-url", "TIX_SMTP_URL", "URL",
         "send emails over SMTP (smtp://host:port); default: "
         "files in DIR/mail",
         CLI_STRING, o.smtp_url, sizeof(o.smtp_url), 0, 0},
        {"mail-from", "TIX_MAIL_FROM", "ADDRESS", "From of notification emails", CLI_STRING,
         o.mail_from, sizeof(o.mail_from), 0, 0},
        {"workers", "TIX_WORKERS", "N", "event bus delivery threads (default 4)", CLI_UINT,
         &o.workers, 0, 1, 64},
        {"checkout-timeout-s", "TIX_CHECKOUT_TIMEOUT_S", "S",
         "how long a hold waits for its "
         "payment (default 900)",
         CLI_UINT, &o.checkout_timeout_s, 0, 1, 86400},
        {"max-attempts", "TIX_MAX_ATTEMPTS", "N",
         "delivery attempts before the dead-letter "
         "queue (default 8)",
         CLI_UINT, &o.max_attempts, 0, 1, 100},
        {"retry-base-ms", "TIX_RETRY_BASE_MS", "MS",
         "first retry delay, doubled each attempt "
         "(default 1000)",
         CLI_UINT, &o.retry_base_ms, 0, 1, 3600000},
        {"lease-ms", "TIX_LEASE_MS", "MS",
         "a claimed delivery is retried after this if its "
         "worker vanished (default 30000)",
         CLI_UINT, &o.lease_ms, 0, 100, 3600000},
        {"max-seats-per-user", "TIX_MAX_SEATS_PER_USER", "N",
         "seats one buyer may hold at once "
         "in an event, across holds (default 10; 0: no limit)",
         CLI_UINT, &o.max_seats_per_user, 0, 0, 1000000},
        {"request-timeout", "TIX_REQUEST_TIMEOUT", "S",
         "time to receive a whole request, head "
         "and body, before the connection is cut (default 10; 0: none)",
         CLI_UINT, &o.request_timeout_s, 0, 0, 3600},
        {"write-rate-limit", "TIX_WRITE_RATE_LIMIT", "N",
         "write requests per second per client "
         "address, bursts of 2N (default 0: off)",
         CLI_UINT, &o.write_rate_limit, 0, 0, 1000000},
        {"buyer-token-secret", "TIX_BUYER_TOKEN_SECRET", "SECRET",
         "key of buyer tokens "
         "(default: DIR/buyer-token-secret, generated if missing)",
         CLI_STRING, o.buyer_token_secret, sizeof(o.buyer_token_secret), 0, 0},
        {"require-buyer-token", "TIX_REQUIRE_BUYER_TOKEN", "0|1",
         "buyer endpoints need a buyer "
         "token (default 0: a token is checked when given)",
         CLI_UINT, &o.require_buyer_token, 0, 0, 1},
        {"trust-proxy", "TIX_TRUST_PROXY", "0|1",
         "take the client address from X-Forwarded-For "
         "(only behind a proxy that sets it; default 0)",
         CLI_UINT, &o.trust_proxy, 0, 0, 1},
        {"node-id", "TIX_NODE_ID", "ID",
         "this node's id, which its leases on deliveries carry (default: kept in DIR/node-id, "
         "made on the first start)",
         CLI_STRING, o.node_id, sizeof(o.node_id), 0, 0},
        {"feed-poll-ms", "TIX_FEED_POLL_MS", "MS",
         "how often the store is asked for changes other writers made (default 50)", CLI_UINT,
         &o.feed_poll_ms, 0, 1, FEED_POLL_MS_MAX},
        {"feed-retain", "TIX_FEED_RETAIN", "N",
         "changes the feed keeps for followers and viewers (default 1000000)", CLI_UINT,
         &o.feed_retain, 0, 10, 100000000},
        {"max-feed-lag-ms", "TIX_MAX_FEED_LAG_MS", "MS",
         "reject a hold from memory only while this node's feed lags less than this; past it "
         "the store decides (default 200)",
         CLI_UINT, &o.max_feed_lag_ms, 0, 0, 3600000},
        {"max-streams", "TIX_MAX_STREAMS", "N",
         "live seat streams open at once, below --max-connections (default 10000; beyond: 503 "
         "too_many_streams)",
         CLI_UINT, &o.max_streams, 0, 0, LIVE_STREAMS_MAX_MAX},
        {"stream-heartbeat-ms", "TIX_STREAM_HEARTBEAT_MS", "MS",
         "a comment on every live stream this often, for proxies and to find clients gone "
         "(default 15000)",
         CLI_UINT, &o.stream_heartbeat_ms, 0, 100, 3600000},
        {"test-fault-dir", "TIX_TEST_FAULT_DIR", "DIR",
         "FOR TESTS ONLY: inject storage faults "
         "while DIR/fail-fsync or DIR/fail-write exists",
         CLI_STRING, o.test_fault_dir, sizeof(o.test_fault_dir), 0, 0},
        SERVE_OPS_OPTIONS(o.ops),
    };
    cli_result r =
        cli_parse("serve", "Serve the tix HTTP API, on the embedded store or on PostgreSQL.",
                  options, sizeof(options) / sizeof(options[0]), argc, argv, 2);
    if (r != CLI_OK) return r == CLI_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (serve_ops_configure(&o.ops) != 0) return CLI_EXIT_USAGE;
    http_config http_cfg = {
        .threads = o.threads,
        .stream_threads = o.stream_threads ? o.stream_threads : o.threads,
        .body_len_max = o.max_body_bytes,
        .connections_max = o.max_connections,
        .streams_max = o.max_streams,
        .connections_per_ip_max = o.max_connections_per_ip,
        .timeout_s = o.idle_timeout_s,
        .connection_memory = HTTP_CONNECTION_MEMORY_DEFAULT,
        .request_timeout_s = o.request_timeout_s,
        .write_rate_per_s = o.write_rate_limit,
        .trust_proxy = o.trust_proxy != 0,
    };
    if (o.max_streams >= o.max_connections) {
        fprintf(stderr,
                "tix serve: --max-streams %u must be below --max-connections %u (streams would "
                "leave no connection for buying)\n",
                o.max_streams, o.max_connections);
        return CLI_EXIT_USAGE;
    }
    if (o.node_id[0] && !cli_node_id_valid(o.node_id)) {
        fprintf(stderr,
                "tix serve: --node-id '%s' must be 1 to %d letters, digits, '.', '_' or '-'\n",
                o.node_id, TIX_NODE_ID_LEN_MAX);
        return CLI_EXIT_USAGE;
    }
    if (http_listen_parse(o.listen, http_cfg.host, sizeof(http_cfg.host), &http_cfg.port) != 0) {
        fprintf(stderr, "tix serve: --listen '%s' is not HOST:PORT\n", o.listen);
        return CLI_EXIT_USAGE;
    }
    commit_config cc = commit_config_default();
    cc.batch_max = o.batch_max;
    cc.gather_us = o.batch_gather_us;
    cc.queue_max = o.queue_max;
    cc.sweep_interval_ms = o.sweep_interval_ms;
    cc.rules.checkout_timeout_s = o.checkout_timeout_s;
    cc.rules.max_attempts = o.max_attempts;
    cc.rules.lease_ms = o.lease_ms;
    cc.rules.user_seats_max = o.max_seats_per_user;
    cc.rules.feed_retain = o.feed_retain;
    if (o.payment_timeout_ms >= o.lease_ms)
        log_warn("--payment-timeout-ms should be below --lease-ms, or a slow charge is retried "
                 "while it is still running (it is idempotent, but wasteful)");
    return serve__run(&o, &http_cfg, &cc);
}
