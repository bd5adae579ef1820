"""Checkout: POST /holds/{id}/checkout, the payment outcome (simulated and http providers),
bookings, cancellation and refunds, and the checkout timeout."""

import secrets
import threading
import time

import pytest

import invariants
from checkoutlib import (all_delivered, assert_booking_shape,
                         assert_rfc5322, book, bus_report, checkout, get_booking,
                         make_hold, new_event, outbox_rows, register_webhook, start_bus_server,
                         wait_booking, wait_deliveries, wait_mail_file)
from fakes import WebhookReceiver, verify_signature
from tixhttp import (assert_error, assert_json_content_type, create_event, hold_seats,
                     make_sections, parse_time, poll, reserve, seat_map, seat_statuses)


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


def sold(srv, event_id):
    return {s["id"] for s in seat_map(srv, event_id)["seats"] if s["status"] == "sold"}


# -- 1. the happy path, end to end ---------------------------------------------------------------

def test_happy_path_hold_checkout_confirm_sell_email_and_signed_webhook(server_factory, receiver):
    # a small simulated latency leaves a window to see the checkout in progress
    srv = start_bus_server(server_factory, "--payment-latency-ms", "300")
    secret = "whsec_" + secrets.token_hex(16)
    wh = register_webhook(srv, receiver.url("/tix"), ["Booking*"], secret=secret)
    listed = srv.get("/admin/webhooks", headers=srv.admin_headers())
    assert listed.status == 200 and wh in listed.json["webhooks"], listed
    eid, seats, prices = new_event(srv)
    want_seats = ["A1", "C2"]  # two sections: 5000 + 6000
    before = srv.get(f"/events/{eid}").json

    hold = make_hold(srv, eid, want_seats, "ann")
    r = checkout(srv, hold["id"], "tok_visa", "ann@example.com")
    assert r.status == 202, r
    assert_json_content_type(r)
    b = assert_booking_shape(r.json, hold=hold, status="pending_payment", email="ann@example.com",
                             amount_cents=prices["A1"] + prices["C2"], checkout_response=True)
    assert "payment_id" not in b and "refund_id" not in b, b
    deadline = parse_time(b["checkout_expires_at"])
    assert 895 <= (deadline - parse_time(b["created_at"])).total_seconds() <= 905, b

    # in checkout (unless the 300 ms payment already went through)
    h = srv.get(f"/holds/{hold['id']}").json
    if get_booking(srv, b["id"])["status"] == "pending_payment" and h["status"] == "checkout":
        assert parse_time(h["expires_at"]) == deadline, (h, b)
        assert seat_statuses(srv, eid)["A1"] in ("held", "sold")

    done = wait_booking(srv, b["id"], "confirmed")
    assert_booking_shape(done, hold=hold, status="confirmed", email="ann@example.com",
                         amount_cents=b["amount_cents"])
    assert done["created_at"] == b["created_at"], done
    assert srv.get(f"/holds/{hold['id']}").json["status"] == "booked"
    assert sold(srv, eid) == set(want_seats)
    after = srv.get(f"/events/{eid}").json
    assert after["seats_available"] == before["seats_available"] - 2, (before, after)
    assert after["seats_sold"] == 2, after
    assert_error(reserve(srv, eid, "A1", "bob"), 409, "seat_unavailable")
    assert_error(checkout(srv, hold["id"], "tok_visa"), 409, "hold_not_active")
    mine = srv.get("/users/ann/bookings")
    assert mine.status == 200 and mine.json["user_id"] == "ann", mine
    assert [x["id"] for x in mine.json["bookings"]] == [b["id"]], mine.json

    # the confirmation email: DATA/mail/<BookingConfirmed outbox id>.eml, RFC 5322
    path, raw = wait_mail_file(srv, b["id"], "BookingConfirmed")
    msg = assert_rfc5322(raw, "ann@example.com", must_mention=[b["id"]])
    assert "confirm" in str(msg["Subject"]).lower(), msg["Subject"]

    # the signed webhook
    got = receiver.wait_for(lambda ds: [d for d in ds if d.json["type"] == "BookingConfirmed"],
                            10)
    assert got, f"no BookingConfirmed webhook: {receiver.all()}\n{bus_report(srv, b['id'])}"
    assert len(got) == 1, got
    d = got[0]
    assert d.path == "/tix"
    assert d.headers.get("content-type", "").startswith("application/json"), d.headers
    ok, why = verify_signature(secret, d.headers.get("tix-signature"), d.body)
    assert ok, f"bad Tix-Signature: {why}; headers {d.headers}"
    env = d.json
    assert set(env) == {"id", "type", "source", "time", "event_id", "data"}, env
    assert env["source"] == "tix" and env["event_id"] == eid, env
    parse_time(env["time"])
    assert d.event_id_header == env["id"], (d.headers, env)
    assert env["data"]["booking_id"] == b["id"] and env["data"]["status"] == "confirmed", env
    assert env["data"]["payment_id"] == done["payment_id"], env
    assert sorted(env["data"]["seat_ids"]) == sorted(want_seats), env
    confirmed_row = outbox_rows(srv, b["id"], "BookingConfirmed")
    assert [o["id"] for o in confirmed_row] == [env["id"]], confirmed_row
    assert path.name == f"{env['id']}.eml"
    # a signature made with another secret does not verify
    assert not verify_signature("wrong", d.headers.get("tix-signature"), d.body)[0]

    snap = invariants.checkout_snapshot(srv.db_path)
    assert snap.outbox_types(b["id"]) == [
        "CheckoutStarted", "PaymentSucceeded", "BookingConfirmed"]
    # the built-in routing of the contract
    assert sorted(snap.patterns.get("payment", [])) == ["CheckoutStarted", "RefundRequested"]
    assert sorted(snap.patterns.get("notification", [])) == [
        "BookingCancelled", "BookingConfirmed", "PaymentFailed"]
    ds = wait_deliveries(srv, all_delivered, aggregate_id=b["id"],
                         what="deliveries of the booking")
    assert sorted((d["type"], d["subscriber_id"]) for d in ds) == sorted([
        ("CheckoutStarted", "payment"), ("BookingConfirmed", "notification"),
        ("BookingConfirmed", wh["id"])]), ds
    invariants.assert_checkout_consistent(srv.db_path, require_delivered=True)


