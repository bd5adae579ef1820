"""docs/openapi.json, the API described: a valid OpenAPI 3.1 document (checked against the
OpenAPI 3.1 meta-schema with Debian's python3-jsonschema), served as it is at /openapi.json,
naming exactly the routes of the router (src/api/router.c) with their methods, and matching
what the running server answers: each response recorded below, for every operation, has a
status the document lists for it and a body its schema accepts."""

import json
import re
import secrets
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, RefResolver

from checkoutlib import FAST_BUS_ARGS, wait_booking
from tixhttp import create_event, poll

REPO = Path(__file__).resolve().parents[2]
DOC_PATH = REPO / "docs" / "openapi.json"
ROUTER_C = REPO / "src" / "api" / "router.c"
META_SCHEMA = (REPO / "build" / "npm" / "node_modules" / "@apidevtools" / "openapi-schemas" /
               "schemas" / "v3.1" / "schema.json")
METHODS = ("get", "head", "post", "delete", "put", "patch", "options")


@pytest.fixture(scope="module")
def doc():
    return json.loads(DOC_PATH.read_text())


def router_routes():
    """{path template: {methods}} from the router's table."""
    table = re.findall(r'\{ROUTE_\w+,\s*"([^"]+)",\s*([A-Z_ |]+),', ROUTER_C.read_text())
    assert len(table) >= 20, f"could not read the router's table in {ROUTER_C}"
    return {path: {m.strip().removeprefix("HTTP_").lower() for m in methods.split("|")}
            for path, methods in table}


def test_the_document_is_valid_openapi_3_1(doc):
    if not META_SCHEMA.is_file():
        pytest.fail(f"{META_SCHEMA} is missing: scripts/deps-ops.sh installs it (make test runs it)",
                    pytrace=False)
    meta = json.loads(META_SCHEMA.read_text())
    assert meta["$id"].startswith("https://spec.openapis.org/oas/3.1/")
    errors = sorted(Draft202012Validator(meta).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message[:300]}" for e in errors[:20])
    assert doc["openapi"].startswith("3.1.")
    # the schemas themselves are JSON Schema 2020-12 (the meta-schema only checks their type)
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema)
    # and the meta-schema does reject a broken document (this check can fail)
    broken = json.loads(json.dumps(doc))
    broken["paths"]["/events"]["get"]["responses"]["200"].pop("description")
    assert list(Draft202012Validator(meta).iter_errors(broken))


def test_the_document_and_the_router_name_the_same_routes_and_methods(doc):
    routes = router_routes()
    documented = {path: {m for m in ops if m in METHODS} for path, ops in doc["paths"].items()}
    assert set(routes) - set(documented) == set(), "routes missing from docs/openapi.json"
    assert set(documented) - set(routes) == set(), "documented paths the router does not know"
    for path, methods in routes.items():
        assert documented[path] == methods, f"{path}: router {methods}, document {documented[path]}"


def test_the_server_serves_the_document_as_it_is_in_docs(live_shared_server):
    r = live_shared_server.get("/openapi.json")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json"
    assert r.body == DOC_PATH.read_bytes()
    etag = r.header("ETag")
    again = live_shared_server.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""


def template_of(path, templates):
    """The router template a concrete path (without its query) matches."""
    for t in templates:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$"
        if re.match(pattern, path):
            return t
    raise AssertionError(f"no documented path matches {path}")


