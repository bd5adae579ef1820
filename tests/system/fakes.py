"""Fake collaborators of the tix event bus, stdlib only, each on 127.0.0.1:<ephemeral>:

  FakePaymentProvider  the "http" payment provider protocol (POST /charges, POST /refunds,
                       Idempotency-Key), behaving like a real provider: the first settled
                       answer of a key is replayed to every retry of that key, and the charge
                       itself happens once per key. Scriptable per token: declines, 5xx for
                       the first N attempts, slow answers, answers held until a gate opens.
  WebhookReceiver      records every POST (headers and raw body); answers a settable status.
  SmtpSink             a minimal SMTP server (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
                       that keeps every message; can refuse the first N messages with 451.

Every wait is bounded; close() releases whatever is still blocked.
"""

import email
import email.policy
import hashlib
import hmac
import json
import secrets
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GATE_TIMEOUT_S = 60.0


def poll_until(predicate, timeout_s, interval_s=0.02):
    """Calls PREDICATE until truthy or TIMEOUT_S passes; returns the last value."""
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = predicate()
    return value


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status, body_bytes, content_type="application/json"):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body_bytes)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body_bytes)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass  # the client (tix) went away: timed out or was killed
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


# -- payment provider ------------------------------------------------------------------------

class KeyState:
    """What the fake provider remembers about one (operation, Idempotency-Key)."""

    def __init__(self, op, key, params):
        self.op = op
        self.key = key
        self.params = params          # of the first call: amount, token/payment_id, booking_id
        self.attempts = 0             # requests received with this key
        self.settled = None           # (status, body bytes): replayed to every later request
        self.performed = 0            # charges/refunds actually made (at most 1 by design)
        self.replays = 0              # requests answered from `settled`
        self.transient_failures = 0   # 5xx answers given (not settled)

    def __repr__(self):
        return (f"<{self.op} key={self.key} attempts={self.attempts} performed={self.performed} "
                f"replays={self.replays} settled={self.settled and self.settled[0]}>")