# -- request errors ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def event_on_shared(shared_server):
    eid, seats, prices = new_event(shared_server, rows=4, seats_per_row=10)
    return eid, seats


def test_checkout_of_unknown_hold_is_404_hold_not_found(live_shared_server):
    srv = live_shared_server
    assert_error(checkout(srv, secrets.token_hex(16)), 404, "hold_not_found")
    assert_error(checkout(srv, "not-a-hold-id"), 404, "hold_not_found")


@pytest.mark.parametrize("body,field", [
    ({}, "payment_token"),
    ({"payment_token": ""}, "payment_token"),
    ({"payment_token": 42}, "payment_token"),
    ({"payment_token": None}, "payment_token"),
    ({"payment_token": "t" * 256}, "payment_token"),
    ({"payment_token": "tok_visa", "email": "no-at-sign"}, "email"),
    ({"payment_token": "tok_visa", "email": "a@b@c"}, "email"),
    ({"payment_token": "tok_visa", "email": "two words@x.org"}, "email"),
    ({"payment_token": "tok_visa", "email": "x@y.org\r\nBcc: evil@x.org"}, "email"),
    ({"payment_token": "tok_visa", "email": 7}, "email"),
])
def test_checkout_with_invalid_body_is_422_and_leaves_the_hold_active(live_shared_server,
                                                                        event_on_shared, body,
                                                                        field):
    srv = live_shared_server
    eid, _ = event_on_shared
    hold = make_hold(srv, eid, [_free_seat(srv, eid)])
    r = srv.post(f"/holds/{hold['id']}/checkout", body)
    err = assert_error(r, 422, "invalid_request")
    assert field in err["message"], err
    assert srv.get(f"/holds/{hold['id']}").json["status"] == "active"
    assert srv.delete(f"/holds/{hold['id']}").status == 200


def _free_seat(srv, eid):
    st = seat_statuses(srv, eid)
    return next(s for s, v in st.items() if v == "available")


