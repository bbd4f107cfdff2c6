"""Run store: round trip, incremental reads, downsampling, concurrency, crashes, bad input."""

from __future__ import annotations

import math
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

import numpy as np
import pytest

from gandiag.images import grid_png
from gandiag.store import (
    CorruptRunError,
    NotARunError,
    RunReader,
    RunWriter,
    SchemaVersionError,
    find_runs,
)
from gandiag.types import Alert, Histogram, MetricProtocol, MetricResult, Severity, StepRecord


def _records(start: int, stop: int) -> list[StepRecord]:
    return [
        StepRecord(
            step=s,
            scalars={
                "loss/G": float(s),
                "loss/D": 1.0 / (s + 1),
                "grad/G/norm": math.nan if s == 7 else 0.5,
            },
            histograms={"d/real/prob": Histogram(0.0, 1.0, (s, 1, 2))} if s % 2 == 0 else {},
            wall_time=1000.0 + s,
        )
        for s in range(start, stop)
    ]


def test_round_trip_of_every_record_type(tmp_path: Path) -> None:
    run = tmp_path / "run"
    recs = _records(0, 20)
    alert = Alert(
        "vanishing_gradients",
        Severity.CRITICAL,
        12,
        9,
        "G gradients vanished.",
        {"grad_norm": 1e-5, "d_fake": math.inf},
        ("Use the non-saturating loss.",),
    )
    metric = MetricResult(
        "fid",
        12.5,
        MetricProtocol("glyph", "ab" * 32, "none", 1000, 1000, {"k": 3}),
        uncertainty=0.4,
        interval=(11.9, 13.2),
        step=19,
    )
    png = grid_png(np.zeros((4, 1, 8, 8)))
    with RunWriter(run, config={"lr": 2e-4, "model": "dcgan"}, name="my run", kind="gan") as w:
        w.write_steps(recs)
        w.write_alerts([alert])
        w.write_metrics([metric])
        w.write_sample_grid(10, png)

    with RunReader(run) as r:
        info = r.info()
        assert (info.name, info.kind, info.status) == ("my run", "gan", "finished")
        assert info.config == {"lr": 2e-4, "model": "dcgan"}
        assert (info.num_steps, info.last_step) == (20, 19)
        back = list(r.read_records())
        assert [b.step for b in back] == list(range(20))
        for a, b in zip(recs, back):
            assert a.scalars.keys() == b.scalars.keys()
            for k in a.scalars:
                assert (math.isnan(a.scalars[k]) and math.isnan(b.scalars[k])) or a.scalars[
                    k
                ] == b.scalars[k]
            assert dict(a.histograms) == dict(b.histograms)
            assert a.wall_time == b.wall_time
        assert r.read_alerts() == [alert]
        assert r.read_metrics() == [metric]
        grids = r.sample_grids()
        assert [(g.step, g.name) for g in grids] == [(10, "samples")]
        assert grids[0].path.read_bytes() == png