class FakePaymentProvider:
    """POST /charges {"amount_cents","token","booking_id"} and POST /refunds
    {"amount_cents","payment_id","booking_id"}, both with an Idempotency-Key header; also under
    /via/NAME/ (e.g. /via/node-a/charges), one base URL per client, so that a test of several
    tix nodes sees which node sent each request (its record's "via"; None without it).

    Script (set before the calls; all keyed by the charge token, which tests choose):
      decline_tokens   tokens answered 402 {"error": {"message": "card declined"}} (final)
      fail_first       token -> N: the first N attempts of each key get HTTP 500 (transient)
      slow_first       token -> (N, seconds): the first N attempts are answered that late
                       (the charge is made before the wait: a client that timed out
                       finds it done when it retries, as with a real provider)
      gates            token -> threading.Event: answers wait until the event is set
      latency_s        added to every answer
      refund_fail_first  the first N attempts of each refund key get HTTP 500
    """

    def __init__(self, latency_s=0.0):
        self.latency_s = latency_s
        self.decline_tokens = {"tok_chargeDeclined", "tok_declined"}
        self.fail_first = {}
        self.slow_first = {}
        self.gates = {}
        self.refund_fail_first = 0
        self.lock = threading.Lock()
        self.keys = {}             # (op, key) -> KeyState
        self.requests = []         # every request: dict(op, key, body, headers, status, t)
        self.violations = []       # protocol breaches by the client (tix)
        self.arrived = threading.Condition(self.lock)
        self._closed = False
        provider = self

        class Handler(_QuietHandler):
            def do_POST(self):
                provider._handle(self)

            def do_GET(self):
                self._send(404, b'{"error":"not found"}')

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    # -- the protocol --------------------------------------------------------------------

    def _handle(self, h):
        raw = h._read_body()
        path = h.path.split("?")[0]
        via = None  # a client told apart by its base URL: http://provider/via/NAME
        if path.startswith("/via/") and path.count("/") == 3:
            via, path = path[len("/via/"):].split("/", 1)
            path = "/" + path
        op = {"/charges": "charge", "/refunds": "refund"}.get(path)
        key = h.headers.get("Idempotency-Key")
        headers = {k.lower(): v for k, v in h.headers.items()}
        if op is None:
            self._note(f"POST to unknown path {h.path!r}")
            return h._send(404, b'{"error":"no such endpoint"}')
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._note(f"{op}: body is not JSON: {raw[:200]!r}")
            return h._send(400, b'{"error":"body is not JSON"}')
        value_field = "token" if op == "charge" else "payment_id"
        shape_ok = (isinstance(body, dict) and isinstance(body.get("amount_cents"), int)
                    and isinstance(body.get(value_field), str)
                    and isinstance(body.get("booking_id"), str))
        if not shape_ok:
            self._note(f"{op}: unexpected body {body!r}")
        if not key:
            self._note(f"{op} without Idempotency-Key: {body!r}")
            return h._send(400, b'{"error":"Idempotency-Key required"}')
        ct = headers.get("content-type", "")
        if not ct.startswith("application/json"):
            self._note(f"{op} key {key}: Content-Type {ct!r}")
        params = (body.get("amount_cents"), body.get(value_field), body.get("booking_id")) \
            if isinstance(body, dict) else (None, None, None)
        token = body.get("token") if op == "charge" and isinstance(body, dict) else None
        delay = self.latency_s
        gate = None
        with self.lock:
            st = self.keys.get((op, key))
            if st is None:
                st = self.keys[(op, key)] = KeyState(op, key, params)
            st.attempts += 1
            attempt = st.attempts
            record = {"op": op, "key": key, "body": body, "headers": headers,
                      "attempt": attempt, "t": time.monotonic(), "status": None, "via": via}
            self.requests.append(record)
            self.arrived.notify_all()
            if st.params != params:
                self.violations.append(
                    f"{op} key {key} reused with other parameters: first {st.params}, "
                    f"now {params}")
                status, answer = 400, {"error": {"message": "idempotency key reused with "
                                                            "different parameters"}}
                payload = json.dumps(answer).encode()
            elif st.settled is not None:
                st.replays += 1
                status, payload = st.settled
            else:
                status, payload = self._decide(op, st, token, attempt)
            if token is not None:
                n, secs = self.slow_first.get(token, (0, 0.0))
                if attempt <= n:
                    delay += secs
                gate = self.gates.get(token)
            record["status"] = status
        if gate is not None:
            gate.wait(GATE_TIMEOUT_S)
        if delay:
            time.sleep(delay)
        h._send(status, payload)

    def _decide(self, op, st, token, attempt):
        """A first answer for an unsettled key (called with the lock held)."""
        if op == "charge":
            if attempt <= self.fail_first.get(token, 0):
                st.transient_failures += 1
                return 500, b'{"error":{"message":"scripted outage"}}'
            if token in self.decline_tokens:
                st.settled = (402, json.dumps({"error": {"message": "card declined"}}).encode())
                return st.settled
            st.performed += 1
            st.settled = (200, json.dumps({"id": "ch_" + secrets.token_hex(10),
                                           "status": "succeeded",
                                           "amount_cents": st.params[0]}).encode())
            return st.settled
        if attempt <= self.refund_fail_first:
            st.transient_failures += 1
            return 503, b'{"error":{"message":"scripted outage"}}'
        st.performed += 1
        st.settled = (200, json.dumps({"id": "re_" + secrets.token_hex(10),
                                       "status": "succeeded",
                                       "amount_cents": st.params[0]}).encode())
        return st.settled

    def _note(self, msg):
        with self.lock:
            self.violations.append(msg)

    # -- what the tests read ---------------------------------------------------------------

    def state(self, op, key):
        with self.lock:
            return self.keys.get((op, key))

    def charge(self, key):
        return self.state("charge", key)

    def refund(self, key):
        return self.state("refund", key)

    def settled_id(self, op, key):
        """The "id" of KEY's settled 2xx answer, or None."""
        st = self.state(op, key)
        if st is None or st.settled is None or not 200 <= st.settled[0] <= 299:
            return None
        return json.loads(st.settled[1])["id"]

    def requests_of(self, op=None, key=None):
        with self.lock:
            return [r for r in self.requests
                    if (op is None or r["op"] == op) and (key is None or r["key"] == key)]

    def key_states(self, op=None):
        with self.lock:
            return [st for (o, _), st in self.keys.items() if op is None or o == op]

    def wait_for_requests(self, n, op="charge", timeout_s=10.0):
        """Waits until at least N requests of OP arrived; returns how many did."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while True:
                count = sum(1 for r in self.requests if r["op"] == op)
                left = deadline - time.monotonic()
                if count >= n or left <= 0:
                    return count
                self.arrived.wait(min(left, 0.1))

    def close(self):
        if self._closed:
            return
        self._closed = True
        for gate in list(self.gates.values()):
            gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# -- webhooks -----------------------------------------------------------------------------------

class WebhookDelivery:
    def __init__(self, path, headers, body, status):
        self.path = path
        self.headers = headers  # lowercased names
        self.body = body        # raw bytes, exactly as sent
        self.status = status    # what the receiver answered
        self.t = time.monotonic()

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def event_id_header(self):
        return self.headers.get("tix-event-id")

    def __repr__(self):
        return f"<WebhookDelivery {self.path} -> {self.status} {self.body[:120]!r}>"


class WebhookReceiver:
    """Records every POST; answers `status` (settable at any time)."""

    def __init__(self, status=200):
        self.status = status
        self.lock = threading.Lock()
        self.deliveries = []
        receiver = self

        class Handler(_QuietHandler):
            def do_POST(self):
                body = self._read_body()
                with receiver.lock:
                    status = receiver.status
                    receiver.deliveries.append(WebhookDelivery(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
                self._send(status, b'{"ok":true}' if status < 300 else b'{"error":"scripted"}')

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return f"http://127.0.0.1:{self.port}{path}"

    def all(self, path=None):
        with self.lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    def of_type(self, typ, path=None):
        out = []
        for d in self.all(path):
            try:
                if d.json.get("type") == typ:
                    out.append(d)
            except ValueError:
                pass
        return out

    def wait_for(self, predicate, timeout_s):
        """Waits until PREDICATE(list of deliveries) is truthy; returns its last value."""
        return poll_until(lambda: predicate(self.all()), timeout_s)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def verify_signature(secret, header, body, now_s=None, tolerance_s=300):
    """Checks a Tix-Signature header ("t=<unix s>,v1=<hex HMAC-SHA256(secret, '<t>.<body>')>")
    against the raw BODY; returns (ok, reason)."""
    if not header:
        return False, "no Tix-Signature header"
    parts = {}
    for item in header.split(","):
        k, sep, v = item.strip().partition("=")
        if not sep:
            return False, f"malformed item {item!r}"
        parts.setdefault(k, []).append(v)
    if "t" not in parts or "v1" not in parts:
        return False, f"missing t or v1 in {header!r}"
    t = parts["t"][0]
    if not t.isdigit():
        return False, f"t is not a unix time: {t!r}"
    now_s = time.time() if now_s is None else now_s
    if abs(now_s - int(t)) > tolerance_s:
        return False, f"t={t} is {now_s - int(t):.0f}s away from now"
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, v) for v in parts["v1"]):
        return False, f"v1 {parts['v1']} != expected {expected}"
    return True, "ok"


# -- SMTP ------------------------------------------------------------------------------------------

class SmtpMessage:
    def __init__(self, mail_from, rcpts, data):
        self.mail_from = mail_from
        self.rcpts = rcpts
        self.data = data  # bytes as received, dot-unstuffed, CRLF line ends

    @property
    def message(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)

    def __repr__(self):
        return f"<SmtpMessage from={self.mail_from} to={self.rcpts} {len(self.data)} bytes>"


class SmtpSink:
    """A small SMTP server keeping every message. `refuse_first` messages are refused with
    451 at the end of DATA (a transient failure the client should retry)."""

    def __init__(self, refuse_first=0):
        self.refuse_first = refuse_first
        self.lock = threading.Lock()
        self.messages = []
        self.refused = 0
        self.transcripts = []  # command lines seen, for failure reports
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 30

            def reply(self, line):
                self.wfile.write(line.encode("ascii") + b"\r\n")
                self.wfile.flush()

            def handle(self):
                try:
                    self._session()
                except (OSError, ValueError):
                    pass

            def _session(self):
                self.reply("220 sink.test ESMTP tix-tests")
                mail_from, rcpts = None, []
                while True:
                    raw = self.rfile.readline(65536)
                    if not raw:
                        return
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    with sink.lock:
                        sink.transcripts.append(line)
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-sink.test\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                        self.wfile.flush()
                    elif verb == "HELO":
                        self.reply("250 sink.test")
                    elif verb == "MAIL":
                        mail_from, rcpts = _smtp_address(line), []
                        self.reply("250 2.1.0 ok")
                    elif verb == "RCPT":
                        rcpts.append(_smtp_address(line))
                        self.reply("250 2.1.5 ok")
                    elif verb == "DATA":
                        if mail_from is None or not rcpts:
                            self.reply("503 5.5.1 need MAIL and RCPT first")
                            continue
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = self._read_data()
                        if data is None:
                            return
                        with sink.lock:
                            refuse = sink.refused < sink.refuse_first
                            if refuse:
                                sink.refused += 1
                            else:
                                sink.messages.append(SmtpMessage(mail_from, list(rcpts), data))
                        self.reply("451 4.3.0 try again later" if refuse else "250 2.0.0 queued")
                        mail_from, rcpts = None, []
                    elif verb == "RSET":
                        mail_from, rcpts = None, []
                        self.reply("250 ok")
                    elif verb == "NOOP":
                        self.reply("250 ok")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 5.5.2 not implemented")

            def _read_data(self):
                lines = []
                while True:
                    raw = self.rfile.readline(1 << 20)
                    if not raw:
                        return None
                    if raw in (b".\r\n", b".\n"):
                        return b"".join(lines)
                    if raw.startswith(b".."):
                        raw = raw[1:]
                    lines.append(raw)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def all(self):
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate, timeout_s):
        return poll_until(lambda: predicate(self.all()), timeout_s)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _smtp_address(line):
    """The address of 'MAIL FROM:<a@b> SIZE=1' or 'RCPT TO:<a@b>'."""
    _, _, rest = line.partition(":")
    rest = rest.strip()
    if rest.startswith("<"):
        return rest[1:rest.find(">")] if ">" in rest else rest[1:]
    return rest.split(" ")[0]
