"""tix on PostgreSQL: what only a database server brings (run with TIX_TEST_STORE=postgresql;
skipped on the embedded store).

- The database goes away while tix serves (scripts/pg.sh down, then up): writes answer 503
  store_unavailable with Retry-After and /healthz 503 while it is away, reads fail cleanly,
  nothing acknowledged is lost, and service is back within seconds of its return, without
  restarting tix; the same under hold load through a plain restart.
- Two tix processes on one database (two nodes): a hold taken on one is in the other's seat map
  within a bound even with its poll made slow (the LISTEN/NOTIFY wake), and each refuses what
  the other holds.
- Nodes starting together on an empty database migrate it once (`tix migrate` in parallel, and
  two `tix serve` at once).
"""

import concurrent.futures
import time

import pytest

import invariants
import tixstore
from loadgen import HoldLoad
from tixhttp import (assert_error, create_event, hold_seats, make_sections, poll, reserve,
                     wait_for_write)
from tixserver import run_tix
from tixstore import pg_sh

pytestmark = pytest.mark.pg_only

BACK_WITHIN_S = 15.0  # how soon after the database is back a write must succeed again


def test_the_database_away_answers_503_and_tix_recovers_without_a_restart(server, cluster_dir):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 4, 10), hold_ttl_s=3600)
    eid = ev["id"]
    before = hold_seats(srv, eid, seats[:2], "before").json
    pg_sh("down", cluster_dir)
    try:
        r = hold_seats(srv, eid, seats[2:4], "away")
        assert_error(r, 503, "store_unavailable")
        assert r.headers.get("Retry-After"), r.headers
        assert srv.get("/healthz").status == 503
        read = srv.get(f"/holds/{before['id']}")
        assert_error(read, 503, "store_unavailable")
        assert "read" in read.json["error"]["message"] and read.headers.get("Retry-After"), read
        # what memory serves goes on: the seat map, a 409 for a seat it knows is held
        assert srv.get(f"/events/{eid}/seats").status == 200
        # long enough for every connection's back-off to reach its longest (2 s): once one is
        # through, the others must not wait for theirs
        time.sleep(3)
        assert srv.running(), "tix exited while the database was away\n" + srv.output()
    finally:
        pg_sh("up", cluster_dir)
    after = wait_for_write(srv, eid, seats[4:30], "after", BACK_WITHIN_S)
    assert after, "no write succeeded within %ss of the database's return\n" % BACK_WITHIN_S \
        + srv.output()
    assert srv.get("/healthz").status == 200
    # reads are back too (each read connection reconnects at its next use)
    got = poll(lambda: (lambda r: r if r.status == 200 else None)(
        srv.get(f"/holds/{before['id']}")), BACK_WITHIN_S)
    assert got and got.json["status"] == "active", got
    assert_error(hold_seats(srv, eid, seats[:1], "late"), 409, "seat_unavailable")
    snap = invariants.assert_store_consistent(srv.db_path)
    invariants.assert_acknowledged_holds_present(srv.db_path, [before, after], snap=snap)
    invariants.assert_tix_check_clean(srv.data_dir)


def test_a_database_restart_under_load_loses_nothing_acknowledged(server, cluster_dir):
    srv = server
    # 20,000 seats: a 503 moves a worker on to fresh seats, and while the database is away
    # they come back fast
    ev, seats = create_event(srv, make_sections(4, 50, 100), hold_ttl_s=3600)
    load = HoldLoad(srv.port, ev["id"], seats, workers=4).start()
    try:
        assert load.wait_for_acks(10, 30) >= 10, "no load before the restart"
        pg_sh("restart", cluster_dir)
        acked_at_restart = load.acked_count()
        assert load.wait_for_acks(acked_at_restart + 10, BACK_WITHIN_S) >= acked_at_restart + 10, \
            "holds did not go on after the restart\n" + srv.output()
    finally:
        load.stop()
    assert not load.unexpected, load.unexpected[:5]
    assert srv.running(), srv.output()
    snap = invariants.assert_store_consistent(srv.db_path)
    invariants.assert_acknowledged_holds_present(srv.db_path, load.acked, snap=snap)
    invariants.assert_tix_check_clean(srv.data_dir)


def test_two_nodes_on_one_database_see_each_others_holds(server_factory):
    """Both nodes poll the feed only every 5 s: what one commits reaches the other's memory
    through the notification (within a second or two here)."""
    slow_poll = ["--feed-poll-ms", "5000"]
    a = server_factory.start(extra_args=slow_poll)
    b_dir = server_factory.new_data_dir(seeded=False)
    tixstore.share_store(a.data_dir, b_dir)
    b = server_factory.start(data_dir=b_dir, extra_args=slow_poll)
    ev, seats = create_event(a, make_sections(1, 1, 10))
    eid = ev["id"]
    assert poll(lambda: b.get(f"/events/{eid}").status == 200, 3.0), "b never saw the event"

    def status_on(node, seat):
        return {s["id"]: s["status"] for s in node.get(f"/events/{eid}/seats").json["seats"]}[seat]

    on_a = reserve(a, eid, "A1", "alice")
    assert on_a.status == 201, on_a
    assert poll(lambda: status_on(b, "A1") == "held", 3.0), "b's seat map never showed A1 held"
    assert_error(reserve(b, eid, "A1", "bob"), 409, "seat_unavailable")
    on_b = hold_seats(b, eid, ["A2", "A3"], "bob")
    assert on_b.status == 201, on_b
    assert poll(lambda: status_on(a, "A3") == "held", 3.0), "a's seat map never showed A3 held"
    assert_error(hold_seats(a, eid, ["A3", "A4"], "carol"), 409, "seat_unavailable")
    # a release on one node frees the seat on the other
    assert b.delete(f"/holds/{on_a.json['id']}").status == 200
    assert poll(lambda: status_on(a, "A1") == "available", 3.0), "a never saw A1 released"
    assert reserve(a, eid, "A1", "dave").status == 201
    for node in (a, b):
        got = node.get(f"/holds/{on_b.json['id']}")
        assert got.status == 200 and got.json["seat_ids"] == ["A2", "A3"], got
    invariants.assert_store_consistent(a.db_path)
    invariants.assert_tix_check_clean(a.data_dir)


def test_nodes_starting_together_on_an_empty_database_migrate_it_once(server_factory, tmp_path):
    url = tixstore.pg_create_database()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            runs = list(pool.map(lambda _: run_tix(["migrate", "--store", url]), range(4)))
        for cp in runs:
            assert cp.returncode == 0, cp.stdout + cp.stderr
        migrated = [cp for cp in runs if "schema migrated to version" in cp.stderr]
        assert len(migrated) == 1, [cp.stderr for cp in runs]
        conn = tixstore.connect_ro(url)
        try:
            assert conn.execute("SELECT count(*), max(version) FROM tix_schema").fetchone() \
                == (1, 4)
        finally:
            conn.close()
    finally:
        tixstore.pg_drop_database(url)
    # two servers at once on a fresh database: both serve
    first = server_factory.new_data_dir(seeded=False)
    second = server_factory.new_data_dir(seeded=False)
    tixstore.share_store(first, second)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        nodes = list(pool.map(lambda d: server_factory.start(data_dir=d), (first, second)))
    for node in nodes:
        node.assert_healthy()
    ev, _ = create_event(nodes[0])
    assert poll(lambda: nodes[1].get(f"/events/{ev['id']}").status == 200, 3.0)
