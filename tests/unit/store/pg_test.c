/* store_pg: what the PostgreSQL store promises beyond the contract every backend meets (the
 * conformance suite runs on it too): nodes starting together migrate once; outbox payloads are
 * json_out's byte for byte; PostgreSQL's errors become typed outcomes; a connection lost in the
 * middle of a batch keeps nothing and is made again at once; the watch tells of other nodes'
 * commits and of a listener that reconnected; the feed stays dense under writers racing on the
 * same seats; a batch of a thousand commands is one transaction; an idempotency key held by one
 * node's open transaction is answered by the other once it commits; a commit whose answer was
 * lost with the connection is asked about, and stands. Checked through store.h and
 * with plain SQL on the database. */
#include "../test.h"

#include "../fixtures.h"
#include "core/json_out.h"
#include "pg_fixture.h"
#include "util/ids.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { PGT_URL_MAX = 1024 };

static const int64_t pgt_t0_ms = 1800000000000; /* 2027-01-15: the tests' clock */

static const store_rules pgt_rules = {.user_seats_max = 0,
                                      .checkout_timeout_s = 900,
                                      .max_attempts = 3,
                                      .lease_ms = 30000,
                                      .idempotency_ttl_s = 86400,
                                      .feed_retain = 1000000};

/* What a test allocates, freed when it ends (one deferred cleanup for all of it). */
enum { PGT_KEPT_MAX = 2048 };
static struct {
    void (*fn)(void *arg);
    void *arg;
} pgt__kept[PGT_KEPT_MAX];
static unsigned pgt__kept_count;

static void pgt__free_kept(void *arg)
{
    (void)arg;
    while (pgt__kept_count > 0) {
        pgt__kept_count--;
        pgt__kept[pgt__kept_count].fn(pgt__kept[pgt__kept_count].arg);
    }
}

static void pgt_keep(void (*fn)(void *arg), void *arg)
{
    if (pgt__kept_count == 0) test_defer(pgt__free_kept, NULL);
    if (pgt__kept_count == PGT_KEPT_MAX) {
        fprintf(stderr, "pg_test: more than %d allocations in one test\n", PGT_KEPT_MAX);
        abort();
    }
    pgt__kept[pgt__kept_count].fn = fn;
    pgt__kept[pgt__kept_count].arg = arg;
    pgt__kept_count++;
}

/* A batch of its own per thread and handle. */
typedef struct pgt_batch {
    store_batch b;
} pgt_batch;

static void pgt__batch_free(void *arg)
{
    pgt_batch *pb = arg;
    change_page_free(&pb->b.changes);
    free(pb);
}

static pgt_batch *pgt_batch_new(void)
{
    pgt_batch *pb = calloc(1, sizeof(*pb));
    change_page_init(&pb->b.changes);
    pb->b.rules = &pgt_rules;
    pb->b.node_id = "node-a";
    pgt_keep(pgt__batch_free, pb);
    return pb;
}

static store_status pgt_run(store *st, pgt_batch *pb, int64_t now_ms, store_cmd **cmds, uint32_t n)
{
    pb->b.now_ms = now_ms;
    pb->b.cmds = cmds;
    pb->b.count = n;
    return store_batch_run(st, &pb->b);
}

static store_cmd *pgt_cmd(store_cmd_kind kind)
{
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    pgt_keep(free, cmd);
    store_cmd_init(cmd, kind);
    return cmd;
}

/* Event id: section Floor (5000 cents) of `rows` rows A, B, ... of seats_per_row seats. */
static store_cmd *pgt_event_cmd(const char *id, uint32_t rows, uint32_t seats_per_row)
{
    store_cmd *cmd = pgt_cmd(STORE_CMD_EVENT_CREATE);
    event_spec *spec = &cmd->u.event_create.spec;
    fx_spec_init(spec, id, 600, TIX_HOLD_SEATS_MAX);
    fx_spec_add_rows(spec, "Floor", 5000, seats_per_row, 0, rows);
    pgt_keep((void (*)(void *))model_event_spec_free, spec);
    return cmd;
}

/* A hold of the seats "A1,B2" for user in event. */
static store_cmd *pgt_hold_cmd(const char *event_id, const char *user, const char *seats)
{
    store_cmd *cmd = pgt_cmd(STORE_CMD_HOLD);
    hold_record *h = &cmd->u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", event_id);
    snprintf(h->user_id, sizeof(h->user_id), "%s", user);
    char list[512];
    snprintf(list, sizeof(list), "%s", seats);
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save))
        snprintf(h->seat_ids[h->seat_count++], TIX_SEAT_ID_LEN_MAX, "%s", p);
    return cmd;
}

/* Run one command alone on st; the batch must commit. */
static void pgt_run1(store *st, store_cmd *cmd, int64_t now_ms)
{
    pgt_batch *pb = pgt_batch_new();
    store_status status = pgt_run(st, pb, now_ms, &cmd, 1);
    if (status != STORE_OK)
        test_fail(__FILE__, __LINE__, "a batch of one command of kind %d: %s", cmd->kind,
                  store_status_name(status));
}

/* The feed's head as a reader sees it. */
static int64_t pgt_head(store *st)
{
    change_page page;
    change_page_init(&page);
    store_feed_bounds bounds = {0, -1};
    if (store_changes_read(st, 0, 1, NULL, 0, &page, &bounds, NULL, NULL) != 0)
        test_fail(__FILE__, __LINE__, "the feed cannot be read");
    change_page_free(&page);
    return bounds.head_seq;
}

/* A fresh database and a first handle on it. */
static store *pgt_fresh(char *url)
{
    if (pgfx_fresh(url, PGT_URL_MAX) != 0) return NULL;
    return pgfx_open(url, 2, 0);
}

/* The start of most tests: nothing to do without a cluster; else a fresh database (its URL in
 * url) and a handle st on it. */
#define PGT_BEGIN(st, url)                                                                         \
    if (!pgfx_cluster()) return;                                                                   \
    char url[PGT_URL_MAX];                                                                         \
    store *st = pgt_fresh(url);                                                                    \
    ASSERT_NOT_NULL(st)

/* ---- migrations ---- */

typedef struct pgt_opener {
    const char *url;
    store *st;
    char err[512];
} pgt_opener;

