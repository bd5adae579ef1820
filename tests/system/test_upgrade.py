"""A data directory written by an older tix keeps working: tests/fixtures/tix-schema-v1.db was
made by tix at schema version 1 (event v1-show with seats A1-A3 and B1-B3; alice's hold of A1,
whose times were then moved back a day by hand so that it has lapsed; bob's hold of B1 and B2,
checked out with tok_visa, paid: booking confirmed, seats sold). `tix check` reads it as it is; `tix serve` migrates it to the current
schema at start-up, serves its data, and takes new holds and checkouts on it."""

import shutil
import sqlite3
from pathlib import Path

import pytest

import invariants
from checkoutlib import wait_booking
from tixhttp import reserve, seat_statuses

pytestmark = pytest.mark.sqlite_only(
    reason="an SQLite file written by an older tix; the PostgreSQL schema starts at its own "
           "version 1 (its migrations under the advisory lock are tested in test_pg.py)")

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "tix-schema-v1.db"
ALICE_HOLD = "ce2ae5ea39a3df5c37c4538fa280227c"
BOB_BOOKING = "f268921d221eeec83237fa41835502df"


def user_version(db_path):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


def v1_data_dir(factory):
    d = factory.new_data_dir(seeded=False)
    shutil.copyfile(FIXTURE, d / "tix.db")
    return d


def test_tix_check_reads_a_schema_1_store_without_changing_it(server_factory):
    d = v1_data_dir(server_factory)
    # alice's hold lapsed while no server ran to end it: by default, a stale hold
    stale = invariants.tix_check(d)
    assert stale.returncode == 1 and [k for k, _ in stale.violations] == ["hold_stale"], \
        stale.report()
    # ... and nothing else
    assert stale.of_kind("hold_stale")[0].startswith(f"hold={ALICE_HOLD} "), stale.report()
    assert user_version(d / "tix.db") == 1


def test_serve_migrates_a_schema_1_store_and_keeps_serving_its_data(server_factory):
    d = v1_data_dir(server_factory)
    srv = server_factory.start(data_dir=d)
    # 1 -> 2 (CHECK constraints), 2 -> 3 (the feed), 3 -> 4 (bookings by event)
    assert user_version(srv.db_path) == 4
    for version in (2, 3, 4):
        assert f"schema migrated to version {version}" in srv.output()

    booking = srv.get(f"/bookings/{BOB_BOOKING}")
    assert booking.status == 200, booking
    assert booking.json["status"] == "confirmed" and sorted(booking.json["seat_ids"]) == \
        ["B1", "B2"]
    hold = srv.get(f"/holds/{ALICE_HOLD}")
    assert hold.status == 200 and hold.json["status"] == "expired", hold
    statuses = seat_statuses(srv, "v1-show")
    assert statuses["B1"] == statuses["B2"] == "sold"
    assert statuses["A1"] == "available"  # alice's lapsed hold no longer keeps it

    # new writes on the migrated store: a hold of the seat alice's hold had, a checkout
    r = reserve(srv, "v1-show", "A1", "carol")
    assert r.status == 201, r
    assert reserve(srv, "v1-show", "A1", "dave").status == 409
    co = srv.post(f"/holds/{r.json['id']}/checkout", {"payment_token": "tok_visa"})
    assert co.status == 202, co
    wait_booking(srv, co.json["id"], "confirmed")
    assert seat_statuses(srv, "v1-show")["A1"] == "sold"

    srv.stop_gracefully()
    srv.restart()  # a second start has nothing to migrate
    assert srv.output(last=100000).count("schema migrated") == 3  # 2, 3 and 4, once each
    assert srv.get(f"/bookings/{co.json['id']}").json["status"] == "confirmed"
    srv.stop_gracefully()
    invariants.assert_tix_check_clean(d)
