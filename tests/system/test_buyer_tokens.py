"""Buyer tokens: with one, a buyer cannot hold for, read, release, check out or cancel what
belongs to another buyer; with --require-buyer-token, buyer endpoints need one."""

import time

from tixhttp import assert_error, create_event, hold_seats, make_sections, reserve


def token_for(srv, user, ttl_s=None):
    body = {"user_id": user} if ttl_s is None else {"user_id": user, "ttl_s": ttl_s}
    r = srv.post("/admin/buyer-tokens", body, headers=srv.admin_headers())
    assert r.status == 201, r
    assert r.json["user_id"] == user and r.json["token"].startswith("tixb1.")
    return r.json["token"]


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_only_the_admin_issues_buyer_tokens(server):
    assert_error(server.post("/admin/buyer-tokens", {"user_id": "ann"}), 401, "unauthorized")
    assert_error(server.post("/admin/buyer-tokens", {"user_id": "ann"},
                             headers=bearer(token_for(server, "ann"))), 401, "unauthorized")


def test_a_buyer_token_acts_only_for_its_buyer(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 2, 10), hold_ttl_s=3600)
    ann, bob = token_for(srv, "ann"), token_for(srv, "bob")
    # holding for someone else is refused; for oneself it works
    assert_error(hold_seats(srv, ev["id"], [seats[0]], "bob", headers=bearer(ann)), 403,
                 "forbidden")
    h = hold_seats(srv, ev["id"], [seats[0]], "ann", headers=bearer(ann)).json
    # bob cannot read, release or check out ann's hold
    assert_error(srv.get(f"/holds/{h['id']}", headers=bearer(bob)), 403, "forbidden")
    assert_error(srv.delete(f"/holds/{h['id']}", headers=bearer(bob)), 403, "forbidden")
    assert_error(srv.post(f"/holds/{h['id']}/checkout", {"payment_token": "tok_visa"},
                          headers=bearer(bob)), 403, "forbidden")
    assert srv.get(f"/holds/{h['id']}", headers=bearer(ann)).json["status"] == "active"
    b = srv.post(f"/holds/{h['id']}/checkout", {"payment_token": "tok_visa"},
                 headers=bearer(ann))
    assert b.status == 202, b
    bid = b.json["id"]
    assert_error(srv.get(f"/bookings/{bid}", headers=bearer(bob)), 403, "forbidden")
    assert_error(srv.post(f"/bookings/{bid}/cancel", {}, headers=bearer(bob)), 403, "forbidden")
    assert_error(srv.get("/users/ann/bookings", headers=bearer(bob)), 403, "forbidden")
    assert srv.get("/users/ann/bookings", headers=bearer(ann)).json["bookings"][0]["id"] == bid
    assert srv.get(f"/bookings/{bid}", headers=bearer(ann)).status == 200


def test_bad_and_expired_tokens_are_401(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 1, 10), hold_ttl_s=3600)
    good = token_for(srv, "ann")
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    for tok in (forged, "tixb1.bad", "nonsense", good + "x"):
        assert_error(reserve(srv, ev["id"], seats[0], "ann", headers=bearer(tok)), 401,
                     "invalid_token")
    short = token_for(srv, "ann", ttl_s=1)
    time.sleep(2.1)
    assert_error(reserve(srv, ev["id"], seats[0], "ann", headers=bearer(short)), 401,
                 "invalid_token")
    # without a token (not required by default) buyer endpoints stay open
    assert reserve(srv, ev["id"], seats[0], "ann").status == 201


def test_required_buyer_tokens(server_factory):
    srv = server_factory.start(extra_args=["--require-buyer-token", "1"])
    ev, seats = create_event(srv, make_sections(1, 1, 10), hold_ttl_s=3600)
    assert_error(reserve(srv, ev["id"], seats[0], "ann"), 401, "unauthorized")
    assert reserve(srv, ev["id"], seats[0], "ann", headers=bearer(token_for(srv, "ann"))).status \
        == 201
    # the admin token acts for anyone; public reads need nothing
    assert reserve(srv, ev["id"], seats[1], "zed", headers=srv.admin_headers()).status == 201
    assert srv.get(f"/events/{ev['id']}/seats").status == 200


def test_an_idempotency_key_is_never_replayed_to_another_buyer(server):
    srv = server
    ev, seats = create_event(srv, make_sections(1, 1, 10), hold_ttl_s=3600)
    body = {"event_id": ev["id"], "seat_id": seats[0], "user_id": "ann"}
    first = srv.post("/reserve", body, headers={**bearer(token_for(srv, "ann")),
                                                "Idempotency-Key": "k-tok-1"})
    assert first.status == 201
    other = srv.post("/reserve", body, headers={**bearer(token_for(srv, "bob")),
                                                "Idempotency-Key": "k-tok-1"})
    assert other.status in (403, 422), other  # never ann's 201
    assert other.status != 201


def test_tokens_survive_a_restart_with_the_generated_secret(server):
    srv = server
    tok = token_for(srv, "ann")
    ev, seats = create_event(srv, make_sections(1, 1, 10), hold_ttl_s=3600)
    srv.stop_gracefully()
    srv.restart()
    assert reserve(srv, ev["id"], seats[0], "ann", headers=bearer(tok)).status == 201
    secret = srv.data_dir / "buyer-token-secret"
    assert secret.exists() and (secret.stat().st_mode & 0o777) == 0o600
