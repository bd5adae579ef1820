/* loadtest: the run itself; see loadtest.h.
 *
 *   1. pre-flight: GET /events/{id} (size, max seats per hold) and the seats already sold
 *   2. the sale: one loop on one thread starts buyers while slots are free (and, for seat maps,
 *      while the memory budget allows), fires their timers, advances libcurl and prints the
 *      progress; it ends when every buyer is done, or after --duration (or Ctrl-C) once the
 *      buyers in flight finish, at most LOADTEST_DRAIN_MS_MAX later
 *   3. the invariant check over the API, the summary on stdout, the SVG report
 *
 * Back of the envelope: a buyer makes about 5 requests (seat map, hold, checkout, 1-3 polls);
 * at concurrency 64 against a local server that is a few thousand requests per second, which
 * one thread with curl's connection cache sustains easily. The heavy part is parsing seat maps
 * (about 110 bytes per available seat), which the seat-map budget keeps bounded in memory. */
#include "loadtest/loadtest.h"

#include "loadtest/check.h"
#include "loadtest/report.h"
#include "loadtest/responses.h"
#include "loadtest/session.h"
#include "loadtest/svg.h"
#include "util/ids.h"
#include "util/log.h"

#include <assert.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t loadtest__interrupts;

/* First Ctrl-C: stop starting buyers and finish as after --duration. Second: die. */
static void loadtest__on_sigint(int sig)
{
    if (loadtest__interrupts++ > 0) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* GET /events/{id}: the event's size and how many seats one hold may take. */
static int loadtest__preflight(loadtest_session *s)
{
    const loadtest_config *c = s->config;
    loadtest_transfer t;
    loadtest_transfer_init(&t, &s->client, NULL);
    int rc = loadtest_transfer_get_wait(&t, s->event_path, LOADTEST_RESPONSE_BYTES_MAX);
    cJSON *root = rc == 0 && t.status == 200 ? loadtest_response_parse(&t) : NULL;
    const cJSON *seats = cJSON_GetObjectItemCaseSensitive(root, "seats_total");
    const cJSON *per_hold = cJSON_GetObjectItemCaseSensitive(root, "max_seats_per_hold");
    int status = 0;
    if (rc != 0 || t.status == 0) {
        log_error("loadtest: cannot reach %s: %s", c->url, t.curl_error);
        status = -1;
    } else if (t.status == 404) {
        log_error("loadtest: event '%s' not found at %s", c->event_id, c->url);
        status = -1;
    } else if (!cJSON_IsNumber(seats) || !cJSON_IsNumber(per_hold) || seats->valuedouble < 0 ||
               per_hold->valuedouble < 1) {
        log_error("loadtest: GET %s%s: unexpected answer (HTTP %ld)", c->url, s->event_path,
                  t.status);
        status = -1;
    } else {
        s->event_seats = (uint64_t)seats->valuedouble;
        uint32_t max_per_hold = per_hold->valuedouble > TIX_HOLD_SEATS_MAX
                                    ? TIX_HOLD_SEATS_MAX
                                    : (uint32_t)per_hold->valuedouble;
        s->seats_per_buyer = c->seats_per_buyer;
        if (s->seats_per_buyer > max_per_hold) {
            log_warn("loadtest: --seats-per-buyer %u lowered to %u, the event's max_seats_per_hold",
                     c->seats_per_buyer, max_per_hold);
            s->seats_per_buyer = max_per_hold;
        }
    }
    loadtest_json_free(root);
    loadtest_transfer_release(&t);
    return status;
}

/* Allocate the buyer slots, the timers and the series once the event is known. */
static int loadtest__allocate(loadtest_session *s)
{
    uint32_t n = s->config->concurrency;
    s->candidates_max = s->seats_per_buyer * LOADTEST_HOLD_ATTEMPTS_MAX;
    assert(s->candidates_max >= 1 && s->candidates_max <= LOADTEST_CANDIDATES_MAX);
    s->buyers = calloc(n, sizeof(*s->buyers));
    s->free_slots = calloc(n, sizeof(*s->free_slots));
    s->stats.holds_per_s = calloc(LOADTEST_SERIES_SECONDS_MAX, sizeof(uint32_t));
    s->stats.confirmed_per_s = calloc(LOADTEST_SERIES_SECONDS_MAX, sizeof(uint32_t));
    if (!s->buyers || !s->free_slots || !s->stats.holds_per_s || !s->stats.confirmed_per_s ||
        loadtest_timers_init(&s->timers, n) != 0)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        loadtest_buyer *b = &s->buyers[i];
        b->session = s;
        b->slot = i;
        loadtest_transfer_init(&b->transfer, &s->client, b);
        b->candidates = calloc(s->candidates_max, TIX_SEAT_ID_LEN_MAX);
        b->chosen = calloc(TIX_HOLD_SEATS_MAX, TIX_SEAT_ID_LEN_MAX);
        if (!b->candidates || !b->chosen) return -1;
        s->free_slots[n - 1 - i] = i; /* slot 0 first */
    }
    s->free_count = n;
    uint64_t map_bytes = (s->event_seats + 1) * LOADTEST_SEAT_MAP_BYTES_PER_SEAT;
    uint64_t slots = LOADTEST_SEAT_MAP_BUDGET_BYTES / map_bytes;
    s->seat_map_slots = slots < 1 ? 1 : slots > n ? n : (uint32_t)slots;
    if (s->seat_map_slots < n)
        log_info("loadtest: at most %u buyers read their seat map at once (memory budget)",
                 s->seat_map_slots);
    for (loadtest_histogram *h = s->stats.latency; h < s->stats.latency + LOADTEST_STEPS; h++)
        loadtest_histogram_init(h);
    return 0;
}

