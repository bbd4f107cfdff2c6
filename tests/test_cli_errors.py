"""What a user sees when something goes wrong: one line naming the file and the fix for bad
input or a full disk, a traceback for bugs; damaged inputs never modified."""

from __future__ import annotations

import argparse
import errno
import sqlite3
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gandiag.cli import main
from gandiag.store import (
    STATUS_CRASHED,
    CorruptRunError,
    RunReader,
    RunWriter,
    current_writer,
    is_disk_full,
)
from gandiag.types import StepRecord

TINY = textwrap.dedent("""
    steps = 9
    [model]
    name = "mlp_gan"
    [data]
    name = "ring8"
    options = { n = 512 }
    batch_size = 64
    [eval]
    every = 3
    num_samples = 200
    metrics = []
    [checkpoint]
    every = 3
    [monitor.cadence]
    flush = 2
    samples = 2
    layers = 2
    grid = 3
""")


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def _tiny_run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    with RunWriter(run) as w:
        w.write_steps([StepRecord(s, {"loss/G": 1.0, "loss/D": 0.5}) for s in range(5)])
    return run


def test_foreign_sqlite_with_a_meta_table_is_one_line_naming_the_file(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    db = foreign / "run.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE meta(key TEXT, value TEXT)")
        c.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    before = db.read_bytes()
    assert main(["replay", str(foreign)]) == 2
    err = _one_line(capsys)
    assert str(db) in err and "not a gandiag run store" in err
    with pytest.raises(ValueError, match="not a gandiag run store"):
        RunWriter(foreign, resume=True)
    assert db.read_bytes() == before


def test_invalid_json_in_meta_names_the_file(tmp_path, capsys):
    run = _tiny_run(tmp_path)
    with sqlite3.connect(run / "run.sqlite") as c:
        c.execute("UPDATE meta SET value = '{oops' WHERE key = 'config'")
    assert main(["replay", str(run)]) == 2
    err = _one_line(capsys)
    assert str(run / "run.sqlite") in err and "invalid JSON" in err and "'config'" in err
    with pytest.raises(CorruptRunError, match="invalid JSON"):
        RunWriter(run, resume=True)


def test_bugs_keep_their_traceback(tmp_path, monkeypatch, capsys):
    from gandiag.cli import replay

    run = _tiny_run(tmp_path)
    monkeypatch.setattr(replay, "run", lambda args: np.zeros(-1))  # numpy's ValueError
    with pytest.raises(ValueError, match="negative dimensions"):
        main(["replay", str(run)])
    monkeypatch.setattr(replay, "run", lambda args: {}["missing"])
    with pytest.raises(KeyError):
        main(["replay", str(run)])
    assert capsys.readouterr().err == ""


def test_usage_errors_stay_one_line(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope")]) == 2
    assert "does not exist" in _one_line(capsys)
    assert main(["train", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "missing.toml" in _one_line(capsys)


def test_unsafe_checkpoint_is_refused_without_torchs_hint(tmp_path, capsys):
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY.replace("steps = 9", "steps = 4"))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    ckpt = run / "checkpoint.pt"
    torch.save({"format": 1, "payload": argparse.Namespace(code="anything")}, ckpt)
    before = ckpt.read_bytes()
    assert main(["train", str(cfg), "--out", str(run), "--resume", "--steps", "8"]) == 2
    err = _one_line(capsys)
    assert str(ckpt) in err and "refuses to load" in err
    assert "weights_only=False" not in err and "likely succeed" not in err
    assert ckpt.read_bytes() == before


def test_full_disk_during_train_says_what_is_safe(tmp_path, monkeypatch, capsys):
    """ENOSPC simulated on the second checkpoint write (monkeypatched, as the OS raises it)."""
    from gandiag.train import checkpoint

    real_write, calls = checkpoint.atomic_write, []

    def full_after_first(path, write):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_write(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", full_after_first)
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(TINY)
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--out", str(run), "--no-progress"]) == 2
    err = _one_line(capsys)
    assert "disk holding" in err and "is full" in err and "stopped at step 6" in err
    assert "(step 3) is intact" in err and "--resume" in err
    assert current_writer(run) is None
    with RunReader(run) as r:
        info = r.info()
        assert info.status == STATUS_CRASHED and info.last_step == 6
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 3
    monkeypatch.setattr(checkpoint, "atomic_write", real_write)  # space freed
    assert main(["train", str(cfg), "--out", str(run), "--resume", "--no-progress"]) == 0
    with RunReader(run) as r:
        assert (r.info().status, r.last_step()) == ("finished", 8)


def test_writer_close_after_sqlite_full_does_not_raise_again(tmp_path):
    w = RunWriter(tmp_path / "run")
    (pages,) = w._conn.execute("PRAGMA page_count").fetchone()
    w._conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own SQLITE_FULL
    with pytest.raises(sqlite3.OperationalError) as full:
        for start in range(0, 100_000, 1000):
            w.write_steps(
                StepRecord(s, {f"s{i}": float(s) for i in range(20)})
                for s in range(start, start + 1000)
            )
    assert is_disk_full(full.value)
    w.close(STATUS_CRASHED)  # logs that it could not mark the run, does not raise
    w.close()
    assert current_writer(tmp_path / "run") is None
