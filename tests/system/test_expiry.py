"""Holds expire after the event's hold_ttl_s."""

import time

import invariants
from tixhttp import (assert_error, create_event, hold_seats, make_sections, parse_time, poll,
                     reserve, seat_statuses)


def test_held_seat_is_available_again_within_2s_and_hold_is_marked_expired(server_factory):
    srv = server_factory.start(extra_args=["--sweep-interval-ms", "100"])
    ev, seats = create_event(srv, make_sections(1, 1, 4), hold_ttl_s=1)
    eid = ev["id"]
    sent_at = time.monotonic()
    r = hold_seats(srv, eid, seats[:2], "late-larry")
    acked_at = time.monotonic()
    assert r.status == 201, r
    hold = r.json
    ttl = (parse_time(hold["expires_at"]) - parse_time(hold["created_at"])).total_seconds()
    assert 0.9 <= ttl <= 1.1, hold
    assert seat_statuses(srv, eid)[seats[0]] == "held"
    assert srv.get(f"/events/{eid}").json["seats_available"] == 2

    def freed():
        st = seat_statuses(srv, eid)
        return st[seats[0]] == "available" and st[seats[1]] == "available"

    assert poll(freed, timeout_s=2.0 - (time.monotonic() - acked_at)), \
        "held seats were not available again within 2 s of a 1 s hold"
    assert time.monotonic() - sent_at >= 0.95, "seats were freed before the TTL passed"
    assert srv.get(f"/events/{eid}").json["seats_available"] == 4

    got = poll(lambda: srv.get(f"/holds/{hold['id']}").json["status"] == "expired", 3.0)
    assert got, f"hold never shown as expired: {srv.get(f'/holds/' + hold['id']).json}"
    shown = srv.get(f"/holds/{hold['id']}").json
    if "expired_at" in shown:
        parse_time(shown["expired_at"])

    def outbox_has_expiry():
        snap = invariants.snapshot(srv.db_path)
        return [o for o in snap.outbox
                if o["type"] == "HoldExpired" and o["aggregate_id"] == hold["id"]]

    rows = poll(outbox_has_expiry, 3.0, 0.1)
    assert len(rows) == 1, f"expected one HoldExpired outbox row for {hold['id']}, got {rows}"
    assert rows[0]["event_id"] == eid
    snap = invariants.assert_store_consistent(srv.db_path)
    stored = snap.holds_by_id[hold["id"]]
    assert stored["status"] == "expired" and stored["ended_at_ms"] is not None, stored
    assert all(snap.seats_by_key[(eid, s)]["status"] == "available" for s in seats[:2])

    # An expired hold cannot be released.
    assert_error(srv.delete(f"/holds/{hold['id']}"), 409, "hold_not_active")
    # Another user can take the seats.
    again = hold_seats(srv, eid, seats[:2], "early-erin")
    assert again.status == 201, again


def test_expired_seats_are_available_before_the_sweeper_runs(server_factory):
    srv = server_factory.start(extra_args=["--sweep-interval-ms", "60000"])
    ev, seats = create_event(srv, make_sections(1, 1, 3), hold_ttl_s=1)
    eid = ev["id"]
    first = reserve(srv, eid, seats[0], "first")
    assert first.status == 201, first
    assert_error(reserve(srv, eid, seats[0], "second"), 409, "seat_unavailable")
    time.sleep(1.3)
    assert seat_statuses(srv, eid)[seats[0]] == "available", \
        "an expired hold's seat must be shown available even before the sweeper runs"
    assert srv.get(f"/events/{eid}").json["seats_available"] == 3
    second = reserve(srv, eid, seats[0], "second")
    assert second.status == 201, second
    assert seat_statuses(srv, eid)[seats[0]] == "held"
    snap = invariants.assert_store_consistent(srv.db_path)
    invariants.assert_acknowledged_holds_present(srv.db_path, [second.json], snap=snap)


def test_hold_with_long_ttl_does_not_expire_early(server_factory):
    srv = server_factory.start(extra_args=["--sweep-interval-ms", "50"])
    ev, seats = create_event(srv, make_sections(1, 1, 2), hold_ttl_s=30)
    r = reserve(srv, ev["id"], seats[0], "patient")
    assert r.status == 201
    time.sleep(0.5)
    assert srv.get(f"/holds/{r.json['id']}").json["status"] == "active"
    assert seat_statuses(srv, ev["id"])[seats[0]] == "held"
