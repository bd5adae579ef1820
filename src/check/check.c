/* check: the invariant checks of a tix store; see check.h for the contract.
 *
 * Each check is one small function: a contract comment saying which invariant it states and
 * one SQL query returning one row (a single `key=value ...` text column) per violation,
 * ordered so that the output is stable. Queries may use three parameters, bound by name when
 * present: :now (ms), :grace (ms) and :max_attempts.
 *
 * Vocabulary of the comments:
 *  - a hold is live while it is active or in checkout; a hold whose booking is confirmed
 *    (booked, or taken again by a payment that arrived after its hold had ended) keeps its
 *    seats as sold. Such holds "claim" their seats. A booked hold whose booking was cancelled
 *    claims nothing (the cancel freed its seats).
 *  - seat_ids of holds and bookings are JSON arrays of seat id strings; malformed ones are
 *    reported by seat_ids_malformed and read as empty by every other check (CHECK_IDS), so
 *    that one bad row cannot stop the run. */
#include "check/check.h"

#include <assert.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum {
    /* the schema versions (store__migrations of store_sqlite.c) whose tables and columns the
     * checks read: version 2 changed only how CHECK constraints are written */
    CHECK_SCHEMA_VERSION_MIN = 1,
    CHECK_SCHEMA_VERSION_MAX = 4,  /* 4 added an index only */
    CHECK_SCHEMA_VERSION_FEED = 3, /* the change feed exists from this version on */
    CHECK_BUSY_TIMEOUT_MS = 10000,
    CHECK_URI_MAX = 4096 * 3 + 64,
};

/* A JSON array column, or '[]' when it is not one (never an error inside json_each). */
#define CHECK_IDS(col)                                                                             \
    "(CASE WHEN json_valid(" col ") THEN CASE json_type(" col ") WHEN 'array' THEN " col           \
    " ELSE '[]' END ELSE '[]' END)"

/* Holds that claim their seats (see the vocabulary above): seq, id, event_id, seat_ids. */
#define CHECK_CLAIMING_HOLDS                                                                       \
    "SELECT seq, id, event_id, seat_ids FROM holds WHERE status IN ('active', 'checkout')"         \
    " UNION ALL SELECT h.seq, h.id, h.event_id, h.seat_ids FROM holds h"                           \
    " JOIN bookings b ON b.hold_seq = h.seq"                                                       \
    " WHERE b.status = 'confirmed' AND h.status NOT IN ('active', 'checkout')"

typedef struct check_run {
    sqlite3 *db;
    int schema_version;
    const check_config *config;
    check_tally tally;
    char *err;
    size_t err_len;
} check_run;

void check_tally_violation(const check_tally *t, const char *kind, uint64_t found,
                           const char *details)
{
    if (found <= t->config->report_max) t->sink->on_violation(t->sink->ctx, kind, details);
}

void check_tally_done(const check_tally *t, const char *kind, uint64_t found)
{
    if (found > t->config->report_max && t->sink->on_truncated)
        t->sink->on_truncated(t->sink->ctx, kind, found - t->config->report_max);
    t->summary->checks_run++;
    t->summary->violations += found;
}

/* Run one check's query: report each row (up to report_max), count them all. Returns 0, or
 * -1 when the query failed (the reason is in run->err). */
static int check__query(check_run *run, const char *kind, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(run->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(run->err, run->err_len, "check %s: cannot prepare its query: %s", kind,
                 sqlite3_errmsg(run->db));
        return -1;
    }
    int i;
    if ((i = sqlite3_bind_parameter_index(st, ":now")) > 0)
        sqlite3_bind_int64(st, i, run->config->now_ms);
    if ((i = sqlite3_bind_parameter_index(st, ":grace")) > 0)
        sqlite3_bind_int64(st, i, run->config->sweep_grace_ms);
    if ((i = sqlite3_bind_parameter_index(st, ":max_attempts")) > 0)
        sqlite3_bind_int64(st, i, run->config->max_attempts);
    uint64_t found = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *details = (const char *)sqlite3_column_text(st, 0);
        check_tally_violation(&run->tally, kind, ++found, details ? details : "");
    }
    if (rc != SQLITE_DONE) {
        snprintf(run->err, run->err_len, "check %s: query failed: %s", kind,
                 sqlite3_errmsg(run->db));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    check_tally_done(&run->tally, kind, found);
    return 0;
}

