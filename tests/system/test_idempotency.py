"""Idempotency-Key on POST: one execution per key, the first response replayed exactly (also
after a crash), 422 for a key reused with another request, 409 while the first is running."""

import http.client
import json
import secrets
import threading

import pytest

import invariants
from checkoutlib import (book, bus_report, checkout, make_hold, new_event, start_bus_server,
                         wait_booking)
from tixhttp import Response, assert_error, reserve, seat_statuses

BARRIER_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 60


def post_raw(srv, path, body_bytes, key, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        conn.request("POST", path, body=body_bytes, headers=headers)
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def test_50_concurrent_identical_checkouts_make_one_booking_and_one_charge(server_factory,
                                                                          provider):
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, prices = new_event(srv)
    user = "idem-" + secrets.token_hex(4)
    hold = make_hold(srv, eid, ["A1", "B2"], user)
    path = f"/holds/{hold['id']}/checkout"
    key = "chk-" + secrets.token_hex(12)
    body = json.dumps({"payment_token": "tok_visa", "email": "idem@example.com"}).encode()
    n = 50
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.connect()
            barrier.wait(BARRIER_TIMEOUT_S)
            conn.request("POST", path, body=body,
                         headers={"Content-Type": "application/json", "Idempotency-Key": key})
            resp = conn.getresponse()
            results[i] = Response(resp.status, resp.headers, resp.read())
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            results[i] = e
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BARRIER_TIMEOUT_S + REQUEST_TIMEOUT_S + 10)
    assert not any(t.is_alive() for t in threads), "clients still running"
    errors = [r for r in results if not isinstance(r, Response)]
    assert not errors, f"{len(errors)} clients failed: {errors[:5]}"
    statuses = sorted(r.status for r in results)
    accepted = [r for r in results if r.status == 202]
    in_flight = [r for r in results if r.status == 409]
    assert len(accepted) + len(in_flight) == n, \
        f"every answer must be the 202 or 409 idempotency_key_in_flight: {statuses}\n" \
        + "\n".join(repr(r) for r in results if r.status not in (202, 409))
    assert accepted, f"no 202 among {statuses}"
    first = accepted[0].body
    assert all(r.body == first for r in accepted), \
        f"202 bodies differ: {sorted({r.body for r in accepted})}"
    for r in in_flight:
        assert_error(r, 409, "idempotency_key_in_flight")
        assert (r.header("Retry-After") or "").isdigit(), f"409 without Retry-After: {r.headers}"
    booking = json.loads(first)
    assert booking["hold_id"] == hold["id"] and booking["status"] == "pending_payment", booking

    snap = invariants.checkout_snapshot(srv.db_path)
    mine = [b for b in snap.bookings if b["hold_id"] == hold["id"]]
    assert [b["id"] for b in mine] == [booking["id"]], f"bookings of the hold: {mine}"
    wait_booking(srv, booking["id"], "confirmed")
    charges = provider.key_states("charge")
    assert [st.key for st in charges] == [booking["id"]], charges
    assert charges[0].performed == 1, charges
    listed = srv.get(f"/users/{user}/bookings").json["bookings"]
    assert [b["id"] for b in listed] == [booking["id"]], listed
    print(f"{len(accepted)} x 202, {len(in_flight)} x 409 in flight")

    # a later retry replays the 202 byte for byte (the booking moved on; the answer did not)
    again = post_raw(srv, path, body, key)
    assert again.status == 202 and again.body == first, again
    assert again.header("Content-Type", "").startswith("application/json")
    # the same key with another request is refused, and changes nothing
    other = json.dumps({"payment_token": "tok_chargeDeclined"}).encode()
    assert_error(post_raw(srv, path, other, key), 422, "idempotency_key_reused")
    other_hold = make_hold(srv, eid, ["C1"], user)
    assert_error(post_raw(srv, f"/holds/{other_hold['id']}/checkout", body, key), 422,
                 "idempotency_key_reused")
    assert srv.get(f"/holds/{other_hold['id']}").json["status"] == "active"

    # the kept answer survives a crash
    srv.kill9()
    srv.restart()
    after = post_raw(srv, path, body, key)
    assert after.status == 202 and after.body == first, after
    assert_error(post_raw(srv, path, other, key), 422, "idempotency_key_reused")
    snap = invariants.checkout_snapshot(srv.db_path)
    assert [b["id"] for b in snap.bookings if b["hold_id"] == hold["id"]] == [booking["id"]]
    assert provider.charge(booking["id"]).performed == 1
    assert not provider.violations, provider.violations
    invariants.assert_checkout_consistent(srv.db_path)


@pytest.mark.parametrize("key", ["", "k" * 256, "has space", "tab\there", "\x01ctl", "caf\xe9"])
def test_invalid_idempotency_key_is_400_and_does_nothing(live_shared_server, key):
    srv = live_shared_server
    eid, seats, _ = _event(srv)
    r = post_raw(srv, f"/events/{eid}/holds",
                 json.dumps({"user_id": "bad-key", "seat_ids": [seats[0]]}).encode(), key)
    assert_error(r, 400, "invalid_idempotency_key")
    assert seat_statuses(srv, eid)[seats[0]] == "available"



def _event(srv):
    """A fresh small event on the shared server."""
    return new_event(srv, rows=1, seats_per_row=6, sections=1)


