"""``gandiag demo --quick`` end to end: two monitored runs, scored, and one HTML report."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gandiag.store import RunReader


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "gandiag", "demo", "--out", str(out), "--quick", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_demo_prints_the_report_and_the_dashboard_command(demo_dir: tuple[Path, str]) -> None:
    out, stdout = demo_dir
    lines = stdout.strip().splitlines()
    assert lines[-2] == f"report: {out / 'report.html'}"
    assert lines[-1] == f"dashboard: gandiag dashboard {out}"


def test_demo_runs_are_finished_monitored_and_scored(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    kinds = {}
    for name in ("dcgan", "vae"):
        with RunReader(out / name) as r:
            info = r.info()
            assert info.status == "finished"
            assert info.num_steps > 0
            kinds[name] = info.kind
            names = set(r.scalar_names())
            metrics = {m.name for m in r.read_metrics()}
            assert {"fid", "kid", "precision", "recall", "density", "coverage"} <= metrics
            assert all(m.protocol.feature_extractor.startswith("glyph") for m in r.read_metrics())
            assert r.sample_grids(), "no sample grid stored"
        if name == "dcgan":
            assert {
                "grad/G/norm",
                "grad/D/norm",
                "d/real/prob_mean",
                "d/fake/prob_mean",
                "d/r_v",
            } <= names
        else:
            assert {"vae/kl", "vae/active_units"} <= names
    assert kinds == {"dcgan": "gan", "vae": "vae"}


def test_demo_report_is_self_contained(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    html = (out / "report.html").read_text()
    assert html.count("<html") == 1
    assert "dcgan" in html and "vae" in html
    # Works offline: no external script, stylesheet or image (plotly.js itself is inline).
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"<(link|img)[^>]*(href|src)=\"https?:", html)


def test_demo_refuses_to_overwrite_previous_runs(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    before = (out / "dcgan" / "run.sqlite").stat().st_mtime_ns
    proc = subprocess.run(
        [sys.executable, "-m", "gandiag", "demo", "--out", str(out), "--quick"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "choose a new --out directory" in proc.stderr
    assert (out / "dcgan" / "run.sqlite").stat().st_mtime_ns == before


@pytest.mark.browser
def test_demo_report_renders_in_headless_chromium(demo_dir: tuple[Path, str]) -> None:
    from browser_support import (
        chromium_paths,
        console_errors,
        headless_chrome,
        screenshot,
    )

    if chromium_paths() is None:
        pytest.skip(
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out, _ = demo_dir
    path = out / "report.html"
    expected = path.read_text().count('class="plotly-graph-div"')
    assert expected >= 5
    driver = headless_chrome()
    try:
        driver.get(path.resolve().as_uri())
        WebDriverWait(driver, 60, 0.25).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= expected
        )
        rendered = driver.execute_script(
            "return document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length"
        )
        assert rendered == expected
        screenshot(
            driver,
            Path(__file__).resolve().parent.parent
            / "artifacts"
            / "screenshots"
            / "demo_report.png",
        )
        assert console_errors(driver) == []
    finally:
        driver.quit()
