"""The committed change feed: a second writer on the same data is followed within a bound
(seat maps, ETags, 409s), the feed of one event is readable after a seat map's position, `tix
seed` on a running server's data, and node ids: kept, and a restarted node taking back its own
leases at once."""

import re
import threading
import time

import invariants
import tixstore
from checkoutlib import checkout, make_hold, start_bus_server, wait_booking
from fakes import FakePaymentProvider
from tixhttp import assert_error, hold_seats
from tixserver import run_tix

# A change made by another writer reaches a node within its feed's poll interval (50 ms) plus
# the time to read and apply it; the tests allow far more, for loaded CI machines and ASan.
FOLLOW_BOUND_S = 3.0
EVENT = "nba-finals"


def seat_status(srv, seat_id, event_id=EVENT):
    r = srv.get(f"/events/{event_id}/seats")
    assert r.status == 200, r
    return next(s["status"] for s in r.json["seats"] if s["id"] == seat_id), r


def wait_seat(srv, seat_id, status, bound_s=FOLLOW_BOUND_S):
    """Polls srv's seat map until SEAT_ID reads STATUS; returns the seconds it took."""
    started = time.monotonic()
    while True:
        got, _ = seat_status(srv, seat_id)
        if got == status:
            return time.monotonic() - started
        assert time.monotonic() - started < bound_s, \
            f"seat {seat_id} still {got} after {bound_s} s (want {status})"
        time.sleep(0.01)


def test_a_second_tix_on_the_same_data_is_followed_within_a_bound(server_factory):
    first = server_factory.start()
    second = server_factory.start(data_dir=first.data_dir, admin_token=first.admin_token)
    # the node id file is the first process's: the second gets one of its own, and says so
    assert re.search(r"in use by another tix process.*this one is node n-[0-9a-f]{16}",
                     second.output()), second.output()
    _, before = seat_status(first, "A1")
    old_etag = before.header("ETag")
    assert old_etag

    # held on the second writer: the first node's seat map, ETag and 409s follow
    held = make_hold(second, EVENT, ["A1", "A2"], user_id="bea")
    took = wait_seat(first, "A1", "held")
    print(f"the first node saw the second writer's hold after {took * 1000:.0f} ms")
    after = first.get(f"/events/{EVENT}/seats", headers={"If-None-Match": old_etag})
    assert after.status == 200 and after.header("ETag") != old_etag, after
    assert_error(hold_seats(first, EVENT, ["A2"], "cy"), 409, "seat_unavailable")
    # both nodes follow one store: the same map has the same ETag on both
    first_etag = first.get(f"/events/{EVENT}/seats").header("ETag")
    assert second.get(f"/events/{EVENT}/seats").header("ETag") == first_etag

    # released on the second writer: the first node stops refusing within the bound
    assert second.delete(f"/holds/{held['id']}").status == 200
    started = time.monotonic()
    while True:
        r = hold_seats(first, EVENT, ["A2"], "cy")
        if r.status == 201:
            break
        assert_error(r, 409, "seat_unavailable")  # refused from memory while it lags
        assert time.monotonic() - started < FOLLOW_BOUND_S, \
            "the first node still refuses a seat the second writer released"
        time.sleep(0.01)
    print(f"the first node took the released seat after "
          f"{(time.monotonic() - started) * 1000:.0f} ms")
    # and the second writer sees the first's hold in turn
    wait_seat(second, "A2", "held")

    first.stop_gracefully()
    second.stop_gracefully()
    invariants.assert_tix_check_clean(first.data_dir)


