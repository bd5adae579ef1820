"""Invariant checks on a tix store (DIR/tix.db, SQLite in WAL mode, or a PostgreSQL database:
see tixstore.py), read-only.

Safe to run while the server is up (readers do not block the writer) or
after it stopped. Every check returns a list of human-readable violations;
the assert_* wrappers fail with the first few of them.

Tables read:
  seats(event_id, seat_id, section_idx, row_label, number, status, hold_seq)
  holds(seq, id, event_id, user_id, status, seat_ids JSON, created_at_ms,
        expires_at_ms, ended_at_ms)
  outbox(seq, id, type, event_id, aggregate_id, time_ms, data JSON)
"""

import collections
import json
import time

import tixstore

SEAT_STATUSES = {"available", "held", "sold"}
HOLD_STATUSES = {"active", "released", "expired"}
HOLD_END_EVENT = {"released": "HoldReleased", "expired": "HoldExpired"}
MAX_REPORTED = 25


def now_ms():
    return int(time.time() * 1000)


def connect_ro(db_path):
    """A read-only connection to a store: DIR/tix.db, or a PostgreSQL URL (tixstore.py)."""
    return tixstore.connect_ro(db_path)


class Snapshot:
    """One consistent read of seats, holds and outbox."""

    def __init__(self, seats, holds, outbox, taken_at_ms):
        self.seats = seats      # list of dict
        self.holds = holds      # list of dict, seat_ids decoded (or the raw text if bad)
        self.outbox = outbox    # list of dict
        self.taken_at_ms = taken_at_ms
        self.holds_by_seq = {h["seq"]: h for h in holds}
        self.holds_by_id = {}
        for h in holds:
            self.holds_by_id.setdefault(h["id"], h)
        self.seats_by_key = {(s["event_id"], s["seat_id"]): s for s in seats}

    def hold_is_live(self, hold, at_ms=None):
        """Active and not past its expiry time."""
        at_ms = self.taken_at_ms if at_ms is None else at_ms
        return hold["status"] == "active" and hold["expires_at_ms"] > at_ms

    def effective_seat_status(self, event_id, seat_id):
        """What the API must show: a held seat whose hold has expired is available."""
        seat = self.seats_by_key[(event_id, seat_id)]
        if seat["status"] != "held":
            return seat["status"]
        hold = self.holds_by_seq.get(seat["hold_seq"])
        if hold is not None and self.hold_is_live(hold):
            return "held"
        return "available"

    def event_seat_ids(self, event_id):
        return [s["seat_id"] for s in self.seats if s["event_id"] == event_id]


def _rows(conn, sql):
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


# The tables every snapshot reads, and their columns.
_CORE_QUERIES = {
    "seats": "SELECT event_id, seat_id, section_idx, row_label, number, status, hold_seq "
             "FROM seats",
    "holds": "SELECT seq, id, event_id, user_id, status, seat_ids, created_at_ms, "
             "expires_at_ms, ended_at_ms FROM holds",
    "outbox": "SELECT seq, id, type, event_id, aggregate_id, time_ms, data FROM outbox",
}


def _read(db_path, queries):
    """Runs QUERIES (name -> SQL) in one read transaction on DB_PATH; returns
    ({name: rows as dicts}, the time in ms when they were read)."""
    conn = connect_ro(db_path)
    try:
        conn.isolation_level = None
        conn.execute("BEGIN")
        tables = {name: _rows(conn, sql) for name, sql in queries.items()}
        taken_at = now_ms()
        conn.execute("COMMIT")
    finally:
        conn.close()
    return tables, taken_at


def _parse_seat_ids(records):
    """Turns each record's seat_ids JSON into a list; marks the ones that are not JSON."""
    for r in records:
        try:
            r["seat_ids"] = json.loads(r["seat_ids"])
        except (TypeError, ValueError):
            r["seat_ids_bad"] = True


def snapshot(db_path):
    t, taken_at = _read(db_path, _CORE_QUERIES)
    _parse_seat_ids(t["holds"])
    return Snapshot(t["seats"], t["holds"], t["outbox"], taken_at)


# -- the checks ----------------------------------------------------------------

