"""Adaptive discriminator augmentation in the textbook GAN stepper (gan.ada)."""

import pytest
import torch

from gandiag.store import RunReader
from gandiag.train import train


def _cfg(steps, **gan):
    return {
        "steps": steps,
        "model": {"name": "dcgan", "options": {"width": 8, "latent_dim": 16}},
        # 16 training images: a discriminator memorises them within a few dozen steps
        "data": {"name": "glyphs", "options": {"n": 40, "image_size": 16}, "batch_size": 16},
        "gan": gan,
        "optim": {"lr_d": 1e-3},
        "eval": {"every": 0, "num_samples": 16, "metrics": [], "interpolation": False},
        "checkpoint": {"every": 0},
        "monitor": {"cadence": {"flush": 10, "samples": 2, "layers": 5, "grid": 0}},
    }


@pytest.fixture(scope="module")
def overfit_run(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("ada")
    return train(_cfg(80, ada=True, ada_interval=4, ada_kimg=2.0), root / "ada", progress=False)


def test_p_rises_while_the_discriminator_overfits_a_tiny_real_set(overfit_run):
    with RunReader(overfit_run) as r:
        p = r.read_scalars(["ada/p"])["ada/p"]
        rt = r.read_scalars(["ada/r_t"])["ada/r_t"]
        info = r.info()
    assert len(p.steps) == 80 and p.values[0] == 0.0
    # r_t above the target moved p up by batch * interval / (kimg * 1000) = 0.032 each time
    above = int((rt.values > 0.6).sum())
    assert above >= 3, rt.values
    below = len(rt.values) - above
    # p is clamped at 0 from below only: it ends at least (above - below) moves up
    assert p.values[-1] >= (above - below) * 16 * 4 / 2000.0 - 1e-12
    assert p.values.max() > 0.0
    assert info.config["resolved"]["ada"] is True


def test_the_trace_is_watched_for_runaway(overfit_run):
    with RunReader(overfit_run) as r:
        names = r.meta("detectors")
    assert "augment_runaway" in str(names)


def test_ada_state_travels_with_the_checkpoint(overfit_run):
    sd = torch.load(overfit_run / "checkpoint.pt", weights_only=True)["stepper"]
    with RunReader(overfit_run) as r:
        last_p = r.read_scalars(["ada/p"])["ada/p"].values[-1]
    assert sd["ada"]["state"]["p"] == pytest.approx(last_p, rel=1e-12, abs=1e-12)


def test_ada_refuses_non_image_samples(tmp_path):
    cfg = {
        "steps": 2,
        "model": {"name": "mlp_gan"},
        "data": {"name": "ring8", "options": {"n": 256}, "batch_size": 32},
        "gan": {"ada": True},
        "eval": {"every": 0, "num_samples": 16, "metrics": []},
    }
    with pytest.raises(ValueError, match="augments images"):
        train(cfg, tmp_path / "pts", progress=False)


def test_loops_without_gan_ada_refuse_it(tmp_path):
    family = _cfg(2, ada=True)
    family["model"] = {"name": "lapgan", "options": {"width": 8, "latent_dim": 16}}
    with pytest.raises(ValueError, match=r"\[gan.options\]"):
        train(family, tmp_path / "lap", progress=False)
