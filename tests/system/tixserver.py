"""Runs the tix binary for the system tests.

TixServer starts a real `tix serve` on 127.0.0.1:<ephemeral> over a data
directory, drains its output, and knows how to stop it gracefully (exit code
0 required: a sanitizer report makes it non-zero), kill -9 it and restart it
on the same data. ServerFactory hands out servers on fresh data dirs and
stops them all at teardown.

Binary: $TIX_BIN, default <repo>/build/asan/tix.

The store is the embedded one in the data directory, or with TIX_TEST_STORE=postgresql a
database of its own on the test cluster per data directory (tixstore.py): the server then runs
with --store URL, and db_path is that URL.
"""

import os
import re
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import tixstore
from tixhttp import http_request

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO / "build" / "asan" / "tix"
LISTEN_RE = re.compile(r"listening on ([0-9.]+):(\d+)")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|WARNING: ThreadSanitizer|runtime error: |"
                          r"SUMMARY: (Address|Undefined|Leak)")

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
SEED_TIMEOUT_S = 120.0


def tix_binary_path():
    return Path(os.environ.get("TIX_BIN", str(DEFAULT_BIN)))


def require_tix_binary():
    path = tix_binary_path()
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"tix binary not found or not executable at {path}. "
            "Build it first (e.g. `make build/asan/tix`) or point TIX_BIN at it.",
            pytrace=False,
        )
    return path


