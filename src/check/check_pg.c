/* check_pg: the invariant checks of check.c on a PostgreSQL store (`tix check --store URL`).
 *
 * The same checks, by the same names, in the same order, each stating the invariant its
 * namesake in check.c states (read the contract comments there): one SQL query per check
 * returning one `key=value ...` row per violation. Every query runs in one REPEATABLE READ,
 * READ ONLY transaction, so that every check sees the same committed snapshot while the nodes
 * go on writing; nothing is ever written. Parameters: $1 now (ms), $2 the sweep grace (ms),
 * $3 max_attempts.
 *
 * seat_ids that are not an array of seat ids as tix writes them (["A1","B12"]) are reported by
 * seat_ids_malformed and read as empty by every other check (PG_CHECK_IDS), so that one bad row
 * cannot stop the run. */
#include "check/check.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The schema versions the checks read (v2 and v3 changed no table: functions only; v4 added
 * an index). */
enum { CHECK_PG_SCHEMA_VERSION_MIN = 1, CHECK_PG_SCHEMA_VERSION_MAX = 4 };

/* seat_ids as tix writes them: what model_seat_ids_next accepts */
#define PG_SEAT_IDS_RE "'^\\[(\"[A-Za-z0-9]+\"(,\"[A-Za-z0-9]+\")*)?\\]$'"
/* The ids of a seat_ids column, one row each (value, and its position as key). */
#define PG_CHECK_IDS(col)                                                                          \
    "json_array_elements_text((CASE WHEN " col " ~ " PG_SEAT_IDS_RE " THEN " col                   \
    " ELSE '[]' END)::json) WITH ORDINALITY"
#define PG_CLAIMING_HOLDS                                                                          \
    "SELECT seq, id, event_id, seat_ids FROM holds WHERE status IN ('active', 'checkout')"         \
    " UNION ALL SELECT h.seq, h.id, h.event_id, h.seat_ids FROM holds h"                           \
    " JOIN bookings b ON b.hold_seq = h.seq"                                                       \
    " WHERE b.status = 'confirmed' AND h.status NOT IN ('active', 'checkout')"

typedef struct check_pg {
    const char *kind;
    const char *sql;
} check_pg;

