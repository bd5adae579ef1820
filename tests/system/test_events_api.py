"""GET /events, GET /events/{id}, GET /events/{id}/seats, POST /events, GET /healthz."""

import pytest

from tixhttp import (assert_error, assert_json_content_type, create_event, event_body,
                     make_sections, parse_time, reserve, seat_ids_of, seat_map,
                     unique_event_id)

SEEDED = {"nba-finals": 100, "tech-conference": 1000, "stadium-tour": 50000}
EVENT_KEYS = {"id", "name", "venue", "starts_at", "seats_total", "seats_available",
              "hold_ttl_s", "max_seats_per_hold"}


def assert_event_shape(ev):
    missing = EVENT_KEYS - set(ev)
    assert not missing, f"event is missing {missing}: {ev!r}"
    for key in ("id", "name", "venue"):
        assert isinstance(ev[key], str) and ev[key], ev
    parse_time(ev["starts_at"])
    for key in ("seats_total", "seats_available", "hold_ttl_s", "max_seats_per_hold"):
        assert type(ev[key]) is int, f"{key} must be an integer: {ev!r}"
    assert 0 <= ev["seats_available"] <= ev["seats_total"], ev
    assert 1 <= ev["hold_ttl_s"] <= 86400, ev
    assert 1 <= ev["max_seats_per_hold"] <= 100, ev


# -- health ------------------------------------------------------------------

def test_healthz_answers_200_status_ok(live_shared_server):
    r = live_shared_server.get("/healthz")
    assert r.status == 200
    assert_json_content_type(r)
    assert r.json == {"status": "ok"}


# -- listing and reading events ------------------------------------------------

def test_list_events_includes_the_three_seeded_events_with_all_fields(live_shared_server):
    r = live_shared_server.get("/events")
    assert r.status == 200
    assert_json_content_type(r)
    events = r.json["events"]
    assert isinstance(events, list)
    by_id = {e["id"]: e for e in events}
    assert len(by_id) == len(events), "event ids in GET /events must be unique"
    for event_id, total in SEEDED.items():
        assert event_id in by_id, f"seeded event {event_id} missing from {list(by_id)}"
        ev = by_id[event_id]
        assert_event_shape(ev)
        assert ev["seats_total"] == total, ev


def test_get_event_returns_the_same_object_as_the_listing(live_shared_server):
    listed = {e["id"]: e for e in live_shared_server.get("/events").json["events"]}
    r = live_shared_server.get("/events/nba-finals")
    assert r.status == 200
    assert_event_shape(r.json)
    for key in EVENT_KEYS:
        assert r.json[key] == listed["nba-finals"][key], key


def test_get_unknown_event_is_404_event_not_found(live_shared_server):
    assert_error(live_shared_server.get("/events/no-such-event"), 404, "event_not_found")


def test_seat_map_of_nba_finals_lists_100_seats_with_fields(live_shared_server):
    m = seat_map(live_shared_server, "nba-finals")
    assert m["event_id"] == "nba-finals"
    assert m["total_seats"] == 100
    seats = m["seats"]
    assert len(seats) == 100
    ids = [s["id"] for s in seats]
    assert len(set(ids)) == 100, "seat ids must be unique"
    for n in range(1, 11):
        assert f"A{n}" in ids, f"A{n} missing from nba-finals"
    sections = set()
    for s in seats:
        for key in ("id", "section", "row", "number", "price_cents", "status"):
            assert key in s, f"seat missing {key}: {s!r}"
        assert s["status"] in ("available", "held", "sold"), s
        assert type(s["number"]) is int and s["number"] >= 1, s
        assert type(s["price_cents"]) is int and s["price_cents"] >= 0, s
        assert s["id"] == f"{s['row']}{s['number']}", s
        sections.add(s["section"])
    assert len(sections) == 3, f"nba-finals should have 3 sections, got {sections}"
    assert m["available_seats"] == sum(1 for s in seats if s["status"] == "available")


def test_seat_map_of_tech_conference_has_1000_seats(live_shared_server):
    m = seat_map(live_shared_server, "tech-conference")
    assert m["total_seats"] == 1000
    assert len(m["seats"]) == 1000