def store_violations(snap, expiry_margin_ms=1500):
    """No seat is held by two active holds, every held seat points at an active
    hold that lists it, every live hold's seats are held by it, counts agree."""
    v = []
    # Seats.
    seen_keys = set()
    for s in snap.seats:
        key = (s["event_id"], s["seat_id"])
        if key in seen_keys:
            v.append(f"seat {key} appears twice in the seats table")
        seen_keys.add(key)
        if s["status"] not in SEAT_STATUSES:
            v.append(f"seat {key} has unknown status {s['status']!r}")
        if s["status"] == "held":
            hold = snap.holds_by_seq.get(s["hold_seq"])
            if s["hold_seq"] is None:
                v.append(f"seat {key} is held but hold_seq is NULL")
            elif hold is None:
                v.append(f"seat {key} is held by hold_seq {s['hold_seq']} which does not exist")
            else:
                if hold["status"] != "active":
                    v.append(f"seat {key} is held by hold {hold['id']} whose status is "
                             f"{hold['status']!r}")
                if hold["event_id"] != s["event_id"]:
                    v.append(f"seat {key} is held by hold {hold['id']} of event "
                             f"{hold['event_id']!r}")
                if isinstance(hold["seat_ids"], list) and s["seat_id"] not in hold["seat_ids"]:
                    v.append(f"seat {key} is held by hold {hold['id']} whose seat_ids "
                             f"{hold['seat_ids']} do not contain it")

    # Holds.
    held_count_by_seq = collections.Counter(
        s["hold_seq"] for s in snap.seats if s["status"] == "held")
    ids = collections.Counter(h["id"] for h in snap.holds)
    for hid, n in ids.items():
        if n > 1:
            v.append(f"hold id {hid} appears {n} times")
    active_by_seat = collections.defaultdict(list)
    for h in snap.holds:
        hid = h["id"]
        if h.get("seat_ids_bad") or not isinstance(h["seat_ids"], list):
            v.append(f"hold {hid} seat_ids is not a JSON array: {h['seat_ids']!r}")
            continue
        if not h["seat_ids"]:
            v.append(f"hold {hid} has no seats")
        if len(set(h["seat_ids"])) != len(h["seat_ids"]):
            v.append(f"hold {hid} lists a seat twice: {h['seat_ids']}")
        if h["status"] not in HOLD_STATUSES:
            v.append(f"hold {hid} has unknown status {h['status']!r}")
        if h["expires_at_ms"] is None or h["created_at_ms"] is None or \
                h["expires_at_ms"] <= h["created_at_ms"]:
            v.append(f"hold {hid} has bad times created={h['created_at_ms']} "
                     f"expires={h['expires_at_ms']}")
            continue
        if h["status"] == "active":
            if h["ended_at_ms"] is not None:
                v.append(f"active hold {hid} has ended_at_ms {h['ended_at_ms']}")
            for seat_id in h["seat_ids"]:
                if (h["event_id"], seat_id) not in snap.seats_by_key:
                    v.append(f"hold {hid} lists seat {seat_id} that event "
                             f"{h['event_id']} does not have")
                active_by_seat[(h["event_id"], seat_id)].append(h)
        elif h["status"] in ("released", "expired"):
            if h["ended_at_ms"] is None:
                v.append(f"{h['status']} hold {hid} has no ended_at_ms")
            if held_count_by_seq.get(h["seq"]):
                v.append(f"{h['status']} hold {hid} still holds "
                         f"{held_count_by_seq[h['seq']]} seat(s)")
        # Every live hold (with a margin around its expiry) holds exactly its seats.
        if h["status"] == "active" and \
                h["expires_at_ms"] > snap.taken_at_ms + expiry_margin_ms:
            for seat_id in h["seat_ids"]:
                seat = snap.seats_by_key.get((h["event_id"], seat_id))
                if seat is None:
                    continue
                if seat["status"] != "held" or seat["hold_seq"] != h["seq"]:
                    v.append(f"live hold {hid} lists seat {seat_id} but the seat is "
                             f"{seat['status']!r} with hold_seq {seat['hold_seq']} "
                             f"(hold seq {h['seq']})")
            if held_count_by_seq.get(h["seq"], 0) != len(h["seat_ids"]):
                v.append(f"live hold {hid} lists {len(h['seat_ids'])} seats but "
                         f"{held_count_by_seq.get(h['seq'], 0)} seats point at it")

    # No seat in two active holds whose lifetimes overlap (an active hold past its
    # expiry may still be listed until the sweeper runs; its seat may be re-held).
    for key, holds in active_by_seat.items():
        holds = sorted(holds, key=lambda h: h["created_at_ms"])
        for a, b in zip(holds, holds[1:]):
            if a["expires_at_ms"] > b["created_at_ms"]:
                v.append(f"seat {key} is in two active holds at once: {a['id']} "
                         f"[{a['created_at_ms']},{a['expires_at_ms']}) and {b['id']} "
                         f"[{b['created_at_ms']},{b['expires_at_ms']})")
    return v