def run_tix(args, timeout=60, env=None):
    """Runs `tix ARGS...` to completion; returns CompletedProcess (text)."""
    full_env = os.environ.copy()
    if env:
        full_env.update(env)
    return subprocess.run(
        [str(require_tix_binary()), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=full_env,
    )


def seed_data_dir(data_dir):
    args = ["seed", *tixstore.store_args(data_dir)]
    cp = run_tix(args, timeout=SEED_TIMEOUT_S)
    assert cp.returncode == 0, (
        f"`tix {' '.join(args)}` exited {cp.returncode}\n"
        f"stdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
    )


class Endpoint:
    """The tests' HTTP helpers on 127.0.0.1:self.port, with self.admin_token: a tix node
    (TixServer), or a load balancer in front of several."""

    def __init__(self, port=None, admin_token=None):
        self.port = port
        self.admin_token = admin_token

    def request(self, method, path, body=None, **kw):
        assert self.port, "server not started"
        return http_request(self.port, method, path, body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def admin_headers(self):
        return {"Authorization": f"Bearer {self.admin_token}"}


class TixServer(Endpoint):
    """One `tix serve` process bound to 127.0.0.1:<ephemeral> over DATA_DIR.

    stderr and stdout are drained by background threads so the pipes never
    fill; every line is kept for failure reports.
    """

    def __init__(self, data_dir, admin_token, threads=2, extra_args=(), env=None,
                 use_env_config=False):
        super().__init__(None, admin_token)
        self.data_dir = Path(data_dir)
        self.threads = threads
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.use_env_config = use_env_config
        self.proc = None
        self.host = None
        self.lines = []  # every stderr/stdout line of every incarnation
        self._lines_lock = threading.Lock()
        self._ready = threading.Event()
        self._readers = []
        self.killed = False
        self.exit_codes = []  # (how_stopped, returncode) per incarnation

    # -- lifecycle -------------------------------------------------------

    @property
    def db_path(self):
        """The store for invariants.connect_ro: DIR/tix.db, or on PostgreSQL its URL."""
        return tixstore.db_path(self.data_dir)

    @property
    def store_url(self):
        return tixstore.store_url(self.data_dir)

    def command(self):
        binary = str(require_tix_binary())
        if self.use_env_config:
            return [binary, "serve", *self.extra_args]
        return [
            binary, "serve",
            "--listen", "127.0.0.1:0",
            *tixstore.store_args(self.data_dir),
            "--admin-token", self.admin_token,
            "--threads", str(self.threads),
            *self.extra_args,
        ]

    def start(self, timeout=START_TIMEOUT_S):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = os.environ.copy()
        env.update(self.extra_env)
        if self.use_env_config:
            env.update({
                "TIX_LISTEN": "127.0.0.1:0",
                "TIX_DATA": str(self.data_dir),
                "TIX_THREADS": str(self.threads),
                "TIX_ADMIN_TOKEN": self.admin_token,
            })
            if self.store_url:
                env["TIX_STORE"] = self.store_url
        self._ready.clear()
        self.port = None
        self.killed = False
        self._log(f"[harness] starting: {' '.join(self.command())}")
        self.proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, "err", True),
                             daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout, "out", False),
                             daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return self
            if self.proc.poll() is not None:
                for t in self._readers:
                    t.join(2)
                raise AssertionError(
                    f"tix serve exited with {self.proc.returncode} before it was ready\n"
                    + self.output())
        self.proc.kill()
        self.proc.wait(10)
        raise AssertionError(
            f"tix serve did not print 'listening on HOST:PORT' within {timeout}s\n"
            + self.output())

    def _drain(self, pipe, tag, watch_ready):
        for raw in iter(pipe.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._log(f"[{tag}] {line}")
            if watch_ready and not self._ready.is_set():
                m = LISTEN_RE.search(line)
                if m:
                    self.host, self.port = m.group(1), int(m.group(2))
                    self._ready.set()
        pipe.close()

    def _log(self, line):
        with self._lines_lock:
            self.lines.append(line)

    def output(self, last=200):
        with self._lines_lock:
            lines = self.lines[-last:]
        return "---- tix server output (last %d lines) ----\n%s\n----" % (
            len(lines), "\n".join(lines))

    def sanitizer_reports(self):
        """Output lines that look like an AddressSanitizer/UBSan/LeakSanitizer report."""
        with self._lines_lock:
            return [l for l in self.lines if SANITIZER_RE.search(l)]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Sends SIG and waits for exit; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._log(f"[harness] no exit {timeout}s after signal {sig}; killing")
                self.proc.kill()
                self.proc.wait(10)
                self._join_readers()
                self.exit_codes.append(("hung", None))
                return None
        self._join_readers()
        rc = self.proc.returncode
        self.exit_codes.append((signal.Signals(sig).name, rc))
        return rc

    def stop_gracefully(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Stops with SIG and asserts exit code 0."""
        rc = self.stop(sig, timeout)
        assert rc == 0, (
            f"tix serve should exit 0 after {signal.Signals(sig).name}, got {rc}\n"
            + self.output())

    def kill9(self):
        """SIGKILL: simulates a crash. Exit code is not checked."""
        assert self.running(), "server is not running"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._join_readers()
        self.killed = True
        self.exit_codes.append(("SIGKILL", self.proc.returncode))

    def restart(self):
        """Starts a new process over the same data dir (after stop or kill9)."""
        assert not self.running(), "stop or kill the server before restarting"
        return self.start()

    def _join_readers(self):
        for t in self._readers:
            t.join(5)

    # -- HTTP (Endpoint's helpers) -----------------------------------------

    def assert_healthy(self):
        assert self.running(), "server process died\n" + self.output()
        r = self.get("/healthz")
        assert r.status == 200, f"/healthz -> {r.status} {r.body!r}\n" + self.output()
        assert r.json == {"status": "ok"}


class ServerFactory:
    """Creates servers on fresh data dirs; stops all of them at teardown,
    failing if any graceful stop does not exit 0."""

    def __init__(self, base_dir, seed_template):
        self.base_dir = Path(base_dir)
        self.seed_template = seed_template
        self.servers = []
        self.data_dirs = []
        self._n = 0

    def new_data_dir(self, seeded=True):
        """A fresh data dir (and on PostgreSQL its database): a copy of the seeded template,
        or empty."""
        self._n += 1
        d = self.base_dir / f"data{self._n}"
        if seeded:
            tixstore.copy_store(self.seed_template(), d)
        else:
            d.mkdir(parents=True)
        self.data_dirs.append(d)
        return d

    def start(self, seeded=True, data_dir=None, **kw):
        if data_dir is None:
            data_dir = self.new_data_dir(seeded)
        kw.setdefault("admin_token", "adm-" + secrets.token_hex(12))
        srv = TixServer(data_dir, **kw)
        self.servers.append(srv)
        srv.start()
        return srv

    def finish(self):
        """Stops every server still running; fails if any graceful stop (here or
        in the test) did not exit 0, or any incarnation printed a sanitizer report."""
        problems = []
        for srv in self.servers:
            if srv.running():
                srv.stop()
            bad_stops = [(how, rc) for how, rc in srv.exit_codes
                         if how != "SIGKILL" and rc != 0]
            reports = srv.sanitizer_reports()
            if bad_stops or reports:
                problems.append(f"server on {srv.data_dir}: stops {srv.exit_codes}, "
                                f"sanitizer lines {reports[:5]}\n" + srv.output())
        for d in self.data_dirs + [srv.data_dir for srv in self.servers]:
            tixstore.forget_store(d)  # PostgreSQL: every server is stopped, drop its database
        assert not problems, "\n\n".join(problems)
