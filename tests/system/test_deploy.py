"""deploy/: the systemd units pass `systemd-analyze verify` (with ExecStart pointing at the
binary under test), the environment file names only options `tix serve` knows, and the nginx
config passes `nginx -t` as the multi-node tests render it."""

import re
import shutil
import subprocess
from pathlib import Path

from nginxlib import Nginx, free_port, nginx_binary
from tixserver import require_tix_binary, run_tix

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def verify(unit_path):
    r = subprocess.run(["systemd-analyze", "verify", str(unit_path)], capture_output=True,
                       text=True, timeout=60)
    # systemd-analyze also reports on units it happens to load from the host (it may run in a
    # container without systemd as PID 1): only lines about our own file count
    ours = [line for line in (r.stdout + r.stderr).splitlines() if unit_path.name in line]
    return r.returncode, ours


def test_the_systemd_units_verify(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze missing: scripts/deps-ops.sh installs systemd"
    tix = require_tix_binary()
    for name, instance in (("tix@.service", "tix@a.service"), ("tix-migrate.service", None)):
        text = (DEPLOY / name).read_text()
        assert "/usr/local/bin/tix" in text
        unit = tmp_path / (instance or name)
        unit.write_text(text.replace("/usr/local/bin/tix", str(tix)))
        rc, ours = verify(unit)
        assert rc == 0 and not ours, f"{name}: systemd-analyze verify says:\n" + "\n".join(ours)


def test_the_environment_file_names_only_options_tix_knows():
    r = run_tix(["serve", "--help"])
    known = set(re.findall(r"\[env (TIX_[A-Z_]+)\]", r.stdout + r.stderr))
    assert "TIX_LISTEN" in known, r
    known.add("TIX_STORE")  # the store URL (PostgreSQL), also read by tix migrate
    names = re.findall(r"^\s*#?\s*(TIX_[A-Z_]+)=", (DEPLOY / "tix.env").read_text(), re.M)
    assert names, "no settings in deploy/tix.env"
    unknown = sorted(set(names) - known)
    assert not unknown, f"deploy/tix.env sets options tix does not have: {unknown}"
    for unit in ("tix@.service", "tix-migrate.service"):
        for name in re.findall(r"Environment=(TIX_[A-Z_]+)=", (DEPLOY / unit).read_text()):
            assert name in known, f"{unit} sets {name}, which tix does not have"


def test_the_nginx_config_is_valid_and_names_no_address_once_rendered(tmp_path):
    """deploy/nginx-tix.conf, with its upstream servers and listen port replaced as
    test_nodes.py runs it, passes `nginx -t` (on either store: test_nodes.py runs on
    PostgreSQL only)."""
    front = Nginx(tmp_path / "nginx", [free_port(), free_port(), free_port()])
    front.write_config()
    site = (tmp_path / "nginx" / "tix-site.conf").read_text()
    # two upstream blocks (the nodes, and the same nodes for streams), three nodes each
    assert site.count("server 127.0.0.1:") == 6 and f"listen 127.0.0.1:{front.port};" in site
    r = subprocess.run([nginx_binary(), "-t", "-p", f"{front.prefix}/", "-c",
                        str(front.prefix / "nginx.conf"), "-e", str(front.error_log)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "test is successful" in r.stderr, r.stdout + r.stderr
