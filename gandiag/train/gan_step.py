"""One GAN iteration: ``d_steps`` critic updates, then one generator update.

Covers every reference GAN and stabiliser: the five objectives, weight clipping,
gradient penalty, R1, one-sided label smoothing, annealed instance noise, an EMA of G,
ACGAN's class loss, InfoGAN's code-recovery loss, the unrolled GAN's look-ahead, and
adaptive discriminator augmentation (Karras et al. 2020; :mod:`gandiag.reference_models.ada`):
with ``ada`` on, every image D sees (reals, fakes, the penalties' inputs, G's pass) goes
through the same differentiable augmentations, applied with probability ``p``, and ``p``
moves every ``ada_interval`` steps so that ``r_t = E[sign(D(real))]`` approaches
``ada_target``; ``ada/p`` and ``ada/r_t`` are returned as scalars for the Monitor.
The unrolled look-ahead is differentiable (Metz et al. 2017): it replays the
critic's own Adam (or SGD) update ``k`` times with ``torch.func.functional_call`` and
back-propagates G's loss through those updates.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call

from gandiag.reference_models import ModelBundle
from gandiag.reference_models import losses as L
from gandiag.reference_models.ada import AdaptiveAugment
from gandiag.reference_models.stabilizers import EMA, annealed_std
from gandiag.train.family import adversarial_state, load_adversarial_state


@dataclass
class GANSettings:
    """The resolved training options of a GAN (config over the model's defaults)."""

    loss: str
    d_steps: int
    clip: float
    gp: float
    r1: float
    real_label: float
    instance_noise: float
    instance_noise_anneal: int
    ema: float
    unrolled_steps: int
    aux_weight: float
    info_weight: float
    ada: bool = False  # adaptive augmentation of D's inputs (images only)
    ada_target: float = 0.6  # the r_t that p is driven toward (StyleGAN2-ADA's 0.6)
    ada_interval: int = 4  # steps between adjustments of p
    ada_kimg: float = 100.0  # thousands of images for p to move from 0 to 1


class GANStepper:
    """Owns the optimisers of a GAN bundle and runs its training iterations."""

    def __init__(
        self,
        bundle: ModelBundle,
        settings: GANSettings,
        make_optimizer: Callable[[Any, str], torch.optim.Optimizer],
        next_batch: Callable[[], tuple[Tensor, Tensor | None]],
        generator: torch.Generator,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> None:
        self.b, self.s = bundle, settings
        self.G, self.D = bundle.require("generator"), bundle.require("discriminator")
        self.opt_g = make_optimizer(self.G.parameters(), "g")
        self.opt_d = make_optimizer(self.D.parameters(), "d")
        self.next_batch, self.gen, self.autocast = next_batch, generator, autocast
        self.ema = EMA(self.G, settings.ema) if settings.ema > 0 else None
        self.caps = bundle.capabilities
        self._cond_d = self.caps.conditional_discriminator
        self.ada: AdaptiveAugment | None = None
        if settings.ada:
            batch = getattr(next_batch, "batch_size", None)
            if batch is None:
                raise ValueError("gan.ada needs a batch source with a batch_size")
            self.ada = AdaptiveAugment(
                int(batch),
                target=settings.ada_target,
                interval=settings.ada_interval,
                speed_kimg=settings.ada_kimg,
                generator=generator,
            )

    # -- helpers ------------------------------------------------------------------------------
    def _d(self, x: Tensor, y: Tensor | None, aux: bool = False, params=None):
        args = (x, y if self._cond_d else None)
        kwargs = {"return_aux": True} if aux else {}
        if params is None:
            return self.D(*args, **kwargs)
        return functional_call(self.D, params, args, kwargs)

    def _aux_losses(self, aux: Tensor, labels: Tensor | None, z: Tensor) -> Tensor:
        """ACGAN's class cross-entropy or InfoGAN's code-recovery loss on D's aux head."""
        if self.caps.aux_classifier:
            if labels is None:
                raise ValueError(
                    f"{self.b.name}'s auxiliary classifier needs class labels; train it on a "
                    "labelled dataset"
                )
            return F.cross_entropy(aux.float(), labels)
        n_cat, n_cont = self.b.info_codes
        start = self.b.latent_dim - n_cat - n_cont
        loss = aux.new_zeros(()).float()
        if n_cat:
            loss = loss + F.cross_entropy(
                aux[:, :n_cat].float(), z[:, start : start + n_cat].argmax(1)
            )
        if n_cont:
            loss = loss + F.mse_loss(aux[:, n_cat:].float(), z[:, start + n_cat :].float())
        return loss

    @property
    def _aux_weight(self) -> float:
        if self.caps.aux_classifier:
            return self.s.aux_weight
        if self.b.info_codes != (0, 0):
            return self.s.info_weight
        return 0.0

    def _noisy(self, x: Tensor, step: int) -> Tensor:
        """What D sees of ``x``: augmented (ADA), then with instance noise."""
        if self.ada is not None:
            if x.dim() != 4:
                raise ValueError(
                    f"gan.ada augments images [B, C, H, W]; this model's samples have shape "
                    f"{tuple(x.shape)}: turn gan.ada off"
                )
            x = self.ada(x)
        return L.instance_noise(
            x, annealed_std(step, self.s.instance_noise, self.s.instance_noise_anneal), self.gen
        )

    # -- one iteration ------------------------------------------------------------------------
    def step(self, step: int) -> dict[str, Any]:
        """Run one iteration; returns the losses and the tensors the Monitor reads."""
        s, aux_w = self.s, self._aux_weight
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        terms: dict[str, Tensor] = {}
        for _ in range(s.d_steps):
            x, y = self.next_batch()
            z, yf = self.b.sample_latent(x.shape[0], self.gen, x.device)
            if yf is not None and y is not None:
                yf = y  # conditional fakes share the real batch's labels (and its GP interpolates)
            with torch.no_grad(), self.autocast():
                fake = self.b.generate(z, yf)
            with self.autocast():
                xr, xf = self._noisy(x, step), self._noisy(fake, step)
                if aux_w:
                    d_real, aux_real = self._d(xr, y, aux=True)
                    d_fake, aux_fake = self._d(xf, yf, aux=True)
                else:
                    d_real, d_fake = self._d(xr, y), self._d(xf, yf)
            loss_d = L.discriminator_loss(s.loss, d_real, d_fake, real_label=s.real_label)
            terms = {"D_adv": loss_d.detach()}
            if aux_w:
                aux = self._aux_losses(aux_fake, yf, z)
                if self.caps.aux_classifier:
                    aux = aux + self._aux_losses(aux_real, y, z)
                terms["D_aux"] = aux.detach()
                loss_d = loss_d + aux_w * aux
            if s.gp:
                gp = L.gradient_penalty(partial(self._d, y=y), xr, xf, generator=self.gen)
                terms["gp"] = gp.detach()
                loss_d = loss_d + s.gp * gp
            if s.r1:
                r1 = L.r1_penalty(partial(self._d, y=y), xr)
                terms["r1"] = r1.detach()
                loss_d = loss_d + 0.5 * s.r1 * r1
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            if s.clip:
                with torch.no_grad():
                    for p in self.D.parameters():
                        p.clamp_(-s.clip, s.clip)

        # generator update; D frozen so its gradients (and the monitor's hooks) see only D's loss
        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        z, yf = self.b.sample_latent(x.shape[0], self.gen, x.device)
        with self.autocast():
            fake_g = self.b.generate(z, yf)
            params = self._unrolled_params(step) if s.unrolled_steps else None
            if aux_w:
                d_fake_g, aux_g = self._d(self._noisy(fake_g, step), yf, aux=True, params=params)
            else:
                d_fake_g = self._d(self._noisy(fake_g, step), yf, params=params)
        loss_g = L.generator_loss(s.loss, d_fake_g)
        if aux_w:
            g_aux = self._aux_losses(aux_g, yf, z)
            terms["G_aux"] = g_aux.detach()
            loss_g = loss_g + aux_w * g_aux
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update()
        scalars: dict[str, float] = {}
        if self.ada is not None:  # r_t over the last D step's reals, as the reference does
            self.ada.accumulate(d_real)
            rt = self.ada.update()
            scalars["ada/p"] = self.ada.p
            if rt is not None:
                scalars["ada/r_t"] = rt
        return {
            "scalars": scalars,
            "losses": {"G": loss_g.detach(), "D": loss_d.detach(), **terms},
            "d_real": d_real.detach(),
            "d_fake": d_fake.detach(),
            "real": x,
            "fake": fake,
            "labels": y,
        }

    def _unrolled_params(self, step: int) -> dict[str, Tensor]:
        """D's parameters after ``unrolled_steps`` differentiable updates (graph kept to G)."""
        params = {n: p.detach().requires_grad_(True) for n, p in self.D.named_parameters()}
        buffers = dict(self.D.named_buffers())
        state = _adam_state(self.opt_d, self.D)
        for _ in range(self.s.unrolled_steps):
            x, y = self.next_batch()
            z, yf = self.b.sample_latent(x.shape[0], self.gen, x.device)
            fake = self.b.generate(z, yf)  # keeps the graph: D's look-ahead depends on G
            both = {**params, **buffers}
            loss = L.discriminator_loss(
                self.s.loss,
                self._d(self._noisy(x, step), y, params=both),
                self._d(self._noisy(fake, step), yf, params=both),
                real_label=self.s.real_label,
            )
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            params = state.apply(params, grads)
        return {**params, **buffers}

    # -- checkpointing ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        sd = adversarial_state(self)
        if self.ada is not None:
            sd["ada"] = self.ada.state_dict()
        return sd

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        load_adversarial_state(self, sd)
        # a state saved without augmentation (a doctor branch turning ADA on) starts at p = 0
        if self.ada is not None and "ada" in sd:
            self.ada.load_state_dict(sd["ada"])

    def sample_net(self) -> torch.nn.Module:
        """The generator to evaluate: its EMA when enabled."""
        return self.ema.module if self.ema is not None else self.G


class _Update:
    """A functional copy of one optimiser step (Adam with its current moments, or SGD)."""

    def __init__(
        self,
        lr: float,
        betas: tuple[float, float] | None,
        eps: float,
        moments: dict[str, tuple[Tensor, Tensor, int]],
    ) -> None:
        self.lr, self.betas, self.eps, self.moments = lr, betas, eps, moments

    def apply(self, params: dict[str, Tensor], grads: tuple[Tensor, ...]) -> dict[str, Tensor]:
        out, moments = {}, {}
        for (name, p), g in zip(params.items(), grads, strict=True):
            if self.betas is None:
                out[name] = p - self.lr * g
                continue
            b1, b2 = self.betas
            m, v, t = self.moments.get(name, (torch.zeros_like(p), torch.zeros_like(p), 0))
            m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t + 1
            mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
            # clamp: sqrt has an infinite derivative at 0, and a parameter whose gradients
            # were all zero (a dead ReLU) would turn the look-ahead's gradient into NaN
            out[name] = p - self.lr * mhat / (vhat.clamp_min(1e-30).sqrt() + self.eps)
            moments[name] = (m, v, t)
        if self.betas is not None:
            self.moments = moments
        return out


def _adam_state(opt: torch.optim.Optimizer, net: torch.nn.Module) -> _Update:
    group = opt.param_groups[0]
    if not isinstance(opt, torch.optim.Adam):
        return _Update(group["lr"], None, 0.0, {})
    moments = {}
    for name, p in net.named_parameters():
        st = opt.state.get(p, {})
        if "exp_avg" in st:
            moments[name] = (st["exp_avg"].detach(), st["exp_avg_sq"].detach(), int(st["step"]))
    return _Update(group["lr"], tuple(group["betas"]), group["eps"], moments)
