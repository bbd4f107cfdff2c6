"""One writer per run, checked with two real processes: a live writer's run is refused to
every other writer (RunWriter, Monitor, `gandiag train --resume`) without any change, and
the lock of a killed writer is taken over on resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from browser_support import tree_digest
from torch import nn

from gandiag.store import RunLockedError, RunReader, RunWriter, current_writer
from gandiag.types import StepRecord

HOLDER = textwrap.dedent("""
    import sys

    from gandiag.store import RunWriter
    from gandiag.types import StepRecord
    w = RunWriter(sys.argv[1], name="live")
    w.write_steps([StepRecord(s, {"loss/G": 1.0, "loss/D": 0.5}) for s in range(100)])
    print("ready", flush=True)
    sys.stdin.read()  # holds the run until the test closes stdin, or kills this process
    w.close()
""")


@pytest.fixture
def live_writer(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield run, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


@pytest.mark.filterwarnings("ignore:the VAE has no .decode")
def test_second_writer_on_a_live_run_is_refused_naming_the_holder(
    live_writer: tuple[Path, subprocess.Popen], tmp_path: Path
) -> None:
    run, proc = live_writer
    before = tree_digest(run)
    holder = current_writer(run)
    assert holder is not None and holder.pid == proc.pid
    for resume in (True, False):
        with pytest.raises(RunLockedError, match=rf"process {proc.pid} on host") as err:
            RunWriter(run, resume=resume)
        assert "--resume" not in str(err.value)  # never steers into a second writer
    with pytest.raises(RunLockedError, match=str(proc.pid)):
        from gandiag.monitor import Monitor

        Monitor(run, model=nn.Linear(2, 2), resume=True, detectors=None, quiet=True)
    from gandiag.train import train

    with pytest.raises(RunLockedError, match=str(proc.pid)):
        train(Path(__file__).parents[2] / "configs" / "dcgan_glyphs.toml", run, resume=True)
    assert tree_digest(run) == before
    with RunReader(run) as r:
        info = r.info()
        assert (info.status, info.num_steps) == ("training", 100)
    # The live writer is untouched and closes normally.
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(60) == 0
    with RunReader(run) as r:
        assert r.info().status == "finished"
    assert current_writer(run) is None


def test_lock_of_a_killed_writer_is_taken_over_on_resume(
    live_writer: tuple[Path, subprocess.Popen],
) -> None:
    run, proc = live_writer
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    with RunReader(run) as r:
        assert r.info().status == "crashed"
    assert current_writer(run) is None
    with pytest.raises(FileExistsError, match="already holds a gandiag run"):
        RunWriter(run)  # a new run over it is still refused
    w = RunWriter(run, resume=True)
    try:
        holder = current_writer(run)
        assert holder is not None and holder.pid == os.getpid()
        w.write_steps([StepRecord(s, {"loss/G": 2.0}) for s in range(100, 110)])
    finally:
        w.close()
    with RunReader(run) as r:
        info = r.info()
        assert (info.status, info.num_steps, info.last_step) == ("finished", 110, 109)


def test_a_refused_new_run_leaves_no_lock_file_behind(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps([StepRecord(0, {"x": torch.tensor(1.0).item()})])
    (run / "writer.lock").unlink()  # as a run written before writer locks existed
    before = tree_digest(run)
    with pytest.raises(FileExistsError):
        RunWriter(run)
    assert tree_digest(run) == before
