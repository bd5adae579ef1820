/* commit: the one write path, end to end on a temp store with the inventory kept by the feed:
 * holds, all-or-nothing, release, expiry by the sweeper and by a new hold, back-pressure,
 * draining on stop, failures (unavailable: the batch; fatal: the command alone; busy: run
 * again), and a contention test whose invariants are checked against the database with plain
 * SQLite. */
#include "../test.h"

#include "../fixtures.h"
#include "commit/commit.h"
#include "feed/feed.h"
#include "store/vfs_shim.h"
#include "util/clock.h"
#include "util/ids.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>

/* ---- fixture: a store in the test's temp dir, an inventory kept by a feed, a running writer ----
 */

typedef struct fixture {
    const char *dir;
    store *st;
    inventory *inv;
    feed *follower;
    commit *c;
} fixture;

/* Stop the writer and close everything (idempotent), keeping the data dir. */
static void fixture_shutdown(fixture *f)
{
    commit_destroy(f->c);
    feed_close(f->follower);
    inventory_destroy(f->inv);
    store_close(f->st);
    f->c = NULL;
    f->follower = NULL;
    f->inv = NULL;
    f->st = NULL;
}

static void fixture_close(void *arg)
{
    fixture_shutdown(arg);
    free(arg);
}

static commit_config config_with(uint32_t sweep_interval_ms)
{
    commit_config config = commit_config_default();
    config.batch_max = 64;
    config.queue_max = 4096;
    config.sweep_interval_ms = sweep_interval_ms;
    config.sweep_holds_max = 64;
    config.rules.user_seats_max = 0; /* the per-buyer limit has its own test */
    return config;
}

/* Open the store in f->dir (waiting busy_timeout_ms for another writer; 0: the default), build
 * the inventory through a feed, start the writer. Returns 0, or -1 after test_fail. */
static int fixture_start(fixture *f, const commit_config *config, unsigned busy_timeout_ms)
{
    char err[256] = "";
    store_options so = {.data_dir = f->dir, .readers = 2, .busy_timeout_ms = busy_timeout_ms};
    if (store_open(&so, &f->st, err, sizeof(err)) != 0) {
        test_fail(__FILE__, __LINE__, "store_open: %s", err);
        return -1;
    }
    feed_config fc = {.poll_ms = 20, .page_max = 256};
    f->inv = inventory_create();
    if (!f->inv || !(f->follower = feed_open(f->st, f->inv, &fc))) {
        test_fail(__FILE__, __LINE__, "inventory");
        return -1;
    }
    f->c = commit_start(f->st, config);
    if (!f->c) return test_fail(__FILE__, __LINE__, "commit_start failed"), -1;
    commit_on_changes(f->c, feed_apply_committed, f->follower);
    return feed_start(f->follower);
}

/* Open everything (closed when the test ends). NULL after a failed assertion. */
static fixture *fixture_open_waiting(const commit_config *config, unsigned busy_timeout_ms)
{
    fixture *f = calloc(1, sizeof(*f));
    test_defer(fixture_close, f);
    f->dir = test_tmpdir();
    return fixture_start(f, config, busy_timeout_ms) == 0 ? f : NULL;
}

static fixture *fixture_open(const commit_config *config)
{
    return fixture_open_waiting(config, 0);
}

/* An event-create command of rows A.. (row_count rows of seats_per_row). */
static void event_cmd(commit_cmd *cmd, const char *id, int32_t hold_ttl_s, uint32_t row_count,
                      uint32_t seats_per_row)
{
    memset(cmd, 0, sizeof(*cmd));
    store_cmd_init(&cmd->op, STORE_CMD_EVENT_CREATE);
    fx_spec_init(&cmd->op.u.event_create.spec, id, hold_ttl_s, 10);
    fx_spec_add_rows(&cmd->op.u.event_create.spec, "Main", 1000, seats_per_row, 0, row_count);
}

/* Create an event of rows A.. (row_count rows of seats_per_row) through the writer. */
static inv_event *create_event(fixture *f, const char *id, int32_t hold_ttl_s, uint32_t row_count,
                               uint32_t seats_per_row)
{
    commit_cmd *cmd = calloc(1, sizeof(*cmd));
    event_cmd(cmd, id, hold_ttl_s, row_count, seats_per_row);
    tix_rc rc = commit_submit_wait(f->c, cmd);
    inv_event *ev = rc == TIX_RC_OK ? inventory_find(f->inv, id, strlen(id)) : NULL;
    if (rc != TIX_RC_OK) test_fail(__FILE__, __LINE__, "creating %s: rc %d", id, rc);
    model_event_spec_free(&cmd->op.u.event_create.spec);
    free(cmd);
    return ev;
}

/* Fill cmd as a hold of the given seats (NULL-terminated ids). */
static void hold_cmd(commit_cmd *cmd, inv_event *ev, const char *user, const char *const *seats)
{
    memset(cmd, 0, sizeof(*cmd));
    store_cmd_init(&cmd->op, STORE_CMD_HOLD);
    hold_record *h = &cmd->op.u.hold.hold;
    snprintf(h->event_id, sizeof(h->event_id), "%s", ev->spec.id);
    snprintf(h->user_id, sizeof(h->user_id), "%s", user);
    for (; seats[h->seat_count]; h->seat_count++) {
        const char *id = seats[h->seat_count];
        if (inv_event_seat_find(ev, id, strlen(id)) < 0) {
            fprintf(stderr, "commit_test: no seat %s\n", id);
            abort();
        }
        snprintf(h->seat_ids[h->seat_count], TIX_SEAT_ID_LEN_MAX, "%s", id);
    }
}

/* The hold a HOLD or RELEASE command has (as committed). */
#define HOLD_OF(cmd)                                                                               \
    ((cmd).op.kind == STORE_CMD_HOLD ? &(cmd).op.u.hold.hold : &(cmd).op.u.release.hold)

static tix_rc hold(fixture *f, inv_event *ev, const char *const *seats, commit_cmd *cmd)
{
    hold_cmd(cmd, ev, "user-1", seats);
    return commit_submit_wait(f->c, cmd);
}

static void release_cmd(commit_cmd *cmd, const char *hold_id)
{
    memset(cmd, 0, sizeof(*cmd));
    store_cmd_init(&cmd->op, STORE_CMD_RELEASE);
    snprintf(cmd->op.u.release.hold.id, sizeof(cmd->op.u.release.hold.id), "%s", hold_id);
}

static tix_rc release(fixture *f, const char *hold_id, commit_cmd *cmd)
{
    release_cmd(cmd, hold_id);
    return commit_submit_wait(f->c, cmd);
}

static void ping_cmd(commit_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    store_cmd_init(&cmd->op, STORE_CMD_PING);
}

static tix_rc ping(fixture *f)
{
    commit_cmd cmd;
    ping_cmd(&cmd);
    return commit_submit_wait(f->c, &cmd);
}

static uint32_t seat_index(inv_event *ev, const char *id)
{
    return (uint32_t)inv_event_seat_find(ev, id, strlen(id));
}

/* The inventory's stored state of a seat (not what it reads as). */
static void seat_raw(inv_event *ev, const char *id, seat_status *status, int64_t *hold_seq)
{
    uint32_t i = seat_index(ev, id);
    pthread_rwlock_rdlock(&ev->lock);
    *status = (seat_status)ev->seats[i].status;
    *hold_seq = ev->seats[i].hold_seq;
    pthread_rwlock_unlock(&ev->lock);
}

