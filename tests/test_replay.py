"""`gandiag replay`: re-runs detectors over a stored run, read-only unless --write."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "detectors"))
from detector_streams import gan_stream

from gandiag.cli import main
from gandiag.detectors import DetectorSuite
from gandiag.store import RunReader, RunWriter


def digest(run: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(run.iterdir()):
        # SQLite's -wal/-shm sidecars appear whenever any reader opens a WAL database
        if p.is_file() and not p.name.endswith(("-wal", "-shm")):
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    recs = gan_stream(steps=2000, collapse_at=1000, nan_at=1900)
    d = tmp_path / "run"
    with RunWriter(d, kind="gan") as w:
        w.write_steps(recs)
        w.write_alerts(DetectorSuite.default("gan").run(recs))
    return d


def test_replay_prints_the_live_alerts_and_changes_nothing(run: Path, capsys) -> None:
    before = digest(run)
    with RunReader(run) as r:
        stored = r.read_alerts()
    assert main(["replay", str(run)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[:-1] == [a.one_line() for a in stored]
    assert {"mode_collapse", "nonfinite"} <= {a.detector for a in stored}
    assert out[-1].startswith("replayed 2000 steps") and f"{len(stored)} alerts" in out[-1]
    assert digest(run) == before


def test_replay_with_overridden_thresholds_and_detector_subset(run: Path, capsys) -> None:
    assert (
        main(
            [
                "replay",
                str(run),
                "--detectors",
                "mode_collapse",
                "--set",
                "mode_collapse.pdist_max=0.01",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [out[-1]] and "0 alerts" in out[-1]
    assert main(["replay", str(run), "--detectors", "nonfinite"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and "step 1900 nonfinite" in lines[0]


def test_replay_write_replaces_stored_alerts(run: Path, capsys) -> None:
    assert main(["replay", str(run), "--detectors", "nonfinite", "--write"]) == 0
    with RunReader(run) as r:
        alerts = r.read_alerts()
        assert [a.detector for a in alerts] == ["nonfinite"]
        assert r.info().status == "finished"


def test_replay_bad_input(tmp_path: Path, run: Path, capsys) -> None:
    assert main(["replay", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["replay", str(run), "--set", "mode_collapse.pdist_maximum=1"]) == 2
    assert "valid parameters" in capsys.readouterr().err
    assert main(["replay", str(run), "--detectors", "mode_colapse"]) == 2
    assert "registered detectors" in capsys.readouterr().err


def test_replay_list(capsys) -> None:
    assert main(["replay", "--list"]) == 0
    out = capsys.readouterr().out
    assert "mode_collapse: pdist_max=0.3" in out and "posterior_collapse:" in out


def test_a_run_without_a_recorded_set_replays_its_models_default_set():
    # runs written before the set was recorded: the defaults of their kind, a reference
    # model's name included (kind "cyclegan": the translation set)
    from gandiag.cli.replay import _suite

    names = {d.name for d in _suite(None, {}, None, "cyclegan").detectors}
    assert {"identity_mapping", "steganography"} <= names
    names = {d.name for d in _suite(None, {}, None, "stylegan").detectors}
    assert {"w_collapse", "mode_collapse"} <= names
    names = {d.name for d in _suite(None, {}, None, "vae").detectors}
    assert "posterior_collapse" in names