def outbox_violations(snap):
    """Each hold has exactly one HoldCreated row; each ended hold exactly one
    row for its ending; active holds none."""
    v = []
    ids = collections.Counter(r["id"] for r in snap.outbox)
    for oid, n in ids.items():
        if n > 1:
            v.append(f"outbox id {oid} appears {n} times")
    by_agg = collections.defaultdict(collections.Counter)
    for r in snap.outbox:
        by_agg[r["aggregate_id"]][r["type"]] += 1
        try:
            json.loads(r["data"])
        except (TypeError, ValueError):
            v.append(f"outbox row {r['seq']} ({r['type']}) data is not JSON: {r['data']!r}")
    for h in snap.holds:
        types = by_agg.get(h["id"], collections.Counter())
        if types["HoldCreated"] != 1:
            v.append(f"hold {h['id']} has {types['HoldCreated']} HoldCreated outbox rows")
        for status, typ in HOLD_END_EVENT.items():
            want = 1 if h["status"] == status else 0
            if types[typ] != want:
                v.append(f"{h['status']} hold {h['id']} has {types[typ]} {typ} outbox rows")
    return v


def acknowledged_violations(snap, acked_holds, expect_status="active"):
    """Each hold the API acknowledged (a 201 body) is in the store with exactly
    its seats, event and user; if EXPECT_STATUS is 'active' and it is still
    live, its seats are held by it."""
    v = []
    for ack in acked_holds:
        h = snap.holds_by_id.get(ack["id"])
        if h is None:
            v.append(f"acknowledged hold {ack['id']} ({ack['seat_ids']}) is missing from the store")
            continue
        if h["event_id"] != ack["event_id"] or h["user_id"] != ack["user_id"]:
            v.append(f"hold {ack['id']}: store has event/user {h['event_id']}/{h['user_id']}, "
                     f"API said {ack['event_id']}/{ack['user_id']}")
        if not isinstance(h["seat_ids"], list) or \
                sorted(h["seat_ids"]) != sorted(ack["seat_ids"]):
            v.append(f"hold {ack['id']}: store seat_ids {h['seat_ids']} != acknowledged "
                     f"{ack['seat_ids']}")
            continue
        if expect_status is not None and h["status"] != expect_status:
            v.append(f"hold {ack['id']}: store status {h['status']!r}, expected {expect_status!r}")
        if h["status"] == "active" and snap.hold_is_live(h):
            for seat_id in ack["seat_ids"]:
                seat = snap.seats_by_key.get((h["event_id"], seat_id))
                if seat is None or seat["status"] != "held" or seat["hold_seq"] != h["seq"]:
                    v.append(f"hold {ack['id']}: seat {seat_id} is not held by it in the "
                             f"store: {seat}")
    return v


def _fail_if(violations, what):
    if violations:
        shown = "\n  ".join(violations[:MAX_REPORTED])
        more = len(violations) - MAX_REPORTED
        raise AssertionError(f"{len(violations)} {what} violation(s):\n  {shown}"
                             + (f"\n  ... and {more} more" if more > 0 else ""))


def assert_store_consistent(db_path, check_outbox=True):
    """Checks the store invariants (and the outbox); returns the snapshot."""
    snap = snapshot(db_path)
    _fail_if(store_violations(snap), "store invariant")
    if check_outbox:
        _fail_if(outbox_violations(snap), "outbox")
    return snap