static void *pgt__open(void *arg)
{
    pgt_opener *o = arg;
    store_options so = {.url = o->url, .readers = 1};
    if (store_open(&so, &o->st, o->err, sizeof(o->err)) != 0) o->st = NULL;
    return NULL;
}

TEST(pg_nodes_starting_together_migrate_the_schema_once)
{
    if (!pgfx_cluster()) return;
    char url[PGT_URL_MAX];
    ASSERT_EQ_INT(pgfx_fresh(url, sizeof(url)), 0);
    pgt_opener o[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        o[i] = (pgt_opener){.url = url};
        ASSERT_EQ_INT(pthread_create(&threads[i], NULL, pgt__open, &o[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    bool all_open = true;
    for (int i = 0; i < 4; i++) {
        if (!o[i].st) test_fail(__FILE__, __LINE__, "node %d: %s", i, o[i].err);
        all_open &= o[i].st != NULL;
    }
    bool same_id = all_open;
    for (int i = 1; all_open && i < 4; i++)
        same_id &= strcmp(store_id(o[i].st), store_id(o[0].st)) == 0;
    for (int i = 0; i < 4; i++)
        store_close(o[i].st);
    ASSERT_TRUE(all_open);
    ASSERT_TRUE(same_id);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM tix_schema"), 1);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT version FROM tix_schema"), 4);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM meta WHERE key = 'store_id'"), 1);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM feed_head"), 1);
}

TEST(pg_a_database_newer_than_this_tix_is_refused)
{
    if (!pgfx_cluster()) return;
    char url[PGT_URL_MAX];
    ASSERT_NOT_NULL(pgt_fresh(url));
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ_INT(pgfx_exec(c, "UPDATE tix_schema SET version = 99"), 0);
    store_options so = {.url = url, .readers = 1};
    store *st = NULL;
    char err[512] = "";
    ASSERT_EQ_INT(store_open(&so, &st, err, sizeof(err)), -1);
    ASSERT_CONTAINS(err, "newer than this tix");
}

/* ---- outbox payloads ---- */

typedef struct pgt_payload {
    char type[TIX_EVENT_TYPE_LEN_MAX + 1];
    char aggregate[TIX_EVENT_ID_LEN_MAX + 1];
    char data[TIX_OUTBOX_DATA_LEN_MAX];
} pgt_payload;

/* Claim and acknowledge every delivery of subscriber `sub`, in order, into out. */
static uint32_t pgt_drain(store *st, const char *sub, int64_t now_ms, pgt_payload *out,
                          uint32_t cap)
{
    uint32_t n = 0;
    delivery_record *claimed = calloc(16, sizeof(*claimed));
    for (int round = 0; round < 32; round++) {
        store_cmd *claim = pgt_cmd(STORE_CMD_CLAIM);
        claim->u.claim.max = 16;
        claim->u.claim.out = claimed;
        pgt_run1(st, claim, now_ms);
        if (claim->u.claim.count == 0) break;
        for (uint32_t i = 0; i < claim->u.claim.count; i++) {
            store_cmd *done = pgt_cmd(STORE_CMD_DELIVERY);
            done->u.delivery.seq = claimed[i].seq;
            done->u.delivery.outcome = STORE_DELIVERED;
            pgt_run1(st, done, now_ms);
            if (strcmp(claimed[i].subscriber_id, sub) != 0 || n == cap) continue;
            snprintf(out[n].type, sizeof(out[n].type), "%s", claimed[i].event.type);
            snprintf(out[n].aggregate, sizeof(out[n].aggregate), "%s",
                     claimed[i].event.aggregate_id);
            memcpy(out[n].data, claimed[i].event.data, sizeof(out[n].data));
            n++;
        }
    }
    free(claimed);
    return n;
}

static const char *pgt_payload_of(const pgt_payload *p, uint32_t n, const char *type,
                                  const char *aggregate)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(p[i].type, type) == 0 && strcmp(p[i].aggregate, aggregate) == 0)
            return p[i].data;
    return NULL;
}

