"""`tix loadtest`: the flash-sale simulator against a real server.

The load tester checks its own invariants over the API; these tests check it
from outside: its exit status, the counts it prints, the seat map and the
bookings of its buyers read independently over HTTP, and its SVG report.
"""

import re
import socket
import xml.etree.ElementTree as ET

from tixserver import SANITIZER_RE, run_tix
from tixhttp import create_event, make_sections, seat_map

SVG_NS = "{http://www.w3.org/2000/svg}"
RUN_TIMEOUT_S = 90  # a run below takes a few seconds under ASan; the bound is for hangs


def loadtest(server, event_id, *args, timeout=RUN_TIMEOUT_S):
    return run_tix(["loadtest", "--url", f"http://127.0.0.1:{server.port}",
                    "--event", event_id, *args], timeout=timeout)


def output_of(cp):
    return f"exit {cp.returncode}\n--- stdout\n{cp.stdout}\n--- stderr\n{cp.stderr[-3000:]}"


def summary_number(stdout, pattern):
    m = re.search(pattern, stdout, re.MULTILINE)
    assert m, f"summary has no line matching {pattern!r}:\n{stdout}"
    return int(m.group(1))


def assert_no_sanitizer_report(cp):
    bad = [l for l in cp.stderr.splitlines() if SANITIZER_RE.search(l)]
    assert not bad, "sanitizer report from tix loadtest:\n" + cp.stderr[-5000:]


def bookings_of_run(server, run_id, buyers):
    """Every booking made by the run's buyers (user ids lt-<run id>-<n>), over HTTP."""
    found = []
    for n in range(buyers):
        r = server.get(f"/users/lt-{run_id}-{n}/bookings")
        assert r.status == 200, r
        found.extend(r.json["bookings"])
    return found


