"""StyleGAN-lite's phase schedule: lazy regularisers joined to the main step or as their own
optimiser steps (stylegan2-ada's Greg/Dreg phases), and the order of G's and D's updates."""

import contextlib
import copy

import numpy as np
import pytest
import torch

from gandiag.data import load_dataset
from gandiag.reference_models import build_model
from gandiag.reference_models import losses as L
from gandiag.train.family import stepper_class
from gandiag.train.trainer import Batches


class RecordingAdam(torch.optim.Adam):
    """Adam that logs, at every ``step``, which network it updates, its parameters before
    the step and the gradients the step uses."""

    def __init__(self, params, which, log):
        super().__init__(params, lr=2.5e-3, betas=(0.0, 0.99))
        self.which, self.log = which, log

    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"]]
        before = [p.detach().clone() for p in params]
        grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
        self.log.append((self.which, before, grads))
        return super().step(closure)


def _stepper(options, log):
    bundle = build_model("stylegan", width=8, latent_dim=16, w_dim=16, seed=0)
    ds = load_dataset("glyphs", n=32, image_size=32, seed=0)
    st = stepper_class("stylegan")(
        bundle,
        {"probe_every": 0, "r1_gamma": 1.0, **options},
        lambda params, which: RecordingAdam(params, which, log),
        Batches(ds, np.arange(len(ds)), 8, torch.device("cpu"), 0),
        torch.Generator().manual_seed(0),
        contextlib.nullcontext,
    )
    return bundle, st


def _grads_at(net, params, loss_fn):
    """Gradients of ``loss_fn(copy)`` for a copy of ``net`` holding ``params``."""
    net = copy.deepcopy(net).requires_grad_(True)
    with torch.no_grad():
        for p, value in zip(net.parameters(), params, strict=True):
            p.copy_(value)
    return torch.autograd.grad(loss_fn(net), list(net.parameters()), allow_unused=True)


def _assert_grads(actual, expected):
    for a, e in zip(actual, expected, strict=True):
        if e is None:
            assert a is None or not a.any()
            continue
        # scale-aware: the R1 gradients are ~1e-2, the adversarial ones ~1
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-6 * float(e.abs().max()) + 1e-12)


@pytest.mark.parametrize(("reg_steps", "steps_per_network"), [("joined", 1), ("separate", 2)])
def test_a_regularisation_step_takes_its_own_optimiser_step_when_separate(
    reg_steps, steps_per_network
):
    """Step 0 regularises both networks (R1 and path length are due at step 0): the
    reference's lazy phases step each optimiser twice there, the joined loop once; a step
    without a regulariser steps each once either way."""
    log = []
    _, st = _stepper({"reg_steps": reg_steps}, log)
    st.step(0)
    assert [w for w, _, _ in log].count("d") == steps_per_network
    assert [w for w, _, _ in log].count("g") == steps_per_network
    log.clear()
    st.step(1)
    assert sorted(w for w, _, _ in log) == ["d", "g"]


def test_separate_r1_step_follows_the_penalty_alone_on_the_updated_discriminator():
    """As stylegan2-ada's Dmain then Dreg: the main step's gradient is the logistic loss
    only, the second step's is ``gamma / 2 * interval * R1`` at D's parameters after the
    main step, on the same reals. The joined loop's single step has the sum."""
    log = []
    bundle, st = _stepper({"reg_steps": "separate"}, log)
    out = st.step(0)
    x, fake, s = out["real"], out["fake"], st.s
    (_, main_params, main_grads), (_, reg_params, reg_grads) = [e for e in log if e[0] == "d"]

    def main_loss(D):
        return L.discriminator_loss("nonsaturating", D(x), D(fake))

    def r1_loss(D):
        return 0.5 * s.r1_gamma * L.r1_penalty(D, x) * s.r1_interval

    D = bundle.discriminator
    _assert_grads(main_grads, _grads_at(D, main_params, main_loss))
    _assert_grads(reg_grads, _grads_at(D, reg_params, r1_loss))
    assert any(not torch.equal(a, b) for a, b in zip(main_params, reg_params, strict=True))

    log.clear()
    bundle, st = _stepper({"reg_steps": "joined"}, log)
    out = st.step(0)
    x, fake = out["real"], out["fake"]
    ((_, params, grads),) = [e for e in log if e[0] == "d"]
    _assert_grads(
        grads, _grads_at(bundle.discriminator, params, lambda D: main_loss(D) + r1_loss(D))
    )


@pytest.mark.parametrize(
    ("options", "order"),
    [
        ({}, ["d", "g"]),
        ({"reg_steps": "joined", "update_order": "dg"}, ["d", "g"]),
        ({"reg_steps": "separate", "update_order": "dg"}, ["d", "d", "g", "g"]),
        ({"reg_steps": "joined", "update_order": "gd"}, ["g", "d"]),
        ({"reg_steps": "separate", "update_order": "gd"}, ["g", "g", "d", "d"]),
    ],
)
def test_update_order_follows_the_option(options, order):
    """The reference's phase list is Gmain, Greg, Dmain, Dreg; the default loop is D first
    with the regularisers joined to the main step."""
    log = []
    _, st = _stepper(options, log)
    st.step(0)
    assert [w for w, _, _ in log] == order


@pytest.mark.parametrize(("key", "value"), [("reg_steps", "lazy"), ("update_order", "g_first")])
def test_phase_options_name_the_valid_values(key, value):
    with pytest.raises(ValueError, match=f"{key} must be one of"):
        _stepper({key: value}, [])