/* seat_ids of every hold and booking is a JSON array of strings. */
static int check__seat_ids_malformed(check_run *run)
{
    return check__query(
        run, "seat_ids_malformed",
        "SELECT printf('hold=%s seq=%d seat_ids=%s', id, seq, quote(substr(seat_ids, 1, 60)))"
        " FROM holds WHERE NOT (CASE WHEN json_valid(seat_ids) THEN json_type(seat_ids) = 'array'"
        "  AND NOT EXISTS (SELECT 1 FROM json_each(seat_ids) WHERE type <> 'text') ELSE 0 END)"
        " UNION ALL"
        " SELECT printf('booking=%s seq=%d seat_ids=%s', id, seq, quote(substr(seat_ids, 1, 60)))"
        " FROM bookings WHERE NOT (CASE WHEN json_valid(seat_ids)"
        "  THEN json_type(seat_ids) = 'array'"
        "  AND NOT EXISTS (SELECT 1 FROM json_each(seat_ids) WHERE type <> 'text') ELSE 0 END)");
}

/* A seat that is held or sold names its hold (hold_seq), and that hold exists. */
static int check__seat_hold_missing(check_run *run)
{
    return check__query(
        run, "seat_hold_missing",
        "SELECT printf('event=%s seat=%s status=%s hold_seq=%s', s.event_id, s.seat_id,"
        "  s.status, ifnull(s.hold_seq, 'NULL'))"
        " FROM seats s WHERE s.status <> 'available' AND (s.hold_seq IS NULL"
        "  OR NOT EXISTS (SELECT 1 FROM holds h WHERE h.seq = s.hold_seq))"
        " ORDER BY s.event_id, s.seat_id");
}

/* The hold of a held or sold seat is of the seat's event and lists the seat. */
static int check__seat_not_in_hold(check_run *run)
{
    return check__query(
        run, "seat_not_in_hold",
        "SELECT printf('event=%s seat=%s status=%s hold=%s hold_event=%s', s.event_id,"
        "  s.seat_id, s.status, h.id, h.event_id)"
        " FROM seats s JOIN holds h ON h.seq = s.hold_seq"
        " WHERE s.status <> 'available' AND (h.event_id <> s.event_id OR NOT EXISTS"
        "  (SELECT 1 FROM json_each(" CHECK_IDS("h.seat_ids") ") j WHERE j.value = s.seat_id))"
                                                              " ORDER BY s.event_id, s.seat_id");
}

/* A held seat's hold is live (active or checkout): a seat still held for a released,
 * expired or booked hold was never given back. */
static int check__seat_held_by_ended_hold(check_run *run)
{
    return check__query(
        run, "seat_held_by_ended_hold",
        "SELECT printf('event=%s seat=%s hold=%s hold_status=%s', s.event_id, s.seat_id, h.id,"
        "  h.status)"
        " FROM seats s JOIN holds h ON h.seq = s.hold_seq"
        " WHERE s.status = 'held' AND h.status NOT IN ('active', 'checkout')"
        " ORDER BY s.event_id, s.seat_id");
}

/* No seat is claimed by two holds (live ones, or ones with a confirmed booking) at once. */
static int check__seat_in_two_holds(check_run *run)
{
    return check__query(
        run, "seat_in_two_holds",
        "SELECT printf('event=%s seat=%s holds=%s', event_id, seat_id, group_concat(id, ','))"
        " FROM (SELECT c.event_id, j.value AS seat_id, c.id, c.seq"
        "  FROM (" CHECK_CLAIMING_HOLDS
        ") c, json_each(" CHECK_IDS("c.seat_ids") ") j"
                                                  "  ORDER BY c.seq)"
                                                  " GROUP BY event_id, seat_id HAVING count(*) > 1 "
                                                  "ORDER BY event_id, seat_id");
}