TEST(pg_outbox_payloads_are_json_out_byte_for_byte)
{
    PGT_BEGIN(st, url);
    int64_t now = pgt_t0_ms;
    pgt_run1(st, pgt_event_cmd("e1", 2, 4), now);
    store_cmd *sub = pgt_cmd(STORE_CMD_SUBSCRIBER_ADD);
    subscriber_record *s = &sub->u.subscriber_add.sub;
    snprintf(s->id, sizeof(s->id), "everything");
    s->kind = SUBSCRIBER_WEBHOOK;
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:9/");
    snprintf(s->patterns[s->pattern_count++], TIX_PATTERN_LEN_MAX + 1, "*");
    pgt_run1(st, sub, ++now);
    /* every byte JSON escapes: quote, backslash, controls, DEL; and UTF-8 */
    const char *user = "u \"q\" \\ \n\t\x01\x1f\x7f caf\xc3\xa9";
    store_cmd *hold = pgt_hold_cmd("e1", user, "A1,B2");
    pgt_run1(st, hold, ++now);
    ASSERT_EQ_INT(hold->rc, TIX_RC_OK);
    store_cmd *co = pgt_cmd(STORE_CMD_CHECKOUT);
    snprintf(co->u.checkout.hold_id, sizeof(co->u.checkout.hold_id), "%s", hold->u.hold.hold.id);
    snprintf(co->u.checkout.booking.payment_token, TIX_PAYMENT_TOKEN_LEN_MAX, "tok_\"visa\"");
    snprintf(co->u.checkout.booking.email, TIX_EMAIL_LEN_MAX, "a\\\"b@example.com");
    pgt_run1(st, co, ++now);
    ASSERT_EQ_INT(co->rc, TIX_RC_OK);
    store_cmd *paid = pgt_cmd(STORE_CMD_PAYMENT);
    snprintf(paid->u.payment.booking_id, sizeof(paid->u.payment.booking_id), "%s",
             co->u.checkout.booking.id);
    paid->u.payment.ok = true;
    snprintf(paid->u.payment.payment_id, sizeof(paid->u.payment.payment_id), "ch_\\1\x7f");
    pgt_run1(st, paid, ++now);
    store_cmd *other = pgt_hold_cmd("e1", "plain", "A3");
    pgt_run1(st, other, ++now);
    store_cmd *rel = pgt_cmd(STORE_CMD_RELEASE);
    snprintf(rel->u.release.hold.id, sizeof(rel->u.release.hold.id), "%s", other->u.hold.hold.id);
    pgt_run1(st, rel, ++now);
    ASSERT_EQ_INT(rel->rc, TIX_RC_OK);

    pgt_payload *got = calloc(16, sizeof(*got));
    test_defer(free, got);
    uint32_t n = pgt_drain(st, "everything", ++now, got, 16);
    ASSERT_EQ_INT(n, 6); /* HoldCreated x2, CheckoutStarted, PaymentSucceeded,
                            BookingConfirmed, HoldReleased (the event came before the webhook) */
    buf want;
    buf_init(&want, 1 << 16);
    test_defer((void (*)(void *))buf_free, &want);
    json_out_hold(&want, &hold->u.hold.hold, pgt_t0_ms + 2, true);
    ASSERT_EQ_STR(pgt_payload_of(got, n, "HoldCreated", hold->u.hold.hold.id), want.data);
    buf_reset(&want);
    json_out_booking(&want, &co->u.checkout.booking, true);
    ASSERT_EQ_STR(pgt_payload_of(got, n, "CheckoutStarted", co->u.checkout.booking.id), want.data);
    booking_record b;
    bool found = false;
    ASSERT_EQ_INT(store_booking_get(st, co->u.checkout.booking.id, &b, &found, NULL), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(b.status, BOOKING_CONFIRMED);
    buf_reset(&want);
    json_out_booking(&want, &b, true);
    ASSERT_EQ_STR(pgt_payload_of(got, n, "PaymentSucceeded", b.id), want.data);
    ASSERT_EQ_STR(pgt_payload_of(got, n, "BookingConfirmed", b.id), want.data);
    buf_reset(&want);
    json_out_hold(&want, &rel->u.release.hold, pgt_t0_ms + 6, true);
    ASSERT_EQ_STR(pgt_payload_of(got, n, "HoldReleased", other->u.hold.hold.id), want.data);
}

/* ---- typed outcomes ---- */

TEST(pg_errors_become_typed_outcomes_and_keep_nothing)
{
    PGT_BEGIN(st, url);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    pgt_run1(st, pgt_event_cmd("e1", 2, 4), pgt_t0_ms);
    static const struct {
        const char *sqlstate, *what;
        store_status want;
    } cases[] = {
        {"40001", "serialization_failure", STORE_RETRY},
        {"40P01", "deadlock_detected", STORE_RETRY},
        {"55P03", "lock_not_available", STORE_RETRY},
        {"53100", "disk_full", STORE_UNAVAILABLE},
        {"53300", "too_many_connections", STORE_UNAVAILABLE},
        {"25006", "read_only_sql_transaction", STORE_UNAVAILABLE},
        {"57P01", "admin_shutdown", STORE_UNAVAILABLE},
        {"58030", "io_error", STORE_UNAVAILABLE},
        {"23505", "unique_violation", STORE_FATAL},
        {"22P02", "invalid_text_representation", STORE_FATAL},
        {"XX001", "data_corrupted", STORE_FATAL},
    };
    int64_t head = pgt_head(st);
    pgt_batch *pb = pgt_batch_new();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_EQ_INT(pgfx_exec(c,
                                "CREATE OR REPLACE FUNCTION tix_test_fail() RETURNS trigger"
                                " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected %s'"
                                " USING ERRCODE = '%s'; END $$;"
                                " CREATE OR REPLACE TRIGGER tix_test_fail BEFORE INSERT ON holds"
                                " FOR EACH ROW EXECUTE FUNCTION tix_test_fail()",
                                cases[i].what, cases[i].sqlstate),
                      0);
        store_cmd *h = pgt_hold_cmd("e1", "u", "A1");
        store_status status = pgt_run(st, pb, pgt_t0_ms + 1, &h, 1);
        if (status != cases[i].want)
            test_fail(__FILE__, __LINE__, "%s (%s): %s, expected %s", cases[i].what,
                      cases[i].sqlstate, store_status_name(status),
                      store_status_name(cases[i].want));
        ASSERT_EQ_INT(pb->b.changes.count, 0);
        ASSERT_EQ_INT(pgt_head(st), head);
    }
    ASSERT_EQ_INT(pgfx_exec(c, "DROP TRIGGER tix_test_fail ON holds"), 0);
    store_cmd *h = pgt_hold_cmd("e1", "u", "A1");
    ASSERT_EQ_INT(pgt_run(st, pb, pgt_t0_ms + 2, &h, 1), STORE_OK); /* connected again at once */
    ASSERT_EQ_INT(h->rc, TIX_RC_OK);
    ASSERT_EQ_INT(pgt_head(st), head + 1);
}

/* ---- lost connections ---- */

typedef struct pgt_async {
    store *st;
    pgt_batch *pb;
    store_cmd **cmds;
    uint32_t n;
    int64_t now_ms;
    store_status status;
} pgt_async;

static void *pgt__run_async(void *arg)
{
    pgt_async *a = arg;
    a->status = pgt_run(a->st, a->pb, a->now_ms, a->cmds, a->n);
    return NULL;
}