def test_seat_map_status_filter_returns_only_that_status(live_shared_server):
    srv = live_shared_server
    ev, seats = create_event(srv, make_sections(1, 2, 5))
    r = reserve(srv, ev["id"], seats[3], "filter-user")
    assert r.status == 201, r
    held = seat_map(srv, ev["id"], "held")
    assert [s["id"] for s in held["seats"]] == [seats[3]]
    assert all(s["status"] == "held" for s in held["seats"])
    avail = seat_map(srv, ev["id"], "available")
    assert sorted(s["id"] for s in avail["seats"]) == sorted(set(seats) - {seats[3]})
    assert all(s["status"] == "available" for s in avail["seats"])
    # totals describe the event, not the filtered list
    assert avail["total_seats"] == 10 and avail["available_seats"] == 9
    assert seat_map(srv, ev["id"], "sold")["seats"] == []


def test_seat_map_with_unknown_status_is_422_invalid_request(live_shared_server):
    r = live_shared_server.get("/events/nba-finals/seats?status=reserved")
    assert_error(r, 422, "invalid_request")


def test_seat_map_of_unknown_event_is_404_event_not_found(live_shared_server):
    assert_error(live_shared_server.get("/events/nope/seats"), 404, "event_not_found")


def test_event_counts_follow_holds_and_releases(live_shared_server):
    srv = live_shared_server
    ev, seats = create_event(srv, make_sections(1, 1, 8))
    assert ev["seats_total"] == 8 and ev["seats_available"] == 8
    r = srv.post(f"/events/{ev['id']}/holds", {"user_id": "u", "seat_ids": seats[:3]})
    assert r.status == 201, r
    assert srv.get(f"/events/{ev['id']}").json["seats_available"] == 5
    assert seat_map(srv, ev["id"])["available_seats"] == 5
    assert srv.delete(f"/holds/{r.json['id']}").status == 200
    assert srv.get(f"/events/{ev['id']}").json["seats_available"] == 8


# -- creating events -----------------------------------------------------------

def test_create_event_without_token_is_401_unauthorized(live_shared_server):
    r = live_shared_server.post("/events", event_body(unique_event_id()))
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("auth", ["Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer",
                                  "", "bearer-less"])
def test_create_event_with_wrong_credentials_is_401_unauthorized(live_shared_server, auth):
    eid = unique_event_id()
    r = live_shared_server.post("/events", event_body(eid), headers={"Authorization": auth})
    assert_error(r, 401, "unauthorized")
    assert_error(live_shared_server.get(f"/events/{eid}"), 404, "event_not_found")


def test_create_event_with_token_prefix_is_401(live_shared_server):
    srv = live_shared_server
    r = srv.post("/events", event_body(unique_event_id()),
                 headers={"Authorization": "Bearer " + srv.admin_token[:-1]})
    assert_error(r, 401, "unauthorized")
    r = srv.post("/events", event_body(unique_event_id()),
                 headers={"Authorization": "Bearer " + srv.admin_token + "x"})
    assert_error(r, 401, "unauthorized")


def test_create_event_returns_201_with_defaults_and_seat_ids(live_shared_server):
    srv = live_shared_server
    eid = unique_event_id()
    sections = [{"name": "Floor", "rows": ["A", "B"], "seats_per_row": 20, "price_cents": 12500},
                {"name": "Balcony", "rows": ["C"], "seats_per_row": 5, "price_cents": 4000}]
    r = srv.post("/events", event_body(eid, sections, name="Opening Night", venue="Hall 1"),
                 headers=srv.admin_headers())
    assert r.status == 201, r
    assert_json_content_type(r)
    ev = r.json
    assert_event_shape(ev)
    assert ev["id"] == eid and ev["name"] == "Opening Night" and ev["venue"] == "Hall 1"
    assert ev["seats_total"] == 45 and ev["seats_available"] == 45
    assert ev["hold_ttl_s"] == 600 and ev["max_seats_per_hold"] == 10
    assert srv.get(f"/events/{eid}").json == ev
    m = seat_map(srv, eid)
    by_id = {s["id"]: s for s in m["seats"]}
    assert set(by_id) == {f"{r}{n}" for r in "AB" for n in range(1, 21)} | \
        {f"C{n}" for n in range(1, 6)}
    assert by_id["A20"] == {"id": "A20", "section": "Floor", "row": "A", "number": 20,
                            "price_cents": 12500, "status": "available"}
    assert by_id["C5"]["section"] == "Balcony" and by_id["C5"]["price_cents"] == 4000
    assert eid in {e["id"] for e in srv.get("/events").json["events"]}


