"""One video-GAN iteration (DVD-GAN): both discriminators updated, then the generator.

The discriminator module returns one score per clip and per discriminator
(``{"D_S": [B], "D_T": [B]}``); the objective is applied to each and summed, as in Clark
et al. 2019. D_S and D_T have their own optimisers (so D_T's learning rate can be set on
its own: ``[optim] lr_d_t``). The frames D_S sees are drawn once per iteration from the
stepper's generator and shared by the real and the fake batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag.reference_models import ModelBundle
from gandiag.reference_models import losses as L


@dataclass
class VideoGANSettings:
    """The resolved training options of a video GAN (config over the model's defaults)."""

    loss: str
    d_steps: int
    lr_d_t: float | None  # D_T's learning rate (None: the discriminators' lr_d)


class VideoGANStepper:
    """Owns the optimisers of a DVD-GAN bundle (G, D_S, D_T) and runs its iterations."""

    def __init__(
        self,
        bundle: ModelBundle,
        settings: VideoGANSettings,
        make_optimizer: Callable[..., torch.optim.Optimizer],
        next_batch: Callable[[], tuple[Tensor, Tensor | None]],
        generator: torch.Generator,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> None:
        self.b, self.s = bundle, settings
        self.G, self.D = bundle.generator, bundle.discriminator
        self.parts = self.D.parts()
        self.opt_g = make_optimizer(self.G.parameters(), "g")
        self.opt_d = {}
        for name, net in self.parts.items():
            lr = settings.lr_d_t if name == "D_T" else None
            self.opt_d[name] = make_optimizer(net.parameters(), "d", lr=lr)
        self.next_batch, self.gen, self.autocast = next_batch, generator, autocast

    def _scores(self, x: Tensor, y: Tensor | None, frames: Tensor) -> dict[str, Tensor]:
        with self.autocast():
            return {k: v.float() for k, v in self.D(x, y, frames).items()}

    def step(self, step: int) -> dict[str, Any]:
        """Run one iteration; returns the losses and the tensors the Monitor reads."""
        s = self.s
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        for _ in range(s.d_steps):
            x, y = self.next_batch()
            z, _ = self.b.sample_latent(x.shape[0], self.gen, x.device)
            yf = y if self.b.conditional else None  # fakes share the real batch's classes
            with torch.no_grad(), self.autocast():
                fake = self.G(z, yf) if self.b.conditional else self.G(z)
            frames = self.D.sample_frames(self.gen, x.device)
            # one forward for both batches: the discriminators score clip by clip (no batch
            # statistics), so this is the two forwards' scores with one spectral-norm power
            # iteration per D step instead of two, in half the calls
            both = self._scores(
                torch.cat([x, fake.float()]), None if yf is None else torch.cat([yf, yf]), frames
            )
            n = x.shape[0]
            d_real = {k: v[:n] for k, v in both.items()}
            d_fake = {k: v[n:] for k, v in both.items()}
            per_d = {k: L.discriminator_loss(s.loss, d_real[k], d_fake[k]) for k in self.parts}
            loss_d = sum(per_d.values())
            for opt in self.opt_d.values():
                opt.zero_grad(set_to_none=True)
            loss_d.backward()
            for opt in self.opt_d.values():
                opt.step()

        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        z, _ = self.b.sample_latent(x.shape[0], self.gen, x.device)
        with self.autocast():
            fake_g = self.G(z, yf) if self.b.conditional else self.G(z)
        frames = self.D.sample_frames(self.gen, x.device)
        scores = self._scores(fake_g.float(), yf, frames)
        per_g = {k: L.generator_loss(s.loss, v) for k, v in scores.items()}
        loss_g = sum(per_g.values())
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        losses = {"G": loss_g.detach(), "D": loss_d.detach()}
        losses.update({k: v.detach() for k, v in per_d.items()})  # loss/D_S, loss/D_T
        return {
            "losses": losses,
            "d_real": {k: v.detach() for k, v in d_real.items()},
            "d_fake": {k: v.detach() for k, v in d_fake.items()},
            "real": x,
            "fake": fake.float(),
            "labels": yf,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": {k: o.state_dict() for k, o in self.opt_d.items()},
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.G.load_state_dict(sd["G"])
        self.D.load_state_dict(sd["D"])
        self.opt_g.load_state_dict(sd["opt_g"])
        for k, o in self.opt_d.items():
            o.load_state_dict(sd["opt_d"][k])

    def sample_net(self) -> torch.nn.Module:
        return self.G


def video_settings(cfg: Any, training: dict[str, Any]) -> VideoGANSettings:
    """The video GAN's settings from a TrainConfig; image-GAN-only options are errors."""
    g = cfg.gan
    unsupported = {
        "gan.clip": g.clip,
        "gan.gp": g.gp,
        "gan.r1": g.r1,
        "gan.unrolled_steps": g.unrolled_steps,
        "gan.aux_weight": g.aux_weight,
        "gan.info_weight": g.info_weight,
    }
    flags = {
        "gan.label_smoothing": g.label_smoothing,
        "gan.instance_noise": g.instance_noise,
        "gan.ema": g.ema,
        "gan.ada": g.ada,
    }
    bad = [k for k, v in {**unsupported, **flags}.items() if v]
    if bad:
        raise ValueError(
            f"the video GAN stepper does not support {', '.join(bad)}; remove them from the "
            "config (DVD-GAN trains with the hinge loss and spectral norm only)"
        )
    s = VideoGANSettings(
        loss=L.check_loss(g.loss if g.loss is not None else training.get("loss", "hinge")),
        d_steps=int(g.d_steps if g.d_steps is not None else training.get("d_steps", 1)),
        lr_d_t=cfg.optim.lr_d_t,
    )
    if s.d_steps < 1:
        raise ValueError(f"gan.d_steps must be at least 1, got {s.d_steps}")
    return s
