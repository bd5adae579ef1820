"""GET /metrics: the Prometheus text format (promtool check metrics passes on it), admin
only on the API's port, without a token on --metrics-listen; requests, holds and bookings by
outcome, the writer, fsync, the bus, dead letters, seats per event and the process, with the
values the traffic made."""

import re
import shutil
import subprocess

import pytest

import tixstore

from checkoutlib import FAST_BUS_ARGS, book, register_webhook, wait_booking
from tixhttp import create_event, http_request, poll, reserve
from tixserver import run_tix

METRICS_RE = re.compile(r"metrics served on ([0-9.]+):(\d+)")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def promtool():
    path = shutil.which("promtool")
    if not path:
        pytest.fail("promtool is missing: scripts/deps-ops.sh installs Debian's prometheus "
                    "package (make test runs it)", pytrace=False)
    return path


def scrape(srv, port=None, admin=True):
    headers = srv.admin_headers() if admin else {}
    r = http_request(port or srv.port, "GET", "/metrics", headers=headers)
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.headers
    return r.body.decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def check_with_promtool(text):
    cp = subprocess.run([promtool(), "check", "metrics"], input=text, capture_output=True,
                        text=True, timeout=60)
    assert cp.returncode == 0, f"promtool check metrics:\n{cp.stdout}\n{cp.stderr}"
    assert cp.stdout.strip() == "" and cp.stderr.strip() == "", (cp.stdout, cp.stderr)


def metrics_port(srv):
    for line in srv.lines:
        m = METRICS_RE.search(line)
        if m:
            return int(m.group(2))
    raise AssertionError("no 'metrics served on' line\n" + srv.output())


def test_metrics_need_the_admin_token_on_the_api_port(live_shared_server):
    r = live_shared_server.get("/metrics")
    assert r.status == 401 and r.json["error"]["code"] == "unauthorized", r
    r = live_shared_server.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert r.status == 401, r


def test_traffic_shows_in_the_metrics_and_promtool_accepts_them(server_factory):
    srv = server_factory.start(extra_args=FAST_BUS_ARGS)
    before = samples(scrape(srv))
    ev, seats = create_event(srv)
    eid = ev["id"]
    assert reserve(srv, eid, seats[0]).status == 201
    for _ in range(3):
        assert reserve(srv, eid, seats[0], user_id="late").status == 409
    assert srv.delete(f"/holds/{reserve(srv, eid, seats[1]).json['id']}").status == 200
    hold, booking = book(srv, eid, seats[2:4])
    wait_booking(srv, booking["id"], {"confirmed"})
    _, failed = book(srv, eid, seats[4:5], token="tok_chargeDeclined")
    wait_booking(srv, failed["id"], {"payment_failed"})
    text = scrape(srv)
    check_with_promtool(text)
    after = samples(text)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    assert delta('tix_holds_total{outcome="created"}') == 4
    assert delta('tix_holds_total{outcome="released"}') == 2  # one by hand, one payment failed
    assert delta('tix_holds_total{outcome="seat_unavailable"}') == 3
    assert delta('tix_bookings_total{outcome="checkout_started"}') == 2
    assert delta('tix_bookings_total{outcome="confirmed"}') == 1
    assert delta('tix_bookings_total{outcome="payment_failed"}') == 1
    assert delta('tix_http_requests_total{route="/reserve",method="POST",status="409"}') == 3
    assert delta('tix_http_requests_total{route="/reserve",method="POST",status="201"}') == 2
    assert delta('tix_http_requests_total{route="/holds/{hold_id}",method="DELETE",'
                 'status="200"}') == 1
    assert delta('tix_http_request_duration_seconds_count{route="/reserve"}') == 5
    # a histogram's buckets are cumulative and end with its count
    inf = after['tix_http_request_duration_seconds_bucket{route="/reserve",le="+Inf"}']
    assert inf == after['tix_http_request_duration_seconds_count{route="/reserve"}']
    assert after['tix_http_request_duration_seconds_sum{route="/reserve"}'] > 0
    assert delta('tix_bus_deliveries_total{subscriber="payment",outcome="delivered"}') >= 2
    assert delta("tix_writer_batch_commands_count") >= 6
    assert delta('tix_writer_batches_total{outcome="committed"}') >= 6
    if not tixstore.on_pg():  # on PostgreSQL the server syncs its WAL, tix syncs nothing
        assert delta("tix_store_fsync_duration_seconds_count") >= 1
    assert after[f'tix_seats{{event="{eid}",status="held"}}'] == 1
    assert after[f'tix_seats{{event="{eid}",status="sold"}}'] == 2
    assert after[f'tix_seats{{event="{eid}",status="available"}}'] == len(seats) - 3
    assert after['tix_seats{event="nba-finals",status="available"}'] == 100
    assert after["tix_process_resident_memory_bytes"] > 1 << 20
    assert after["tix_process_cpu_seconds_total"] > 0
    assert after["tix_http_connections_open"] >= 1  # the scrape's own
    assert after["tix_streams_open"] == 0
    assert after["tix_dead_letters"] == 0
    for family in ("tix_writer_queue_depth", "tix_writer_commit_duration_seconds",
                   "tix_process_open_fds", "tix_process_start_time_seconds"):
        assert f"# TYPE {family} " in text


