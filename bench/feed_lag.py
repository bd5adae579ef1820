#!/usr/bin/env python3
"""bench/feed_lag.py: how long a hold acknowledged by one tix node takes to show on another.

Run by bench/run.sh during the hold-pg-3 load (three nodes on one PostgreSQL). Every
--interval-ms, a probe holds the next seat of a small event of its own (--event) on node i % N
and then asks node (i + 1) % N for the event's held seats (GET /events/ID/seats?status=held,
with If-None-Match, so an unchanged map costs a 304) until the seat is there. The lag of the
probe is the time from the 201 (the hold is committed: tix acknowledges only what is durable)
to the first answer of the other node that shows it; the other node learns of it only through
its feed (LISTEN/NOTIFY, its own batches' catch-up, or its poll). Each answer of the other node
takes a request of its own (about 0.1-0.5 ms here), which bounds the resolution.
A probe whose seat does not show within --timeout-s counts as timed out.

Prints one line: feed_lag: probes=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. timeouts=.. errors=..
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=10)


class Node:
    """One keep-alive connection to a node, opened again after an error."""

    def __init__(self, url):
        self.url = url
        self.conn = connect(url)

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                res = self.conn.getresponse()
                return res.status, res.getheader("ETag"), res.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = connect(self.url)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def probe(a, b, event, seat, user, timeout_s, etag):
    """Hold seat on a, then poll b. Returns (lag_ms or None, b's latest ETag)."""
    body = json.dumps({"event_id": event, "seat_id": seat, "user_id": user})
    status, _, answer = a.request("POST", "/reserve", body, {"Content-Type": "application/json"})
    if status != 201:
        raise RuntimeError("hold of %s: HTTP %d %s" % (seat, status, answer[:200]))
    acked = time.monotonic()
    needle = ('"id":"%s"' % seat).encode()
    path = "/events/%s/seats?status=held" % event
    while True:
        headers = {"If-None-Match": etag} if etag else {}
        status, tag, answer = b.request("GET", path, headers=headers)
        now = time.monotonic()
        if status == 200:
            etag = tag
            if needle in answer:
                return (now - acked) * 1000.0, etag
        elif status != 304:
            raise RuntimeError("seat map: HTTP %d" % status)
        if now - acked > timeout_s:
            return None, etag
        time.sleep(0.0002)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--event", required=True, help="the probe's event (its seats are held in order)")
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("--timeout-s", type=float, default=5.0)
    ap.add_argument("nodes", nargs="+", help="base URLs of the nodes (two or more)")
    args = ap.parse_args()
    if len(args.nodes) < 2:
        ap.error("give two nodes or more")
    nodes = [Node(u) for u in args.nodes]
    status, _, answer = nodes[0].request("GET", "/events/%s/seats?status=available" % args.event)
    if status != 200:
        sys.exit("feed_lag: the probe event %s: HTTP %d" % (args.event, status))
    seats = [s["id"] for s in json.loads(answer)["seats"]]
    etags = [None] * len(nodes)
    lags, timeouts, errors = [], 0, 0
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline and i < len(seats):
        started = time.monotonic()
        a, bi = nodes[i % len(nodes)], (i + 1) % len(nodes)
        try:
            lag, etags[bi] = probe(a, nodes[bi], args.event, seats[i], "probe%d" % i,
                                   args.timeout_s, etags[bi])
            if lag is None:
                timeouts += 1
            else:
                lags.append(lag)
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            errors += 1
            print("feed_lag: probe %d: %s" % (i, e), file=sys.stderr)
        i += 1
        rest = args.interval_ms / 1000.0 - (time.monotonic() - started)
        if rest > 0:
            time.sleep(rest)
    lags.sort()
    print("feed_lag: probes=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f timeouts=%d errors=%d"
          % (len(lags), percentile(lags, 50), percentile(lags, 90), percentile(lags, 99),
             lags[-1] if lags else float("nan"), timeouts, errors))
    return 0 if lags else 1


if __name__ == "__main__":
    sys.exit(main())
