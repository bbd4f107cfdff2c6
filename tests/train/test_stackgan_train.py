"""StackGAN-lite trains a few steps through the trainer: stages as phases, CA and copy signals."""

import contextlib
import dataclasses

import torch

from gandiag import signals as S
from gandiag.phases import read_phases
from gandiag.store import RunReader
from gandiag.train import train
from gandiag.train.checkpoint import checkpoint_path


def _cfg(steps, gan_options, **model_options):
    return {
        "steps": steps,
        "model": {
            "name": "stackgan",
            "options": {"width": 8, "latent_dim": 16, "c_dim": 8, **model_options},
        },
        "data": {"name": "glyphs", "options": {"n": 64, "image_size": 32}, "batch_size": 8},
        "gan": {"options": gan_options},
        "eval": {"every": 0, "num_samples": 16, "metrics": [], "interpolation": False},
        "checkpoint": {"every": 0},
        "monitor": {"cadence": {"flush": 4, "samples": 2, "layers": 2, "grid": 0}},
    }


def test_stages_are_phases_and_signals_are_recorded(tmp_path):
    run = train(_cfg(6, {"stage1_steps": 3, "probe_every": 2}), tmp_path / "s", progress=False)
    reader = RunReader(run)
    assert [(p.name, p.start_step) for p in read_phases(reader)] == [("stage1", 0), ("stage2", 3)]
    names = [S.CA_KL, S.CA_SIGMA_MEAN, S.ca_kl_dim(0), S.level_copy_ratio(1), "loss/D_wrong"]
    got = reader.read_scalars(names)
    assert got[S.CA_KL].steps.tolist() == list(range(6))
    assert got[S.ca_kl_dim(0)].steps.tolist() == [0, 2, 4]
    assert got[S.level_copy_ratio(1)].steps.tolist() == [3, 4, 5]  # stage II only
    assert (got[S.CA_SIGMA_MEAN].values >= 1.0).all()  # ReLU'd logvar >= 0
    assert (got[S.CA_KL].values > 0).all()
    # the condition probe of a class-conditional model, and its detector in the run's set
    cond = reader.read_scalars(
        [S.COND_VARIANCE_SHARE, S.COND_VARIANCE_SHARE_REAL, S.COND_D_MATCH_GAP]
    )
    assert cond[S.COND_VARIANCE_SHARE].steps.tolist() == [0, 2, 4]
    assert 0.0 < cond[S.COND_VARIANCE_SHARE_REAL].values[0] < 1.0
    assert S.COND_D_MATCH_GAP in cond
    assert S.COND_WITHIN_CLASS_SPREAD in reader.scalar_names()
    assert {"condition_ignored", "class_collapse"} <= {d["name"] for d in reader.meta("detectors")}
    # each stage's generator and discriminator watched by role, with its stage
    networks = reader.meta("networks")
    assert networks == {
        "G_stage1": "generator",
        "G_stage2": "generator",
        "D_stage1": "discriminator",
        "D_stage2": "discriminator",
    }
    stages = reader.meta("network_stages")
    assert stages == {
        "G_stage1": "stage1",
        "G_stage2": "stage2",
        "D_stage1": "stage1",
        "D_stage2": "stage2",
    }
    grads = reader.read_scalars([S.grad_norm(n) for n in networks])
    for net, stage in stages.items():  # a stage's networks have gradients in its phase only
        assert set(grads[S.grad_norm(net)].steps.tolist()) == (
            {0, 1, 2} if stage == "stage1" else {3, 4, 5}
        )
    sd = torch.load(checkpoint_path(run), weights_only=True)
    assert sd["stepper"]["stage"] == 2 and int(sd["stepper"]["G"]["stage"]) == 2


