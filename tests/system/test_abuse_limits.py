"""Abuse limits: slow clients, write floods, per-address connection caps and piles of idle
connections must not stop tix from serving everyone else."""

import http.client
import resource
import socket
import threading
import time

from tixhttp import assert_error, create_event, make_sections, poll, reserve


def open_slowloris(port, n, gap_s, stop, cut):
    """N connections that send a request head one byte at a time, GAP_S apart, forever (until
    STOP); each records in CUT when the server closed it."""
    head = b"POST /reserve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"

    def trickle(i):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        try:
            for b in head * 100:
                if stop.is_set():
                    return
                s.send(bytes([b]))
                time.sleep(gap_s)
        except OSError:
            cut.append(time.monotonic() - started)
        finally:
            s.close()

    threads = [threading.Thread(target=trickle, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def test_slowloris_clients_are_cut_after_the_request_timeout_without_stalling_others(
        server_factory):
    srv = server_factory.start(extra_args=["--request-timeout", "2", "--idle-timeout", "30"])
    stop, cut = threading.Event(), []
    threads = open_slowloris(srv.port, 30, 0.5, stop, cut)
    try:
        time.sleep(0.5)
        # meanwhile a normal client is served at once, many times
        t0 = time.monotonic()
        for i in range(20):
            assert srv.get("/healthz").status == 200
        assert time.monotonic() - t0 < 5
        # every slow client is cut, well before its idle timeout (30 s) would have
        assert poll(lambda: len(cut) == 30, 8), f"only {len(cut)} of 30 slow clients were cut"
        assert max(cut) < 6, cut
    finally:
        stop.set()
        for t in threads:
            t.join(5)


def test_a_slow_body_is_cut_too(server_factory):
    srv = server_factory.start(extra_args=["--request-timeout", "2"])
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"POST /reserve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100\r\n\r\n{")
    started, closed_after = time.monotonic(), None
    try:
        for _ in range(40):
            time.sleep(0.25)
            s.send(b" ")
    except OSError:
        closed_after = time.monotonic() - started
    finally:
        s.close()
    assert closed_after is not None and closed_after < 5, closed_after


def test_write_rate_limit_answers_429_with_retry_after_and_refills(server_factory):
    srv = server_factory.start(extra_args=["--write-rate-limit", "5"])
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=3600)  # 1 token spent
    statuses = [reserve(srv, ev["id"], seats[i], f"u{i}").status for i in range(15)]
    # a burst of 2N = 10 tokens (one went to creating the event), then 429s
    assert statuses.count(201) in (9, 10), statuses
    r = reserve(srv, ev["id"], seats[20], "late")
    assert_error(r, 429, "rate_limited")
    assert int(r.header("Retry-After")) >= 1
    # reads are never limited
    assert all(srv.get("/events").status == 200 for _ in range(30))
    time.sleep(1.1)  # 5 tokens a second
    assert reserve(srv, ev["id"], seats[21], "later").status == 201


def test_with_trust_proxy_each_forwarded_client_has_its_own_bucket(server_factory):
    srv = server_factory.start(extra_args=["--write-rate-limit", "1", "--trust-proxy", "1"])
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=3600)  # from 127.0.0.1
    by_client = {}
    for i in range(12):
        ip = f"203.0.113.{i % 4}"
        r = reserve(srv, ev["id"], seats[i], f"u{i}", headers={"X-Forwarded-For": f"10.9.9.9, {ip}"})
        by_client.setdefault(ip, []).append(r.status)
    for ip, st in by_client.items():
        assert st == [201, 201, 429], (ip, st)  # a burst of 2 each, whoever else writes


def test_max_connections_per_ip_refuses_only_the_excess(server_factory):
    srv = server_factory.start(extra_args=["--max-connections-per-ip", "5"])
    # Each held connection is answered once first: only then has the server
    # accepted it (with 2 threads, an unanswered one could still be waiting in
    # the listen queue behind the 6th, which would then be the one served).
    held = [http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5) for _ in range(5)]

    def assert_served(conn):
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        r.read()
        assert r.status == 200

    for c in held:
        assert_served(c)
    try:
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = extra.recv(100)
        except OSError:
            data = b""
        extra.close()
        assert not data.startswith(b"HTTP/1.1 200"), data  # the 6th is closed unanswered
        for c in held:  # and the five keep being served
            assert_served(c)
    finally:
        for s in held:
            s.close()

    def healthy():
        try:
            return srv.get("/healthz").status == 200
        except OSError:  # the server may not have seen the closes yet
            return False
    assert poll(healthy, 5), "connections were not given back after the clients closed them"


def test_ten_thousand_idle_connections_do_not_stop_a_new_client(server_factory):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 10_000 + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= want, \
        "this test needs 10,200 file descriptors (raise ulimit -n)"
    srv = server_factory.start(extra_args=["--idle-timeout", "120"])
    idle = []
    try:
        for _ in range(10_000):
            idle.append(socket.create_connection(("127.0.0.1", srv.port), timeout=10))
        t0 = time.monotonic()
        assert srv.get("/healthz").status == 200
        assert srv.get("/events/nba-finals").status == 200
        assert time.monotonic() - t0 < 5
    finally:
        for s in idle:
            s.close()
