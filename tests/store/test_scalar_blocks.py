"""Downsampled reads of long runs come from per-block summaries the writer keeps; they must
give exactly the bucket statistics of the raw values (first step, mean of the finite values,
min, max), stay right through rewritten steps, NaNs and truncation, and runs written before
blocks existed read correctly and get their blocks on resume."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gandiag.store import RunReader, RunWriter
from gandiag.store.schema import BLOCK_SHIFT
from gandiag.types import StepRecord

STEPS, MAX_POINTS = 6000, 40  # buckets of 160 steps: whole blocks of 32


def _value(step: int, i: int) -> float:
    if step % 97 == 0 or (i == 1 and 1000 <= step < 1300):  # NaNs, and an all-NaN stretch
        return math.nan
    return math.sin(step / 50.0 + i) + step / 1000.0


def _write(run: Path) -> None:
    with RunWriter(run) as w:
        for start in range(0, STEPS, 250):
            w.write_steps(
                StepRecord(s, {f"x{i}": _value(s, i) for i in range(3)})
                for s in range(start, start + 250)
                if s % 3 != 2 or s < 3000  # sparser later, as a changed cadence
            )
        w.write_steps([StepRecord(10, {"x0": 100.0}), StepRecord(4001, {"x2": -50.0})])


def _expected(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    blocks = steps >> BLOCK_SHIFT
    b0 = blocks[0]
    per = -(-(blocks[-1] - b0 + 1) // MAX_POINTS)
    bucket = (blocks - b0) // per
    out = []
    for b in np.unique(bucket):
        sel = bucket == b
        v = values[sel]
        f = v[np.isfinite(v)]
        out.append(
            (
                steps[sel][0],
                f.mean() if f.size else np.nan,
                f.min(initial=np.inf),
                f.max(initial=-np.inf),
            )
        )
    arr = np.array(out, dtype=np.float64)
    arr[np.isinf(arr)] = np.nan
    return tuple(arr.T)


def _check(run: Path, blocks_expected: bool) -> None:
    with RunReader(run) as r:
        assert r._has_blocks() == blocks_expected
        raw = r.read_scalars()
        down = r.read_scalars(max_points=MAX_POINTS)
    for name, s in raw.items():
        d = down[name]
        assert len(d) <= MAX_POINTS
        if not blocks_expected:
            continue
        steps, mean, lo, hi = _expected(s.steps, s.values)
        np.testing.assert_array_equal(d.steps, steps)
        np.testing.assert_allclose(d.values, mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(d.lo, lo)
        np.testing.assert_array_equal(d.hi, hi)


def test_block_summaries_match_the_raw_values(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write(run)
    _check(run, blocks_expected=True)
    with RunReader(run) as r:  # a rewritten step counts once, with its new value
        assert r.read_scalars(["x0"], max_points=MAX_POINTS)["x0"].hi[0] == 100.0


def test_truncation_keeps_blocks_exact(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write(run)
    with RunWriter(run, resume=True) as w:
        w.truncate_after(4321)  # inside a block
        w.write_steps(StepRecord(s, {"x0": -1.0}) for s in range(4322, 4400))
    _check(run, blocks_expected=True)
    with RunReader(run) as r:
        s = r.read_scalars(["x2"])["x2"]
        assert s.steps[-1] == 4321


def test_runs_without_blocks_read_raw_and_get_blocks_on_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write(run)
    with sqlite3.connect(run / "run.sqlite") as c:  # as written by an earlier gandiag
        c.execute("DELETE FROM scalar_blocks")
        c.execute("DELETE FROM meta WHERE key = 'scalar_blocks'")
    with RunReader(run) as r:
        raw_down = r.read_scalars(max_points=MAX_POINTS)
    _check(run, blocks_expected=False)
    RunWriter(run, resume=True).close()
    _check(run, blocks_expected=True)
    with RunReader(run) as r:
        block_down = r.read_scalars(max_points=MAX_POINTS)
    for name, s in raw_down.items():  # both are bucket statistics of the same values
        assert np.nanmax(s.hi) == pytest.approx(np.nanmax(block_down[name].hi))
        assert np.nanmin(s.lo) == pytest.approx(np.nanmin(block_down[name].lo))