#define ASSERT_INV_SEAT(ev, id, want_status, want_seq)                                             \
    do {                                                                                           \
        seat_status st_;                                                                           \
        int64_t seq_;                                                                              \
        seat_raw((ev), (id), &st_, &seq_);                                                         \
        if (st_ != (want_status) || seq_ != (want_seq)) {                                          \
            test_fail(__FILE__, __LINE__, "inventory seat %s: status %d seq %lld, want %d %lld",   \
                      (id), st_, (long long)seq_, (int)(want_status), (long long)(want_seq));      \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* The store's holder of a seat: its hold_seq when held, 0 when available, -1 otherwise. */
static int64_t store_seat(fixture *f, const char *event_id, const char *seat_id)
{
    return fx_sql_int(f->dir, -1,
                      "SELECT CASE WHEN status = 'held' AND hold_seq IS NOT NULL THEN hold_seq"
                      " WHEN status = 'available' AND hold_seq IS NULL THEN 0 ELSE -1 END"
                      " FROM seats WHERE event_id = '%s' AND seat_id = '%s'",
                      event_id, seat_id);
}

static bool store_hold_status_is(fixture *f, const char *hold_id, const char *status)
{
    char *got = fx_sql_text(f->dir, "SELECT status FROM holds WHERE id = '%s'", hold_id);
    bool same = got && strcmp(got, status) == 0;
    free(got);
    return same;
}

static int64_t outbox_count(fixture *f, const char *type, const char *aggregate_id)
{
    return fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM outbox WHERE type = '%s'%s%s%s", type,
                      aggregate_id ? " AND aggregate_id = '" : "", aggregate_id ? aggregate_id : "",
                      aggregate_id ? "'" : "");
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- a gate that holds the writer thread inside an on_done, to queue commands behind it ---- */

typedef struct gate {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool entered, open;
    unsigned done; /* on_done calls of the commands counted by gate_count_done */
} gate;

static gate the_gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, 0};

static void gate_reset(void)
{
    pthread_mutex_lock(&the_gate.mutex);
    the_gate.entered = the_gate.open = false;
    the_gate.done = 0;
    pthread_mutex_unlock(&the_gate.mutex);
}

static void gate_block(commit_cmd *cmd) /* on_done: blocks the writer until the gate opens */
{
    (void)cmd;
    pthread_mutex_lock(&the_gate.mutex);
    the_gate.entered = true;
    pthread_cond_broadcast(&the_gate.cond);
    while (!the_gate.open)
        pthread_cond_wait(&the_gate.cond, &the_gate.mutex);
    pthread_mutex_unlock(&the_gate.mutex);
}

static void gate_count_done(commit_cmd *cmd) /* on_done: counts */
{
    (void)cmd;
    pthread_mutex_lock(&the_gate.mutex);
    the_gate.done++;
    pthread_cond_broadcast(&the_gate.cond);
    pthread_mutex_unlock(&the_gate.mutex);
}

static void gate_wait_entered(void)
{
    pthread_mutex_lock(&the_gate.mutex);
    while (!the_gate.entered)
        pthread_cond_wait(&the_gate.cond, &the_gate.mutex);
    pthread_mutex_unlock(&the_gate.mutex);
}

static void gate_open(void)
{
    pthread_mutex_lock(&the_gate.mutex);
    the_gate.open = true;
    pthread_cond_broadcast(&the_gate.cond);
    pthread_mutex_unlock(&the_gate.mutex);
}

static void gate_wait_done(unsigned n)
{
    pthread_mutex_lock(&the_gate.mutex);
    while (the_gate.done < n)
        pthread_cond_wait(&the_gate.cond, &the_gate.mutex);
    pthread_mutex_unlock(&the_gate.mutex);
}

static unsigned gate_done(void)
{
    pthread_mutex_lock(&the_gate.mutex);
    unsigned n = the_gate.done;
    pthread_mutex_unlock(&the_gate.mutex);
    return n;
}

static void gate_open_cb(void *arg)
{
    (void)arg;
    gate_open();
}

/* Block the writer: a ping whose on_done waits for gate_open (opened at the latest when the
 * test ends, before the fixture closes). */
static void block_writer(fixture *f, commit_cmd *blocker)
{
    gate_reset();
    test_defer(gate_open_cb, NULL);
    ping_cmd(blocker);
    blocker->on_done = gate_block;
    if (commit_submit(f->c, blocker) != TIX_RC_OK) {
        test_fail(__FILE__, __LINE__, "cannot submit the blocker");
        return;
    }
    gate_wait_entered();
}

/* ---- tests ---- */

TEST(commit_creates_an_event_in_the_store_and_the_inventory_with_an_outbox_row)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    int64_t before = clock_now_ms();
    commit_cmd *cmd = calloc(1, sizeof(*cmd));
    event_cmd(cmd, "show", 600, 2, 5);
    tix_rc rc = commit_submit_wait(f->c, cmd);
    bool kept = cmd->op.u.event_create.spec.name != NULL; /* the spec stays the submitter's */
    model_event_spec_free(&cmd->op.u.event_create.spec);
    free(cmd);
    ASSERT_EQ_INT(rc, TIX_RC_OK);
    ASSERT_TRUE(kept);
    /* in the inventory when on_done ran: the feed applied the batch's change first */
    inv_event *created = inventory_find(f->inv, "show", 4);
    ASSERT_NOT_NULL(created);
    ASSERT_EQ_INT(created->seat_count, 10);
    ASSERT_EQ_INT(inv_event_version(created), feed_position(f->follower));
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE event_id = 'show'"), 10);
    ASSERT_GE(fx_sql_int(f->dir, -1, "SELECT created_at_ms FROM events WHERE id = 'show'"), before);
    ASSERT_EQ_INT(outbox_count(f, "EventCreated", "show"), 1);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1,
                             "SELECT COUNT(*) FROM feed WHERE kind = 'event_created'"
                             " AND event_id = 'show'"),
                  1);
    char *data = fx_sql_text(f->dir, "SELECT data FROM outbox WHERE type = 'EventCreated'");
    cJSON *json = cJSON_Parse(data);
    free(data);
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(json, "seats_total");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(json, "name");
    bool ok = cJSON_IsNumber(total) && total->valuedouble == 10 && cJSON_IsString(name) &&
              strcmp(name->valuestring, "Event show") == 0;
    cJSON_Delete(json);
    ASSERT_TRUE(ok);
}

TEST(commit_refuses_a_second_event_with_the_same_id)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(create_event(f, "show", 600, 1, 4));
    commit_cmd *cmd = calloc(1, sizeof(*cmd));
    event_cmd(cmd, "show", 600, 1, 9);
    tix_rc rc = commit_submit_wait(f->c, cmd);
    bool kept = cmd->op.u.event_create.spec.name != NULL; /* still the caller's */
    model_event_spec_free(&cmd->op.u.event_create.spec);
    free(cmd);
    ASSERT_EQ_INT(rc, TIX_RC_EVENT_EXISTS);
    ASSERT_TRUE(kept);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE event_id = 'show'"), 4);
    ASSERT_EQ_INT(outbox_count(f, "EventCreated", NULL), 1);
}

TEST(commit_commands_come_from_a_pool_with_their_header_cleared)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    commit_cmd *first = commit_cmd_new(f->c, STORE_CMD_HOLD);
    ASSERT_NOT_NULL(first);
    memset(first, 0xA5, sizeof(*first)); /* what a previous request left in it */
    commit_cmd_free(f->c, first);
    commit_cmd *again = commit_cmd_new(f->c, STORE_CMD_PING);
    ASSERT_TRUE(again == first); /* reused, not allocated */
    ASSERT_EQ_INT(again->op.kind, STORE_CMD_PING);
    ASSERT_EQ_INT(again->op.rc, TIX_RC_OK);
    ASSERT_NULL(again->op.idem);
    ASSERT_TRUE(again->on_done == NULL && again->ctx == NULL && again->next_ == NULL);
    ASSERT_EQ_INT(commit_submit_wait(f->c, again), TIX_RC_OK);
    commit_cmd_free(f->c, again);
    /* a write request carries a few kilobytes, not the ten of a command holding every kind */
    test_note("a command is %zu bytes", sizeof(commit_cmd));
    ASSERT_LE(sizeof(commit_cmd), 4096);
}