TEST(pg_a_connection_lost_mid_batch_keeps_nothing_and_the_next_batch_reconnects)
{
    if (!pgfx_cluster()) return;
    char url[PGT_URL_MAX];
    if (pgfx_fresh(url, sizeof(url)) != 0) return;
    store *st = pgfx_open(url, 2, 60000); /* it would wait a minute for the lock */
    ASSERT_NOT_NULL(st);
    PGconn *c = pgfx_connect(url), *locker = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(locker);
    pgt_run1(st, pgt_event_cmd("e1", 2, 4), pgt_t0_ms);
    int64_t head = pgt_head(st);
    ASSERT_EQ_INT(pgfx_exec(locker, "BEGIN; LOCK TABLE holds IN ACCESS EXCLUSIVE MODE"), 0);
    store_cmd *cmds[] = {pgt_hold_cmd("e1", "u", "A1"), pgt_hold_cmd("e1", "v", "A2")};
    pgt_async a = {.st = st, .pb = pgt_batch_new(), .cmds = cmds, .n = 2, .now_ms = pgt_t0_ms};
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, pgt__run_async, &a), 0);
    int pid = pgfx_wait_backend(c, "tix-writer", "wait_event_type = 'Lock'", 10000);
    if (pid > 0) pgfx_exec(c, "SELECT pg_terminate_backend(%d)", pid);
    pthread_join(t, NULL);
    pgfx_exec(locker, "ROLLBACK");
    ASSERT_GT(pid, 0);
    ASSERT_EQ_INT(a.status, STORE_UNAVAILABLE);
    ASSERT_EQ_INT(a.pb->b.changes.count, 0);
    ASSERT_EQ_INT(pgt_head(st), head);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM holds"), 0);
    /* the same batch, again: a new connection at once */
    ASSERT_EQ_INT(pgt_run(st, a.pb, pgt_t0_ms + 1, cmds, 2), STORE_OK);
    ASSERT_EQ_INT(cmds[0]->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cmds[1]->rc, TIX_RC_OK);
    ASSERT_EQ_INT(pgt_head(st), head + 2);
    /* every connection of the store lost while idle: the next batch and reads go on */
    ASSERT_EQ_INT(
        pgfx_exec(c, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = current_database() AND application_name LIKE 'tix-%%'"),
        0);
    usleep(100000);
    hold_record h;
    bool found = false;
    store_status status = STORE_OK;
    ASSERT_EQ_INT(store_hold_get(st, cmds[0]->u.hold.hold.id, &h, &found, &status), 0);
    ASSERT_TRUE(found);
    store_cmd *again = pgt_hold_cmd("e1", "w", "B1");
    pgt_run1(st, again, pgt_t0_ms + 2);
    ASSERT_EQ_INT(again->rc, TIX_RC_OK);
}

/* ---- the watch ---- */

static void pgt__count(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

/* Wait until *counter > than, at most timeout_ms. */
static bool pgt_wait_count(atomic_int *counter, int than, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        if (atomic_load(counter) > than) return true;
        usleep(5000);
    }
    return atomic_load(counter) > than;
}

TEST(pg_the_watch_tells_of_other_nodes_commits_and_of_a_listener_that_reconnected)
{
    PGT_BEGIN(a, url);
    store *b = pgfx_open(url, 1, 0);
    ASSERT_NOT_NULL(b);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    static atomic_int told;
    atomic_store(&told, 0);
    ASSERT_EQ_INT(store_watch(a, pgt__count, &told), 0);
    ASSERT_GT(pgfx_wait_backend(c, "tix-listener", "true", 5000), 0);
    pgt_run1(b, pgt_event_cmd("e1", 2, 4), pgt_t0_ms);
    ASSERT_TRUE(pgt_wait_count(&told, 0, 5000));
    int before = atomic_load(&told);
    pgt_run1(b, pgt_hold_cmd("e1", "u", "A1"), pgt_t0_ms + 1);
    ASSERT_TRUE(pgt_wait_count(&told, before, 5000));
    /* the listener's connection lost: once it is back, it says so (what was sent meanwhile
     * is lost) */
    before = atomic_load(&told);
    ASSERT_EQ_INT(pgfx_exec(c,
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                            " datname = current_database() AND application_name = 'tix-listener'"),
                  0);
    ASSERT_TRUE(pgt_wait_count(&told, before, 5000));
    ASSERT_GT(pgfx_wait_backend(c, "tix-listener", "true", 5000), 0);
    /* stopped: never called again */
    ASSERT_EQ_INT(store_watch(a, NULL, NULL), 0);
    before = atomic_load(&told);
    pgt_run1(b, pgt_hold_cmd("e1", "u", "A2"), pgt_t0_ms + 2);
    usleep(300000);
    ASSERT_EQ_INT(atomic_load(&told), before);
}

/* ---- the feed under racing writers ---- */

enum { PGT_RACERS = 3, PGT_RACE_BATCHES = 40, PGT_RACE_CMDS = 4, PGT_RACE_SEATS = 12 };

typedef struct pgt_racer {
    const char *url;
    int index;
    store *st;
    int64_t before[PGT_RACE_BATCHES]; /* feed_before of each batch */
    uint32_t count[PGT_RACE_BATCHES]; /* its changes */
    int64_t first[PGT_RACE_BATCHES];  /* the seq of its first change */
    unsigned retries;
    bool failed;
} pgt_racer;

static void *pgt__race(void *arg)
{
    pgt_racer *r = arg;
    store_batch b = {.rules = &pgt_rules, .node_id = "racer"};
    change_page_init(&b.changes);
    store_cmd *cmds = calloc(PGT_RACE_CMDS, sizeof(*cmds));
    store_cmd *ptrs[PGT_RACE_CMDS];
    char live[PGT_RACE_CMDS][TIX_HOLD_ID_LEN + 1] = {{0}};
    unsigned seed = (unsigned)r->index * 7919u + 1;
    for (int i = 0; i < PGT_RACE_BATCHES && !r->failed; i++) {
        for (int k = 0; k < PGT_RACE_CMDS; k++) {
            store_cmd *cmd = &cmds[k];
            ptrs[k] = cmd;
            if (live[k][0] && rand_r(&seed) % 2) { /* let one of ours go */
                store_cmd_init(cmd, STORE_CMD_RELEASE);
                memset(&cmd->u.release, 0, sizeof(cmd->u.release));
                memcpy(cmd->u.release.hold.id, live[k], sizeof(live[k]));
                continue;
            }
            store_cmd_init(cmd, STORE_CMD_HOLD);
            hold_record *h = &cmd->u.hold.hold;
            memset(h, 0, sizeof(*h));
            snprintf(h->event_id, sizeof(h->event_id), "race");
            snprintf(h->user_id, sizeof(h->user_id), "racer%d", r->index);
            h->seat_count = 1 + rand_r(&seed) % 3;
            for (uint32_t s = 0; s < h->seat_count; s++)
                snprintf(h->seat_ids[s], TIX_SEAT_ID_LEN_MAX, "A%u",
                         1 + (rand_r(&seed) % PGT_RACE_SEATS));
        }
        store_status status = STORE_RETRY;
        for (int run = 0; run < 20 && status == STORE_RETRY; run++) {
            b.now_ms = pgt_t0_ms + i;
            b.cmds = ptrs;
            b.count = PGT_RACE_CMDS;
            status = store_batch_run(r->st, &b);
            r->retries += status == STORE_RETRY;
        }
        if (status != STORE_OK) {
            test_fail(__FILE__, __LINE__, "racer %d batch %d: %s", r->index, i,
                      store_status_name(status));
            r->failed = true;
            break;
        }
        r->before[i] = b.feed_before;
        r->count[i] = b.changes.count;
        r->first[i] = b.changes.count ? b.changes.items[0].seq : 0;
        for (uint32_t k = 0; k < b.changes.count; k++)
            if (b.changes.items[k].seq != b.feed_before + 1 + k) {
                test_fail(__FILE__, __LINE__,
                          "racer %d batch %d: change %u has seq %lld after"
                          " %lld",
                          r->index, i, k, (long long)b.changes.items[k].seq,
                          (long long)b.feed_before);
                r->failed = true;
            }
        for (int k = 0; k < PGT_RACE_CMDS; k++) {
            store_cmd *cmd = &cmds[k];
            if (cmd->kind == STORE_CMD_RELEASE && cmd->rc == TIX_RC_OK) live[k][0] = '\0';
            if (cmd->kind == STORE_CMD_HOLD && cmd->rc == TIX_RC_OK)
                memcpy(live[k], cmd->u.hold.hold.id, sizeof(live[k]));
        }
    }
    change_page_free(&b.changes);
    free(cmds);
    return NULL;
}