def test_checkout_body_must_be_json(live_shared_server, event_on_shared):
    srv = live_shared_server
    eid, _ = event_on_shared
    hold = make_hold(srv, eid, [_free_seat(srv, eid)])
    assert_error(srv.post(f"/holds/{hold['id']}/checkout", raw_body=b"{nope"), 400, "invalid_json")
    assert_error(srv.post(f"/holds/{hold['id']}/checkout", raw_body=b'{"payment_token":"x"}',
                          content_type="text/plain"), 415, "unsupported_media_type")
    r = srv.get(f"/holds/{hold['id']}/checkout")
    assert_error(r, 405, "method_not_allowed")
    assert srv.delete(f"/holds/{hold['id']}").status == 200


def test_checkout_of_released_or_expired_hold_is_409_hold_not_active(live_shared_server):
    srv = live_shared_server
    ev, seats = create_event(srv, make_sections(1, 1, 4), hold_ttl_s=1)
    released = make_hold(srv, ev["id"], [seats[0]])
    assert srv.delete(f"/holds/{released['id']}").status == 200
    assert_error(checkout(srv, released["id"]), 409, "hold_not_active")
    expiring = make_hold(srv, ev["id"], [seats[1]])
    time.sleep(1.2)
    assert_error(checkout(srv, expiring["id"]), 409, "hold_not_active")
    assert seat_statuses(srv, ev["id"])[seats[1]] == "available"
    snap = invariants.checkout_snapshot(srv.db_path)
    assert not [b for b in snap.bookings if b["hold_id"] in (released["id"], expiring["id"])]


def test_unknown_booking_is_404_booking_not_found(live_shared_server):
    srv = live_shared_server
    assert_error(srv.get(f"/bookings/{secrets.token_hex(16)}"), 404, "booking_not_found")
    assert_error(srv.get("/bookings/zzz"), 404, "booking_not_found")
    assert_error(srv.post(f"/bookings/{secrets.token_hex(16)}/cancel", {}), 404,
                 "booking_not_found")
    r = srv.get(f"/users/nobody-{secrets.token_hex(4)}/bookings")
    assert r.status == 200 and r.json["bookings"] == [], r


def test_user_bookings_are_listed_newest_first(live_shared_server, event_on_shared):
    srv = live_shared_server
    eid, _ = event_on_shared
    user = "lister-" + secrets.token_hex(4)
    ids = []
    for _ in range(3):
        _, b = book(srv, eid, [_free_seat(srv, eid)], "tok_visa", user_id=user)
        ids.append(b["id"])
        time.sleep(0.005)
    r = srv.get(f"/users/{user}/bookings")
    assert r.status == 200, r
    assert r.json["user_id"] == user
    listed = r.json["bookings"]
    assert [b["id"] for b in listed] == ids[::-1], listed
    for b in listed:
        assert_booking_shape(b)
        assert b["user_id"] == user


# -- the payment outcome ------------------------------------------------------------------------

def test_checkout_keeps_the_seats_held_until_the_payment_decides(server_factory, provider):
    gate = threading.Event()
    provider.gates["tok_gated"] = gate
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, prices = new_event(srv)
    hold, b = book(srv, eid, ["A3", "A4"], "tok_gated", "gated@example.com")
    assert provider.wait_for_requests(1, timeout_s=10) == 1, bus_report(srv, b["id"])
    h = srv.get(f"/holds/{hold['id']}").json
    assert h["status"] == "checkout", h
    assert h["expires_at"] == b["checkout_expires_at"], (h, b)
    st = seat_statuses(srv, eid)
    assert st["A3"] == "held" and st["A4"] == "held", st
    assert_error(hold_seats(srv, eid, ["A3"], "other"), 409, "seat_unavailable")
    assert_error(srv.delete(f"/holds/{hold['id']}"), 409, "hold_not_active")
    assert_error(checkout(srv, hold["id"]), 409, "hold_not_active")
    assert get_booking(srv, b["id"])["status"] == "pending_payment"
    invariants.assert_checkout_consistent(srv.db_path)

    gate.set()
    done = wait_booking(srv, b["id"], "confirmed")
    charge = provider.charge(b["id"])
    assert charge is not None and charge.performed == 1, provider.key_states()
    assert done["payment_id"] == provider.settled_id("charge", b["id"])
    assert sold(srv, eid) == {"A3", "A4"}
    invariants.assert_checkout_consistent(srv.db_path)