TEST(commit_hold_succeeds_and_the_inventory_shows_the_seats_held)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 2, 5);
    ASSERT_NOT_NULL(ev);
    commit_cmd cmd;
    static const char *const seats[] = {"A1", "B5", NULL};
    int64_t before = clock_now_ms();
    ASSERT_EQ_INT(hold(f, ev, seats, &cmd), TIX_RC_OK);
    const hold_record *h = HOLD_OF(cmd);
    ASSERT_TRUE(ids_is_valid_hex(h->id, strlen(h->id)));
    ASSERT_GT(h->seq, 0);
    ASSERT_EQ_STR(h->event_id, "show");
    ASSERT_EQ_STR(h->user_id, "user-1");
    ASSERT_EQ_INT(h->status, HOLD_ACTIVE);
    ASSERT_GE(h->created_at_ms, before);
    ASSERT_LE(h->created_at_ms, clock_now_ms());
    ASSERT_EQ_INT(h->expires_at_ms, h->created_at_ms + 600 * 1000);
    ASSERT_EQ_INT(h->seat_count, 2);
    ASSERT_EQ_STR(h->seat_ids[0], "A1");
    ASSERT_EQ_STR(h->seat_ids[1], "B5");
    /* memory */
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, h->seq);
    ASSERT_INV_SEAT(ev, "B5", SEAT_HELD, h->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_AVAILABLE, 0);
    inv_counts c = inv_event_counts(ev, clock_now_ms());
    ASSERT_EQ_INT(c.held, 2);
    ASSERT_EQ_INT(c.available, 8);
    /* disk */
    ASSERT_TRUE(store_hold_status_is(f, h->id, "active"));
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), h->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "B5"), h->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "A2"), 0);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", h->id), 1);
    char *data = fx_sql_text(f->dir, "SELECT data FROM outbox WHERE aggregate_id = '%s'", h->id);
    char *event_id =
        fx_sql_text(f->dir, "SELECT event_id FROM outbox WHERE aggregate_id = '%s'", h->id);
    cJSON *json = cJSON_Parse(data);
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(json, "seat_ids");
    const cJSON *hid = cJSON_GetObjectItemCaseSensitive(json, "hold_id");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(json, "user_id");
    const cJSON *expires = cJSON_GetObjectItemCaseSensitive(json, "expires_at");
    int64_t expires_ms = 0;
    bool ok =
        event_id && strcmp(event_id, "show") == 0 && cJSON_GetArraySize(ids) == 2 &&
        strcmp(cJSON_GetArrayItem(ids, 1)->valuestring, "B5") == 0 && cJSON_IsString(hid) &&
        strcmp(hid->valuestring, h->id) == 0 && cJSON_IsString(user) &&
        strcmp(user->valuestring, "user-1") == 0 && cJSON_IsString(expires) &&
        clock_parse_rfc3339(expires->valuestring, strlen(expires->valuestring), &expires_ms) == 0 &&
        expires_ms == h->expires_at_ms;
    cJSON_Delete(json);
    free(data);
    free(event_id);
    ASSERT_TRUE(ok);
    /* committed before on_done: the read pool sees it */
    hold_record got;
    bool found = false;
    ASSERT_EQ_INT(store_hold_get(f->st, h->id, &got, &found, NULL), 0);
    ASSERT_TRUE(found);
    ASSERT_EQ_INT(got.seq, h->seq);
}

TEST(commit_second_hold_on_a_held_seat_is_refused_with_the_taken_seat)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 5);
    ASSERT_NOT_NULL(ev);
    commit_cmd first, second;
    static const char *const seats[] = {"A3", NULL};
    ASSERT_EQ_INT(hold(f, ev, seats, &first), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, seats, &second), TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(second.op.rc, TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(second.op.u.hold.taken_count, 1);
    ASSERT_EQ_INT(second.op.u.hold.taken[0], 0); /* A3, the one seat asked for */
    /* the refused hold left nothing behind */
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 1);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", NULL), 1);
    ASSERT_EQ_INT(store_seat(f, "show", "A3"), HOLD_OF(first)->seq);
    ASSERT_INV_SEAT(ev, "A3", SEAT_HELD, HOLD_OF(first)->seq);
}

TEST(commit_multi_seat_hold_with_one_taken_seat_takes_none)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 6);
    ASSERT_NOT_NULL(ev);
    commit_cmd first, second, third;
    static const char *const a2[] = {"A2", NULL}, *const a5[] = {"A5", NULL},
                             *const many[] = {"A1", "A2", "A3", "A4", "A5", "A6", NULL};
    ASSERT_EQ_INT(hold(f, ev, a2, &first), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, a5, &second), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, many, &third), TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(third.op.u.hold.taken_count, 2);
    ASSERT_EQ_INT(third.op.u.hold.taken[0], 1); /* A2 */
    ASSERT_EQ_INT(third.op.u.hold.taken[1], 4); /* A5 */
    static const char *const free_seats[] = {"A1", "A3", "A4", "A6", NULL};
    for (size_t i = 0; free_seats[i]; i++) {
        ASSERT_EQ_INT(store_seat(f, "show", free_seats[i]), 0);
        ASSERT_INV_SEAT(ev, free_seats[i], SEAT_AVAILABLE, 0);
    }
    ASSERT_EQ_INT(store_seat(f, "show", "A2"), HOLD_OF(first)->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "A5"), HOLD_OF(second)->seq);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 2);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 2);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", NULL), 2);
}

TEST(commit_release_frees_the_seats_and_writes_hold_released)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 2, 2);
    ASSERT_NOT_NULL(ev);
    commit_cmd h, r;
    static const char *const seats[] = {"A1", "B2", NULL};
    ASSERT_EQ_INT(hold(f, ev, seats, &h), TIX_RC_OK);
    int64_t before = clock_now_ms();
    ASSERT_EQ_INT(release(f, HOLD_OF(h)->id, &r), TIX_RC_OK);
    ASSERT_EQ_INT(HOLD_OF(r)->status, HOLD_RELEASED);
    ASSERT_EQ_INT(HOLD_OF(r)->seq, HOLD_OF(h)->seq);
    ASSERT_GE(HOLD_OF(r)->ended_at_ms, before);
    ASSERT_EQ_INT(HOLD_OF(r)->seat_count, 2);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(h)->id, "released"));
    ASSERT_GE(
        fx_sql_int(f->dir, -1, "SELECT ended_at_ms FROM holds WHERE id = '%s'", HOLD_OF(h)->id),
        before);
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), 0);
    ASSERT_EQ_INT(store_seat(f, "show", "B2"), 0);
    ASSERT_EQ_INT(outbox_count(f, "HoldReleased", HOLD_OF(h)->id), 1);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
    ASSERT_INV_SEAT(ev, "B2", SEAT_AVAILABLE, 0);
    inv_counts c = inv_event_counts(ev, 0); /* at time 0 nothing has lapsed: the stored state */
    ASSERT_EQ_INT(c.available, 4);
    /* the seats can be held again */
    commit_cmd again;
    ASSERT_EQ_INT(hold(f, ev, seats, &again), TIX_RC_OK);
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), HOLD_OF(again)->seq);
}

TEST(commit_release_twice_is_not_active_and_an_unknown_hold_is_not_found)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 2);
    ASSERT_NOT_NULL(ev);
    commit_cmd h, r;
    static const char *const seats[] = {"A1", NULL};
    ASSERT_EQ_INT(hold(f, ev, seats, &h), TIX_RC_OK);
    ASSERT_EQ_INT(release(f, HOLD_OF(h)->id, &r), TIX_RC_OK);
    ASSERT_EQ_INT(release(f, HOLD_OF(h)->id, &r), TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(HOLD_OF(r)->status, HOLD_RELEASED); /* the hold as it is */
    char unknown[IDS_HEX_LEN + 1];
    ids_random_hex(unknown);
    ASSERT_EQ_INT(release(f, unknown, &r), TIX_RC_HOLD_NOT_FOUND);
    ASSERT_EQ_INT(outbox_count(f, "HoldReleased", NULL), 1);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(h)->id, "released"));
}