class Recorder:
    """Checks each response against the document as it is made."""

    def __init__(self, doc, server):
        self.doc = doc
        self.server = server
        self.resolver = RefResolver(base_uri="", referrer=doc)
        self.seen = set()  # (template, method, status)

    def deref(self, obj):
        while isinstance(obj, dict) and "$ref" in obj:
            obj = self.resolver.resolve(obj["$ref"])[1]
        return obj

    def __call__(self, method, path, body=None, *, admin=False, status=None, headers=None,
                 raw_body=None):
        hdrs = dict(headers or {})
        if admin:
            hdrs.update(self.server.admin_headers())
        kw = {"headers": hdrs}
        if raw_body is not None:
            kw["raw_body"] = raw_body
        r = self.server.request(method, path, body, **kw)
        if status is not None:
            assert r.status == status, f"{method} {path}: {r.status} {r.body[:300]!r}"
        template = template_of(path.split("?")[0], self.doc["paths"])
        op = self.doc["paths"][template].get(method.lower())
        assert op, f"{method} {template} is not documented"
        responses = op["responses"]
        assert str(r.status) in responses, (
            f"{method} {template} answered {r.status}, not documented: {r.body[:300]!r}")
        assert r.header("X-Request-Id"), f"{method} {path}: no X-Request-Id"
        response = self.deref(responses[str(r.status)])
        content = response.get("content", {})
        ctype = (r.header("Content-Type") or "").split(";")[0]
        if method != "HEAD" and r.body:
            assert ctype in content, f"{method} {template} {r.status}: {ctype} not documented"
            if ctype == "application/json":
                schema = content[ctype]["schema"]
                errors = list(Draft202012Validator(schema, resolver=self.resolver)
                              .iter_errors(r.json))
                assert not errors, (f"{method} {template} {r.status}: "
                                    + "; ".join(e.message[:200] for e in errors[:5])
                                    + f"\nbody: {r.body[:500]!r}")
        self.seen.add((template, method.lower(), r.status))
        return r


