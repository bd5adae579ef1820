"""pytest fixtures for the tix system tests (see tixserver.py for the harness).

Every server fixture gets a fresh data directory (a copy of one seeded
template, so `tix seed` runs once per session); every server still running at
teardown is stopped with SIGTERM and must exit 0.
"""

import threading

import pytest

import tixstore
from fakes import FakePaymentProvider
from tixserver import ServerFactory, TixServer, require_tix_binary, seed_data_dir


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite_only(reason): the test is about the embedded store itself (its files, "
        "its VFS, its migrations); skipped on PostgreSQL, saying why")
    config.addinivalue_line(
        "markers", "pg_only: the test is about the PostgreSQL store; skipped on the embedded one")


def pytest_collection_modifyitems(config, items):
    for item in items:
        sqlite_only = item.get_closest_marker("sqlite_only")
        if sqlite_only and tixstore.on_pg():
            reason = sqlite_only.kwargs.get("reason") or (sqlite_only.args or ["?"])[0]
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))
        if item.get_closest_marker("pg_only") and not tixstore.on_pg():
            item.add_marker(pytest.mark.skip(reason="PostgreSQL only (TIX_TEST_STORE=postgresql)"))


@pytest.fixture(scope="session", autouse=True)
def store_databases():
    """On PostgreSQL: drop every database the session made, at its end."""
    yield
    tixstore.forget_all()


_SEED_LOCK = threading.Lock()


@pytest.fixture(scope="session")
def tix_bin():
    return require_tix_binary()


@pytest.fixture(scope="session")
def seed_template(tmp_path_factory, tix_bin):
    """Lazily seeds one data dir per session; servers get copies of it."""
    cache = {}

    def get():
        with _SEED_LOCK:
            if "dir" not in cache:
                d = tmp_path_factory.mktemp("seed-template")
                seed_data_dir(d)
                tixstore.vacuum(d)  # PostgreSQL: every copy starts analyzed
                cache["dir"] = d
            return cache["dir"]

    return get


@pytest.fixture
def cluster_dir():
    """The test PostgreSQL cluster's directory (tests that stop or restart it); if a test
    leaves the server down, it is brought up again."""
    d = tixstore.pg_cluster_dir()
    yield d
    try:
        tixstore.pg_sh("up", d)
    except AssertionError:
        pass  # it was up already


@pytest.fixture
def server_factory(tmp_path, seed_template):
    factory = ServerFactory(tmp_path, seed_template)
    yield factory
    factory.finish()


@pytest.fixture
def server(server_factory):
    """A fresh seeded server for one test."""
    return server_factory.start()


@pytest.fixture
def provider():
    """The fake payment provider of tests/system/fakes.py (a test file may define its own, as
    test_checkout_crash.py does with a slower one)."""
    p = FakePaymentProvider()
    yield p
    p.close()


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory, seed_template):
    factory = ServerFactory(tmp_path_factory.mktemp("mod"), seed_template)
    yield factory
    factory.finish()


@pytest.fixture(scope="module")
def shared_server(module_server_factory):
    """One seeded server shared by a module's tests (they create their own
    events when they need to change state)."""
    return module_server_factory.start()


@pytest.fixture
def live_shared_server(shared_server):
    """The shared server, checked to be alive before and after the test."""
    shared_server.assert_healthy()
    yield shared_server
    assert shared_server.running(), "shared server died\n" + shared_server.output()


def _servers_of(item):
    found = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, TixServer):
            found.append(value)
        elif isinstance(value, ServerFactory):
            found.extend(value.servers)
    unique = []
    for srv in found:
        if all(srv is not u for u in unique):
            unique.append(srv)
    return unique


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failed test, attach the output of every server it used."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("call", "teardown"):
        for i, srv in enumerate(_servers_of(item)):
            rep.sections.append((f"tix server {i} output ({srv.data_dir})", srv.output(300)))
        for value in getattr(item, "funcargs", {}).values():
            if hasattr(value, "report_sections"):  # e.g. a load balancer's logs
                rep.sections.extend(value.report_sections())
