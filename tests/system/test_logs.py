"""Request ids, structured logs and the access log: every answer carries X-Request-Id (the
client's when sane, else one tix made), error bodies name it, --log-format json writes one
JSON object per line with the request's ids, and --access-log writes a combined-format line
per request with its id and duration."""

import json
import re
import time

import pytest

from tixhttp import create_event, poll, reserve

GENERATED_ID_RE = re.compile(r"^[0-9a-f]{16}$")
ACCESS_RE = re.compile(
    r'^(?P<client>\S+) - - \[(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] '
    r'"(?P<method>\S+) (?P<target>\S+) (?P<version>HTTP/1\.[01])" (?P<status>\d{3}) '
    r'(?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" rid=(?P<rid>\S+) '
    r'dur=(?P<dur>\d+\.\d{6})$')


def json_lines(srv):
    """The server's stderr lines, each parsed as JSON (all of them must be)."""
    out = []
    for line in srv.lines:
        if not line.startswith("[err] "):
            continue
        text = line[len("[err] "):]
        try:
            out.append(json.loads(text))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {text!r}") from None
    return out


def test_the_client_request_id_is_kept_when_sane_and_replaced_when_not(live_shared_server):
    srv = live_shared_server
    r = srv.get("/events/no-such-event", headers={"X-Request-Id": "trace-42.a:b_c"})
    assert r.status == 404 and r.header("X-Request-Id") == "trace-42.a:b_c"
    assert r.json["error"] == {"code": "event_not_found",
                               "message": "no event with id 'no-such-event'",
                               "request_id": "trace-42.a:b_c"}
    for bad in ("x" * 65, "two words", "quote\"d", "é"):
        r = srv.get("/events/no-such-event", headers={"X-Request-Id": bad})
        rid = r.header("X-Request-Id")
        assert GENERATED_ID_RE.match(rid), (bad, rid)
        assert r.json["error"]["request_id"] == rid
    ids = {srv.get("/healthz").header("X-Request-Id") for _ in range(20)}
    assert len(ids) == 20 and all(GENERATED_ID_RE.match(i) for i in ids)


def test_a_rejected_hold_names_its_request_in_the_error(live_shared_server):
    srv = live_shared_server
    ev, seats = create_event(srv)
    assert reserve(srv, ev["id"], seats[0]).status == 201
    r = reserve(srv, ev["id"], seats[0], headers={"X-Request-Id": "req-7"})
    assert r.status == 409
    assert r.json["error"]["code"] == "seat_unavailable"
    assert r.json["error"]["seat_ids"] == [seats[0]]
    assert r.json["error"]["request_id"] == "req-7"


def test_json_logs_carry_the_request_event_and_hold_ids(server_factory):
    srv = server_factory.start(extra_args=["--log-format", "json", "--log-level", "debug"])
    ev, seats = create_event(srv)
    r = reserve(srv, ev["id"], seats[0], headers={"X-Request-Id": "hold-req-1"})
    assert r.status == 201
    hold_id = r.json["id"]
    missing = srv.get(f"/holds/{'0' * 32}", headers={"X-Request-Id": "get-req-2"})
    assert missing.status == 404

    def line_of(rid):
        return [o for o in json_lines(srv) if o.get("request_id") == rid]

    assert poll(lambda: line_of("hold-req-1"), 5), srv.output()
    line = line_of("hold-req-1")[0]
    assert line["level"] == "debug" and line["message"].startswith("POST /reserve 201")
    assert line["event_id"] == ev["id"] and line["hold_id"] == hold_id
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line["time"])
    assert poll(lambda: line_of("get-req-2"), 5)
    assert line_of("get-req-2")[0]["hold_id"] == "0" * 32
    for o in json_lines(srv):  # every line, the start-up ones too
        assert {"time", "level", "pid", "message"} <= set(o), o


def test_text_logs_at_info_level_have_no_line_per_request(server_factory):
    srv = server_factory.start()
    assert srv.get("/healthz", headers={"X-Request-Id": "quiet-1"}).status == 200
    time.sleep(0.2)
    assert not [l for l in srv.lines if "quiet-1" in l]
    assert any(re.search(r" tix\[\d+\] INFO listening on ", l) for l in srv.lines)


@pytest.mark.sqlite_only(reason="makes a write fail through the embedded store's fault VFS "
                                "(--test-fault-dir); on PostgreSQL, failed writes are in test_pg.py")
def test_a_failed_request_is_logged_as_a_warning_with_its_id(server_factory, tmp_path):
    faults = tmp_path / "faults"
    faults.mkdir()
    srv = server_factory.start(extra_args=["--test-fault-dir", str(faults)])
    ev, seats = create_event(srv)
    (faults / "fail-fsync").touch()
    try:
        r = reserve(srv, ev["id"], seats[0], headers={"X-Request-Id": "doomed-1"})
    finally:
        (faults / "fail-fsync").unlink()
    assert r.status == 503 and r.json["error"]["code"] == "store_unavailable", r
    assert r.json["error"]["request_id"] == "doomed-1"
    warned = poll(lambda: [l for l in srv.lines if "request_id=doomed-1" in l], 5)
    assert warned and " WARN POST /reserve 503 " in warned[0], srv.output()
    assert f"event_id={ev['id']}" in warned[0]


def test_the_access_log_has_a_combined_line_per_request(server_factory, tmp_path):
    path = tmp_path / "access.log"
    srv = server_factory.start(extra_args=["--access-log", str(path)])
    ev, seats = create_event(srv)
    assert reserve(srv, ev["id"], seats[0], headers={"X-Request-Id": "acc-1",
                                                     "User-Agent": "tester/1.0",
                                                     "Referer": "http://x.example/"}).status == 201
    assert srv.get(f"/events/{ev['id']}/seats?status=held").status == 200
    assert srv.get("/nope", headers={"User-Agent": 'evil "agent"\x7f'}).status == 404

    def lines():
        return path.read_text().splitlines() if path.exists() else []

    assert poll(lambda: len(lines()) >= 4, 5), lines()
    parsed = [ACCESS_RE.match(l) for l in lines()]
    assert all(parsed), lines()
    by_target = {m["target"]: m for m in parsed}
    hold = by_target["/reserve"]
    assert (hold["method"], hold["status"], hold["rid"]) == ("POST", "201", "acc-1")
    assert hold["agent"] == "tester/1.0" and hold["referer"] == "http://x.example/"
    assert hold["client"] == "127.0.0.1" and int(hold["bytes"]) > 100
    assert float(hold["dur"]) > 0
    assert by_target[f"/events/{ev['id']}/seats?status=held"]["status"] == "200"
    assert by_target["/nope"]["agent"] == "evil \\x22agent\\x22\\x7F"
    srv.stop_gracefully()


def test_the_access_log_can_go_to_standard_output(server_factory):
    srv = server_factory.start(extra_args=["--access-log", "-"])
    assert srv.get("/healthz", headers={"X-Request-Id": "stdout-1"}).status == 200
    assert poll(lambda: [l for l in srv.lines
                         if l.startswith("[out] ") and "rid=stdout-1" in l], 5), srv.output()


def test_an_access_log_that_cannot_be_opened_stops_the_start(server_factory, tmp_path):
    from tixserver import run_tix
    cp = run_tix(["serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0",
                  "--access-log", str(tmp_path / "no" / "such" / "dir" / "access.log")])
    assert cp.returncode == 1, cp.stderr
    assert "access log: cannot open" in cp.stderr and "No such file" in cp.stderr
