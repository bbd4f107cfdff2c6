"""doctor's default branch budget, and the phase schedule's failures judged at its end."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from fault_injection import FaultAt

from gandiag.detectors.suite import DetectorSuite
from gandiag.doctor import default_budget, doctor, fails_the_schedule
from gandiag.monitor import runtime
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.config import load_config
from gandiag.types import Alert, Severity

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _alert(detector: str, step: int) -> Alert:
    return Alert(detector, Severity.WARNING, step, step - 10, "test")


def test_only_detectors_that_need_the_phase_signals_fail_the_schedule():
    assert fails_the_schedule("fade_in") and fails_the_schedule("transition_instability")
    # class_collapse reads the phase index only to restart at each phase
    assert not fails_the_schedule("class_collapse")
    assert not fails_the_schedule("mode_collapse") and not fails_the_schedule("no_such_detector")


@pytest.mark.parametrize("detector", ["fade_in", "transition_instability"])
def test_a_schedule_failure_is_judged_at_the_runs_last_step(detector):
    cfg = {"steps": 2100, "eval": {"every": 300}}
    # twice the fork-to-alert span would stop the branches at step 360 + 1, in the first
    # resolutions; the schedule's failures are judged through to the run's end
    assert default_budget(_alert(detector, 330), 150, cfg) == 2100 - 1 - 150
    # from the initialisation (fork -1), to the same last step
    assert default_budget(_alert(detector, 330), -1, cfg) == 2100
    # a longer default still wins (the budget only grows)
    assert default_budget(_alert(detector, 1900), 100, {**cfg, "steps": 2000}) == 2 * 1800


def test_other_failures_keep_twice_the_span_or_two_evaluations():
    cfg = {"steps": 2100, "eval": {"every": 200}}
    assert default_budget(_alert("class_collapse", 350), 100, cfg) == 2 * 250
    assert default_budget(_alert("class_collapse", 150), 100, cfg) == 2 * 200
    assert default_budget(_alert("mode_collapse", 600), -1, {"steps": 5000}) == 1200
    assert default_budget(_alert("mode_collapse", 100), -1, {}) == 2 * 500  # no eval: 500


class _FadeFault(FaultAt):
    """A fade_in alert at step 8, dated back to 6 (the detector would need longer phases)."""

    name = "fade_in"

    def update(self, record):
        if self.fired or record.step < 8:
            return []
        self.fired = True
        return [Alert(self.name, Severity.WARNING, record.step, 6, "injected stuck fade")]


@pytest.mark.slow
def test_doctor_runs_a_stuck_fades_branches_to_the_end_of_the_schedule(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    cfg = load_config(CONFIGS / "progan_stuck_fade_glyphs.toml").to_dict()
    cfg = copy.deepcopy(cfg)
    cfg["model"]["options"] = {"width": 8, "latent_dim": 16}
    cfg["data"].update(batch_size=8, options={"n": 64, "image_size": 16})
    cfg["gan"]["options"].update(phase_steps=4, fade_steps=4)
    cfg["steps"] = 24  # levels 4, 8, 16 px: the schedule ends at step 20, stable to 23
    cfg["eval"].update(every=4, num_samples=8, num_real=8, metrics=[], interpolation=False)
    cfg["monitor"]["cadence"] = {"samples": 2, "layers": 2, "grid": 0, "flush": 2}
    cfg["checkpoint"] = {"every": 0, "ring": 4, "ring_every": 3}
    monkeypatch.setattr(
        runtime, "resolve_detectors", lambda spec, kind: DetectorSuite([_FadeFault()])
    )
    run = train(cfg, tmp_path / "run", progress=False)
    result = doctor(run, workers=1)

    # fork at 3 (the last ring checkpoint before the onset 6); twice the span to the
    # alert (10) or two evaluations (8) would stop at step 13, mid-schedule
    assert (result.fork_step, result.budget) == (3, 24 - 1 - 3), result.to_dict()
    assert {b.name for b in result.branches} == {"control", "linear_fade", "longer_fade"}
    for b in result.branches:
        with RunReader(b.run_dir) as r:
            assert r.last_step() == 23
