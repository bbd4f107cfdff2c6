"""`bench/detectors.py --quick` runs end to end: real training with the Monitor, outcome
labels, scores, JSON, HTML page, and a last line that is the summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "det.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "detectors.py"),
            "--quick",
            "--json",
            str(out),
            "--no-docs",
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=True,
    )
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("detectors (quick,") and "precision" in last and "recall" in last
    payload = json.loads(out.read_text())
    assert payload["live_equals_replay"] == f"{payload['cases']}/{payload['cases']}"
    runs = {f"{r['case']['config']}/s{r['case']['seed']}": r for r in payload["runs"]}
    # The NaN run is labelled from its parameters and alerted by the loss, at the same step.
    nan = runs["nan/s0"]
    nan_alerts = [a for a in nan["alerts"] if a["detector"] == "nonfinite"]
    assert nan_alerts and nan_alerts[0]["step"] <= nan["labels"]["nonfinite"]
    # A healthy ring run is labelled healthy by its outcomes and raises no alarm.
    healthy = runs["healthy/s0"]
    assert healthy["labels"] == {}
    assert [a for a in healthy["alerts"] if a["severity"] != "info"] == []
    # The collapse configuration collapses by its outcomes, and the detector says so.
    assert "mode_collapse" in runs["collapse/s0"]["labels"]
    assert any(a["detector"] == "mode_collapse" for a in runs["collapse/s0"]["alerts"])
    html = out.with_suffix(".html").read_text()
    assert html.count("<h3>") == payload["cases"] and "plotly" in html
