"""The organiser's view: GET /admin/events/{id}/stats (seats by status, holds active and in
checkout, bookings by status, revenue of confirmed bookings, confirmed sales per minute over
the last hour) and the page at /admin that shows it."""

from datetime import datetime, timedelta, timezone

from checkoutlib import FAST_BUS_ARGS, book, make_hold, new_event, wait_booking
from tixhttp import parse_time


def stats(srv, event_id):
    r = srv.get(f"/admin/events/{event_id}/stats", headers=srv.admin_headers())
    assert r.status == 200, r
    return r.json


def test_stats_follow_the_sale(server_factory):
    srv = server_factory.start(extra_args=FAST_BUS_ARGS)
    eid, seats, prices = new_event(srv, rows=2, seats_per_row=5, sections=2, price_cents=5000)
    empty = stats(srv, eid)
    assert empty["seats"] == {"total": 20, "available": 20, "held": 0, "sold": 0}
    assert empty["holds"] == {"active": 0, "checkout": 0}
    assert empty["bookings"] == {"pending_payment": 0, "confirmed": 0, "payment_failed": 0,
                                 "cancelled": 0}
    assert empty["revenue_cents"] == 0
    assert len(empty["sales_per_minute"]) == 60
    assert all(m["seats"] == 0 for m in empty["sales_per_minute"])

    _, paid = book(srv, eid, seats[0:3])
    _, paid2 = book(srv, eid, seats[10:11])
    _, declined = book(srv, eid, seats[3:4], token="tok_chargeDeclined")
    make_hold(srv, eid, seats[5:7])
    wait_booking(srv, paid["id"], {"confirmed"})
    wait_booking(srv, paid2["id"], {"confirmed"})
    wait_booking(srv, declined["id"], {"payment_failed"})
    s = stats(srv, eid)
    assert s["event_id"] == eid
    assert s["seats"] == {"total": 20, "available": 14, "held": 2, "sold": 4}
    assert s["holds"] == {"active": 1, "checkout": 0}
    assert s["bookings"] == {"pending_payment": 0, "confirmed": 2, "payment_failed": 1,
                             "cancelled": 0}
    revenue = sum(prices[x] for x in seats[0:3]) + prices[seats[10]]
    assert s["revenue_cents"] == revenue
    minutes = s["sales_per_minute"]
    assert len(minutes) == 60
    starts = [parse_time(m["minute"]) for m in minutes]
    assert all(b - a == timedelta(minutes=1) for a, b in zip(starts, starts[1:]))
    assert all(t.second == 0 and t.microsecond == 0 for t in starts)
    now = parse_time(s["generated_at"])
    assert starts[-1] <= now < starts[-1] + timedelta(minutes=1)
    # the confirmations happened within the last two minutes (the test may cross a minute)
    assert sum(m["seats"] for m in minutes[-2:]) == 4
    assert sum(m["bookings"] for m in minutes[-2:]) == 2
    assert sum(m["revenue_cents"] for m in minutes) == revenue
    # a cancellation frees the seats and leaves the confirmed figures
    r = srv.post(f"/bookings/{paid2['id']}/cancel")
    assert r.status == 200, r
    after = stats(srv, eid)
    assert after["bookings"]["confirmed"] == 1 and after["bookings"]["cancelled"] == 1
    assert after["revenue_cents"] == revenue - prices[seats[10]]
    assert after["seats"]["sold"] == 3 and after["seats"]["available"] == 15


def test_stats_need_the_admin_token_and_a_known_event(live_shared_server):
    srv = live_shared_server
    r = srv.get("/admin/events/nba-finals/stats")
    assert r.status == 401 and r.json["error"]["code"] == "unauthorized", r
    r = srv.get("/admin/events/no-such-event/stats", headers=srv.admin_headers())
    assert r.status == 404 and r.json["error"]["code"] == "event_not_found", r
    r = srv.post("/admin/events/nba-finals/stats", {}, headers=srv.admin_headers())
    assert r.status == 405 and r.header("Allow") == "GET, HEAD", r
    assert stats(srv, "nba-finals")["seats"]["total"] == 100


def test_the_organiser_page_and_its_files_are_served_under_the_page_policy(live_shared_server):
    srv = live_shared_server
    r = srv.get("/admin")
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8", r
    csp = r.header("Content-Security-Policy") or ""
    assert "default-src 'self'" in csp, csp
    page = r.body.decode()
    assert '<script src="/assets/admin.js"' in page and "/assets/admin.css" in page
    assert "<script>" not in page and "style=" not in page  # the policy forbids inline ones
    js = srv.get("/assets/admin.js")
    assert js.status == 200 and js.header("Content-Type").startswith("text/javascript")
    body = js.body.decode()
    assert "/admin/events/" in body and "/stats" in body and "sessionStorage" in body
    assert "http://" not in body.replace("http://www.w3.org/2000/svg", "")  # nothing remote
    css = srv.get("/assets/admin.css")
    assert css.status == 200 and css.header("Content-Type").startswith("text/css")