static const check_pg check_pg__all[] = {
    {"seat_ids_malformed",
     "SELECT format('hold=%s seq=%s seat_ids=%s', id, seq, quote_literal(substr(seat_ids, 1, 60)))"
     " FROM holds WHERE seat_ids !~ " PG_SEAT_IDS_RE " UNION ALL"
     " SELECT format('booking=%s seq=%s seat_ids=%s', id, seq,"
     "  quote_literal(substr(seat_ids, 1, 60))) FROM bookings WHERE seat_ids !~ " PG_SEAT_IDS_RE},
    {"seat_hold_missing",
     "SELECT format('event=%s seat=%s status=%s hold_seq=%s', s.event_id, s.seat_id, s.status,"
     "  coalesce(s.hold_seq::text, 'NULL'))"
     " FROM seats s WHERE s.status <> 'available' AND (s.hold_seq IS NULL"
     "  OR NOT EXISTS (SELECT 1 FROM holds h WHERE h.seq = s.hold_seq))"
     " ORDER BY s.event_id, s.seat_id"},
    {"seat_not_in_hold",
     "SELECT format('event=%s seat=%s status=%s hold=%s hold_event=%s', s.event_id, s.seat_id,"
     "  s.status, h.id, h.event_id)"
     " FROM seats s JOIN holds h ON h.seq = s.hold_seq"
     " WHERE s.status <> 'available' AND (h.event_id <> s.event_id OR NOT EXISTS"
     "  (SELECT 1 FROM " PG_CHECK_IDS("h.seat_ids") " AS j(value, key) WHERE j.value = s.seat_id))"
                                                    " ORDER BY s.event_id, s.seat_id"},
    {"seat_held_by_ended_hold",
     "SELECT format('event=%s seat=%s hold=%s hold_status=%s', s.event_id, s.seat_id, h.id,"
     "  h.status)"
     " FROM seats s JOIN holds h ON h.seq = s.hold_seq"
     " WHERE s.status = 'held' AND h.status NOT IN ('active', 'checkout')"
     " ORDER BY s.event_id, s.seat_id"},
    {"seat_in_two_holds", "SELECT format('event=%s seat=%s holds=%s', c.event_id, j.value,"
                          "  string_agg(c.id, ',' ORDER BY c.seq))"
                          " FROM (" PG_CLAIMING_HOLDS ") c, " PG_CHECK_IDS(
                              "c.seat_ids") " AS j(value, key)"
                                            " GROUP BY c.event_id, j.value HAVING count(*) > 1 "
                                            "ORDER BY c.event_id, j.value"},
    {"hold_seat_not_taken",
     "SELECT format('hold=%s hold_seq=%s hold_status=%s event=%s seat=%s seat_status=%s"
     " seat_hold_seq=%s', h.id, h.seq, h.status, h.event_id, j.value,"
     "  coalesce(s.status, 'missing'), coalesce(s.hold_seq::text, 'NULL'))"
     " FROM holds h CROSS JOIN " PG_CHECK_IDS(
         "h.seat_ids") " AS j(value, key)"
                       " LEFT JOIN seats s ON s.event_id = h.event_id AND s.seat_id = j.value"
                       " WHERE h.status IN ('active', 'checkout', 'booked') AND ((h.status <> "
                       "'booked'"
                       "   AND (s.status IS DISTINCT FROM 'held' OR s.hold_seq IS DISTINCT FROM "
                       "h.seq))"
                       "  OR (h.status = 'booked' AND EXISTS (SELECT 1 FROM bookings b WHERE "
                       "b.hold_seq = h.seq"
                       "   AND b.status = 'confirmed') AND (s.status IS DISTINCT FROM 'sold'"
                       "   OR s.hold_seq IS DISTINCT FROM h.seq)))"
                       " ORDER BY h.seq, j.key"},
    {"hold_booked_without_booking",
     "SELECT format('hold=%s seq=%s booking=%s booking_status=%s', h.id, h.seq,"
     "  coalesce(b.id, 'none'), coalesce(b.status, 'none'))"
     " FROM holds h LEFT JOIN bookings b ON b.hold_seq = h.seq"
     " WHERE h.status = 'booked' AND b.status IS DISTINCT FROM 'confirmed'"
     "  AND b.status IS DISTINCT FROM 'cancelled'"
     " ORDER BY h.seq"},
    {"hold_stale",
     "SELECT format('hold=%s hold_status=%s event=%s expires_at_ms=%s overdue_ms=%s', id,"
     "  status, event_id, expires_at_ms, $1 - expires_at_ms)"
     " FROM holds WHERE status IN ('active', 'checkout') AND expires_at_ms < $1 - $2"
     " ORDER BY expires_at_ms, seq"},
    {"sold_seat_without_booking",
     "SELECT format('event=%s seat=%s hold_seq=%s booking=%s booking_status=%s', s.event_id,"
     "  s.seat_id, coalesce(s.hold_seq::text, 'NULL'),"
     "  coalesce((SELECT b.id FROM bookings b WHERE b.hold_seq = s.hold_seq), 'none'),"
     "  coalesce((SELECT b.status FROM bookings b WHERE b.hold_seq = s.hold_seq), 'none'))"
     " FROM seats s WHERE s.status = 'sold' AND NOT EXISTS (SELECT 1 FROM bookings b"
     "  WHERE b.hold_seq = s.hold_seq AND b.event_id = s.event_id AND b.status = 'confirmed')"
     " ORDER BY s.event_id, s.seat_id"},
    {"booking_seat_not_sold",
     "SELECT format('booking=%s event=%s seat=%s seat_status=%s seat_hold_seq=%s hold_seq=%s',"
     "  b.id, b.event_id, j.value, coalesce(s.status, 'missing'),"
     "  coalesce(s.hold_seq::text, 'NULL'), b.hold_seq)"
     " FROM bookings b CROSS JOIN " PG_CHECK_IDS(
         "b.seat_ids") " AS j(value, key)"
                       " LEFT JOIN seats s ON s.event_id = b.event_id AND s.seat_id = j.value"
                       " WHERE b.status = 'confirmed' AND (s.status IS DISTINCT FROM 'sold'"
                       "  OR s.hold_seq IS DISTINCT FROM b.hold_seq)"
                       " ORDER BY b.seq, j.key"},
    {"booking_per_hold",
     "SELECT format('hold_seq=%s bookings=%s', hold_seq, string_agg(id, ',' ORDER BY seq))"
     " FROM bookings GROUP BY hold_seq HAVING count(*) > 1 ORDER BY hold_seq"},
    {"booking_hold_missing",
     "SELECT format('booking=%s hold=%s hold_seq=%s found=%s', b.id, b.hold_id, b.hold_seq,"
     "  coalesce(h.id || '/' || h.event_id, 'none'))"
     " FROM bookings b LEFT JOIN holds h ON h.seq = b.hold_seq"
     " WHERE h.seq IS NULL OR h.id <> b.hold_id OR h.event_id <> b.event_id"
     " ORDER BY b.seq"},
    {"ended_booking_seats_sold",
     "SELECT format('booking=%s booking_status=%s hold_seq=%s sold_seats=%s', b.id, b.status,"
     "  b.hold_seq, string_agg(s.event_id || '/' || s.seat_id, ',' ORDER BY s.seat_id))"
     " FROM bookings b JOIN seats s ON s.hold_seq = b.hold_seq AND s.status = 'sold'"
     " WHERE b.status IN ('payment_failed', 'cancelled')"
     " GROUP BY b.seq ORDER BY b.seq"},
    {"delivery_missing",
     "SELECT format('outbox_seq=%s type=%s aggregate=%s subscriber=%s', o.seq, o.type,"
     "  coalesce(o.aggregate_id, ''), p.subscriber_id)"
     " FROM outbox o"
     " JOIN (SELECT DISTINCT subscriber_id, like_pattern FROM subscriber_patterns) p"
     "  ON o.type LIKE p.like_pattern"
     " LEFT JOIN subscribers sub ON sub.id = p.subscriber_id"
     " WHERE coalesce(sub.created_at_ms, 0) < o.time_ms AND NOT EXISTS (SELECT 1"
     "  FROM deliveries d WHERE d.outbox_seq = o.seq AND d.subscriber_id = p.subscriber_id)"
     " GROUP BY o.seq, p.subscriber_id ORDER BY o.seq, p.subscriber_id"},
    {"delivery_exhausted",
     "SELECT format('delivery=%s outbox_seq=%s subscriber=%s attempts=%s max_attempts=%s', seq,"
     "  outbox_seq, subscriber_id, attempts, $3)"
     " FROM deliveries WHERE status = 'pending' AND attempts >= $3 AND lease_until_ms <= $1"
     " ORDER BY seq"},
    {"delivery_orphan",
     "SELECT format('delivery=%s outbox_seq=%s subscriber=%s', d.seq, d.outbox_seq,"
     "  d.subscriber_id)"
     " FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.seq = d.outbox_seq)"
     " ORDER BY d.seq"},
    {"feed_gap", "SELECT format('seq=%s missing_before=%s', f.seq, f.seq - 1) FROM feed f"
                 " WHERE f.seq > (SELECT min(seq) FROM feed)"
                 "  AND NOT EXISTS (SELECT 1 FROM feed g WHERE g.seq = f.seq - 1) ORDER BY f.seq"},
    {"feed_change_unknown",
     "SELECT format('seq=%s kind=%s event=%s hold_seq=%s', f.seq, f.kind, f.event_id,"
     "  f.hold_seq) FROM feed f"
     " WHERE f.kind NOT IN ('held', 'checkout', 'sold', 'released', 'expired', 'freed',"
     "   'event_created', 'subscriber_added')"
     "  OR (f.kind IN ('held', 'checkout', 'sold', 'released', 'expired', 'freed')"
     "   AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.seq = f.hold_seq"
     "    AND h.event_id = f.event_id))"
     "  OR (f.kind = 'event_created' AND NOT EXISTS (SELECT 1 FROM events e"
     "   WHERE e.id = f.event_id))"
     " ORDER BY f.seq"},
    {"feed_seat_state",
     "WITH last AS (SELECT f.event_id, j.value AS seat_id, max(f.seq) AS seq"
     "  FROM feed f CROSS JOIN " PG_CHECK_IDS(
         "f.seat_ids") " AS j(value, key)"
                       "  WHERE f.kind IN ('held', 'checkout', 'sold', 'released', 'expired', "
                       "'freed')"
                       "  GROUP BY f.event_id, j.value)"
                       " SELECT format('seq=%s change=%s event=%s seat=%s hold_seq=%s "
                       "seat_status=%s"
                       " seat_hold_seq=%s', f.seq, f.kind, l.event_id, l.seat_id, f.hold_seq,"
                       "  coalesce(s.status, 'missing'), coalesce(s.hold_seq::text, 'none'))"
                       " FROM last l JOIN feed f ON f.seq = l.seq"
                       " LEFT JOIN seats s ON s.event_id = l.event_id AND s.seat_id = l.seat_id"
                       " LEFT JOIN holds h ON h.seq = f.hold_seq"
                       " WHERE s.status IS NULL"
                       "  OR (f.kind IN ('held', 'checkout') AND (s.status <> 'held'"
                       "   OR s.hold_seq IS DISTINCT FROM f.hold_seq"
                       "   OR coalesce(h.expires_at_ms, -1) <> f.expires_ms))"
                       "  OR (f.kind = 'sold' AND (s.status <> 'sold' OR s.hold_seq IS DISTINCT "
                       "FROM f.hold_seq))"
                       "  OR (f.kind IN ('released', 'expired', 'freed') AND s.status <> "
                       "'available')"
                       " ORDER BY f.seq, l.seat_id"},
};

