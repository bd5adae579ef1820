"""Background hold traffic for the durability and shutdown tests.

N workers, each with its own slice of an event's seats (so no worker ever
sees a 409 from another), create holds of 1-3 seats one after the other,
each on a fresh connection, until told to stop or the server goes away."""

import http.client
import json
import threading
import time


class HoldLoad:
    def __init__(self, port, event_id, seat_ids, workers, seats_per_hold_max=3,
                 request_timeout_s=20):
        self.port = port
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
