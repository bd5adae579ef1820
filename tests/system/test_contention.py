"""Many clients racing for the same seats: one winner per seat, never two."""

import http.client
import json
import random
import threading

import invariants
from loadgen import check_race_answers, race_holds
from tixhttp import Response, create_event, make_sections, seat_map

BARRIER_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 60


def test_100_clients_racing_for_one_seat_get_exactly_one_201(server):
    ev, seats = create_event(server, make_sections(1, 1, 5))
    eid, seat = ev["id"], seats[2]
    n = 100
    barrier = threading.Barrier(n)
    results = [None] * n

    def client(i):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.connect()
            body = json.dumps({"event_id": eid, "seat_id": seat, "user_id": f"racer-{i}"})
            barrier.wait(BARRIER_TIMEOUT_S)
            conn.request("POST", "/reserve", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            results[i] = Response(resp.status, resp.headers, resp.read())
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            results[i] = e
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(BARRIER_TIMEOUT_S + REQUEST_TIMEOUT_S + 10)
    errors = [r for r in results if not isinstance(r, Response)]
    assert not errors, f"{len(errors)} clients failed: {errors[:5]}"
    statuses = [r.status for r in results]
    winners = [r for r in results if r.status == 201]
    losers = [r for r in results if r.status == 409]
    assert len(winners) == 1, f"expected exactly one 201, got statuses {sorted(statuses)}"
    assert len(losers) == n - 1, f"expected {n - 1} x 409, got statuses {sorted(statuses)}"
    for r in losers:
        assert r.json["error"]["code"] == "seat_unavailable", r
    hold = winners[0].json
    assert hold["seat_ids"] == [seat]
    assert server.get(f"/holds/{hold['id']}").json["user_id"] == hold["user_id"]
    held = seat_map(server, eid, "held")["seats"]
    assert [s["id"] for s in held] == [seat]
    snap = invariants.assert_store_consistent(server.db_path)
    invariants.assert_acknowledged_holds_present(server.db_path, [hold], snap=snap)
    invariants.assert_tix_check_clean(server.data_dir)
    assert sum(1 for h in snap.holds if h["event_id"] == eid) == 1, "losers left holds behind"


def test_1000_clients_holding_random_overlapping_seats_never_double_book(server):
    sections = make_sections(2, 10, 10)  # 200 seats
    ev, seats = create_event(server, sections, hold_ttl_s=3600, max_seats_per_hold=10)
    eid = ev["id"]
    n_clients, pool = 1000, 64
    rng = random.Random(20240611)
    wants = [rng.sample(seats, rng.randint(1, 6)) for _ in range(n_clients)]
    results, elapsed = race_holds(eid, wants, [server.port] * n_clients, pool)
    acked, owner = check_race_answers(results, wants)

    snap = invariants.assert_store_consistent(server.db_path)
    invariants.assert_acknowledged_holds_present(server.db_path, acked, snap=snap)
    invariants.assert_tix_check_clean(server.data_dir)
    event_holds = [h for h in snap.holds if h["event_id"] == eid]
    assert len(event_holds) == len(acked), (
        f"store has {len(event_holds)} holds for the event, API acknowledged {len(acked)}")

    api = seat_map(server, eid)
    invariants.assert_api_matches_store(snap, eid, api["seats"])
    api_held = {s["id"] for s in api["seats"] if s["status"] == "held"}
    assert api_held == set(owner)
    assert api["available_seats"] == 200 - len(owner)
    assert server.get(f"/events/{eid}").json["seats_available"] == 200 - len(owner)
    print(f"1000 holds in {elapsed:.1f}s: {len(acked)} acknowledged, "
          f"{len(owner)} seats held")
