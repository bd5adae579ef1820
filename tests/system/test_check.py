"""`tix check`, the offline integrity checker: clean on a store after a normal run (holds,
multi-seat holds, releases, checkouts paid, declined and cancelled, expiry, a webhook), both
while the server runs and after it stopped; then, on copies of that store corrupted with plain
SQL (SQLite, or PostgreSQL with TIX_TEST_STORE=postgresql), exit 1 naming exactly the broken
invariant; usage errors exit 2."""

import re
import shutil
import time

import pytest

import invariants
import tixstore
from checkoutlib import (book, make_hold, new_event, register_webhook,
                         start_bus_server, wait_booking, wait_deliveries)
from fakes import WebhookReceiver
from tixhttp import create_event, make_sections, poll, reserve


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def normal_run(module_server_factory):
    """Runs a little of everything against one server, checks it with `tix check` while it
    runs, stops it, and returns what the corruptions need (the data dir and some ids)."""
    receiver = WebhookReceiver()
    try:
        srv = start_bus_server(module_server_factory)
        register_webhook(srv, receiver.url(), ["Booking*", "Hold*"], secret="whsec_check")
        eid, seats, _ = new_event(srv, rows=2, seats_per_row=10, sections=2)  # 40 seats
        run = {"event_id": eid}

        # holds: one seat through /reserve, several seats at once, then a release
        r = reserve(srv, eid, seats[0], "check-u1")
        assert r.status == 201, r
        run["active_hold"] = r.json
        run["multi_hold"] = make_hold(srv, eid, seats[1:4], "check-u2")
        released = make_hold(srv, eid, seats[4:6], "check-u3")
        assert srv.delete(f"/holds/{released['id']}").status == 200
        run["released_hold"] = released

        # checkouts: paid, declined, paid then cancelled (refunded)
        _, paid = book(srv, eid, seats[6:8], "tok_visa", "paid@example.com", "check-u4")
        _, declined = book(srv, eid, seats[8:9], "tok_chargeDeclined", None, "check-u5")
        _, cancelled = book(srv, eid, seats[9:11], "tok_visa", None, "check-u6")
        wait_booking(srv, paid["id"], "confirmed")
        wait_booking(srv, declined["id"], "payment_failed")
        wait_booking(srv, cancelled["id"], "confirmed")
        assert srv.post(f"/bookings/{cancelled['id']}/cancel", {}).status == 200
        wait_booking(srv, cancelled["id"], "cancelled", predicate=lambda b: b.get("refund_id"))
        run["paid_booking"] = paid

        # expiry: a one-second hold, ended by the sweeper
        short, short_seats = create_event(srv, make_sections(1, 1, 4), hold_ttl_s=1)
        expired = make_hold(srv, short["id"], short_seats[:2], "check-u8")
        assert poll(lambda: srv.get(f"/holds/{expired['id']}").json["status"] == "expired", 10)
        assert poll(lambda: invariants.snapshot(srv.db_path).holds_by_id[expired["id"]]["status"]
                    == "expired", 10), "the sweeper did not end the lapsed hold"
        run["expired_hold"] = expired

        wait_deliveries(srv, lambda ds: ds and all(d["status"] == "delivered" for d in ds),
                        what="every delivery of the run")
        run["running_check"] = invariants.assert_tix_check_clean(srv.data_dir)
        srv.stop_gracefully()
        run["data_dir"] = srv.data_dir
        run["stopped_check"] = invariants.assert_tix_check_clean(srv.data_dir)
        return run
    finally:
        receiver.close()


def corrupted_copy(tmp_path, run, *statements):
    """A copy of the normal run's data dir (and store) with STATEMENTS (sql, params) applied in
    one transaction by plain SQL. Returns the copy's path."""
    copy = tmp_path / "corrupted"
    tixstore.copy_store(run["data_dir"], copy)
    conn = tixstore.connect_rw(tixstore.db_path(copy))
    try:
        with conn:
            for sql, params in statements:
                cur = conn.execute(sql, params)
                assert cur.rowcount != 0, f"the corruption changed nothing: {sql} {params}"
    finally:
        conn.close()
    return copy


def hold_seq(run, hold_id):
    conn = invariants.connect_ro(tixstore.db_path(run["data_dir"]))
    try:
        return conn.execute("SELECT seq FROM holds WHERE id = ?", (hold_id,)).fetchone()[0]
    finally:
        conn.close()


def assert_violations(result, exactly=None, at_least=None):
    """tix check exited 1 with the summary line counting its VIOLATION lines, and named the
    kinds expected (EXACTLY these, or AT_LEAST these)."""
    lines = result.stdout.strip().splitlines()
    summary = invariants.TIX_CHECK_DIRTY_RE.match(lines[-1] if lines else "")
    assert result.returncode == 1 and summary, "expected violations:\n" + result.report()
    assert int(summary.group(1)) == len(result.violations), result.report()
    if exactly is not None:
        assert result.kinds == set(exactly), result.report()
    if at_least is not None:
        assert set(at_least) <= result.kinds, result.report()


# -- clean ----------------------------------------------------------------------------------------

