"""The LAPGAN loop (Denton et al. 2015): every level trained at once, independently, on the
real pyramid; one Adam over all levels' parameters equals one per level (Adam is
per-parameter and the levels' losses share no parameters).

Level 0 is an unconditional GAN on the coarsest images; level k learns the residual
``x_k - up(x_{k-1})`` conditioned on the real ``up(x_{k-1})``. Non-saturating loss. The
stepper reports ``level/<k>/copy_ratio``: the energy of the generated residual over the
real residual's, which falls to 0 when a level only copies (upsamples) the one below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag import signals as S
from gandiag.reference_models import losses as L
from gandiag.reference_models.lapgan import real_pyramid
from gandiag.train.family import (
    FamilyStepper,
    adversarial_state,
    load_adversarial_state,
)


@dataclass
class LAPGANSettings:
    residual_scale: float = 1.0  # multiplies the generated residuals (0: levels only copy)


class LAPGANStepper(FamilyStepper):
    Settings = LAPGANSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.opt_g = self.make_optimizer(self.G.parameters(), "g")
        self.opt_d = self.make_optimizer(self.D.parameters(), "d")
        # on the generator, so that its samples (evaluation, grids) copy as training does
        self.G.residual_scale = self.s.residual_scale

    @property
    def settings(self) -> dict[str, Any]:
        return dict(vars(self.s))

    def _fakes(self, images: list[Tensor], coarse: list[Tensor]) -> list[Tensor]:
        """Level 0: images from noise; level k: residuals given the REAL coarse image."""
        n = images[0].shape[0]
        z = torch.randn(n, self.b.latent_dim, device=images[0].device, generator=self.gen)
        out = [self.G.nets[0](z)]
        for k in range(1, self.G.levels):
            out.append(self.G.residual(k, coarse[k], self.gen))
        return out

    def _scores(self, xs: list[Tensor], coarse: list[Tensor]) -> list[Tensor]:
        return [self.D.nets[0](xs[0])] + [
            self.D.nets[k](xs[k], coarse[k]) for k in range(1, len(xs))
        ]

    def step(self, step: int) -> dict[str, Any]:
        x, _ = self.next_batch()
        images, coarse = real_pyramid(x, self.G.levels)
        real = [images[0]] + [images[k] - coarse[k] for k in range(1, self.G.levels)]
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        with torch.no_grad():
            fake = self._fakes(images, coarse)
        with self.autocast():
            d_real, d_fake = self._scores(real, coarse), self._scores(fake, coarse)
        per_level_d = [
            L.discriminator_loss("nonsaturating", r.float(), f.float())
            for r, f in zip(d_real, d_fake)
        ]
        loss_d = sum(per_level_d)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        fake_g = self._fakes(images, coarse)
        with self.autocast():
            per_level_g = [
                L.generator_loss("nonsaturating", s.float()) for s in self._scores(fake_g, coarse)
            ]
        loss_g = sum(per_level_g)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        scalars = {}
        for k in range(1, self.G.levels):
            e_real = real[k].detach().pow(2).mean()
            e_fake = fake_g[k].detach().pow(2).mean()
            scalars[S.level_copy_ratio(k)] = float(e_fake / (e_real + 1e-12))
        with torch.no_grad():
            sample = self.G(
                torch.randn(x.shape[0], self.b.latent_dim, device=x.device, generator=self.gen)
            )
        losses = {"G": loss_g.detach(), "D": loss_d.detach()}
        for k, (lg, ld) in enumerate(zip(per_level_g, per_level_d)):
            losses[f"G_level{k}"], losses[f"D_level{k}"] = lg.detach(), ld.detach()
        return {
            "losses": losses,
            "d_real": torch.cat([d.detach().reshape(-1) for d in d_real]),
            "d_fake": torch.cat([d.detach().reshape(-1) for d in d_fake]),
            "real": x,
            "fake": sample,
            "labels": None,
            "scalars": scalars,
        }

    def state_dict(self) -> dict[str, Any]:
        return adversarial_state(self)

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        load_adversarial_state(self, sd)

    def sample_net(self) -> torch.nn.Module:
        return self.G