TEST(pg_the_feed_is_dense_and_in_commit_order_with_writers_racing_on_the_same_seats)
{
    PGT_BEGIN(st, url);
    pgt_run1(st, pgt_event_cmd("race", 1, PGT_RACE_SEATS), pgt_t0_ms - 1);
    int64_t start = pgt_head(st);
    pgt_racer *racers = calloc(PGT_RACERS, sizeof(*racers));
    test_defer(free, racers);
    pthread_t threads[PGT_RACERS];
    for (int i = 0; i < PGT_RACERS; i++) {
        racers[i] = (pgt_racer){.url = url, .index = i, .st = pgfx_open(url, 1, 0)};
        ASSERT_NOT_NULL(racers[i].st);
    }
    for (int i = 0; i < PGT_RACERS; i++)
        ASSERT_EQ_INT(pthread_create(&threads[i], NULL, pgt__race, &racers[i]), 0);
    for (int i = 0; i < PGT_RACERS; i++)
        pthread_join(threads[i], NULL);
    if (test_failed()) return;
    /* the batches' changes tile the feed from start: no gap, no overlap */
    int64_t head = pgt_head(st), total = 0;
    uint8_t *owner = calloc((size_t)(head - start + 1), 1);
    test_defer(free, owner);
    for (int i = 0; i < PGT_RACERS; i++)
        for (int k = 0; k < PGT_RACE_BATCHES; k++) {
            total += racers[i].count[k];
            for (uint32_t c = 0; c < racers[i].count[k]; c++) {
                int64_t seq = racers[i].first[k] + c;
                ASSERT_TRUE(seq > start && seq <= head);
                ASSERT_EQ_INT(owner[seq - start], 0);
                owner[seq - start] = 1;
            }
        }
    ASSERT_EQ_INT(total, head - start);
    /* and read back, the feed has exactly those seqs, in order */
    change_page page;
    change_page_init(&page);
    store_feed_bounds bounds;
    int rc = store_changes_read(st, start, (uint32_t)(head - start), NULL, 0, &page, &bounds, NULL,
                                NULL);
    uint32_t got = page.count;
    bool dense = true;
    for (uint32_t k = 0; k < page.count; k++)
        dense &= page.items[k].seq == start + 1 + k;
    change_page_free(&page);
    ASSERT_EQ_INT(rc, 0);
    ASSERT_EQ_INT(got, head - start);
    ASSERT_TRUE(dense);
    unsigned retries = 0;
    for (int i = 0; i < PGT_RACERS; i++)
        retries += racers[i].retries;
    test_note("%lld changes from %d racers, %u batches run again (deadlocks)", (long long)total,
              PGT_RACERS, retries);
}

/* ---- a big batch ---- */

TEST(pg_a_batch_of_a_thousand_commands_is_one_transaction)
{
    PGT_BEGIN(st, url);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    pgt_run1(st, pgt_event_cmd("big", 20, 50), pgt_t0_ms); /* 1,000 seats, rows A..T */
    enum { N = 1000 };
    store_cmd **cmds = calloc(N + 1, sizeof(*cmds));
    test_defer(free, cmds);
    for (int i = 0; i < N; i++) {
        char seat[TIX_SEAT_ID_LEN_MAX + 8], row[TIX_ROW_LABEL_LEN_MAX + 1];
        fx_row_label((uint32_t)(i / 50), row);
        snprintf(seat, sizeof(seat), "%s%d", row, 1 + i % 50);
        cmds[i] = pgt_hold_cmd("big", i == 500 ? "poison" : "u", seat);
    }
    int64_t head = pgt_head(st);
    /* one command the database refuses with an error: the whole batch is rolled back */
    ASSERT_EQ_INT(pgfx_exec(c,
                            "CREATE FUNCTION tix_test_poison() RETURNS trigger LANGUAGE plpgsql"
                            " AS $$ BEGIN RAISE EXCEPTION 'poison' USING ERRCODE = '23514'; END $$;"
                            " CREATE TRIGGER tix_test_poison BEFORE INSERT ON holds FOR EACH ROW"
                            " WHEN (NEW.user_id = 'poison') EXECUTE FUNCTION tix_test_poison()"),
                  0);
    pgt_batch *pb = pgt_batch_new();
    ASSERT_EQ_INT(pgt_run(st, pb, pgt_t0_ms + 1, cmds, N), STORE_FATAL);
    ASSERT_EQ_INT(pgt_head(st), head);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM holds"), 0);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM seats WHERE status <> 'available'"), 0);
    /* without it: every hold, and one more that conflicts, in one transaction */
    snprintf(cmds[500]->u.hold.hold.user_id, TIX_USER_ID_LEN_MAX, "u");
    cmds[N] = pgt_hold_cmd("big", "late", "A1");
    ASSERT_EQ_INT(pgt_run(st, pb, pgt_t0_ms + 2, cmds, N + 1), STORE_OK);
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(cmds[i]->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cmds[N]->rc, TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(pb->b.changes.count, N);
    ASSERT_EQ_INT(pb->b.feed_before, head);
    ASSERT_EQ_INT(pgt_head(st), head + N);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM seats WHERE status = 'held'"), N);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(DISTINCT xmin::text) FROM holds"), 1);
}