def test_create_event_without_id_generates_one(live_shared_server):
    srv = live_shared_server
    body = event_body(None)
    r = srv.post("/events", body, headers=srv.admin_headers())
    assert r.status == 201, r
    eid = r.json["id"]
    assert isinstance(eid, str) and eid
    assert srv.get(f"/events/{eid}").status == 200


def test_create_event_honours_ttl_and_max_seats(live_shared_server):
    srv = live_shared_server
    r = srv.post("/events", event_body(unique_event_id(), hold_ttl_s=86400, max_seats_per_hold=100),
                 headers=srv.admin_headers())
    assert r.status == 201, r
    assert r.json["hold_ttl_s"] == 86400 and r.json["max_seats_per_hold"] == 100
    r = srv.post("/events", event_body(unique_event_id(), hold_ttl_s=1, max_seats_per_hold=1),
                 headers=srv.admin_headers())
    assert r.status == 201, r
    assert r.json["hold_ttl_s"] == 1 and r.json["max_seats_per_hold"] == 1


def test_create_event_normalises_starts_at_to_utc(live_shared_server):
    srv = live_shared_server
    r = srv.post("/events", event_body(unique_event_id(), starts_at="2030-06-01T20:15:00+02:00"),
                 headers=srv.admin_headers())
    assert r.status == 201, r
    assert r.json["starts_at"].endswith("Z")
    got = parse_time(r.json["starts_at"])
    assert (got.year, got.month, got.day, got.hour, got.minute, got.second) == \
        (2030, 6, 1, 18, 15, 0), r.json["starts_at"]


def test_create_event_with_existing_id_is_409_event_exists(live_shared_server):
    srv = live_shared_server
    ev, _ = create_event(srv)
    r = srv.post("/events", event_body(ev["id"]), headers=srv.admin_headers())
    assert_error(r, 409, "event_exists")
    r = srv.post("/events", event_body("nba-finals"), headers=srv.admin_headers())
    assert_error(r, 409, "event_exists")
    assert srv.get("/events/nba-finals").json["seats_total"] == 100


def _bad(**overrides):
    body = event_body(unique_event_id())
    for k, v in overrides.items():
        if v is _DELETE:
            body.pop(k, None)
        else:
            body[k] = v
    return body


_DELETE = object()
_SECTION = {"name": "S", "rows": ["A"], "seats_per_row": 5, "price_cents": 100}

INVALID_EVENTS = [
    ("name", _bad(name=_DELETE)),
    ("name", _bad(name=42)),
    ("venue", _bad(venue=_DELETE)),
    ("venue", _bad(venue=["x"])),
    ("starts_at", _bad(starts_at=_DELETE)),
    ("starts_at", _bad(starts_at="next friday")),
    ("starts_at", _bad(starts_at="2031-13-45T99:00:00Z")),
    ("starts_at", _bad(starts_at=1700000000)),
    ("hold_ttl_s", _bad(hold_ttl_s=0)),
    ("hold_ttl_s", _bad(hold_ttl_s=86401)),
    ("hold_ttl_s", _bad(hold_ttl_s=-1)),
    ("hold_ttl_s", _bad(hold_ttl_s=1.5)),
    ("hold_ttl_s", _bad(hold_ttl_s="600")),
    ("max_seats_per_hold", _bad(max_seats_per_hold=0)),
    ("max_seats_per_hold", _bad(max_seats_per_hold=101)),
    ("max_seats_per_hold", _bad(max_seats_per_hold=2.5)),
    ("sections", _bad(sections=_DELETE)),
    ("sections", _bad(sections="A-Z")),
    ("seats_per_row", _bad(sections=[{**_SECTION, "seats_per_row": -1}])),
    ("seats_per_row", _bad(sections=[{**_SECTION, "seats_per_row": "5"}])),
    ("seats_per_row", _bad(sections=[{**_SECTION, "seats_per_row": 2 ** 70}])),
    ("price_cents", _bad(sections=[{**_SECTION, "price_cents": -1}])),
    ("price_cents", _bad(sections=[{**_SECTION, "price_cents": 9.99}])),
    ("rows", _bad(sections=[{**_SECTION, "rows": "A"}])),
    ("rows", _bad(sections=[{**_SECTION, "rows": [7]}])),
    ("name", _bad(sections=[{k: v for k, v in _SECTION.items() if k != "name"}])),
    ("sections", _bad(sections=[17])),
    ("id", _bad(id=123)),
]


