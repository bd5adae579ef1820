"""The event bus: webhook routing and signing, retries, the dead-letter queue and redrive,
admin endpoints, and email over SMTP."""

import secrets

import pytest

import invariants
from checkoutlib import (all_delivered, assert_rfc5322, book, bus_report, dead_letters,
                         deliveries, new_event, outbox_rows, register_webhook, start_bus_server,
                         wait_booking, wait_deliveries)
from fakes import FakePaymentProvider, SmtpSink, WebhookReceiver, verify_signature
from tixhttp import assert_error, parse_time, poll


@pytest.fixture
def receiver():
    r = WebhookReceiver()
    yield r
    r.close()


@pytest.fixture
def smtp():
    s = SmtpSink()
    yield s
    s.close()


def new_bus_event(srv):
    eid, _, _ = new_event(srv)
    return eid


# -- routing and signing --------------------------------------------------------------------------

def test_webhooks_get_exactly_the_event_types_they_subscribed_to(server_factory, receiver):
    srv = start_bus_server(server_factory)
    secret = secrets.token_urlsafe(24)
    bookings_wh = register_webhook(srv, receiver.url("/bookings"), ["Booking*"], secret=secret)
    holds_wh = register_webhook(srv, receiver.url("/holds"), ["Hold*"])
    mixed_wh = register_webhook(srv, receiver.url("/mixed"), ["PaymentFailed", "*Started"])
    since = invariants.max_outbox_seq(srv.db_path)
    r = srv.get("/admin/webhooks", headers=srv.admin_headers())
    assert r.status == 200, r
    def norm(w):  # the order of "types" is not part of the contract
        return dict(w, types=sorted(w["types"]))

    listed = {w["id"]: norm(w) for w in r.json["webhooks"]}
    assert listed == {w["id"]: norm(w) for w in (bookings_wh, holds_wh, mixed_wh)}, r.json
    assert "secret" not in r.body.decode() and secret not in r.body.decode()

    eid = new_bus_event(srv)
    h_ok, b_ok = book(srv, eid, ["A1"], "tok_visa")
    h_bad, b_bad = book(srv, eid, ["A2"], "tok_chargeDeclined")
    wait_booking(srv, b_ok["id"], "confirmed")
    wait_booking(srv, b_bad["id"], "payment_failed")

    expected = {
        "/bookings": {("BookingConfirmed", b_ok["id"])},
        "/holds": {("HoldCreated", h_ok["id"]), ("HoldCreated", h_bad["id"]),
                   ("HoldReleased", h_bad["id"])},
        "/mixed": {("CheckoutStarted", b_ok["id"]), ("CheckoutStarted", b_bad["id"]),
                   ("PaymentFailed", b_bad["id"])},
    }

    def seen(path):
        out = set()
        for d in receiver.all(path):
            env = d.json
            agg = env["data"].get("booking_id") or env["data"].get("hold_id")
            out.add((env["type"], agg))
        return out

    ok = poll(lambda: all(seen(p) == want for p, want in expected.items()), 10, 0.05)
    assert ok, f"{ {p: sorted(seen(p)) for p in expected} }\n{bus_report(srv)}"
    for path in expected:
        got = receiver.all(path)
        assert len(got) == len(expected[path]), f"{path}: duplicates? {got}"
        for d in got:
            env = d.json
            assert d.event_id_header == env["id"], (d.headers, env)
            assert env["source"] == "tix" and env["event_id"] == eid, env
            parse_time(env["time"])
            if path == "/bookings":
                ok_sig, why = verify_signature(secret, d.headers.get("tix-signature"), d.body)
                assert ok_sig, why
            else:
                assert "tix-signature" not in d.headers, f"unsigned webhook got {d.headers}"
    # every envelope id is the outbox id of that event
    snap = invariants.checkout_snapshot(srv.db_path)
    outbox_ids = {o["id"]: o for o in snap.outbox}
    for d in receiver.all():
        env = d.json
        assert env["id"] in outbox_ids and outbox_ids[env["id"]]["type"] == env["type"], env
    wait_deliveries(srv, lambda ds: all(x["status"] == "delivered" for x in ds),
                    what="all deliveries")
    invariants.assert_checkout_consistent(srv.db_path, since_outbox_seq=since,
                                          require_delivered=True)


