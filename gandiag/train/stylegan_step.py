"""The StyleGAN2(-ADA) loop, small: logistic loss, lazy R1 and path-length regularisation.

As NVlabs/stylegan2-ada-pytorch training/loss.py (StyleGAN2Loss) and training_loop.py:

* non-saturating logistic loss; style mixing with probability ``mixing_prob`` (0.9) at a
  uniformly drawn crossover layer;
* R1 ``gamma / 2 * E|grad D(x)|^2`` every ``r1_interval`` (16) steps, scaled by the
  interval; path-length regularisation every ``pl_interval`` (4) steps on a batch shrunk
  by ``pl_batch_shrink`` (2): ``pl_weight * (|J_w^T y| - a)^2`` with ``y ~ N(0, I)/sqrt(HW)``
  and ``a`` the running mean (decay ``pl_decay`` 0.01); lr and betas of both optimisers
  scaled by ``k / (k + 1)`` for the lazy intervals;
* the regularisers as in the reference's phase list when ``reg_steps = "separate"`` and
  ``update_order = "gd"`` (Gmain, Greg, Dmain, Dreg: each regulariser its own backward
  and step of its network's optimiser, G before D); the defaults, ``"joined"`` (the
  penalty added to the main loss of its step) and ``"dg"`` (D first), keep the loop the
  bench rows were measured with (docs/benchmarks.md, growing_families (f));
* optional adaptive augmentation (:mod:`gandiag.reference_models.ada`) toward r_t = 0.6;
* EMA of G with stylegan2-ada's schedule: half-life ``ema_kimg`` thousand images (by
  default the 'auto' config's ``batch * 10 / 32``), ramped up to at most ``ema_rampup``
  (0.05) of the images seen so far, ``beta = 0.5 ** (batch / half_life_images)``; a fixed
  0.999 at batch 16 kept the EMA ~74% at its initialisation after 300 steps;
* a running mean of w for truncation.

Every ``probe_every`` steps the stepper also measures, on a fixed probe batch, the
family's diagnostic signals (see docs/models.md): ``style/w_std``,
``style/noise_share``, ``style/mixing_effect`` and ``style/channel_spike``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag.reference_models import losses as L
from gandiag.reference_models.ada import AdaptiveAugment
from gandiag.reference_models.stabilizers import EMA
from gandiag.train.family import (
    FamilyStepper,
    adversarial_state,
    lazy_regularised,
    load_adversarial_state,
)
from gandiag.train.style_probes import style_signals, w_spread


def ema_beta(batch: int, nimg: int, ema_kimg: float | None, rampup: float | None) -> float:
    """stylegan2-ada's EMA decay for one step (training/training_loop.py): a half-life of
    ``ema_kimg`` thousand images (None: the 'auto' config's ``batch * 10 / 32``), capped at
    ``rampup`` times the ``nimg`` images seen before this step; 0 (a copy) at the start."""
    half_life = 1000.0 * (batch * 10 / 32 if ema_kimg is None else ema_kimg)
    if rampup is not None:
        half_life = min(half_life, nimg * rampup)
    return 0.5 ** (batch / max(half_life, 1e-8))


#: how a lazy regulariser is applied (``reg_steps``): added to the main loss of its step, or
#: as its own optimiser step (stylegan2-ada's ``Greg``/``Dreg`` phases)
REG_STEPS = ("joined", "separate")
#: which network steps first within an iteration (``update_order``)
UPDATE_ORDERS = ("dg", "gd")


@dataclass
class StyleGANSettings:
    r1_gamma: float = 0.0064  # the 'auto' config: 0.0002 * res^2 / batch at res 32, batch 32
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    mixing_prob: float = 0.9
    ema_kimg: float | None = None  # EMA half-life (kimg); None: batch * 10 / 32; 0: no EMA
    ema_rampup: float | None = 0.05  # half-life at most this fraction of the images seen
    ada: bool = False
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 100.0
    probe_every: int = 25
    map_weight_decay: float = (
        0.0  # decoupled decay of the mapping weights per step (a failure cause)
    )
    # how a lazy regulariser is applied: "joined" to the main loss of its step, or
    # "separate", the reference's own Greg/Dreg optimiser step after the main one
    reg_steps: str = "joined"
    # "dg": D's phases, then G's; "gd": G's first, as the reference's phase list
    update_order: str = "dg"

    def __post_init__(self) -> None:
        for name, allowed in (("reg_steps", REG_STEPS), ("update_order", UPDATE_ORDERS)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"[gan.options] {name} must be one of {', '.join(map(repr, allowed))}, "
                    f"got {getattr(self, name)!r}"
                )


class StyleGANStepper(FamilyStepper):
    Settings = StyleGANSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        s = self.s
        self.opt_g = lazy_regularised(self.make_optimizer(self.G.parameters(), "g"), s.pl_interval)
        self.opt_d = lazy_regularised(self.make_optimizer(self.D.parameters(), "d"), s.r1_interval)
        self.ema = EMA(self.G) if s.ema_kimg is None or s.ema_kimg > 0 else None
        self.nimg = 0  # images shown to D so far (stylegan2-ada's cur_nimg)
        self.ada: AdaptiveAugment | None = None
        self._ada_batch = 0
        # the path-length running mean: a float64 scalar on the training device (as the
        # reference keeps it), so updating it needs no host sync
        self.pl_mean: Tensor | float = 0.0
        self._probe_z: Tensor | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return dict(vars(self.s))

    # -- pieces ---------------------------------------------------------------------------------
    def _aug(self, x: Tensor) -> Tensor:
        return self.ada(x) if self.ada is not None else x

    def _styles(self, n: int, device: torch.device, *, update_avg: bool) -> Tensor:
        G = self.G
        z = torch.randn(n, self.b.latent_dim, device=device, generator=self.gen)
        ws = G.broadcast(G.map(z, update_avg=update_avg))
        if (
            self.s.mixing_prob > 0
            and float(torch.rand((), generator=self._cpu)) < self.s.mixing_prob
        ):
            z2 = torch.randn(n, self.b.latent_dim, device=device, generator=self.gen)
            cut = int(torch.randint(1, G.num_ws, (), generator=self._cpu))
            ws = G.mix(ws, G.broadcast(G.map(z2)), cut)
        return ws

    @property
    def _cpu(self) -> torch.Generator:
        if not hasattr(self, "_cpu_gen"):
            self._cpu_gen = torch.Generator().manual_seed(int(self.gen.initial_seed()) + 13)
        return self._cpu_gen

    # -- one iteration -------------------------------------------------------------------------
    def step(self, step: int) -> dict[str, Any]:
        s = self.s
        scalars: dict[str, float | Tensor] = {}  # tensors: read when the monitor flushes
        x, _y = self.next_batch()
        if s.ada and self.ada is None:
            self.ada = AdaptiveAugment(
                x.shape[0], target=s.ada_target, interval=s.ada_interval, speed_kimg=s.ada_kimg
            )
        n, dev = x.shape[0], x.device
        if s.update_order == "gd":  # the reference's Gmain, Greg, Dmain, Dreg
            loss_g = self._g_phases(step, n, dev, scalars)
            d = self._d_phases(step, x, scalars)
        else:
            d = self._d_phases(step, x, scalars)
            loss_g = self._g_phases(step, n, dev, scalars)
        if self.ema is not None:
            self.ema.update(ema_beta(n, self.nimg, s.ema_kimg, s.ema_rampup))
        self.nimg += n
        if self.probe_due(step):
            with self.probe_charge():
                scalars.update(self._probe(dev))
        return {
            "losses": {"G": loss_g, **d["losses"]},
            "d_real": d["d_real"],
            "d_fake": d["d_fake"],
            "real": x,
            "fake": d["fake"],
            "labels": None,
            "scalars": scalars,
        }

    def _update(
        self, opt: torch.optim.Optimizer, loss: Tensor, reg: Callable[[], Tensor] | None
    ) -> Tensor:
        """Step ``opt`` on ``loss`` and, when given, the lazy regulariser ``reg()`` (already
        times its interval). ``reg_steps = "joined"`` adds it to ``loss`` in one step;
        ``"separate"`` is the reference's ``Greg``/``Dreg`` phase: after the main step, a
        second step of the same optimiser on the regulariser alone, evaluated on the
        updated network. Returns ``loss`` plus the regulariser, detached (the logged loss)."""
        total = loss
        if reg is not None and self.s.reg_steps == "joined":
            total, reg = loss + reg(), None
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if reg is not None:
            penalty = reg()
            opt.zero_grad(set_to_none=True)
            penalty.backward()
            opt.step()
            total = total.detach() + penalty.detach()
        return total.detach()

    def _d_phases(self, step: int, x: Tensor, scalars: dict[str, float | Tensor]) -> dict[str, Any]:
        """D's main step on the logistic loss (fakes from fresh latents of the current G)
        and, every ``r1_interval`` steps, R1 on the same reals."""
        s, G, D = self.s, self.G, self.D
        G.requires_grad_(False)
        D.requires_grad_(True)
        n, dev = x.shape[0], x.device
        with torch.no_grad():
            fake = G.synthesis(self._styles(n, dev, update_avg=False))
        with self.autocast():
            d_real, d_fake = D(self._aug(x)), D(self._aug(fake))
        loss_d = L.discriminator_loss("nonsaturating", d_real.float(), d_fake.float())
        reg: Callable[[], Tensor] | None = None
        if s.r1_gamma > 0 and step % s.r1_interval == 0:

            def reg() -> Tensor:
                r1 = L.r1_penalty(lambda v: D(self._aug(v)), x)
                scalars["reg/r1"] = r1.detach()
                return 0.5 * s.r1_gamma * r1 * s.r1_interval

        terms = {"D_adv": loss_d.detach()}
        total = self._update(self.opt_d, loss_d, reg)
        if self.ada is not None:
            self.ada.accumulate(d_real)
            rt = self.ada.update()
            scalars["ada/p"] = self.ada.p
            if rt is not None:
                scalars["ada/r_t"] = rt
        return {
            "losses": {"D": total, **terms},
            "d_real": d_real.detach(),
            "d_fake": d_fake.detach(),
            "fake": fake,
        }

    def _g_phases(
        self, step: int, n: int, dev: torch.device, scalars: dict[str, float | Tensor]
    ) -> Tensor:
        """G's main step on the non-saturating loss through the current D and, every
        ``pl_interval`` steps, path-length regularisation on a shrunk batch."""
        s, G, D = self.s, self.G, self.D
        D.requires_grad_(False)
        G.requires_grad_(True)
        ws = self._styles(n, dev, update_avg=True)
        with self.autocast():
            img = G.synthesis(ws)
            loss_g = L.generator_loss("nonsaturating", D(self._aug(img)).float())
        scalars["style/w_std"] = w_spread(ws[:, 0])
        reg: Callable[[], Tensor] | None = None
        if s.pl_weight > 0 and step % s.pl_interval == 0:

            def reg() -> Tensor:
                pl_penalty, pl_len = self._path_length(n, dev)
                scalars["reg/pl_length"] = pl_len
                scalars["reg/pl_mean"] = self.pl_mean
                return pl_penalty * s.pl_weight * s.pl_interval

        total = self._update(self.opt_g, loss_g, reg)
        if s.map_weight_decay > 0:  # decoupled (AdamW-style) decay of the mapping weights
            with torch.no_grad():
                for layer in G.mapping.layers:
                    layer.weight.mul_(1.0 - s.map_weight_decay)
        D.requires_grad_(True)
        return total

    def _path_length(self, n: int, dev: torch.device) -> tuple[Tensor, Tensor]:
        s, G = self.s, self.G
        m = max(1, n // s.pl_batch_shrink)
        ws = self._styles(m, dev, update_avg=False)
        img = G.synthesis(ws)
        y = torch.randn(img.shape, device=dev, generator=self.gen) / math.sqrt(
            img.shape[2] * img.shape[3]
        )
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.square().sum(2).mean(1).sqrt()
        mean_len = lengths.detach().mean().double()
        pl_mean = torch.as_tensor(self.pl_mean, dtype=torch.float64, device=dev)
        moved = pl_mean + s.pl_decay * (mean_len - pl_mean)
        self.pl_mean = torch.where(torch.isfinite(mean_len), moved, pl_mean)  # skip a NaN batch
        return (lengths - self.pl_mean).square().mean(), mean_len

    @torch.no_grad()
    def _probe(self, dev: torch.device) -> dict[str, float]:
        if self._probe_z is None:
            g = torch.Generator().manual_seed(int(self.gen.initial_seed()) + 29)
            self._probe_z = torch.randn(16, self.b.latent_dim, generator=g).to(dev)
        return style_signals(self.G, self._probe_z)

    # -- checkpointing -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        sd = {
            **adversarial_state(self),
            "pl_mean": float(self.pl_mean),
            "nimg": self.nimg,
            "cpu_gen": self._cpu.get_state(),
        }
        if self.ada is not None:
            sd["ada"] = self.ada.state_dict()
        return sd

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        load_adversarial_state(self, sd)
        self.pl_mean = float(sd["pl_mean"])
        # a checkpoint from before the EMA schedule has no count: its EMA is past any ramp-up
        self.nimg = int(sd.get("nimg", sys.maxsize))
        self._cpu.set_state(sd["cpu_gen"])
        if "ada" in sd:
            bs = self.next_batch.batch_size if hasattr(self.next_batch, "batch_size") else 1
            self.ada = AdaptiveAugment(
                bs,
                target=self.s.ada_target,
                interval=self.s.ada_interval,
                speed_kimg=self.s.ada_kimg,
            )
            self.ada.load_state_dict(sd["ada"])

    def sample_net(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.G
