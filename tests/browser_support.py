"""Helpers to drive the dashboard and reports in headless Chromium (used by gandiag's tests;
handy for checking a deployment too). Needs selenium and Debian's chromium + chromium-driver."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1300,1000",
)  # fmt: skip


def chromium_paths() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` if both are on PATH."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def headless_chrome() -> Any:
    """A selenium Chrome driver on headless Chromium that keeps the browser console log."""
    paths = chromium_paths()
    if paths is None:
        raise RuntimeError(
            "needs Debian's chromium and chromium-driver on PATH "
            "(apt-get install -y chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = paths[0]
    for flag in CHROME_FLAGS:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(paths[1]), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def console_errors(driver: Any) -> list[dict]:
    """Browser console entries at level SEVERE since the last call (the log is drained)."""
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def screenshot(driver: Any, path: Path) -> Path:
    """A full-page screenshot (the window grows to the page height, up to 8000 px)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height = int(driver.execute_script("return document.body.scrollHeight"))
    driver.set_window_size(1300, min(max(1000, height + 40), 8000))
    driver.save_screenshot(str(path))
    driver.set_window_size(1300, 1000)
    return path


class ServedApp:
    """A Dash app served by werkzeug on 127.0.0.1 (a free port) in a daemon thread."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, app.server, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, except SQLite's transient ``-shm``/``-wal`` files,
    to check that viewing a run modified nothing."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


CRASHING_WRITER = textwrap.dedent("""
    import sys

    from gandiag.store import RunWriter
    from gandiag.types import StepRecord
    w = RunWriter(sys.argv[1], name="crashy")
    step = 0
    while True:  # killed from outside, usually inside a write transaction
        w.write_steps([StepRecord(s, {"loss/G": 1.0, "loss/D": 0.5}) for s in range(step, step + 500)])
        step += 500
""")


def kill_mid_write(run_dir: Path, min_steps: int = 2000) -> None:
    """Start a writer in another process and SIGKILL it once ``min_steps`` steps are stored:
    a crashed run whose last flush was, most likely, half written."""
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_WRITER, str(run_dir)])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if (run_dir / "run.sqlite").exists():
                try:
                    from gandiag.store import RunReader

                    with RunReader(run_dir) as r:
                        if (r.last_step() or 0) >= min_steps:
                            break
                except (ValueError, sqlite3.Error):
                    time.sleep(0.05)  # the writer has not created its tables yet
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