/* Every seat of a live hold is held by it; every seat of a booked hold whose booking is
 * confirmed is sold to it. */
static int check__hold_seat_not_taken(check_run *run)
{
    return check__query(
        run, "hold_seat_not_taken",
        "SELECT printf('hold=%s hold_seq=%d hold_status=%s event=%s seat=%s seat_status=%s"
        " seat_hold_seq=%s', h.id, h.seq, h.status, h.event_id, j.value,"
        "  ifnull(s.status, 'missing'), ifnull(s.hold_seq, 'NULL'))"
        " FROM holds h, json_each(" CHECK_IDS(
            "h.seat_ids") ") j"
                          " LEFT JOIN seats s ON s.event_id = h.event_id AND s.seat_id = j.value"
                          " WHERE h.status IN ('active', 'checkout', 'booked') AND ((h.status <> "
                          "'booked'"
                          "   AND (s.status IS NOT 'held' OR s.hold_seq IS NOT h.seq))"
                          "  OR (h.status = 'booked' AND EXISTS (SELECT 1 FROM bookings b WHERE "
                          "b.hold_seq = h.seq"
                          "   AND b.status = 'confirmed') AND (s.status IS NOT 'sold' OR "
                          "s.hold_seq IS NOT h.seq)))"
                          " ORDER BY h.seq, j.key");
}

/* A booked hold has a booking that was confirmed (and is still, or was then cancelled). */
static int check__hold_booked_without_booking(check_run *run)
{
    return check__query(
        run, "hold_booked_without_booking",
        "SELECT printf('hold=%s seq=%d booking=%s booking_status=%s', h.id, h.seq,"
        "  ifnull(b.id, 'none'), ifnull(b.status, 'none'))"
        " FROM holds h LEFT JOIN bookings b ON b.hold_seq = h.seq"
        " WHERE h.status = 'booked' AND b.status IS NOT 'confirmed' AND b.status IS NOT 'cancelled'"
        " ORDER BY h.seq");
}

/* A hold active or in checkout past its expiry by more than the sweep grace: the sweeper
 * should have ended it (its seats read as available, but the store still says held). */
static int check__hold_stale(check_run *run)
{
    return check__query(
        run, "hold_stale",
        "SELECT printf('hold=%s hold_status=%s event=%s expires_at_ms=%d overdue_ms=%d', id,"
        "  status, event_id, expires_at_ms, :now - expires_at_ms)"
        " FROM holds WHERE status IN ('active', 'checkout') AND expires_at_ms < :now - :grace"
        " ORDER BY expires_at_ms, seq");
}

/* A sold seat belongs to a confirmed booking of its hold (and its event). */
static int check__sold_seat_without_booking(check_run *run)
{
    return check__query(
        run, "sold_seat_without_booking",
        "SELECT printf('event=%s seat=%s hold_seq=%s booking=%s booking_status=%s', s.event_id,"
        "  s.seat_id, ifnull(s.hold_seq, 'NULL'),"
        "  ifnull((SELECT b.id FROM bookings b WHERE b.hold_seq = s.hold_seq), 'none'),"
        "  ifnull((SELECT b.status FROM bookings b WHERE b.hold_seq = s.hold_seq), 'none'))"
        " FROM seats s WHERE s.status = 'sold' AND NOT EXISTS (SELECT 1 FROM bookings b"
        "  WHERE b.hold_seq = s.hold_seq AND b.event_id = s.event_id AND b.status = 'confirmed')"
        " ORDER BY s.event_id, s.seat_id");
}