def test_longest_valid_idempotency_key_is_accepted(live_shared_server):
    srv = live_shared_server
    eid, seats, _ = _event(srv)
    key = "K" * 255
    body = json.dumps({"user_id": "long-key", "seat_ids": [seats[0]]}).encode()
    first = post_raw(srv, f"/events/{eid}/holds", body, key)
    assert first.status == 201, first
    again = post_raw(srv, f"/events/{eid}/holds", body, key)
    assert again.status == 201 and again.body == first.body, again


def test_hold_with_a_key_is_made_once_and_replayed(live_shared_server):
    srv = live_shared_server
    eid, seats, _ = _event(srv)
    key = "hold-" + secrets.token_hex(8)
    path = f"/events/{eid}/holds"
    body = json.dumps({"user_id": "once", "seat_ids": seats[:2]}).encode()
    first = post_raw(srv, path, body, key)
    assert first.status == 201, first
    for _ in range(3):
        r = post_raw(srv, path, body, key)
        assert (r.status, r.body) == (201, first.body), r
    snap = invariants.snapshot(srv.db_path)
    assert [h["id"] for h in snap.holds if h["event_id"] == eid] == [json.loads(first.body)["id"]]
    # same key: another body, another path
    assert_error(post_raw(srv, path, json.dumps({"user_id": "once", "seat_ids": seats[2:3]})
                          .encode(), key), 422, "idempotency_key_reused")
    assert_error(post_raw(srv, "/reserve", json.dumps({"event_id": eid, "seat_id": seats[3],
                                                       "user_id": "once"}).encode(), key),
                 422, "idempotency_key_reused")
    st = seat_statuses(srv, eid)
    assert st[seats[2]] == "available" and st[seats[3]] == "available", st
    # GET ignores the header
    g = srv.get(f"/events/{eid}", headers={"Idempotency-Key": key})
    assert g.status == 200, g


def test_an_error_answer_is_kept_and_replayed_too(live_shared_server):
    srv = live_shared_server
    eid, seats, _ = _event(srv)
    blocker = reserve(srv, eid, seats[0], "blocker")
    assert blocker.status == 201
    key = "err-" + secrets.token_hex(8)
    body = json.dumps({"user_id": "late", "seat_ids": [seats[0]]}).encode()
    first = post_raw(srv, f"/events/{eid}/holds", body, key)
    assert_error(first, 409, "seat_unavailable")
    assert srv.delete(f"/holds/{blocker.json['id']}").status == 200
    again = post_raw(srv, f"/events/{eid}/holds", body, key)
    assert (again.status, again.body) == (409, first.body), \
        "a retry with the same key must get the first answer, not a new execution"
    assert seat_statuses(srv, eid)[seats[0]] == "available"
    assert post_raw(srv, f"/events/{eid}/holds", body, None).status == 201
    # a validation error too
    key2 = "err422-" + secrets.token_hex(8)
    bad = post_raw(srv, f"/events/{eid}/holds", b'{"user_id": 5}', key2)
    assert_error(bad, 422, "invalid_request")
    assert post_raw(srv, f"/events/{eid}/holds", b'{"user_id": 5}', key2).body == bad.body


def test_cancel_with_a_key_is_replayed_and_refunds_once(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv)
    _, b = book(srv, eid, ["A1"], "tok_visa")
    wait_booking(srv, b["id"], "confirmed")
    key = "cancel-" + secrets.token_hex(8)
    path = f"/bookings/{b['id']}/cancel"
    first = post_raw(srv, path, b"{}", key)
    assert first.status == 200 and json.loads(first.body)["status"] == "cancelled", first
    again = post_raw(srv, path, b"{}", key)
    assert (again.status, again.body) == (200, first.body), again
    assert_error(post_raw(srv, path, b"{}", None), 409, "booking_not_cancellable")
    wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    types = invariants.checkout_snapshot(srv.db_path).outbox_types(b["id"])
    assert types.count("BookingCancelled") == 1 and types.count("RefundRequested") == 1, \
        f"{types}\n{bus_report(srv, b['id'])}"


def test_checkout_with_a_key_replays_after_a_graceful_restart(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv)
    hold = make_hold(srv, eid, ["B5"])
    key = "restart-" + secrets.token_hex(8)
    first = checkout(srv, hold["id"], "tok_visa", key=key)
    assert first.status == 202, first
    wait_booking(srv, first.json["id"], "confirmed")
    srv.stop_gracefully()
    srv.restart()
    again = checkout(srv, hold["id"], "tok_visa", key=key)
    assert (again.status, again.body) == (202, first.body), again
    assert_error(checkout(srv, hold["id"], "tok_visa"), 409, "hold_not_active")


def test_idempotency_replay_does_not_bypass_the_admin_token(live_shared_server):
    """Admin endpoints need the admin token; a kept answer to an admin request must not be
    handed to a caller without it just because it repeats the key and body."""
    srv = live_shared_server
    key = "adm-" + secrets.token_hex(8)
    body = {"url": "http://127.0.0.1:9/never", "types": ["Nothing*"], "secret": "s"}
    first = srv.post("/admin/webhooks", body,
                     headers={**srv.admin_headers(), "Idempotency-Key": key})
    assert first.status == 201, first
    again = srv.post("/admin/webhooks", body,
                     headers={**srv.admin_headers(), "Idempotency-Key": key})
    assert (again.status, again.body) == (201, first.body), again
    stranger = srv.post("/admin/webhooks", body, headers={"Idempotency-Key": key})
    assert_error(stranger, 401, "unauthorized")