def test_truncate_after_forgets_everything_later(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proto = MetricProtocol("glyph", "ab" * 32, "none", 10, 10, {})
    png = grid_png(np.zeros((4, 1, 8, 8)))
    with RunWriter(run) as w:
        w.write_steps(_records(0, 20))
        w.write_alerts([Alert("x", Severity.WARNING, s, s, "d", {}, ()) for s in (5, 12, 19)])
        w.write_metrics([MetricResult("fid", 1.0, proto, step=s) for s in (4, 15, None)])
        late = w.write_sample_grid(16, png)
        w.write_sample_grid(8, png)
        w.truncate_after(9)
    with RunReader(run) as r:
        assert [rec.step for rec in r.read_records()] == list(range(10))
        assert r.read_scalars(["loss/G"])["loss/G"].steps.max() == 9
        assert [s for s, _ in r.read_histograms("d/real/prob")] == [0, 2, 4, 6, 8]
        assert [a.step for a in r.read_alerts()] == [5]
        assert [m.step for m in r.read_metrics()] == [4, None]  # run-level metrics stay
        assert [g.step for g in r.sample_grids()] == [8]
    assert not late.exists()


def test_incremental_reads_return_only_new_steps(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "run")
    w.write_steps(_records(0, 10))
    r = RunReader(tmp_path / "run")
    first = r.read_scalars(["loss/G"])["loss/G"]
    assert first.steps.tolist() == list(range(10))
    w.write_steps(_records(10, 15))
    new = r.read_scalars(["loss/G"], since_step=int(first.steps[-1]))["loss/G"]
    assert new.steps.tolist() == list(range(10, 15))
    assert [rec.step for rec in r.read_records(since_step=12)] == [13, 14]
    assert [s for s, _ in r.read_histograms("d/real/prob", since_step=9)] == [10, 12, 14]
    w.close()


def test_downsampling_caps_points_and_keeps_extremes(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "run")
    values = np.sin(np.arange(10_000) / 50.0)
    w.write_steps(StepRecord(i, {"x": float(v)}) for i, v in enumerate(values))
    w.close()
    s = RunReader(tmp_path / "run").read_scalars(["x"], max_points=100)["x"]
    assert len(s) <= 100
    assert s.hi.max() == pytest.approx(values.max())
    assert s.lo.min() == pytest.approx(values.min())
    # Each bucket mean lies between its min and max.
    assert np.all(s.lo <= s.values + 1e-12) and np.all(s.values <= s.hi + 1e-12)


def test_nan_values_survive_and_all_nan_bucket_reads_nan(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "run")
    w.write_steps([StepRecord(i, {"loss/D": math.nan if i >= 5 else 1.0}) for i in range(10)])
    w.close()
    r = RunReader(tmp_path / "run")
    full = r.read_scalars(["loss/D"])["loss/D"].values
    assert np.isnan(full[5:]).all() and (full[:5] == 1.0).all()
    down = r.read_scalars(["loss/D"], max_points=2)["loss/D"].values
    assert down[0] == 1.0 and math.isnan(down[1])


def test_one_writer_and_several_readers_concurrently(tmp_path: Path) -> None:
    run = tmp_path / "run"
    w = RunWriter(run)
    w.write_steps(_records(0, 1))
    errors: list[BaseException] = []
    seen: list[list[int]] = [[] for _ in range(3)]
    done = threading.Event()

    def reader(i: int) -> None:
        try:
            r = RunReader(run)
            last = None
            while not done.is_set():
                for s in r.read_scalars(["loss/G"], since_step=last).values():
                    seen[i].extend(s.steps.tolist())
                    if len(s):
                        last = int(s.steps[-1])
                r.info()
            for s in r.read_scalars(["loss/G"], since_step=last).values():
                seen[i].extend(s.steps.tolist())
        except Exception as exc:  # noqa: BLE001 - any failure in a reader thread is reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for start in range(1, 400, 10):
        w.write_steps(_records(start, start + 10))
    done.set()
    for t in threads:
        t.join()
    w.close()
    assert not errors
    for steps in seen:
        assert steps == list(range(401))  # every step exactly once, in order


_CRASHING_WRITER = textwrap.dedent(
    """
    import sys, time
    from gandiag.store import RunWriter
    from gandiag.types import StepRecord
    w = RunWriter(sys.argv[1])
    for block in range(5):
        w.write_steps(StepRecord(s, {"loss/G": float(s)}) for s in range(block * 100, block * 100 + 100))
    print("flushed", flush=True)
    time.sleep(60)
    """
)


def test_killed_writer_keeps_every_flushed_step_and_reads_as_crashed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WRITER, str(run)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "flushed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = RunReader(run)
    assert r.info().status == "crashed"
    assert r.read_scalars(["loss/G"])["loss/G"].steps.tolist() == list(range(500))
    # The crashed run can be resumed by a new writer and keeps its steps.
    with RunWriter(run, resume=True) as w:
        w.write_steps([StepRecord(500, {"loss/G": 500.0})])
    assert RunReader(run).info().num_steps == 501


def test_creating_over_an_existing_run_refuses_and_keeps_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps(_records(0, 5))
    with pytest.raises(FileExistsError, match="resume"):
        RunWriter(run)
    assert RunReader(run).info().num_steps == 5


def test_directory_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    with pytest.raises(NotARunError, match="not a gandiag run"):
        RunReader(tmp_path / "x")
    with pytest.raises(NotARunError, match="does not exist"):
        RunReader(tmp_path / "missing")


def test_truncated_database_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps(_records(0, 200))
    db = run / "run.sqlite"
    data = db.read_bytes()
    db.write_bytes(data[:100])  # header cut mid-way
    before = db.read_bytes()
    with pytest.raises(CorruptRunError, match="recover"):
        RunReader(run)
    with pytest.raises(CorruptRunError, match="recover"):
        RunWriter(run, resume=True)
    assert db.read_bytes() == before


def test_other_schema_version_is_refused_without_modification(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps(_records(0, 3))
    conn = sqlite3.connect(run / "run.sqlite")
    with conn:
        conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.close()
    before = (run / "run.sqlite").read_bytes()
    with pytest.raises(SchemaVersionError, match="schema 0"):
        RunReader(run)
    with pytest.raises(SchemaVersionError):
        RunWriter(run, resume=True)
    assert (run / "run.sqlite").read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; permission check is moot")
def test_unwritable_output_directory(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(OSError, match="choose"):
        RunWriter(ro / "run")


def test_output_directory_under_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="cannot create the run directory"):
        RunWriter(tmp_path / "file" / "run")


def test_find_runs_and_sample_paths_stay_inside_the_run(tmp_path: Path) -> None:
    for name in ("a", "b/c"):
        with RunWriter(tmp_path / name) as w:
            w.write_steps(_records(0, 2))
    (tmp_path / "not_a_run").mkdir()
    assert find_runs(tmp_path) == [tmp_path / "a", tmp_path / "b" / "c"]
    # A sample row pointing outside the run directory is never handed out.
    run = tmp_path / "a"
    conn = sqlite3.connect(run / "run.sqlite")
    with conn:
        conn.execute("INSERT INTO samples(step, name, path) VALUES (1, 'evil', '../../etc/passwd')")
    conn.close()
    assert RunReader(run).sample_grids() == []


def test_reader_works_on_a_read_only_copy(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps(_records(0, 5))
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert RunReader(copy).info().num_steps == 5


def test_write_sample_grid_rejects_non_png(tmp_path: Path) -> None:
    with RunWriter(tmp_path / "run") as w, pytest.raises(ValueError, match="PNG"):
        w.write_sample_grid(0, b"not a png")


def test_heartbeat_and_status_while_training(tmp_path: Path) -> None:
    w = RunWriter(tmp_path / "run")
    r = RunReader(tmp_path / "run")
    assert r.info().status == "training"
    hb = r.info().heartbeat
    time.sleep(0.01)
    w.write_steps(_records(0, 1))
    assert r.info().heartbeat > hb
    w.close("crashed")
    assert r.info().status == "crashed"


def test_output_directory_that_cannot_be_created() -> None:
    # /proc refuses new directories even for root, so this runs everywhere.
    with pytest.raises(OSError, match="choose a directory you can write to"):
        RunWriter("/proc/gandiag-test-run")
