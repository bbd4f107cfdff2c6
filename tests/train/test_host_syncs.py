"""The family steppers read nothing back from the device between their probes.

On a GPU every ``float(t)``, ``t.item()``, ``t.tolist()`` or ``bool(t)`` waits for the
device to finish (a host sync), which stalls the launch queue of a small model's step. The
StyleGAN-lite and StackGAN-lite steppers hand their signals to the monitor as tensors
(read at its flush), and StyleGAN-lite keeps its path-length mean on the device, as the
reference (NVlabs/stylegan2-ada-pytorch, loss.py) does. On the CPU the reads are counted
instead: none in a step that runs no probe, except torch.optim's reads of Adam's step
count, a tensor kept on the CPU (no device read) unless the optimiser is ``capturable``.
"""

from __future__ import annotations

import contextlib

import torch
from host_reads import counted_reads

from gandiag.reference_models import build_model


def _stepper(cls, model, options, batch):
    bundle = build_model(model, seed=0, **options)
    data = torch.Generator().manual_seed(5)

    def next_batch():
        x = torch.rand(*batch, generator=data) * 2 - 1
        return x, torch.randint(0, 10, (batch[0],), generator=data)

    def make(params, _which):
        return torch.optim.Adam(params, lr=1e-3, betas=(0.0, 0.99))

    return cls(
        bundle, {}, make, next_batch, torch.Generator().manual_seed(1), contextlib.nullcontext
    )


def test_stylegan_steps_read_nothing_back_between_probes(monkeypatch):
    from gandiag.train.stylegan_step import StyleGANStepper

    st = _stepper(StyleGANStepper, "stylegan", {"width": 8, "latent_dim": 16}, (8, 1, 32, 32))
    st.s.mixing_prob = 0.0  # style mixing draws its coin on a CPU generator (no device read)
    st.s.pl_interval, st.s.r1_interval = 2, 3  # both regularisers within the steps below
    st.step(0)  # the probe's step, and first-step set-up
    with counted_reads(monkeypatch) as reads:
        for step in range(1, 7):
            out = st.step(step)
    assert reads == [], reads
    assert {"reg/pl_length", "reg/pl_mean", "style/w_std"} <= set(out["scalars"])
    assert float(st.pl_mean) > 0.0  # moved, on the device


def test_stackgan_steps_read_nothing_back_between_probes(monkeypatch):
    from gandiag.train.stackgan_step import StackGANStepper

    st = _stepper(
        StackGANStepper,
        "stackgan",
        {"width": 8, "latent_dim": 16, "c_dim": 8},
        (8, 1, 32, 32),
    )
    st.s.stage1_steps = 2  # both stages within the steps below
    st.step(0)  # the probe's step (per-dimension KL)
    with counted_reads(monkeypatch) as reads:
        for step in range(1, 6):
            st.step(step)
    assert reads == [], reads


def test_stylegan_steps_with_ada_read_nothing_back_between_adjustments(monkeypatch):
    """Augmenting reals and fakes and adding to r_t happen on the device; the sum is read
    once per ``ada_interval`` steps, when p moves (the reference's schedule)."""
    from gandiag.train.stylegan_step import StyleGANStepper

    st = _stepper(StyleGANStepper, "stylegan", {"width": 8, "latent_dim": 16}, (8, 1, 32, 32))
    st.s.mixing_prob = 0.0
    st.s.ada, st.s.ada_interval = True, 8
    st.step(0)  # the probe's step; creates the controller
    st.ada.state.p = 0.5  # augmenting: every transform runs in the steps below
    with counted_reads(monkeypatch) as reads:
        for step in range(1, 7):  # updates 2-7 of the interval of 8: no adjustment
            st.step(step)
    assert reads == [], reads
    assert st.ada.state.count == 7 * 8  # all of them reached r_t's sum