def test_declined_payment_releases_the_seats_at_once(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, prices = new_event(srv)
    hold, b = book(srv, eid, ["B1", "B2"], "tok_chargeDeclined", "dee@example.com")
    failed = wait_booking(srv, b["id"], "payment_failed")
    assert_booking_shape(failed, hold=hold, status="payment_failed")
    assert "payment_id" not in failed, failed
    assert srv.get(f"/holds/{hold['id']}").json["status"] == "released"
    st = seat_statuses(srv, eid)
    assert st["B1"] == "available" and st["B2"] == "available", st
    other = hold_seats(srv, eid, ["B1", "B2"], "next-in-line")
    assert other.status == 201, f"seats of a declined checkout must be free at once: {other}"
    assert_error(srv.post(f"/bookings/{b['id']}/cancel", {}), 409, "booking_not_cancellable")
    # a final decline is not retried
    pay = wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="payment")
    assert [d["attempts"] for d in pay] == [1], pay
    _, raw = wait_mail_file(srv, b["id"], "PaymentFailed")
    assert_rfc5322(raw, "dee@example.com", must_mention=[b["id"]])
    assert invariants.checkout_snapshot(srv.db_path).outbox_types(b["id"]) == [
        "CheckoutStarted", "PaymentFailed"]
    invariants.assert_checkout_consistent(srv.db_path)


def test_unknown_simulated_token_is_declined(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv)
    _, b = book(srv, eid, ["A1"], "tok_" + secrets.token_hex(4))
    wait_booking(srv, b["id"], "payment_failed")
    assert seat_statuses(srv, eid)["A1"] == "available"


def test_processing_error_is_retried_until_the_payment_succeeds(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv)
    hold, b = book(srv, eid, ["C1"], "tok_processingError")
    done = wait_booking(srv, b["id"], "confirmed")
    assert done["payment_id"]
    pay = wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="payment",
                          type_="CheckoutStarted")
    assert len(pay) == 1 and pay[0]["attempts"] == 3, \
        f"tok_processingError fails twice then succeeds: expected 3 attempts, got {pay}"
    assert sold(srv, eid) == {"C1"}
    # no email address, no email (the notification is still done)
    wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="notification")
    [row] = outbox_rows(srv, b["id"], "BookingConfirmed")
    assert not (srv.data_dir / "mail" / f"{row['id']}.eml").exists()
    invariants.assert_checkout_consistent(srv.db_path)


def test_http_provider_500_twice_is_retried_with_the_same_key_then_confirmed(server_factory,
                                                                            provider):
    provider.fail_first["tok_flaky"] = 2
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, prices = new_event(srv)
    hold, b = book(srv, eid, ["A2", "C5"], "tok_flaky")
    done = wait_booking(srv, b["id"], "confirmed")
    reqs = provider.requests_of("charge")
    assert [r["status"] for r in reqs] == [500, 500, 200], reqs
    assert {r["key"] for r in reqs} == {b["id"]}, "the idempotency key must be the booking id"
    want_body = {"amount_cents": prices["A2"] + prices["C5"], "token": "tok_flaky",
                 "booking_id": b["id"]}
    for r in reqs:
        assert r["body"] == want_body, r
    assert provider.charge(b["id"]).performed == 1
    assert done["payment_id"] == provider.settled_id("charge", b["id"])
    pay = wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="payment")
    assert [d["attempts"] for d in pay] == [3], pay
    assert not provider.violations, provider.violations
    invariants.assert_checkout_consistent(srv.db_path)


def test_http_provider_4xx_is_a_final_decline(server_factory, provider):
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, _ = new_event(srv)
    _, b = book(srv, eid, ["A1"], "tok_declined")
    wait_booking(srv, b["id"], "payment_failed")
    pay = wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="payment")
    assert [d["attempts"] for d in pay] == [1], f"a 4xx decline must not be retried: {pay}"
    assert len(provider.requests_of("charge", b["id"])) == 1, provider.requests_of("charge")
    assert seat_statuses(srv, eid)["A1"] == "available"


