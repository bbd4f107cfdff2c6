"""The dashboard app without a browser: routing, the file route, bad input, read-only."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from browser_support import kill_mid_write, tree_digest
from plotly.io.json import to_json_plotly
from synthetic_runs import write_synthetic_run

from gandiag.cli import main
from gandiag.dashboards import create_app
from gandiag.dashboards.components import alert_groups
from gandiag.dashboards.context import RunsFolder
from gandiag.dashboards.pages import compare, run, runs
from gandiag.figures import summarize_run
from gandiag.store import RunReader, RunWriter
from gandiag.store.schema import NotARunError


def text_of(component) -> str:
    """The component tree as JSON text, unescaped, to search for what a page says."""
    return json.dumps(json.loads(to_json_plotly(component)), ensure_ascii=False)


def test_create_app_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="gandiag dashboard"):
        create_app(tmp_path / "nope")


def test_file_route_serves_grids_and_refuses_anything_outside(runs_folder, tmp_path):
    app = create_app(runs_folder)
    client = app.server.test_client()
    folder: RunsFolder = app.gandiag_folder
    with RunReader(runs_folder / "dcgan") as r:
        grid = r.sample_grids()[0]
    ok = client.get(folder.file_url(grid.path))
    assert ok.status_code == 200 and ok.data == grid.path.read_bytes()
    secret = runs_folder.parent / "secret.png"
    secret.write_bytes(b"\x89PNG not yours")
    (runs_folder / "link.png").symlink_to(secret)
    try:
        for url in (
            "/runfiles/../secret.png",
            "/runfiles/..%2fsecret.png",
            "/runfiles/%2e%2e/secret.png",
            "/runfiles/dcgan/..%2f..%2fsecret.png",
            "/runfiles/%2Fetc%2Fpasswd",
            "/runfiles/link.png",
            "/runfiles/dcgan/run.sqlite",
            "/runfiles/dcgan/samples",
        ):
            resp = client.get(url)
            # 404 from the file route, or Dash's HTML index for a path it does not route.
            assert resp.status_code == 404 or resp.mimetype == "text/html", url
            assert b"not yours" not in resp.data and b"root:" not in resp.data, url
    finally:
        (runs_folder / "link.png").unlink()
        secret.unlink()


def test_run_ids_cannot_leave_the_folder(runs_folder):
    folder = RunsFolder.open(runs_folder)
    assert folder.run_path(folder.run_id(runs_folder / "vae")) == (runs_folder / "vae").resolve()
    for bad in ("..", "..%2Fruns", "%2Ftmp", "dcgan%2F..%2F..", "nope"):
        with pytest.raises(NotARunError):
            folder.run_path(bad)


def test_pages_render_and_modify_nothing(runs_folder):
    before = tree_digest(runs_folder)
    folder = RunsFolder.open(runs_folder)
    page = text_of(runs.layout(folder))
    assert "dcgan-collapse" in page and "conv-vae" in page and "critical" in page
    gan = text_of(run.layout(folder, "dcgan"))
    assert "Failing: samples collapsed onto one mode" in gan
    with RunReader(runs_folder / "dcgan") as r:
        alerts = text_of(alert_groups(summarize_run(r).groups))
    assert "restart from the last healthy checkpoint" in alerts and "modes_covered" in alerts
    body = text_of(compare.compare_body(folder, ["dcgan", "vae"]))
    assert "compare-pr" in body and "/runfiles/dcgan/samples/" in body
    assert tree_digest(runs_folder) == before


def test_empty_folder_says_how_to_start(tmp_path):
    page = text_of(runs.layout(RunsFolder.open(tmp_path)))
    assert "No gandiag runs in" in page and "gandiag train" in page


def test_run_without_steps_says_so(tmp_path):
    RunWriter(tmp_path / "fresh", kind="gan").close()
    page = text_of(run.layout(RunsFolder.open(tmp_path), "fresh"))
    assert "No steps recorded yet" in page


def test_older_schema_is_explained_and_left_untouched(runs_folder, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(runs_folder / "vae", old)
    with sqlite3.connect(old / "run.sqlite") as conn:  # the test, not the app, edits the copy
        conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.close()
    before = tree_digest(tmp_path)
    folder = RunsFolder.open(tmp_path)
    page = text_of(run.layout(folder, "old"))
    assert "run-store schema 0" in page and "Nothing was modified" in page
    listing = text_of(runs.layout(folder))
    assert "unreadable" in listing and "schema 0" in listing
    assert tree_digest(tmp_path) == before


def test_crashed_run_is_shown_as_crashed_and_untouched(tmp_path):
    kill_mid_write(tmp_path / "crashy")
    before = tree_digest(tmp_path)
    folder = RunsFolder.open(tmp_path)
    page = text_of(run.layout(folder, "crashy"))
    assert "Crashed: the writer stopped at step" in page
    assert "crashed" in text_of(runs.layout(folder))
    with RunReader(tmp_path / "crashy") as r:
        assert r.info().status == "crashed"
        assert (r.last_step() + 1) % 500 == 0  # only whole flushes are visible
    assert tree_digest(tmp_path) == before


def test_cli_dashboard_validates_before_serving(tmp_path, capsys):
    assert main(["dashboard", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["dashboard", str(tmp_path), "--port", "0"]) == 2


def test_cli_dashboard_binds_localhost_by_default():
    from gandiag.cli import build_parser

    args = build_parser().parse_args(["dashboard", "runs"])
    assert args.host == "127.0.0.1" and args.port == 8050


def test_live_writer_synthetic_run_is_not_crashed(tmp_path):
    writer = write_synthetic_run(tmp_path / "live", steps=50, close=False)
    try:
        with RunReader(tmp_path / "live") as r:
            assert r.info().status == "training"
    finally:
        writer.close()