static void loadtest__free(loadtest_session *s)
{
    for (uint32_t i = 0; s->buyers && i < s->config->concurrency; i++) {
        loadtest_transfer_release(&s->buyers[i].transfer);
        free(s->buyers[i].candidates);
        free(s->buyers[i].chosen);
    }
    free(s->buyers);
    free(s->free_slots);
    free(s->stats.holds_per_s);
    free(s->stats.confirmed_per_s);
    free(s->bookings);
    free(s->lost_checkouts);
    free(s->sold_before);
    loadtest_timers_free(&s->timers);
    loadtest_client_free(&s->client);
}

static void loadtest__progress(const loadtest_session *s, bool tty)
{
    const loadtest_stats *st = &s->stats;
    int64_t now_us = loadtest_now_us();
    double elapsed_s = (double)(now_us - st->start_us) / 1e6;
    uint32_t second = (uint32_t)((now_us - st->start_us) / 1000000);
    double holds_per_s = second >= 1 && second <= LOADTEST_SERIES_SECONDS_MAX
                             ? st->holds_per_s[second - 1]
                             : (elapsed_s > 0 ? (double)st->holds_created / elapsed_s : 0);
    fprintf(stderr,
            "%s[%7.1fs] buyers %llu/%u done, %u active  holds/s %.0f  confirmed %llu  "
            "errors %llu%s",
            tty ? "\r" : "", elapsed_s, (unsigned long long)st->buyers_done, s->config->buyers,
            s->active, holds_per_s, (unsigned long long)st->outcomes[LOADTEST_OUTCOME_CONFIRMED],
            (unsigned long long)st->errors, tty ? "\033[K" : "\n");
    fflush(stderr);
}

static void loadtest__abort_all(loadtest_session *s)
{
    for (uint32_t i = 0; i < s->config->concurrency; i++)
        if (s->buyers[i].active) loadtest_buyer_abort(&s->buyers[i]);
    s->timers.count = 0;
    s->drained_by_force = true;
}

/* How long the loop may sleep: until the next timer or progress line, at most 100 ms. */
static int loadtest__wait_ms(const loadtest_session *s, int64_t now_us, int64_t progress_us)
{
    int64_t until_us = loadtest_timers_next_us(&s->timers);
    if (progress_us < until_us) until_us = progress_us;
    int64_t wait_ms = (until_us - now_us + 999) / 1000;
    return wait_ms < 0 ? 0 : wait_ms > 100 ? 100 : (int)wait_ms;
}

/* The sale. Returns 0, or -1 if the client itself failed. */
static int loadtest__drive(loadtest_session *s)
{
    const loadtest_config *c = s->config;
    bool tty = isatty(STDERR_FILENO);
    int64_t progress_every_us = tty ? 250000 : 1000000;
    int64_t start_us = s->stats.start_us = loadtest_now_us();
    int64_t stop_us = c->duration_s ? start_us + (int64_t)c->duration_s * 1000000 : INT64_MAX;
    int64_t drain_until_us = INT64_MAX, progress_us = start_us + progress_every_us;
    uint64_t next_buyer = 0;
    int rc = 0;
    for (;;) { /* ends: every buyer is done, or the drain deadline passes */
        int64_t now_us = loadtest_now_us();
        if (drain_until_us == INT64_MAX && (loadtest__interrupts || now_us >= stop_us)) {
            drain_until_us = now_us + (int64_t)LOADTEST_DRAIN_MS_MAX * 1000;
            s->interrupted = loadtest__interrupts > 0;
        }
        bool starting = drain_until_us == INT64_MAX;
        while (starting && next_buyer < c->buyers && s->free_count > 0 &&
               s->seat_map_active < s->seat_map_slots)
            loadtest_buyer_start(s, next_buyer++);
        for (uint32_t i = 0, due = s->timers.count; i < due; i++) {
            loadtest_buyer *b = loadtest_timers_pop_due(&s->timers, now_us);
            if (!b) break;
            loadtest_buyer_wake(b);
        }
        if (now_us >= progress_us) {
            loadtest__progress(s, tty);
            progress_us = now_us + progress_every_us;
        }
        if (s->active == 0 && (!starting || next_buyer == c->buyers)) break;
        if (now_us >= drain_until_us) {
            log_warn("loadtest: %u buyers still in flight %d s after the stop; aborting them",
                     s->active, LOADTEST_DRAIN_MS_MAX / 1000);
            loadtest__abort_all(s);
            break;
        }
        if (loadtest_client_step(&s->client, loadtest__wait_ms(s, now_us, progress_us)) != 0) {
            loadtest__abort_all(s);
            rc = -1;
            break;
        }
    }
    s->stats.end_us = loadtest_now_us();
    loadtest__progress(s, tty);
    if (tty) fputc('\n', stderr);
    return rc;
}