/* The hold's statements are planned once per connection (schema version 2: tix_hold runs with
 * plan_cache_mode = force_generic_plan): PostgreSQL's default re-planned the hold's conditional
 * write at every call, a quarter of the writer backend's CPU under load. A trigger on holds
 * records the setting in force while tix_hold writes. */
TEST(pg_the_hold_plans_its_statements_once_per_connection)
{
    PGT_BEGIN(st, url);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    pgt_run1(st, pgt_event_cmd("plan", 1, 10), pgt_t0_ms);
    ASSERT_EQ_INT(pgfx_exec(c, "CREATE TABLE tix_test_modes (mode text);"
                               " CREATE FUNCTION tix_test_mode() RETURNS trigger LANGUAGE plpgsql"
                               " AS $$ BEGIN INSERT INTO tix_test_modes"
                               " VALUES (current_setting('plan_cache_mode')); RETURN NEW; END $$;"
                               " CREATE TRIGGER tix_test_mode BEFORE INSERT ON holds FOR EACH ROW"
                               " EXECUTE FUNCTION tix_test_mode()"),
                  0);
    pgt_run1(st, pgt_hold_cmd("plan", "u1", "A1"), pgt_t0_ms + 1);
    pgt_run1(st, pgt_hold_cmd("plan", "u2", "A2"), pgt_t0_ms + 2);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM tix_test_modes"), 2);
    ASSERT_EQ_INT(
        pgfx_int(c, -1, "SELECT count(*) FROM tix_test_modes WHERE mode = 'force_generic_plan'"),
        2);
}

/* ---- claims by several nodes ---- */

enum {
    PGT_CLAIM_DELIVERIES = 600,
    PGT_CLAIM_NODES = 4,
    PGT_CLAIM_MAX = 7, /* deliveries a claim may lease */
};

typedef struct pgt_claimer {
    store *st; /* a handle of its own (closed by the fixture) */
    pthread_barrier_t *start;
    char node[16];
    int32_t seqs[PGT_CLAIM_DELIVERIES]; /* what it claimed */
    uint32_t count, claims, over_max, failed;
} pgt_claimer;

/* Claim until a claim finds nothing (leases are not given back: a claimed delivery stays
 * leased), on the claimer's own store handle. */
static void *pgt_claimer_run(void *arg)
{
    pgt_claimer *cl = arg;
    store *st = cl->st;
    store_batch b = {.rules = &pgt_rules, .node_id = cl->node, .now_ms = pgt_t0_ms};
    change_page_init(&b.changes);
    delivery_record *out = calloc(PGT_CLAIM_DELIVERIES, sizeof(*out));
    store_cmd *cmd = calloc(1, sizeof(*cmd));
    /* connected first (a claim before anything is due), then all at once */
    store_cmd_init(cmd, STORE_CMD_CLAIM);
    cmd->u.claim.max = PGT_CLAIM_MAX;
    cmd->u.claim.out = out;
    b.cmds = &cmd, b.count = 1, b.now_ms = 1; /* nothing due yet */
    if (store_batch_run(st, &b) != STORE_OK || cmd->u.claim.count != 0) cl->failed++;
    b.now_ms = pgt_t0_ms;
    pthread_barrier_wait(cl->start);
    for (;;) {
        store_cmd_init(cmd, STORE_CMD_CLAIM);
        cmd->u.claim.max = PGT_CLAIM_MAX;
        cmd->u.claim.out = out;
        b.cmds = &cmd, b.count = 1;
        if (store_batch_run(st, &b) != STORE_OK) {
            cl->failed++;
            break;
        }
        cl->claims++;
        if (cmd->u.claim.count == 0) break;
        if (cmd->u.claim.count > PGT_CLAIM_MAX) cl->over_max++;
        for (uint32_t i = 0; i < cmd->u.claim.count && cl->count < PGT_CLAIM_DELIVERIES; i++)
            cl->seqs[cl->count++] = (int32_t)out[i].seq;
    }
    free(cmd);
    free(out);
    change_page_free(&b.changes);
    return NULL;
}

/* Nodes claiming the same deliveries at once: each claim leases at most its max, and each
 * delivery goes to one node once. Run with every statement on its generic plan (as PostgreSQL
 * may choose by itself after a few calls): the claim's old `seq IN (SELECT ... LIMIT ... SKIP
 * LOCKED)` could then lease more than the max (schema version 3 picks them once). */
TEST(pg_nodes_claiming_at_once_lease_each_delivery_once_and_no_more_than_asked)
{
    PGT_BEGIN(st, url);
    PGconn *c = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ_INT(pgfx_exec(c,
                            "INSERT INTO outbox(id, type, event_id, aggregate_id, time_ms, data)"
                            " SELECT 'o' || g, 'HoldCreated', 'e1', 'h' || g, 1, '{}'"
                            " FROM generate_series(1, %d) g;"
                            " INSERT INTO deliveries(outbox_seq, subscriber_id, aggregate_id,"
                            " status, next_attempt_ms, updated_at_ms)"
                            " SELECT seq, 'sub', aggregate_id, 'pending', 1000, 0 FROM outbox;"
                            " ANALYZE outbox; ANALYZE deliveries;",
                            PGT_CLAIM_DELIVERIES),
                  0);
    ASSERT_EQ_INT(
        pgfx_exec(c, "ALTER DATABASE \"%s\" SET plan_cache_mode = force_generic_plan", PQdb(c)), 0);
    pgt_claimer cl[PGT_CLAIM_NODES];
    pthread_t th[PGT_CLAIM_NODES];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, PGT_CLAIM_NODES);
    for (int i = 0; i < PGT_CLAIM_NODES; i++) {
        cl[i] = (pgt_claimer){.st = pgfx_open(url, 1, 0), .start = &start};
        ASSERT_NOT_NULL(cl[i].st);
        snprintf(cl[i].node, sizeof(cl[i].node), "node-%c", 'a' + i);
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, pgt_claimer_run, &cl[i]), 0);
    }
    for (int i = 0; i < PGT_CLAIM_NODES; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    static uint8_t seen[PGT_CLAIM_DELIVERIES + 1];
    memset(seen, 0, sizeof(seen));
    uint32_t total = 0;
    for (int i = 0; i < PGT_CLAIM_NODES; i++) {
        ASSERT_EQ_INT(cl[i].failed, 0);
        ASSERT_EQ_INT(cl[i].over_max, 0);
        for (uint32_t j = 0; j < cl[i].count; j++) {
            ASSERT_TRUE(cl[i].seqs[j] >= 1 && cl[i].seqs[j] <= PGT_CLAIM_DELIVERIES);
            ASSERT_EQ_INT(seen[cl[i].seqs[j]]++, 0); /* leased to one node, once */
            total++;
        }
    }
    ASSERT_EQ_INT(total, PGT_CLAIM_DELIVERIES);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM deliveries WHERE attempts <> 1"), 0);
    test_note("%d nodes: %u, %u, %u and %u claims", PGT_CLAIM_NODES, cl[0].claims, cl[1].claims,
              cl[2].claims, cl[3].claims);
}