def test_webhook_admin_endpoints_need_the_token_and_valid_input(server_factory, receiver):
    srv = start_bus_server(server_factory)
    good = {"url": receiver.url(), "types": ["Booking*"]}
    assert_error(srv.post("/admin/webhooks", good), 401, "unauthorized")
    assert_error(srv.post("/admin/webhooks", good, headers={"Authorization": "Bearer nope"}),
                 401, "unauthorized")
    assert_error(srv.get("/admin/webhooks"), 401, "unauthorized")
    assert_error(srv.get("/admin/dead-letters"), 401, "unauthorized")
    assert_error(srv.post("/admin/dead-letters/1/redrive", {}), 401, "unauthorized")
    adm = srv.admin_headers()
    for bad in ({"types": ["Booking*"]},
                {"url": "ftp://127.0.0.1/x", "types": ["Booking*"]},
                {"url": "not a url", "types": ["Booking*"]},
                {"url": receiver.url()},
                {"url": receiver.url(), "types": "Booking*"},
                {"url": receiver.url(), "types": ["Booking.Confirmed"]},
                {"url": receiver.url(), "types": [""]},
                {"url": receiver.url(), "types": [7]},
                {"url": receiver.url(), "types": ["Booking*"], "secret": 5}):
        assert_error(srv.post("/admin/webhooks", bad, headers=adm), 422, "invalid_request")
    assert srv.get("/admin/webhooks", headers=adm).json == {"webhooks": []}
    assert_error(srv.post("/admin/dead-letters/999999/redrive", {}, headers=adm), 404,
                 "not_found")
    assert_error(srv.post("/admin/dead-letters/abc/redrive", {}, headers=adm), 404, "not_found")
    assert dead_letters(srv) == []


# -- retries and the dead-letter queue ------------------------------------------------------------

def test_failing_webhook_is_dead_lettered_after_max_attempts_and_redrive_delivers_it(
        server_factory, receiver):
    srv = start_bus_server(server_factory, "--max-attempts", "3", "--retry-base-ms", "50")
    receiver.status = 500
    secret = "s-" + secrets.token_hex(8)
    wh = register_webhook(srv, receiver.url("/down"), ["Booking*"], secret=secret)
    eid = new_bus_event(srv)
    _, b = book(srv, eid, ["B4"], "tok_visa")
    wait_booking(srv, b["id"], "confirmed")

    def dead():
        return [d for d in dead_letters(srv) if d["subscriber"] == wh["id"]]

    assert poll(dead, 10, 0.05), f"no dead letter for {wh['id']}\n{bus_report(srv, b['id'])}"
    [dl] = dead()
    assert dl["attempts"] == 3, dl
    assert "500" in dl["last_error"], dl
    parse_time(dl["failed_at"])
    env = dl["event"]
    assert env["type"] == "BookingConfirmed" and env["data"]["booking_id"] == b["id"], dl
    assert env["source"] == "tix" and env["event_id"] == eid, env
    tries = receiver.all("/down")
    assert len(tries) == 3, f"max-attempts 3 means exactly 3 POSTs, got {tries}"
    assert {d.event_id_header for d in tries} == {env["id"]}
    assert len({d.body for d in tries}) == 1, "every retry must send the same envelope"
    assert tries[0].json == env, (tries[0].json, env)
    [row] = deliveries(srv, aggregate_id=b["id"], subscriber_id=wh["id"])
    assert row["status"] == "dead" and row["attempts"] == 3, row
    # other subscribers are not held up by the dead one
    assert all(d["status"] == "delivered" for d in deliveries(srv, aggregate_id=b["id"])
               if d["subscriber_id"] != wh["id"])

    receiver.status = 200
    r = srv.post(f"/admin/dead-letters/{dl['id']}/redrive", {}, headers=srv.admin_headers())
    assert r.status == 200, r
    assert r.json == {"id": dl["id"], "status": "pending"}, r.json
    got = receiver.wait_for(lambda ds: [d for d in ds if d.status == 200], 10)
    assert got, f"redriven delivery not received\n{bus_report(srv, b['id'])}"
    assert len(got) == 1 and got[0].body == tries[0].body, got
    ok, why = verify_signature(secret, got[0].headers.get("tix-signature"), got[0].body)
    assert ok, why
    wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id=wh["id"],
                    what="the redriven delivery")
    assert dead_letters(srv) == []
    assert_error(srv.post(f"/admin/dead-letters/{dl['id']}/redrive", {},
                          headers=srv.admin_headers()), 404, "not_found")
    assert len(receiver.all("/down")) == 4, receiver.all("/down")
    invariants.assert_checkout_consistent(srv.db_path, require_delivered=True)


