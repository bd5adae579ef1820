"""Crash loop: a mixed load (holds of one and several seats, releases, checkouts paid and
declined, cancels) from 16 client threads while the server is killed with SIGKILL at a random
moment (0.2-1.0 s into each run), 20 times, restarting on the same data dir each time.

Every acknowledged response is kept in a history. After each restart: every acknowledged hold
is there with its seats and a status its history allows; every acknowledged checkout has its
booking; every acknowledged cancel stuck; and `tix check` is clean. That is checked for the
whole history in the store (one read), and through the API (GET /holds/{id}, GET
/bookings/{id}) for everything the last run touched plus a sample of the older ones; at the
end, once every booking is decided and every lapsed hold swept (bounded wait), through the API
for the whole history: each booking decided the way its payment token says; and `tix check`
is clean once more, with the server running and after it stopped.

TIX_CRASH_SEED=N replays a run's random choices (not its timing)."""

import os
import random
import threading
import time

import invariants
from crashlib import SETTLE_TIMEOUT_S, Client, History, report, verify_history, wait_settled
from tixhttp import create_event, make_sections

CYCLES = 20
CLIENTS = 16
KILL_AFTER_S = (0.2, 1.0)
SERVER_ARGS = ["--lease-ms", "1000", "--retry-base-ms", "50", "--sweep-interval-ms", "100",
               "--payment-timeout-ms", "500"]
SHORT_TTL_S = 1  # holds of the short event expire while the loop runs


def test_crash_loop_loses_nothing_acknowledged(server_factory, request):
    seed = int(os.environ.get("TIX_CRASH_SEED", random.randrange(1 << 32)))
    rng = random.Random(seed)
    srv = server_factory.start(seeded=False, extra_args=SERVER_ARGS)
    big, big_seats = create_event(srv, make_sections(4, 20, 50))  # 4,000 seats, 600 s holds
    short, short_seats = create_event(srv, make_sections(1, 4, 25), hold_ttl_s=SHORT_TTL_S)
    events = [(big["id"], big_seats), (short["id"], short_seats)]
    history = History()
    violations = []
    started = time.monotonic()
    verify_s = 0.0
    for cycle in range(CYCLES):
        stop = threading.Event()
        clients = [Client(i, srv.port, events, history, stop, random.Random(rng.random()), cycle)
                   for i in range(CLIENTS)]
        for c in clients:
            c.start()
        time.sleep(rng.uniform(*KILL_AFTER_S))
        srv.kill9()
        stop.set()
        for c in clients:
            c.join(20)
            assert not c.is_alive(), "a client thread hung after the kill"
        srv.restart()
        verify_started = time.monotonic()
        with history.lock:
            problems, history.problems = history.problems, []
        problems += verify_history(srv, history, rng, cycle)
        check = invariants.tix_check(srv.data_dir)
        if check.returncode != 0:
            problems.append("tix check is not clean:\n" + check.report())
        verify_s += time.monotonic() - verify_started
        violations += [f"cycle {cycle}: {p}" for p in problems]
        assert not problems, (f"after kill {cycle + 1} (seed {seed}), {len(problems)} "
                              "problem(s):\n  " + "\n  ".join(problems[:25]) + "\n"
                              + srv.output(60))

    assert wait_settled(srv, SETTLE_TIMEOUT_S), \
        f"bookings pending or lapsed holds not swept {SETTLE_TIMEOUT_S}s after the last " \
        f"restart (seed {seed})\n" + srv.output(60)
    problems = verify_history(srv, history, rng, final=True)
    assert not problems, f"at the end (seed {seed}):\n  " + "\n  ".join(problems[:25])
    invariants.assert_tix_check_clean(srv.data_dir)
    srv.stop_gracefully()
    invariants.assert_tix_check_clean(srv.data_dir)

    with history.lock:
        acked = sum(history.acked.values())
        summary = (f"crash loop: {CYCLES} cycles, seed {seed}, {history.sent} requests sent, "
                   f"{acked} acknowledged {history.acked}, statuses {history.statuses}, "
                   f"{len(violations)} violations, {time.monotonic() - started:.1f} s "
                   f"({verify_s:.1f} s verifying)")
    report(request, summary)
    assert history.acked["hold"] > CYCLES, "the load acknowledged almost nothing: " + summary
    assert history.acked["checkout"] > 0 and history.acked["release"] > 0, summary