def assert_acknowledged_holds_present(db_path, acked_holds, expect_status="active", snap=None):
    snap = snap or snapshot(db_path)
    _fail_if(acknowledged_violations(snap, acked_holds, expect_status), "acknowledged-hold")
    return snap


def api_seat_map_violations(snap, event_id, api_seats):
    """The API's seat map (list of {"id","status"}) agrees with the store."""
    v = []
    store_ids = set(snap.event_seat_ids(event_id))
    api_ids = [s["id"] for s in api_seats]
    if set(api_ids) != store_ids or len(api_ids) != len(store_ids):
        v.append(f"API lists {len(api_ids)} seats, store has {len(store_ids)}; "
                 f"only in API: {sorted(set(api_ids) - store_ids)[:10]}, "
                 f"only in store: {sorted(store_ids - set(api_ids))[:10]}")
    for s in api_seats:
        if s["id"] in store_ids:
            want = snap.effective_seat_status(event_id, s["id"])
            if s["status"] != want:
                v.append(f"seat {s['id']}: API says {s['status']!r}, store says {want!r}")
    return v


def assert_api_matches_store(snap, event_id, api_seats):
    _fail_if(api_seat_map_violations(snap, event_id, api_seats), "API-vs-store")


# -- checkout: bookings, outbox deliveries (added for the checkout tests) -------------------------
#
# Extra tables read:
#   bookings(seq, id, hold_seq, hold_id, event_id, user_id, email, status, amount_cents,
#            payment_token, payment_id, refund_id, created_at_ms, updated_at_ms,
#            checkout_deadline_ms, seat_ids JSON)
#   deliveries(seq, outbox_seq, subscriber_id, aggregate_id, status, attempts, next_attempt_ms,
#              lease_owner, lease_until_ms, last_error, updated_at_ms)
#   subscribers(id, kind, url, secret, created_at_ms), subscriber_patterns(subscriber_id, pattern)
#
# The core checks above know holds as active|released|expired; checkout adds 'checkout' (the
# hold keeps its seats until the checkout deadline) and 'booked' (its seats were sold).

import fnmatch  # noqa: E402  (kept next to the code that uses it)

CHECKOUT_HOLD_STATUSES = HOLD_STATUSES | {"checkout", "booked"}
BOOKING_STATUSES = {"pending_payment", "confirmed", "payment_failed", "cancelled"}
DELIVERY_STATUSES = {"pending", "delivered", "dead"}
BOOKING_EVENT_TYPES = ("CheckoutStarted", "PaymentSucceeded", "PaymentFailed", "BookingConfirmed",
                       "BookingCancelled", "RefundRequested", "RefundSucceeded")


class CheckoutSnapshot(Snapshot):
    """Snapshot plus bookings, deliveries and subscribers, read in the same transaction."""

    def __init__(self, seats, holds, outbox, taken_at_ms, bookings, deliveries, subscribers,
                 patterns):
        super().__init__(seats, holds, outbox, taken_at_ms)
        self.bookings = bookings
        self.deliveries = deliveries
        self.subscribers = subscribers
        self.patterns = patterns  # subscriber id -> [pattern]
        self.bookings_by_id = {b["id"]: b for b in bookings}
        self.outbox_by_seq = {o["seq"]: o for o in outbox}

    def bookings_of_event(self, event_id):
        return [b for b in self.bookings if b["event_id"] == event_id]

    def outbox_types(self, aggregate_id):
        return [o["type"] for o in sorted(self.outbox, key=lambda o: o["seq"])
                if o["aggregate_id"] == aggregate_id]

    def deliveries_of(self, aggregate_id=None, subscriber_id=None, type_=None):
        out = []
        for d in self.deliveries:
            o = self.outbox_by_seq.get(d["outbox_seq"])
            if aggregate_id is not None and d["aggregate_id"] != aggregate_id:
                continue
            if subscriber_id is not None and d["subscriber_id"] != subscriber_id:
                continue
            if type_ is not None and (o is None or o["type"] != type_):
                continue
            out.append(dict(d, type=o["type"] if o else None))
        return out