/* Every seat of a confirmed booking is sold, to the booking's hold. */
static int check__booking_seat_not_sold(check_run *run)
{
    return check__query(
        run, "booking_seat_not_sold",
        "SELECT printf('booking=%s event=%s seat=%s seat_status=%s seat_hold_seq=%s hold_seq=%d',"
        "  b.id, b.event_id, j.value, ifnull(s.status, 'missing'), ifnull(s.hold_seq, 'NULL'),"
        "  b.hold_seq)"
        " FROM bookings b, json_each(" CHECK_IDS(
            "b.seat_ids") ") j"
                          " LEFT JOIN seats s ON s.event_id = b.event_id AND s.seat_id = j.value"
                          " WHERE b.status = 'confirmed' AND (s.status IS NOT 'sold' OR s.hold_seq "
                          "IS NOT b.hold_seq)"
                          " ORDER BY b.seq, j.key");
}

/* At most one booking per hold. */
static int check__booking_per_hold(check_run *run)
{
    return check__query(run, "booking_per_hold",
                        "SELECT printf('hold_seq=%d bookings=%s', hold_seq, group_concat(id, ','))"
                        " FROM (SELECT hold_seq, id FROM bookings ORDER BY seq)"
                        " GROUP BY hold_seq HAVING count(*) > 1 ORDER BY hold_seq");
}

/* A booking's hold exists and is the one it names (id and event). */
static int check__booking_hold_missing(check_run *run)
{
    return check__query(
        run, "booking_hold_missing",
        "SELECT printf('booking=%s hold=%s hold_seq=%d found=%s', b.id, b.hold_id, b.hold_seq,"
        "  ifnull(h.id || '/' || h.event_id, 'none'))"
        " FROM bookings b LEFT JOIN holds h ON h.seq = b.hold_seq"
        " WHERE h.seq IS NULL OR h.id <> b.hold_id OR h.event_id <> b.event_id"
        " ORDER BY b.seq");
}

/* A booking that failed or was cancelled has no seat sold for its hold. */
static int check__ended_booking_seats_sold(check_run *run)
{
    return check__query(
        run, "ended_booking_seats_sold",
        "SELECT printf('booking=%s booking_status=%s hold_seq=%d sold_seats=%s', b.id, b.status,"
        "  b.hold_seq, group_concat(s.event_id || '/' || s.seat_id, ','))"
        " FROM bookings b JOIN seats s ON s.hold_seq = b.hold_seq AND s.status = 'sold'"
        " WHERE b.status IN ('payment_failed', 'cancelled')"
        " GROUP BY b.seq ORDER BY b.seq");
}

/* Every outbox row has a delivery for every subscriber with a pattern matching its type
 * (SQLite GLOB, as the fan-out does), unless the subscriber was added after the row was
 * written (strictly later, or in the same millisecond: the same batch may hold both). */
static int check__delivery_missing(check_run *run)
{
    return check__query(
        run, "delivery_missing",
        "SELECT printf('outbox_seq=%d type=%s aggregate=%s subscriber=%s', o.seq, o.type,"
        "  ifnull(o.aggregate_id, ''), p.subscriber_id)"
        " FROM outbox o"
        " JOIN (SELECT DISTINCT subscriber_id, pattern FROM subscriber_patterns) p"
        "  ON o.type GLOB p.pattern"
        " LEFT JOIN subscribers sub ON sub.id = p.subscriber_id"
        " WHERE ifnull(sub.created_at_ms, 0) < o.time_ms AND NOT EXISTS (SELECT 1 FROM deliveries d"
        "  WHERE d.outbox_seq = o.seq AND d.subscriber_id = p.subscriber_id)"
        " GROUP BY o.seq, p.subscriber_id ORDER BY o.seq, p.subscriber_id");
}

/* A pending delivery with max_attempts attempts and no live lease should have been
 * dead-lettered. */
static int check__delivery_exhausted(check_run *run)
{
    return check__query(
        run, "delivery_exhausted",
        "SELECT printf('delivery=%d outbox_seq=%d subscriber=%s attempts=%d max_attempts=%d', seq,"
        "  outbox_seq, subscriber_id, attempts, :max_attempts)"
        " FROM deliveries WHERE status = 'pending' AND attempts >= :max_attempts"
        "  AND lease_until_ms <= :now ORDER BY seq");
}

