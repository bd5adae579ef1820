"""HTTP helpers for the tix system tests: a small JSON client on http.client,
a raw-socket client for hostile bytes, and assertions on tix's JSON shapes."""

import http.client
import itertools
import json
import re
import socket
import string
import time
import uuid
from datetime import datetime, timezone

NO_BODY = object()
JSON_CT = "application/json"

HOLD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
RFC3339_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # http.client.HTTPMessage (case-insensitive get)
        self.body = body

    @property
    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError(
                f"response body is not JSON ({e}): status={self.status} body={self.body[:500]!r}"
            ) from None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:300]!r}>"


def http_request(port, method, path, body=NO_BODY, *, raw_body=None, headers=None,
                 content_type=JSON_CT, timeout=30.0, host="127.0.0.1"):
    """One request on its own connection. BODY is JSON-encoded; RAW_BODY is sent as is."""
    hdrs = {}
    data = None
    if raw_body is not None:
        data = raw_body
    elif body is not NO_BODY and body is not None:
        data = json.dumps(body).encode("utf-8")
    if data is not None and content_type is not None:
        hdrs["Content-Type"] = content_type
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        return Response(resp.status, resp.headers, payload)
    finally:
        conn.close()


def raw_exchange(port, data, timeout=15.0, host="127.0.0.1", chunks=None):
    """Sends raw bytes (or a list of chunks) and reads one HTTP response.

    Returns (status or None, header dict lowercased, body bytes, raw bytes).
    status is None when the server closed without answering."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            for chunk in (chunks if chunks is not None else [data]):
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        return _read_response(sock, timeout)
    finally:
        sock.close()


def _read_response(sock, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    head_end = -1
    while time.monotonic() < deadline:
        head_end = buf.find(b"\r\n\r\n")
        if head_end >= 0:
            break
        chunk = _recv(sock)
        if not chunk:
            break
        buf += chunk
    if head_end < 0:
        return None, {}, b"", buf
    head = buf[:head_end].decode("iso-8859-1")
    lines = head.split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    status = int(m.group(1)) if m else None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = buf[head_end + 4:]
    length = headers.get("content-length")
    if length is not None and length.isdigit():
        want = int(length)
        while len(body) < want and time.monotonic() < deadline:
            chunk = _recv(sock)
            if not chunk:
                break
            body += chunk
    return status, headers, body, buf


def _recv(sock):
    try:
        return sock.recv(65536)
    except (ConnectionResetError, socket.timeout):
        return b""


# -- assertions --------------------------------------------------------------

def assert_error(resp, status, code):
    """The response has STATUS and body {"error": {"code": CODE, "message": "..."}}."""
    assert resp.status == status, (
        f"expected HTTP {status} {code}, got {resp.status}: {resp.body[:500]!r}")
    body = resp.json
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), (
        f"error body must be {{'error': {{...}}}}, got {body!r}")
    err = body["error"]
    assert err.get("code") == code, f"expected error code {code!r}, got {err!r}"
    assert isinstance(err.get("message"), str) and err["message"], (
        f"error message must be a non-empty string: {err!r}")
    return err


def assert_json_content_type(resp):
    ct = resp.header("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == "application/json", (
        f"Content-Type should be application/json, got {ct!r}")


def parse_time(value):
    assert isinstance(value, str) and RFC3339_UTC_RE.match(value), (
        f"expected an RFC 3339 UTC time ending in Z, got {value!r}")
    base = value[:-1]
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in base else "%Y-%m-%dT%H:%M:%S"
    if "." in base:
        head, frac = base.split(".")
        base = head + "." + (frac + "000000")[:6]
    return datetime.strptime(base, fmt).replace(tzinfo=timezone.utc)


def assert_hold_shape(hold, *, event_id=None, user_id=None, seat_ids=None, status=None):
    for key in ("id", "event_id", "user_id", "seat_ids", "status", "created_at", "expires_at"):
        assert key in hold, f"hold is missing {key!r}: {hold!r}"
    assert HOLD_ID_RE.match(hold["id"]), f"hold id must be 32 lowercase hex chars: {hold['id']!r}"
    assert hold["status"] in ("active", "released", "expired"), hold
    assert isinstance(hold["seat_ids"], list) and hold["seat_ids"], hold
    created = parse_time(hold["created_at"])
    expires = parse_time(hold["expires_at"])
    assert expires > created, hold
    if event_id is not None:
        assert hold["event_id"] == event_id, hold
    if user_id is not None:
        assert hold["user_id"] == user_id, hold
    if seat_ids is not None:
        assert sorted(hold["seat_ids"]) == sorted(seat_ids), hold
        assert len(hold["seat_ids"]) == len(seat_ids), hold
    if status is not None:
        assert hold["status"] == status, hold
    return hold


# -- events ------------------------------------------------------------------

def row_labels():
    """A, B, ..., Z, AA, AB, ...: letter-only labels, so label+number is unique."""
    for size in itertools.count(1):
        for combo in itertools.product(string.ascii_uppercase, repeat=size):
            yield "".join(combo)


def make_sections(n_sections, rows_per_section, seats_per_row, price_cents=5000):
    labels = row_labels()
    sections = []
    for s in range(n_sections):
        rows = [next(labels) for _ in range(rows_per_section)]
        sections.append({"name": f"Section {s + 1}", "rows": rows,
                         "seats_per_row": seats_per_row,
                         "price_cents": price_cents + 1000 * s})
    return sections


def seat_ids_of(sections):
    return [f"{row}{n}" for sec in sections for row in sec["rows"]
            for n in range(1, sec["seats_per_row"] + 1)]


def unique_event_id(prefix="ev"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def event_body(event_id=None, sections=None, hold_ttl_s=None, max_seats_per_hold=None,
               name="System Test Night", venue="Test Arena",
               starts_at="2031-05-04T19:30:00Z"):
    body = {"name": name, "venue": venue, "starts_at": starts_at,
            "sections": sections if sections is not None else make_sections(2, 2, 5)}
    if event_id is not None:
        body["id"] = event_id
    if hold_ttl_s is not None:
        body["hold_ttl_s"] = hold_ttl_s
    if max_seats_per_hold is not None:
        body["max_seats_per_hold"] = max_seats_per_hold
    return body


def create_event(server, sections=None, hold_ttl_s=None, max_seats_per_hold=None,
                 event_id=None, **kw):
    """Creates an event via POST /events (admin) and returns (event, seat_ids)."""
    sections = sections if sections is not None else make_sections(2, 2, 5)
    event_id = event_id or unique_event_id()
    body = event_body(event_id, sections, hold_ttl_s, max_seats_per_hold, **kw)
    r = server.post("/events", body, headers=server.admin_headers())
    assert r.status == 201, f"POST /events -> {r.status} {r.body[:500]!r}"
    return r.json, seat_ids_of(sections)


def hold_seats(server, event_id, seat_ids, user_id="user-1", **kw):
    return server.post(f"/events/{event_id}/holds",
                       {"user_id": user_id, "seat_ids": list(seat_ids)}, **kw)


def reserve(server, event_id, seat_id, user_id="user-1", **kw):
    return server.post("/reserve", {"event_id": event_id, "seat_id": seat_id,
                                    "user_id": user_id}, **kw)


def seat_map(server, event_id, status=None):
    path = f"/events/{event_id}/seats" + (f"?status={status}" if status else "")
    r = server.get(path)
    assert r.status == 200, f"GET {path} -> {r.status} {r.body[:300]!r}"
    return r.json


def seat_statuses(server, event_id):
    return {s["id"]: s["status"] for s in seat_map(server, event_id)["seats"]}


def poll(predicate, timeout_s, interval_s=0.05):
    """Calls PREDICATE until it returns a truthy value or TIMEOUT_S passes;
    returns the last value."""
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval_s)
        value = predicate()
    return value


def wait_for_write(server, event_id, seats, user, timeout_s):
    """Holds SEATS one at a time until one is acknowledged (a store coming back); returns that
    hold, or None after TIMEOUT_S. Any answer but 201 or 503 fails."""
    pending = list(seats)

    def attempt():
        if not pending:
            return None
        r = hold_seats(server, event_id, [pending[0]], user)
        if r.status == 201:
            return r.json
        assert r.status == 503, r  # never anything but "not now" while it comes back
        pending.pop(0)  # the answer was 503: that hold may or may not have been kept
        return None

    return poll(attempt, timeout_s, interval_s=0.1)
