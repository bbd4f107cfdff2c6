"""Fixtures for the dashboard tests: synthetic runs, a served app, headless Chromium."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path
from typing import Iterator

import pytest

from gandiag.dashboards.synthetic import write_synthetic_run

CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1300,1000",
)  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def runs_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GAN run that collapses and a VAE run that loses units, both finished."""
    root = tmp_path_factory.mktemp("runs")
    write_synthetic_run(root / "dcgan", kind="gan", steps=400, name="dcgan-collapse")
    write_synthetic_run(root / "vae", kind="vae", steps=300, name="conv-vae", seed=1)
    return root


@pytest.fixture(scope="session")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """100,000 steps x 56 scalar series (a third of a minute to write on two cores)."""
    root = tmp_path_factory.mktemp("bigruns")
    write_synthetic_run(root / "big", steps=100_000, extra_layers=20, histogram_every=50,
                        batch=5000, grids=6, name="long-run")
    return root


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` except SQLite's transient -shm/-wal companions."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


def chrome_or_skip():  # noqa: ANN201 (selenium webdriver)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("browser test needs Debian's chromium and chromium-driver on PATH "
                    "(apt-get install -y chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    drv = chrome_or_skip()
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def severe_console_errors(driver) -> list[dict]:  # noqa: ANN001
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver, name: str) -> Path:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1300, min(max(1000, int(height) + 40), 6000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1300, 1000)
    return path


class ServedApp:
    """A Dash app served by werkzeug on 127.0.0.1 in a thread, for selenium."""

    def __init__(self, app) -> None:  # noqa: ANN001
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator:
    served: list[ServedApp] = []

    def start(app) -> ServedApp:  # noqa: ANN001
        s = ServedApp(app)
        served.append(s)
        return s

    yield start
    for s in served:
        s.stop()
