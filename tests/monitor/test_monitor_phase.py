"""Monitor.set_phase: phases round-trip through the run store (meta and per-step scalars)."""

import pytest
import torch
from monitor_toy import ConvD, ConvG

import gandiag
from gandiag import signals as S
from gandiag.phases import boundaries, read_phases
from gandiag.store import RunReader


def _step(mon, step):
    x = torch.randn(4, 1, 8, 8)
    mon.step(
        step,
        losses={"G": 1.0, "D": 1.0},
        d_real=torch.randn(4),
        d_fake=torch.randn(4),
        real=x,
        fake=x,
    )


def _monitor(path, **kw):
    return gandiag.Monitor(
        path,
        generator=ConvG(),
        discriminator=ConvD(),
        latent_dim=8,
        detectors=None,
        quiet=True,
        cadence=gandiag.monitor.Cadence(flush=3, grid=0, samples=0),
        **kw,
    )


def test_phases_round_trip_through_the_store(tmp_path):
    mon = _monitor(tmp_path / "r")
    plan = [("res4", None)] * 3 + [("res8", 0.0), ("res8", 0.5), ("res8", 1.0), ("res16", 0.25)]
    for step, (name, alpha) in enumerate(plan):
        mon.set_phase(name, alpha=alpha)
        _step(mon, step)
    mon.close()
    reader = RunReader(tmp_path / "r")
    phases = read_phases(reader)
    assert [(p.name, p.start_step, p.end_step) for p in phases] == [
        ("res4", 0, 3),
        ("res8", 3, 6),
        ("res16", 6, None),
    ]
    assert boundaries(phases) == [(3, "res8"), (6, "res16")]
    series = reader.read_scalars([S.PHASE_INDEX, S.PHASE_ALPHA])
    assert series[S.PHASE_INDEX].values.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert series[S.PHASE_ALPHA].steps.tolist() == [3, 4, 5, 6]  # alpha only where given
    assert series[S.PHASE_ALPHA].values.tolist() == [0.0, 0.5, 1.0, 0.25]


def test_curve_panels_show_phase_boundaries(tmp_path):
    from gandiag.figures.panels import build_run_panels

    mon = _monitor(tmp_path / "r")
    for step, name in enumerate(["res4", "res4", "res8", "res8"]):
        mon.set_phase(name, alpha=1.0)
        _step(mon, step)
    mon.close()
    panels = build_run_panels(RunReader(tmp_path / "r"))
    losses = next(p for p in panels if p.key == "losses")
    assert [s.x0 for s in losses.figure.layout.shapes] == [2]
    assert [a.text for a in losses.figure.layout.annotations] == ["res8"]


def test_phase_state_survives_a_resume(tmp_path):
    mon = _monitor(tmp_path / "r")
    mon.set_phase("level0")
    _step(mon, 0)
    mon.set_phase("level1")
    _step(mon, 1)
    state = mon.state_dict()
    mon.close()
    mon = _monitor(tmp_path / "r", resume=True)
    mon.load_state_dict(state)
    mon.set_phase("level1")  # the same phase continues: no new entry
    _step(mon, 2)
    mon.set_phase("level2")
    _step(mon, 3)
    mon.close()
    reader = RunReader(tmp_path / "r")
    assert [p.name for p in read_phases(reader)] == ["level0", "level1", "level2"]
    assert reader.read_scalars([S.PHASE_INDEX])[S.PHASE_INDEX].values.tolist() == [0, 1, 1, 2]


def test_set_phase_rejects_bad_arguments(tmp_path):
    mon = _monitor(tmp_path / "r")
    with pytest.raises(ValueError, match="alpha must be in"):
        mon.set_phase("res8", alpha=1.5)
    with pytest.raises(ValueError, match="non-empty string"):
        mon.set_phase("")
    mon.close()
