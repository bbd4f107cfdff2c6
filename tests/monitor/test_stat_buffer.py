"""The Monitor's device buffer (gandiag/monitor/buffer.py) and its per-step statistics
(gandiag/monitor/probes.py): float32 and float64 sums, host constants and histograms
come back to the right finaliser, and the per-step statistics add no dtype conversion
and no device-side constant to a step."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gandiag import signals
from gandiag.monitor import probes
from gandiag.monitor.buffer import StatBuffer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from monitor_ops import OpCounter


def _flushed(buf: StatBuffer) -> dict[int, dict]:
    batch = buf.flush()
    assert batch is not None
    return batch.values()


def test_each_finaliser_gets_its_constants_then_its_sums_in_any_dtype_mix():
    buf = StatBuffer(torch.device("cpu"), hist_bins=4)
    seen: dict[str, list[float]] = {}

    def keep(name):
        def finalise(v, world):
            seen[name] = [float(x) for x in v]
            return {f"x/{name}": float(v[0])}

        return finalise

    buf.add(0, torch.tensor([1.5, 2.5]), keep("a32"), consts=(7,))
    buf.add(0, torch.tensor([3.0], dtype=torch.float64), keep("b64"))
    buf.add_histogram(0, "hist/h", torch.tensor([0.1, 0.2, 0.6, 0.9]), (0.0, 1.0))
    buf.add(1, torch.tensor([4.0, 5.0], dtype=torch.float16), keep("c16"), consts=(8, 9))
    buf.add(1, torch.tensor([6.0], dtype=torch.float64), keep("d64"), consts=(10,))
    buf.add(1, torch.tensor(1 / 3), keep("e32"))  # a 0-d float32 sum
    out = _flushed(buf)
    assert seen == {
        "a32": [7.0, 1.5, 2.5],
        "b64": [3.0],
        "c16": [8.0, 9.0, 4.0, 5.0],
        "d64": [10.0, 6.0],
        "e32": [float(np.float32(1 / 3))],  # widened exactly
    }
    assert out[0]["hist/h"].counts == (2, 0, 1, 1)
    assert set(out[1]) == {"x/c16", "x/d64", "x/e32"}
    assert buf.flush() is None  # emptied


def _reference(r: np.ndarray, f: np.ndarray, val: np.ndarray | None) -> dict[str, float]:
    sig = lambda x: 1 / (1 + np.exp(-x))
    want = {
        signals.D_REAL_RAW_MEAN: r.mean(),
        signals.D_REAL_RAW_STD: r.std(ddof=1),
        signals.D_FAKE_RAW_MEAN: f.mean(),
        signals.D_FAKE_RAW_STD: f.std(ddof=1),
        signals.D_RT: np.sign(r).mean(),
        signals.D_REAL_PROB_MEAN: sig(r).mean(),
        signals.D_FAKE_PROB_MEAN: sig(f).mean(),
    }
    if val is not None:
        want[signals.D_VAL_RAW_MEAN] = val.mean()
        want[signals.D_RV] = (r.mean() - val.mean()) / (r.mean() - f.mean())
    return want


@pytest.mark.parametrize("with_val", [False, True])
def test_d_output_and_per_network_statistics_equal_numpy(with_val):
    g = torch.Generator().manual_seed(0)
    r = 1.0 + torch.randn(64, 1, generator=g)
    f = -1.0 + 0.5 * torch.randn(48, generator=g)  # another size and shape
    val = 0.8 + torch.randn(32, generator=g) if with_val else None
    buf = StatBuffer(torch.device("cpu"))
    buf.add(3, *probes.d_output_stats(r, f, val, probabilities=True))
    buf.add(3, *probes.d_net_stats("D_T", r, f, probabilities=True))
    buf.add(3, *probes.loss_stats(["G", "D"], [torch.tensor(0.7), torch.tensor(math.nan)]))
    got = _flushed(buf)[3]
    ref = _reference(r.numpy().ravel(), f.numpy(), None if val is None else val.numpy())
    for key, want in ref.items():
        assert got[key] == pytest.approx(want, rel=1e-5, abs=1e-6), key
    assert got[signals.d_net("D_T", "real", "raw_mean")] == pytest.approx(r.mean().item(), 1e-6)
    assert got[signals.d_net("D_T", "fake", "raw_std")] == pytest.approx(f.std().item(), 1e-5)
    assert got[signals.d_net("D_T", "fake", "prob_mean")] == pytest.approx(
        torch.sigmoid(f).mean().item(), 1e-6
    )
    assert got[signals.loss("G")] == pytest.approx(0.7) and math.isnan(got[signals.loss("D")])
    assert got[signals.LOSS_NONFINITE] == 1.0


def test_per_step_statistics_convert_no_dtype_and_fill_no_constant():
    """On a GPU each of these would be a kernel launch in every step."""
    r, f = torch.randn(16, 1), torch.randn(16, 1)
    losses = [torch.tensor(0.5), torch.tensor(1.5)]
    buf = StatBuffer(torch.device("cpu"))
    ops = OpCounter()
    with ops:
        buf.add(0, *probes.loss_stats(["G", "D"], losses))
        buf.add(0, *probes.d_output_stats(r, f, None, probabilities=True))
        buf.add(0, *probes.d_net_stats("D", r, f, probabilities=False))
    assert not {"_to_copy", "new_full", "full", "isfinite", "cat"} & set(ops.seen), ops.seen
    # a step's statistics are one stack each; the flush widens them all at once
    assert ops.seen["stack"] == 3
