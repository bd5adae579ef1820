"""A Server-Sent Events client for the system tests (GET /events/{id}/stream).

SseStream opens one raw socket, sends the request and reads the answer's head. A 200 with
chunked transfer coding is then read by a background thread: the chunks are decoded and the
SSE text parsed incrementally into frames (the lines up to a blank line), each stamped with
its arrival time, so a test can wait for what it expects with a bound, see exactly what came
and when, and whether the stream ended cleanly (the chunked terminator) or was cut. Any other
answer (a 503, a 404...) is read whole and kept as the body. The client can hang up politely
(close: FIN) or abruptly (abort: RST), or stop reading without a word (stop_reading).

Lines end in "\n" (tix's); a "\r" before it is dropped. Only what the tests need of the SSE
format: fields id, event, data (lines joined with "\n"), retry; comments (": ping").
"""

import json
import socket
import struct
import threading
import time

HEAD_TIMEOUT_S = 15.0
RECV_POLL_S = 0.05  # the reader thread checks whether it should stop this often


class SseFrame:
    """One frame: the lines before a blank line. `t` is time.monotonic() and `wall`
    time.time() when its blank line arrived."""

    def __init__(self, t, wall):
        self.t = t
        self.wall = wall
        self.id = None
        self.event = None
        self.data = None
        self.retry = None
        self.comments = []
        self.lines = []

    @property
    def json(self):
        return json.loads(self.data)

    @property
    def is_comment(self):
        return bool(self.comments) and len(self.comments) == len(self.lines)

    def __repr__(self):
        return f"<SseFrame t={self.t:.3f} {' | '.join(self.lines)[:300]!r}>"


