"""Safe serving: only raster images gandiag writes leave a run folder, with nosniff and a
policy that forbids script; a planted SVG or HTML file never runs on the dashboard's origin;
a non-loopback --host warns (no authentication) and refuses --debug."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from synthetic_runs import write_synthetic_run

from gandiag.cli import main
from gandiag.cli.dashboard import is_loopback
from gandiag.dashboards import create_app
from gandiag.dashboards.context import RunsFolder
from gandiag.store import RunReader

TRAP = "fetch('/__trap__?' + document.domain); localStorage.setItem('pwned', '1');"
PLANTED = {
    "evil.svg": (
        f'<svg xmlns="http://www.w3.org/2000/svg" onload="{TRAP}"><script>{TRAP}</script>'
        '<rect width="10" height="10"/></svg>'
    ),
    "evil.html": f"<html><body><script>{TRAP}</script></body></html>",
    "evil.htm": f"<script>{TRAP}</script>",
    "evil.png": f"<html><script>{TRAP}</script></html>",  # HTML under an image suffix
    "evil.gif": f"GIF89a<script>{TRAP}</script>",  # a polyglot: served only as image/gif
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("planted")
    write_synthetic_run(root / "run", steps=60, grids=1)
    for name, text in PLANTED.items():
        (root / "run" / "samples" / name).write_text(text)
    return root


def test_only_raster_images_are_served_with_safe_headers(planted: Path) -> None:
    app = create_app(planted)
    client = app.server.test_client()
    folder: RunsFolder = app.gandiag_folder
    with RunReader(planted / "run") as r:
        grid = r.sample_grids()[0]
    ok = client.get(folder.file_url(grid.path))
    assert ok.status_code == 200 and ok.mimetype == "image/png"
    assert ok.headers["X-Content-Type-Options"] == "nosniff"
    csp = ok.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "sandbox" in csp and "script" not in csp
    for name in ("evil.svg", "evil.html", "evil.htm", "evil.png"):
        resp = client.get(f"/runfiles/run/samples/{name}")
        assert resp.status_code == 404, name
        assert b"<script>" not in resp.data, name
    gif = client.get("/runfiles/run/samples/evil.gif")
    assert gif.mimetype == "image/gif" and "sandbox" in gif.headers["Content-Security-Policy"]
    assert client.get("/").headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.browser
def test_planted_files_never_run_script_in_the_browser(browser, serve, planted: Path) -> None:
    app = create_app(planted)
    hits: list[str] = []

    @app.server.route("/__trap__")
    def trap() -> str:
        hits.append("hit")
        return ""

    served = serve(app)
    browser.get(served.url + "/")
    browser.execute_script("localStorage.clear();")
    for name in PLANTED:
        browser.get(f"{served.url}/runfiles/run/samples/{name}")
        browser.execute_script("return 1;")  # the page has loaded
    browser.get(served.url + "/")
    assert browser.execute_script("return localStorage.getItem('pwned');") is None
    assert hits == []


def test_is_loopback() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org", ""):
        assert not is_loopback(host), host


def test_non_loopback_host_warns_and_refuses_debug(
    planted: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, capsys
) -> None:
    import dash

    started: list[dict] = []
    monkeypatch.setattr(dash.Dash, "run", lambda self, **kw: started.append(kw))
    assert main(["dashboard", str(planted), "--host", "0.0.0.0", "--debug"]) == 2
    assert "--debug is refused" in capsys.readouterr().err and started == []
    with caplog.at_level(logging.WARNING, logger="gandiag.cli.dashboard"):
        assert main(["dashboard", str(planted), "--host", "0.0.0.0"]) == 0
    assert "no authentication" in caplog.text and started[-1]["host"] == "0.0.0.0"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gandiag.cli.dashboard"):
        assert main(["dashboard", str(planted), "--debug"]) == 0  # loopback: allowed, quiet
    assert caplog.text == "" and started[-1]["debug"] is True
