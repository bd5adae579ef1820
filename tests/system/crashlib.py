"""The crash loops' buyers and checks (test_crash_loop.py: one node; test_nodes.py: three
nodes on one PostgreSQL): a mixed load of holds of one and several seats, releases, checkouts
paid and declined, and cancels from client threads, every acknowledged response kept in a
History; and, after each kill and restart, the checks that nothing acknowledged was lost: every
acknowledged hold in the store with its seats and a status its history allows, every
acknowledged checkout with its booking, every acknowledged cancel stuck (in the store, and
through the API).

A Client talks to one port (a node, or a load balancer in front of several): it stops at its
first transport error (the node it talks to was killed); any answer that is not a success is
not acknowledged, whatever its status (a 502 from a load balancer whose node died mid-request
included), and the statuses it allows afterwards say so."""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import invariants
from tixhttp import parse_time

SETTLE_TIMEOUT_S = 30.0
VERIFY_THREADS = 4
API_SAMPLE = 300  # older holds re-read through the API after each restart (all are, in the store)


class Hold:
    """What the clients know about one acknowledged hold."""

    def __init__(self, body, cycle):
        self.cycle = cycle  # the last cycle that acknowledged or tried something on it
        self.id = body["id"]
        self.event_id = body["event_id"]
        self.seat_ids = sorted(body["seat_ids"])
        self.expires_at = parse_time(body["expires_at"]).timestamp()
        self.release_tried = self.release_acked = False
        self.checkout_tried = False
        self.token = None          # the token of the acknowledged checkout
        self.booking_id = None     # from the acknowledged checkout (202)
        self.cancel_tried = self.cancel_acked = False
        self.lock = threading.Lock()