TEST(commit_sweeper_expires_a_lapsed_hold_with_an_outbox_row)
{
    commit_config cfg = config_with(50);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "short", 1, 1, 3);
    ASSERT_NOT_NULL(ev);
    commit_cmd h;
    static const char *const seats[] = {"A1", "A2", NULL};
    ASSERT_EQ_INT(hold(f, ev, seats, &h), TIX_RC_OK);
    ASSERT_EQ_INT(HOLD_OF(h)->expires_at_ms - HOLD_OF(h)->created_at_ms, 1000);
    int64_t started = clock_mono_ms();
    while (!store_hold_status_is(f, HOLD_OF(h)->id, "expired") && clock_mono_ms() - started < 3000)
        sleep_ms(50);
    int64_t waited = clock_mono_ms() - started;
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(h)->id, "expired"));
    test_note("expired after %lld ms (ttl 1000 ms, sweep every 50 ms)", (long long)waited);
    ASSERT_LE(waited, 2000);
    ASSERT_GE(
        fx_sql_int(f->dir, -1, "SELECT ended_at_ms FROM holds WHERE id = '%s'", HOLD_OF(h)->id),
        HOLD_OF(h)->expires_at_ms);
    ASSERT_EQ_INT(store_seat(f, "short", "A1"), 0);
    ASSERT_EQ_INT(store_seat(f, "short", "A2"), 0);
    ASSERT_EQ_INT(outbox_count(f, "HoldExpired", HOLD_OF(h)->id), 1);
    char *event_id = fx_sql_text(f->dir, "SELECT event_id FROM outbox WHERE type = 'HoldExpired'");
    bool same = event_id && strcmp(event_id, "short") == 0;
    free(event_id);
    ASSERT_TRUE(same);
    /* a command queued after the sweep's batch completes after its effects are applied */
    ASSERT_EQ_INT(ping(f), TIX_RC_OK);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
    ASSERT_INV_SEAT(ev, "A2", SEAT_AVAILABLE, 0);
    /* releasing it now: not active */
    commit_cmd r;
    ASSERT_EQ_INT(release(f, HOLD_OF(h)->id, &r), TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(outbox_count(f, "HoldExpired", NULL), 1);
}

TEST(commit_hold_on_a_seat_whose_hold_lapsed_unswept_succeeds_and_expires_the_old_hold)
{
    commit_config cfg = config_with(60000); /* the sweeper will not run during the test */
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "short", 1, 2, 3);
    ASSERT_NOT_NULL(ev);
    commit_cmd old, other;
    static const char *const old_seats[] = {"A1", "A2", NULL}, *const other_seats[] = {"B1", NULL};
    ASSERT_EQ_INT(hold(f, ev, old_seats, &old), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, other_seats, &other), TIX_RC_OK);
    while (clock_now_ms() <= HOLD_OF(old)->expires_at_ms + 20 ||
           clock_now_ms() <= HOLD_OF(other)->expires_at_ms + 20)
        sleep_ms(20);
    /* lapsed: memory reads the seats as available, the store still has the holds active */
    uint32_t a1 = seat_index(ev, "A1"), taken[1];
    ASSERT_EQ_INT(inv_event_find_taken(ev, &a1, 1, clock_now_ms(), taken), 0);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(old)->id, "active"));
    ASSERT_EQ_INT(store_seat(f, "short", "A1"), HOLD_OF(old)->seq);

    commit_cmd fresh;
    static const char *const fresh_seats[] = {"A1", NULL};
    ASSERT_EQ_INT(hold(f, ev, fresh_seats, &fresh), TIX_RC_OK);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(old)->id, "expired"));
    ASSERT_EQ_INT(outbox_count(f, "HoldExpired", HOLD_OF(old)->id), 1);
    ASSERT_EQ_INT(store_seat(f, "short", "A1"), HOLD_OF(fresh)->seq);
    ASSERT_EQ_INT(store_seat(f, "short", "A2"), 0); /* the old hold's other seat is freed too */
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(fresh)->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_AVAILABLE, 0);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", HOLD_OF(fresh)->id), 1);

    /* releasing a lapsed hold: not active any more */
    commit_cmd r;
    ASSERT_EQ_INT(release(f, HOLD_OF(other)->id, &r), TIX_RC_HOLD_NOT_ACTIVE);
    ASSERT_EQ_INT(outbox_count(f, "HoldReleased", NULL), 0);
}

TEST(commit_conflicting_holds_in_one_batch_are_decided_one_by_one)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 4);
    ASSERT_NOT_NULL(ev);
    commit_cmd blocker, x, y, z;
    TEST_CHECK(block_writer(f, &blocker));
    static const char *const xs[] = {"A1", "A2", NULL}, *const ys[] = {"A2", "A3", NULL},
                             *const zs[] = {"A4", NULL};
    hold_cmd(&x, ev, "x", xs);
    hold_cmd(&y, ev, "y", ys);
    hold_cmd(&z, ev, "z", zs);
    x.on_done = y.on_done = z.on_done = gate_count_done;
    ASSERT_EQ_INT(commit_submit(f->c, &x), TIX_RC_OK);
    ASSERT_EQ_INT(commit_submit(f->c, &y), TIX_RC_OK);
    ASSERT_EQ_INT(commit_submit(f->c, &z), TIX_RC_OK);
    gate_open(); /* the three run as one batch */
    gate_wait_done(3);
    ASSERT_EQ_INT(x.op.rc, TIX_RC_OK);
    ASSERT_EQ_INT(y.op.rc, TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(y.op.u.hold.taken_count, 1);
    ASSERT_EQ_INT(y.op.u.hold.taken[0], 0); /* A2, the first seat y asked for */
    ASSERT_EQ_INT(z.op.rc, TIX_RC_OK);
    ASSERT_EQ_INT(store_seat(f, "show", "A2"), HOLD_OF(x)->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "A3"), 0);
    ASSERT_EQ_INT(store_seat(f, "show", "A4"), HOLD_OF(z)->seq);
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(x)->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_HELD, HOLD_OF(x)->seq);
    ASSERT_INV_SEAT(ev, "A3", SEAT_AVAILABLE, 0);
    ASSERT_INV_SEAT(ev, "A4", SEAT_HELD, HOLD_OF(z)->seq);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 2);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", NULL), 2);
}

/* Group commit sized by load: after a batch of n >= COMMIT_GATHER_MIN commands, the writer waits
 * (at most gather_us) until n are queued again, then runs them as one batch. */
