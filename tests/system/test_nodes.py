"""Three tix nodes on one PostgreSQL database, behind nginx running deploy/nginx-tix.conf (only
its upstream servers and listen port replaced: nginxlib.py), as docs/DEPLOY.md sets them up:
one data directory (node id) per node, the same admin token and buyer-token secret on all,
X-Forwarded-For trusted, the http payment provider (tests/system/fakes.py) with one base URL
per node so that it sees which node sent each charge.

- 1,000 clients, half through nginx and half straight to a node, on overlapping 1-6-seat sets
  of one 200-seat event: one owner per seat; every 409 names seats an acknowledged hold has,
  or one another node's transaction was taking for a hold that was refused itself (PostgreSQL's
  hold does not wait for a locked seat: docs/DEPLOY.md); the store and `tix check` clean, and
  every node's seat map ends as the store says. The nodes hold the PostgreSQL connections
  docs/DEPLOY.md counts.
- The crash loop (crashlib.py, as test_crash_loop.py) with SIGKILL sent to a random node each
  cycle while clients go on through nginx and straight to each node; the node restarts on the
  same port; after each cycle nothing acknowledged is lost and `tix check` is clean; at the end
  every booking is decided its token's way and charged at most once, whichever nodes took part.
- PostgreSQL away under load through nginx: every node, and nginx, answer 503
  store_unavailable (writes, and reads that need the store); once it is back every node takes
  writes again within seconds; then a plain restart under the same load; nothing acknowledged
  is lost. (test_pg.py has the one-node version.)
- Checkouts started on one node whose node is killed while their charges are at the provider:
  the deliveries' leases name that node; another node takes them once the lease lapses, its
  charge gets the provider's settled answer, and the bookings are confirmed, charged once.
- A live seat stream opened through nginx sees holds and a release made on the other nodes.

Bounds: every wait is bounded; nothing asserts speed (ASan builds on a shared 2-core machine).
"""

import os
import random
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import invariants
import tixstore
from checkoutlib import checkout, make_hold
from crashlib import SETTLE_TIMEOUT_S, Client, History, report, verify_history, wait_settled
from loadgen import HoldLoad, check_race_answers, race_holds
from nginxlib import Nginx, free_port
from sselib import SseStream, seat_entries
from tixhttp import (assert_error, create_event, hold_seats, make_sections, poll,
                     seat_map, wait_for_write)
from tixserver import Endpoint
from tixstore import pg_sh

pytestmark = pytest.mark.pg_only

NODE_NAMES = ("node-a", "node-b", "node-c")
# a charge held at the provider stays in flight (and leased) for a while on a loaded machine;
# a node killed with it loses its lease to the others after --lease-ms
NODE_ARGS = ["--lease-ms", "3000", "--retry-base-ms", "50", "--sweep-interval-ms", "100",
             "--payment-provider", "http", "--payment-timeout-ms", "2000", "--trust-proxy", "1"]
THREADS = 2            # HTTP threads per node (TixServer's default)
SEEN_WITHIN_S = 5.0    # what one node commits is in the others' caches within this
BACK_WITHIN_S = 15.0   # how soon after the database is back every node takes writes again
DELIVERY_BOUND_S = 3.0  # a seat change reaches a viewer: 1 s promised + slack (test_stream.py)
WAIT_S = 20.0

# the crash loop
CYCLES = int(os.environ.get("TIX_NODES_CRASH_CYCLES", "20"))
CLIENTS_VIA_NGINX = 6
CLIENTS_PER_NODE = 3
KILL_AFTER_S = (0.2, 1.0)
DOWN_FOR_S = 0.3  # the other nodes serve on this long before the killed one restarts
SHORT_TTL_S = 1
# what a client may be answered in the crash loop: acknowledged (200, 201, 202), refused (409),
# not now (503: a node stopping or busy), and nginx's 502: for a request whose node died, or
# for every request while every node is out of rotation (a node that failed twice stays out
# for the config's fail_timeout, 5 s, though it restarts within a second or two: three kills
# in a row within 5 s take all three out)
CRASH_LOOP_STATUSES = {200, 201, 202, 409, 502, 503}