/* Run sql without parameters; 0, or -1 with the server's reason in err. */
static int check_pg__exec(PGconn *conn, const char *sql, char *err, size_t err_len)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
    if (rc != 0) {
        const char *message = PQerrorMessage(conn);
        snprintf(err, err_len, "%.*s", (int)strcspn(message, "\n"), message);
    }
    PQclear(res);
    return rc;
}

/* Run one check: report each row, count them all. 0, or -1 with a reason in err. */
static int check_pg__run(PGconn *conn, const check_pg *check, const check_tally *t, char *err,
                         size_t err_len)
{
    char numbers[3][24];
    snprintf(numbers[0], sizeof(numbers[0]), "%lld", (long long)t->config->now_ms);
    snprintf(numbers[1], sizeof(numbers[1]), "%lld", (long long)t->config->sweep_grace_ms);
    snprintf(numbers[2], sizeof(numbers[2]), "%u", t->config->max_attempts);
    const char *values[3] = {numbers[0], numbers[1], numbers[2]};
    const Oid types[3] = {20, 20, 20}; /* int8: each typed, used or not */
    PGresult *res = PQexecParams(conn, check->sql, 3, types, values, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *message = PQerrorMessage(conn);
        snprintf(err, err_len, "check %s: query failed: %.*s", check->kind,
                 (int)strcspn(message, "\n"), message);
        PQclear(res);
        return -1;
    }
    uint64_t found = 0;
    for (int row = 0; row < PQntuples(res); row++)
        check_tally_violation(t, check->kind, ++found, PQgetvalue(res, row, 0));
    PQclear(res);
    check_tally_done(t, check->kind, found);
    return 0;
}