class History:
    """Every acknowledged response, shared by the clients (and counts of what was sent)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.holds = []
        self.sent = 0
        self.acked = {"hold": 0, "release": 0, "checkout": 0, "cancel": 0}
        self.statuses = {}
        self.problems = []  # answers that were wrong on their face (a 201 with other seats)

    def count(self, what, status):
        with self.lock:
            self.sent += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if what:
                self.acked[what] += 1


class Client(threading.Thread):
    """One buyer thread on one keep-alive connection; stops at the first transport error (the
    server was killed) or when told to."""

    def __init__(self, n, port, events, history, stop, rng, cycle):
        super().__init__(daemon=True)
        self.cycle = cycle
        self.n, self.port, self.events = n, port, events
        self.history, self.stop, self.rng = history, stop, rng
        self.mine = []  # holds this client may act on
        self.serial = 0

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, payload

    def user(self):
        self.serial += 1
        return f"crash-{self.n}-{self.serial}-{self.rng.randrange(1 << 30)}"

    def do_hold(self):
        eid, seats = self.events[0] if self.rng.random() < 0.85 else self.events[1]
        k = 1 if self.rng.random() < 0.6 else self.rng.randint(2, 4)
        picked = self.rng.sample(seats, k)
        if k == 1 and self.rng.random() < 0.5:
            status, payload = self.request("POST", "/reserve", {
                "event_id": eid, "seat_id": picked[0], "user_id": self.user()})
        else:
            status, payload = self.request("POST", f"/events/{eid}/holds", {
                "user_id": self.user(), "seat_ids": picked})
        acked = status == 201
        self.history.count("hold" if acked else None, status)
        if acked:
            hold = Hold(json.loads(payload), self.cycle)
            with self.history.lock:
                if hold.seat_ids != sorted(picked) or hold.event_id != eid:
                    self.history.problems.append(f"hold of {picked} in {eid} answered 201 "
                                                 f"{payload[:300]!r}")
                self.history.holds.append(hold)
            self.mine.append(hold)

    def do_release(self, hold):
        with hold.lock:
            hold.release_tried, hold.cycle = True, self.cycle
        status, _ = self.request("DELETE", f"/holds/{hold.id}")
        self.history.count("release" if status == 200 else None, status)
        if status == 200:
            with hold.lock:
                hold.release_acked = True
        self.mine.remove(hold)

    def do_checkout(self, hold):
        token = "tok_visa" if self.rng.random() < 0.7 else "tok_chargeDeclined"
        with hold.lock:
            hold.checkout_tried, hold.cycle = True, self.cycle
        status, payload = self.request("POST", f"/holds/{hold.id}/checkout",
                                       {"payment_token": token})
        self.history.count("checkout" if status == 202 else None, status)
        if status == 202:
            booking = json.loads(payload)
            if booking.get("hold_id") != hold.id:
                with self.history.lock:
                    self.history.problems.append(f"checkout of {hold.id} answered 202 "
                                                 f"{payload[:300]!r}")
            with hold.lock:
                hold.token, hold.booking_id = token, booking["id"]
        else:
            self.mine.remove(hold)

    def do_cancel(self, hold):
        with hold.lock:
            hold.cancel_tried, hold.cycle = True, self.cycle
        status, _ = self.request("POST", f"/bookings/{hold.booking_id}/cancel", {})
        self.history.count("cancel" if status == 200 else None, status)
        if status == 200:
            with hold.lock:
                hold.cancel_acked = True
        self.mine.remove(hold)

    def step(self):
        r = self.rng.random()
        fresh = [h for h in self.mine if not h.checkout_tried]
        booked = [h for h in self.mine if h.booking_id]
        if r < 0.15 and fresh:
            self.do_release(self.rng.choice(fresh))
        elif r < 0.35 and fresh:
            self.do_checkout(self.rng.choice(fresh))
        elif r < 0.45 and booked:
            self.do_cancel(self.rng.choice(booked))
        else:
            self.do_hold()

    def run(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            while not self.stop.is_set():
                self.step()
        except (OSError, http.client.HTTPException):
            pass  # the server died under us: what was not acknowledged does not count
        finally:
            self.conn.close()


# -- checks after a restart -------------------------------------------------------------------

def allowed_hold_statuses(hold, sent_s, answered_s):
    """The statuses a hold may show given what was acknowledged and tried, asked between
    SENT_S and ANSWERED_S (the server's clock is this machine's)."""
    if hold.release_acked:
        return {"released"}
    if hold.booking_id:  # checkout acknowledged: frozen, then booked or let go
        return {"checkout", "booked", "released"}
    allowed = {"active"} if sent_s < hold.expires_at else set()
    if answered_s >= hold.expires_at:
        allowed.add("expired")
    if hold.release_tried or hold.checkout_tried:
        allowed.add("released")  # a release, or a declined or cancelled checkout
    if hold.checkout_tried:
        allowed |= {"checkout", "booked"}
    return allowed


def allowed_booking_statuses(hold, final):
    if hold.cancel_acked:
        return {"cancelled"}
    want = {"confirmed"} if hold.token == "tok_visa" else {"payment_failed"}
    if not final:
        want.add("pending_payment")
    if hold.cancel_tried:
        want.add("cancelled")
    return want


def verify_one(port, holds, final):
    """GETs every hold (and booking) of HOLDS on one keep-alive connection; returns problems."""
    problems = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for hold in holds:
            sent_s = time.time()
            conn.request("GET", f"/holds/{hold.id}")
            resp = conn.getresponse()
            payload = resp.read()
            answered_s = time.time()
            if resp.status != 200:
                problems.append(f"acknowledged hold {hold.id} {hold.seat_ids}: GET -> "
                                f"{resp.status} {payload[:200]!r}")
                continue
            got = json.loads(payload)
            if sorted(got["seat_ids"]) != hold.seat_ids or got["event_id"] != hold.event_id:
                problems.append(f"hold {hold.id}: seats {got['seat_ids']} of {got['event_id']}, "
                                f"acknowledged {hold.seat_ids} of {hold.event_id}")
            allowed = allowed_hold_statuses(hold, sent_s, answered_s)
            if got["status"] not in allowed:
                problems.append(f"hold {hold.id}: status {got['status']!r}, allowed "
                                f"{sorted(allowed)} (release tried/acked {hold.release_tried}/"
                                f"{hold.release_acked}, checkout tried {hold.checkout_tried})")
            if not hold.booking_id:
                continue
            conn.request("GET", f"/bookings/{hold.booking_id}")
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status != 200:
                problems.append(f"acknowledged checkout of {hold.id}: booking "
                                f"{hold.booking_id} -> {resp.status} {payload[:200]!r}")
                continue
            b = json.loads(payload)
            allowed = allowed_booking_statuses(hold, final)
            if b["hold_id"] != hold.id or b["status"] not in allowed:
                problems.append(f"booking {hold.booking_id} ({hold.token}, cancel tried/acked "
                                f"{hold.cancel_tried}/{hold.cancel_acked}): {b['status']!r} "
                                f"of hold {b['hold_id']}, allowed {sorted(allowed)}")
    finally:
        conn.close()
    return problems


def verify_store(db_path, holds):
    """Every hold of HOLDS is in the store with its seats and an allowed status (a lapsed
    active hold the sweeper has not ended yet counts as expired, as the API shows it), and
    every acknowledged checkout has its booking. One read transaction."""
    conn = invariants.connect_ro(db_path)
    try:
        conn.isolation_level = None
        conn.execute("BEGIN")
        stored = {row[0]: row[1:] for row in conn.execute(
            "SELECT id, event_id, status, seat_ids, expires_at_ms FROM holds")}
        bookings = {row[0]: row[1:] for row in conn.execute(
            "SELECT id, hold_id, status FROM bookings")}
        now_s = time.time()
        conn.execute("COMMIT")
    finally:
        conn.close()
    problems = []
    for hold in holds:
        row = stored.get(hold.id)
        if row is None:
            problems.append(f"acknowledged hold {hold.id} {hold.seat_ids} is not in the store")
            continue
        event_id, status, seat_ids, expires_at_ms = row
        if event_id != hold.event_id or sorted(json.loads(seat_ids)) != hold.seat_ids:
            problems.append(f"hold {hold.id}: the store has {seat_ids} of {event_id}, "
                            f"acknowledged {hold.seat_ids} of {hold.event_id}")
        if status == "active" and expires_at_ms <= now_s * 1000:
            status = "expired"
        allowed = allowed_hold_statuses(hold, now_s, now_s)
        if status not in allowed:
            problems.append(f"hold {hold.id}: store status {status!r}, allowed {sorted(allowed)}")
        if hold.booking_id:
            b = bookings.get(hold.booking_id)
            allowed = allowed_booking_statuses(hold, final=False)
            if b is None or b[0] != hold.id or b[1] not in allowed:
                problems.append(f"acknowledged checkout of {hold.id}: booking "
                                f"{hold.booking_id} is {b} in the store, allowed {sorted(allowed)}")
    return problems


def verify_api(srv, holds, final):
    chunks = [holds[i::VERIFY_THREADS] for i in range(VERIFY_THREADS)]
    with ThreadPoolExecutor(VERIFY_THREADS) as pool:
        results = list(pool.map(lambda c: verify_one(srv.port, c, final), chunks))
    return [p for r in results for p in r]


def verify_history(srv, history, rng, cycle=None, final=False):
    """After a restart: every acknowledged hold (and booking) in the store; through the API,
    those of the last cycle and a sample of the older ones (every one when FINAL)."""
    with history.lock:
        holds = list(history.holds)
    for h in holds:  # a consistent view of each record, however the clients left it
        h.lock.acquire()
    try:
        problems = verify_store(srv.db_path, holds)
        if final:
            through_api = holds
        else:
            recent = [h for h in holds if h.cycle == cycle]
            older = [h for h in holds if h.cycle != cycle]
            through_api = recent + rng.sample(older, min(API_SAMPLE, len(older)))
        return problems + verify_api(srv, through_api, final)
    finally:
        for h in holds:
            h.lock.release()


def wait_settled(srv, timeout_s):
    """Waits until no booking is pending and the sweeper ended every lapsed hold."""
    def decided():
        snap = invariants.checkout_snapshot(srv.db_path)
        return not [b for b in snap.bookings if b["status"] == "pending_payment"] and \
            not [h for h in snap.holds if h["status"] in ("active", "checkout")
                 and h["expires_at_ms"] <= snap.taken_at_ms]

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if decided():
            return True
        time.sleep(0.1)
    return decided()


def report(request, line):
    """Print LINE even when pytest captures output (the totals of the loop belong in the log)."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)