def test_a_dead_letter_shows_in_the_gauge(server_factory):
    srv = server_factory.start(extra_args=FAST_BUS_ARGS + ["--max-attempts", "1"])
    register_webhook(srv, "http://127.0.0.1:9/nobody-listens", ["HoldCreated"])
    ev, seats = create_event(srv)
    assert reserve(srv, ev["id"], seats[0]).status == 201
    assert poll(lambda: samples(scrape(srv)).get("tix_dead_letters") == 1, 15), scrape(srv)
    text = scrape(srv)
    check_with_promtool(text)
    failed = [k for k, v in samples(text).items()
              if k.startswith('tix_bus_deliveries_total{subscriber="wh_') and
              k.endswith('outcome="failed"}') and v >= 1]
    assert failed, text


def test_metrics_listen_serves_them_without_a_token_and_nothing_else(server_factory):
    srv = server_factory.start(extra_args=["--metrics-listen", "127.0.0.1:0"])
    port = metrics_port(srv)
    text = scrape(srv, port=port, admin=False)
    check_with_promtool(text)
    assert "# TYPE tix_http_requests_total counter" in text
    r = http_request(port, "GET", "/events")
    assert r.status == 404 and r.json["error"]["code"] == "not_found", r
    r = http_request(port, "POST", "/metrics", {})
    assert r.status == 405 and r.header("Allow") == "GET, HEAD", r
    # the API's port still wants the token
    assert srv.get("/metrics").status == 401


def test_metrics_listen_through_the_environment(server_factory):
    srv = server_factory.start(env={"TIX_METRICS_LISTEN": "127.0.0.1:0"})
    scrape(srv, port=metrics_port(srv), admin=False)


@pytest.mark.parametrize("args, message", [
    (["--metrics-listen", "nowhere"], "--metrics-listen 'nowhere' is not HOST:PORT"),
    (["--metrics-listen", "127.0.0.1:99999"], "is not HOST:PORT"),
    (["--log-format", "xml"], "--log-format 'xml' is not text or json"),
    (["--log-level", "loud"], "--log-level 'loud' is not debug, info, warn or error"),
])
def test_bad_operations_options_are_usage_errors(tmp_path, args, message):
    cp = run_tix(["serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0", *args],
                 timeout=30)
    assert cp.returncode == 2, (cp.returncode, cp.stderr)
    assert message in cp.stderr, cp.stderr


def test_a_metrics_port_that_cannot_be_bound_stops_the_start(server_factory, tmp_path):
    srv = server_factory.start()
    cp = run_tix(["serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0",
                  "--metrics-listen", f"127.0.0.1:{srv.port}"], timeout=30)
    assert cp.returncode == 1, (cp.returncode, cp.stderr)
    assert "--metrics-listen: cannot listen on 127.0.0.1" in cp.stderr, cp.stderr