class SseStream:
    def __init__(self, port, path, headers=None, host="127.0.0.1", timeout=HEAD_TIMEOUT_S,
                 reading=True, rcvbuf_bytes=None):
        """Not READING: the answer's head is read, the stream itself only after
        start_reading(). RCVBUF_BYTES: the socket's receive buffer (a slow reader)."""
        self.path = path
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf_bytes is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf_bytes)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.status = None
        self.headers = {}
        self.body = b""
        self.frames = []
        self.chunked_end = False   # the chunked terminator (0 CRLF CRLF) came: a clean end
        self.error = None          # what broke the reader (a reset, a malformed chunk)
        self._cond = threading.Condition()
        self._ended = False
        self._stop = False
        self._raw = bytearray()    # received, not yet decoded (chunked layer)
        self._text = ""            # decoded, not yet a whole line
        self._frame = None
        self.opened_at = time.monotonic()
        hdrs = {"Host": f"{host}:{port}", "Accept": "text/event-stream",
                "Cache-Control": "no-cache"}
        hdrs.update(headers or {})
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self.sock.sendall((request + "\r\n").encode("latin-1"))
        self._read_head(timeout)
        self._reader = None
        if not self.streaming:
            self._read_body(timeout)
        elif reading:
            self.start_reading()

    def start_reading(self):
        assert self.streaming and self._reader is None
        self.sock.settimeout(RECV_POLL_S)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- the head, and answers that are not streams -----------------------------------------

    @property
    def streaming(self):
        return self.status == 200 and \
            self.headers.get("transfer-encoding", "").lower() == "chunked"

    def _read_head(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._raw:
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {self.path}: no answer head within {timeout} s: "
                                     f"{bytes(self._raw[:300])!r}")
            got = self.sock.recv(65536)
            if not got:
                raise AssertionError(f"GET {self.path}: closed before an answer head: "
                                     f"{bytes(self._raw[:300])!r}")
            self._raw += got
        end = self._raw.index(b"\r\n\r\n")
        lines = self._raw[:end].decode("latin-1").split("\r\n")
        del self._raw[:end + 4]
        parts = lines[0].split(" ", 2)
        assert len(parts) >= 2 and parts[0] == "HTTP/1.1", f"bad status line {lines[0]!r}"
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def _read_body(self, timeout):
        want = int(self.headers.get("content-length", "0"))
        deadline = time.monotonic() + timeout
        while len(self._raw) < want and time.monotonic() < deadline:
            got = self.sock.recv(65536)
            if not got:
                break
            self._raw += got
        self.body = bytes(self._raw)
        self.sock.close()
        self._ended = True

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    # -- the reader thread ----------------------------------------------------------------------

    def _read_loop(self):
        try:
            done = self._decode_chunks()  # what came with the head
            while not done and not self._stop:
                try:
                    got = self.sock.recv(65536)
                except socket.timeout:
                    continue
                if not got:
                    break
                self._raw += got
                done = self._decode_chunks()
        except OSError as e:  # a reset, or the socket closed under us by abort()
            if not self._stop:
                self.error = e
        except Exception as e:  # noqa: BLE001 - a protocol error: reported by wait()
            self.error = e
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _decode_chunks(self):
        """Decode the whole chunks received; returns True at the terminator."""
        while True:
            eol = self._raw.find(b"\r\n")
            if eol < 0:
                return False
            size = int(self._raw[:eol].split(b";")[0], 16)
            if size == 0:  # the last chunk (trailers, if any, are not kept)
                self.chunked_end = True
                del self._raw[:]
                return True
            if len(self._raw) < eol + 2 + size + 2:
                return False
            data = bytes(self._raw[eol + 2:eol + 2 + size])
            if self._raw[eol + 2 + size:eol + 4 + size] != b"\r\n":
                raise ValueError(f"chunk of {size} bytes not followed by CRLF")
            del self._raw[:eol + 4 + size]
            self._parse_text(data.decode("utf-8"))

    def _parse_text(self, text):
        self._text += text
        while "\n" in self._text:
            line, self._text = self._text.split("\n", 1)
            self._parse_line(line.rstrip("\r"))

    def _parse_line(self, line):
        if line == "":
            if self._frame is not None:
                frame, self._frame = self._frame, None
                frame.t, frame.wall = time.monotonic(), time.time()
                with self._cond:
                    self.frames.append(frame)
                    self._cond.notify_all()
            return
        if self._frame is None:
            self._frame = SseFrame(0.0, 0.0)
        f = self._frame
        f.lines.append(line)
        if line.startswith(":"):
            f.comments.append(line[1:].lstrip(" "))
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            f.data = value if f.data is None else f.data + "\n" + value
        elif name in ("id", "event", "retry"):
            setattr(f, name, value)

    # -- waiting ---------------------------------------------------------------------------------

    @property
    def partial(self):
        """Whether a frame was begun and not finished (the stream was cut mid-message)."""
        with self._cond:
            return bool(self._text) or self._frame is not None or bool(self._raw)

    @property
    def ended(self):
        with self._cond:
            return self._ended

    def snapshot(self):
        with self._cond:
            return list(self.frames)

    def wait(self, predicate, timeout_s, what="frames"):
        """Waits until PREDICATE(frames so far) is truthy; returns its value. Fails (with the
        frames) after TIMEOUT_S, or when the stream ended first."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                value = predicate(list(self.frames))
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0 or self._ended:
                    break
                self._cond.wait(min(left, 0.1))
        state = "ended" + (f" ({self.error!r})" if self.error else "") if self._ended \
            else "still open"
        raise AssertionError(f"GET {self.path}: no {what} within {timeout_s} s (stream {state}); "
                             f"frames: {self.frames[-20:]}")

    def wait_end(self, timeout_s):
        """Waits for the server to end the stream; returns whether it ended cleanly."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"GET {self.path}: still open after {timeout_s} s; "
                                         f"frames: {self.frames[-10:]}")
                self._cond.wait(min(left, 0.1))
        return self.chunked_end

    def seat_messages(self):
        """The `event: seats` frames so far."""
        return [f for f in self.snapshot() if f.event == "seats"]

    def wait_seats(self, predicate, timeout_s, what="seat changes"):
        """Waits until PREDICATE(list of seat entries so far, each (frame, seat dict)) holds."""
        return self.wait(lambda frames: predicate(seat_entries(frames)), timeout_s, what)

    # -- hanging up -----------------------------------------------------------------------------

    def _stop_reader(self):
        self._stop = True
        if self._reader is not None:
            self._reader.join(5)

    def close(self):
        """Hang up politely (FIN)."""
        self._stop_reader()
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Hang up abruptly: the kernel sends a RST, unread data is dropped."""
        self._stop_reader()
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def seat_entries(frames):
    """Every seat of every `event: seats` frame, in order: a list of (frame, seat dict)."""
    out = []
    for f in frames:
        if f.event == "seats":
            for seat in f.json["seats"]:
                out.append((f, seat))
    return out


def open_without_reading(port, path, host="127.0.0.1", headers=None):
    """Sends a stream request and returns the socket without reading a byte of the answer."""
    sock = socket.create_connection((host, port), timeout=10)
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{hdrs}\r\n".encode("latin-1"))
    return sock
