"""Self-contained HTML reports: content, escaping, offline, size, and rendering in Chromium."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from browser_support import console_errors, screenshot, tree_digest
from plotly.offline import get_plotlyjs
from synthetic_runs import write_synthetic_run

from gandiag.cli import main
from gandiag.reports import write_report
from gandiag.store import RunWriter
from gandiag.types import Alert, Severity, StepRecord

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def gan_vae_report(runs_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    before = tree_digest(runs_folder)
    out = write_report(
        [runs_folder / "dcgan", runs_folder / "vae"], tmp_path_factory.mktemp("rep") / "report.html"
    )
    assert tree_digest(runs_folder) == before  # reports only read
    return out, out.read_text(encoding="utf-8")


def test_report_is_self_contained_with_plotly_once(gan_vae_report):
    _, text = gan_vae_report
    assert text.count(get_plotlyjs()[:300]) == 1
    assert not re.search(r"<script[^>]+src=", text) and "<link" not in text
    assert 'src="data:image/png;base64,' in text
    assert "/runfiles/" not in text


def test_report_has_verdict_alerts_metrics_and_comparison(gan_vae_report):
    _, text = gan_vae_report
    for needle in (
        "Failing: samples collapsed onto one mode",
        "restart from the last healthy checkpoint",
        "modes_covered",
        "KL annealing",
        "Comparison",
        "Protocols",
        "Precision vs recall",
        "2000 real / 2000 fake",
        "[0.1355, 0.1645]",
        "FID over steps",
        "per-layer gradient norm",
        "KL per latent dimension",
    ):
        assert needle in text, needle


def test_single_run_report_has_no_comparison(runs_folder, tmp_path):
    text = write_report([runs_folder / "vae"], tmp_path / "one.html").read_text()
    assert 'id="comparison"' not in text and "conv-vae" in text


def test_stored_text_is_escaped(tmp_path):
    run = tmp_path / "evil"
    with RunWriter(run, name=EVIL, config={EVIL: EVIL, "nested": {"x": EVIL}}) as w:
        w.write_steps([StepRecord(s, {"loss/G": 1.0, f"loss/{EVIL}": 2.0}) for s in range(20)])
        w.write_alerts([Alert(EVIL, Severity.CRITICAL, 10, 5, EVIL, {EVIL: 1.0}, (EVIL,))])
    text = write_report([run, run], tmp_path / "evil.html", title=EVIL).read_text()
    assert EVIL not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_report_refuses_bad_input(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        write_report([], tmp_path / "r.html")
    with pytest.raises(ValueError, match="not a gandiag run"):
        write_report([tmp_path], tmp_path / "r.html")
    RunWriter(tmp_path / "fresh").close()
    with pytest.raises(ValueError, match=r"\.html"):
        write_report([tmp_path / "fresh"], tmp_path / "r.pdf")


def test_report_on_a_run_without_steps(tmp_path):
    RunWriter(tmp_path / "fresh").close()
    text = write_report([tmp_path / "fresh"], tmp_path / "r.html").read_text()
    assert "No steps recorded yet" in text


def test_cli_report(runs_folder, tmp_path, capsys):
    out = tmp_path / "cli.html"
    assert main(["report", str(runs_folder / "dcgan"), "-o", str(out), "--title", "T"]) == 0
    assert out.stat().st_size > 0 and "wrote" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.browser
def test_report_renders_every_plot_in_chromium(browser, gan_vae_report):
    path, text = gan_vae_report
    expected = text.count('class="plotly-graph-div"')
    assert expected >= 15
    browser.get(path.resolve().as_uri())
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 60, 0.25).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= expected
    )
    rendered = browser.execute_script(
        "return document.querySelectorAll('.plotly-graph-div.js-plotly-plot').length"
    )
    assert rendered == expected
    screenshot(browser, SCREENSHOTS / "report_gan_vae.png")
    assert console_errors(browser) == []


@pytest.mark.slow
def test_long_run_report_is_under_10_mb(big_run, tmp_path):
    start = time.perf_counter()
    out = write_report([big_run / "big"], tmp_path / "big.html")
    size = out.stat().st_size
    print(f"100k-step report: {size / 1e6:.2f} MB in {time.perf_counter() - start:.1f} s")
    assert size < 10_000_000
    assert "long-run" in out.read_text()


def test_synthetic_run_refuses_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="'gan' or 'vae'"):
        write_synthetic_run(tmp_path / "x", kind="diffusion")


def test_two_d_run_report_draws_samples_with_axes_over_real_data(tmp_path):
    from synthetic_runs import write_ring_run

    out = write_report([write_ring_run(tmp_path / "ring")], tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    scatters = re.findall(r'<figure class="scatter">(.*?)</figure>', text, re.DOTALL)
    assert len(scatters) == 3  # one per stored grid
    for needle in ("real data (256)", "samples (256)", "mode centres (8)", '"scaleanchor":"x"'):
        assert needle in scatters[-1], needle
    assert "<img" not in text  # the scatter replaces the bare PNG


LOSSES_FIGURE = """
const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
  .find(g => g.layout && g.layout.title && g.layout.title.text === 'Losses');
