"""Replay of a stored run gives the live alerts; a resumed run alerts as an uninterrupted one."""

from __future__ import annotations

import json
import math

import torch
from monitor_toy import ConvD, ConvG, ThresholdDetector, gan_loop

import gandiag
from gandiag.detectors.base import Detector, run_detectors
from gandiag.monitor import Cadence
from gandiag.store import RunReader
from gandiag.types import StepRecord

CAD = Cadence(layers=3, histograms=2, samples=4, grid=0, flush=5)


class Recorder(Detector):
    """Keeps every record it is fed, to compare with what the store reads back."""

    name = "recorder"

    def __init__(self) -> None:
        self.records: list[StepRecord] = []

    def update(self, record):
        self.records.append(record)
        return []

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def _keys(alerts) -> list[str]:
    """Alerts as comparable strings (NaN evidence compares equal to NaN)."""
    return [json.dumps(a.to_dict(), sort_keys=True) for a in alerts]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_replay_equals_live(tmp_path):
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    rec = Recorder()
    mon = gandiag.Monitor(
        tmp_path / "run",
        generator=G,
        discriminator=D,
        latent_dim=8,
        cadence=CAD,
        detectors=[ThresholdDetector(threshold=1.35), rec],
        quiet=True,
    )
    _, _, live = gan_loop(16, mon, models=(G, D), nan_at=13)
    live += mon.close()
    assert len(live) >= 2
    reader = RunReader(tmp_path / "run")
    stored = list(reader.read_records())
    assert [r.step for r in stored] == [r.step for r in rec.records] == list(range(16))
    for a, b in zip(rec.records, stored):
        assert a.scalars.keys() == b.scalars.keys()
        assert all(_same(a.scalars[k], b.scalars[k]) for k in a.scalars), a.step
        assert a.histograms == b.histograms
    replayed = run_detectors([ThresholdDetector(threshold=1.35)], stored)
    assert _keys(replayed) == _keys(live)
    assert _keys(reader.read_alerts()) == _keys(live)


def _run(mon, start, steps, models):
    _, _, alerts = gan_loop(steps, mon, models=models, start=start, seed=start)
    return alerts


def test_resumed_run_alerts_exactly_as_an_uninterrupted_one(tmp_path):
    kw = {"latent_dim": 8, "cadence": CAD, "quiet": True}
    torch.manual_seed(0)
    models = (ConvG(), ConvD())
    mon = gandiag.Monitor(
        tmp_path / "a", *models, detectors=[ThresholdDetector(threshold=1.36)], **kw
    )
    straight = _run(mon, 0, 7, models) + _run(mon, 7, 8, models)
    straight += mon.close()

    torch.manual_seed(0)
    models = (ConvG(), ConvD())
    mon = gandiag.Monitor(
        tmp_path / "b", *models, detectors=[ThresholdDetector(threshold=1.36)], **kw
    )
    resumed = _run(mon, 0, 7, models)
    state = mon.state_dict()
    resumed += mon.close()
    mon = gandiag.Monitor(
        tmp_path / "b", *models, detectors=[ThresholdDetector(threshold=1.36)], resume=True, **kw
    )
    mon.load_state_dict(state)
    resumed += _run(mon, 7, 8, models)
    resumed += mon.close()
    assert len(straight) >= 2
    assert _keys(resumed) == _keys(straight)
    assert _keys(RunReader(tmp_path / "b").read_alerts()) == _keys(straight)
    # The detector state survives a JSON round trip too (checkpoints are often JSON/pickle).
    assert json.loads(json.dumps(state))["detectors"] == state["detectors"]


def test_resume_after_a_crash_forgets_what_followed_the_checkpoint(tmp_path):
    kw = {"latent_dim": 8, "cadence": CAD, "quiet": True}

    def monitor(name, **extra):
        det = [ThresholdDetector(threshold=1.36)]
        return gandiag.Monitor(tmp_path / name, *models, detectors=det, **kw, **extra)

    torch.manual_seed(0)
    models = (ConvG(), ConvD())
    mon = monitor("a")
    straight = _run(mon, 0, 7, models) + _run(mon, 7, 8, models)
    straight += mon.close()

    torch.manual_seed(0)
    models = (ConvG(), ConvD())
    mon = monitor("b")
    _run(mon, 0, 7, models)
    state = mon.state_dict()  # the checkpoint, at step 6
    snapshot = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    # The process goes on past its checkpoint, writes records and alerts, then dies.
    _run(mon, 7, 8, models)
    mon.close(status="crashed")
    before = RunReader(tmp_path / "b")
    assert max(a.step for a in before.read_alerts()) > 6
    assert before.info().last_step > 6  # flushed (a crash loses only the unflushed tail)
    for m, saved in zip(models, snapshot):
        m.load_state_dict(saved)
    mon = monitor("b", resume=True)
    mon.load_state_dict(state)
    after = RunReader(tmp_path / "b")
    assert after.info().last_step == 6
    assert all(a.step <= 6 for a in after.read_alerts())
    resumed_alerts = _run(mon, 7, 8, models) + mon.close()
    reader = RunReader(tmp_path / "b")
    assert [r.step for r in reader.read_records()] == list(range(15))
    # No alert is stored twice: the store holds what the uninterrupted run raised.
    assert _keys(reader.read_alerts()) == _keys(straight)
    assert _keys(resumed_alerts) == [k for k in _keys(straight) if json.loads(k)["step"] > 6]


def test_load_state_dict_checks_the_detectors(tmp_path):
    mon = gandiag.Monitor(tmp_path / "run", *(ConvG(), ConvD()), detectors=[ThresholdDetector()])
    bad = {"format": 1, "last_step": 3, "detectors": [{"name": "other", "state": {}}]}
    try:
        import pytest

        with pytest.raises(ValueError, match="same detectors="):
            mon.load_state_dict(bad)
        with pytest.raises(ValueError, match="format"):
            mon.load_state_dict({"detectors": []})
    finally:
        mon.close()