TEST(commit_after_a_batch_under_load_the_writer_gathers_as_many_before_the_next)
{
    enum { N = 10 };
    commit_config cfg = config_with(60000);
    cfg.gather_us = COMMIT_GATHER_US_MAX; /* 100 ms: far longer than the steps below */
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 2 * N, 1); /* rows A.., one seat each */
    ASSERT_NOT_NULL(ev);
    commit_cmd blocker, first[N], second[N];
    char seats[2 * N][2][8];
    const char *ids[2 * N][2];
    for (int i = 0; i < 2 * N; i++) {
        fx_row_label((uint32_t)i, seats[i][0]);
        strcat(seats[i][0], "1");
        ids[i][0] = seats[i][0];
        ids[i][1] = NULL;
    }
    TEST_CHECK(block_writer(f, &blocker));
    for (int i = 0; i < N; i++) { /* queued behind the blocker: one batch of N */
        hold_cmd(&first[i], ev, "u", ids[i]);
        first[i].on_done = gate_count_done;
        ASSERT_EQ_INT(commit_submit(f->c, &first[i]), TIX_RC_OK);
    }
    gate_open();
    gate_wait_done(N);
    /* N - 1 more, one by one: the writer waits for the Nth instead of running them */
    for (int i = 0; i < N - 1; i++) {
        hold_cmd(&second[i], ev, "v", ids[N + i]);
        second[i].on_done = gate_count_done;
        ASSERT_EQ_INT(commit_submit(f->c, &second[i]), TIX_RC_OK);
    }
    usleep(20 * 1000); /* time for a writer that did not wait to have run some */
    ASSERT_EQ_INT(gate_done(), N);
    hold_cmd(&second[N - 1], ev, "v", ids[2 * N - 1]);
    second[N - 1].on_done = gate_count_done;
    ASSERT_EQ_INT(commit_submit(f->c, &second[N - 1]), TIX_RC_OK);
    gate_wait_done(2 * N);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ_INT(first[i].op.rc, TIX_RC_OK);
        ASSERT_EQ_INT(second[i].op.rc, TIX_RC_OK);
    }
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 2 * N);
}

/* A single command after a large batch still runs: the gathering wait ends at gather_us. */
TEST(commit_a_lone_command_after_a_large_batch_runs_after_the_gathering_wait)
{
    enum { N = 10 };
    commit_config cfg = config_with(60000);
    cfg.gather_us = 2000;
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    commit_cmd blocker, pings[N + 1];
    TEST_CHECK(block_writer(f, &blocker));
    for (int i = 0; i <= N; i++) {
        ping_cmd(&pings[i]);
        pings[i].on_done = gate_count_done;
        if (i < N) ASSERT_EQ_INT(commit_submit(f->c, &pings[i]), TIX_RC_OK);
    }
    gate_open();
    gate_wait_done(N);
    ASSERT_EQ_INT(commit_submit(f->c, &pings[N]), TIX_RC_OK);
    gate_wait_done(N + 1); /* would hang if the wait had no end */
    ASSERT_EQ_INT(pings[N].op.rc, TIX_RC_OK);
}

TEST(commit_submit_answers_overloaded_when_the_queue_is_full)
{
    commit_config cfg = config_with(60000);
    cfg.queue_max = 2;
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    commit_cmd blocker, q[3];
    TEST_CHECK(block_writer(f, &blocker));
    for (int i = 0; i < 3; i++) {
        ping_cmd(&q[i]);
        q[i].on_done = gate_count_done;
    }
    tix_rc rc0 = commit_submit(f->c, &q[0]);
    tix_rc rc1 = commit_submit(f->c, &q[1]);
    tix_rc rc2 = commit_submit(f->c, &q[2]);
    gate_open();
    if (rc0 == TIX_RC_OK && rc1 == TIX_RC_OK) gate_wait_done(2);
    ASSERT_EQ_INT(rc0, TIX_RC_OK);
    ASSERT_EQ_INT(rc1, TIX_RC_OK);
    ASSERT_EQ_INT(rc2, TIX_RC_OVERLOADED);
    ASSERT_EQ_INT(ping(f), TIX_RC_OK); /* drained: accepted again */
    ASSERT_EQ_INT(gate_done(), 2);     /* the refused command's on_done never ran */
}

typedef struct stopper {
    commit *c;
    pthread_t thread;
    atomic_bool returned;
} stopper;

static void *stop_thread(void *arg)
{
    stopper *s = arg;
    commit_stop(s->c);
    atomic_store(&s->returned, true);
    return NULL;
}

static void stopper_join(void *arg)
{
    stopper *s = arg;
    if (!pthread_equal(s->thread, pthread_self())) pthread_join(s->thread, NULL);
}

TEST(commit_stop_drains_queued_commands_then_refuses_new_ones)
{
    commit_config cfg = config_with(60000);
    cfg.batch_max = 4; /* the queue drains over several batches */
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 2, 10);
    ASSERT_NOT_NULL(ev);
    enum { N = 20, PROBES_MAX = 200 };
    commit_cmd *cmds = calloc(N, sizeof(commit_cmd)),
               *probes = calloc(PROBES_MAX, sizeof(commit_cmd));
    test_defer(free, cmds);
    test_defer(free, probes);
    commit_cmd blocker;
    TEST_CHECK(block_writer(f, &blocker));
    for (int i = 0; i < N; i++) {
        char seat[8];
        snprintf(seat, sizeof(seat), "%c%d", 'A' + i / 10, i % 10 + 1);
        const char *seats[] = {seat, NULL};
        hold_cmd(&cmds[i], ev, "drain", seats);
        cmds[i].on_done = gate_count_done;
        ASSERT_EQ_INT(commit_submit(f->c, &cmds[i]), TIX_RC_OK);
    }
    stopper *s = calloc(1, sizeof(*s));
    test_defer(free, s);
    s->c = f->c;
    pthread_create(&s->thread, NULL, stop_thread, s);
    test_defer(stopper_join, s);
    test_defer(gate_open_cb, NULL); /* runs first: lets the writer, then the stopper, finish */
    /* Probe until commit_stop has begun: pings queued before that are drained too. */
    unsigned probes_queued = 0;
    tix_rc rc = TIX_RC_OK;
    while (probes_queued < PROBES_MAX) {
        commit_cmd *p = &probes[probes_queued];
        ping_cmd(p);
        p->on_done = gate_count_done;
        if ((rc = commit_submit(f->c, p)) != TIX_RC_OK) break;
        probes_queued++;
        sleep_ms(1);
    }
    ASSERT_EQ_INT(rc, TIX_RC_SHUTTING_DOWN);
    ASSERT_FALSE(atomic_load(&s->returned)); /* still draining, behind the gate */
    gate_open();
    pthread_join(s->thread, NULL);
    s->thread = pthread_self(); /* joined: the deferred join must not join it again */
    ASSERT_TRUE(atomic_load(&s->returned));
    ASSERT_EQ_INT(gate_done(), N + probes_queued); /* every queued command finished */
    for (int i = 0; i < N; i++)
        ASSERT_EQ_INT(cmds[i].op.rc, TIX_RC_OK);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds WHERE status = 'active'"), N);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), N);
    /* after stop: refused at once, on_done never called */
    commit_cmd late;
    ping_cmd(&late);
    late.on_done = gate_count_done;
    ASSERT_EQ_INT(commit_submit(f->c, &late), TIX_RC_SHUTTING_DOWN);
    ASSERT_EQ_INT(commit_submit_wait(f->c, &late), TIX_RC_SHUTTING_DOWN);
    ASSERT_EQ_INT(gate_done(), N + probes_queued);
    commit_stop(f->c); /* a second stop is harmless */
}

