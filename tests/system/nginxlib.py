"""nginx in front of tix nodes, for the multi-node tests (test_nodes.py), with the very config
file operators are told to use: deploy/nginx-tix.conf.

As that file's header promises, only its upstream servers and its listen port are replaced
(render_site): each upstream's `server` lines become one per node on 127.0.0.1, each keeping
the parameters of the block's first one (max_fails, fail_timeout), and `listen 80` becomes a free
port of 127.0.0.1. Anything else the file says (least_conn, keepalive, the stream location,
proxy_next_upstream...) is what the tests run with. The rendered file must name no other
address: the tests send traffic to this machine only.

nginx runs as one foreground process of the test (daemon off, master_process off, no root
needed): `nginx -p PREFIX -c PREFIX/nginx.conf -e PREFIX/logs/error.log`, its pid, temp
directories and logs under PREFIX, and an access log that names the node that answered each
request ($upstream_addr) for the tests to read."""

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SITE_CONF = REPO / "deploy" / "nginx-tix.conf"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

UPSTREAM_RE = re.compile(r"(upstream\s+\w+\s*\{)(.*?)(\})", re.S)
SERVER_LINE_RE = re.compile(r"^(\s*)server\s+(\S+)([^;\n]*);[ \t]*\n", re.M)
LISTEN_RE = re.compile(r"^(\s*)listen\s+80\s*;", re.M)
ADDRESS_RE = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
# the access log's lines (log_format tix below)
ACCESS_RE = re.compile(r"^(\d+) (\S+) (\S+) upstream=(.*?) upstream_status=(.*)$")


def nginx_binary():
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).is_file():
        pytest.fail("nginx is missing: scripts/deps.sh installs it (make test)", pytrace=False)
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_upstream(text, ups, node_ports):
    """TEXT with the server lines of upstream block UPS (a match of UPSTREAM_RE) replaced by
    one per NODE_PORTS on 127.0.0.1, each keeping the parameters of the block's first one."""
    servers = SERVER_LINE_RE.findall(ups.group(2))
    assert servers, f"{SITE_CONF}: the upstream block {ups.group(1)} has no server lines"
    indent, _, params = servers[0]
    lines = "".join(f"{indent}server 127.0.0.1:{p}{params};\n" for p in node_ports)
    first = SERVER_LINE_RE.search(ups.group(2)).start()
    body = SERVER_LINE_RE.sub("", ups.group(2))
    body = body[:first] + lines + body[first:]
    return text[:ups.start(2)] + body + text[ups.end(2):]


def render_site(text, node_ports, listen_port):
    """deploy/nginx-tix.conf's TEXT with the servers of each upstream block replaced by
    NODE_PORTS on 127.0.0.1 and its listen port by LISTEN_PORT; fails if the file no longer has
    the shape the tests (and its header comment) rely on."""
    blocks = list(UPSTREAM_RE.finditer(text))
    assert blocks, f"{SITE_CONF}: no upstream block"
    for ups in reversed(blocks):  # from the end: the earlier blocks' offsets stay right
        text = render_upstream(text, ups, node_ports)
    text, listens = LISTEN_RE.subn(rf"\g<1>listen 127.0.0.1:{listen_port};", text)
    assert listens == 1, f"{SITE_CONF}: expected one 'listen 80;', found {listens}"
    config = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    others = sorted(set(ADDRESS_RE.findall(config)) - {"127.0.0.1"})
    assert not others, f"the rendered nginx config still names {others}"
    return text


class Nginx:
    """nginx on 127.0.0.1:port in front of NODE_PORTS, run from PREFIX (a directory)."""

    def __init__(self, prefix, node_ports):
        self.prefix = Path(prefix)
        self.node_ports = list(node_ports)
        self.port = None
        self.proc = None
        self.access_log = self.prefix / "logs" / "access.log"
        self.error_log = self.prefix / "logs" / "error.log"

    def write_config(self):
        for d in ("logs", "tmp"):
            (self.prefix / d).mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        site = render_site(SITE_CONF.read_text(), self.node_ports, self.port)
        (self.prefix / "tix-site.conf").write_text(site)
        p = self.prefix
        (p / "nginx.conf").write_text(f"""\
# written by tests/system/nginxlib.py: one foreground process, everything under {p}
daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {p}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 4096; }}
http {{
    log_format tix '$status $request_method $uri upstream=$upstream_addr '
                   'upstream_status=$upstream_status';
    access_log {self.access_log} tix;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    include {p}/tix-site.conf;
}}
""")

    def start(self):
        self.write_config()
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", f"{self.prefix}/", "-c", str(self.prefix / "nginx.conf"),
             "-e", str(self.error_log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nginx exited with {self.proc.returncode} at start-up\n"
                                     + self.log_tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not listen within {START_TIMEOUT_S}s\n" + self.log_tail())

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM (fast shutdown), then SIGKILL if it does not exit; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def requests(self, method=None, uri_prefix=""):
        """The access log's requests (of METHOD, under URI_PREFIX): a list of (status, node
        port of the last upstream tried or None, upstream statuses)."""
        out = []
        if not self.access_log.exists():
            return out
        for line in self.access_log.read_text(errors="replace").splitlines():
            m = ACCESS_RE.match(line)
            if not m or (method and m.group(2) != method) or not m.group(3).startswith(uri_prefix):
                continue
            last = m.group(4).split(",")[-1].strip()
            port = int(last.rsplit(":", 1)[1]) if last.startswith("127.0.0.1:") else None
            out.append((int(m.group(1)), port, m.group(5)))
        return out

    def log_tail(self, lines=40):
        out = []
        for f in (self.error_log, self.access_log):
            if f.exists():
                tail = f.read_text(errors="replace").splitlines()[-lines:]
                out.append(f"---- {f.name} (last {len(tail)} lines) ----\n" + "\n".join(tail))
        return "\n".join(out)
