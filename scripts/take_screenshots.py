"""Screenshots of the demo report and of every dashboard page, for docs/screenshots/.

    python scripts/take_screenshots.py DEMO_OUT [--out docs/screenshots] [--points-run RUN]

DEMO_OUT is a folder written by `gandiag demo --out DEMO_OUT`; RUN, a 2-D run (e.g.
`gandiag train configs/mlp_gan_ring8_collapse.toml --out RUN`) whose run page shows the
sample scatter. Needs Debian's chromium and
chromium-driver and selenium (the browser-test helpers in tests/browser_support.py). Each
page is captured at 1300 px wide, cut to its first 2,400 px and saved as an 8-bit palette
PNG half the size, so the files stay small.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import ServedApp, headless_chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from gandiag.dashboards import create_app


def shoot(driver, path: Path, max_height: int = 2400) -> None:
    height = int(driver.execute_script("return document.body.scrollHeight"))
    driver.set_window_size(1300, min(max(900, height + 40), max_height))
    time.sleep(1.0)
    raw = path.with_suffix(".raw.png")
    driver.save_screenshot(str(raw))
    img = Image.open(raw).convert("RGB")
    img = img.resize((img.width // 2 * 1, img.height // 2 * 1), Image.Resampling.LANCZOS)
    img.quantize(colors=128).save(path, optimize=True)
    raw.unlink()
    driver.set_window_size(1300, 1000)


def settle(driver, plots: int, timeout: float = 120) -> None:
    WebDriverWait(driver, timeout, 0.5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= plots
        and not d.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']")
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("demo_out", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    p.add_argument("--points-run", type=Path, default=None, help="a 2-D run to capture too")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = headless_chrome()
    try:
        driver.get((args.demo_out / "report.html").resolve().as_uri())
        settle(driver, 5)
        shoot(driver, args.out / "report.png")
        app = ServedApp(create_app(args.demo_out, live_interval_ms=60_000))
        try:
            pages = [
                ("/", "dashboard_runs.png", 0),
                ("/run/dcgan", "dashboard_run_dcgan.png", 6),
                ("/run/vae", "dashboard_run_vae.png", 4),
                ("/compare?runs=dcgan,vae", "dashboard_compare.png", 3),
            ]
            for path, name, plots in pages:
                driver.get(app.url + path)
                time.sleep(2)
                settle(driver, plots)
                shoot(driver, args.out / name)
                print(f"wrote {args.out / name}")
        finally:
            app.stop()
        if args.points_run is not None:
            app = ServedApp(create_app(args.points_run.parent, live_interval_ms=60_000))
            try:
                driver.get(app.url + "/run/" + args.points_run.name)
                time.sleep(2)
                settle(driver, 6)
                shoot(driver, args.out / "dashboard_run_points.png")
                print(f"wrote {args.out / 'dashboard_run_points.png'}")
            finally:
                app.stop()
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
