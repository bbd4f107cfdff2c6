"""GAN stabilisers that are not a loss term: an EMA of the generator and annealed instance noise.

(The loss-side stabilisers, one-sided label smoothing, R1 and the gradient penalty,
are in :mod:`gandiag.reference_models.losses`; TTUR is two learning rates.)
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class EMA:
    """Exponential moving average of a network's weights (Karras et al. 2018; Yazıcı et al. 2019).

    ``update()`` after each optimiser step sets ``w_ema <- beta * w_ema + (1 - beta) * w``;
    buffers (batch-norm statistics) are copied. Evaluate with :attr:`module`.

    ``beta`` is ``decay``, or with ``rampup`` the ramp-up of stylegan2-ada
    (training/training_loop.py, ``ema_rampup``) counted in updates: the half-life, ``decay``'s
    (693 updates at 0.999), is capped at ``rampup`` times the updates done so far, so the
    first update copies the network and a short run's average is not mostly its
    initialisation (at 0.999 alone, 0.999**210 = 81% of the initial weights remain after 210
    updates). Past ``half_life / rampup`` updates the two are the same.
    """

    def __init__(self, net: nn.Module, decay: float = 0.999, rampup: float | None = None) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}; 0.999 is typical")
        if rampup is not None and not rampup > 0.0:
            raise ValueError(f"EMA rampup must be > 0 or None, got {rampup}; 0.05 is typical")
        self.decay = float(decay)
        self.rampup = None if rampup is None else float(rampup)
        self.updates = 0
        self.net = net
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    def beta(self) -> float:
        """The decay the next :meth:`update` uses (without an explicit ``decay``)."""
        if self.rampup is None:
            return self.decay
        half_life = min(math.log(0.5) / math.log(self.decay), self.rampup * self.updates)
        return 0.5 ** (1.0 / max(half_life, 1e-8))

    @torch.no_grad()
    def update(self, decay: float | None = None) -> None:
        """One EMA step with :meth:`beta`, or ``decay`` (in [0, 1)) for a schedule of the
        caller's (stylegan2-ada's, in images; ``decay = 0`` copies the network)."""
        beta = self.beta() if decay is None else float(decay)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {beta}")
        for p_ema, p in zip(self.module.parameters(), self.net.parameters(), strict=True):
            p_ema.lerp_(p.detach(), 1.0 - beta)
        for b_ema, b in zip(self.module.buffers(), self.net.buffers(), strict=True):
            b_ema.copy_(b)
        self.updates += 1

    def state_dict(self) -> dict:
        return {
            "decay": self.decay,
            "rampup": self.rampup,
            "updates": self.updates,
            "module": self.module.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        # states saved before the ramp-up existed had none: keep the constant decay
        self.rampup = state.get("rampup")
        self.updates = int(state.get("updates", 0))
        self.module.load_state_dict(state["module"])


def annealed_std(step: int, start_std: float, anneal_steps: int) -> float:
    """Instance-noise std at ``step``: ``start_std`` decaying linearly to 0 over ``anneal_steps``
    (constant when ``anneal_steps`` is 0), as in Sønderby et al. 2017."""
    if start_std <= 0:
        return 0.0
    if anneal_steps <= 0:
        return float(start_std)
    return float(start_std) * max(0.0, 1.0 - step / anneal_steps)
