"""The dashboard in headless Chromium: pages load, graphs render, live pages follow new steps."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from browser_support import console_errors, kill_mid_write, screenshot, tree_digest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from synthetic_runs import write_synthetic_run

from gandiag import signals as sig
from gandiag.dashboards import create_app
from gandiag.store import RunWriter
from gandiag.types import StepRecord

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"

LAST_X = """
const g = document.querySelector('[id*=\\'"key":"losses"\\'] .js-plotly-plot');
if (!g || !g.data) return null;
const xs = g.data[g.data.length - 1].x;
return xs.length ? xs[xs.length - 1] : null;
"""


def plots(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"))


def settle(driver, at_least: int, timeout: float = 60) -> None:
    """Wait until ``at_least`` plots are drawn and no Dash callback is pending."""
    WebDriverWait(driver, timeout, 0.25).until(
        lambda d: (
            plots(d) >= at_least
            and not d.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']")
        )
    )


@pytest.mark.parametrize(
    ("path", "name", "at_least", "expect"),
    [
        ("/", "runs", 0, "dcgan-collapse"),
        ("/run/dcgan", "run_gan", 10, "Failing: samples collapsed"),
        ("/run/vae", "run_vae", 5, "4 of 8 latent dimensions"),
        ("/compare?runs=dcgan,vae", "compare", 3, "Protocols"),
    ],
)
def test_page_loads_and_renders(browser, serve, runs_folder, path, name, at_least, expect):
    before = tree_digest(runs_folder)
    app = serve(create_app(runs_folder, live_interval_ms=1000))
    browser.get(app.url + path)
    WebDriverWait(browser, 60).until(lambda d: expect in d.find_element(By.TAG_NAME, "body").text)
    settle(browser, at_least)
    assert plots(browser) >= at_least
    if path.startswith("/run/"):
        src = browser.find_element(By.ID, "grid-img").get_attribute("src")
        assert "/runfiles/" in src
        assert browser.execute_script("return document.getElementById('grid-img').naturalWidth") > 0
    screenshot(browser, SCREENSHOTS / f"dashboard_{name}.png")
    assert console_errors(browser) == []
    assert tree_digest(runs_folder) == before


def test_alert_details_open_with_evidence_and_remedies(browser, serve, runs_folder):
    app = serve(create_app(runs_folder, live_interval_ms=5000))
    browser.get(app.url + "/run/dcgan")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".gd-alert"))
    summary = browser.find_element(By.CSS_SELECTOR, ".gd-alert summary")
    summary.click()
    body = browser.find_element(By.CSS_SELECTOR, ".gd-alert .gd-alert-body")
    assert "Remedies" in body.text and "Evidence" in body.text and "modes_covered" in body.text
    assert console_errors(browser) == []


def test_live_run_page_picks_up_new_steps(browser, serve, tmp_path):
    writer = write_synthetic_run(tmp_path / "live", steps=200, close=False)
    try:
        app = serve(create_app(tmp_path, live_interval_ms=500))
        browser.get(app.url + "/run/live")
        settle(browser, 5)
        assert browser.execute_script(LAST_X) == 199
        writer.write_steps(
            [
                StepRecord(
                    s,
                    {
                        sig.loss("G"): 5.0,
                        sig.loss("D"): 0.1,
                        sig.grad_layer_norm("G", "net.0"): 1e-4,
                    },
                )
                for s in range(200, 230)
            ]
        )
        WebDriverWait(browser, 90, 0.25).until(lambda d: d.execute_script(LAST_X) == 229)
        # The header and the plots are separate callbacks on the same interval tick.
        WebDriverWait(browser, 30, 0.25).until(
            lambda d: "step 229" in d.find_element(By.ID, "run-top").text
        )
        screenshot(browser, SCREENSHOTS / "dashboard_live.png")
        assert console_errors(browser) == []
    finally:
        writer.close()


def test_runs_page_is_live(browser, serve, tmp_path):
    app = serve(create_app(tmp_path, live_interval_ms=500))
    browser.get(app.url + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "runs-empty"))
    screenshot(browser, SCREENSHOTS / "dashboard_empty_folder.png")
    write_synthetic_run(tmp_path / "late", steps=30, name="late-arrival", failure=False)
    WebDriverWait(browser, 30).until(
        lambda d: "late-arrival" in d.find_element(By.ID, "runs-body").text
    )
    assert console_errors(browser) == []


def test_bad_runs_show_clear_messages(browser, serve, runs_folder, tmp_path):
    RunWriter(tmp_path / "fresh", kind="gan").close()
    shutil.copytree(runs_folder / "vae", tmp_path / "old")
    conn = sqlite3.connect(tmp_path / "old" / "run.sqlite")
    with conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.close()
    kill_mid_write(tmp_path / "crashy")
    before = tree_digest(tmp_path)
    app = serve(create_app(tmp_path, live_interval_ms=1000))
    for run_id, expect in (
        ("fresh", "No steps recorded yet"),
        ("old", "run-store schema 0"),
        ("crashy", "Crashed: the writer stopped at step"),
    ):
        browser.get(app.url + f"/run/{run_id}")
        WebDriverWait(browser, 60).until(
            lambda d, expect=expect: expect in d.find_element(By.TAG_NAME, "body").text
        )
        time.sleep(1.0)  # let the first live tick run too
        screenshot(browser, SCREENSHOTS / f"dashboard_bad_{run_id}.png")
        assert console_errors(browser) == []
    browser.get(app.url + "/")
    WebDriverWait(browser, 30).until(
        lambda d: "unreadable" in d.find_element(By.ID, "runs-body").text
    )
    screenshot(browser, SCREENSHOTS / "dashboard_bad_runs_list.png")
    assert tree_digest(tmp_path) == before


@pytest.mark.slow
def test_long_run_page_stays_responsive(browser, serve, big_run):
    app = serve(create_app(big_run, live_interval_ms=2000))
    start = time.perf_counter()
    browser.get(app.url + "/run/big")
    settle(browser, 12, timeout=240)  # every panel of the run, and the alert timeline
    first_plots = time.perf_counter() - start
    # Every series drawn with at most max_points points, however long the run.
    longest = browser.execute_script(
        "return Math.max(...Array.from(document.querySelectorAll('.js-plotly-plot'))"
        ".flatMap(g => g.data.map(t => (t.x || []).length)));"
    )
    assert longest <= 600
    screenshot(browser, SCREENSHOTS / "dashboard_long_run.png")
    assert console_errors(browser) == []
    print(f"long run: plots drawn after {first_plots:.1f} s")


FIGURE_DATA = """
const g = document.querySelector('[id*=\\'"key":"losses"\\'] .js-plotly-plot');
if (!g || !g.data) return null;
return g.data.map(t => [Array.from(t.x), Array.from(t.y)]);
"""


def test_live_and_reloaded_curves_are_identical(browser, serve, tmp_path):
    """Bucket-averaged curves must not turn noisier where the page was opened."""
    writer = write_synthetic_run(tmp_path / "live", steps=300, close=False)
    try:
        app = serve(create_app(tmp_path, live_interval_ms=500, max_points=50))
        browser.get(app.url + "/run/live")
        settle(browser, 5)
        rng = __import__("numpy").random.default_rng(0)
        writer.write_steps(
            [
                StepRecord(s, {sig.loss("G"): float(rng.normal(2, 1)), sig.loss("D"): 0.5})
                for s in range(300, 700)
            ]
        )
        WebDriverWait(browser, 90, 0.25).until(
            lambda d: d.execute_script(LAST_X) is not None and d.execute_script(LAST_X) >= 680
        )
        settle(browser, 5)
        live = browser.execute_script(FIGURE_DATA)
        browser.get(app.url + "/run/live")
        settle(browser, 5)
        WebDriverWait(browser, 30, 0.25).until(lambda d: d.execute_script(FIGURE_DATA))
        reloaded = browser.execute_script(FIGURE_DATA)
        assert live == reloaded
        assert all(len(x) <= 50 for x, _ in live)
        assert console_errors(browser) == []
    finally:
        writer.close()


AXIS_TYPE = """
const g = document.querySelector('[id*=\\'"key":"losses"\\'] .js-plotly-plot');
return g && g._fullLayout ? g._fullLayout.yaxis.type : null;
"""


def test_loss_spanning_decades_is_drawn_on_a_log_axis_with_a_toggle(browser, serve, tmp_path):
    w = RunWriter(tmp_path / "vae", kind="vae", name="decades")
    w.write_steps([StepRecord(s, {sig.loss("total"): 35000.0 * 0.99**s + 300}) for s in range(600)])
    w.close()
    app = serve(create_app(tmp_path, live_interval_ms=5000))
    browser.get(app.url + "/run/vae")
    settle(browser, 1)
    WebDriverWait(browser, 30, 0.25).until(lambda d: d.execute_script(AXIS_TYPE) == "log")
    buttons = browser.find_elements(By.CSS_SELECTOR, '[id*=\'"key":"losses"\'] .updatemenu-button')
    linear = next(b for b in buttons if "linear" in b.text)
    linear.click()
    WebDriverWait(browser, 10, 0.25).until(lambda d: d.execute_script(AXIS_TYPE) == "linear")
    screenshot(browser, SCREENSHOTS / "dashboard_log_toggle.png")
    assert console_errors(browser) == []


def test_compare_page_states_which_run_is_better(browser, serve, runs_folder):
    app = serve(create_app(runs_folder, live_interval_ms=5000))
    browser.get(app.url + "/compare?runs=dcgan,vae")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "compare-statement"))
    statement = browser.find_element(By.ID, "compare-statement").text
    assert " is better on " in statement or "within uncertainty" in statement
    assert "beats" in statement or "neither is better" in statement
    assert "lower is better" in statement
    table = browser.find_element(By.ID, "compare-metrics").text
    assert "fid ↓" in table and "recall ↑" in table
    verdicts = browser.find_element(By.ID, "compare-verdicts").text
    assert "Failing" in verdicts and "checked:" in verdicts
    assert console_errors(browser) == []


SCATTER = """
const g = document.querySelector('#grid-scatter .js-plotly-plot');
if (!g || !g._fullLayout || !g.data || !g.data.length) return null;
const L = g._fullLayout;
const box = g.querySelector('.nsewdrag').getBoundingClientRect();
return {
  names: g.data.map(t => t.name),
  xticks: g.querySelectorAll('.xtick').length,
  yticks: g.querySelectorAll('.ytick').length,
  legend: Array.from(g.querySelectorAll('.legendtext')).map(e => e.textContent),
  xrange: L.xaxis.range, yrange: L.yaxis.range,
  pxPerUnit: [box.width / (L.xaxis.range[1] - L.xaxis.range[0]),
              box.height / (L.yaxis.range[1] - L.yaxis.range[0])],
  imgShown: getComputedStyle(document.getElementById('grid-img')).display !== 'none',
};
"""


def test_two_d_samples_are_a_scatter_with_axes_over_real_data(browser, serve, tmp_path):
    from synthetic_runs import write_ring_run

    write_ring_run(tmp_path / "ring")
    app = serve(create_app(tmp_path, live_interval_ms=5000))
    browser.get(app.url + "/run/ring")
    WebDriverWait(browser, 60, 0.25).until(lambda d: d.execute_script(SCATTER))
    got = browser.execute_script(SCATTER)
    assert got["names"] == ["mode centres (8)", "real data (256)", "samples (256)"]
    assert got["legend"] == got["names"]
    assert got["xticks"] >= 3 and got["yticks"] >= 3
    # equal aspect on screen: a unit is as many pixels across as up
    px, py = got["pxPerUnit"]
    assert abs(px - py) <= 0.02 * max(px, py), got["pxPerUnit"]
    assert not got["imgShown"]  # the bare PNG gives way to the scatter
    assert "samples at step 199" in browser.find_element(By.ID, "grid-caption").text
    screenshot(browser, SCREENSHOTS / "dashboard_ring_scatter.png")
    assert console_errors(browser) == []