TEST(commit_a_restart_rebuilds_events_and_held_seats_from_a_snapshot)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 2, 3);
    ASSERT_NOT_NULL(ev);
    ASSERT_NOT_NULL(create_event(f, "other", 600, 1, 1));
    commit_cmd h1, h2, h3, r;
    static const char *const s1[] = {"A1", "A2", NULL}, *const s2[] = {"A3", NULL},
                             *const s3[] = {"B1", NULL};
    ASSERT_EQ_INT(hold(f, ev, s1, &h1), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, s2, &h2), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, s3, &h3), TIX_RC_OK);
    ASSERT_EQ_INT(release(f, HOLD_OF(h2)->id, &r), TIX_RC_OK);
    fixture_shutdown(f);

    store_options so = {.data_dir = f->dir, .readers = 2};
    char err[256] = "";
    ASSERT_EQ_INT(store_open(&so, &f->st, err, sizeof(err)), 0);
    f->inv = inventory_create();
    feed_config fc = {.poll_ms = 20, .page_max = 256};
    f->follower = feed_open(f->st, f->inv, &fc); /* the inventory, from a snapshot */
    ASSERT_NOT_NULL(f->follower);
    inv_event *list[4];
    ASSERT_EQ_INT(inventory_list(f->inv, list, 4), 2);
    ASSERT_EQ_STR(list[0]->spec.id, "show");
    ASSERT_EQ_STR(list[1]->spec.id, "other");
    ev = list[0];
    ASSERT_EQ_INT(ev->seat_count, 6);
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(h1)->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_HELD, HOLD_OF(h1)->seq);
    ASSERT_INV_SEAT(ev, "A3", SEAT_AVAILABLE, 0);
    ASSERT_INV_SEAT(ev, "B1", SEAT_HELD, HOLD_OF(h3)->seq);
    ASSERT_EQ_INT(ev->seats[seat_index(ev, "A1")].hold_expires_ms, HOLD_OF(h1)->expires_at_ms);
    inv_counts c = inv_event_counts(ev, clock_now_ms());
    ASSERT_EQ_INT(c.held, 3);
    ASSERT_EQ_INT(inv_event_version(ev), feed_position(f->follower));
    /* and the writer goes on from there */
    f->c = commit_start(f->st, &cfg);
    ASSERT_NOT_NULL(f->c);
    commit_on_changes(f->c, feed_apply_committed, f->follower);
    commit_cmd again;
    ASSERT_EQ_INT(hold(f, ev, s1, &again), TIX_RC_SEAT_UNAVAILABLE);
    ASSERT_EQ_INT(hold(f, ev, s2, &again), TIX_RC_OK);
    ASSERT_EQ_INT(release(f, HOLD_OF(h1)->id, &r), TIX_RC_OK);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
}

/* ---- store failures ---- */

/* A fatal failure, injected with a trigger that makes one kind of outbox row fail. */
static int fail_outbox_rows(fixture *f, const char *type)
{
    return fx_sql_exec(f->dir,
                       "CREATE TRIGGER inject_failure BEFORE INSERT ON outbox"
                       " WHEN NEW.type = '%s' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                       type);
}

static int stop_failing(fixture *f)
{
    return fx_sql_exec(f->dir, "DROP TRIGGER IF EXISTS inject_failure");
}

/* An unavailable store: every write of the database fails (the VFS shim's fault files). */
static void no_fault_dir(void *arg)
{
    (void)arg;
    store_sqlite_set_fault_dir(NULL);
}

static int fail_writes(fixture *f, bool on)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/fail-write", f->dir);
    if (!on) return unlink(path);
    FILE *file = fopen(path, "w");
    return file ? fclose(file) : -1;
}

/* Queue, behind the blocked writer, x (a hold of A2 by "x"), e (event `event_id`) and r (a
 * release of held), let the writer run them as one batch and wait for the three. Returns 0, or
 * -1 when one was not queued. */
static int run_three(fixture *f, inv_event *ev, const commit_cmd *held, const char *event_id,
                     commit_cmd *x, commit_cmd *e, commit_cmd *r)
{
    static const char *const a2[] = {"A2", NULL};
    hold_cmd(x, ev, "x", a2);
    event_cmd(e, event_id, 600, 1, 2);
    release_cmd(r, HOLD_OF(*held)->id);
    x->on_done = e->on_done = r->on_done = gate_count_done;
    tix_rc rx = commit_submit(f->c, x), re = commit_submit(f->c, e), rr = commit_submit(f->c, r);
    gate_open();
    bool queued = rx == TIX_RC_OK && re == TIX_RC_OK && rr == TIX_RC_OK;
    if (queued) gate_wait_done(3);
    return queued ? 0 : -1;
}

TEST(commit_store_failure_fails_the_whole_batch_and_changes_neither_memory_nor_disk)
{
    store_sqlite_set_fault_dir(test_tmpdir()); /* the shim watches the store's own dir */
    test_defer(no_fault_dir, NULL);
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 4);
    ASSERT_NOT_NULL(ev);
    commit_cmd held, blocker, x, e, r;
    static const char *const a1[] = {"A1", NULL}, *const a2[] = {"A2", NULL};
    ASSERT_EQ_INT(hold(f, ev, a1, &held), TIX_RC_OK);
    int64_t position = feed_position(f->follower);

    /* one batch: a hold, an event and a release, while the disk refuses every write */
    TEST_CHECK(block_writer(f, &blocker));
    ASSERT_EQ_INT(fail_writes(f, true), 0);
    int queued = run_three(f, ev, &held, "never", &x, &e, &r);
    ASSERT_EQ_INT(fail_writes(f, false), 0);
    model_event_spec_free(&e.op.u.event_create.spec);
    ASSERT_EQ_INT(queued, 0);
    ASSERT_EQ_INT(x.op.rc, TIX_RC_STORE_ERROR);
    ASSERT_EQ_INT(e.op.rc, TIX_RC_STORE_ERROR);
    ASSERT_EQ_INT(r.op.rc, TIX_RC_STORE_ERROR);
    /* disk: as before the batch */
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 1);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(held)->id, "active"));
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), HOLD_OF(held)->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "A2"), 0);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM events WHERE id = 'never'"), 0);
    ASSERT_EQ_INT(outbox_count(f, "HoldCreated", NULL), 1);
    ASSERT_EQ_INT(outbox_count(f, "EventCreated", NULL), 1);
    /* memory: as before the batch */
    ASSERT_EQ_INT(feed_position(f->follower), position);
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(held)->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_AVAILABLE, 0);
    ASSERT_NULL(inventory_find(f->inv, "never", 5));
    /* the writer recovers once the store does */
    commit_cmd again;
    ASSERT_EQ_INT(hold(f, ev, a2, &again), TIX_RC_OK);
    ASSERT_EQ_INT(release(f, HOLD_OF(held)->id, &again), TIX_RC_OK);
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), 0);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
}

/* A store that refuses one command as inconsistent (STORE_FATAL) fails that command only: the
 * batch runs again command by command, and its neighbours commit. */
TEST(commit_a_fatal_command_fails_alone_and_its_neighbours_commit)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 4);
    ASSERT_NOT_NULL(ev);
    commit_cmd held, blocker, x, e, r;
    static const char *const a1[] = {"A1", NULL};
    ASSERT_EQ_INT(hold(f, ev, a1, &held), TIX_RC_OK);
    TEST_CHECK(block_writer(f, &blocker));
    ASSERT_EQ_INT(fail_outbox_rows(f, "HoldReleased"), 0);
    int queued = run_three(f, ev, &held, "fine", &x, &e, &r);
    model_event_spec_free(&e.op.u.event_create.spec);
    ASSERT_EQ_INT(queued, 0);
    ASSERT_EQ_INT(x.op.rc, TIX_RC_OK);
    ASSERT_EQ_INT(e.op.rc, TIX_RC_OK);
    ASSERT_EQ_INT(r.op.rc, TIX_RC_STORE_FATAL);
    ASSERT_TRUE(store_hold_status_is(f, HOLD_OF(held)->id, "active"));
    ASSERT_EQ_INT(store_seat(f, "show", "A1"), HOLD_OF(held)->seq);
    ASSERT_EQ_INT(store_seat(f, "show", "A2"), HOLD_OF(x)->seq);
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(held)->seq);
    ASSERT_INV_SEAT(ev, "A2", SEAT_HELD, HOLD_OF(x)->seq);
    ASSERT_NOT_NULL(inventory_find(f->inv, "fine", 4));
    ASSERT_EQ_INT(stop_failing(f), 0);
    commit_cmd again;
    ASSERT_EQ_INT(release(f, HOLD_OF(held)->id, &again), TIX_RC_OK);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
}