/* ---- idempotency keys across nodes ---- */

static void pgt__render(void *ctx, const store_cmd *cmd, unsigned *status, buf *body)
{
    (void)ctx;
    *status = 201;
    buf_appendf(body, "hold %s", cmd->u.hold.hold.id);
}

static store_cmd *pgt_keyed_hold(const char *seat, const char *key)
{
    store_cmd *cmd = pgt_hold_cmd("e1", "u", seat);
    store_idem *idem = calloc(1, sizeof(*idem));
    pgt_keep(free, idem);
    buf_init(&idem->body, 4096);
    pgt_keep((void (*)(void *))buf_free, &idem->body);
    idem->key = key;
    snprintf(idem->request_hash, sizeof(idem->request_hash), "hash-of-%s", seat);
    idem->render = pgt__render;
    cmd->idem = idem;
    return cmd;
}

TEST(pg_a_key_in_flight_on_one_node_is_answered_by_the_other_once_it_commits)
{
    PGT_BEGIN(a, url);
    store *b = pgfx_open(url, 1, 0);
    ASSERT_NOT_NULL(b);
    PGconn *c = pgfx_connect(url), *locker = pgfx_connect(url);
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(locker);
    pgt_run1(a, pgt_event_cmd("e1", 2, 4), pgt_t0_ms);
    /* a's transaction decides the key, then waits (holds are locked) */
    ASSERT_EQ_INT(pgfx_exec(locker, "BEGIN; LOCK TABLE holds IN ACCESS EXCLUSIVE MODE"), 0);
    store_cmd *first = pgt_keyed_hold("A1", "k1");
    pgt_async on_a = {
        .st = a, .pb = pgt_batch_new(), .cmds = &first, .n = 1, .now_ms = pgt_t0_ms + 1};
    pthread_t ta;
    ASSERT_EQ_INT(pthread_create(&ta, NULL, pgt__run_async, &on_a), 0);
    int pid_a = pgfx_wait_backend(c, "tix-writer", "wait_event_type = 'Lock'", 10000);
    /* b's command with the same key waits for a's transaction */
    store_cmd *second = pgt_keyed_hold("A1", "k1");
    pgt_async on_b = {
        .st = b, .pb = pgt_batch_new(), .cmds = &second, .n = 1, .now_ms = pgt_t0_ms + 2};
    pthread_t tb;
    ASSERT_EQ_INT(pthread_create(&tb, NULL, pgt__run_async, &on_b), 0);
    int waiting = 0;
    for (int i = 0; i < 1000 && waiting < 2; i++) {
        waiting = (int)pgfx_int(c, 0,
                                "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                " current_database() AND application_name = 'tix-writer'"
                                " AND wait_event_type = 'Lock'");
        usleep(10000);
    }
    pgfx_exec(locker, "COMMIT");
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    ASSERT_GT(pid_a, 0);
    ASSERT_EQ_INT(waiting, 2);
    ASSERT_EQ_INT(on_a.status, STORE_OK);
    ASSERT_EQ_INT(on_b.status, STORE_OK);
    ASSERT_EQ_INT(first->rc, TIX_RC_OK);
    ASSERT_EQ_INT(second->rc, TIX_RC_REPLAYED);
    ASSERT_EQ_INT(second->idem->status, 201);
    ASSERT_EQ_STR(second->idem->body.data, first->idem->body.data);
    ASSERT_EQ_INT(on_b.pb->b.changes.count, 0);
    ASSERT_EQ_INT(pgfx_int(c, -1, "SELECT count(*) FROM holds"), 1);
}

/* ---- a COMMIT whose answer was lost ---- */

/* A proxy between the store and the cluster, on a unix socket of its own, that can cut a
 * client's connection right before the answer to its next COMMIT (the server has committed;
 * the client never hears it): a connection lost at the worst moment, on demand. */
enum { PGT_PIPES_MAX = 64 };

typedef struct pgt_proxy {
    char dir[64];
    char target[100]; /* the cluster's socket (it fits a sun_path) */
    int listen_fd;
    pthread_t thread;
    atomic_bool arm, stop;
    atomic_int cuts;
    pthread_t pipes[PGT_PIPES_MAX]; /* the accepting thread's only: joined at the stop */
    unsigned pipe_count;
} pgt_proxy;

typedef struct pgt_pipe {
    pgt_proxy *proxy;
    int client, server;
} pgt_pipe;

/* The answer to COMMIT: CommandComplete ('C', length 11, "COMMIT\0"). */
static const char pgt__commit_done[] = {'C', 0, 0, 0, 11, 'C', 'O', 'M', 'M', 'I', 'T', 0};

/* Server to client, cutting before COMMIT's answer when armed. Returns false at the end. */
static bool pgt__forward_down(pgt_pipe *p, char *carry, size_t *carried)
{
    char chunk[65536 + sizeof(pgt__commit_done)];
    memcpy(chunk, carry, *carried);
    ssize_t n = read(p->server, chunk + *carried, 65536);
    if (n <= 0) return false;
    size_t len = *carried + (size_t)n;
    *carried = 0;
    if (!atomic_load(&p->proxy->arm)) return write(p->client, chunk, len) == (ssize_t)len;
    for (size_t i = 0; i + sizeof(pgt__commit_done) <= len; i++) {
        if (memcmp(chunk + i, pgt__commit_done, sizeof(pgt__commit_done)) != 0) continue;
        if (write(p->client, chunk, i) != (ssize_t)i) return false;
        atomic_store(&p->proxy->arm, false);
        atomic_fetch_add(&p->proxy->cuts, 1);
        return false; /* cut: both sides closed */
    }
    size_t keep = len < sizeof(pgt__commit_done) ? len : sizeof(pgt__commit_done) - 1;
    if (write(p->client, chunk, len - keep) != (ssize_t)(len - keep)) return false;
    memcpy(carry, chunk + len - keep, keep);
    *carried = keep;
    return true;
}

