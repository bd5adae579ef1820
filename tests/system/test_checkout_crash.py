"""Crashes in the middle of checkouts: kill -9 (and SIGTERM) while payments are in flight at
the http provider. After a restart on the same data every acknowledged booking is decided,
each booking is charged at most once, no seat is sold twice, and every outbox event reaches
every subscriber that matches it."""

import http.client
import json
import signal
import threading
import time

import pytest

import invariants
from checkoutlib import (book, bus_report, checkout, make_hold, mail_path, new_event,
                         register_webhook, start_bus_server, wait_deliveries)
from fakes import FakePaymentProvider, WebhookReceiver
from tixhttp import Response, poll, seat_map

N_CHECKOUTS = 30
SETTLE_TIMEOUT_S = 30
CRASH_ARGS = ["--lease-ms", "1500", "--retry-base-ms", "100", "--payment-timeout-ms", "1000",
              "--workers", "4"]


@pytest.fixture
def provider():
    p = FakePaymentProvider(latency_s=0.2)
    yield p
    p.close()


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


def token_for(i):
    """Every fifth checkout is declined, every seventh hits one outage first, the rest pay."""
    if i % 5 == 4:
        return "tok_declined"
    if i % 7 == 3:
        return "tok_flaky"
    return "tok_visa"


def start_checkouts(srv, holds):
    """Fires one checkout per hold at once (threads released by a barrier). Returns
    (threads, results) where results[i] is a Response or an exception."""
    n = len(holds)
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        try:
            conn.connect()
            body = json.dumps({"payment_token": token_for(i),
                               "email": f"buyer{i}@example.com"})
            barrier.wait(20)
            conn.request("POST", f"/holds/{holds[i]['id']}/checkout", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            results[i] = Response(resp.status, resp.headers, resp.read())
        except Exception as e:  # noqa: BLE001 - a cut-off request is expected here
            results[i] = e
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def wait_settled(srv, event_id, since, timeout_s=SETTLE_TIMEOUT_S):
    """Waits until no booking of EVENT_ID is pending and every delivery of an outbox row
    after SINCE is delivered; fails with the state otherwise. Returns the snapshot."""
    last = {}

    def settled():
        snap = invariants.checkout_snapshot(srv.db_path)
        last["snap"] = snap
        pending = [b["id"] for b in snap.bookings_of_event(event_id)
                   if b["status"] == "pending_payment"]
        open_deliveries = [d for d in snap.deliveries
                           if d["outbox_seq"] > since and d["status"] != "delivered"]
        last["why"] = (pending, open_deliveries)
        return not pending and not open_deliveries

    if not poll(settled, timeout_s, 0.1):
        pending, open_deliveries = last["why"]
        raise AssertionError(
            f"not settled {timeout_s}s after the restart: {len(pending)} bookings still "
            f"pending_payment {pending[:5]}, {len(open_deliveries)} deliveries not delivered "
            f"{open_deliveries[:5]}\n{bus_report(srv)}\n" + srv.output(80))
    return last["snap"]


def check_after_crash(srv, provider, receiver, eid, holds, results, since):
    acked = {}
    for i, r in enumerate(results):
        if isinstance(r, Response):
            assert r.status in (202, 503), f"checkout {i}: unexpected {r.status} {r.body[:300]!r}"
            if r.status == 202:
                acked[holds[i]["id"]] = (i, json.loads(r.body))
    snap = wait_settled(srv, eid, since)

    # every acknowledged booking is decided, the way its token says
    by_id = snap.bookings_by_id
    wrong = []
    for hold_id, (i, b) in acked.items():
        stored = by_id.get(b["id"])
        want = "payment_failed" if token_for(i) == "tok_declined" else "confirmed"
        if stored is None or stored["status"] != want:
            wrong.append(f"checkout {i} ({token_for(i)}) booking {b['id']}: "
                         f"{stored and stored['status']}, expected {want}")
        api = srv.get(f"/bookings/{b['id']}")
        if api.status != 200 or api.json["status"] != want:
            wrong.append(f"GET /bookings/{b['id']} -> {api.status} {api.body[:200]!r}")
    assert not wrong, "\n".join(wrong)
    # bookings whose 202 was cut off are decided too, and are one per hold
    mine = snap.bookings_of_event(eid)
    for b in mine:
        assert b["status"] in ("confirmed", "payment_failed"), b
        if b["hold_id"] in acked:
            assert acked[b["hold_id"]][1]["id"] == b["id"], (b, acked[b["hold_id"]])

    # the provider: one charge per booking at most, every retry replayed, keys = booking ids
    assert not provider.violations, provider.violations
    charged = {}
    for st in provider.key_states("charge"):
        assert st.key in by_id, f"charge key {st.key} is not a booking id"
        assert st.performed <= 1, st
        if st.performed:
            charged[st.key] = provider.settled_id("charge", st.key)
    confirmed = {b["id"]: b for b in mine if b["status"] == "confirmed"}
    assert set(charged) == set(confirmed), \
        f"charged but not confirmed: {set(charged) - set(confirmed)}; " \
        f"confirmed without a charge: {set(confirmed) - set(charged)}"
    for bid, b in confirmed.items():
        assert b["payment_id"] == charged[bid], (b, charged[bid])
    assert not provider.key_states("refund"), "no refund was due"

    # seats: none sold twice, sold == seats of confirmed bookings (store and API)
    invariants._fail_if(invariants.checkout_store_violations(snap), "store invariant")
    invariants._fail_if(invariants.booking_violations(snap), "booking")
    want_sold = {s for b in confirmed.values() for s in b["seat_ids"]}
    assert sum(len(b["seat_ids"]) for b in confirmed.values()) == len(want_sold)
    api_sold = {s["id"] for s in seat_map(srv, eid)["seats"] if s["status"] == "sold"}
    assert api_sold == want_sold, (api_sold ^ want_sold)
    store_sold = {s["seat_id"] for s in snap.seats if s["event_id"] == eid and
                  s["status"] == "sold"}
    assert store_sold == want_sold

    # every outbox event has one delivery per matching subscriber, all delivered
    invariants._fail_if(invariants.delivery_violations(snap, since, require_delivered=True),
                        "delivery")
    # ... and the webhook really got each of them (at least once; a crash may repeat one)
    seen = {d.event_id_header for d in receiver.all()}
    hooks = {s["id"] for s in snap.subscribers if s["kind"] == "webhook"}
    routed = [o for o in snap.outbox
              if o["seq"] > since and invariants.expected_subscribers(snap, o) & hooks]
    assert routed, "the webhook matched no event"
    missing = [o for o in routed if o["id"] not in seen]
    assert not missing, f"{len(missing)} events never reached the webhook: {missing[:3]}"
    # and each decided booking got its email
    for b in mine:
        typ = "BookingConfirmed" if b["status"] == "confirmed" else "PaymentFailed"
        [row] = [o for o in snap.outbox if o["aggregate_id"] == b["id"] and o["type"] == typ]
        assert mail_path(srv, row["id"]).is_file(), f"no {typ} email for {b['id']}"
    return acked, confirmed


def test_kill_9_with_payments_in_flight_decides_every_booking_and_charges_once(
        server_factory, provider, receiver):
    provider.fail_first["tok_flaky"] = 1
    srv = start_bus_server(server_factory, *CRASH_ARGS, provider=provider)
    register_webhook(srv, receiver.url("/all"), ["*"], secret="crash-secret")
    since = invariants.max_outbox_seq(srv.db_path)
    eid, seats, _ = new_event(srv, rows=4, seats_per_row=10, sections=1)
    holds = [make_hold(srv, eid, [seats[i]], f"crash-user-{i}") for i in range(N_CHECKOUTS)]

    threads, results = start_checkouts(srv, holds)
    arrived = provider.wait_for_requests(4, "charge", timeout_s=15)
    assert arrived >= 4, f"only {arrived} charges reached the provider\n{bus_report(srv)}"
    srv.kill9()
    in_flight_at_kill = len(provider.requests_of("charge"))
    for t in threads:
        t.join(25)
    assert not any(t.is_alive() for t in threads)

    srv.restart()
    snap = invariants.checkout_snapshot(srv.db_path)
    pending_at_restart = [b for b in snap.bookings_of_event(eid)
                          if b["status"] == "pending_payment"]
    assert pending_at_restart, "the crash came too late: nothing was in flight"
    acked, confirmed = check_after_crash(srv, provider, receiver, eid, holds, results, since)
    replays = sum(st.replays for st in provider.key_states("charge"))
    print(f"kill -9 after {in_flight_at_kill} charge requests; {len(acked)} checkouts "
          f"acknowledged, {len(pending_at_restart)} pending at restart, {len(confirmed)} "
          f"confirmed, {replays} charge replays")
    invariants.assert_checkout_consistent(srv.db_path, since_outbox_seq=since,
                                          require_delivered=True)
    invariants.assert_tix_check_clean(srv.data_dir)


def test_sigterm_with_payments_in_flight_exits_0_and_the_rest_completes_after_restart(
        server_factory, provider, receiver):
    srv = start_bus_server(server_factory, *CRASH_ARGS, provider=provider)
    register_webhook(srv, receiver.url("/all"), ["Booking*", "Payment*"])
    since = invariants.max_outbox_seq(srv.db_path)
    eid, seats, _ = new_event(srv, rows=2, seats_per_row=10, sections=1)
    n = 12
    holds = [make_hold(srv, eid, [seats[i]], f"term-user-{i}") for i in range(n)]
    threads, results = start_checkouts(srv, holds)
    assert provider.wait_for_requests(2, "charge", timeout_s=15) >= 2, bus_report(srv)
    rc = srv.stop(signal.SIGTERM)
    for t in threads:
        t.join(25)
    assert rc == 0, f"SIGTERM with payments in flight should exit 0, got {rc}\n" + srv.output()
    srv.restart()
    check_after_crash(srv, provider, receiver, eid, holds, results, since)


def test_kill_9_twice_while_refunds_are_in_flight_refunds_each_booking_once(server_factory,
                                                                            provider):
    srv = start_bus_server(server_factory, *CRASH_ARGS, provider=provider)
    eid, seats, _ = new_event(srv, rows=1, seats_per_row=8, sections=1)
    booked = [book(srv, eid, [seats[i]], "tok_visa")[1] for i in range(6)]
    assert poll(lambda: all(srv.get(f"/bookings/{b['id']}").json["status"] == "confirmed"
                            for b in booked), 15), bus_report(srv)
    for b in booked:
        assert srv.post(f"/bookings/{b['id']}/cancel", {}).status == 200
    assert provider.wait_for_requests(1, "refund", timeout_s=10) >= 1, bus_report(srv)
    srv.kill9()
    srv.restart()
    time.sleep(0.3)
    srv.kill9()
    srv.restart()

    def refunded():
        return all(srv.get(f"/bookings/{b['id']}").json.get("refund_id") for b in booked)

    assert poll(refunded, SETTLE_TIMEOUT_S, 0.1), bus_report(srv)
    for b in booked:
        st = provider.refund(f"refund-{b['id']}")
        assert st is not None and st.performed == 1, st
        got = srv.get(f"/bookings/{b['id']}").json
        assert got["status"] == "cancelled" and \
            got["refund_id"] == provider.settled_id("refund", f"refund-{b['id']}"), got
    assert not provider.violations, provider.violations
    assert {s["status"] for s in seat_map(srv, eid)["seats"]} == {"available"}
    invariants.assert_checkout_consistent(srv.db_path)
    invariants.assert_tix_check_clean(srv.data_dir)


def test_a_delivery_whose_last_attempt_was_lost_in_a_crash_is_dead_lettered_not_retried(
        server_factory):
    """Regression: with --max-attempts 1, a charge in flight when the server died was claimed
    again after its lease passed (a second attempt past the limit)."""
    import threading
    provider = FakePaymentProvider()
    gate = threading.Event()
    provider.gates["tok_gated"] = gate
    try:
        srv = start_bus_server(server_factory, "--max-attempts", "1", "--lease-ms", "800",
                               provider=provider)
        event_id, seats, _ = new_event(srv)
        hold = make_hold(srv, event_id, seats[:1])
        b = checkout(srv, hold["id"], token="tok_gated")
        assert b.status == 202, b
        provider.wait_for_requests(1, op="charge")
        srv.kill9()
        srv.restart()
        ds = wait_deliveries(srv, lambda d: d and d[0]["status"] == "dead", what="dead letter",
                             aggregate_id=b.json["id"], subscriber_id="payment")
        assert ds[0]["attempts"] == 1, ds
        assert "attempts exhausted" in ds[0]["last_error"], ds
        gate.set()
        time.sleep(1.0)  # a wrong claim would have asked again by now
        assert len(provider.requests_of(op="charge")) == 1, provider.requests_of(op="charge")
        invariants.assert_tix_check_clean(srv.data_dir)  # nothing pending past its attempts
    finally:
        gate.set()
        provider.close()


def test_a_booking_cancelled_while_its_charge_was_in_flight_on_a_node_that_died_is_refunded(
        server_factory, provider):
    """Regression: the charge reached the provider (which took the money), the booking was
    cancelled meanwhile, and the server died before the answer was recorded. The retry found
    the booking cancelled and did nothing: charged, never refunded. A retry now asks the
    provider again (same key: it answers what it did) and the money is given back."""
    gate = threading.Event()
    provider.gates["tok_gated"] = gate
    srv = start_bus_server(server_factory, *CRASH_ARGS, provider=provider)
    event_id, seats, _ = new_event(srv)
    hold = make_hold(srv, event_id, seats[:1])
    b = checkout(srv, hold["id"], token="tok_gated")
    assert b.status == 202, b
    booking_id = b.json["id"]
    assert provider.wait_for_requests(1, "charge") == 1, bus_report(srv)
    assert provider.charge(booking_id).performed == 1  # the money is taken; the answer waits
    cancel = srv.post(f"/bookings/{booking_id}/cancel", {})
    assert cancel.status == 200 and cancel.json["status"] == "cancelled", cancel
    srv.kill9()
    gate.set()
    srv.restart()

    def refunded():
        got = srv.get(f"/bookings/{booking_id}").json
        return got.get("refund_id") and got

    got = poll(refunded, SETTLE_TIMEOUT_S, 0.1)
    assert got, f"booking {booking_id} charged at the provider and never refunded: " \
        f"{srv.get(f'/bookings/{booking_id}').json}\n{bus_report(srv, booking_id)}"
    assert got["status"] == "cancelled", got
    assert got["payment_id"] == provider.settled_id("charge", booking_id), got
    assert got["refund_id"] == provider.settled_id("refund", f"refund-{booking_id}"), got
    assert provider.charge(booking_id).performed == 1, provider.charge(booking_id)
    assert provider.refund(f"refund-{booking_id}").performed == 1
    assert not provider.violations, provider.violations
    assert {s["id"]: s["status"] for s in seat_map(srv, event_id)["seats"]}[seats[0]] == \
        "available"
    invariants.assert_checkout_consistent(srv.db_path)
    invariants.assert_tix_check_clean(srv.data_dir)