def test_http_provider_timeout_is_retried_and_the_retry_replays_the_charge(server_factory,
                                                                           provider):
    # the first answer comes after the client gave up: the charge was made all the same, and
    # the retry (same key) must get the same charge back, not a second one
    provider.slow_first["tok_slow"] = (1, 1.2)
    srv = start_bus_server(server_factory, "--payment-timeout-ms", "300", provider=provider)
    eid, seats, _ = new_event(srv)
    _, b = book(srv, eid, ["B3"], "tok_slow")
    done = wait_booking(srv, b["id"], "confirmed")
    st = provider.charge(b["id"])
    assert st.attempts >= 2 and st.performed == 1 and st.replays >= 1, st
    assert done["payment_id"] == provider.settled_id("charge", b["id"])
    invariants.assert_checkout_consistent(srv.db_path)


# -- cancellation and refunds ---------------------------------------------------------------------

def test_cancel_of_a_confirmed_booking_frees_the_seats_and_refunds_it(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv)
    hold, b = book(srv, eid, ["A5", "B5"], "tok_visa", "cal@example.com")
    paid = wait_booking(srv, b["id"], "confirmed")
    r = srv.post(f"/bookings/{b['id']}/cancel", {})
    assert r.status == 200, r
    c = assert_booking_shape(r.json, hold=hold, status="cancelled")
    assert c["payment_id"] == paid["payment_id"], c
    st = seat_statuses(srv, eid)
    assert st["A5"] == "available" and st["B5"] == "available", st
    assert hold_seats(srv, eid, ["A5", "B5"], "second-chance").status == 201
    refunded = wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    assert refunded["payment_id"] == paid["payment_id"]
    assert_error(srv.post(f"/bookings/{b['id']}/cancel", {}), 409, "booking_not_cancellable")
    types = invariants.checkout_snapshot(srv.db_path).outbox_types(b["id"])
    assert types == ["CheckoutStarted", "PaymentSucceeded", "BookingConfirmed",
                     "BookingCancelled", "RefundRequested", "RefundSucceeded"], types
    _, raw = wait_mail_file(srv, b["id"], "BookingCancelled")
    assert_rfc5322(raw, "cal@example.com", must_mention=[b["id"]])
    wait_deliveries(srv, all_delivered, aggregate_id=b["id"])
    invariants.assert_checkout_consistent(srv.db_path, require_delivered=True)


def test_refund_over_http_is_made_once_per_key_even_when_retried(server_factory, provider):
    provider.refund_fail_first = 1  # the first refund attempt hits an outage
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, prices = new_event(srv)
    _, b = book(srv, eid, ["C3"], "tok_visa")
    paid = wait_booking(srv, b["id"], "confirmed")
    assert srv.post(f"/bookings/{b['id']}/cancel", {}).status == 200
    done = wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    key = f"refund-{b['id']}"
    reqs = provider.requests_of("refund")
    assert {r["key"] for r in reqs} == {key}, reqs
    assert [r["status"] for r in reqs] == [503, 200], reqs
    assert provider.refund(key).performed == 1
    assert done["refund_id"] == provider.settled_id("refund", key)
    assert len(provider.key_states("refund")) == 1
    assert provider.charge(b["id"]).performed == 1
    for r in reqs:
        assert r["body"]["payment_id"] == paid["payment_id"], r
        assert r["body"]["amount_cents"] == prices["C3"], r
    invariants.assert_checkout_consistent(srv.db_path)


def test_http_provider_requests_name_the_booking_in_booking_id(server_factory, provider):
    """Contract: POST /charges {"amount_cents","token","booking_id"} with Idempotency-Key
    <booking id>; POST /refunds {"amount_cents","payment_id","booking_id"} with
    Idempotency-Key refund-<booking id>: booking_id is the booking's id in both."""
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, prices = new_event(srv)
    _, b = book(srv, eid, ["A4"], "tok_visa")
    paid = wait_booking(srv, b["id"], "confirmed")
    assert srv.post(f"/bookings/{b['id']}/cancel", {}).status == 200
    wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    [charge] = provider.requests_of("charge")
    assert charge["key"] == b["id"], charge
    assert charge["body"] == {"amount_cents": prices["A4"], "token": "tok_visa",
                              "booking_id": b["id"]}, charge
    [refund] = provider.requests_of("refund")
    assert refund["key"] == f"refund-{b['id']}", refund
    assert refund["body"] == {"amount_cents": prices["A4"], "payment_id": paid["payment_id"],
                              "booking_id": b["id"]}, \
        f"refund body should name booking {b['id']} in booking_id: got {refund['body']}"