static void *pgt__pipe(void *arg)
{
    pgt_pipe *p = arg;
    char carry[sizeof(pgt__commit_done)];
    size_t carried = 0;
    bool open = true;
    while (open && !atomic_load(&p->proxy->stop)) {
        struct pollfd fds[2] = {{.fd = p->client, .events = POLLIN},
                                {.fd = p->server, .events = POLLIN}};
        if (poll(fds, 2, 100) <= 0) continue;
        if (fds[0].revents) {
            char up[65536];
            ssize_t n = read(p->client, up, sizeof(up));
            open = n > 0 && write(p->server, up, (size_t)n) == n;
        }
        if (open && fds[1].revents) open = pgt__forward_down(p, carry, &carried);
    }
    close(p->client);
    close(p->server);
    free(p);
    return NULL;
}

static void *pgt__accept(void *arg)
{
    pgt_proxy *proxy = arg;
    while (!atomic_load(&proxy->stop)) {
        struct pollfd pfd = {.fd = proxy->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0) continue;
        int client = accept(proxy->listen_fd, NULL, NULL);
        if (client < 0) continue;
        struct sockaddr_un to = {.sun_family = AF_UNIX};
        snprintf(to.sun_path, sizeof(to.sun_path), "%s", proxy->target);
        int server = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(server, (struct sockaddr *)&to, sizeof(to)) != 0) {
            close(client);
            close(server);
            continue;
        }
        pgt_pipe *p = malloc(sizeof(*p));
        *p = (pgt_pipe){proxy, client, server};
        if (proxy->pipe_count == PGT_PIPES_MAX ||
            pthread_create(&proxy->pipes[proxy->pipe_count], NULL, pgt__pipe, p) != 0) {
            close(client), close(server), free(p);
            continue;
        }
        proxy->pipe_count++;
    }
    for (unsigned i = 0; i < proxy->pipe_count; i++) /* they see the stop within their poll */
        pthread_join(proxy->pipes[i], NULL);
    return NULL;
}

static void pgt__proxy_stop(void *arg)
{
    pgt_proxy *proxy = arg;
    atomic_store(&proxy->stop, true);
    pthread_join(proxy->thread, NULL); /* and every pipe */
    close(proxy->listen_fd);
    char path[128];
    snprintf(path, sizeof(path), "%s/.s.PGSQL.5432", proxy->dir);
    unlink(path);
    rmdir(proxy->dir);
    free(proxy);
}

/* A proxy to the cluster that url's host names; the URL of the same database through it into
 * out. NULL after test_fail. */
static pgt_proxy *pgt_proxy_start(const char *url, char *out, size_t cap)
{
    const char *host = strstr(url, "host="), *port = strstr(url, "port=");
    const char *db = strstr(url, "@/"), *query = strchr(url, '?');
    if (!host || !port || !db || !query) {
        test_fail(__FILE__, __LINE__, "the proxy needs a unix socket URL, not %s", url);
        return NULL;
    }
    pgt_proxy *proxy = calloc(1, sizeof(*proxy));
    snprintf(proxy->dir, sizeof(proxy->dir), "/tmp/tix-proxy-XXXXXX");
    if (!mkdtemp(proxy->dir)) return free(proxy), NULL;
    snprintf(proxy->target, sizeof(proxy->target), "%.*s/.s.PGSQL.%.*s",
             (int)strcspn(host + 5, "&"), host + 5, (int)strcspn(port + 5, "&"), port + 5);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/.s.PGSQL.5432", proxy->dir);
    proxy->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (bind(proxy->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(proxy->listen_fd, 64) != 0 ||
        pthread_create(&proxy->thread, NULL, pgt__accept, proxy) != 0) {
        test_fail(__FILE__, __LINE__, "cannot start the proxy in %s", proxy->dir);
        close(proxy->listen_fd);
        rmdir(proxy->dir);
        free(proxy);
        return NULL;
    }
    test_defer(pgt__proxy_stop, proxy);
    snprintf(out, cap, "postgresql://tix@%.*s?host=%s&port=5432", (int)(query - db - 1), db + 1,
             proxy->dir);
    return proxy;
}

TEST(pg_a_commit_whose_answer_was_lost_is_asked_about_and_stands)
{
    if (!pgfx_cluster()) return;
    char url[PGT_URL_MAX], through[PGT_URL_MAX];
    ASSERT_EQ_INT(pgfx_fresh(url, sizeof(url)), 0);
    pgt_proxy *proxy = pgt_proxy_start(url, through, sizeof(through));
    ASSERT_NOT_NULL(proxy);
    store *st = pgfx_open(through, 1, 0);
    ASSERT_NOT_NULL(st);
    pgt_run1(st, pgt_event_cmd("e1", 2, 4), pgt_t0_ms);
    int64_t head = pgt_head(st);
    atomic_store(&proxy->arm, true);
    store_cmd *cmds[] = {pgt_hold_cmd("e1", "u", "A1"), pgt_hold_cmd("e1", "v", "A2,A3")};
    pgt_batch *pb = pgt_batch_new();
    store_status status = pgt_run(st, pb, pgt_t0_ms + 1, cmds, 2);
    ASSERT_EQ_INT(atomic_load(&proxy->cuts), 1);
    /* the server committed: the batch stands, with its outcomes and its changes */
    ASSERT_EQ_INT(status, STORE_OK);
    ASSERT_EQ_INT(cmds[0]->rc, TIX_RC_OK);
    ASSERT_EQ_INT(cmds[1]->rc, TIX_RC_OK);
    ASSERT_EQ_INT(pb->b.changes.count, 2);
    ASSERT_EQ_INT(pb->b.feed_before, head);
    ASSERT_EQ_INT(pgt_head(st), head + 2);
    hold_record h;
    bool found = false;
    ASSERT_EQ_INT(store_hold_get(st, cmds[1]->u.hold.hold.id, &h, &found, NULL), 0);
    ASSERT_TRUE(found);
    store_cmd *next = pgt_hold_cmd("e1", "w", "B1");
    pgt_run1(st, next, pgt_t0_ms + 2);
    ASSERT_EQ_INT(next->rc, TIX_RC_OK);
}
