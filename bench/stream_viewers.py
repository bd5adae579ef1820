#!/usr/bin/python3
"""bench/stream_viewers.py: the viewers of the `stream` scenario of bench/run.sh.

One process, one thread, non-blocking sockets on epoll (selectors): it opens VIEWERS
connections to GET /events/EVENT/stream?after=AFTER (HTTP/1.1, chunked Server-Sent Events),
at most --connecting at a time, and reads every one of them as long as it runs. A viewer costs
it a socket and a small object; the bytes of a message are parsed once for all viewers (every
viewer gets the same bytes under the same `id:`).

Commands, one a line, on --control (a FIFO that bench/run.sh writes):
  begin NAME        a measurement window starts now
  end NAME DRAIN_S  it ends now; DRAIN_S seconds later (the changes committed before the end
                    have arrived) its figures are printed
  quit              close every viewer and exit
Output on stdout, one `key=value ...` line per report: `open ...` once every viewer got its first
frame (or --open-timeout-s passed), `window NAME ...` for each window.

Commit time of a seat change: tix writes `expires_at` = the batch's clock at commit (the
`created_at` of the hold, RFC 3339, ms) + the event's hold TTL, so a held seat in a message
carries its commit time: expires_at - --ttl-ms. The delay of a seat change at a viewer is the
arrival of the message's last byte (time.time(), the same machine clock) minus that, in ms.
A window counts the held seats committed inside it (delivered changes, delays) and the
messages and bytes that arrived inside it (per viewer per second, MB/s).
"""
import argparse
import json
import os
import resource
import selectors
import socket
import sys
import time
from datetime import datetime, timezone

RECV_BYTES = 65536
HEADERS_BYTES_MAX = 16384


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--event", required=True)
    p.add_argument("--after", type=int, required=True, help="the seat map's position")
    p.add_argument("--viewers", type=int, default=10000)
    p.add_argument("--connecting", type=int, default=512, help="connections opening at once")
    p.add_argument("--ttl-ms", type=int, required=True, help="the event's hold TTL")
    p.add_argument("--open-timeout-s", type=float, default=120.0)
    p.add_argument("--control", required=True, help="FIFO of commands")
    return p.parse_args()


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        sys.exit(f"stream_viewers: {needed} file descriptors needed, the hard limit is {hard}")


def rfc3339_ms(text):
    """Milliseconds since the epoch of tix's 2026-12-04T15:16:08.781Z."""
    t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(round(t.timestamp() * 1000))


class Message:
    """One message of the stream (one `id:`), parsed once: its seats' commit times."""

    __slots__ = ("seats", "commits")

    def __init__(self, data, ttl_ms):
        seats = json.loads(data)["seats"]
        self.seats = len(seats)
        self.commits = {}  # commit ms -> held seats committed then
        for seat in seats:
            expires = seat.get("expires_at")
            if seat.get("status") == "held" and expires:
                ms = rfc3339_ms(expires) - ttl_ms
                self.commits[ms] = self.commits.get(ms, 0) + 1


class Viewer:
    __slots__ = ("sock", "state", "raw", "sse", "scan", "chunk_left", "first_frame_at",
                 "messages", "messages_in_window", "status")

    def __init__(self, sock):
        self.sock = sock
        self.state = "connect"  # connect, headers, body, closed
        self.raw = bytearray()  # bytes read, not yet de-chunked
        self.sse = bytearray()  # de-chunked stream, not yet cut into frames
        self.scan = 0  # where to look for the end of a frame in sse
        self.chunk_left = -1  # bytes left in the current chunk (+2 for its CRLF); -1: a size line
        self.first_frame_at = None
        self.messages = 0
        self.messages_in_window = 0
        self.status = None