def test_cancel_while_the_charge_is_in_flight_refunds_the_late_payment(server_factory, provider):
    gate = threading.Event()
    provider.gates["tok_gated"] = gate
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, _ = new_event(srv)
    hold, b = book(srv, eid, ["A1", "A2"], "tok_gated")
    assert provider.wait_for_requests(1, timeout_s=10) == 1, bus_report(srv, b["id"])
    r = srv.post(f"/bookings/{b['id']}/cancel", {})
    assert r.status == 200 and r.json["status"] == "cancelled", r
    assert srv.get(f"/holds/{hold['id']}").json["status"] == "released"
    st = seat_statuses(srv, eid)
    assert st["A1"] == "available" and st["A2"] == "available", st
    gate.set()
    done = wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    assert done["payment_id"] == provider.settled_id("charge", b["id"]), done
    assert provider.refund(f"refund-{b['id']}").performed == 1
    assert sold(srv, eid) == set()
    invariants.assert_checkout_consistent(srv.db_path)


def test_cancel_during_payment_retries_charges_nothing(server_factory, provider):
    provider.fail_first["tok_down"] = 1000  # the provider is down for this token
    srv = start_bus_server(server_factory, provider=provider)
    eid, seats, _ = new_event(srv)
    hold, b = book(srv, eid, ["B2"], "tok_down")
    assert provider.wait_for_requests(2, timeout_s=10) >= 2, bus_report(srv, b["id"])
    r = srv.post(f"/bookings/{b['id']}/cancel", {})
    assert r.status == 200 and r.json["status"] == "cancelled", r
    assert seat_statuses(srv, eid)["B2"] == "available"
    pay = wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="payment",
                          what="the payment delivery of the cancelled booking")
    assert len(pay) == 1, pay
    n = len(provider.requests_of("charge"))
    time.sleep(0.3)
    assert len(provider.requests_of("charge")) == n, "charges continued after the cancel"
    got = get_booking(srv, b["id"])
    assert got["status"] == "cancelled" and "payment_id" not in got and "refund_id" not in got
    assert provider.charge(b["id"]).performed == 0 and not provider.key_states("refund")
    invariants.assert_checkout_consistent(srv.db_path)


