"""bench/inception_throughput.py at toy size: both sides run the same random-weights
Inception-v3 and give the same features; the resizers agree bit for bit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_inception_throughput_bench_features_agree(tmp_path: Path) -> None:
    out = tmp_path / "inception.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "inception_throughput.py"),
            *("--n", "4", "--batch", "2", "--rounds", "1", "--size", "16", "--workers", "1"),
            *("--json", str(out), "--no-docs"),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        check=True,
    )
    assert proc.stdout.strip().splitlines()[-1].startswith("inception throughput:")
    payload = json.loads(out.read_text())
    assert payload["random_weights"] is True
    assert payload["feature_max_abs"] > 1e-3  # features at a scale where a difference shows
    diffs = payload["feature_rel_diff"]
    assert max(diffs["folder"], diffs["array"], diffs["folder_vs_array"]) <= 1e-6
    assert all(r["identical"] for r in payload["resize"].values())
    assert set(payload["images_per_s"]) == {
        "clean-fid, folder",
        "gandiag, folder",
        "gandiag without overlap, folder",
        "clean-fid, array",
        "gandiag, array",
    }
    assert all(len(v) == 1 and v[0] > 0 for v in payload["seconds"].values())