class Cluster:
    """Three nodes on one database, each on a fixed port (a node restarts where nginx expects
    it), and nginx in front of them."""

    def __init__(self, factory, base_dir, provider):
        self.provider = provider
        self.admin_token = "adm-" + secrets.token_hex(12)
        secret = secrets.token_hex(32)
        first = factory.new_data_dir(seeded=True)
        dirs = [first]
        for _ in NODE_NAMES[1:]:
            d = factory.new_data_dir(seeded=False)
            tixstore.share_store(first, d)
            dirs.append(d)
        ports = [free_port() for _ in NODE_NAMES]

        def start(i):
            args = NODE_ARGS + ["--listen", f"127.0.0.1:{ports[i]}", "--node-id", NODE_NAMES[i],
                                "--payment-url", f"{provider.url}/via/{NODE_NAMES[i]}",
                                "--buyer-token-secret", secret]
            return factory.start(data_dir=dirs[i], admin_token=self.admin_token,
                                 threads=THREADS, extra_args=args)

        with ThreadPoolExecutor(len(NODE_NAMES)) as pool:
            self.nodes = list(pool.map(start, range(len(NODE_NAMES))))
        assert [n.port for n in self.nodes] == ports
        self.nginx = Nginx(base_dir / "nginx", ports).start()
        self.front = Endpoint(self.nginx.port, self.admin_token)  # nginx

    @property
    def db_path(self):
        return self.nodes[0].db_path

    @property
    def data_dir(self):
        return self.nodes[0].data_dir

    def name_of(self, node):
        return NODE_NAMES[self.nodes.index(node)]

    def wait_event_everywhere(self, event_id):
        for node in self.nodes:
            assert poll(lambda: node.get(f"/events/{event_id}").status == 200, SEEN_WITHIN_S), \
                f"{self.name_of(node)} never saw event {event_id}\n" + node.output(40)

    def wait_seat_maps_match_store(self, event_id):
        """Every node's seat map of EVENT_ID ends as the store says (bounded: the feed)."""
        last = {}
        for node in self.nodes:
            def agrees():
                snap = invariants.snapshot(self.db_path)
                api = seat_map(node, event_id)["seats"]
                last["v"] = invariants.api_seat_map_violations(snap, event_id, api)
                return not last["v"]
            assert poll(agrees, SEEN_WITHIN_S, 0.1), \
                f"{self.name_of(node)}'s seat map differs from the store: {last['v'][:10]}"

    def stop(self):
        self.nginx.stop()

    def report_sections(self):
        """For a failed test's report (conftest.py): nginx's logs."""
        return [("nginx logs", self.nginx.log_tail(60))]


@pytest.fixture
def cluster(server_factory, tmp_path, provider):
    c = Cluster(server_factory, tmp_path, provider)
    yield c
    c.stop()


def metric(node, name):
    """The value of an unlabelled metric of NODE's GET /metrics."""
    r = node.get("/metrics", headers=node.admin_headers())
    assert r.status == 200, r
    for line in r.body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics:\n{r.body.decode()[:2000]}")


def store_connections(db_url):
    """application_name -> connections to DB_URL's database (tix names its own by role)."""
    conn = tixstore.connect_ro(db_url)
    try:
        rows = conn.execute(
            "SELECT application_name, count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'tix-%' "
            "GROUP BY application_name").fetchall()
    finally:
        conn.close()
    return dict(rows)


# -- 1,000 clients on overlapping seats -------------------------------------------------------

