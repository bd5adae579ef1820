"""Live seat streams, GET /events/{id}/stream (Server-Sent Events), as a viewer relies on them:
every seat change of an event (held, released, checkout, sold, freed after a declined card,
expired) reaches every viewer of that event and no other, batched under a flash sale so that
replaying the messages onto the seat map gives the final map; resuming with Last-Event-ID or
?after= loses nothing, a position too old is told to reload; the heartbeat, dead clients,
--max-streams, the idle timeout, a graceful stop with streams open, and a second node on the
same data.

Bound: the issue promises that a change reaches every viewer within 1 s. The tests allow that
plus DELIVERY_SLACK_S (default 2 s, like test_feed.py's FOLLOW_BOUND_S; env
TIX_STREAM_SLACK_S) for ASan and TSan builds on a loaded 2-core CI machine. No other timing is
asserted, except the message rate the issue states (at most one message per event per 250 ms
flush window, checked as at most 5 a second plus one)."""

import json
import os
import random
import re
import signal
import socket
import threading
import time
import http.client
from concurrent.futures import ThreadPoolExecutor

import pytest

import invariants
from checkoutlib import checkout, make_hold, new_event, start_bus_server, wait_booking
from sselib import SseStream, open_without_reading, seat_entries
from tixhttp import (Response, assert_error, create_event, make_sections, parse_time, poll,
                     seat_map)
from tixserver import run_tix

DELIVERY_PROMISE_S = 1.0
DELIVERY_SLACK_S = float(os.environ.get("TIX_STREAM_SLACK_S", "2.0"))
DELIVERY_BOUND_S = DELIVERY_PROMISE_S + DELIVERY_SLACK_S
# live's flush window is 250 ms: at most 4 messages a second per event, plus the first change
# after a quiet spell at once; checked with a little slack
MESSAGES_PER_S_MAX = 5
WAIT_S = 15.0           # bound of waits on what is not a delivery (a booking, a slot freed)
EVENT = "nba-finals"    # seeded: 100 seats, rows A-J
LIVE_BACKLOG_BYTES = 4 * 1024 * 1024  # src/live/live.h: the messages an event keeps


# -- helpers -----------------------------------------------------------------------------------

def open_stream(srv, event_id, after=None, last_event_id=None, expect=200):
    """Opens a stream of EVENT_ID; with EXPECT 200, checks the answer's head and its first
    frame (`retry: 1000`)."""
    path = f"/events/{event_id}/stream" + (f"?after={after}" if after is not None else "")
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    st = SseStream(srv.port, path, headers=headers)
    assert st.status == expect, f"GET {path} -> {st.status} {st.body[:300]!r}"
    if expect == 200:
        h = st.headers
        assert h.get("content-type") == "text/event-stream", h
        assert "no-cache" in h.get("cache-control", ""), h
        assert h.get("connection", "").lower() == "close", h
        assert h.get("transfer-encoding", "").lower() == "chunked", h
        first = st.wait(lambda fs: fs[:1], DELIVERY_BOUND_S, "first frame")[0]
        assert first.lines == ["retry: 1000"], first
    return st


def entry(seat_id, status, expires_at=None):
    """A seat as a message lists it."""
    e = {"id": seat_id, "status": status}
    if expires_at is not None:
        e["expires_at"] = expires_at
    return e


def seats_after(st, start, count, timeout_s=DELIVERY_BOUND_S, what="seat changes"):
    """Waits for seat entries START .. START+COUNT-1 of ST; returns them as (frame, seat)."""
    got = st.wait_seats(lambda es: len(es) >= start + count and es, timeout_s, what)
    return got[start:start + count]


def assert_seat_frames_well_formed(frames):
    """Every seats message: id == its position, positions strictly increasing."""
    last = 0
    for f in frames:
        if f.event != "seats":
            continue
        body = f.json
        assert f.id == str(body["position"]), f
        assert body["position"] > last, (last, f)
        assert body["seats"], f
        last = body["position"]


def event_changes(srv, event_id, after):
    """Every change of EVENT_ID after AFTER (GET /events/{id}/changes, page by page)."""
    out = []
    while True:
        r = srv.get(f"/events/{event_id}/changes?after={after}&limit=1000")
        assert r.status == 200, r
        out += r.json["changes"]
        if not r.json["changes"]:
            return out
        after = r.json["next"]


def expand(changes):
    """The seat entries the changes make, in feed order: [(seq, entry)]."""
    out = []
    for c in changes:
        for seat_id in c["seat_ids"]:
            out.append((c["seq"], entry(seat_id, c["status"], c.get("expires_at"))))
    return out