def test_stage_two_trains_only_stage_two(tmp_path):
    from gandiag.reference_models import build_model
    from gandiag.train.stackgan_step import StackGANStepper

    b = build_model("stackgan", seed=0, width=8, latent_dim=16, c_dim=8)
    x, y = torch.rand(8, 1, 32, 32) * 2 - 1, torch.arange(8) % 10

    def make(params, _which):
        return torch.optim.Adam(params, lr=1e-3)

    st = StackGANStepper(
        b,
        {"stage1_steps": 1},
        make,
        lambda: (x, y),
        torch.Generator().manual_seed(0),
        contextlib.nullcontext,
    )
    st.step(0)
    frozen = {
        k: v.clone() for k, v in b.generator.stage1.state_dict().items() if v.is_floating_point()
    }
    d1 = [p.clone() for p in b.discriminator.d1.parameters()]
    s2 = [p.clone() for p in b.generator.stage2.parameters()]
    out = st.step(1)
    assert out["phase"] == ("stage2", None) and S.level_copy_ratio(1) in out["scalars"]
    for k, v in b.generator.stage1.state_dict().items():
        if k in frozen and "running" not in k:
            assert torch.equal(v, frozen[k]), k
    assert all(torch.equal(a, p) for a, p in zip(d1, b.discriminator.d1.parameters()))
    assert any(not torch.equal(a, p) for a, p in zip(s2, b.generator.stage2.parameters()))


def test_no_ca_logs_zero_sigma_and_no_kl(tmp_path):
    run = train(
        _cfg(3, {"stage1_steps": 3, "kl_weight": 0.0}, ca=False), tmp_path / "n", progress=False
    )
    got = RunReader(run).read_scalars([S.CA_SIGMA_MEAN, S.CA_KL])
    assert got[S.CA_SIGMA_MEAN].values.tolist() == [0.0, 0.0, 0.0]
    assert S.CA_KL not in got


def test_resume_in_stage_two_continues(tmp_path):
    cfg = _cfg(4, {"stage1_steps": 2})
    run = train(cfg, tmp_path / "r", progress=False)
    train({**cfg, "steps": 6}, run, resume=True, progress=False)
    assert [p.name for p in read_phases(RunReader(run))] == ["stage1", "stage2"]


def test_held_out_reals_are_scored_with_their_own_labels():
    from gandiag.reference_models import build_model
    from gandiag.train.trainer import _d_outputs

    b = build_model("stackgan", seed=0, width=8, latent_dim=16, c_dim=8)
    b.discriminator.eval()
    with torch.no_grad():
        b.generator.ca1.fc.weight.normal_()  # conditions that differ between classes
        x, y = torch.randn(6, 1, 32, 32), torch.tensor([3, 3, 3, 7, 7, 7])
        torch.testing.assert_close(_d_outputs(b, x, y), b.discriminator(x, y))
        assert not torch.allclose(_d_outputs(b, x, y), _d_outputs(b, x))


def test_the_stepper_probes_are_paced_with_the_monitors_on_an_accelerator(tmp_path, monkeypatch):
    """The trainer hands every family stepper with probes (``probe_every``) its share of
    the monitor's pacing, as StyleGAN-lite's: forced active (what an accelerator's monitor
    gets) with a budget no probe fits, the per-dimension KL probe runs at its first due
    step only, and the run's meta says it was skipped; on the CPU it keeps its cadence."""
    import gandiag.monitor.monitor as monitor_module
    from gandiag.monitor.cadence import Pacer

    class AcceleratorPacer(Pacer):
        def __init__(self, cadence, active, **kw):
            super().__init__(dataclasses.replace(cadence, budget=1e-9), True, **kw)

    monkeypatch.setattr(monitor_module, "Pacer", AcceleratorPacer)
    run = train(_cfg(8, {"stage1_steps": 4, "probe_every": 2}), tmp_path / "p", progress=False)
    reader = RunReader(run)
    got = reader.read_scalars([S.ca_kl_dim(0), S.CA_KL])
    assert got[S.ca_kl_dim(0)].steps.tolist() == [0]
    assert got[S.CA_KL].steps.tolist() == list(range(8))  # the per-step signals all there
    pacing = reader.meta("pacing")
    assert pacing["skipped"]["stepper_probes"] == 3 and pacing["ran"]["stepper_probes"] == 1