def test_responses_recorded_from_the_server_match_their_schemas(server_factory, doc):
    srv = server_factory.start(extra_args=FAST_BUS_ARGS)
    call = Recorder(doc, srv)
    # pages and operations
    call("GET", "/", status=200)
    call("GET", "/admin", status=200)
    call("GET", "/assets/admin.js", status=200)
    call("GET", "/assets/nope.js", status=404)
    call("GET", "/openapi.json", status=200)
    call("HEAD", "/openapi.json", status=200)
    call("GET", "/healthz", status=200)
    call("GET", "/metrics", status=401)
    call("GET", "/metrics", admin=True, status=200)
    # events
    call("GET", "/events", status=200)
    call("HEAD", "/events", status=200)
    ev, seats = create_event(srv, max_seats_per_hold=4)
    eid = ev["id"]
    call("POST", "/events", {"name": "x"}, admin=True, status=422)
    call("POST", "/events", {"name": "x"}, status=401)
    call("POST", "/events", raw_body=b"{nope", admin=True, status=400)
    call("POST", "/events", raw_body=b"{}", admin=True, headers={"Content-Type": "text/plain"},
         status=415)
    dup = {"id": eid, "name": "Again", "venue": "V", "starts_at": "2031-01-01T00:00:00Z",
           "sections": [{"name": "S", "rows": ["A"], "seats_per_row": 1, "price_cents": 1}]}
    call("POST", "/events", dup, admin=True, status=409)
    call("GET", f"/events/{eid}", status=200)
    call("GET", "/events/no-such-event", status=404)
    seatmap = call("GET", f"/events/{eid}/seats", status=200)
    call("GET", f"/events/{eid}/seats", headers={"If-None-Match": seatmap.header("ETag")},
         status=304)
    call("GET", f"/events/{eid}/seats?status=held", status=200)
    call("GET", f"/events/{eid}/seats?status=nope", status=422)
    # holds
    hold = call("POST", f"/events/{eid}/holds", {"user_id": "ann", "seat_ids": seats[:2]},
                status=201).json
    call("POST", f"/events/{eid}/holds", {"user_id": "bob", "seat_ids": seats[:1]}, status=409)
    call("POST", f"/events/{eid}/holds", {"user_id": "bob", "seat_ids": seats[:5]}, status=422)
    call("POST", f"/events/{eid}/holds", {"user_id": "bob", "seat_ids": ["ZZ99"]}, status=404)
    one = call("POST", "/reserve", {"event_id": eid, "seat_id": seats[3], "user_id": "cy"},
               status=201).json
    call("GET", f"/holds/{one['id']}", status=200)
    call("GET", f"/holds/{'0' * 32}", status=404)
    call("DELETE", f"/holds/{one['id']}", status=200)
    call("DELETE", f"/holds/{one['id']}", status=409)
    # bookings
    booking = call("POST", f"/holds/{hold['id']}/checkout",
                   {"payment_token": "tok_visa", "email": "ann@example.com"},
                   headers={"Idempotency-Key": "k-" + secrets.token_hex(4)}, status=202).json
    call("POST", f"/holds/{hold['id']}/checkout", {"payment_token": "tok_visa"}, status=409)
    call("POST", f"/holds/{one['id']}/checkout", {}, status=422)
    call("POST", f"/holds/{hold['id']}/checkout", {"payment_token": "tok_visa"},
         headers={"Idempotency-Key": "bad key\x01"}, status=400)
    wait_booking(srv, booking["id"], {"confirmed"})
    call("GET", f"/bookings/{booking['id']}", status=200)
    call("GET", f"/bookings/{'0' * 32}", status=404)
    call("GET", "/users/ann/bookings", status=200)
    call("GET", f"/admin/events/{eid}/stats", admin=True, status=200)
    call("GET", f"/admin/events/{eid}/stats", status=401)
    call("GET", "/admin/events/nope/stats", admin=True, status=404)
    call("POST", f"/bookings/{booking['id']}/cancel", status=200)
    call("POST", f"/bookings/{booking['id']}/cancel", status=409)
    # the change feed of the event, from the seat map's position
    page = call("GET", f"/events/{eid}/changes?after={seatmap.json['position']}", status=200).json
    assert [c["kind"] for c in page["changes"]][:2] == ["held", "held"], page
    call("GET", f"/events/{eid}/changes?after={page['next']}&limit=1", status=200)
    call("HEAD", f"/events/{eid}/changes?after=0", status=200)
    call("GET", f"/events/{eid}/changes", status=422)
    call("GET", "/events/nope/changes?after=0", status=404)
    # the live stream: resuming from before the server started, it says reload and ends
    stream = call("GET", f"/events/{eid}/stream?after=0", status=200)
    assert stream.header("Content-Type") == "text/event-stream", stream
    assert b"event: reload\n" in stream.body, stream.body
    call("GET", f"/events/{eid}/stream?after=x", status=422)
    call("GET", "/events/nope/stream", status=404)
    # admin: webhooks, dead letters, buyer tokens
    call("GET", "/admin/webhooks", admin=True, status=200)
    call("POST", "/admin/webhooks", {"url": "http://127.0.0.1:9/hook", "types": ["Nothing*"]},
         admin=True, status=201)
    call("POST", "/admin/webhooks", {"url": "ftp://x", "types": []}, admin=True, status=422)
    call("GET", "/admin/dead-letters", admin=True, status=200)
    call("GET", "/admin/dead-letters", status=401)
    call("POST", "/admin/dead-letters/999999/redrive", admin=True, status=404)
    token = call("POST", "/admin/buyer-tokens", {"user_id": "dee"}, admin=True, status=201).json
    call("POST", f"/events/{eid}/holds", {"user_id": "eve", "seat_ids": seats[5:6]},
         headers={"Authorization": "Bearer " + token["token"]}, status=403)
    call("GET", "/users/dee/bookings", headers={"Authorization": "Bearer nope"}, status=401)
    # the body cap and the wrong method are documented as components (every path has them)
    assert call.deref({"$ref": "#/components/responses/MethodNotAllowed"})["headers"]["Allow"]
    # every documented operation was exercised at least once
    operations = {(p, m) for p, ops in doc["paths"].items() for m in ops if m in METHODS}
    exercised = {(t, m) for t, m, _ in call.seen}
    heads = {(p, m) for p, m in operations if m == "head"}
    assert operations - heads - exercised == set(), "operations never exercised"