@pytest.mark.parametrize("field,body", INVALID_EVENTS,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(INVALID_EVENTS)])
def test_create_event_with_invalid_field_is_422_naming_the_field(live_shared_server, field, body):
    srv = live_shared_server
    r = srv.post("/events", body, headers=srv.admin_headers())
    err = assert_error(r, 422, "invalid_request")
    assert field in err["message"], f"message should name {field!r}: {err['message']!r}"
    if isinstance(body.get("id"), str):
        assert_error(srv.get(f"/events/{body['id']}"), 404, "event_not_found")


@pytest.mark.parametrize("number", ["1e400", "-1e400", "18446744073709551616",
                                    "-9223372036854775809"])
def test_create_event_with_non_integer_ttl_number_is_422(live_shared_server, number):
    srv = live_shared_server
    eid = unique_event_id()
    raw = ('{"id":"%s","name":"n","venue":"v","starts_at":"2031-01-01T00:00:00Z",'
           '"hold_ttl_s":%s,"sections":[{"name":"S","rows":["A"],"seats_per_row":2,'
           '"price_cents":1}]}' % (eid, number)).encode()
    r = srv.post("/events", raw_body=raw, headers=srv.admin_headers())
    err = assert_error(r, 422, "invalid_request")
    assert "hold_ttl_s" in err["message"], err


def test_create_event_with_duplicate_seat_ids_across_sections_is_422(live_shared_server):
    srv = live_shared_server
    eid = unique_event_id()
    sections = [{"name": "Left", "rows": ["A", "B"], "seats_per_row": 5, "price_cents": 100},
                {"name": "Right", "rows": ["B", "C"], "seats_per_row": 3, "price_cents": 100}]
    r = srv.post("/events", event_body(eid, sections), headers=srv.admin_headers())
    assert_error(r, 422, "invalid_request")
    assert_error(srv.get(f"/events/{eid}"), 404, "event_not_found")


def test_create_event_with_duplicate_rows_in_one_section_is_422(live_shared_server):
    srv = live_shared_server
    eid = unique_event_id()
    sections = [{"name": "Left", "rows": ["A", "A"], "seats_per_row": 5, "price_cents": 100}]
    r = srv.post("/events", event_body(eid, sections), headers=srv.admin_headers())
    assert_error(r, 422, "invalid_request")


def test_create_event_with_200000_seats_is_accepted_and_holdable(live_shared_server):
    srv = live_shared_server
    sections = make_sections(4, 50, 1000)  # 200 rows x 1000 seats
    assert sum(len(s["rows"]) * s["seats_per_row"] for s in sections) == 200_000
    eid = unique_event_id("big")
    r = srv.post("/events", event_body(eid, sections), headers=srv.admin_headers(),
                 timeout=120)
    assert r.status == 201, r
    assert r.json["seats_total"] == 200_000 and r.json["seats_available"] == 200_000
    last = seat_ids_of(sections)[-1]
    h = reserve(srv, eid, last, "big-user")
    assert h.status == 201, h
    held = seat_map(srv, eid, "held")
    assert held["total_seats"] == 200_000 and held["available_seats"] == 199_999
    assert [s["id"] for s in held["seats"]] == [last]