class Bench:
    def __init__(self, args):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.viewers = []
        self.request = (f"GET /events/{args.event}/stream?after={args.after} HTTP/1.1\r\n"
                        f"Host: {args.host}:{args.port}\r\nAccept: text/event-stream\r\n"
                        "\r\n").encode()
        self.parsed = {}  # message id -> Message
        self.arrivals = {}  # (message id, arrival ms) -> viewers
        self.window = None  # (name, start s) while a window is open
        self.window_end = None  # (name, start s, end s, report at s) while draining
        self.counts = {"reload": 0, "ping": 0, "closed": 0, "errors": 0, "bad_status": 0,
                       "bytes": 0, "first_frames": 0}
        self.opening = 0
        self.control = None
        self.control_buf = b""
        self.quit = False

    # ---- connections ----
    def open_some(self):
        while self.opening < self.args.connecting and len(self.viewers) < self.args.viewers:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            v = Viewer(s)
            self.viewers.append(v)
            self.opening += 1
            err = s.connect_ex((self.args.host, self.args.port))
            if err not in (0, 115):  # EINPROGRESS
                self.fail(v, f"connect: {os.strerror(err)}")
                continue
            self.sel.register(s, selectors.EVENT_WRITE, v)

    def fail(self, v, why):
        if v.state == "closed":
            return
        if v.first_frame_at is None:
            self.opening -= 1
        self.counts["errors" if why else "closed"] += 1
        if why and self.counts["errors"] <= 5:
            print(f"stream_viewers: viewer {self.viewers.index(v)}: {why}", file=sys.stderr)
        v.state = "closed"
        try:
            self.sel.unregister(v.sock)
        except (KeyError, ValueError):
            pass
        v.sock.close()

    def on_writable(self, v):
        err = v.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            return self.fail(v, f"connect: {os.strerror(err)}")
        try:
            sent = v.sock.send(self.request)
        except OSError as e:
            return self.fail(v, f"send: {e}")
        if sent != len(self.request):  # a fresh socket takes a few hundred bytes at once
            return self.fail(v, "send: short write")
        v.state = "headers"
        self.sel.modify(v.sock, selectors.EVENT_READ, v)

    def on_readable(self, v, now):
        try:
            data = v.sock.recv(RECV_BYTES)
        except BlockingIOError:
            return
        except OSError as e:
            return self.fail(v, f"recv: {e}")
        if not data:
            return self.fail(v, None if v.state == "body" else "closed before its answer")
        if self.window:
            self.counts["bytes"] += len(data)
        v.raw += data
        if v.state == "headers":
            end = v.raw.find(b"\r\n\r\n")
            if end < 0:
                if len(v.raw) > HEADERS_BYTES_MAX:
                    self.fail(v, "headers too long")
                return
            head = bytes(v.raw[:end]).decode("latin-1")
            del v.raw[:end + 4]
            v.status = head.split(" ", 2)[1] if " " in head else "?"
            if v.status != "200" or "chunked" not in head.lower():
                self.counts["bad_status"] += 1
                return self.fail(v, "answer: " + head.split("\r\n", 1)[0])
            v.state = "body"
        self.dechunk(v)
        self.frames(v, now)

    def dechunk(self, v):
        raw = v.raw
        pos = 0
        while True:
            if v.chunk_left < 0:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(raw[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                if size == 0:  # the last chunk: the stream ended
                    v.chunk_left = -1
                    break
                v.chunk_left = size + 2
            take = min(v.chunk_left, len(raw) - pos)
            if take <= 0:
                break
            data_take = min(take, v.chunk_left - 2) if v.chunk_left > 2 else 0
            if data_take > 0:
                v.sse += raw[pos:pos + data_take]
            pos += take
            v.chunk_left -= take
            if v.chunk_left == 0:
                v.chunk_left = -1
        if pos:
            del raw[:pos]

    def frames(self, v, now):
        sse = v.sse
        start = 0
        while True:
            end = sse.find(b"\n\n", max(start, v.scan))
            if end < 0:
                v.scan = max(len(sse) - 1, start)
                break
            self.frame(v, sse, start, end, now)
            start = end + 2
            v.scan = start
        if start:
            del sse[:start]
            v.scan -= start

    def frame(self, v, sse, start, end, now):
        if v.first_frame_at is None:
            v.first_frame_at = now
            self.opening -= 1
            self.counts["first_frames"] += 1
        head = sse[start:start + 4]
        if head == b"id: ":
            eol = sse.index(b"\n", start)
            msg_id = int(sse[start + 4:eol])
            if msg_id not in self.parsed:
                data = sse.index(b"\ndata: ", start, end) + 7
                self.parsed[msg_id] = Message(bytes(sse[data:end]), self.args.ttl_ms)
            key = (msg_id, int(now * 1000))
            self.arrivals[key] = self.arrivals.get(key, 0) + 1
            v.messages += 1
            if self.window:
                v.messages_in_window += 1
        elif head == b": pi":
            self.counts["ping"] += 1
        elif sse.startswith(b"event: reload", start):
            self.counts["reload"] += 1

    # ---- control ----
    def on_control(self):
        data = os.read(self.control, 4096)
        if not data:  # the writer closed the FIFO
            self.quit = True
            return
        self.control_buf += data
        while b"\n" in self.control_buf:
            line, self.control_buf = self.control_buf.split(b"\n", 1)
            self.command(line.decode().split())

    def command(self, words):
        now = time.time()
        if not words:
            return
        if words[0] == "begin":
            for v in self.viewers:
                v.messages_in_window = 0
            self.arrivals = {}
            self.counts["bytes"] = 0
            self.window = (words[1], now)
        elif words[0] == "end":
            name, start = self.window
            self.window = None
            self.window_end = (name, start, now, now + float(words[2]))
        elif words[0] == "quit":
            self.quit = True

    # ---- reports ----
    def report_open(self, started):
        opened = [v.first_frame_at for v in self.viewers if v.first_frame_at is not None]
        took = (max(opened) - started) if opened else 0.0
        print(f"open viewers={len(opened)} of={self.args.viewers} seconds={took:.3f} "
              f"errors={self.counts['errors']} bad_status={self.counts['bad_status']}",
              flush=True)

    def report_window(self):
        name, start, end, _ = self.window_end
        self.window_end = None
        start_ms, end_ms = start * 1000, end * 1000
        seconds = end - start
        delays = {}  # delay ms -> seat changes delivered with it
        committed = set()  # (message id) with a seat committed in the window
        changes = 0  # seat changes committed in the window, once (not per viewer)
        for msg_id, m in self.parsed.items():
            inside = sum(n for ms, n in m.commits.items() if start_ms <= ms < end_ms)
            if inside:
                committed.add(msg_id)
                changes += inside
        for (msg_id, arrival_ms), viewers in self.arrivals.items():
            if msg_id not in committed:
                continue
            for ms, n in self.parsed[msg_id].commits.items():
                if start_ms <= ms < end_ms:
                    d = arrival_ms - ms
                    delays[d] = delays.get(d, 0) + n * viewers
        delivered = sum(delays.values())
        live = [v for v in self.viewers if v.state == "body"]
        per_viewer = [v.messages_in_window / seconds for v in live] or [0.0]
        print(f"window {name} seconds={seconds:.3f} viewers={len(live)} changes={changes} "
              f"delivered={delivered} delivered_per_s={delivered / seconds:.0f} "
              f"complete={delivered / (changes * len(live)) if changes and live else 0:.4f} "
              f"msgs_per_viewer_s={sum(per_viewer) / len(per_viewer):.2f} "
              f"msgs_per_viewer_s_max={max(per_viewer):.2f} "
              f"mb_per_s={self.counts['bytes'] / seconds / 1e6:.1f} "
              f"delay_p50_ms={percentile(delays, 0.50)} delay_p99_ms={percentile(delays, 0.99)} "
              f"delay_max_ms={max(delays) if delays else '-'} "
              f"reloads={self.counts['reload']} closed={self.counts['closed']} "
              f"errors={self.counts['errors']}", flush=True)

    # ---- the loop ----
    def run(self):
        self.control = os.open(self.args.control, os.O_RDWR | os.O_NONBLOCK)
        self.sel.register(self.control, selectors.EVENT_READ, None)
        started = time.time()
        open_reported = False
        while not self.quit:
            if not open_reported:
                self.open_some()
            for key, mask in self.sel.select(timeout=0.1):
                v = key.data
                if v is None:
                    self.on_control()
                elif v.state == "connect":
                    self.on_writable(v)
                else:
                    self.on_readable(v, time.time())
            now = time.time()
            if not open_reported and len(self.viewers) == self.args.viewers and \
                    self.opening == 0:
                self.report_open(started)
                open_reported = True
            elif not open_reported and now - started > self.args.open_timeout_s:
                self.report_open(started)
                open_reported = True
            if self.window_end and now >= self.window_end[3]:
                self.report_window()
        for v in self.viewers:
            if v.state != "closed":
                v.sock.close()


def percentile(hist, q):
    """The q-quantile of a histogram {value: count} (nearest rank), or '-' when empty."""
    total = sum(hist.values())
    if not total:
        return "-"
    rank, seen = max(1, int(q * total + 0.999999)), 0
    for value in sorted(hist):
        seen += hist[value]
        if seen >= rank:
            return value
    return max(hist)


def main():
    args = parse_args()
    raise_fd_limit(args.viewers + 64)
    Bench(args).run()


if __name__ == "__main__":
    main()
