"""Replay's read path is linear in the run's length.

Counted in SQLite virtual-machine instructions (deterministic, unlike wall-clock time): a
run 4x as long must cost about 4x as much to read back as step records, as a plain read
of its series does. The join this replaced cost 16x (quadratic).
"""

from __future__ import annotations

from pathlib import Path

from gandiag.store import RunReader, RunWriter
from gandiag.types import Histogram, StepRecord


def _write(run: Path, steps: int) -> None:
    with RunWriter(run) as w:
        w.write_steps(
            StepRecord(
                s,
                {f"series/{i}": float(s * i) for i in range(6)},
                {"d/real/prob": Histogram(0.0, 1.0, (s, 1))} if s % 10 == 0 else {},
                wall_time=float(s),
            )
            for s in range(steps)
        )


def _vm_instructions(run: Path, read) -> int:
    count = 0

    def tick() -> int:
        nonlocal count
        count += 1
        return 0

    with RunReader(run) as r:
        r._conn.set_progress_handler(tick, 100)
        read(r)
    return count


def test_reading_step_records_is_linear_in_run_length(tmp_path: Path) -> None:
    short, long = tmp_path / "short", tmp_path / "long"
    _write(short, 500)
    _write(long, 2000)
    recs = list(RunReader(long).read_records())
    assert [r.step for r in recs] == list(range(2000))
    assert recs[1234].scalars == {f"series/{i}": 1234.0 * i for i in range(6)}
    assert recs[1230].histograms["d/real/prob"].counts == (1230, 1)
    assert recs[1234].histograms == {} and recs[1234].wall_time == 1234.0

    def replay(r: RunReader) -> None:
        for _ in r.read_records():
            pass

    def plain(r: RunReader) -> None:
        r.read_scalars()

    growth = _vm_instructions(long, replay) / _vm_instructions(short, replay)
    assert growth < 5.0, f"reading 4x the steps cost {growth:.1f}x (quadratic would be 16x)"
    # And no more SQL work than a plain read of every series, times a small constant.
    ratio = _vm_instructions(long, replay) / _vm_instructions(long, plain)
    assert ratio < 3.0, ratio


def test_read_records_since_step_and_small_chunks(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write(run, 57)
    with RunReader(run) as r:
        whole = list(r.read_records())
        chunked = list(r.read_records(chunk_steps=5))
        later = list(r.read_records(since_step=40, chunk_steps=4))
    assert chunked == whole
    assert later == whole[41:]
