/* Tests for src/bus/dispatcher.c: starting and stopping the event bus. */
#include "../test.h"

#include "bus/dispatcher.h"
#include "commit/commit.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <time.h>

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = us * 1000};
    nanosleep(&ts, NULL);
}

/* Regression: the dispatcher queued the deliveries of a claim that returned while the bus
 * was stopping, after the workers had gone: nobody freed those jobs (LeakSanitizer caught it
 * at a server's exit). Stopping the bus at every moment of its claim loop must leave nothing
 * behind, under ASan's leak check at exit. */
TEST(bus_stopping_at_any_moment_leaks_nothing)
{
    const char *dir = test_tmpdir();
    char err[256] = "", mail_dir[512];
    store *st = NULL;
    store_options so = {.data_dir = dir, .readers = 1};
    ASSERT_EQ_INT(store_sqlite_open(&so, &st, err, sizeof(err)), 0);
    inventory *inv = inventory_create();
    ASSERT_TRUE(inv != NULL);
    commit_config cc = commit_config_default();
    commit *writer = commit_start(st, &cc);
    ASSERT_TRUE(writer != NULL);
    pay_config pc = {.kind = "simulated"};
    pay_provider *pay = pay_create(&pc, err, sizeof(err));
    snprintf(mail_dir, sizeof(mail_dir), "%s/mail", dir);
    mailer *mail = mailer_create(mail_dir, NULL, "tix <t@tix.invalid>", err, sizeof(err));
    ASSERT_TRUE(pay != NULL && mail != NULL);
    /* plenty of due deliveries (about bookings that do not exist: each is done at once), so
     * that every claim returns work */
    char path[600], *sql_err = NULL;
    snprintf(path, sizeof(path), "%s/tix.db", dir);
    sqlite3 *db = NULL;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    int rc = sqlite3_exec(db,
                          "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE"
                          " i < 5000) INSERT INTO outbox(seq, id, type, event_id, aggregate_id,"
                          " time_ms, data) SELECT i, printf('%032x', i), 'BookingConfirmed', 'e',"
                          " 'no-such-booking', 0, '{}' FROM n;"
                          "INSERT INTO deliveries(outbox_seq, subscriber_id, aggregate_id, status,"
                          " next_attempt_ms, updated_at_ms) SELECT seq, 'notification', 'b' || seq,"
                          " 'pending', 0, 0 FROM outbox;",
                          NULL, NULL, &sql_err);
    sqlite3_free(sql_err);
    sqlite3_close(db);
    ASSERT_EQ_INT(rc, SQLITE_OK);
    bus_config bc = {.workers = 2,
                     .poll_ms = 1,
                     .webhook_timeout_ms = 1000,
                     .max_attempts = 3,
                     .retry_base_ms = 1000,
                     .retry_max_ms = 60000};
    for (int i = 0; i < 100; i++) {
        bus *b = bus_start(writer, st, inv, pay, mail, &bc);
        ASSERT_TRUE(b != NULL);
        bus_wake(b);
        sleep_us(100 * (i % 20));
        bus_stop(b);
    }
    commit_destroy(writer);
    mailer_destroy(mail);
    pay_destroy(pay);
    inventory_destroy(inv);
    store_close(st);
}