TEST(commit_hold_whose_outbox_row_cannot_be_written_keeps_nothing)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 4);
    ASSERT_NOT_NULL(ev);
    ASSERT_EQ_INT(fail_outbox_rows(f, "HoldCreated"), 0);
    commit_cmd x;
    static const char *const seats[] = {"A1", "A2", NULL};
    ASSERT_EQ_INT(hold(f, ev, seats, &x), TIX_RC_STORE_FATAL);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM holds"), 0);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 0);
    ASSERT_INV_SEAT(ev, "A1", SEAT_AVAILABLE, 0);
    ASSERT_INV_SEAT(ev, "A2", SEAT_AVAILABLE, 0);
    ASSERT_EQ_INT(stop_failing(f), 0);
    ASSERT_EQ_INT(hold(f, ev, seats, &x), TIX_RC_OK);
    ASSERT_INV_SEAT(ev, "A1", SEAT_HELD, HOLD_OF(x)->seq);
}

/* Another process holds the database's write lock for a while: the store answers RETRY once
 * its short busy timeout passes, and the writer runs the batch again until it commits. */
typedef struct locker {
    char path[512];
    int hold_ms;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool locked;
} locker;

static void *lock_for_a_while(void *arg)
{
    locker *l = arg;
    sqlite3 *db = NULL;
    sqlite3_open(l->path, &db);
    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    pthread_mutex_lock(&l->mutex);
    l->locked = true;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->mutex);
    sleep_ms(l->hold_ms);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return NULL;
}

TEST(commit_a_batch_the_store_asks_to_run_again_commits_once_the_other_writer_is_done)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open_waiting(&cfg, 20); /* gives up on the lock after 20 ms */
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "show", 600, 1, 4);
    ASSERT_NOT_NULL(ev);
    locker l = {
        .hold_ms = 40, .mutex = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    snprintf(l.path, sizeof(l.path), "%s/tix.db", f->dir);
    pthread_t thread;
    pthread_create(&thread, NULL, lock_for_a_while, &l);
    pthread_mutex_lock(&l.mutex);
    while (!l.locked)
        pthread_cond_wait(&l.cond, &l.mutex);
    pthread_mutex_unlock(&l.mutex);
    commit_cmd x;
    static const char *const seats[] = {"A3", NULL};
    tix_rc rc = hold(f, ev, seats, &x);
    pthread_join(thread, NULL);
    ASSERT_EQ_INT(rc, TIX_RC_OK);
    ASSERT_EQ_INT(store_seat(f, "show", "A3"), HOLD_OF(x)->seq);
    ASSERT_INV_SEAT(ev, "A3", SEAT_HELD, HOLD_OF(x)->seq);
}

/* ---- contention: 16 threads x 200 holds on a 64-seat event ---- */

enum { CT_THREADS = 16, CT_HOLDS = 200, CT_ROWS = 8, CT_SEATS_PER_ROW = 8 };

typedef struct ct_hold {
    char id[TIX_HOLD_ID_LEN + 1];
    int64_t seq;
    uint32_t seat_count;
    uint32_t seats[4];
    bool released;
} ct_hold;

typedef struct ct_thread {
    fixture *f;
    inv_event *ev;
    unsigned seed;
    uint32_t ok, unavailable, skipped, released, errors;
    uint32_t count;
    ct_hold holds[CT_HOLDS];
} ct_thread;

static void ct_error(ct_thread *t, const char *fmt, int a, int b)
{
    if (t->errors++ < 5) test_fail(__FILE__, __LINE__, fmt, a, b);
}

static void *ct_run(void *arg)
{
    ct_thread *t = arg;
    commit_cmd *cmd = malloc(sizeof(*cmd));
    uint32_t attempts = 0;
    while (attempts < CT_HOLDS) {
        /* now and then, release one of our active holds: it must succeed */
        uint32_t active[CT_HOLDS], n_active = 0;
        for (uint32_t i = 0; i < t->count; i++)
            if (!t->holds[i].released) active[n_active++] = i;
        if (n_active > 0 && rand_r(&t->seed) % 100 < 35) {
            ct_hold *h = &t->holds[active[(uint32_t)rand_r(&t->seed) % n_active]];
            release_cmd(cmd, h->id);
            tix_rc rc = commit_submit_wait(t->f->c, cmd);
            if (rc != TIX_RC_OK)
                ct_error(t, "release of an own active hold: rc %d (%d)", rc, 0);
            else if (cmd->op.u.release.hold.seq != h->seq)
                ct_error(t, "released seq mismatch %d %d", 0, 0);
            h->released = true;
            t->released++;
            continue;
        }
        attempts++;
        uint32_t k = 1 + (uint32_t)rand_r(&t->seed) % 4, seats[4];
        for (uint32_t i = 0; i < k; i++) {
            bool again;
            do {
                seats[i] = (uint32_t)rand_r(&t->seed) % t->ev->seat_count;
                again = false;
                for (uint32_t j = 0; j < i; j++)
                    again |= seats[j] == seats[i];
            } while (again);
        }
        /* half the time, check memory first as the API does (and skip a hopeless request) */
        if (rand_r(&t->seed) % 2) {
            uint32_t taken[4];
            if (inv_event_find_taken(t->ev, seats, k, clock_now_ms(), taken) > 0) {
                t->skipped++;
                continue;
            }
        }
        memset(cmd, 0, sizeof(*cmd));
        store_cmd_init(&cmd->op, STORE_CMD_HOLD);
        hold_record *hr = &cmd->op.u.hold.hold;
        snprintf(hr->event_id, sizeof(hr->event_id), "%s", t->ev->spec.id);
        hr->seat_count = k;
        for (uint32_t i = 0; i < k; i++)
            inv_event_seat_id(t->ev, seats[i], hr->seat_ids[i]);
        snprintf(hr->user_id, sizeof(hr->user_id), "user-%u", t->seed % 1000);
        tix_rc rc = commit_submit_wait(t->f->c, cmd);
        const store_hold *out = &cmd->op.u.hold;
        if (rc == TIX_RC_OK) {
            ct_hold *h = &t->holds[t->count++];
            memcpy(h->id, out->hold.id, sizeof(h->id));
            h->seq = out->hold.seq;
            h->seat_count = k;
            memcpy(h->seats, seats, sizeof(uint32_t) * k);
            h->released = false;
            t->ok++;
            if (out->hold.seat_count != k)
                ct_error(t, "hold has %d seats, want %d", (int)out->hold.seat_count, (int)k);
        } else if (rc == TIX_RC_SEAT_UNAVAILABLE) {
            t->unavailable++;
            if (out->taken_count < 1 || out->taken_count > k)
                ct_error(t, "taken_count %d of %d", (int)out->taken_count, (int)k);
            for (uint32_t i = 0; i < out->taken_count; i++)
                if (out->taken[i] >= k)
                    ct_error(t, "taken seat %d was not asked for (%d)", (int)out->taken[i], 0);
        } else {
            ct_error(t, "hold: unexpected rc %d (%d)", rc, 0);
        }
    }
    free(cmd);
    return NULL;
}

/* One integer from the database (an open connection); -1 on error. */
static int64_t ct_sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        fprintf(stderr, "commit_test: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return v;
}

static void ct_threads_free(void *arg)
{
    free(arg);
}

static void ct_db_close(void *arg)
{
    sqlite3_close(arg);
}

