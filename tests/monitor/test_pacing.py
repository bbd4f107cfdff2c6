"""Pacing: on an accelerator the periodic families keep within a share of wall time."""

from __future__ import annotations

import pytest
import torch
from monitor_toy import ConvD, ConvG, gan_loop

import gandiag
from gandiag import signals
from gandiag.monitor import Cadence
from gandiag.monitor.cadence import Pacer
from gandiag.store import RunReader


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_inactive_pacer_is_the_cadence():
    cad = Cadence(layers=5, samples=3, coverage=0)
    pace = Pacer(cad, active=False)
    for step in range(40):
        for family in ("layers", "histograms", "samples", "grid", "coverage"):
            assert pace.due(family, step) == cad.due(family, step)
    assert not pace.active


def test_a_family_over_its_share_skips_due_steps_until_time_catches_up():
    clock = Clock()
    cad = Cadence(layers=0, histograms=0, samples=10, grid=0, coverage=0, budget=0.1)
    pace = Pacer(cad, active=True, clock=clock)
    assert pace.share == pytest.approx(0.1)  # the only family enabled gets all of it
    pace.start()
    ran = []
    for step in range(400):
        clock.now += 0.01  # a 10 ms training step
        if pace.due("samples", step):
            ran.append(step)
            with pace.charge("samples"):
                clock.now += 0.05  # a 50 ms probe
    # without pacing the probe would take 0.05 / (10 x 0.01 + 0.05) = 33% of the time
    assert ran[0] == 0 and ran[1:] and all(s % 10 == 0 for s in ran)
    assert pace.skipped["samples"] > 0 and pace.ran["samples"] == len(ran)
    share = pace.spent["samples"] / clock.now
    assert share <= 0.1 + 0.05 / clock.now  # within budget, one probe of slack
    assert share > 0.05  # and not starved: it runs whenever it is within budget


def test_a_decision_is_made_once_per_step():
    clock = Clock()
    cad = Cadence(layers=5, histograms=0, samples=0, grid=0, coverage=0, budget=0.5)
    pace = Pacer(cad, active=True, clock=clock)
    pace.start()
    assert pace.due("layers", 0)
    with pace.charge("layers"):
        clock.now += 1.0
    asked_early = pace.due("layers", 5)  # asked two steps ahead (weight snapshots) ...
    clock.now += 100.0  # ... time passes, so a fresh decision would differ ...
    assert pace.due("layers", 5) == asked_early is False  # ... but the step keeps its answer
    assert pace.due("layers", 10)


def test_cpu_keeps_the_fixed_cadence_and_budget_is_a_share(tmp_path):
    with pytest.raises(ValueError, match="share"):
        Cadence(budget=1.0)
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    mon = gandiag.Monitor(tmp_path / "run", generator=G, discriminator=D, detectors=None)
    assert not mon._pace.active  # the CPU: the records of a run do not depend on timing
    mon.close()


def _samples_steps(run_dir) -> list[int]:
    with RunReader(run_dir) as r:
        return [rec.step for rec in r.read_records() if signals.SAMPLES_STD_RATIO in rec.scalars]


@pytest.mark.parametrize("active", [False, True])
def test_a_paced_monitor_skips_probes_over_budget_and_says_so(tmp_path, active):
    """Pacing forced on (as on an accelerator) with a budget no probe fits: each periodic
    family runs at its first due step only; the run's meta says what was skipped; the
    per-step signals are all there."""
    torch.manual_seed(0)
    G, D = ConvG(), ConvD()
    cad = Cadence(layers=4, histograms=4, samples=4, grid=0, coverage=0, flush=5, budget=1e-9)
    mon = gandiag.Monitor(
        tmp_path / "run", generator=G, discriminator=D, latent_dim=8, cadence=cad, detectors=None
    )
    mon._pace = Pacer(cad, active=active)  # what an accelerator's monitor gets
    gan_loop(24, mon, models=(G, D))
    mon.close()
    steps = _samples_steps(mon.run_dir)
    with RunReader(mon.run_dir) as r:
        records = list(r.read_records())
        pacing = r.meta("pacing")
    assert len(records) == 24 and all(signals.loss("G") in rec.scalars for rec in records)
    if not active:
        assert steps == list(range(0, 24, 4))
        return
    assert steps == [0]
    layer_steps = [
        rec.step for rec in records if any(k.startswith("grad/G/layer/") for k in rec.scalars)
    ]
    assert layer_steps == [0]
    assert pacing["active"] and pacing["budget"] == 1e-9
    assert pacing["skipped"]["samples"] == 5 and pacing["ran"]["samples"] == 1
