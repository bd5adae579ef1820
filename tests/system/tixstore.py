"""Which store the system tests run tix on, and how to reach it.

The suite runs on the embedded store (SQLite, the default) or, with TIX_TEST_STORE=postgresql,
on the PostgreSQL cluster at TIX_TEST_PG_URL (a libpq URL of its `postgres` database, as
`scripts/pg.sh url DIR` prints it; scripts/test.sh starts that cluster). On PostgreSQL every
data directory a test uses gets a database of its own, made on first use (an empty one, or a
copy of another directory's: CREATE DATABASE ... TEMPLATE), and `tix` is run with
`--store URL` beside `--data DIR` (the directory still holds the node id and the tokens).

connect_ro / connect_rw open a store for the tests' own reads and corruptions: sqlite3 for
DIR/tix.db, psycopg2 for a URL, behind the same small interface (execute with `?` parameters,
fetchone/fetchall, BEGIN/COMMIT for one consistent read).
"""

import itertools
import os
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

STORE = os.environ.get("TIX_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "postgresql"):
    raise RuntimeError(f"TIX_TEST_STORE={STORE!r}: expected sqlite or postgresql")


def on_pg():
    return STORE == "postgresql"


def pg_admin_url():
    url = os.environ.get("TIX_TEST_PG_URL", "")
    if not url:
        pytest.fail("TIX_TEST_STORE=postgresql needs TIX_TEST_PG_URL (see scripts/pg.sh)",
                    pytrace=False)
    return url


def pg_url_of(dbname):
    """The URL of database DBNAME on the test cluster."""
    parts = urlsplit(pg_admin_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def pg_dbname_of(url):
    return urlsplit(url).path.lstrip("/")


def pg_admin_exec(sql):
    """Runs SQL on the cluster's `postgres` database, outside any transaction."""
    import psycopg2
    conn = psycopg2.connect(pg_admin_url())
    try:
        conn.autocommit = True
        conn.cursor().execute(sql)
    finally:
        conn.close()


_names = itertools.count(1)
_lock = threading.Lock()
_urls = {}  # resolved data dir -> URL of its database


def _key(data_dir):
    return str(Path(data_dir).resolve())


def pg_create_database(template_url=None):
    """A new database (empty, or a copy of TEMPLATE_URL's, which nothing may be connected to);
    returns its URL."""
    name = f"tixt_{os.getpid()}_{next(_names)}"
    template = pg_dbname_of(template_url) if template_url else "template0"
    pg_admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')
    return pg_url_of(name)


def pg_drop_database(url):
    pg_admin_exec(f'DROP DATABASE IF EXISTS "{pg_dbname_of(url)}" WITH (FORCE)')


def store_url(data_dir):
    """On PostgreSQL, the URL of DATA_DIR's database (made, empty, on first use); else None."""
    if not on_pg():
        return None
    with _lock:
        key = _key(data_dir)
        if key not in _urls:
            _urls[key] = pg_create_database()
        return _urls[key]


def store_args(data_dir):
    """The arguments naming DATA_DIR's store for a tix command."""
    url = store_url(data_dir)
    return ["--data", str(data_dir)] + (["--store", url] if url else [])


def db_path(data_dir):
    """What connect_ro takes for DATA_DIR's store: DIR/tix.db, or its URL."""
    return store_url(data_dir) or Path(data_dir) / "tix.db"


def copy_store(src_dir, dst_dir):
    """DST_DIR becomes a copy of SRC_DIR: its files, and on PostgreSQL a copy of its database
    (nothing may be connected to it)."""
    shutil.copytree(src_dir, dst_dir)
    if on_pg():
        url = pg_create_database(store_url(src_dir))
        with _lock:
            _urls[_key(dst_dir)] = url


def share_store(src_dir, dst_dir):
    """On PostgreSQL, DST_DIR's store is SRC_DIR's database (two nodes on one database, each with
    its own data directory: its node id and tokens)."""
    if on_pg():
        url = store_url(src_dir)
        with _lock:
            _urls[_key(dst_dir)] = url


def forget_store(data_dir):
    """Drop DATA_DIR's database (PostgreSQL; the servers on it must be stopped)."""
    with _lock:
        url = _urls.pop(_key(data_dir), None)
        shared = url in _urls.values()
    if url and not shared:
        pg_drop_database(url)


def forget_all():
    with _lock:
        urls = list(_urls.values())
        _urls.clear()
    for url in urls:
        pg_drop_database(url)


def vacuum(data_dir):
    """Analyze DATA_DIR's database (PostgreSQL: a template every copy starts analyzed from)."""
    if on_pg():
        import psycopg2
        conn = psycopg2.connect(store_url(data_dir))
        try:
            conn.autocommit = True
            conn.cursor().execute("VACUUM ANALYZE")
        finally:
            conn.close()


# -- connections for the tests' own reads and writes -------------------------------------------

class PgConnection:
    """A psycopg2 connection that reads like a sqlite3 one: execute(sql, params) with `?`
    placeholders returns a cursor; BEGIN starts a REPEATABLE READ transaction (read-only on a
    read-only connection), so that the reads in it agree."""

    def __init__(self, url, readonly):
        import psycopg2
        self._conn = psycopg2.connect(url)
        self._conn.autocommit = True
        self.readonly = readonly
        self.isolation_level = None  # sqlite3's attribute: accepted, ignored

    def execute(self, sql, params=()):
        if sql.strip().upper() == "BEGIN":
            sql = "BEGIN ISOLATION LEVEL REPEATABLE READ" + (" READ ONLY" if self.readonly else "")
        cur = self._conn.cursor()
        cur.execute(sql.replace("?", "%s"), tuple(params) if params else None)
        return cur

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def is_pg_path(path):
    return str(path).startswith(("postgresql://", "postgres://"))


def connect_ro(path):
    """A read-only connection to the store at PATH (DIR/tix.db or a URL)."""
    if is_pg_path(path):
        return PgConnection(str(path), readonly=True)
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)


def connect_rw(path):
    """A connection that may change the store at PATH (tests that corrupt a copy)."""
    if is_pg_path(path):
        return PgConnection(str(path), readonly=False)
    return sqlite3.connect(path, timeout=15)


# -- the cluster itself ------------------------------------------------------------------------

def pg_cluster_dir():
    """The directory of the test cluster (TIX_TEST_PG_DIR), for tests that restart it."""
    d = os.environ.get("TIX_TEST_PG_DIR", "")
    if not d:
        pytest.skip("TIX_TEST_PG_DIR is not set: the cluster cannot be restarted")
    return d


def pg_sh(*args):
    """Runs scripts/pg.sh ARGS (e.g. "down", DIR) and fails if it does."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "pg.sh"
    cp = subprocess.run([str(script), *args], capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, f"pg.sh {' '.join(args)}: {cp.stdout}{cp.stderr}"