def test_unreachable_webhook_is_retried_then_dead_lettered(server_factory):
    srv = start_bus_server(server_factory, "--max-attempts", "2", "--retry-base-ms", "50")
    # a port nobody listens on: connection refused
    closed = WebhookReceiver()
    url = closed.url("/gone")
    closed.close()
    wh = register_webhook(srv, url, ["Booking*"])
    eid = new_bus_event(srv)
    _, b = book(srv, eid, ["C2"], "tok_chargeDeclined")
    wait_booking(srv, b["id"], "payment_failed")
    _, b2 = book(srv, eid, ["C3"], "tok_visa")
    wait_booking(srv, b2["id"], "confirmed")
    assert poll(lambda: [d for d in dead_letters(srv) if d["subscriber"] == wh["id"]], 10), \
        bus_report(srv, b2["id"])
    [dl] = [d for d in dead_letters(srv) if d["subscriber"] == wh["id"]]
    assert dl["attempts"] == 2 and dl["event"]["data"]["booking_id"] == b2["id"], dl
    assert dl["last_error"], dl


def test_payment_that_exhausts_its_attempts_is_dead_lettered_and_redrive_completes_it(
        server_factory):
    provider = FakePaymentProvider()
    provider.fail_first["tok_outage"] = 3
    try:
        srv = start_bus_server(server_factory, "--max-attempts", "3", provider=provider)
        eid = new_bus_event(srv)
        hold, b = book(srv, eid, ["A5"], "tok_outage")

        def dead():
            return [d for d in dead_letters(srv) if d["subscriber"] == "payment"]

        assert poll(dead, 10, 0.05), bus_report(srv, b["id"])
        [dl] = dead()
        assert dl["attempts"] == 3 and dl["event"]["type"] == "CheckoutStarted", dl
        assert dl["event"]["data"]["booking_id"] == b["id"], dl
        assert "500" in dl["last_error"], dl
        # undecided: the booking waits, its seats stay held
        assert srv.get(f"/bookings/{b['id']}").json["status"] == "pending_payment"
        assert srv.get(f"/holds/{hold['id']}").json["status"] == "checkout"
        r = srv.post(f"/admin/dead-letters/{dl['id']}/redrive", {}, headers=srv.admin_headers())
        assert r.status == 200 and r.json == {"id": dl["id"], "status": "pending"}, r
        done = wait_booking(srv, b["id"], "confirmed")
        st = provider.charge(b["id"])
        assert st.attempts == 4 and st.performed == 1, st
        assert done["payment_id"] == provider.settled_id("charge", b["id"])
        assert dead() == []
        invariants.assert_checkout_consistent(srv.db_path)
    finally:
        provider.close()


# -- email over SMTP ------------------------------------------------------------------------------

def test_confirmation_email_is_sent_over_smtp(server_factory, smtp):
    srv = start_bus_server(server_factory, "--mail-from", "Tix Box <box@tix.test>", smtp=smtp)
    eid = new_bus_event(srv)
    _, b = book(srv, eid, ["A3", "A4"], "tok_visa", "sam@example.org")
    wait_booking(srv, b["id"], "confirmed")
    got = smtp.wait_for(lambda ms: ms, 10)
    assert got, f"nothing arrived at the SMTP sink; transcript {smtp.transcripts}\n" \
        + bus_report(srv, b["id"])
    wait_deliveries(srv, all_delivered, aggregate_id=b["id"], subscriber_id="notification")
    assert len(smtp.all()) == 1, smtp.all()
    m = smtp.all()[0]
    assert m.mail_from == "box@tix.test", m
    assert m.rcpts == ["sam@example.org"], m
    msg = assert_rfc5322(m.data, "sam@example.org", must_mention=[b["id"], "A3", "A4"])
    assert str(msg["From"]) == "Tix Box <box@tix.test>", msg["From"]
    [row] = outbox_rows(srv, b["id"], "BookingConfirmed")
    assert row["id"] in str(msg["Message-ID"]), (row, msg["Message-ID"])
    mail_dir = srv.data_dir / "mail"
    assert not mail_dir.exists() or not list(mail_dir.glob("*.eml")), \
        "with --smtp-url no mail file should be written"


def test_smtp_refusal_is_retried_and_delivered_once(server_factory):
    sink = SmtpSink(refuse_first=1)
    try:
        srv = start_bus_server(server_factory, smtp=sink)
        eid = new_bus_event(srv)
        _, b = book(srv, eid, ["B1"], "tok_visa", "retry@example.org")
        wait_booking(srv, b["id"], "confirmed")
        assert sink.wait_for(lambda ms: ms, 10), f"no mail after a 451; {sink.transcripts}"
        [row] = wait_deliveries(srv, all_delivered, aggregate_id=b["id"],
                                subscriber_id="notification")
        assert row["attempts"] == 2, row
        assert sink.refused == 1 and len(sink.all()) == 1, (sink.refused, sink.all())
    finally:
        sink.close()