def test_a_normal_run_is_clean_while_running_and_after_stopping(normal_run):
    for result in (normal_run["running_check"], normal_run["stopped_check"]):
        m = invariants.TIX_CHECK_CLEAN_RE.match(result.stdout.strip().splitlines()[-1])
        assert m and int(m.group(1)) >= 10, result.report()


@pytest.mark.sqlite_only(reason="compares the database files byte for byte; on PostgreSQL the "
                                "check runs in a READ ONLY transaction, which cannot write")
def test_check_reads_without_writing(normal_run, tmp_path):
    """The database (and its WAL, if any) is byte for byte the same after a check; like any
    reader of a WAL database, SQLite may create the -shm/-wal companions."""
    copy = tmp_path / "ro"
    shutil.copytree(normal_run["data_dir"], copy)
    names = [n for n in ("tix.db", "tix.db-wal") if (copy / n).is_file()]
    before = {n: (copy / n).read_bytes() for n in names}
    invariants.assert_tix_check_clean(copy)
    invariants.assert_tix_check_clean(copy)
    for n in names:
        assert (copy / n).read_bytes() == before[n], f"tix check changed {n}"


# -- corruptions, one invariant each --------------------------------------------------------------

def test_seat_held_for_a_released_hold(normal_run, tmp_path):
    hold = normal_run["released_hold"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE seats SET status = 'held', hold_seq = ? WHERE event_id = ? AND seat_id = ?",
        (hold_seq(normal_run, hold["id"]), hold["event_id"], hold["seat_ids"][0])))
    result = invariants.tix_check(copy)
    # the feed's last change of the seat (released) says it is available: said too
    assert_violations(result, exactly={"seat_held_by_ended_hold", "feed_seat_state"})
    [details] = result.of_kind("seat_held_by_ended_hold")
    assert f"seat={hold['seat_ids'][0]}" in details and f"hold={hold['id']}" in details
    assert "hold_status=released" in details, details


def test_sold_seat_without_a_confirmed_booking(normal_run, tmp_path):
    hold = normal_run["released_hold"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE seats SET status = 'sold', hold_seq = ? WHERE event_id = ? AND seat_id = ?",
        (hold_seq(normal_run, hold["id"]), hold["event_id"], hold["seat_ids"][1])))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"sold_seat_without_booking", "feed_seat_state"})
    assert f"seat={hold['seat_ids'][1]}" in result.of_kind("sold_seat_without_booking")[0]


def test_confirmed_booking_whose_seat_is_not_sold(normal_run, tmp_path):
    b = normal_run["paid_booking"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE seats SET status = 'available', hold_seq = NULL WHERE event_id = ? AND seat_id = ?",
        (b["event_id"], b["seat_ids"][0])))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"booking_seat_not_sold", "hold_seat_not_taken",
                                       "feed_seat_state"})
    assert f"booking={b['id']}" in result.of_kind("booking_seat_not_sold")[0]


def test_two_holds_claiming_one_seat(normal_run, tmp_path):
    hold = normal_run["active_hold"]
    intruder = "f" * 32
    copy = corrupted_copy(tmp_path, normal_run, (
        "INSERT INTO holds(id, event_id, user_id, status, seat_ids, created_at_ms, expires_at_ms)"
        " VALUES (?, ?, 'intruder', 'active', ?, ?, ?)",
        (intruder, hold["event_id"], f'["{hold["seat_ids"][0]}"]', now_ms(),
         now_ms() + 3_600_000)))
    result = invariants.tix_check(copy)
    # the intruder claims the seat, and does not hold it: both are said
    assert_violations(result, exactly={"seat_in_two_holds", "hold_seat_not_taken"})
    [details] = result.of_kind("seat_in_two_holds")
    assert f"seat={hold['seat_ids'][0]}" in details
    assert hold["id"] in details and intruder in details, details


# A hold the sweep never ended: its expiry (in the hold and in the feed's change that held it)
# long past.
STALE_FEED = ("UPDATE feed SET expires_ms = (SELECT expires_at_ms FROM holds h"
              " WHERE h.seq = feed.hold_seq) WHERE kind IN ('held', 'checkout')"
              " AND hold_seq IN (SELECT seq FROM holds WHERE status IN ('active', 'checkout'))", ())


def test_stale_active_hold(normal_run, tmp_path):
    hold = normal_run["multi_hold"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE holds SET expires_at_ms = ? WHERE id = ?", (now_ms() - 60_000, hold["id"])),
        STALE_FEED)
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"hold_stale"})
    [details] = result.of_kind("hold_stale")
    assert f"hold={hold['id']}" in details and "hold_status=active" in details
    overdue = int(re.search(r"overdue_ms=(\d+)", details).group(1))
    assert 60_000 <= overdue < 600_000, details
    # within a generous sweep grace, the same hold is not stale yet
    invariants.assert_tix_check_clean(copy, "--sweep-grace-ms", "600000")


