"""--max-seats-per-user: how many seats one buyer may hold at once in an event, across holds
(default 10). Beyond it: 429 limit_exceeded. Released and expired holds free the quota."""

import time

from tixhttp import assert_error, create_event, hold_seats, make_sections, poll, reserve


def test_a_buyer_holds_at_most_ten_seats_of_an_event_by_default(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=3600)
    assert hold_seats(srv, ev["id"], seats[0:6], "ann").status == 201
    assert hold_seats(srv, ev["id"], seats[6:10], "ann").status == 201
    r = reserve(srv, ev["id"], seats[10], "ann")
    assert_error(r, 429, "limit_exceeded")
    # nothing of the refused hold was kept: the seat is free for someone else
    assert reserve(srv, ev["id"], seats[10], "bob").status == 201
    # another event has its own quota
    assert reserve(srv, "nba-finals", "A1", "ann").status == 201


def test_releasing_a_hold_frees_the_buyers_quota(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=3600)
    first = hold_seats(srv, ev["id"], seats[0:10], "cat").json
    assert_error(hold_seats(srv, ev["id"], seats[10:12], "cat"), 429, "limit_exceeded")
    assert srv.delete(f"/holds/{first['id']}").status == 200
    assert hold_seats(srv, ev["id"], seats[10:12], "cat").status == 201


def test_an_expired_hold_frees_the_buyers_quota(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=1)
    assert hold_seats(srv, ev["id"], seats[0:10], "dan").status == 201
    assert_error(reserve(srv, ev["id"], seats[10], "dan"), 429, "limit_exceeded")
    time.sleep(1.1)
    assert poll(lambda: reserve(srv, ev["id"], seats[10], "dan").status == 201, 3)


def test_concurrent_holds_of_one_buyer_never_pass_the_limit(server):
    import threading
    srv = server
    ev, seats = create_event(srv, make_sections(1, 5, 10), hold_ttl_s=3600)
    statuses = []
    barrier = threading.Barrier(20)

    def one(i):
        barrier.wait()
        statuses.append(reserve(srv, ev["id"], seats[i], "eve").status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses.count(201) == 10 and statuses.count(429) == 10, statuses
    held = srv.get(f"/events/{ev['id']}/seats?status=held").json["seats"]
    assert len(held) == 10


def test_the_limit_is_configurable_and_0_turns_it_off(server_factory):
    srv = server_factory.start(extra_args=["--max-seats-per-user", "0"])
    ev, seats = create_event(srv, make_sections(1, 3, 10), hold_ttl_s=3600)
    for i in range(3):
        assert hold_seats(srv, ev["id"], seats[i * 10:(i + 1) * 10], "fay").status == 201
    srv2 = server_factory.start(extra_args=["--max-seats-per-user", "2"])
    ev2, seats2 = create_event(srv2, make_sections(1, 1, 10), hold_ttl_s=3600)
    assert hold_seats(srv2, ev2["id"], seats2[0:2], "gus").status == 201
    assert_error(reserve(srv2, ev2["id"], seats2[2], "gus"), 429, "limit_exceeded")