def test_cancel_after_a_charge_timed_out_asks_the_provider_again_and_refunds(server_factory,
                                                                              provider):
    """A charge whose answer never came (a timeout) may have taken the money: once its booking
    is cancelled, the retry still asks the provider (the same key: it answers what it did), and
    the money is recorded and refunded. (A provider that answered 5xx did nothing: see the test
    above, where nothing more is asked.)"""
    provider.slow_first["tok_slow"] = (2, 1.5)  # charged at once, answered after the timeout
    srv = start_bus_server(server_factory, "--payment-timeout-ms", "500", provider=provider)
    eid, seats, _ = new_event(srv)
    hold, b = book(srv, eid, ["C3"], "tok_slow")
    assert provider.wait_for_requests(1, timeout_s=10) >= 1, bus_report(srv, b["id"])
    r = srv.post(f"/bookings/{b['id']}/cancel", {})
    assert r.status == 200 and r.json["status"] == "cancelled", r
    got = wait_booking(srv, b["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    assert got["payment_id"] == provider.settled_id("charge", b["id"]), got
    assert provider.charge(b["id"]).performed == 1
    assert provider.refund(f"refund-{b['id']}").performed == 1
    assert not provider.violations, provider.violations
    assert seat_statuses(srv, eid)["C3"] == "available"
    invariants.assert_checkout_consistent(srv.db_path)


# -- the checkout timeout -------------------------------------------------------------------------

def test_payment_after_the_checkout_timeout_retakes_free_seats_or_refunds(server_factory,
                                                                           provider):
    gate = threading.Event()
    provider.gates["tok_late"] = gate
    srv = start_bus_server(server_factory, "--checkout-timeout-s", "1", provider=provider)
    eid, seats, _ = new_event(srv)
    hold_free, b_free = book(srv, eid, ["A1", "A2"], "tok_late")      # seats stay free
    hold_taken, b_taken = book(srv, eid, ["B1", "B2"], "tok_late")    # B2 is taken meanwhile
    assert provider.wait_for_requests(2, timeout_s=10) == 2, bus_report(srv)

    def expired():
        return all(srv.get(f"/holds/{h['id']}").json["status"] == "expired"
                   for h in (hold_free, hold_taken))

    assert poll(expired, 5.0), [srv.get(f"/holds/{h['id']}").json for h in (hold_free, hold_taken)]
    st = seat_statuses(srv, eid)
    assert all(st[s] == "available" for s in ("A1", "A2", "B1", "B2")), st
    rival = hold_seats(srv, eid, ["B2"], "rival")
    assert rival.status == 201, rival
    gate.set()

    ok = wait_booking(srv, b_free["id"], "confirmed")
    assert ok["payment_id"]
    bad = wait_booking(srv, b_taken["id"], "cancelled", predicate=lambda x: x.get("refund_id"))
    assert bad["payment_id"] == provider.settled_id("charge", b_taken["id"]), bad
    assert provider.refund(f"refund-{b_taken['id']}").performed == 1
    assert provider.refund(f"refund-{b_free['id']}") is None
    st = seat_statuses(srv, eid)
    assert st["A1"] == "sold" and st["A2"] == "sold", st
    assert st["B2"] == "held" and st["B1"] == "available", st
    assert srv.get(f"/holds/{rival.json['id']}").json["status"] == "active"
    invariants.assert_checkout_consistent(srv.db_path)


# -- races -----------------------------------------------------------------------------------------

def test_concurrent_checkouts_of_one_hold_make_exactly_one_booking(server_factory):
    srv = start_bus_server(server_factory, "--payment-latency-ms", "200")
    eid, seats, _ = new_event(srv)
    hold = make_hold(srv, eid, ["A1", "A2"], "racer")
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(i):
        try:
            barrier.wait(20)
            results[i] = checkout(srv, hold["id"], "tok_visa", timeout=30)
        except Exception as e:  # noqa: BLE001 - asserted below
            results[i] = e

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results if not hasattr(r, "status")]
    assert not errors, errors[:3]
    won = [r for r in results if r.status == 202]
    assert len(won) == 1, f"expected one 202, got {sorted(r.status for r in results)}"
    for r in results:
        if r.status != 202:
            assert_error(r, 409, "hold_not_active")
    snap = invariants.checkout_snapshot(srv.db_path)
    assert [b["id"] for b in snap.bookings if b["hold_id"] == hold["id"]] == [won[0].json["id"]]
    wait_booking(srv, won[0].json["id"], "confirmed")
    invariants.assert_checkout_consistent(srv.db_path)


def test_checkout_racing_a_release_never_both_succeed(server_factory):
    srv = start_bus_server(server_factory)
    eid, seats, _ = new_event(srv, rows=2, seats_per_row=10, sections=1)
    outcomes = []
    for seat in seats[:12]:
        hold = make_hold(srv, eid, [seat])
        barrier = threading.Barrier(2)
        got = {}

        def do_checkout():
            barrier.wait(10)
            got["checkout"] = checkout(srv, hold["id"], "tok_visa", timeout=30)

        def do_release():
            barrier.wait(10)
            got["release"] = srv.delete(f"/holds/{hold['id']}", timeout=30)

        ts = [threading.Thread(target=do_checkout), threading.Thread(target=do_release)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        c, r = got["checkout"].status, got["release"].status
        outcomes.append((c, r))
        assert (c, r) in ((202, 409), (409, 200)), \
            f"checkout {got['checkout']!r} and release {got['release']!r} of one hold"
        if c == 202:
            wait_booking(srv, got["checkout"].json["id"], "confirmed")
        else:
            assert seat_statuses(srv, eid)[seat] == "available"
    invariants.assert_checkout_consistent(srv.db_path)
    print("checkout/release outcomes:", outcomes)
