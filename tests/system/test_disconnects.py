"""Clients that hang up while their write is being committed.

Regression: a client closing its connection while its hold waited for the group commit made
the server abort (the parked request ended after the writer answered it, and the HTTP layer
asserted that could not happen). Now the outcome stands, the answer is dropped, and what the
request held (an idempotency key in flight) is let go."""

import json
import socket
import threading

import invariants
from tixhttp import create_event, make_sections, poll


def send_and_hang_up(port, body, headers=b""):
    """POST /reserve with a whole body, then close without reading the answer."""
    raw = json.dumps(body).encode()
    req = (b"POST /reserve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
           b"Content-Length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(req)
    finally:
        s.close()


def test_clients_hanging_up_during_the_commit_do_not_crash_or_corrupt(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 20, 50), hold_ttl_s=3600)  # 1,000 seats
    errors = []

    def worker(t):
        try:
            for i in range(25):
                seat = seats[(t * 25 + i) % len(seats)]
                send_and_hang_up(srv.port, {"event_id": ev["id"], "seat_id": seat,
                                            "user_id": f"gone-{t}-{i}"})
        except OSError as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    srv.assert_healthy()
    # every hold that was committed is whole and no seat is in two holds
    assert poll(lambda: srv.get("/healthz").status == 200, 5)
    invariants.assert_store_consistent(srv.db_path)
    held = [s for s in srv.get(f"/events/{ev['id']}/seats?status=held").json["seats"]]
    assert 0 < len(held) <= len(seats)


def test_an_idempotency_key_is_released_when_its_client_hangs_up(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 2, 10), hold_ttl_s=3600)
    body = {"event_id": ev["id"], "seat_id": seats[0], "user_id": "quitter"}
    send_and_hang_up(srv.port, body, b"Idempotency-Key: hang-up-1\r\n")

    def replayed():
        r = srv.post("/reserve", body, headers={"Idempotency-Key": "hang-up-1"})
        return r if r.status != 409 else None  # 409 in flight: the first is still running

    r = poll(replayed, 5)
    assert r, "the key stayed in flight after its client hung up"
    assert r.status == 201, r
    assert r.json["seat_ids"] == [seats[0]] and r.json["user_id"] == "quitter"
    again = srv.post("/reserve", body, headers={"Idempotency-Key": "hang-up-1"})
    assert again.status == 201 and again.body == r.body
