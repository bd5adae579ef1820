"""Hold traffic for the tests.

HoldLoad, background traffic for the durability and shutdown tests: N workers, each with its
own slice of an event's seats (so no worker ever sees a 409 from another), create holds of 1-3
seats one after the other, each on a fresh connection, until told to stop or the server goes
away.

race_holds and check_race_answers, a race of many clients on overlapping seats (the contention
tests, one node or several): each client asks once for its own seats, and the answers must
give every seat one owner at most and refuse only with seats an acknowledged hold has."""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tixhttp import Response

BARRIER_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 60


def race_holds(event_id, wants, ports, pool):
    """Client i asks POST /events/EVENT_ID/holds for WANTS[i] as user-i on 127.0.0.1:PORTS[i],
    on a connection of its own, POOL at a time, the first POOL together. Returns (each
    client's Response or exception, seconds taken)."""
    start = threading.Barrier(pool)

    def client(i):
        if i < pool:
            start.wait(BARRIER_TIMEOUT_S)
        conn = http.client.HTTPConnection("127.0.0.1", ports[i], timeout=REQUEST_TIMEOUT_S)
        try:
            body = json.dumps({"user_id": f"user-{i}", "seat_ids": wants[i]})
            conn.request("POST", f"/events/{event_id}/holds", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            return Response(resp.status, resp.headers, resp.read())
        except Exception as e:  # noqa: BLE001 - reported by check_race_answers
            return e
        finally:
            conn.close()

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=pool) as ex:
        results = list(ex.map(client, range(len(wants))))
    return results, time.monotonic() - t0


def check_race_answers(results, wants, min_acked=20, contended=None):
    """Every answer of race_holds is a 201 with exactly the seats asked for, or a 409
    seat_unavailable naming some of them; the acknowledged holds are disjoint (at least
    MIN_ACKED of them: the race ran); every 409 named seats an acknowledged hold has. Returns
    (the acknowledged holds, {seat id: hold id}).

    With CONTENDED (a list, several writers on one PostgreSQL database): a 409 may also name a
    seat that another writer's transaction was taking at that moment, for a hold that was then
    refused itself (tix_hold does not wait for a seat row another transaction has locked: see
    src/store/pg/sql/v1_holds.sql); so a named seat no acknowledged hold has must be in the
    seats of another request that was refused, and each such (request, seat) is appended to
    CONTENDED."""
    errors = [(i, r) for i, r in enumerate(results) if not isinstance(r, Response)]
    assert not errors, f"{len(errors)} requests failed at transport level: {errors[:5]}"
    acked, unexpected = [], []
    for i, r in enumerate(results):
        if r.status == 201:
            h = r.json
            assert sorted(h["seat_ids"]) == sorted(wants[i]), (wants[i], h)
            assert h["user_id"] == f"user-{i}" and h["status"] == "active", h
            acked.append(h)
        elif r.status == 409:
            err = r.json["error"]
            if err.get("code") != "seat_unavailable" or not err.get("seat_ids") or \
                    not set(err["seat_ids"]) <= set(wants[i]):
                unexpected.append((i, wants[i], r))
        else:
            unexpected.append((i, wants[i], r))
    assert not unexpected, f"{len(unexpected)} unexpected answers: {unexpected[:5]}"
    assert len(acked) >= min_acked, f"only {len(acked)} holds succeeded; the race was not run"
    owner = {}
    for h in acked:
        for s in h["seat_ids"]:
            assert s not in owner, f"seat {s} acknowledged to holds {owner[s]} and {h['id']}"
            owner[s] = h["id"]
    refused_wanting = {}  # seat -> requests refused that asked for it
    for i, r in enumerate(results):
        if r.status == 409:
            for seat in wants[i]:
                refused_wanting.setdefault(seat, set()).add(i)
    for i, r in enumerate(results):
        if r.status != 409:
            continue
        for seat in sorted(set(r.json["error"]["seat_ids"]) - set(owner)):
            assert contended is not None and refused_wanting[seat] - {i}, (
                f"request {i} was told {seat} was taken, but no acknowledged hold has it"
                + ("" if contended is None else " and no other request was taking it"))
            contended.append((i, seat))
    return acked, owner


class HoldLoad:
    def __init__(self, port, event_id, seat_ids, workers, seats_per_hold_max=3,
                 request_timeout_s=20, pause_after_503_s=0.0):
        """PAUSE_AFTER_503_S: how long a worker waits after a 503 (a client that backs off
        while the store is away, instead of spending its seats at once)."""
        self.port = port
        self.pause_after_503_s = pause_after_503_s
        self.event_id = event_id
        self.workers = workers
        self.request_timeout_s = request_timeout_s
        self.seats_per_hold_max = seats_per_hold_max
        per = len(seat_ids) // workers
        assert per >= seats_per_hold_max, "not enough seats for the workers"
        self.slices = [seat_ids[i * per:(i + 1) * per] for i in range(workers)]
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.acked = []          # 201 bodies
        self.unexpected = []     # (status, body) other than 201/503
        self.transport_errors = 0
        self.threads = []

    def start(self):
        self.threads = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                        for i in range(self.workers)]
        for t in self.threads:
            t.start()
        return self

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def wait_for_acks(self, n, timeout_s):
        deadline = time.monotonic() + timeout_s
        while self.acked_count() < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked_count()

    def stop(self, timeout_s=30):
        self.stop_event.set()
        deadline = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in self.threads if t.is_alive()]
        assert not alive, f"{len(alive)} load workers still running after {timeout_s}s"

    def _worker(self, index):
        seats = self.slices[index]
        pos = 0
        k = 0
        failures_in_row = 0
        while not self.stop_event.is_set() and pos < len(seats) and failures_in_row < 3:
            size = 1 + (index + k) % self.seats_per_hold_max
            chunk = seats[pos:pos + size]
            k += 1
            body = json.dumps({"user_id": f"load-{index}-{k}", "seat_ids": chunk})
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=self.request_timeout_s)
            try:
                conn.request("POST", f"/events/{self.event_id}/holds", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.transport_errors += 1
                failures_in_row += 1
                # the request may or may not have committed: never reuse its seats
                pos += len(chunk)
                time.sleep(0.02)
                continue
            finally:
                conn.close()
            failures_in_row = 0
            pos += len(chunk)
            with self.lock:
                if resp.status == 201:
                    self.acked.append(json.loads(payload))
                elif resp.status != 503:
                    self.unexpected.append((resp.status, payload[:300]))
            if resp.status == 503 and self.pause_after_503_s:
                time.sleep(self.pause_after_503_s)