/* The schema version is one the checks know. */
static int check_pg__schema(PGconn *conn, char *err, size_t err_len)
{
    PGresult *res = PQexec(conn, "SELECT version FROM tix_schema");
    int version = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
                      ? atoi(PQgetvalue(res, 0, 0))
                      : -1;
    if (version < 0) {
        const char *message = PQerrorMessage(conn);
        snprintf(err, err_len, "not a tix store (no schema version): %.*s",
                 (int)strcspn(message, "\n"), message);
    } else if (version < CHECK_PG_SCHEMA_VERSION_MIN || version > CHECK_PG_SCHEMA_VERSION_MAX) {
        snprintf(err, err_len,
                 "the store has schema version %d; this checker knows versions %d"
                 " to %d",
                 version, CHECK_PG_SCHEMA_VERSION_MIN, CHECK_PG_SCHEMA_VERSION_MAX);
    }
    PQclear(res);
    return version >= CHECK_PG_SCHEMA_VERSION_MIN && version <= CHECK_PG_SCHEMA_VERSION_MAX ? 0
                                                                                            : -1;
}

int check_store_pg(const char *url, const check_config *config, const check_sink *sink,
                   check_summary *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof(*out));
    const char *const keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                                NULL};
    const char *const values[] = {"10", "tix-check", "UTF8", url, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        const char *message = conn ? PQerrorMessage(conn) : "out of memory";
        snprintf(err, err_len, "cannot connect: %.*s", (int)strcspn(message, "\n"), message);
        PQfinish(conn);
        return -1;
    }
    check_tally t = {config, sink, out};
    /* one snapshot for every check, and no way to write */
    int rc = check_pg__exec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, err_len);
    if (rc == 0) rc = check_pg__schema(conn, err, err_len);
    for (size_t i = 0; rc == 0 && i < sizeof(check_pg__all) / sizeof(check_pg__all[0]); i++)
        rc = check_pg__run(conn, &check_pg__all[i], &t, err, err_len);
    char ignored[64];
    check_pg__exec(conn, "ROLLBACK", ignored, sizeof(ignored));
    PQfinish(conn);
    return rc;
}