def test_stale_hold_in_checkout(normal_run, tmp_path):
    hold = normal_run["active_hold"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE holds SET status = 'checkout', expires_at_ms = ? WHERE id = ?",
        (now_ms() - 10_000, hold["id"])), STALE_FEED)
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"hold_stale"})
    assert "hold_status=checkout" in result.of_kind("hold_stale")[0]


def test_missing_delivery(normal_run, tmp_path):
    b = normal_run["paid_booking"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "DELETE FROM deliveries WHERE subscriber_id = 'payment' AND outbox_seq ="
        " (SELECT seq FROM outbox WHERE type = 'CheckoutStarted' AND aggregate_id = ?)",
        (b["id"],)))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"delivery_missing"})
    [details] = result.of_kind("delivery_missing")
    assert "type=CheckoutStarted" in details and "subscriber=payment" in details
    assert f"aggregate={b['id']}" in details, details


def test_missing_webhook_delivery_is_found_through_its_glob_pattern(normal_run, tmp_path):
    b = normal_run["paid_booking"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "DELETE FROM deliveries WHERE subscriber_id NOT IN ('payment', 'notification')"
        " AND outbox_seq = (SELECT seq FROM outbox WHERE type = 'BookingConfirmed'"
        " AND aggregate_id = ?)", (b["id"],)))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"delivery_missing"})
    assert "type=BookingConfirmed" in result.of_kind("delivery_missing")[0]


def test_pending_delivery_past_max_attempts(normal_run, tmp_path):
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE deliveries SET status = 'pending', attempts = 8, lease_owner = '',"
        " lease_until_ms = 0 WHERE seq = (SELECT min(seq) FROM deliveries)", ()))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"delivery_exhausted"})
    assert "attempts=8 max_attempts=8" in result.of_kind("delivery_exhausted")[0]
    # a server run with --max-attempts 9 still has one attempt to make
    invariants.assert_tix_check_clean(copy, "--max-attempts", "9")


def test_leased_delivery_past_max_attempts_is_still_running(normal_run, tmp_path):
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE deliveries SET status = 'pending', attempts = 8, lease_owner = 'w',"
        " lease_until_ms = ? WHERE seq = (SELECT min(seq) FROM deliveries)",
        (now_ms() + 3_600_000,)))
    invariants.assert_tix_check_clean(copy)


def test_delivery_of_a_missing_outbox_row(normal_run, tmp_path):
    copy = corrupted_copy(tmp_path, normal_run, (
        "DELETE FROM outbox WHERE seq = (SELECT outbox_seq FROM deliveries"
        " WHERE subscriber_id = 'notification' ORDER BY seq LIMIT 1)", ()))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"delivery_orphan"})


def test_cancelled_booking_with_its_seats_still_sold(normal_run, tmp_path):
    b = normal_run["paid_booking"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE bookings SET status = 'cancelled' WHERE id = ?", (b["id"],)))
    result = invariants.tix_check(copy)
    assert_violations(result, at_least={"ended_booking_seats_sold", "sold_seat_without_booking"})
    assert f"booking={b['id']}" in result.of_kind("ended_booking_seats_sold")[0]


def test_malformed_seat_ids_are_reported_not_fatal(normal_run, tmp_path):
    hold = normal_run["released_hold"]
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE holds SET seat_ids = '[\"A1\",' WHERE id = ?", (hold["id"],)))
    result = invariants.tix_check(copy)
    assert_violations(result, exactly={"seat_ids_malformed"})


def test_every_violation_is_reported_and_the_limit_only_shortens_the_output(normal_run,
                                                                            tmp_path):
    copy = corrupted_copy(tmp_path, normal_run, (
        "UPDATE holds SET expires_at_ms = ? WHERE status IN ('active', 'checkout')",
        (now_ms() - 60_000,)), STALE_FEED)
    full = invariants.tix_check(copy)
    assert_violations(full, exactly={"hold_stale"})
    n = len(full.violations)
    assert n >= 2, full.report()
    short = invariants.tix_check(copy, "--limit", "1")
    assert short.returncode == 1 and len(short.violations) == 1, short.report()
    assert f"hold_stale: {n - 1} more violations not shown" in short.stdout, short.report()
    assert short.stdout.strip().splitlines()[-1] == full.stdout.strip().splitlines()[-1]


# -- usage ----------------------------------------------------------------------------------------

def test_usage_errors_exit_2_and_a_missing_store_exits_1(tmp_path):
    from tixserver import run_tix
    for args in (["check", "--no-such-option"], ["check", "stray"], ["check", "--data"],
                 ["check", "--max-attempts", "0"], ["check", "--sweep-grace-ms", "-1"]):
        cp = run_tix(args)
        assert cp.returncode == 2, (args, cp.returncode, cp.stdout, cp.stderr)
        assert cp.stderr.strip(), (args, "a usage error says why on stderr")
    cp = run_tix(["check", "--data", str(tmp_path / "nowhere")])
    assert cp.returncode == 1 and "tix check:" in cp.stderr and "nowhere" in cp.stderr, cp
    assert not (tmp_path / "nowhere").exists(), "tix check must not create anything"
    cp = run_tix(["check", "--help"])
    assert cp.returncode == 0 and "VIOLATION" in cp.stdout, cp