/* Every delivery belongs to an existing outbox row. */
static int check__delivery_orphan(check_run *run)
{
    return check__query(
        run, "delivery_orphan",
        "SELECT printf('delivery=%d outbox_seq=%d subscriber=%s', d.seq, d.outbox_seq,"
        "  d.subscriber_id)"
        " FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = d.outbox_seq)"
        " ORDER BY d.seq");
}

/* ---- the change feed (schema 3): dense, and saying what the store holds ---- */

/* The feed's seqs have no gap between the oldest change kept and the newest. */
static int check__feed_gap(check_run *run)
{
    if (run->schema_version < CHECK_SCHEMA_VERSION_FEED) return 0;
    return check__query(
        run, "feed_gap",
        "SELECT printf('seq=%d missing_before=%d', f.seq, f.seq - 1) FROM feed f"
        " WHERE f.seq > (SELECT min(seq) FROM feed)"
        "  AND NOT EXISTS (SELECT 1 FROM feed g WHERE g.seq = f.seq - 1) ORDER BY f.seq");
}

/* Every change is of a known kind; a seat change names a hold that exists, of its event; an
 * event created exists. */
static int check__feed_change_unknown(check_run *run)
{
    if (run->schema_version < CHECK_SCHEMA_VERSION_FEED) return 0;
    return check__query(
        run, "feed_change_unknown",
        "SELECT printf('seq=%d kind=%s event=%s hold_seq=%d', f.seq, f.kind, f.event_id,"
        "  f.hold_seq) FROM feed f"
        " WHERE f.kind NOT IN ('held', 'checkout', 'sold', 'released', 'expired', 'freed',"
        "   'event_created', 'subscriber_added')"
        "  OR (f.kind IN ('held', 'checkout', 'sold', 'released', 'expired', 'freed')"
        "   AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.seq = f.hold_seq"
        "    AND h.event_id = f.event_id))"
        "  OR (f.kind = 'event_created' AND NOT EXISTS (SELECT 1 FROM events e"
        "   WHERE e.id = f.event_id))"
        " ORDER BY f.seq");
}

/* The last change of each seat in the feed says what the seat is now: held (by its hold, until
 * the hold's expiry) after held or checkout, sold (to its hold) after sold, available after
 * released, expired or freed. */
static int check__feed_seat_state(check_run *run)
{
    if (run->schema_version < CHECK_SCHEMA_VERSION_FEED) return 0;
    return check__query(
        run, "feed_seat_state",
        "WITH last AS (SELECT f.event_id, j.value AS seat_id, max(f.seq) AS seq"
        "  FROM feed f, json_each(" CHECK_IDS(
            "f.seat_ids") ") j"
                          "  WHERE f.kind IN ('held', 'checkout', 'sold', 'released', 'expired', "
                          "'freed')"
                          "  GROUP BY f.event_id, j.value)"
                          " SELECT printf('seq=%d change=%s event=%s seat=%s hold_seq=%d "
                          "seat_status=%s"
                          "  seat_hold_seq=%s', f.seq, f.kind, l.event_id, l.seat_id, f.hold_seq,"
                          "  ifnull(s.status, 'missing'), ifnull(s.hold_seq, 'none'))"
                          " FROM last l JOIN feed f ON f.seq = l.seq"
                          " LEFT JOIN seats s ON s.event_id = l.event_id AND s.seat_id = l.seat_id"
                          " LEFT JOIN holds h ON h.seq = f.hold_seq"
                          " WHERE s.status IS NULL"
                          "  OR (f.kind IN ('held', 'checkout') AND (s.status <> 'held' OR "
                          "s.hold_seq IS NOT"
                          "   f.hold_seq OR ifnull(h.expires_at_ms, -1) <> f.expires_ms))"
                          "  OR (f.kind = 'sold' AND (s.status <> 'sold' OR s.hold_seq IS NOT "
                          "f.hold_seq))"
                          "  OR (f.kind IN ('released', 'expired', 'freed') AND s.status <> "
                          "'available')"
                          " ORDER BY f.seq, l.seat_id");
}

