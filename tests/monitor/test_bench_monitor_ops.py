"""bench/monitor_ops.py counts what it says: the monitored step's extra operations, with
the accelerator's way of counting non-finite gradients adding no per-parameter work."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "monitor_ops.py"


def load():
    sys.path.insert(0, str(BENCH.parent))
    spec = importlib.util.spec_from_file_location("bench_monitor_ops", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_dcgan_row():
    row = load().count("dcgan", steps=2, batch=4, periodic=False)
    ops = row["ops_per_step"]
    assert set(ops) == {"bare", "monitored (CPU counting)", "monitored (device counting)"}
    assert ops["bare"] > 100  # a whole training step was counted
    for name in ("monitored (CPU counting)", "monitored (device counting)"):
        assert 1.0 < row["ratio"][name] < 1.5, row
        # the gradient norms: two batched calls per backward pass, none per parameter
        assert "linalg_vector_norm" not in row["extra_ops"][name]
    assert row["extra_ops"]["monitored (device counting)"]["_foreach_norm"] == 6
