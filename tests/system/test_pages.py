"""The pages tix serves itself: the buyer's page at / and its files under /assets/,
embedded in the binary, with their content types, security headers and ETags."""

from pathlib import Path

from tixhttp import http_request


def test_the_page_is_html_with_a_policy_that_loads_nothing_from_elsewhere(live_shared_server):
    r = http_request(live_shared_server.port, "GET", "/")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert b"<!doctype html>" in r.body.lower()
    csp = r.header("Content-Security-Policy") or ""
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert r.header("X-Content-Type-Options") == "nosniff"
    assert r.header("X-Frame-Options") == "DENY"


def test_assets_have_their_types_and_revalidate_with_their_etag(live_shared_server):
    port = live_shared_server.port
    for name, ctype in (("app.js", "text/javascript"), ("app.css", "text/css")):
        r = http_request(port, "GET", "/assets/" + name)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith(ctype), r.headers
        etag = r.header("ETag")
        assert etag and etag.startswith('"'), r.headers
        again = http_request(port, "GET", "/assets/" + name, headers={"If-None-Match": etag})
        assert again.status == 304 and again.body == b"", again
        changed = http_request(port, "GET", "/assets/" + name, headers={"If-None-Match": '"x"'})
        assert changed.status == 200 and changed.body == r.body


def test_an_unknown_asset_is_a_json_404_and_pages_take_only_get(live_shared_server):
    port = live_shared_server.port
    r = http_request(port, "GET", "/assets/nope.js")
    assert r.status == 404 and r.json["error"]["code"] == "not_found", r
    r = http_request(port, "GET", "/assets/../tix.db")
    assert r.status == 404, r
    r = http_request(port, "POST", "/", {})
    assert r.status == 405 and "GET" in (r.header("Allow") or ""), r


def test_every_file_of_the_buyers_page_is_served_from_the_binary(live_shared_server):
    """Each web/ file the buyer's page is made of (its scripts import one another) is embedded:
    a file added to web/ but not to src/web/embed.S and assets.c would be a 404 in the page."""
    web = Path(__file__).resolve().parents[2] / "web"
    names = sorted(p.name for p in web.iterdir() if p.is_file() and not p.name.startswith("admin."))
    assert "index.html" in names and "live.js" in names, names
    for name in names:
        path = "/" if name == "index.html" else "/assets/" + name
        r = http_request(live_shared_server.port, "GET", path)
        assert r.status == 200, (name, r)
        assert r.body == (web / name).read_bytes(), name
        if name.endswith(".js"):
            assert r.header("Content-Type") == "text/javascript; charset=utf-8", (name, r.headers)
