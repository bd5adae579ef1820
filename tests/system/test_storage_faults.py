"""Storage faults: a commit that the disk did not make durable is a failed commit, answered
503 store_unavailable, and never turns into a success later (not even after a crash); reads go
on while writes fail; and tix recovers by itself, without a restart, once the disk is back.

Faults come from the test-only fault VFS (`tix serve --test-fault-dir DIR`, or
TIX_TEST_FAULT_DIR): while DIR/fail-fsync exists every fsync of the store fails, while
DIR/fail-write exists every write does. Disk full is real: a 3 MiB tmpfs as the data dir,
filled with a filler file (the tests run as root in CI; without the right to mount they fail,
they do not skip)."""

import os
import sqlite3
import subprocess

import pytest

import invariants
from tixhttp import (assert_error, assert_json_content_type, create_event, hold_seats, make_sections, poll, reserve,
                     seat_statuses)

pytestmark = pytest.mark.sqlite_only(
    reason="faults of the embedded store's own files (the fault VFS, a full tmpfs under "
           "DIR/tix.db); PostgreSQL's faults (the server restarted, lost connections) are in "
           "test_pg.py")


def fault_server(factory, fault_dir, via_env=False, **kw):
    """A fresh (unseeded) server whose store goes through the fault VFS watching FAULT_DIR."""
    fault_dir.mkdir(exist_ok=True)
    if via_env:
        return factory.start(seeded=False, env={"TIX_TEST_FAULT_DIR": str(fault_dir)}, **kw)
    return factory.start(seeded=False, extra_args=["--test-fault-dir", str(fault_dir)], **kw)


def store_seat(db_path, event_id, seat_id):
    conn = invariants.connect_ro(db_path)
    try:
        return conn.execute("SELECT status, hold_seq FROM seats WHERE event_id = ? AND seat_id = ?",
                            (event_id, seat_id)).fetchone()
    finally:
        conn.close()


def store_holds_of_user(db_path, user_id):
    conn = invariants.connect_ro(db_path)
    try:
        return conn.execute("SELECT id, status FROM holds WHERE user_id = ?",
                            (user_id,)).fetchall()
    finally:
        conn.close()


def assert_acked_holds_present(srv, acked):
    """Every acknowledged hold is in the store with its seats and, through the API, too."""
    invariants.assert_acknowledged_holds_present(srv.db_path, acked, expect_status=None)
    for hold in acked:
        r = srv.get(f"/holds/{hold['id']}")
        assert r.status == 200 and sorted(r.json["seat_ids"]) == sorted(hold["seat_ids"]), \
            f"acknowledged hold {hold['id']}: GET -> {r.status} {r.body[:300]!r}"


def assert_not_taken(srv, event_id, seat_id, user_id):
    """The seat a refused request asked for is free in the API and in the store, and the
    refused request left no hold behind."""
    assert seat_statuses(srv, event_id)[seat_id] == "available"
    assert store_seat(srv.db_path, event_id, seat_id) == ("available", None)
    assert store_holds_of_user(srv.db_path, user_id) == []


# -- (a) fsync and write failures -----------------------------------------------------------------

def test_a_failing_fsync_is_a_failed_commit_never_a_success(server_factory, tmp_path):
    faults = tmp_path / "faults"
    srv = fault_server(server_factory, faults)
    ev, seats = create_event(srv, make_sections(1, 2, 10))
    eid = ev["id"]
    acked = []
    for i in range(3):
        r = reserve(srv, eid, seats[i], f"before-{i}")
        assert r.status == 201, r
        acked.append(r.json)
    assert srv.get("/healthz").status == 200

    (faults / "fail-fsync").touch()
    r = reserve(srv, eid, seats[5], "during")
    assert_error(r, 503, "store_unavailable")
    assert r.header("Retry-After"), "a 503 says when to retry"
    assert_error(hold_seats(srv, eid, seats[6:8], "during-multi"), 503, "store_unavailable")
    assert_error(srv.get("/healthz"), 503, "store_unavailable")
    assert seat_statuses(srv, eid)[seats[5]] == "available"
    assert srv.get(f"/events/{eid}").status == 200, "reads go on while commits fail"

    (faults / "fail-fsync").unlink()
    assert_not_taken(srv, eid, seats[5], "during")
    assert_not_taken(srv, eid, seats[6], "during-multi")
    r = reserve(srv, eid, seats[5], "during")  # the same request, no restart
    assert r.status == 201, r
    acked.append(r.json)
    assert srv.get("/healthz").status == 200
    assert_acked_holds_present(srv, acked)
    invariants.assert_store_consistent(srv.db_path)
    invariants.assert_tix_check_clean(srv.data_dir)


def test_a_write_failure_is_a_failed_commit_and_the_env_variable_arms_the_shim(server_factory,
                                                                             tmp_path):
    faults = tmp_path / "faults"
    srv = fault_server(server_factory, faults, via_env=True)
    ev, seats = create_event(srv, make_sections(1, 1, 10))
    eid = ev["id"]
    first = hold_seats(srv, eid, seats[:2], "first")
    assert first.status == 201, first

    (faults / "fail-write").touch()
    assert_error(hold_seats(srv, eid, seats[2:4], "refused"), 503, "store_unavailable")
    assert_error(srv.delete(f"/holds/{first.json['id']}"), 503, "store_unavailable")
    (faults / "fail-write").unlink()

    assert_not_taken(srv, eid, seats[2], "refused")
    assert srv.get(f"/holds/{first.json['id']}").json["status"] == "active", \
        "a release answered 503 did not happen"
    assert hold_seats(srv, eid, seats[2:4], "refused").status == 201
    assert srv.delete(f"/holds/{first.json['id']}").status == 200
    invariants.assert_tix_check_clean(srv.data_dir)


