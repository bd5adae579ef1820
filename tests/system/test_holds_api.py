"""POST /reserve, POST /events/{id}/holds, GET /holds/{id}, DELETE /holds/{id}."""

import re
import secrets

import pytest

import invariants
from tixhttp import (assert_error, assert_hold_shape, assert_json_content_type, create_event,
                     hold_seats, make_sections, parse_time, reserve, seat_statuses)


@pytest.fixture
def event(live_shared_server):
    """A fresh 20-seat event (rows A, B x 10 seats; max 4 seats per hold)."""
    ev, seats = create_event(live_shared_server, make_sections(1, 2, 10),
                             hold_ttl_s=900, max_seats_per_hold=4)
    return ev["id"], seats


# -- POST /reserve ------------------------------------------------------------------

def test_reserve_returns_201_with_an_active_single_seat_hold(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    r = reserve(srv, eid, "A1", "alice")
    assert r.status == 201, r
    assert_json_content_type(r)
    h = assert_hold_shape(r.json, event_id=eid, user_id="alice", seat_ids=["A1"],
                          status="active")
    ttl = (parse_time(h["expires_at"]) - parse_time(h["created_at"])).total_seconds()
    assert 899 <= ttl <= 901, f"expires_at - created_at should be hold_ttl_s=900, got {ttl}"
    assert seat_statuses(srv, eid)["A1"] == "held"


def test_reserve_on_seeded_event_works(live_shared_server):
    r = reserve(live_shared_server, "nba-finals", "A7", "seeded-user")
    assert r.status == 201, r
    assert_hold_shape(r.json, event_id="nba-finals", seat_ids=["A7"], status="active")


def test_reserve_of_a_held_seat_is_409_seat_unavailable(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    assert reserve(srv, eid, "A2", "alice").status == 201
    assert_error(reserve(srv, eid, "A2", "bob"), 409, "seat_unavailable")
    assert_error(reserve(srv, eid, "A2", "alice"), 409, "seat_unavailable")


def test_reserve_unknown_event_is_404_event_not_found(live_shared_server):
    assert_error(reserve(live_shared_server, "no-such-event", "A1"), 404, "event_not_found")


def test_reserve_unknown_seat_is_404_seat_not_found(live_shared_server, event):
    eid, _ = event
    assert_error(reserve(live_shared_server, eid, "Z99", "u"), 404, "seat_not_found")
    assert_error(reserve(live_shared_server, eid, "a1", "u"), 404, "seat_not_found")


@pytest.mark.parametrize("field", ["event_id", "seat_id", "user_id"])
def test_reserve_without_a_field_is_422_naming_it(live_shared_server, event, field):
    eid, _ = event
    body = {"event_id": eid, "seat_id": "B1", "user_id": "u"}
    del body[field]
    err = assert_error(live_shared_server.post("/reserve", body), 422, "invalid_request")
    assert field in err["message"], err


@pytest.mark.parametrize("field,value", [("event_id", 5), ("seat_id", ["B1"]),
                                         ("user_id", None), ("user_id", {"id": 1}),
                                         ("seat_id", True), ("user_id", 1.5)])
def test_reserve_with_wrongly_typed_field_is_422_naming_it(live_shared_server, event, field,
                                                           value):
    eid, _ = event
    body = {"event_id": eid, "seat_id": "B1", "user_id": "u", field: value}
    err = assert_error(live_shared_server.post("/reserve", body), 422, "invalid_request")
    assert field in err["message"], err
    assert seat_statuses(live_shared_server, eid)["B1"] == "available"


# -- POST /events/{id}/holds ----------------------------------------------------------

def test_multi_seat_hold_returns_201_holding_all_seats(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    r = hold_seats(srv, eid, ["A1", "A2", "B10"], "carol")
    assert r.status == 201, r
    assert_hold_shape(r.json, event_id=eid, user_id="carol", seat_ids=["A1", "A2", "B10"],
                      status="active")
    st = seat_statuses(srv, eid)
    assert st["A1"] == st["A2"] == st["B10"] == "held"
    assert sum(1 for s in st.values() if s == "held") == 3


def test_multi_seat_hold_is_all_or_nothing_and_names_taken_seats(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    assert hold_seats(srv, eid, ["A3", "A4"], "dave").status == 201
    r = hold_seats(srv, eid, ["A5", "A4", "A6", "A3"], "erin")
    err = assert_error(r, 409, "seat_unavailable")
    assert sorted(err.get("seat_ids", [])) == ["A3", "A4"], err
    st = seat_statuses(srv, eid)
    assert st["A5"] == "available" and st["A6"] == "available", "partial hold left behind"
    assert hold_seats(srv, eid, ["A5", "A6"], "erin").status == 201


def test_hold_of_more_than_max_seats_is_422_too_many_seats(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    assert_error(hold_seats(srv, eid, ["B1", "B2", "B3", "B4", "B5"], "u"), 422,
                 "too_many_seats")
    assert all(s == "available" for s in seat_statuses(srv, eid).values())
    assert hold_seats(srv, eid, ["B1", "B2", "B3", "B4"], "u").status == 201


def test_hold_with_empty_seat_list_is_422_invalid_request(live_shared_server, event):
    eid, _ = event
    assert_error(hold_seats(live_shared_server, eid, [], "u"), 422, "invalid_request")


def test_hold_with_duplicate_seat_ids_is_422_invalid_request(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    assert_error(hold_seats(srv, eid, ["B6", "B6"], "u"), 422, "invalid_request")
    assert seat_statuses(srv, eid)["B6"] == "available"


def test_hold_with_unknown_seat_is_404_seat_not_found_and_holds_nothing(live_shared_server,
                                                                          event):
    srv = live_shared_server
    eid, _ = event
    assert_error(hold_seats(srv, eid, ["B7", "Q1"], "u"), 404, "seat_not_found")
    assert seat_statuses(srv, eid)["B7"] == "available"


def test_hold_on_unknown_event_is_404_event_not_found(live_shared_server):
    assert_error(hold_seats(live_shared_server, "no-such-event", ["A1"], "u"), 404,
                 "event_not_found")


@pytest.mark.parametrize("body,field", [
    ({"seat_ids": ["A1"]}, "user_id"),
    ({"user_id": "u"}, "seat_ids"),
    ({"user_id": "u", "seat_ids": "A1"}, "seat_ids"),
    ({"user_id": "u", "seat_ids": [1, 2]}, "seat_ids"),
    ({"user_id": "u", "seat_ids": [None]}, "seat_ids"),
    ({"user_id": 7, "seat_ids": ["A1"]}, "user_id"),
])
def test_hold_with_missing_or_wrongly_typed_field_is_422_naming_it(live_shared_server, event,
                                                                   body, field):
    eid, _ = event
    err = assert_error(live_shared_server.post(f"/events/{eid}/holds", body), 422,
                       "invalid_request")
    assert field in err["message"], err


def test_seeded_event_allows_a_multi_seat_hold(live_shared_server):
    r = hold_seats(live_shared_server, "tech-conference", ["A1", "A2"], "conf-user")
    assert r.status == 201, r


# -- GET /holds/{id} ----------------------------------------------------------------

def test_get_hold_returns_the_hold(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    created = hold_seats(srv, eid, ["A7", "A8"], "frank").json
    r = srv.get(f"/holds/{created['id']}")
    assert r.status == 200
    assert_json_content_type(r)
    assert_hold_shape(r.json, event_id=eid, user_id="frank", seat_ids=["A7", "A8"],
                      status="active")
    for key in ("id", "created_at", "expires_at"):
        assert r.json[key] == created[key]


def test_get_unknown_hold_is_404_hold_not_found(live_shared_server):
    assert_error(live_shared_server.get(f"/holds/{secrets.token_hex(16)}"), 404,
                 "hold_not_found")
    assert live_shared_server.get("/holds/not-a-hold-id").status == 404


def test_hold_ids_are_distinct_hex_made_of_the_creation_time_and_80_random_bits(
        live_shared_server):
    srv = live_shared_server
    ev, seats = create_event(srv, make_sections(1, 3, 10))
    holds = []
    for i, seat in enumerate(seats):
        r = reserve(srv, ev["id"], seat, f"idgen-{i}")  # one buyer may hold 10 seats at once
        assert r.status == 201, r
        holds.append(r.json)
    ids = [h["id"] for h in holds]
    assert len(set(ids)) == len(seats)
    for h in holds:
        assert re.fullmatch(r"[0-9a-f]{32}", h["id"]), h["id"]
        # 12 hex digits of milliseconds since 1970: new holds go to the end of the id index
        created_ms = round(parse_time(h["created_at"]).timestamp() * 1000)
        assert int(h["id"][:12], 16) == created_ms, h
    times = [i[:12] for i in ids]
    assert times == sorted(times), "holds made one after another sort by id (to the ms)"
    # 80 random bits: across 30 ids, any 8 of those digits differ
    assert len({i[12:20] for i in ids}) == len(ids)
    assert len({i[24:32] for i in ids}) == len(ids)


# -- DELETE /holds/{id} -------------------------------------------------------------

def test_release_frees_the_seats_at_once_for_another_user(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    h = hold_seats(srv, eid, ["B8", "B9"], "gina").json
    r = srv.delete(f"/holds/{h['id']}")
    assert r.status == 200, r
    rel = assert_hold_shape(r.json, seat_ids=["B8", "B9"], status="released")
    assert rel["id"] == h["id"]
    if "released_at" in rel:
        parse_time(rel["released_at"])
    st = seat_statuses(srv, eid)
    assert st["B8"] == st["B9"] == "available"
    assert srv.get(f"/holds/{h['id']}").json["status"] == "released"
    again = hold_seats(srv, eid, ["B9", "B8"], "hank")
    assert again.status == 201, again
    assert again.json["user_id"] == "hank"


def test_releasing_twice_is_409_hold_not_active(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    h = reserve(srv, eid, "A9", "ivan").json
    assert srv.delete(f"/holds/{h['id']}").status == 200
    assert_error(srv.delete(f"/holds/{h['id']}"), 409, "hold_not_active")
    # the second DELETE must not release the seat's new holder
    assert reserve(srv, eid, "A9", "judy").status == 201
    assert_error(srv.delete(f"/holds/{h['id']}"), 409, "hold_not_active")
    assert seat_statuses(srv, eid)["A9"] == "held"


def test_release_unknown_hold_is_404_hold_not_found(live_shared_server):
    assert_error(live_shared_server.delete(f"/holds/{secrets.token_hex(16)}"), 404,
                 "hold_not_found")


def test_release_writes_outbox_rows_and_keeps_store_consistent(live_shared_server, event):
    srv = live_shared_server
    eid, _ = event
    h = reserve(srv, eid, "A10", "kim").json
    assert srv.delete(f"/holds/{h['id']}").status == 200
    snap = invariants.assert_store_consistent(srv.db_path)
    types = sorted(r["type"] for r in snap.outbox if r["aggregate_id"] == h["id"])
    assert types == ["HoldCreated", "HoldReleased"], types
    invariants.assert_acknowledged_holds_present(srv.db_path, [h], expect_status="released",
                                                 snap=snap)
    seat = snap.seats_by_key[(eid, "A10")]
    assert seat["status"] == "available", seat