def replay(map_json, entries):
    """The seat map's statuses with ENTRIES applied in order."""
    statuses = {s["id"]: s["status"] for s in map_json["seats"]}
    for _, seat in entries:
        assert seat["id"] in statuses, f"a message names a seat the map lacks: {seat}"
        statuses[seat["id"]] = seat["status"]
    return statuses


def streams_open(srv):
    r = srv.get("/metrics", headers=srv.admin_headers())
    assert r.status == 200, r
    for line in r.body.decode().splitlines():
        if line.startswith("tix_streams_open "):
            return int(float(line.split()[1]))
    raise AssertionError("no tix_streams_open in /metrics")


def wait_streams_open(srv, want, timeout_s=WAIT_S):
    assert poll(lambda: streams_open(srv) == want, timeout_s), \
        f"tix_streams_open is {streams_open(srv)}, expected {want} within {timeout_s} s"


@pytest.fixture(scope="module")
def stream_server(module_server_factory):
    """One server for the tests that create their own events: the fast bus (expiry sweeps
    every 50 ms), 100 seats a buyer, default stream options. start_position is the feed
    position it started at (nothing changed since the seed): its backlogs cover every change
    after it."""
    srv = start_bus_server(module_server_factory, "--max-seats-per-user", "100")
    srv.start_position = seat_map(srv, EVENT)["position"]
    loaded = re.search(r"opened and loaded .*\(feed position (\d+)", srv.output())
    assert loaded and int(loaded.group(1)) == srv.start_position, srv.output()
    return srv


@pytest.fixture
def live_stream_server(stream_server):
    stream_server.assert_healthy()
    yield stream_server
    assert stream_server.running(), "server died\n" + stream_server.output()


# -- every change reaches every viewer of the event, and no other ------------------------------

class Viewers:
    """Viewers of one event that must all see the same seat entries; `seen` counts the
    entries checked so far. expect() waits for the next ones on every viewer."""

    def __init__(self, streams):
        self.streams = streams
        self.seen = 0
        self.worst_delay_s = 0.0

    def expect(self, want, since_mono=None, since_wall=None, timeout_s=DELIVERY_BOUND_S):
        """Each viewer's next entries are WANT, arriving within the bound of SINCE (the
        monotonic time the change was acknowledged, or the wall time it was committed)."""
        for st in self.streams:
            got = seats_after(st, self.seen, len(want), timeout_s, f"{want}")
            assert [seat for _, seat in got] == want, (got, want)
            for frame, _ in got:
                if since_mono is not None:
                    delay = frame.t - since_mono
                else:
                    delay = frame.wall - since_wall
                self.worst_delay_s = max(self.worst_delay_s, delay)
                assert delay < DELIVERY_BOUND_S, \
                    f"{want} reached a viewer after {delay:.2f} s (bound {DELIVERY_BOUND_S} s)"
        self.seen += len(want)

    def hold(self, srv, event_id, seat_ids):
        """Holds SEAT_IDS on SRV; the hold reaches every viewer in the bound. Returns it."""
        t = time.monotonic()
        hold = make_hold(srv, event_id, seat_ids)
        self.expect([entry(s, "held", hold["expires_at"]) for s in seat_ids], since_mono=t)
        return hold

    def release(self, srv, hold):
        """Releases HOLD on SRV; its seats reach every viewer as available in the bound."""
        t = time.monotonic()
        assert srv.delete(f"/holds/{hold['id']}").status == 200
        self.expect([entry(s, "available") for s in hold["seat_ids"]], since_mono=t)


