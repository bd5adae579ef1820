"""deploy/: the systemd units pass `systemd-analyze verify` (with ExecStart pointing at the
binary under test), and the environment file names only options `tix serve` knows."""

import re
import shutil
import subprocess
from pathlib import Path

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