/* Each transfer needs a socket: raise the soft limit on open files to fit the concurrency. */
static void loadtest__raise_file_limit(unsigned concurrency)
{
    struct rlimit limit;
    rlim_t want = (rlim_t)concurrency + 64;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= want) return;
    limit.rlim_cur = limit.rlim_max < want ? limit.rlim_max : want;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < want)
        log_warn("loadtest: open files limited to %llu: --concurrency %u may fail to connect",
                 (unsigned long long)limit.rlim_cur, concurrency);
}

/* CPU time of this process so far (user + system), in microseconds. */
static int64_t loadtest__cpu_us(void)
{
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return (int64_t)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 +
           usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

/* A run id unique enough that user ids and idempotency keys never meet an earlier run's. */
static int loadtest__run_id(loadtest_session *s)
{
    char hex[IDS_HEX_LEN + 1];
    if (ids_init() != 0) return log_error("loadtest: cannot initialise libsodium"), -1;
    ids_random_hex(hex);
    memcpy(s->run_id, hex, LOADTEST_RUN_ID_LEN);
    s->run_id[LOADTEST_RUN_ID_LEN] = '\0';
    return 0;
}

static int loadtest__session(loadtest_session *s)
{
    const loadtest_config *c = s->config;
    snprintf(s->event_path, sizeof(s->event_path), "/events/%s", c->event_id);
    if (loadtest__run_id(s) != 0) return -1;
    loadtest__raise_file_limit(c->concurrency);
    if (loadtest_client_init(&s->client, c->url, c->concurrency) != 0) return -1;
    if (loadtest__preflight(s) != 0 || loadtest_check_before(s) != 0) return -1;
    if (loadtest__allocate(s) != 0) return log_error("loadtest: out of memory"), -1;
    return 0;
}

int loadtest_run(const loadtest_config *config)
{
    assert(config->buyers >= 1 && config->buyers <= LOADTEST_BUYERS_MAX);
    assert(config->concurrency >= 1 && config->concurrency <= LOADTEST_CONCURRENCY_MAX);
    CURLcode crc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (crc != CURLE_OK) return log_error("loadtest: curl: %s", curl_easy_strerror(crc)), 1;
    loadtest_session *s = calloc(1, sizeof(*s));
    if (!s) {
        curl_global_cleanup();
        return log_error("loadtest: out of memory"), 1;
    }
    s->config = config;
    loadtest_json_arena_install();
    int status = 1;
    if (loadtest__session(s) == 0) {
        struct sigaction on_int = {.sa_handler = loadtest__on_sigint}, old_int;
        sigemptyset(&on_int.sa_mask);
        loadtest__interrupts = 0;
        sigaction(SIGINT, &on_int, &old_int);
        int64_t cpu_us = loadtest__cpu_us();
        int drive_rc = loadtest__drive(s);
        s->stats.cpu_us = loadtest__cpu_us() - cpu_us;
        sigaction(SIGINT, &old_int, NULL);
        loadtest_check_result *check = calloc(1, sizeof(*check));
        int check_rc = check ? loadtest_check_run(s, check) : -1;
        if (check)
            loadtest_report_print(stdout, s, check);
        else
            log_error("loadtest: out of memory for the check");
        fflush(stdout);
        int svg_rc = config->report_path[0] ? loadtest_svg_write(config->report_path, s) : 0;
        bool completed = drive_rc == 0 && !s->interrupted && !s->drained_by_force;
        status = completed && check_rc == 0 && svg_rc == 0 ? 0 : 1;
        free(check);
    }
    loadtest__free(s);
    free(s);
    loadtest_json_arena_remove();
    curl_global_cleanup();
    return status;
}
