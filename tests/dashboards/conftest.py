"""Fixtures for the dashboard tests (synthetic runs and the browser live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_support import ServedApp


@pytest.fixture
def serve(browser: Any) -> Iterator[Callable[[Any], ServedApp]]:
    """Start apps for one test; the browser leaves their pages before they stop, so one
    test's dying polls never show up as the next test's console errors."""
    browser.get("about:blank")
    browser.get_log("browser")
    served: list[ServedApp] = []

    def start(app: Any) -> ServedApp:
        s = ServedApp(app)
        served.append(s)
        return s

    yield start
    browser.get("about:blank")
    browser.get_log("browser")
    for s in served:
        s.stop()