def test_every_seat_change_reaches_every_viewer_of_its_event_and_no_other(live_stream_server):
    srv = live_stream_server
    ttl_s = 2
    eid, _, _ = new_event(srv, hold_ttl_s=ttl_s)  # rows A-D, 5 seats each
    other, _, _ = new_event(srv)
    viewers = Viewers([open_stream(srv, eid), open_stream(srv, eid)])
    bystander = open_stream(srv, other)
    start_position = seat_map(srv, eid)["position"]

    # a hold, then its release
    viewers.release(srv, viewers.hold(srv, eid, ["A1", "A2"]))

    # a checkout that confirms: held, frozen until the checkout deadline, sold
    t = time.monotonic()
    hold = make_hold(srv, eid, ["B1"])
    r = checkout(srv, hold["id"], "tok_visa")
    assert r.status == 202, r
    deadline = r.json["checkout_expires_at"]
    viewers.expect([entry("B1", "held", hold["expires_at"]), entry("B1", "held", deadline)],
                   since_mono=t)
    booking = wait_booking(srv, r.json["id"], "confirmed")
    viewers.expect([entry("B1", "sold")],
                   since_wall=parse_time(booking["updated_at"]).timestamp())

    # a checkout that is declined: the seat is free again
    t = time.monotonic()
    hold = make_hold(srv, eid, ["B2"])
    r = checkout(srv, hold["id"], "tok_chargeDeclined")
    assert r.status == 202, r
    viewers.expect([entry("B2", "held", hold["expires_at"]),
                    entry("B2", "held", r.json["checkout_expires_at"])], since_mono=t)
    booking = wait_booking(srv, r.json["id"], "payment_failed")
    viewers.expect([entry("B2", "available")],
                   since_wall=parse_time(booking["updated_at"]).timestamp())

    # a hold left alone expires (the sweep runs every 50 ms here)
    hold = viewers.hold(srv, eid, ["C1", "C2"])
    viewers.expect([entry("C1", "available"), entry("C2", "available")],
                   since_wall=parse_time(hold["expires_at"]).timestamp(),
                   timeout_s=ttl_s + DELIVERY_BOUND_S)
    assert srv.get(f"/holds/{hold['id']}").json["status"] == "expired"

    # the viewer of the other event saw none of it; its own change reaches it, and nothing
    # of it reaches the first event's viewers (their next entry is the first event's next change)
    assert not bystander.seat_messages(), bystander.snapshot()
    other_hold = Viewers([bystander]).hold(srv, other, ["D5"])
    viewers.hold(srv, eid, ["D1"])
    print(f"worst delay from commit to viewer: {viewers.worst_delay_s * 1000:.0f} ms")

    # every message well formed, ids the feed's: the last change of each message
    want = expand(event_changes(srv, eid, start_position))
    for st in viewers.streams:
        frames = st.snapshot()
        assert_seat_frames_well_formed(frames)
        got = seat_entries(frames)
        assert [seat for _, seat in got] == [e for _, e in want]
        seq_of = [seq for seq, _ in want]
        for i, (frame, _) in enumerate(got):
            last_of_frame = i + 1 == len(got) or got[i + 1][0] is not frame
            if last_of_frame:
                assert int(frame.id) == seq_of[i], (frame, want[i])
        assert not st.ended
    assert [seat for _, seat in seat_entries(bystander.snapshot())] == \
        [entry("D5", "held", other_hold["expires_at"])]
    for st in viewers.streams + [bystander]:
        st.close()


# -- a flash sale: batched, nothing lost, the replay gives the final map -----------------------

