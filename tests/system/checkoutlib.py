"""Helpers shared by the checkout, bus, idempotency and crash tests: starting a server wired
to the fakes, booking shapes, bounded waits on bookings and deliveries, reading mail files."""

import json
import re
import secrets
from pathlib import Path

import invariants
from tixhttp import (HOLD_ID_RE, assert_error, create_event, hold_seats, make_sections,
                     parse_time, poll)

BOOKING_ID_RE = HOLD_ID_RE
FINAL_BOOKING_STATUSES = {"confirmed", "payment_failed", "cancelled"}
# Fast bus for tests: retries after ~25-50 ms (doubling), expiry sweeps every 50 ms.
FAST_BUS_ARGS = ["--retry-base-ms", "50", "--sweep-interval-ms", "50"]
WAIT_S = 15.0  # default bound of every wait on the bus


def start_bus_server(factory, *extra, provider=None, smtp=None, **kw):
    """A fresh seeded server; PROVIDER (FakePaymentProvider) switches to the http provider,
    SMTP (SmtpSink) to SMTP mail."""
    args = list(FAST_BUS_ARGS)
    if provider is not None:
        args += ["--payment-provider", "http", "--payment-url", provider.url,
                 "--payment-timeout-ms", "2000"]
    if smtp is not None:
        args += ["--smtp-url", smtp.url]
    args += list(extra)
    return factory.start(extra_args=args, **kw)


def new_event(srv, rows=2, seats_per_row=5, sections=2, price_cents=5000, **kw):
    """An event with SECTIONS sections priced PRICE_CENTS, +1000 per section; returns
    (event id, seat ids, {seat id: price})."""
    secs = make_sections(sections, rows, seats_per_row, price_cents=price_cents)
    ev, seat_ids = create_event(srv, secs, **kw)
    prices = {}
    for sec in secs:
        for row in sec["rows"]:
            for n in range(1, sec["seats_per_row"] + 1):
                prices[f"{row}{n}"] = sec["price_cents"]
    return ev["id"], seat_ids, prices


def make_hold(srv, event_id, seat_ids, user_id=None):
    user_id = user_id or "u-" + secrets.token_hex(4)
    r = hold_seats(srv, event_id, seat_ids, user_id)
    assert r.status == 201, f"hold of {seat_ids} -> {r.status} {r.body[:300]!r}"
    return r.json


def checkout(srv, hold_id, token="tok_visa", email=None, key=None, extra=None, **kw):
    body = {"payment_token": token}
    if email is not None:
        body["email"] = email
    if extra:
        body.update(extra)
    headers = dict(kw.pop("headers", {}) or {})
    if key is not None:
        headers["Idempotency-Key"] = key
    return srv.post(f"/holds/{hold_id}/checkout", body, headers=headers, **kw)


def book(srv, event_id, seat_ids, token="tok_visa", email=None, user_id=None):
    """Hold SEAT_IDS and check out; asserts the 202 and returns (hold, booking)."""
    hold = make_hold(srv, event_id, seat_ids, user_id)
    r = checkout(srv, hold["id"], token, email)
    assert r.status == 202, f"checkout of {hold['id']} -> {r.status} {r.body[:300]!r}"
    return hold, r.json


