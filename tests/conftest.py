"""Fixtures shared by the dashboard and report tests (synthetic runs, headless Chromium), and
the anchors kept runnable on today's SciPy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anchor_compat
import pytest
from browser_support import chromium_paths, headless_chrome
from synthetic_runs import write_synthetic_run

anchor_compat.install()  # clean-fid on a SciPy without sqrtm(disp=) (anchor_compat's docstring)


@pytest.fixture(scope="session")
def runs_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GAN run that collapses and a VAE run that loses units, both finished."""
    root = tmp_path_factory.mktemp("runs")
    write_synthetic_run(root / "dcgan", kind="gan", steps=400, name="dcgan-collapse")
    write_synthetic_run(root / "vae", kind="vae", steps=300, name="conv-vae", seed=1)
    return root


@pytest.fixture(scope="session")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with one run of 100,000 steps x 56 scalar series (about 35 s to write)."""
    root = tmp_path_factory.mktemp("bigruns")
    write_synthetic_run(
        root / "big",
        steps=100_000,
        extra_layers=20,
        histogram_every=50,
        batch=5000,
        grids=6,
        name="long-run",
    )
    return root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if chromium_paths() is None:
        pytest.skip(
            "browser test needs Debian's chromium and chromium-driver on PATH "
            "(apt-get install -y chromium chromium-driver)"
        )
    driver = headless_chrome()
    try:
        yield driver
    finally:
        driver.quit()
