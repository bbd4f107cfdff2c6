"""GAN stabilisers that are not a loss term: an EMA of the generator and annealed instance noise.

(The loss-side stabilisers, one-sided label smoothing, R1 and the gradient penalty,
are in :mod:`gandiag.reference_models.losses`; TTUR is two learning rates.)
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Exponential moving average of a network's weights (Karras et al. 2018; Yazıcı et al. 2019).

    ``update()`` after each optimiser step sets ``w_ema <- decay * w_ema + (1 - decay) * w``;
    buffers (batch-norm statistics) are copied. Evaluate with :attr:`module`.
    """

    def __init__(self, net: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}; 0.999 is typical")
        self.decay = float(decay)
        self.net = net
        self.module = copy.deepcopy(net).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, decay: float | None = None) -> None:
        """One EMA step with the constructor's decay, or ``decay`` (in [0, 1)) for a schedule
        (stylegan2-ada's ramp-up; ``decay = 0`` copies the network)."""
        beta = self.decay if decay is None else float(decay)
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {beta}")
        for p_ema, p in zip(self.module.parameters(), self.net.parameters(), strict=True):
            p_ema.lerp_(p.detach(), 1.0 - beta)
        for b_ema, b in zip(self.module.buffers(), self.net.buffers(), strict=True):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = float(state["decay"])
        self.module.load_state_dict(state["module"])


def annealed_std(step: int, start_std: float, anneal_steps: int) -> float:
    """Instance-noise std at ``step``: ``start_std`` decaying linearly to 0 over ``anneal_steps``
    (constant when ``anneal_steps`` is 0), as in Sønderby et al. 2017."""
    if start_std <= 0:
        return 0.0
    if anneal_steps <= 0:
        return float(start_std)
    return float(start_std) * max(0.0, 1.0 - step / anneal_steps)