def assert_booking_shape(b, *, hold=None, status=None, email=None, amount_cents=None,
                         checkout_response=False):
    for key in ("id", "hold_id", "event_id", "user_id", "seat_ids", "amount_cents", "status",
                "created_at", "updated_at"):
        assert key in b, f"booking is missing {key!r}: {b!r}"
    assert BOOKING_ID_RE.match(b["id"]), f"booking id must be 32 lowercase hex: {b['id']!r}"
    if checkout_response:
        assert b.get("booking_id") == b["id"], f"checkout answer needs booking_id == id: {b}"
    assert b["status"] in invariants.BOOKING_STATUSES, b
    assert isinstance(b["amount_cents"], int) and not isinstance(b["amount_cents"], bool), b
    parse_time(b["created_at"])
    assert parse_time(b["updated_at"]) >= parse_time(b["created_at"]), b
    if b["status"] == "pending_payment":
        assert parse_time(b["checkout_expires_at"]) > parse_time(b["created_at"]), b
    else:
        assert "checkout_expires_at" not in b, f"checkout_expires_at only while pending: {b}"
    if b["status"] == "confirmed":
        assert isinstance(b.get("payment_id"), str) and b["payment_id"], b
    if hold is not None:
        assert b["hold_id"] == hold["id"], (b, hold)
        assert b["event_id"] == hold["event_id"], (b, hold)
        assert b["user_id"] == hold["user_id"], (b, hold)
        assert sorted(b["seat_ids"]) == sorted(hold["seat_ids"]), (b, hold)
    if status is not None:
        assert b["status"] == status, f"expected status {status!r}: {b}"
    if email is not None:
        assert b.get("email") == email, b
    if amount_cents is not None:
        assert b["amount_cents"] == amount_cents, f"expected amount {amount_cents}: {b}"
    return b


def get_booking(srv, booking_id):
    r = srv.get(f"/bookings/{booking_id}")
    assert r.status == 200, f"GET /bookings/{booking_id} -> {r.status} {r.body[:300]!r}"
    return r.json


def bus_report(srv, aggregate_id=None):
    """Outbox rows and deliveries (of AGGREGATE_ID, if given), for failure messages."""
    try:
        snap = invariants.checkout_snapshot(srv.db_path)
    except Exception as e:  # noqa: BLE001 - only for a report
        return f"(no snapshot: {e})"
    rows = []
    for o in sorted(snap.outbox, key=lambda o: o["seq"]):
        if aggregate_id is not None and o["aggregate_id"] != aggregate_id:
            continue
        ds = [f"{d['subscriber_id']}:{d['status']}/{d['attempts']}"
              + (f"({d['last_error'][:80]})" if d["last_error"] else "")
              for d in snap.deliveries if d["outbox_seq"] == o["seq"]]
        rows.append(f"  {o['seq']} {o['type']} {o['aggregate_id']} -> {', '.join(ds) or '-'}")
    return "outbox/deliveries:\n" + "\n".join(rows[-60:])


def wait_booking(srv, booking_id, statuses, timeout_s=WAIT_S, predicate=None):
    """Polls GET /bookings/{id} until its status is in STATUSES (and PREDICATE(booking));
    fails with the bus state otherwise. Returns the booking."""
    statuses = {statuses} if isinstance(statuses, str) else set(statuses)
    last = {}

    def done():
        last["b"] = get_booking(srv, booking_id)
        b = last["b"]
        return b["status"] in statuses and (predicate is None or predicate(b))

    if not poll(done, timeout_s, 0.05):
        raise AssertionError(f"booking {booking_id} did not reach {sorted(statuses)} within "
                             f"{timeout_s}s: {last.get('b')}\n{bus_report(srv, booking_id)}\n"
                             + srv.output(60))
    return last["b"]


def deliveries(srv, aggregate_id=None, subscriber_id=None, type_=None):
    snap = invariants.checkout_snapshot(srv.db_path)
    return snap.deliveries_of(aggregate_id, subscriber_id, type_)


def wait_deliveries(srv, predicate, timeout_s=WAIT_S, what="deliveries", **filters):
    """Polls the deliveries matching FILTERS until PREDICATE(list) holds; returns the list."""
    last = {}

    def done():
        last["d"] = deliveries(srv, **filters)
        return predicate(last["d"])

    if not poll(done, timeout_s, 0.05):
        raise AssertionError(f"{what} not as expected within {timeout_s}s: {last.get('d')}\n"
                             + bus_report(srv, filters.get("aggregate_id")))
    return last["d"]


def all_delivered(ds):
    return bool(ds) and all(d["status"] == "delivered" for d in ds)


