"""Protocol-level error codes: invalid_json, invalid_request for non-objects,
unsupported_media_type, payload_too_large, not_found, method_not_allowed."""

import json

import pytest

from tixhttp import assert_error, create_event, make_sections, raw_exchange, seat_statuses


@pytest.fixture
def event(live_shared_server):
    ev, seats = create_event(live_shared_server, make_sections(1, 1, 10))
    return ev["id"]


def post_raw(srv, path, raw, content_type="application/json", headers=None):
    return srv.post(path, raw_body=raw, content_type=content_type, headers=headers)


MALFORMED = [
    b'{"event_id": "nba-finals", "seat_id": "A1", "user_id": "u"',
    b'{"event_id": "nba-finals", "seat_id": "A1", "user_id": "u',
    b'{',
    b'{"event_id" "nba-finals"}',
    b'{"event_id": }',
    b"{'event_id': 'nba-finals'}",
    b'{"event_id": "nba-finals",}',
    b'{"event_id": nba-finals}',
    b'{"a": 1} trailing',
    b'{"a": tru}',
    b'{"a": "\\x41"}',
    b'{"a": "\\u12"}',
    b'{"a": 01}',
    b'{"a": NaN}',
    b'not json at all',
    b'',
]


@pytest.mark.parametrize("raw", MALFORMED, ids=[f"malformed{i}" for i in range(len(MALFORMED))])
def test_malformed_json_is_400_invalid_json(live_shared_server, raw):
    assert_error(post_raw(live_shared_server, "/reserve", raw), 400, "invalid_json")


def test_malformed_json_is_400_on_every_post_endpoint(live_shared_server, event):
    srv = live_shared_server
    raw = b'{"user_id": "u", "seat_ids": ["A1"'
    assert_error(post_raw(srv, f"/events/{event}/holds", raw), 400, "invalid_json")
    assert_error(post_raw(srv, "/events", raw, headers=srv.admin_headers()), 400,
                 "invalid_json")


@pytest.mark.parametrize("raw", [b"[]", b'["nba-finals", "A1", "u"]', b'"hello"', b"42",
                                 b"null", b"true", b"3.25"])
def test_json_that_is_not_an_object_is_422_invalid_request(live_shared_server, event, raw):
    srv = live_shared_server
    assert_error(post_raw(srv, "/reserve", raw), 422, "invalid_request")
    assert_error(post_raw(srv, f"/events/{event}/holds", raw), 422, "invalid_request")
    assert_error(post_raw(srv, "/events", raw, headers=srv.admin_headers()), 422,
                 "invalid_request")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/xml", "multipart/form-data; boundary=x"])
def test_non_json_content_type_is_415_unsupported_media_type(live_shared_server, event, ctype):
    srv = live_shared_server
    raw = json.dumps({"event_id": event, "seat_id": "A1", "user_id": "u"}).encode()
    assert_error(post_raw(srv, "/reserve", raw, content_type=ctype), 415,
                 "unsupported_media_type")
    assert seat_statuses(srv, event)["A1"] == "available"


def test_json_content_type_with_charset_is_accepted(live_shared_server, event):
    srv = live_shared_server
    raw = json.dumps({"event_id": event, "seat_id": "A2", "user_id": "u"}).encode()
    r = post_raw(srv, "/reserve", raw, content_type="application/json; charset=utf-8")
    assert r.status == 201, r


def _reserve_request(port, body, extra_headers=""):
    return (f"POST /reserve HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra_headers}\r\n").encode() + body


def test_body_over_64_kib_is_413_payload_too_large(live_shared_server, event):
    srv = live_shared_server
    body = json.dumps({"event_id": event, "seat_id": "A3",
                       "user_id": "x" * (64 * 1024 + 100)}).encode()
    status, _, resp_body, raw = raw_exchange(srv.port, _reserve_request(srv.port, body))
    assert status == 413, f"expected 413, got {status}: {raw[:300]!r}"
    assert json.loads(resp_body)["error"]["code"] == "payload_too_large"
    assert seat_statuses(srv, event)["A3"] == "available"


def test_body_just_under_64_kib_is_not_rejected_for_size(live_shared_server, event):
    srv = live_shared_server
    body = json.dumps({"event_id": event, "seat_id": "A4",
                       "user_id": "y" * (60 * 1024)}).encode()
    assert len(body) < 64 * 1024
    r = post_raw(srv, "/reserve", body)
    assert r.status != 413, r


def test_max_body_bytes_flag_sets_the_limit(server_factory):
    srv = server_factory.start(extra_args=["--max-body-bytes", "1024"])
    small = json.dumps({"event_id": "nba-finals", "seat_id": "A1", "user_id": "u"}).encode()
    assert post_raw(srv, "/reserve", small).status == 201
    big = json.dumps({"event_id": "nba-finals", "seat_id": "A2", "user_id": "u" * 2000}).encode()
    status, _, resp_body, raw = raw_exchange(srv.port, _reserve_request(srv.port, big))
    assert status == 413, raw[:300]
    assert json.loads(resp_body)["error"]["code"] == "payload_too_large"
    srv.assert_healthy()


# ("/" is the buyer's page since the page landed: tests/system/test_pages.py)
@pytest.mark.parametrize("path", ["//", "/nope", "/events/nba-finals/nope", "/holds",
                                  "/events/nba-finals/seats/A1", "/healthz/extra",
                                  "/EVENTS", "/reserve/now"])
def test_unknown_path_is_404_not_found(live_shared_server, path):
    assert_error(live_shared_server.get(path), 404, "not_found")


ALLOW_CASES = [
    # method, path, methods that must be in Allow
    ("PUT", "/events", {"GET", "POST"}),
    ("DELETE", "/events", {"GET", "POST"}),
    ("PATCH", "/events/nba-finals", {"GET"}),
    ("DELETE", "/events/nba-finals", {"GET"}),
    ("POST", "/events/nba-finals/seats", {"GET"}),
    ("GET", "/events/nba-finals/holds", {"POST"}),
    ("GET", "/reserve", {"POST"}),
    ("DELETE", "/reserve", {"POST"}),
    ("POST", "/healthz", {"GET"}),
    ("PUT", "/holds/0123456789abcdef0123456789abcdef", {"GET", "DELETE"}),
    ("POST", "/holds/0123456789abcdef0123456789abcdef", {"GET", "DELETE"}),
]


@pytest.mark.parametrize("method,path,allowed", ALLOW_CASES,
                         ids=[f"{m} {p}" for m, p, _ in ALLOW_CASES])
def test_wrong_method_is_405_with_allow_header(live_shared_server, method, path, allowed):
    srv = live_shared_server
    kw = {}
    if method in ("POST", "PUT", "PATCH"):
        kw = {"body": {}}
    r = srv.request(method, path, **kw)
    assert_error(r, 405, "method_not_allowed")
    allow = r.header("Allow")
    assert allow, f"405 must carry an Allow header: {dict(r.headers)}"
    listed = {m.strip().upper() for m in allow.split(",") if m.strip()}
    assert allowed <= listed, f"Allow should list {allowed}, got {allow!r}"
    assert method not in listed, f"Allow lists the refused method {method}: {allow!r}"


def test_error_responses_are_json(live_shared_server):
    r = live_shared_server.get("/definitely/not/here")
    ct = r.header("Content-Type", "")
    assert ct.split(";")[0].strip() == "application/json", ct