_CHECKOUT_QUERIES = dict(
    _CORE_QUERIES,
    bookings="SELECT seq, id, hold_seq, hold_id, event_id, user_id, email, status, "
             "amount_cents, payment_token, payment_id, refund_id, created_at_ms, updated_at_ms, "
             "checkout_deadline_ms, seat_ids FROM bookings",
    deliveries="SELECT seq, outbox_seq, subscriber_id, aggregate_id, status, attempts, "
               "next_attempt_ms, lease_owner, lease_until_ms, last_error, updated_at_ms "
               "FROM deliveries",
    subscribers="SELECT id, kind, url, secret, created_at_ms FROM subscribers",
    patterns="SELECT subscriber_id, pattern FROM subscriber_patterns",
)


def checkout_snapshot(db_path):
    t, taken_at = _read(db_path, _CHECKOUT_QUERIES)
    _parse_seat_ids(t["holds"])
    _parse_seat_ids(t["bookings"])
    patterns = collections.defaultdict(list)
    for p in t["patterns"]:
        patterns[p["subscriber_id"]].append(p["pattern"])
    return CheckoutSnapshot(t["seats"], t["holds"], t["outbox"], taken_at, t["bookings"],
                            t["deliveries"], t["subscribers"], dict(patterns))


def checkout_store_violations(snap, expiry_margin_ms=1500):
    """store_violations() for a store with checkouts: a hold in 'checkout' is checked like an
    active one (it holds its seats until its deadline), a 'booked' one like an ended one; and
    every sold seat belongs to the hold of a confirmed booking."""
    v = []
    mapped = []
    for h in snap.holds:
        if h["status"] not in CHECKOUT_HOLD_STATUSES:
            v.append(f"hold {h['id']} has unknown status {h['status']!r}")
        m = dict(h)
        if h["status"] == "checkout":
            m["status"] = "active"
        elif h["status"] == "booked":
            if h["ended_at_ms"] is None:
                v.append(f"booked hold {h['id']} has no ended_at_ms")
            m["status"] = "released"  # ended; must hold no seat (sold seats are not 'held')
        mapped.append(m)
    v += store_violations(Snapshot(snap.seats, mapped, snap.outbox, snap.taken_at_ms),
                          expiry_margin_ms)
    return v