def outbox_rows(srv, aggregate_id, type_=None):
    snap = invariants.checkout_snapshot(srv.db_path)
    return [o for o in sorted(snap.outbox, key=lambda o: o["seq"])
            if o["aggregate_id"] == aggregate_id and (type_ is None or o["type"] == type_)]


def register_webhook(srv, url, types, secret=None):
    body = {"url": url, "types": list(types)}
    if secret is not None:
        body["secret"] = secret
    r = srv.post("/admin/webhooks", body, headers=srv.admin_headers())
    assert r.status == 201, f"POST /admin/webhooks -> {r.status} {r.body[:300]!r}"
    wh = r.json
    assert wh["url"] == url and wh["types"] == list(types), wh
    assert wh["signed"] is (secret is not None), wh
    assert wh["id"] and "secret" not in wh, wh
    parse_time(wh["created_at"])
    return wh


def dead_letters(srv):
    r = srv.get("/admin/dead-letters", headers=srv.admin_headers())
    assert r.status == 200, r
    return r.json["dead_letters"]


def mail_path(srv, outbox_id):
    return Path(srv.data_dir) / "mail" / f"{outbox_id}.eml"


def wait_mail_file(srv, booking_id, type_, timeout_s=WAIT_S):
    """Waits for the email of BOOKING_ID's TYPE event (DATA/mail/<outbox id>.eml); returns
    (path, raw bytes)."""
    found = {}

    def ready():
        rows = outbox_rows(srv, booking_id, type_)
        if not rows:
            return False
        found["path"] = mail_path(srv, rows[0]["id"])
        return found["path"].is_file()

    if not poll(ready, timeout_s, 0.05):
        listing = sorted(p.name for p in (Path(srv.data_dir) / "mail").glob("*")) \
            if (Path(srv.data_dir) / "mail").is_dir() else "no mail dir"
        raise AssertionError(f"no mail file for {type_} of {booking_id} within {timeout_s}s "
                             f"(expected {found.get('path')}); mail dir: {listing}\n"
                             + bus_report(srv, booking_id))
    return found["path"], found["path"].read_bytes()


RFC5322_DATE_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")


def assert_rfc5322(raw, to, must_mention=()):
    """RAW is an RFC 5322 message: CRLF line ends, header block then a blank line, From, To,
    Subject, Date and Message-ID headers; To is TO; the body mentions MUST_MENTION. Returns
    the parsed message."""
    import email
    import email.policy
    assert b"\r\n\r\n" in raw, f"no CRLF CRLF between headers and body: {raw[:300]!r}"
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in the message (RFC 5322 wants CRLF)"
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for line in head.split("\r\n"):
        assert len(line) <= 998, f"header line over 998 characters: {line[:80]}..."
        assert line[:1] in (" ", "\t") or re.match(r"^[!-9;-~]+:", line), \
            f"not a header line: {line!r}"
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert msg[name], f"missing {name} header:\n{head}"
        assert len(msg.get_all(name)) == 1, f"{name} appears more than once:\n{head}"
    assert str(msg["To"]) == to, f"To is {msg['To']!r}, expected {to!r}"
    assert RFC5322_DATE_RE.match(str(msg["Date"])), f"Date {msg['Date']!r} is not RFC 5322"
    assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", str(msg["Message-ID"])), msg["Message-ID"]
    body = msg.get_body(preferencelist=("plain",)).get_content()
    for text in must_mention:
        assert text in body, f"the mail body does not mention {text!r}:\n{body}"
    return msg


def event_ids_of_user(srv, user_id):
    r = srv.get(f"/users/{user_id}/bookings")
    assert r.status == 200, r
    return [b["id"] for b in r.json["bookings"]]


def http_error(resp, status, code):
    return assert_error(resp, status, code)


def json_of(body_bytes):
    return json.loads(body_bytes.decode("utf-8"))
