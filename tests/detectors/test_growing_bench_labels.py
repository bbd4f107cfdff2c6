"""The growing-families bench's outcome labels and measures (bench/growing_families.py)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from growing_families import _orientation, _ratio, label, schedule_steps

NAN = math.nan


def _outcomes(n: int, **series: list[float]) -> dict[str, list[float]]:
    base = {
        "step": [10 * i for i in range(n)],
        "diversity": [1.0] * n,
        "z_diversity": [NAN] * n,
        "detail": [NAN] * n,
        "orientation": [1.0] * n,
        "phase_index": [0] * n,
    }
    return {**base, **series}


def test_a_healthy_run_has_no_label():
    assert label("x", _outcomes(6), {}) == {}


def test_w_collapse_and_stage_copy_need_the_measure_low_to_the_end():
    o = _outcomes(6, z_diversity=[1.0, 0.5, 0.05, 0.2, 0.05, 0.01])
    assert label("x", o, {}) == {"w_collapse": 40}  # the run of lows that reaches the end
    o = _outcomes(6, z_diversity=[1.0, 0.05, 0.05, 0.5, 0.5, 0.5])
    assert label("x", o, {}) == {}  # recovered: no label
    o = _outcomes(4, detail=[0.0, 0.0, 0.0, 0.0])
    assert label("x", o, {}) == {"stage_copy": 0}
    # a phased model's detail band changes with its level: not read
    assert label("x", _outcomes(4, detail=[0.0] * 4, phase_index=[0, 0, 1, 1]), {}) == {}


def test_augment_leak_needs_an_oriented_start():
    o = _outcomes(5, orientation=[1.0, 0.9, 0.3, 0.2, 0.2])
    assert label("x", o, {}) == {"augment_leak": 20}
    # never oriented (samples symmetric from the start): nothing leaked
    assert label("x", _outcomes(5, orientation=[0.2] * 5), {}) == {}


def test_orientation_is_zero_for_a_symmetrised_set_and_scales_with_the_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=g)
    assert _orientation(x) > 0
    turns = [torch.rot90(x, k, dims=(-2, -1)) for k in range(4)]
    sym = torch.cat(turns + [t.flip(-1) for t in turns])
    assert _orientation(sym) < 1e-12 * _orientation(x)
    assert math.isclose(_orientation(3 * x), 3 * _orientation(x), rel_tol=1e-6)  # float32 images
    assert math.isnan(_ratio(1.0, 0.0)) and _ratio(1.0, 2.0) == 0.5


def test_progressive_schedule_length():
    assert schedule_steps({"phase_steps": 30, "fade_steps": 30}, 4) == 210