def test_a_flash_sale_reaches_viewers_batched_and_replays_onto_the_seat_map(live_stream_server):
    srv = live_stream_server
    sections = make_sections(4, 10, 10)  # 400 seats
    ev, seats = create_event(srv, sections, hold_ttl_s=3600, max_seats_per_hold=3)
    eid = ev["id"]
    start_map = seat_map(srv, eid)
    late = open_stream(srv, eid, after=start_map["position"])  # resumes from the map
    now = open_stream(srv, eid)                                # from now on (nothing changed)

    # seats in groups of 1 to 3; every group is tried by two of the 32 buyers at about the
    # same time (its owner and the next buyer), so each has one 201 and one 409; every
    # fourth hold won is released again
    rng = random.Random(20261204)
    groups, i = [], 0
    while i < len(seats):
        n = rng.randint(1, 3)
        groups.append(seats[i:i + n])
        i += n
    n_buyers = 32
    owned = [groups[k::n_buyers] for k in range(n_buyers)]
    results = []  # (group, status, hold or error, monotonic time of the answer)
    lock = threading.Lock()
    barrier = threading.Barrier(n_buyers)

    def post_hold(user, group):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        try:
            conn.request("POST", f"/events/{eid}/holds",
                         body=json.dumps({"user_id": user, "seat_ids": group}),
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def buyer(k):
        barrier.wait(30)
        mine, theirs = owned[k], owned[(k + 1) % n_buyers]
        won = 0
        for j in range(max(len(mine), len(theirs))):
            for group in ([mine[j]] if j < len(mine) else []) + \
                         ([theirs[j]] if j < len(theirs) else []):
                r = post_hold(f"buyer-{k}-{j}", group)  # a buyer each: no per-buyer limit
                answered = time.monotonic()
                body = r.json
                with lock:
                    results.append((tuple(group), r.status, body, answered))
                if r.status == 201:
                    won += 1
                    if won % 4 == 0:
                        d = srv.delete(f"/holds/{body['id']}")
                        assert d.status == 200, d
                        with lock:
                            results.append((tuple(group), "released", d.json,
                                            time.monotonic()))

    sale_started = time.monotonic()
    with ThreadPoolExecutor(max_workers=n_buyers) as ex:
        for f in [ex.submit(buyer, k) for k in range(n_buyers)]:
            f.result()

    # one winner per group (two when the first let it go in time); a loser was told which
    # seats were taken
    by_group = {}
    released = {r[0] for r in results if r[1] == "released"}
    for group, status, body, _ in results:
        if status != "released":
            by_group.setdefault(group, []).append((status, body))
    assert len(by_group) == len(groups)
    for group, answers in by_group.items():
        statuses = sorted(s for s, _ in answers)
        assert statuses == [201, 409] or (group in released and statuses == [201, 201]), \
            (group, answers)
        for s, body in answers:
            if s == 409:
                err = body["error"]
                assert err["code"] == "seat_unavailable" and \
                    set(err["seat_ids"]) <= set(group), err
    n_held = sum(1 for r in results if r[1] == 201)
    assert n_held >= len(groups) and sum(1 for r in results if r[1] == 409) > len(groups) // 2

    # every committed change reaches both viewers, in feed order, nothing more
    final_map = seat_map(srv, eid)
    want = expand(event_changes(srv, eid, start_map["position"]))
    n_changes = len({seq for seq, _ in want})
    assert n_changes == n_held + sum(1 for r in results if r[1] == "released")
    for st in (late, now):
        st.wait(lambda fs: (ms := [f for f in fs if f.event == "seats"]) and
                int(ms[-1].id) == want[-1][0], DELIVERY_BOUND_S, "the sale's last change")
        frames = st.snapshot()
        assert_seat_frames_well_formed(frames)
        got = seat_entries(frames)
        assert [seat for _, seat in got] == [e for _, e in want], "entries differ from the feed"
        # replaying the messages onto the map taken before the sale gives the final map
        assert replay(start_map, got) == {s["id"]: s["status"] for s in final_map["seats"]}
    # ... each acknowledged hold as it was answered, within the bound of its answer
    held_at = {}
    for frame, seat in seat_entries(now.snapshot()):
        if seat["status"] == "held":
            held_at[(seat["id"], seat["expires_at"])] = frame
    worst = 0.0
    for group, status, body, answered in results:
        if status == 201:
            for seat_id in group:
                frame = held_at.get((seat_id, body["expires_at"]))
                assert frame, f"hold {body} is not in the viewer's messages"
                delay = frame.t - answered
                worst = max(worst, delay)
                assert delay < DELIVERY_BOUND_S, \
                    f"hold of {group} reached the viewer {delay:.2f} s after its answer"

    # batched: at most one message per flush window, far fewer messages than changes
    messages = now.seat_messages()
    span_s = messages[-1].t - sale_started
    print(f"{n_changes} changes ({len(want)} seat entries) in {len(messages)} messages over "
          f"{span_s:.2f} s; worst delay from an answer to the viewer {worst * 1000:.0f} ms")
    assert len(messages) <= 1 + MESSAGES_PER_S_MAX * span_s, (len(messages), span_s)
    assert len(messages) * 10 <= n_changes, (len(messages), n_changes)
    late.close()
    now.close()
    invariants.assert_checkout_consistent(srv.db_path)


# -- resuming: Last-Event-ID, ?after=, too old: reload -----------------------------------------

def test_resuming_with_last_event_id_or_after_loses_nothing(live_stream_server):
    srv = live_stream_server
    eid, _, _ = new_event(srv)
    first = open_stream(srv, eid)
    # three changes, each its own message (each waited for before the next)
    h1 = make_hold(srv, eid, ["A1"])
    seats_after(first, 0, 1)
    h2 = make_hold(srv, eid, ["A2", "A3"])
    seats_after(first, 1, 2)
    assert srv.delete(f"/holds/{h1['id']}").status == 200
    seats_after(first, 3, 1)
    m1, m2, m3 = first.seat_messages()
    first.close()

    # reconnecting after the first message: the two others, byte for byte
    again = open_stream(srv, eid, last_event_id=m1.id)
    again.wait(lambda fs: len([f for f in fs if f.event == "seats"]) >= 2, DELIVERY_BOUND_S)
    assert [(f.id, f.data) for f in again.seat_messages()] == [(m2.id, m2.data),
                                                              (m3.id, m3.data)]
    again.close()

    # changes made while away reach the viewer when it comes back, and nothing else
    seen_map = seat_map(srv, eid)
    h3 = make_hold(srv, eid, ["B1", "B2"])
    assert srv.delete(f"/holds/{h2['id']}").status == 200
    back = open_stream(srv, eid, last_event_id=m3.id)
    missed = [entry("B1", "held", h3["expires_at"]), entry("B2", "held", h3["expires_at"]),
              entry("A2", "available"), entry("A3", "available")]
    assert [s for _, s in seats_after(back, 0, 4)] == missed
    # ?after= the seat map's position: the same, and the replay gives today's map
    from_map = open_stream(srv, eid, after=seen_map["position"])
    got = seats_after(from_map, 0, 4)
    assert [s for _, s in got] == missed
    assert replay(seen_map, got) == {s["id"]: s["status"] for s in seat_map(srv, eid)["seats"]}
    # Last-Event-ID wins over after (a browser reconnects to the same URL with the header)
    both = open_stream(srv, eid, after=seen_map["position"],
                       last_event_id=back.seat_messages()[-1].id)
    # then all three are live: the next change is the next entry of each
    h4 = make_hold(srv, eid, ["C1"])
    assert [s for _, s in seats_after(back, 4, 1)] == [entry("C1", "held", h4["expires_at"])]
    assert [s for _, s in seats_after(from_map, 4, 1)] == [entry("C1", "held", h4["expires_at"])]
    assert [s for _, s in seats_after(both, 0, 1)] == [entry("C1", "held", h4["expires_at"])]
    for st in (back, from_map, both):
        assert not st.ended
        st.close()


def test_a_position_older_than_the_backlog_is_told_to_reload_and_the_stream_ends(
        live_stream_server):
    srv = live_stream_server
    eid, _, _ = new_event(srv)
    make_hold(srv, eid, ["A1"])
    # the backlog covers every change after the position the server started at: from there a
    # viewer resumes; from before it, a viewer is told to reload
    covered = open_stream(srv, eid, after=srv.start_position)
    assert seats_after(covered, 0, 1)[0][1]["id"] == "A1"
    covered.close()
    for kw in ({"after": srv.start_position - 1}, {"after": 0}, {"last_event_id": 0},
               {"after": srv.start_position, "last_event_id": 1}):
        head = seat_map(srv, eid)["position"]
        st = open_stream(srv, eid, **kw)
        assert st.wait_end(DELIVERY_BOUND_S), f"{kw}: the stream did not end cleanly"
        frames = st.snapshot()
        assert [f.lines[0] for f in frames] == ["retry: 1000", "event: reload"], (kw, frames)
        reload = frames[1]
        assert reload.id is None, reload
        assert reload.json["position"] >= head, (kw, reload, head)
        # the reload's position is one to start again from: the map's
        fresh = open_stream(srv, eid, after=reload.json["position"])
        assert not fresh.ended
        fresh.close()


def test_a_viewer_too_slow_for_the_backlog_is_told_to_reload(live_stream_server):
    """A viewer that stops reading while LIVE_BACKLOG_BYTES (4 MiB) of messages go by, beyond
    what the sockets' buffers take, gets what it can still be given, in order and without a
    gap, then `event: reload`, and its stream ends."""
    srv = live_stream_server
    sections = make_sections(10, 10, 100)  # 100 rows of 100 seats
    ev, _ = create_event(srv, sections, hold_ttl_s=3600, max_seats_per_hold=100)
    eid = ev["id"]
    position = seat_map(srv, eid)["position"]
    slow = SseStream(srv.port, f"/events/{eid}/stream?after={position}", reading=False,
                     rcvbuf_bytes=4096)
    assert slow.status == 200
    # enough to go past the backlog and whatever the kernel buffers (the server's send buffer
    # grows to tcp_wmem's maximum; the viewer's is 4 KiB)
    wmem_max = int(open("/proc/sys/net/ipv4/tcp_wmem").read().split()[2])
    target_bytes = LIVE_BACKLOG_BYTES + wmem_max + 2 * 1024 * 1024
    rows = [row for sec in sections for row in sec["rows"]]
    made = {"bytes": 0}
    lock = threading.Lock()

    def churn(k):  # hold a row of 100 seats and release it, over and over
        for i in range(10000):
            with lock:
                if made["bytes"] >= target_bytes:
                    return
            row = rows[(k + 8 * i) % len(rows)]
            hold = make_hold(srv, eid, [f"{row}{n}" for n in range(1, 101)], f"churn-{k}-{i}")
            assert srv.delete(f"/holds/{hold['id']}").status == 200
            size = sum(len(json.dumps(entry(s, "held", hold["expires_at"]))) +
                       len(json.dumps(entry(s, "available"))) for s in hold["seat_ids"])
            with lock:
                made["bytes"] += size

    with ThreadPoolExecutor(max_workers=8) as ex:
        for f in [ex.submit(churn, k) for k in range(8)]:
            f.result()
    slow.start_reading()
    assert slow.wait_end(WAIT_S), "the slow viewer's stream did not end cleanly"
    frames = slow.snapshot()
    assert frames[-1].event == "reload", frames[-3:]
    # heartbeats (comments) fall between the messages when the churn outlasts the heartbeat
    # (15 s: on PostgreSQL, whose commits are round trips, it takes about 25 s here)
    messages = [f for f in frames[1:-1] if not f.is_comment]
    assert [f.event for f in messages] == ["seats"] * len(messages), frames[:3]
    assert_seat_frames_well_formed(frames)
    got = [seat for _, seat in seat_entries(frames)]
    want = [e for _, e in expand(event_changes(srv, eid, position))]
    assert got == want[:len(got)], "what the slow viewer got is not the feed's start"
    assert len(got) < len(want)
    print(f"the slow viewer got {len(got)} of {len(want)} seat entries, then reload")
    fresh = open_stream(srv, eid, after=frames[-1].json["position"])
    fresh.close()


# -- clear errors ------------------------------------------------------------------------------

def test_streams_answer_clear_errors(live_stream_server):
    srv = live_stream_server
    before = streams_open(srv)  # those the earlier tests closed go at their next heartbeat
    assert_error(srv.get("/events/no-such-event/stream"), 404, "event_not_found")
    for bad in ("x", "-1", "1.5", "", "99999999999999999999", "1e3"):
        assert_error(srv.get(f"/events/{EVENT}/stream?after={bad}"), 422, "invalid_request")
    for bad in ("x", "-1", "12abc"):
        r = srv.get(f"/events/{EVENT}/stream", headers={"Last-Event-ID": bad})
        assert_error(r, 422, "invalid_request")
    assert_error(srv.post(f"/events/{EVENT}/stream", {}), 405, "method_not_allowed")
    assert streams_open(srv) == before  # none of them opened a stream


# -- heartbeat, clients gone, --max-streams ----------------------------------------------------

@pytest.fixture(scope="module")
def small_server(module_server_factory):
    """Two streams at most, a heartbeat every 200 ms."""
    return module_server_factory.start(extra_args=["--max-streams", "2",
                                                   "--stream-heartbeat-ms", "200"])


def test_the_heartbeat_keeps_a_quiet_stream_alive_and_finds_clients_gone(small_server):
    srv = small_server
    lines_before = len(srv.lines)
    st = open_stream(srv, EVENT)
    pings = st.wait(lambda fs: len([f for f in fs if f.lines == [": ping"]]) >= 3 and fs,
                    WAIT_S, "three heartbeats")
    assert all(f.lines in (["retry: 1000"], [": ping"]) for f in pings), pings
    assert streams_open(srv) == 1

    # a client that sent its request and went without reading a byte: found by the heartbeat
    sock = open_without_reading(srv.port, f"/events/{EVENT}/stream")
    wait_streams_open(srv, 2)
    sock.close()
    wait_streams_open(srv, 1)
    # one that read its head, then reset the connection
    gone = open_stream(srv, EVENT)
    assert streams_open(srv) == 2
    gone.abort()
    wait_streams_open(srv, 1)

    # the first still delivers
    hold = Viewers([st]).hold(srv, EVENT, ["J10"])
    st.close()
    wait_streams_open(srv, 0)
    srv.delete(f"/holds/{hold['id']}")
    # viewers leave all the time: that is no warning (it was one per viewer, from
    # libmicrohttpd: "Failed to send the chunked response body ...")
    noisy = [line for line in srv.lines[lines_before:] if " WARN " in line or " ERROR " in line]
    assert not noisy, "\n".join(noisy)


def test_max_streams_answers_503_until_a_stream_closes(small_server):
    srv = small_server
    wait_streams_open(srv, 0)
    a, b = open_stream(srv, EVENT), open_stream(srv, EVENT)
    full = open_stream(srv, EVENT, expect=503)
    assert full.headers.get("retry-after") == "5", full.headers
    assert full.headers.get("content-type", "").startswith("application/json"), full.headers
    err = full.json["error"]
    assert err["code"] == "too_many_streams" and err["message"], err
    assert streams_open(srv) == 2
    a.close()  # found gone at the next heartbeat: its slot is free again

    def reopened():
        st = SseStream(srv.port, f"/events/{EVENT}/stream")
        if st.status == 503:
            return None
        assert st.status == 200, (st.status, st.body)
        return st

    c = poll(reopened, WAIT_S, 0.1)
    assert c, "no stream opened after one of the two closed"
    hold = Viewers([b, c]).hold(srv, EVENT, ["J9"])
    b.close()
    c.close()
    wait_streams_open(srv, 0)
    srv.delete(f"/holds/{hold['id']}")


def test_max_streams_must_leave_connections_for_buyers(tmp_path):
    for streams, connections in (("100", "100"), ("101", "100")):
        cp = run_tix(["serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                      "--max-streams", streams, "--max-connections", connections], timeout=30)
        assert cp.returncode == 2, (cp.returncode, cp.stderr)
        assert "--max-streams" in cp.stderr and "--max-connections" in cp.stderr, cp.stderr
    cp = run_tix(["serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                  "--stream-heartbeat-ms", "99"], timeout=30)
    assert cp.returncode == 2 and "stream-heartbeat-ms" in cp.stderr, (cp.returncode, cp.stderr)


# -- streams on their own daemon (src/http/accept.h) -------------------------------------------

def read_head(sock, timeout_s=WAIT_S):
    """Reads SOCK until the end of an answer's head and the stream's first frame; returns the
    bytes."""
    sock.settimeout(timeout_s)
    got = b""
    while b"retry: 1000" not in got:
        chunk = sock.recv(4096)
        if not chunk:
            break
        got += chunk
    return got


def test_a_stream_asked_for_late_or_in_pieces_is_served_all_the_same(stream_server):
    """tix sends a connection to the streams' daemon by its first bytes, waiting a little for
    them: a client that asks later than that, or whose request line comes in pieces, is
    served by the API's daemon, as a stream all the same."""
    srv = stream_server
    request = f"GET /events/{EVENT}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    late = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    time.sleep(0.5)  # past the acceptor's wait (HTTP_ACCEPT_PEEK_MS, 200 ms)
    late.sendall(request)
    pieces = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    pieces.sendall(request[:15])  # "GET /events/nba": not enough to tell
    time.sleep(0.1)
    pieces.sendall(request[15:])
    for sock in (late, pieces):
        head = read_head(sock)
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head, head
    late.close()
    pieces.close()


def thread_names(pid):
    """How many threads of process PID have each name (/proc/PID/task/*/comm)."""
    names = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/comm") as f:
            name = f.read().strip()
        names[name] = names.get(name, 0) + 1
    return names


@pytest.mark.parametrize("threads,stream_threads", [(2, 3), (1, None)])
def test_streams_are_served_by_threads_of_their_own(server_factory, threads, stream_threads):
    """--stream-threads (default: as many as --threads) threads serve the streams, beside the
    API's --threads, and the acceptor's: libmicrohttpd names a thread of a pool MHD-worker, a
    daemon's only thread MHD-single."""
    extra = ["--stream-threads", str(stream_threads)] if stream_threads else []
    srv = server_factory.start(threads=threads, extra_args=extra)
    want_streams = stream_threads or threads
    pools = [n for n in (threads, want_streams) if n > 1]
    want = {"MHD-worker": sum(pools), "MHD-single": 2 - len(pools), "tix-accept": 1}
    names = {}

    def named():  # each thread names itself once it runs
        names.clear()
        names.update(thread_names(srv.proc.pid))
        return all(names.get(k, 0) == n for k, n in want.items())

    assert poll(named, WAIT_S), f"threads {names}, want {want}"
    assert poll(lambda: any(f"({threads} threads, {want_streams} for streams," in line
                            for line in srv.lines), WAIT_S), srv.output()
    viewers = [open_stream(srv, EVENT) for _ in range(4)]
    hold = Viewers(viewers).hold(srv, EVENT, ["J8"])
    srv.delete(f"/holds/{hold['id']}")
    for st in viewers:
        st.close()


def test_max_connections_counts_streams_and_buyers_together(server_factory):
    """--max-connections bounds the connections of both daemons together; a connection over it
    is closed unanswered (and said so in the log), and one freed makes room again."""
    srv = server_factory.start(extra_args=["--max-connections", "6", "--max-streams", "3",
                                           "--stream-heartbeat-ms", "200"])
    streams = [open_stream(srv, EVENT) for _ in range(3)]
    buyers = []
    for _ in range(3):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        buyers.append(conn)  # kept open (keep-alive)
    over = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError,
                        BrokenPipeError)):
        over.request("GET", "/healthz")
        over.getresponse()
    over.close()
    assert poll(lambda: any("connections open (--max-connections)" in line
                            for line in srv.lines), WAIT_S), srv.output()
    streams[0].close()  # found gone by the heartbeat: its connection closes

    def served():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except (http.client.HTTPException, OSError):
            return False

    assert poll(served, WAIT_S, 0.1), "no room after a stream closed"
    for c in buyers:
        c.close()
    for st in streams[1:]:
        st.close()


# -- not cut by the idle timeout ---------------------------------------------------------------

def test_a_stream_outlives_the_idle_timeout(server_factory):
    srv = server_factory.start(extra_args=["--idle-timeout", "1"])  # heartbeat: 15 s
    st = open_stream(srv, EVENT)
    # the timeout is in force: a connection that sends nothing is closed
    idle = open_without_reading(srv.port, "/healthz")  # one answer, then nothing
    idle.settimeout(WAIT_S)
    received = b""
    while chunk := idle.recv(65536):
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    idle.close()
    assert b"connection: close" not in received.lower(), received  # closed for being idle
    while time.monotonic() - st.opened_at < 3.0:
        time.sleep(0.1)
    assert not st.ended and len(st.snapshot()) == 1, st.snapshot()  # nothing sent since hello
    Viewers([st]).hold(srv, EVENT, ["E5"])
    assert not st.ended
    st.close()


# -- a graceful stop ends every stream ---------------------------------------------------------

def test_sigterm_ends_every_stream_and_the_server_exits_0_at_once(server_factory):
    srv = server_factory.start()
    other = "tech-conference"
    streams = [open_stream(srv, EVENT if i % 2 else other,
                           after=seat_map(srv, EVENT)["position"] if i % 4 == 1 else None)
               for i in range(20)]
    wait_streams_open(srv, 20)
    acked, released, problems, stop = [], [], [], threading.Event()

    def writer(event_id, row):  # holds and releases until the server stops taking them
        for n in range(100000):
            if stop.is_set():
                return
            try:
                r = srv.post(f"/events/{event_id}/holds",
                             {"user_id": f"w{n}", "seat_ids": [f"{row}{n % 10 + 1}"]},
                             timeout=10)
                if r.status == 201:
                    acked.append(r.json)
                    d = srv.delete(f"/holds/{r.json['id']}", timeout=10)
                    if d.status == 200:
                        released.append(r.json)
                    else:
                        assert_error(d, 503, "shutting_down")
                else:
                    assert_error(r, 503, "shutting_down")
            except OSError:
                return  # the server no longer listens
            except AssertionError as e:
                problems.append(e)
                return

    writers = [threading.Thread(target=writer, args=args) for args in ((EVENT, "A"), (other, "B"))]
    for t in writers:
        t.start()
    for st in streams:  # writes are flowing to every stream
        st.wait(lambda fs: any(f.event == "seats" for f in fs), DELIVERY_BOUND_S)
    assert poll(lambda: len(acked) >= 20 or problems, WAIT_S), "the writers are stuck"
    stopped_at = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    for st in streams:
        assert st.wait_end(WAIT_S), f"{st.path}: cut without the chunked terminator"
        assert st.error is None and not st.partial, (st.error, st.snapshot()[-1:])
    rc = srv.proc.wait(WAIT_S)
    assert not problems, problems
    took = time.monotonic() - stopped_at
    stop.set()
    for t in writers:
        t.join(30)
    srv.stop_gracefully()  # exit 0, recorded; the factory checks the sanitizers' output
    print(f"stopped in {took:.2f} s with 20 streams open; {len(acked)} holds made, "
          f"{len(released)} released")
    assert rc == 0 and not srv.sanitizer_reports(), srv.output()
    assert "live streams still open" not in srv.output(), srv.output()
    for st in streams:  # every message complete and well formed
        assert_seat_frames_well_formed(st.snapshot())
        st.close()
    ended = {h["id"] for h in released}
    invariants.assert_acknowledged_holds_present(srv.db_path, [h for h in acked
                                                              if h["id"] not in ended])
    invariants.assert_acknowledged_holds_present(srv.db_path, released, "released")
    invariants.assert_tix_check_clean(srv.data_dir)

    # back up (a rolling restart): a viewer that reconnects with the last id it saw and missed
    # changes of its event (the last ones before the stop need not reach it) is told to reload
    srv.restart()
    last_change = {e: event_changes(srv, e, 0)[-1]["seq"] for e in (EVENT, other)}
    missed = 0
    for st in streams:
        event_id = st.path.split("/")[2]
        last_id = int(st.seat_messages()[-1].id)
        if last_id < last_change[event_id]:
            missed += 1
            again = open_stream(srv, event_id, last_event_id=last_id)
            assert again.wait_end(DELIVERY_BOUND_S) and \
                again.snapshot()[-1].event == "reload", (last_id, again.snapshot())
            again.close()
    print(f"after the restart {missed} of the 20 viewers had missed changes: told to reload")


# -- a second node on the same data ------------------------------------------------------------

def test_a_second_node_streams_the_first_nodes_changes(server_factory):
    first = server_factory.start()
    second = server_factory.start(data_dir=first.data_dir, admin_token=first.admin_token)
    position = seat_map(first, EVENT)["position"]
    on_first, on_second = open_stream(first, EVENT), open_stream(second, EVENT)
    both = Viewers([on_first, on_second])

    # held on one node, released on the other
    both.release(second, both.hold(first, EVENT, ["F1", "F2"]))
    both.hold(second, EVENT, ["F3"])
    print(f"worst delay across nodes: {both.worst_delay_s * 1000:.0f} ms")
    last_seq = event_changes(first, EVENT, position)[-1]["seq"]
    for st in (on_first, on_second):
        assert int(st.seat_messages()[-1].id) == last_seq
        st.close()
    first.stop_gracefully()
    second.stop_gracefully()
    invariants.assert_tix_check_clean(first.data_dir)