TEST(commit_contention_keeps_every_invariant_between_holds_store_and_inventory)
{
    commit_config cfg = config_with(60000);
    fixture *f = fixture_open(&cfg);
    ASSERT_NOT_NULL(f);
    inv_event *ev = create_event(f, "arena", 600, CT_ROWS, CT_SEATS_PER_ROW);
    ASSERT_NOT_NULL(ev);
    ASSERT_EQ_INT(ev->seat_count, 64);
    ct_thread *threads = calloc(CT_THREADS, sizeof(*threads));
    test_defer(ct_threads_free, threads);
    pthread_t ids[CT_THREADS];
    int64_t started = clock_mono_ms();
    for (int i = 0; i < CT_THREADS; i++) {
        threads[i].f = f;
        threads[i].ev = ev;
        threads[i].seed = 7919u * (unsigned)(i + 1);
        pthread_create(&ids[i], NULL, ct_run, &threads[i]);
    }
    for (int i = 0; i < CT_THREADS; i++)
        pthread_join(ids[i], NULL);
    int64_t took = clock_mono_ms() - started;
    commit_stop(f->c); /* everything committed and applied; memory and disk are quiet now */

    uint32_t ok = 0, unavailable = 0, skipped = 0, released = 0, errors = 0;
    for (int i = 0; i < CT_THREADS; i++) {
        ok += threads[i].ok;
        unavailable += threads[i].unavailable;
        skipped += threads[i].skipped;
        released += threads[i].released;
        errors += threads[i].errors;
    }
    test_note("%d threads x %d holds in %lld ms: %u ok, %u refused by the store, %u refused "
              "from memory, %u released",
              CT_THREADS, CT_HOLDS, (long long)took, ok, unavailable, skipped, released);
    ASSERT_EQ_INT(errors, 0);
    ASSERT_GT(ok, 0);
    ASSERT_GT(unavailable, 0); /* the store had to decide some races */

    char path[300];
    snprintf(path, sizeof(path), "%s/tix.db", f->dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    test_defer(ct_db_close, db);

    /* 1. no seat is listed by two active holds */
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM (SELECT j.value FROM holds h,"
                                 " json_each(h.seat_ids) j WHERE h.status = 'active'"
                                 " GROUP BY j.value HAVING COUNT(*) > 1)"),
                  0);
    /* 2. every active hold's seats are held, by it */
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM holds h, json_each(h.seat_ids) j"
                                 " LEFT JOIN seats s ON s.event_id = h.event_id"
                                 " AND s.seat_id = j.value WHERE h.status = 'active'"
                                 " AND (s.status IS NOT 'held' OR s.hold_seq IS NOT h.seq)"),
                  0);
    /* 3. every held seat belongs to an active hold that lists it; free seats have no holder */
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM seats s WHERE s.status <> 'available'"
                                 " AND NOT EXISTS (SELECT 1 FROM holds h, json_each(h.seat_ids) j"
                                 " WHERE h.seq = s.hold_seq AND h.status = 'active'"
                                 " AND j.value = s.seat_id)"),
                  0);
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM seats WHERE status = 'available'"
                                 " AND hold_seq IS NOT NULL"),
                  0);
    /* 4. refused holds left nothing; every change has its outbox row */
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM holds"), ok);
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM holds WHERE status = 'released'"), released);
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM holds WHERE status NOT IN"
                                 " ('active', 'released')"),
                  0);
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM outbox WHERE type = 'HoldCreated'"), ok);
    ASSERT_EQ_INT(ct_sql_int(db, "SELECT COUNT(*) FROM outbox WHERE type = 'HoldReleased'"),
                  released);

    /* 5. every OK hold is in the store with exactly its seats, and the right status */
    sqlite3_stmt *st = NULL;
    ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT seq, status, seat_ids FROM holds WHERE id = ?", -1,
                                     &st, NULL),
                  SQLITE_OK);
    for (int i = 0; i < CT_THREADS; i++) {
        for (uint32_t k = 0; k < threads[i].count; k++) {
            const ct_hold *h = &threads[i].holds[k];
            char want[160] = "[";
            for (uint32_t s = 0; s < h->seat_count; s++) {
                char id[TIX_SEAT_ID_LEN_MAX];
                inv_event_seat_id(ev, h->seats[s], id);
                snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s\"%s\"", s ? "," : "",
                         id);
            }
            strcat(want, "]");
            sqlite3_bind_text(st, 1, h->id, -1, SQLITE_STATIC);
            bool row = sqlite3_step(st) == SQLITE_ROW;
            int64_t seq = row ? sqlite3_column_int64(st, 0) : -1;
            char status[16] = "", seat_ids[160] = "";
            if (row) {
                snprintf(status, sizeof(status), "%s", (const char *)sqlite3_column_text(st, 1));
                snprintf(seat_ids, sizeof(seat_ids), "%s",
                         (const char *)sqlite3_column_text(st, 2));
            }
            sqlite3_reset(st);
            if (!row || seq != h->seq || strcmp(seat_ids, want) != 0 ||
                strcmp(status, h->released ? "released" : "active") != 0) {
                test_fail(__FILE__, __LINE__,
                          "hold %s: row %d seq %lld/%lld status %s seats %s"
                          " (want %s)",
                          h->id, row, (long long)seq, (long long)h->seq, status, seat_ids, want);
                sqlite3_finalize(st);
                return;
            }
        }
    }
    sqlite3_finalize(st);

    /* 6. the inventory agrees with the store, seat by seat */
    ASSERT_EQ_INT(sqlite3_prepare_v2(db,
                                     "SELECT status, COALESCE(hold_seq, 0) FROM seats"
                                     " WHERE event_id = 'arena' AND seat_id = ?",
                                     -1, &st, NULL),
                  SQLITE_OK);
    uint32_t held = 0;
    for (uint32_t i = 0; i < ev->seat_count; i++) {
        char id[TIX_SEAT_ID_LEN_MAX];
        inv_event_seat_id(ev, i, id);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        bool row = sqlite3_step(st) == SQLITE_ROW;
        seat_status want = SEAT_AVAILABLE;
        if (row) model_seat_status_parse((const char *)sqlite3_column_text(st, 0), &want);
        int64_t want_seq = row ? sqlite3_column_int64(st, 1) : -1;
        sqlite3_reset(st);
        if (!row || ev->seats[i].status != want || ev->seats[i].hold_seq != want_seq) {
            test_fail(__FILE__, __LINE__, "seat %s: inventory %d/%lld, store %d/%lld", id,
                      ev->seats[i].status, (long long)ev->seats[i].hold_seq, want,
                      (long long)want_seq);
            sqlite3_finalize(st);
            return;
        }
        held += want == SEAT_HELD;
    }
    sqlite3_finalize(st);
    inv_counts c = inv_event_counts(ev, clock_now_ms());
    ASSERT_EQ_INT(c.held, held);
    ASSERT_EQ_INT(c.held + c.available, 64);
}

/* --max-seats-per-user: decided by the writer from the store, so holds of one buyer queued in
 * the same batch cannot pass it together. */
TEST(commit_a_buyer_cannot_hold_more_seats_of_an_event_than_the_limit)
{
    commit_config config = config_with(60000);
    config.rules.user_seats_max = 3;
    fixture *f = fixture_open(&config);
    if (!f) return;
    inv_event *ev = create_event(f, "limited", 600, 1, 10);
    if (!ev) return;
    static const char *const two[] = {"A1", "A2", NULL};
    static const char *const two_more[] = {"A3", "A4", NULL};
    static const char *const one_more[] = {"A5", NULL};
    commit_cmd *a = calloc(3, sizeof(*a));
    test_defer(free, a);
    ASSERT_EQ_INT(hold(f, ev, two, &a[0]), TIX_RC_OK);
    ASSERT_EQ_INT(hold(f, ev, two_more, &a[1]), TIX_RC_USER_LIMIT);
    ASSERT_EQ_INT(hold(f, ev, one_more, &a[2]), TIX_RC_OK);
    ASSERT_EQ_INT(fx_sql_int(f->dir, -1, "SELECT COUNT(*) FROM seats WHERE status = 'held'"), 3);
    commit_cmd *r = calloc(1, sizeof(*r));
    test_defer(free, r);
    ASSERT_EQ_INT(release(f, HOLD_OF(a[0])->id, r), TIX_RC_OK); /* frees two seats of quota */
    ASSERT_EQ_INT(hold(f, ev, two_more, &a[1]), TIX_RC_OK);
}