def booking_violations(snap):
    """Bookings agree with their holds, seats and outbox rows:
      - known status; one booking per hold; seat_ids and event are the hold's; amount > 0;
      - confirmed <=> a payment_id and its seats sold to its hold; no seat sold twice;
      - every sold seat belongs to a confirmed booking;
      - outbox: one CheckoutStarted; PaymentSucceeded iff payment_id; one BookingConfirmed if
        confirmed; PaymentFailed iff payment_failed; BookingCancelled iff cancelled;
        RefundSucceeded iff refund_id; a refund only where money was taken."""
    v = []
    by_hold = collections.Counter(b["hold_seq"] for b in snap.bookings)
    for hold_seq, n in by_hold.items():
        if n > 1:
            v.append(f"hold seq {hold_seq} has {n} bookings")
    sold_to = {}
    for b in snap.bookings:
        bid = b["id"]
        if b["status"] not in BOOKING_STATUSES:
            v.append(f"booking {bid} has unknown status {b['status']!r}")
        if b.get("seat_ids_bad") or not isinstance(b["seat_ids"], list) or not b["seat_ids"]:
            v.append(f"booking {bid} seat_ids is bad: {b['seat_ids']!r}")
            continue
        hold = snap.holds_by_seq.get(b["hold_seq"])
        if hold is None:
            v.append(f"booking {bid} points at hold seq {b['hold_seq']} which does not exist")
        else:
            if hold["id"] != b["hold_id"] or hold["event_id"] != b["event_id"] or \
                    hold["user_id"] != b["user_id"]:
                v.append(f"booking {bid} disagrees with its hold: {hold} vs {b}")
            if isinstance(hold["seat_ids"], list) and \
                    sorted(hold["seat_ids"]) != sorted(b["seat_ids"]):
                v.append(f"booking {bid} seats {b['seat_ids']} != hold seats {hold['seat_ids']}")
        if b["amount_cents"] is None or b["amount_cents"] <= 0:
            v.append(f"booking {bid} amount {b['amount_cents']}")
        if b["status"] == "confirmed":
            if not b["payment_id"]:
                v.append(f"confirmed booking {bid} has no payment_id")
            if hold is not None and hold["status"] not in ("booked", "expired"):
                v.append(f"confirmed booking {bid}: hold status {hold['status']!r}")
            for seat_id in b["seat_ids"]:
                seat = snap.seats_by_key.get((b["event_id"], seat_id))
                if seat is None or seat["status"] != "sold" or seat["hold_seq"] != b["hold_seq"]:
                    v.append(f"confirmed booking {bid}: seat {seat_id} is {seat}")
                key = (b["event_id"], seat_id)
                if key in sold_to:
                    v.append(f"seat {key} sold twice: bookings {sold_to[key]} and {bid}")
                sold_to[key] = bid
        if b["status"] == "payment_failed" and b["payment_id"]:
            v.append(f"payment_failed booking {bid} has payment_id {b['payment_id']!r}")
        if b["status"] == "pending_payment" and b["payment_id"]:
            v.append(f"pending booking {bid} has payment_id {b['payment_id']!r}")
        if b["refund_id"] and not b["payment_id"]:
            v.append(f"booking {bid} refunded without a payment")
        if b["refund_id"] and b["status"] != "cancelled":
            v.append(f"booking {bid} refunded but {b['status']!r}")

        types = collections.Counter(o["type"] for o in snap.outbox if o["aggregate_id"] == bid)

        def want(typ, n, why):
            if types[typ] != n:
                v.append(f"booking {bid} ({b['status']}): {types[typ]} {typ} outbox rows, "
                         f"expected {n} ({why})")

        want("CheckoutStarted", 1, "one per booking")
        want("PaymentSucceeded", 1 if b["payment_id"] else 0, "iff it has a payment_id")
        want("PaymentFailed", 1 if b["status"] == "payment_failed" else 0, "iff payment_failed")
        want("BookingCancelled", 1 if b["status"] == "cancelled" else 0, "iff cancelled")
        want("RefundSucceeded", 1 if b["refund_id"] else 0, "iff it has a refund_id")
        if b["status"] == "confirmed":
            want("BookingConfirmed", 1, "confirmed")
        if types["BookingConfirmed"] > 1:
            v.append(f"booking {bid}: {types['BookingConfirmed']} BookingConfirmed rows")
        if types["RefundRequested"] > 1 or (types["RefundRequested"] and not b["payment_id"]):
            v.append(f"booking {bid}: {types['RefundRequested']} RefundRequested rows, "
                     f"payment_id {b['payment_id']!r}")
        if b["status"] == "cancelled" and b["payment_id"] and types["RefundRequested"] != 1:
            v.append(f"cancelled paid booking {bid}: {types['RefundRequested']} "
                     f"RefundRequested rows, expected 1")
    # every sold seat is accounted for by a confirmed booking
    for s in snap.seats:
        if s["status"] == "sold" and (s["event_id"], s["seat_id"]) not in sold_to:
            v.append(f"seat {(s['event_id'], s['seat_id'])} is sold (hold seq {s['hold_seq']}) "
                     f"but no confirmed booking has it")
    return v


def expected_subscribers(snap, outbox_row):
    """Subscriber ids whose patterns match the row's type (SQLite GLOB over [A-Za-z*] patterns
    is fnmatchcase) and that existed when the row was written."""
    out = set()
    created = {s["id"]: s["created_at_ms"] for s in snap.subscribers}
    for sub_id, pats in snap.patterns.items():
        if created.get(sub_id, 0) > outbox_row["time_ms"]:
            continue
        if any(fnmatch.fnmatchcase(outbox_row["type"], p) for p in pats):
            out.add(sub_id)
    return out