def event_of(server, seats):
    """A fresh event with `seats` seats (rows of 20), created with the admin token."""
    sections = make_sections(2, seats // 40, 20)
    event, seat_ids = create_event(server, sections=sections, max_seats_per_hold=4)
    assert len(seat_ids) == seats
    return event["id"]


def test_loadtest_sells_each_seat_once_and_reports_what_the_api_shows(server, tmp_path):
    event_id = event_of(server, 200)
    report = tmp_path / "run.svg"
    cp = loadtest(server, event_id, "--buyers", "150", "--seats-per-buyer", "3",
                  "--report", str(report))
    assert_no_sanitizer_report(cp)
    assert cp.returncode == 0, output_of(cp)
    out = cp.stdout
    assert "result: invariants hold" in out, output_of(cp)
    assert "VIOLATED" not in out and "NOT CHECKED" not in out, output_of(cp)
    assert re.search(r"no seat sold twice\s+ok", out), out
    assert re.search(r"sold seats == seats of the run's confirmed bookings\s+ok", out), out

    done = summary_number(out, r"^  buyers done\s+(\d+) of 150")
    confirmed = summary_number(out, r"^  confirmed\s+(\d+) \(")
    confirmed_seats = summary_number(out, r"^  confirmed\s+\d+ \((\d+) seats\)")
    gave_up = summary_number(out, r"^  gave up: no seats\s+(\d+)")
    errors = summary_number(out, r"^  errors\s+(\d+)")
    assert done == 150, out
    assert errors == 0, out
    assert 0 < confirmed <= 150 and confirmed_seats <= 200, out
    assert confirmed + gave_up == 150, "every buyer with tok_visa either books or gives up\n" + out

    # Independently: the sold seats are exactly the seats of the run's confirmed bookings.
    run_id = re.search(r"run id ([0-9a-f]{8})", out).group(1)
    bookings = bookings_of_run(server, run_id, 150)
    confirmed_bookings = [b for b in bookings if b["status"] == "confirmed"]
    assert len(confirmed_bookings) == confirmed, (len(confirmed_bookings), out)
    booked = [s for b in confirmed_bookings for s in b["seat_ids"]]
    assert len(booked) == len(set(booked)), "a seat is in two confirmed bookings"
    sold = {s["id"] for s in seat_map(server, event_id, status="sold")["seats"]}
    assert sold == set(booked)
    assert len(sold) == confirmed_seats

    tree = ET.parse(report)  # well-formed XML
    root = tree.getroot()
    assert root.tag == SVG_NS + "svg", root.tag
    assert not list(root.iter(SVG_NS + "script")), "the report must not contain scripts"
    text = " ".join("".join(t.itertext()) for t in root.iter(SVG_NS + "text"))
    for title in ("seat map latency", "hold latency", "checkout latency",
                  "booking until final", "throughput", "holds/s", "confirmed/s"):
        assert title in text, f"SVG lacks {title!r}: {text[:500]}"
    assert len(list(root.iter(SVG_NS + "rect"))) > 10, "no histogram bars drawn"


def test_loadtest_with_declined_payments_sells_nothing(server):
    event_id = event_of(server, 40)
    cp = loadtest(server, event_id, "--buyers", "30", "--token", "tok_chargeDeclined",
                  "--concurrency", "8")
    assert_no_sanitizer_report(cp)
    assert cp.returncode == 0, output_of(cp)
    assert summary_number(cp.stdout, r"^  confirmed\s+(\d+) \(") == 0, cp.stdout
    assert summary_number(cp.stdout, r"^  payment failed\s+(\d+)") > 0, cp.stdout
    assert seat_map(server, event_id, status="sold")["seats"] == []


def test_loadtest_on_an_event_with_sold_seats_only_checks_what_it_can(server):
    event_id = event_of(server, 40)
    first = loadtest(server, event_id, "--buyers", "10", "--concurrency", "4")
    assert first.returncode == 0, output_of(first)
    second = loadtest(server, event_id, "--buyers", "10", "--concurrency", "4", "--seed", "2")
    assert_no_sanitizer_report(second)
    assert second.returncode == 0, output_of(second)
    assert "ALREADY SOLD" in second.stdout, second.stdout
    assert re.search(r"no seat sold twice\s+ok", second.stdout), second.stdout
    assert "sold seats == seats of the run's confirmed bookings" not in second.stdout


def test_loadtest_exits_1_when_the_server_is_unreachable(tix_bin):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cp = run_tix(["loadtest", "--url", f"http://127.0.0.1:{port}", "--buyers", "5",
                  "--event", "nba-finals"], timeout=60)
    assert cp.returncode == 1, output_of(cp)
    assert "cannot reach" in cp.stderr, output_of(cp)


def test_loadtest_exits_1_for_an_unknown_event(server):
    cp = loadtest(server, "no-such-event", "--buyers", "5")
    assert cp.returncode == 1, output_of(cp)
    assert "not found" in cp.stderr, output_of(cp)


def test_loadtest_usage_errors_exit_2_naming_the_problem(tix_bin):
    cases = [
        (["loadtest", "--event", "x", "--buyers", "1"], "--url"),
        (["loadtest", "--url", "http://127.0.0.1:1", "--buyers", "1"], "--event"),
        (["loadtest", "--url", "http://127.0.0.1:1", "--event", "x"], "--buyers"),
        (["loadtest", "--url", "ftp://h", "--event", "x", "--buyers", "1"], "--url"),
        (["loadtest", "--url", "http://h", "--event", "x", "--buyers", "10000001"], "--buyers"),
        (["loadtest", "--url", "http://h", "--event", "x", "--buyers", "1",
          "--concurrency", "4097"], "--concurrency"),
        (["loadtest", "--url", "http://h", "--event", "a/b", "--buyers", "1"], "--event"),
    ]
    for args, named in cases:
        cp = run_tix(args, timeout=20)
        assert cp.returncode == 2, (args, output_of(cp))
        assert named in cp.stderr, (args, output_of(cp))
    help_cp = run_tix(["loadtest", "--help"])
    assert help_cp.returncode == 0
    for flag in ("--url", "--buyers", "--event", "--duration", "--concurrency",
                 "--seats-per-buyer", "--token", "--report", "--seed"):
        assert flag in help_cp.stdout, flag
