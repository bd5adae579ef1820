"""The tix command line: help, version, usage errors, seed, env configuration."""

import collections
import concurrent.futures
import secrets

import pytest

import invariants
import tixstore
from tixserver import TixServer, run_tix, seed_data_dir
from tixhttp import create_event, reserve

SEEDED = {"nba-finals": 100, "tech-conference": 1000, "stadium-tour": 50000}


def output_of(cp):
    return cp.stdout + cp.stderr


def test_help_exits_0_and_lists_the_commands(tix_bin):
    cp = run_tix(["--help"])
    assert cp.returncode == 0, output_of(cp)
    text = output_of(cp)
    for word in ("serve", "seed", "migrate", "version"):
        assert word in text, f"`tix --help` should mention {word!r}:\n{text}"


def test_serve_help_exits_0_and_lists_the_flags(tix_bin):
    cp = run_tix(["serve", "--help"])
    assert cp.returncode == 0, output_of(cp)
    text = output_of(cp)
    for flag in ("--listen", "--data", "--admin-token", "--threads", "--sweep-interval-ms",
                 "--max-body-bytes"):
        assert flag in text, f"`tix serve --help` should mention {flag}:\n{text}"


def test_version_exits_0_and_prints_a_version(tix_bin):
    cp = run_tix(["version"])
    assert cp.returncode == 0, output_of(cp)
    assert cp.stdout.strip(), "`tix version` printed nothing on stdout"
    assert any(ch.isdigit() for ch in cp.stdout), cp.stdout


def test_unknown_command_exits_2_naming_it(tix_bin):
    cp = run_tix(["frobnicate"])
    assert cp.returncode == 2, (cp.returncode, output_of(cp))
    assert "frobnicate" in output_of(cp)


@pytest.mark.parametrize("args,name", [
    (["serve", "--bogus-flag"], "--bogus-flag"),
    (["seed", "--no-such-option", "x"], "--no-such-option"),
    (["--what"], "--what"),
])
def test_unknown_flag_exits_2_naming_it(tix_bin, tmp_path, args, name):
    cp = run_tix(args, timeout=20)
    assert cp.returncode == 2, (cp.returncode, output_of(cp))
    assert name in output_of(cp), output_of(cp)


def test_seed_twice_gives_the_same_three_events_without_duplicates(tmp_path, server_factory):
    data = tmp_path / "twice"
    data.mkdir()
    seed_data_dir(data)
    seed_data_dir(data)
    srv = server_factory.start(data_dir=data)
    events = srv.get("/events").json["events"]
    ids = [e["id"] for e in events]
    assert sorted(ids) == sorted(SEEDED), f"expected exactly the seeded events, got {ids}"
    for e in events:
        assert e["seats_total"] == SEEDED[e["id"]], e
        assert e["seats_available"] == SEEDED[e["id"]], e
    srv.stop_gracefully()
    snap = invariants.snapshot(srv.db_path)
    per_event = collections.Counter(s["event_id"] for s in snap.seats)
    assert dict(per_event) == SEEDED, per_event
    created = collections.Counter(o["event_id"] for o in snap.outbox
                                  if o["type"] == "EventCreated")
    assert all(n <= 1 for n in created.values()), f"duplicate EventCreated rows: {created}"


def test_migrate_makes_the_schema_and_is_safe_to_run_again(tmp_path):
    data = tmp_path / "migrated"
    for _ in range(2):
        cp = run_tix(["migrate", *tixstore.store_args(data)])
        assert cp.returncode == 0, output_of(cp)
        assert "is at this tix's schema" in cp.stdout, output_of(cp)
    invariants.assert_tix_check_clean(data)
    cp = run_tix(["migrate", "--no-such-option"])
    assert cp.returncode == 2 and "--no-such-option" in output_of(cp), output_of(cp)


def test_a_store_url_tix_has_no_backend_for_is_refused_without_its_password(tmp_path):
    cp = run_tix(["migrate", "--data", str(tmp_path / "d"), "--store",
                  "mysql://user:s3cret@db.invalid/tix"])
    assert cp.returncode == 1, output_of(cp)
    assert "mysql://" in output_of(cp) and "s3cret" not in output_of(cp), output_of(cp)


def test_seed_again_keeps_existing_holds_and_events(server_factory):
    srv = server_factory.start()
    hold = reserve(srv, "nba-finals", "A4", "keeper").json
    ev, _ = create_event(srv)
    srv.stop_gracefully()
    seed_data_dir(srv.data_dir)
    srv.restart()
    got = srv.get(f"/holds/{hold['id']}")
    assert got.status == 200 and got.json["status"] == "active", got
    assert srv.get(f"/events/{ev['id']}").status == 200
    assert len(srv.get("/events").json["events"]) == 4


def test_serve_reads_its_configuration_from_environment(server_factory, tmp_path):
    data = server_factory.new_data_dir(seeded=True)
    token = "env-" + secrets.token_hex(8)
    srv = TixServer(data, admin_token=token, use_env_config=True)
    server_factory.servers.append(srv)
    srv.start()
    srv.assert_healthy()
    assert srv.get("/events/nba-finals").status == 200, "TIX_DATA not honoured"
    ev, _ = create_event(srv)  # uses TIX_ADMIN_TOKEN
    assert ev["seats_total"] == 20
    r = srv.post("/events", {"name": "x"}, headers={"Authorization": "Bearer other"})
    assert r.status == 401
    srv.stop_gracefully()


@pytest.mark.parametrize("threads", [1, 2])
def test_serve_starts_without_warnings(server_factory, threads):
    """A plain start logs nothing at WARN or above (libmicrohttpd warned about a thread pool
    of 0 at every --threads 1 start)."""
    srv = server_factory.start(threads=threads)
    srv.assert_healthy()
    noisy = [line for line in srv.output(last=100000).splitlines()
             if " WARN " in line or " ERROR " in line]
    assert not noisy, "\n".join(noisy)


def test_batch_gather_beyond_its_limit_exits_2_naming_it(tix_bin, tmp_path):
    cp = run_tix(["serve", "--data", str(tmp_path / "d"), "--batch-gather-us", "100001"],
                 timeout=20)
    assert cp.returncode == 2, (cp.returncode, output_of(cp))
    assert "--batch-gather-us" in output_of(cp) and "100000" in output_of(cp), output_of(cp)


@pytest.mark.parametrize("gather_us", ["0", "100000"])
def test_holds_commit_with_any_batch_gathering(server_factory, gather_us):
    """With gathering off (0: each batch takes what is queued) or at its longest (100 ms), a
    burst of concurrent holds on distinct seats all succeed and all are in the store."""
    srv = server_factory.start(extra_args=["--batch-gather-us", gather_us])
    ev, seats = create_event(srv)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(seats)) as pool:
        results = list(pool.map(lambda i: reserve(srv, ev["id"], seats[i], f"g{i}"),
                                range(len(seats))))
    assert [r.status for r in results] == [201] * len(seats), [r.status for r in results]
    invariants.assert_tix_check_clean(srv.data_dir)