def delivery_violations(snap, since_outbox_seq=0, require_delivered=True, types=None):
    """Each outbox row after SINCE_OUTBOX_SEQ (of TYPES, if given) has exactly one delivery
    per matching subscriber and none for others; with REQUIRE_DELIVERED every one of them is
    'delivered' (none pending, none dead)."""
    v = []
    by_outbox = collections.defaultdict(list)
    for d in snap.deliveries:
        by_outbox[d["outbox_seq"]].append(d)
        if d["status"] not in DELIVERY_STATUSES:
            v.append(f"delivery {d['seq']} has unknown status {d['status']!r}")
        if d["outbox_seq"] not in snap.outbox_by_seq:
            v.append(f"delivery {d['seq']} points at outbox seq {d['outbox_seq']} "
                     f"which does not exist")
    for o in sorted(snap.outbox, key=lambda r: r["seq"]):
        if o["seq"] <= since_outbox_seq or (types is not None and o["type"] not in types):
            continue
        want = expected_subscribers(snap, o)
        got = collections.Counter(d["subscriber_id"] for d in by_outbox.get(o["seq"], []))
        for sub in sorted(want):
            if got[sub] != 1:
                v.append(f"outbox {o['seq']} {o['type']} ({o['aggregate_id']}): {got[sub]} "
                         f"deliveries to {sub}, expected 1")
        for sub in sorted(set(got) - want):
            v.append(f"outbox {o['seq']} {o['type']}: unexpected delivery to {sub}")
        if require_delivered:
            for d in by_outbox.get(o["seq"], []):
                if d["status"] != "delivered":
                    v.append(f"outbox {o['seq']} {o['type']} ({o['aggregate_id']}) -> "
                             f"{d['subscriber_id']}: {d['status']} after {d['attempts']} "
                             f"attempt(s), last error {d['last_error']!r}")
    return v


def assert_checkout_consistent(db_path, since_outbox_seq=0, require_delivered=False):
    """The store, booking and delivery invariants; returns the CheckoutSnapshot."""
    snap = checkout_snapshot(db_path)
    _fail_if(checkout_store_violations(snap), "store invariant")
    _fail_if(booking_violations(snap), "booking")
    _fail_if(delivery_violations(snap, since_outbox_seq, require_delivered), "delivery")
    return snap


def max_outbox_seq(db_path):
    conn = connect_ro(db_path)
    try:
        row = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()
        return row[0]
    finally:
        conn.close()


# -- `tix check`: the same invariants, checked by the server's own offline checker ---------------
#
# `tix check --data DIR` opens DIR/tix.db read-only (the server may be running) and prints one
# `VIOLATION <kind>: key=value ...` line per violation, then `tix check: clean (M checks)` or
# `tix check: N violations in M checks`; it exits 0 when clean, 1 when not (or when the store
# cannot be opened), 2 on a usage error.

import re  # noqa: E402

TIX_CHECK_VIOLATION_RE = re.compile(r"^VIOLATION ([a-z_]+): (.*)$")
TIX_CHECK_CLEAN_RE = re.compile(r"^tix check: clean \((\d+) checks\)$")
TIX_CHECK_DIRTY_RE = re.compile(r"^tix check: (\d+) violations in (\d+) checks$")


class TixCheckResult:
    """The outcome of one `tix check` run."""

    def __init__(self, args, completed):
        self.args = args
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.violations = []  # (kind, details), in output order
        for line in self.stdout.splitlines():
            m = TIX_CHECK_VIOLATION_RE.match(line)
            if m:
                self.violations.append((m.group(1), m.group(2)))

    @property
    def kinds(self):
        return {kind for kind, _ in self.violations}

    def of_kind(self, kind):
        return [details for k, details in self.violations if k == kind]

    def report(self):
        return (f"`tix {' '.join(self.args)}` exited {self.returncode}\n"
                f"stdout:\n{self.stdout[-6000:]}\nstderr:\n{self.stderr[-3000:]}")


def tix_check(data_dir, *extra_args, timeout=120):
    """Runs `tix check --data DATA_DIR EXTRA_ARGS...` (with --store URL on PostgreSQL); returns
    a TixCheckResult."""
    from tixserver import run_tix  # here: invariants.py itself needs no binary
    args = ["check", *tixstore.store_args(data_dir), *map(str, extra_args)]
    return TixCheckResult(args, run_tix(args, timeout=timeout))


def assert_tix_check_clean(data_dir, *extra_args):
    """`tix check` finds nothing wrong with the store in DATA_DIR (exit 0, the clean summary);
    returns the TixCheckResult."""
    result = tix_check(data_dir, *extra_args)
    last = result.stdout.strip().splitlines()[-1:] or [""]
    assert result.returncode == 0 and not result.violations and \
        TIX_CHECK_CLEAN_RE.match(last[0]), "tix check is not clean:\n" + result.report()
    return result
