"""The progressive-growing loop (Karras et al. 2018): phases per resolution, fade-in, WGAN-GP.

Schedule, as tkarras/progressive_growing_of_gans train.py with steps instead of kimg:
level 0 (4x4) is trained for ``phase_steps``; each further level is faded in over
``fade_steps`` (alpha rising linearly from 0 to 1, fakes and reals blended alike) and
then stabilised for ``phase_steps``; the last level runs until the end. Each level is a
phase named ``res<size>`` and the fade weight is its ``alpha``. Loss: WGAN-GP
(lambda 10, target 1) plus the drift term ``eps_drift * E[D(x)^2]`` (0.001); Adam
lr 1e-3, betas (0, 0.99); optimiser state reset at each new level; EMA of G 0.999 per
step, the reference's ``G_smoothing``, with stylegan2-ada's ramp-up (``ema_rampup`` 0.05:
the half-life is at most 5% of the steps so far). The reference trains for 12M images and
has no ramp-up; at its length the two are the same (from step 13,863 on), but in a run of
a few hundred steps 0.999 alone leaves the EMA mostly at its initialisation, and that EMA
is what the trainer evaluates (``ema_rampup`` 0 or None: the reference's constant decay).

``alpha_schedule = "truncated"`` reproduces the fade-in bug users report
(pengge/PyTorch-progressive_growing_of_gans#20): the fade weight computed with an
integer division stays 0 through the transition and jumps to 1 at its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag.reference_models import losses as L
from gandiag.reference_models.progan import fade_reals
from gandiag.reference_models.stabilizers import EMA
from gandiag.train.family import (
    FamilyStepper,
    adversarial_state,
    load_adversarial_state,
)

ALPHA_SCHEDULES = ("linear", "truncated")


@dataclass
class ProGANSettings:
    phase_steps: int = 300
    fade_steps: int = 300
    alpha_schedule: str = "linear"
    gp: float = 10.0
    drift: float = 0.001
    d_steps: int = 1
    ema: float = 0.999
    ema_rampup: float | None = 0.05
    reset_optimizer: bool = True

    def __post_init__(self) -> None:
        if self.alpha_schedule not in ALPHA_SCHEDULES:
            raise ValueError(
                f"alpha_schedule must be one of {ALPHA_SCHEDULES}, got {self.alpha_schedule!r}"
            )
        if self.phase_steps < 1 or self.fade_steps < 0:
            raise ValueError("phase_steps must be >= 1 and fade_steps >= 0")
        if self.ema_rampup is not None and self.ema_rampup < 0:
            raise ValueError(
                f"ema_rampup must be >= 0, got {self.ema_rampup}: the EMA's half-life as a share "
                "of the steps so far (0.05, stylegan2-ada's), or 0 for the constant decay"
            )


def schedule(step: int, levels: int, s: ProGANSettings) -> tuple[int, float]:
    """``(level, alpha)`` at ``step``."""
    if step < s.phase_steps:
        return 0, 1.0
    per = s.fade_steps + s.phase_steps
    rel = step - s.phase_steps
    level = 1 + rel // per
    if level > levels - 1:
        return levels - 1, 1.0
    t = rel % per
    if s.fade_steps == 0:
        return level, 1.0
    if s.alpha_schedule == "truncated":
        return level, float(min(1, t // s.fade_steps))
    return level, min(1.0, t / s.fade_steps)


class ProGANStepper(FamilyStepper):
    Settings = ProGANSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.levels = self.G.levels
        self.ema = EMA(self.G, self.s.ema, self.s.ema_rampup or None) if self.s.ema > 0 else None
        self.level = -1
        self._new_optimizers()

    @property
    def settings(self) -> dict[str, Any]:
        return dict(vars(self.s))

    def _new_optimizers(self) -> None:
        self.opt_g = self.make_optimizer(self.G.parameters(), "g")
        self.opt_d = self.make_optimizer(self.D.parameters(), "d")

    def _enter(self, step: int) -> tuple[int, float]:
        level, alpha = schedule(step, self.levels, self.s)
        if level != self.level:
            if self.level >= 0 and self.s.reset_optimizer:
                self._new_optimizers()
            self.level = level
        for net in (self.G, self.D) + ((self.ema.module,) if self.ema is not None else ()):
            net.set_level(level, alpha)
        return level, alpha

    def step(self, step: int) -> dict[str, Any]:
        s = self.s
        level, alpha = self._enter(step)
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)

        def critic(v: Tensor) -> Tensor:
            return self.D.forward_at(v, level, alpha)

        for _ in range(s.d_steps):
            x, _y = self.next_batch()
            x = fade_reals(x, level, alpha, self.levels)
            z = torch.randn(x.shape[0], self.b.latent_dim, device=x.device, generator=self.gen)
            with torch.no_grad(), self.autocast():
                fake = self.G.forward_at(z, level, alpha)
            with self.autocast():
                d_real, d_fake = critic(x), critic(fake)
            adv = d_fake.float().mean() - d_real.float().mean()
            gp = L.gradient_penalty(critic, x, fake, generator=self.gen)
            drift = d_real.float().pow(2).mean()
            loss_d = adv + s.gp * gp + s.drift * drift
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()

        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        z = torch.randn(x.shape[0], self.b.latent_dim, device=x.device, generator=self.gen)
        with self.autocast():
            loss_g = -critic(self.G.forward_at(z, level, alpha)).float().mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update()
        return {
            "losses": {
                "G": loss_g.detach(),
                "D": loss_d.detach(),
                "D_adv": adv.detach(),
                "gp": gp.detach(),
                "drift": drift.detach(),
            },
            "d_real": d_real.detach(),
            "d_fake": d_fake.detach(),
            "real": x,
            "fake": fake,
            "labels": None,
            "phase": (f"res{4 * 2**level}", alpha),
        }

    def state_dict(self) -> dict[str, Any]:
        return {**adversarial_state(self), "level": self.level}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        load_adversarial_state(self, sd)
        self.level = int(sd["level"])

    def sample_net(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.G