if (!gd) return null;
const lines = gd._fullData.filter(t => t.meta && t.meta.smooth === 'raw');
const faint = gd._fullData.filter(t => t.meta && t.meta.smooth === 'faint');
return {
  ys: lines.map(t => Array.from(t.y)),
  faint: faint.filter(t => t.visible === true).length,
  yType: gd._fullLayout.yaxis.type,
  buttons: gd.querySelectorAll('.updatemenu-button').length,
};
"""
SET_SMOOTHING = """
const input = document.getElementById('gd-smoothing-input');
input.value = arguments[0];
input.dispatchEvent(new Event('input'));
"""


@pytest.mark.browser
def test_report_smoothing_control_matches_the_dashboards_ema(browser, runs_folder, tmp_path):
    """The static report smooths in the page (offline): the same debiased EMA the dashboard
    computes on the server, with the raw curve kept faint; 0 restores the raw curves."""
    import numpy as np
    from selenium.webdriver.support.ui import WebDriverWait

    from gandiag.figures import build_run_panels
    from gandiag.reports.build import REPORT_MAX_POINTS
    from gandiag.store import RunReader

    out = write_report([runs_folder / "dcgan"], tmp_path / "report.html")
    with RunReader(runs_folder / "dcgan") as reader:

        def losses(smoothing):
            (panel,) = [
                p
                for p in build_run_panels(
                    reader, max_points=REPORT_MAX_POINTS, smoothing=smoothing, alerts=[]
                )
                if p.key == "losses"
            ]
            return [
                np.asarray(t.y, float) for t in panel.figure.data if t.meta and t.meta.get("smooth")
            ]

        raw, smoothed = losses(0.0), losses(0.9)
    browser.get(out.resolve().as_uri())
    WebDriverWait(browser, 60, 0.25).until(lambda d: d.execute_script(LOSSES_FIGURE))
    before = browser.execute_script(LOSSES_FIGURE)
    assert before["faint"] == 0 and before["buttons"] == 2  # linear / log y
    for got, want in zip(before["ys"], raw, strict=True):
        np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-12)

    browser.execute_script(SET_SMOOTHING, "0.9")
    WebDriverWait(browser, 10, 0.25).until(lambda d: d.execute_script(LOSSES_FIGURE)["faint"])
    after = browser.execute_script(LOSSES_FIGURE)
    assert after["faint"] == len(raw)
    for got, want in zip(after["ys"], smoothed, strict=True):
        np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-9)
    assert browser.find_element("id", "gd-smoothing-value").text == "0.90"
    screenshot(browser, SCREENSHOTS / "report_smoothing.png")

    browser.execute_script(SET_SMOOTHING, "0")
    back = browser.execute_script(LOSSES_FIGURE)
    assert back["faint"] == 0
    for got, want in zip(back["ys"], raw, strict=True):
        np.testing.assert_allclose(np.asarray(got, float), want, rtol=1e-12)
    assert console_errors(browser) == []