typedef int (*check__fn)(check_run *run);

static const check__fn check__all[] = {
    check__seat_ids_malformed,
    check__seat_hold_missing,
    check__seat_not_in_hold,
    check__seat_held_by_ended_hold,
    check__seat_in_two_holds,
    check__hold_seat_not_taken,
    check__hold_booked_without_booking,
    check__hold_stale,
    check__sold_seat_without_booking,
    check__booking_seat_not_sold,
    check__booking_per_hold,
    check__booking_hold_missing,
    check__ended_booking_seats_sold,
    check__delivery_missing,
    check__delivery_exhausted,
    check__delivery_orphan,
    check__feed_gap,
    check__feed_change_unknown,
    check__feed_seat_state,
};

/* `file:` URI of DIR/tix.db opened read-only; '%', '?' and '#' of the path are escaped.
 * Returns 0, or -1 when it does not fit. */
static int check__uri(const char *data_dir, char *out, size_t cap)
{
    size_t n = 0;
    const char *prefix = "file:";
    for (const char *p = prefix; *p && n < cap; p++)
        out[n++] = *p;
    for (const char *p = data_dir; *p; p++) {
        if (n + 4 >= cap) return -1;
        if (*p == '%' || *p == '?' || *p == '#')
            n += (size_t)snprintf(out + n, 4, "%%%02X", *p);
        else
            out[n++] = *p;
    }
    int tail = snprintf(out + n, cap - n, "/tix.db?mode=ro");
    return tail < 0 || (size_t)tail >= cap - n ? -1 : 0;
}

/* Open the store read-only and check that its schema is the one the checks know. */
static int check__open(const char *data_dir, sqlite3 **out, int *schema_version, char *err,
                       size_t err_len)
{
    char path[CHECK_URI_MAX], uri[CHECK_URI_MAX];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/tix.db", data_dir);
    if (stat(path, &sb) != 0) {
        snprintf(err, err_len, "no store at %s: %s", path, strerror(errno));
        return -1;
    }
    if (check__uri(data_dir, uri, sizeof(uri)) != 0) {
        snprintf(err, err_len, "data dir path too long");
        return -1;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s read-only: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, CHECK_BUSY_TIMEOUT_MS);
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < CHECK_SCHEMA_VERSION_MIN || version > CHECK_SCHEMA_VERSION_MAX) {
        if (version < 0)
            snprintf(err, err_len, "cannot read %s: %s", path, sqlite3_errmsg(db));
        else
            snprintf(err, err_len, "%s has schema version %d; this checker knows versions %d to %d",
                     path, version, CHECK_SCHEMA_VERSION_MIN, CHECK_SCHEMA_VERSION_MAX);
        sqlite3_close(db);
        return -1;
    }
    *out = db;
    *schema_version = version;
    return 0;
}

int check_store(const char *data_dir, const check_config *config, const check_sink *sink,
                check_summary *out, char *err, size_t err_len)
{
    assert(sink && sink->on_violation && config->report_max > 0);
    memset(out, 0, sizeof(*out));
    sqlite3 *db;
    int version;
    if (check__open(data_dir, &db, &version, err, err_len) != 0) return -1;
    check_run run = {.db = db,
                     .schema_version = version,
                     .config = config,
                     .tally = {config, sink, out},
                     .err = err,
                     .err_len = err_len};
    /* one read transaction: every check sees the same committed snapshot */
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
    if (rc != 0) snprintf(err, err_len, "cannot begin a read transaction: %s", sqlite3_errmsg(db));
    for (size_t i = 0; rc == 0 && i < sizeof(check__all) / sizeof(check__all[0]); i++)
        rc = check__all[i](&run);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}