def test_two_writers_racing_for_the_same_seats_sell_each_once(server_factory):
    first = server_factory.start()
    second = server_factory.start(data_dir=first.data_dir, admin_token=first.admin_token)
    seats = [f"{row}{n}" for row in "EF" for n in range(1, 11)]  # Upper Bowl, 20 seats
    results = {}
    lock = threading.Lock()

    def buyer(srv, name):
        for i, seat in enumerate(seats):
            r = hold_seats(srv, EVENT, [seat], f"{name}-{i}")
            with lock:
                results.setdefault(seat, []).append(r.status)

    threads = [threading.Thread(target=buyer, args=(srv, f"{tag}{k}"))
               for k in range(3) for srv, tag in ((first, "a"), (second, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seat in seats:
        assert sorted(results[seat]) == [201] + [409] * 5, (seat, results[seat])
    first.stop_gracefully()
    second.stop_gracefully()
    invariants.assert_tix_check_clean(first.data_dir)


def test_the_changes_of_an_event_follow_its_seat_map(server_factory):
    srv = server_factory.start()
    seat_map = srv.get(f"/events/{EVENT}/seats").json
    position = seat_map["position"]
    assert isinstance(position, int) and position > 0
    hold = make_hold(srv, EVENT, ["B1", "B2"], user_id="dee")
    assert srv.delete(f"/holds/{hold['id']}").status == 200
    make_hold(srv, "tech-conference", ["A1"])  # another event's change: not listed
    r = srv.get(f"/events/{EVENT}/changes?after={position}")
    assert r.status == 200, r
    body = r.json
    assert body["event_id"] == EVENT and body["after"] == position
    kinds = [(c["kind"], c["status"], c["seat_ids"]) for c in body["changes"]]
    assert kinds == [("held", "held", ["B1", "B2"]), ("released", "available", ["B1", "B2"])]
    held, released = body["changes"]
    assert released["seq"] == held["seq"] + 1 > position
    assert held["expires_at"] == hold["expires_at"] and "expires_at" not in released
    assert body["head"] == body["next"] == held["seq"] + 2  # the other event's change
    # from the last change seen: nothing new
    again = srv.get(f"/events/{EVENT}/changes?after={body['next']}").json
    assert again["changes"] == [] and again["next"] == body["next"]
    # a page at a time
    one = srv.get(f"/events/{EVENT}/changes?after={position}&limit=1").json
    assert len(one["changes"]) == 1 and one["next"] == held["seq"]


def test_changes_answer_clear_errors(live_shared_server):
    srv = live_shared_server
    assert_error(srv.get(f"/events/{EVENT}/changes"), 422, "invalid_request")
    for bad in ("-1", "x", "1.5", "99999999999999999999"):
        assert_error(srv.get(f"/events/{EVENT}/changes?after={bad}"), 422, "invalid_request")
    assert_error(srv.get(f"/events/{EVENT}/changes?after=0&limit=1001"), 422, "invalid_request")
    assert_error(srv.get("/events/nope/changes?after=0"), 404, "event_not_found")
    assert_error(srv.post(f"/events/{EVENT}/changes", {}), 405, "method_not_allowed")


def test_changes_older_than_the_feed_keeps_are_gone_with_410(server_factory):
    srv = server_factory.start(extra_args=["--feed-retain", "10", "--sweep-interval-ms", "50"])
    position = srv.get(f"/events/{EVENT}/seats").json["position"]
    for seat in [f"C{n}" for n in range(1, 11)] + ["D1", "D2", "D3"]:  # 13 > 10 kept
        make_hold(srv, EVENT, [seat])
    deadline = time.monotonic() + FOLLOW_BOUND_S
    while time.monotonic() < deadline:
        r = srv.get(f"/events/{EVENT}/changes?after={position}")
        if r.status == 410:
            break
        time.sleep(0.05)
    assert_error(r, 410, "position_expired")
    assert "seat map" in r.json["error"]["message"]
    # a fresh seat map gives a position the feed still has
    fresh = srv.get(f"/events/{EVENT}/seats").json["position"]
    assert srv.get(f"/events/{EVENT}/changes?after={fresh}").status == 200


def test_tix_seed_on_a_running_servers_data_reaches_it(server_factory):
    srv = server_factory.start(seeded=False)
    assert srv.get("/events").json["events"] == []
    cp = run_tix(["seed", *tixstore.store_args(srv.data_dir)], timeout=120)
    assert cp.returncode == 0, cp.stderr
    deadline = time.monotonic() + FOLLOW_BOUND_S
    while len(srv.get("/events").json["events"]) < 3:
        assert time.monotonic() < deadline, "the server never saw the seeded events"
        time.sleep(0.02)
    assert make_hold(srv, "stadium-tour", ["A1"])["status"] == "active"


def test_the_node_id_is_kept_in_the_data_dir_and_checked(server_factory):
    srv = server_factory.start()
    node_file = srv.data_dir / "node-id"
    node = node_file.read_text().strip()
    assert re.fullmatch(r"n-[0-9a-f]{16}", node), node
    assert f"node {node}" in srv.output()
    srv.stop_gracefully()
    srv.restart()
    assert node_file.read_text().strip() == node
    srv.stop_gracefully()
    for bad in ("has space", "x" * 64, "é", "a/b"):
        cp = run_tix(["serve", "--data", str(srv.data_dir), "--node-id", bad,
                      "--listen", "127.0.0.1:0"], timeout=30)
        assert cp.returncode == 2 and "node-id" in cp.stderr, (bad, cp.returncode, cp.stderr)


def test_a_restarted_node_takes_back_its_own_leases_at_once(server_factory):
    """A checkout whose payment is in flight when the node dies is retried as soon as the node
    is back, not after --lease-ms (here two minutes)."""
    provider = FakePaymentProvider()
    gate = threading.Event()
    provider.gates["tok_slow"] = gate
    try:
        srv = start_bus_server(server_factory, "--lease-ms", "120000", "--payment-timeout-ms",
                               "60000", provider=provider)
        hold = make_hold(srv, EVENT, ["D1"])
        booking = checkout(srv, hold["id"], token="tok_slow")
        assert booking.status == 202, booking
        provider.wait_for_requests(1, op="charge")  # the charge is in flight, held at the gate
        srv.kill9()
        gate.set()  # the answer goes to a dead connection
        started = time.monotonic()
        srv.restart()
        assert re.search(r"\b1 deliveries this node had claimed before it stopped", srv.output())
        wait_booking(srv, booking.json["id"], {"confirmed"}, timeout_s=20)
        took = time.monotonic() - started
        print(f"the payment was retried and confirmed {took:.1f} s after the restart "
              f"(lease 120 s)")
        assert len(provider.requests_of("charge")) == 2  # the same key, charged once
        assert provider.settled_id("charge", booking.json["id"])
    finally:
        gate.set()
        provider.close()