def test_1000_clients_across_three_nodes_on_overlapping_seats_never_double_book(cluster):
    # docs/DEPLOY.md: each node holds one connection to write, one per HTTP thread plus one to
    # read (the feed's poller), one to listen
    want = {"tix-writer": 3, "tix-reader": 3 * (THREADS + 1), "tix-listener": 3}
    got = {}

    def counted():
        got.clear()
        got.update(store_connections(cluster.db_path))
        return got == want

    assert poll(counted, WAIT_S), \
        f"connections of 3 nodes with {THREADS} HTTP threads: {got}, want {want}"

    ev, seats = create_event(cluster.front, make_sections(2, 10, 10), hold_ttl_s=3600,
                             max_seats_per_hold=10)  # 200 seats, created through nginx
    eid = ev["id"]
    cluster.wait_event_everywhere(eid)
    n_clients, pool = 1000, 96
    rng = random.Random(20240612)
    wants = [rng.sample(seats, rng.randint(1, 6)) for _ in range(n_clients)]
    # even clients through nginx, odd ones straight to a node in turn
    ports = [cluster.nginx.port if i % 2 == 0 else cluster.nodes[(i // 2) % 3].port
             for i in range(n_clients)]
    results, elapsed = race_holds(eid, wants, ports, pool)
    contended = []
    acked, owner = check_race_answers(results, wants, contended=contended)

    snap = invariants.assert_store_consistent(cluster.db_path)
    invariants.assert_acknowledged_holds_present(cluster.db_path, acked, snap=snap)
    invariants.assert_tix_check_clean(cluster.data_dir)
    event_holds = [h for h in snap.holds if h["event_id"] == eid]
    assert len(event_holds) == len(acked), (
        f"store has {len(event_holds)} holds for the event, API acknowledged {len(acked)}")
    cluster.wait_seat_maps_match_store(eid)
    for node in cluster.nodes:
        api = seat_map(node, eid)
        assert {s["id"] for s in api["seats"] if s["status"] == "held"} == set(owner)
        assert api["available_seats"] == 200 - len(owner)
    # nginx spread its half over every node
    via = {port for _, port, _ in cluster.nginx.requests("POST", f"/events/{eid}/holds")}
    assert via == {n.port for n in cluster.nodes}, \
        f"nginx sent holds to {sorted(via)} only, of {[n.port for n in cluster.nodes]}"
    print(f"1000 holds over 3 nodes in {elapsed:.1f}s: {len(acked)} acknowledged, "
          f"{len(owner)} seats held, {len(contended)} seats refused while contended")


# -- the crash loop, a random node killed each cycle -----------------------------------------

def test_crash_loop_killing_a_random_node_each_cycle_loses_nothing_acknowledged(cluster,
                                                                                 request):
    seed = int(os.environ.get("TIX_CRASH_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    first = cluster.nodes[0]
    big, big_seats = create_event(first, make_sections(4, 20, 50))  # 4,000 seats, 600 s holds
    short, short_seats = create_event(first, make_sections(1, 4, 25), hold_ttl_s=SHORT_TTL_S)
    for ev in (big, short):
        cluster.wait_event_everywhere(ev["id"])
    events = [(big["id"], big_seats), (short["id"], short_seats)]
    history = History()
    started = time.monotonic()
    kills = {name: 0 for name in NODE_NAMES}
    for cycle in range(CYCLES):
        stop = threading.Event()
        ports = [cluster.nginx.port] * CLIENTS_VIA_NGINX + \
            [n.port for n in cluster.nodes for _ in range(CLIENTS_PER_NODE)]
        clients = [Client(i, port, events, history, stop, random.Random(rng.random()), cycle)
                   for i, port in enumerate(ports)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(*KILL_AFTER_S))
        victim = rng.choice(cluster.nodes)
        victim.kill9()
        kills[cluster.name_of(victim)] += 1
        time.sleep(DOWN_FOR_S)  # the others serve on; nginx sends around the dead node
        stop.set()
        for c in clients:
            c.join(30)
            assert not c.is_alive(), "a client thread hung after the kill"
        victim.restart()
        reader = cluster.nodes[cycle % 3]  # read back through each node in turn
        with history.lock:
            problems, history.problems = history.problems, []
        problems += verify_history(reader, history, rng, cycle)
        check = invariants.tix_check(cluster.data_dir)
        if check.returncode != 0:
            problems.append("tix check is not clean:\n" + check.report())
        assert not problems, (
            f"after kill {cycle + 1} ({cluster.name_of(victim)}, seed {seed}), {len(problems)} "
            "problem(s):\n  " + "\n  ".join(problems[:25]) + "\n" + victim.output(60))

    for node in cluster.nodes:
        assert wait_settled(node, SETTLE_TIMEOUT_S), \
            f"bookings pending or lapsed holds not swept {SETTLE_TIMEOUT_S}s after the last " \
            f"restart (seed {seed})\n" + node.output(60)
    for node in cluster.nodes:  # the whole history, through every node
        problems = verify_history(node, history, rng, final=True)
        assert not problems, f"at the end, through {cluster.name_of(node)} (seed {seed}):\n  " \
            + "\n  ".join(problems[:25])
    snap = invariants.assert_checkout_consistent(cluster.db_path)
    invariants.assert_tix_check_clean(cluster.data_dir)

    # the provider charged each booking at most once, and every confirmed one exactly once
    provider = cluster.provider
    assert not provider.violations, provider.violations[:5]
    charged = {st.key for st in provider.key_states("charge") if st.performed}
    assert all(st.performed <= 1 for st in provider.key_states("charge"))
    confirmed = {b["id"] for b in snap.bookings if b["payment_id"]}
    odd = sorted(charged ^ confirmed)
    assert not odd, "charged at the provider xor paid in the store:\n  " + "\n  ".join(
        f"{bid}: {snap.bookings_by_id.get(bid)} outbox {snap.outbox_types(bid)} "
        f"charges {provider.requests_of('charge', bid)}" for bid in odd[:5])
    with history.lock:
        statuses = dict(history.statuses)
        acked = dict(history.acked)
        sent = history.sent
    summary = (f"crash loop on 3 nodes: {CYCLES} cycles, seed {seed}, kills {kills}, {sent} "
               f"requests, acknowledged {acked}, statuses {statuses}, "
               f"{time.monotonic() - started:.1f} s")
    report(request, summary)
    assert set(statuses) <= CRASH_LOOP_STATUSES, summary
    assert acked["hold"] > CYCLES and acked["checkout"] > 0 and acked["release"] > 0, summary
    via = {r["via"] for r in provider.requests_of("charge")}
    assert len(via) >= 2, f"charges came from {via} only: " + summary


# -- PostgreSQL away, and restarted, under load through nginx -----------------------------------

def test_postgresql_away_and_restarted_under_load_every_node_recovers(cluster, cluster_dir):
    front = cluster.front
    ev, seats = create_event(cluster.nodes[1], make_sections(4, 50, 100), hold_ttl_s=3600)
    eid = ev["id"]
    cluster.wait_event_everywhere(eid)
    probe_seats, load_seats = seats[:200], seats[200:]
    before = [hold_seats(node, eid, [probe_seats[i]], f"before-{i}").json
              for i, node in enumerate(cluster.nodes)]
    probes = iter(probe_seats[3:])
    load = HoldLoad(front.port, eid, load_seats, workers=6, pause_after_503_s=0.05).start()
    after = []
    try:
        assert load.wait_for_acks(30, 30) >= 30, "no load before the database went away"
        pg_sh("down", cluster_dir)
        try:
            for node in cluster.nodes + [front]:
                r = hold_seats(node, eid, [next(probes)], "away")
                assert_error(r, 503, "store_unavailable")
                assert r.headers.get("Retry-After"), r.headers
                # a read the store must answer: refused the same way, on every node and
                # through nginx (which tries each node in turn)
                read = node.get(f"/holds/{before[0]['id']}")
                assert_error(read, 503, "store_unavailable")
                # what memory serves goes on
                assert node.get(f"/events/{eid}/seats").status == 200
            for node in cluster.nodes:
                assert node.get("/healthz").status == 503
            # buyers' pages go on asking through nginx while it is away: each answer is still
            # tix's 503 (a node's 503 is no reason for nginx to stop sending it requests)
            for i in range(6):
                read = front.get(f"/holds/{before[i % 3]['id']}")
                assert_error(read, 503, "store_unavailable")
                time.sleep(0.15)  # the load keeps coming while it is away
            r = hold_seats(front, eid, [next(probes)], "away")
            assert_error(r, 503, "store_unavailable")
            assert all(n.running() for n in cluster.nodes), "a node exited"
        finally:
            pg_sh("up", cluster_dir)
        for node in cluster.nodes + [front]:
            got = wait_for_write(node, eid, [next(probes) for _ in range(20)], "after",
                                 BACK_WITHIN_S)
            assert got, f"no write succeeded through {node.port} within {BACK_WITHIN_S}s of " \
                "the database's return\n" + cluster.nginx.log_tail()
            after.append(got)
        acked_at = load.acked_count()
        assert load.wait_for_acks(acked_at + 30, BACK_WITHIN_S) >= acked_at + 30, \
            "the load did not go on once the database was back\n" + cluster.nginx.log_tail()
        pg_sh("restart", cluster_dir)
        acked_at = load.acked_count()
        assert load.wait_for_acks(acked_at + 30, BACK_WITHIN_S) >= acked_at + 30, \
            "the load did not go on after a restart\n" + cluster.nginx.log_tail()
    finally:
        load.stop()
    assert not load.unexpected, f"answers other than 201 and 503: {load.unexpected[:5]}\n" \
        + cluster.nginx.log_tail()
    assert load.transport_errors == 0, load.transport_errors
    for node in cluster.nodes:
        assert node.get("/healthz").status == 200
        got = node.get(f"/holds/{before[0]['id']}")
        assert got.status == 200 and got.json["status"] == "active", got
    snap = invariants.assert_store_consistent(cluster.db_path)
    invariants.assert_acknowledged_holds_present(cluster.db_path, before + after + load.acked,
                                                 snap=snap)
    invariants.assert_tix_check_clean(cluster.data_dir)
    cluster.wait_seat_maps_match_store(eid)


# -- a checkout whose node is killed is paid by another --------------------------------------

def test_a_checkout_whose_node_is_killed_is_paid_by_another_node(cluster, provider):
    a, b, c = cluster.nodes
    ev, seats = create_event(a, make_sections(1, 2, 10))
    eid = ev["id"]
    cluster.wait_event_everywhere(eid)
    gate = threading.Event()
    provider.gates["tok_gated"] = gate  # every charge of it waits: in flight until the kill
    holds = [make_hold(a, eid, [seats[i]], f"buyer-{i}") for i in range(6)]
    bookings = []
    for h in holds:
        r = checkout(a, h["id"], token="tok_gated")
        assert r.status == 202, r
        bookings.append(r.json)
    assert poll(lambda: any(r["via"] == "node-a" for r in provider.requests_of("charge")), WAIT_S), \
        f"no charge from node-a: {provider.requests_of('charge')}"
    on_a = {r["key"] for r in provider.requests_of("charge") if r["via"] == "node-a"}
    # the leases carry the node's id: what node-a is charging is leased to it in the store
    snap = invariants.checkout_snapshot(a.db_path)
    leased = {d["aggregate_id"]: d for d in snap.deliveries if d["subscriber_id"] == "payment"}
    for key in on_a:
        d = leased.get(key)
        assert d and d["status"] == "pending" and d["lease_owner"] == "node-a", d
    a.kill9()
    gate.set()

    for bk in bookings:
        def confirmed(node=b):
            got = node.get(f"/bookings/{bk['id']}")
            return got.status == 200 and got.json["status"] == "confirmed" and got.json
        final = poll(confirmed, WAIT_S, 0.1)
        assert final, f"booking {bk['id']} not confirmed {WAIT_S}s after node-a was killed: " \
            f"{b.get('/bookings/' + bk['id']).body!r}\n" + b.output(40)
        assert final["payment_id"] == provider.settled_id("charge", bk["id"]), final
        assert c.get(f"/bookings/{bk['id']}").json["status"] == "confirmed"
    for key in on_a:
        st = provider.charge(key)
        assert st.performed == 1, st
        later = [r["via"] for r in provider.requests_of("charge", key) if r["via"] != "node-a"]
        assert later, f"booking {key}: no other node asked for its charge " \
            f"{provider.requests_of('charge', key)}"
        assert set(later) <= {"node-b", "node-c"}, later
    assert not provider.violations, provider.violations
    for node in (b, c):
        assert poll(lambda: {s["id"] for s in seat_map(node, eid, "sold")["seats"]} ==
                    set(seats[:6]), SEEN_WITHIN_S)
    invariants.assert_checkout_consistent(b.db_path)
    invariants.assert_tix_check_clean(b.data_dir)
    # node-a comes back: nothing of it is charged again
    a.restart()
    time.sleep(0.5)
    assert all(provider.charge(k).performed == 1 for k in on_a)


# -- a live stream through nginx --------------------------------------------------------------

def test_a_stream_through_nginx_sees_holds_made_on_the_other_nodes(cluster):
    ev, seats = create_event(cluster.nodes[0], make_sections(1, 2, 10))
    eid = ev["id"]
    cluster.wait_event_everywhere(eid)
    st = SseStream(cluster.nginx.port, f"/events/{eid}/stream")
    try:
        assert st.status == 200 and st.headers.get("content-type") == "text/event-stream", \
            (st.status, st.headers, st.body[:300])
        st.wait(lambda fs: fs[:1], DELIVERY_BOUND_S, "the first frame")
        serving = poll(lambda: [n for n in cluster.nodes if metric(n, "tix_streams_open") == 1],
                       WAIT_S)
        assert len(serving) == 1, [metric(n, "tix_streams_open") for n in cluster.nodes]
        others = [n for n in cluster.nodes if n is not serving[0]]
        one = hold_seats(others[0], eid, seats[:2], "viewer-test-1")
        two = hold_seats(others[1], eid, seats[2:3], "viewer-test-2")
        assert one.status == 201 and two.status == 201, (one, two)

        def statuses(entries):
            return {seat["id"]: seat["status"] for _, seat in entries}

        st.wait_seats(lambda es: all(statuses(es).get(s) == "held" for s in seats[:3]),
                      DELIVERY_BOUND_S, "the holds made on the other nodes")
        # released on the third node: the stream sees the seats free again
        assert serving[0].delete(f"/holds/{one.json['id']}").status == 200
        st.wait_seats(lambda es: all(statuses(es).get(s) == "available" for s in seats[:2]),
                      DELIVERY_BOUND_S, "the release")
        assert statuses(seat_entries(st.snapshot())).get(seats[2]) == "held"
    finally:
        st.close()