def test_a_commit_refused_by_fsync_does_not_come_back_after_a_crash(server_factory, tmp_path):
    """The failed commit's frames are in the WAL file; a crash before the next commit must
    not let WAL recovery bring them back. A reader holds a snapshot meanwhile, so that the
    failed commit is appended to the WAL (a checkpointed WAL would be restarted instead)."""
    faults = tmp_path / "faults"
    srv = fault_server(server_factory, faults)
    ev, seats = create_event(srv, make_sections(1, 2, 10))
    eid = ev["id"]
    ok = reserve(srv, eid, seats[0], "kept")
    assert ok.status == 201, ok
    reader = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM holds").fetchone()
        (faults / "fail-fsync").touch()
        assert_error(hold_seats(srv, eid, seats[1:4], "refused"), 503, "store_unavailable")
        srv.kill9()
    finally:
        reader.close()
    (faults / "fail-fsync").unlink()
    srv.restart()
    for seat in seats[1:4]:
        assert_not_taken(srv, eid, seat, "refused")
    assert_acked_holds_present(srv, [ok.json])
    invariants.assert_tix_check_clean(srv.data_dir)


# -- (b) disk full --------------------------------------------------------------------------------

TMPFS_SIZE = "3m"
HEADROOM_BYTES = 256 * 1024  # left free after the filler: a few commits' worth of WAL


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 3 MiB tmpfs, unmounted at teardown (after the servers using it stopped: list this
    fixture before server_factory)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0700", "tmpfs",
                         str(mnt)], capture_output=True, text=True)
    if cp.returncode != 0:
        pytest.fail(f"cannot mount a {TMPFS_SIZE} tmpfs on {mnt} (the disk-full test needs root "
                    f"or CAP_SYS_ADMIN): {cp.stderr.strip() or cp.returncode}", pytrace=False)
    yield mnt
    for args in (["umount", str(mnt)], ["umount", "-l", str(mnt)]):
        if subprocess.run(args, capture_output=True).returncode == 0:
            break


def fill(path, size):
    """Write SIZE bytes (or as many as fit) to PATH; returns how many were written."""
    written = 0
    chunk = b"\0" * 65536
    with open(path, "wb") as f:
        try:
            while written < size:
                n = f.write(chunk[:min(len(chunk), size - written)])
                f.flush()
                written += n
        except OSError:
            pass
    return written


def test_disk_full_fails_writes_keeps_reads_and_recovers_without_restart(small_tmpfs,
                                                                         server_factory):
    data = small_tmpfs / "data"
    srv = server_factory.start(data_dir=data, extra_args=["--sweep-interval-ms", "100"])
    ev, seats = create_event(srv, make_sections(2, 5, 20), hold_ttl_s=3600)  # 200 seats
    eid = ev["id"]
    filler = small_tmpfs / "filler"
    written = fill(filler, free_bytes(small_tmpfs) - HEADROOM_BYTES)
    assert written > 0 and free_bytes(small_tmpfs) <= HEADROOM_BYTES + 65536, \
        f"the filler took {written} bytes, {free_bytes(small_tmpfs)} left"

    acked, refused = [], []
    next_seat = iter(range(len(seats)))
    for i in next_seat:
        r = reserve(srv, eid, seats[i], f"fill-{i}")
        if r.status == 201:
            acked.append(r.json)
            continue
        assert_error(r, 503, "store_unavailable")
        assert_json_content_type(r)
        refused.append(seats[i])
        break
    assert refused, f"{len(acked)} holds fit in {HEADROOM_BYTES} bytes: the disk never filled"
    assert acked, "not one hold fit before the disk filled: the headroom is too small"

    # while writes fail: more writes are refused the same way, reads go on
    fill(small_tmpfs / "filler2", free_bytes(small_tmpfs))  # whatever a checkpoint freed
    for i in [next(next_seat) for _ in range(3)]:
        r = reserve(srv, eid, seats[i], f"full-{i}")
        if r.status == 201:  # a commit that fit in WAL space already there
            acked.append(r.json)
        else:
            assert_error(r, 503, "store_unavailable")
            refused.append(seats[i])
    assert srv.get("/events").status == 200
    assert srv.get(f"/events/{eid}").status == 200
    assert seat_statuses(srv, eid)[seats[0]] == "held"
    assert srv.get(f"/holds/{acked[0]['id']}").status == 200
    assert_error(srv.get("/healthz"), 503, "store_unavailable")

    # space again: tix recovers by itself
    filler.unlink()
    (small_tmpfs / "filler2").unlink()
    again = {}

    def write_works():
        i = next(next_seat)
        r = reserve(srv, eid, seats[i], f"after-{i}")
        if r.status == 201:
            again["hold"] = r.json
        return r.status == 201

    assert poll(write_works, 5.0, 0.2), "no 201 within 5 s of freeing space\n" + srv.output(40)
    acked.append(again["hold"])
    assert srv.get("/healthz").status == 200
    for seat in refused:
        assert seat_statuses(srv, eid)[seat] == "available", f"refused seat {seat} is taken"
    assert_acked_holds_present(srv, acked)
    invariants.assert_store_consistent(srv.db_path)
    invariants.assert_tix_check_clean(srv.data_dir)

    # and after a restart (a crash, even), everything acknowledged is still there
    srv.kill9()
    srv.restart()
    assert_acked_holds_present(srv, acked)
    for seat in refused:
        assert store_seat(srv.db_path, eid, seat) == ("available", None), seat
    invariants.assert_tix_check_clean(srv.data_dir)
    srv.stop_gracefully()
    invariants.assert_tix_check_clean(data)
