"""One training iteration of CycleGAN, pix2pix and SRGAN, as their reference implementations do it.

- CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix, models/cycle_gan_model.py): both
  generators are stepped first with D frozen (adversarial + lambda * L1 cycle in both
  directions + lambda * lambda_idt * L1 identity), then both PatchGANs on a real batch and
  a fake drawn through the image pool, each D loss halved.
- pix2pix (models/pix2pix_model.py): D first on (input, target) vs (input, G(input)),
  halved; then G on the adversarial loss + lambda_L1 * L1 to the target.
- SRGAN (Ledig et al. 2017; tensorlayer/SRGAN train.py): ``pretrain_steps`` of pixel MSE
  only (SRResNet), then D on HR vs SR and G on MSE + lambda_content * feature MSE +
  lambda_adv * adversarial. The feature network is the bundled glyph classifier (its last
  convolutional block, 7x7x128), the offline stand-in for the paper's VGG19 features.

Each ``step`` returns the losses and the D outputs, real and fake batches the Monitor reads.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.reference_models import losses as L
from gandiag.reference_models.cyclegan import ImagePool


@dataclass
class TranslationSettings:
    loss: str
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lambda_l1: float = 100.0
    lambda_adv: float = 1.0
    lambda_content: float = 0.01
    pretrain_steps: int = 0


class PairBatches:
    """Seeded batches of (source, target): the same index when paired, two shuffles when not."""

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        paired: bool,
        batch_size: int,
        device: torch.device,
        seed: int,
    ) -> None:
        if batch_size > min(len(inputs), len(targets)):
            raise ValueError(
                f"batch_size {batch_size} exceeds the {min(len(inputs), len(targets))} training "
                "items; lower data.batch_size or raise data.options.n"
            )
        self.x = torch.from_numpy(np.array(inputs)).to(device)  # a writable copy
        self.y = torch.from_numpy(np.array(targets)).to(device)
        self.paired, self.batch_size = paired, batch_size
        self.rng = np.random.default_rng([seed, 4])
        self.perm_x = self.rng.permutation(len(self.x))
        self.perm_y = self.perm_x if paired else self.rng.permutation(len(self.y))
        self.pos, self.epoch = 0, 0

    def __call__(self) -> tuple[Tensor, Tensor]:
        if self.pos + self.batch_size > min(len(self.perm_x), len(self.perm_y)):
            self.perm_x = self.rng.permutation(len(self.x))
            self.perm_y = self.perm_x if self.paired else self.rng.permutation(len(self.y))
            self.pos, self.epoch = 0, self.epoch + 1
        sl = slice(self.pos, self.pos + self.batch_size)
        self.pos += self.batch_size
        ix = torch.from_numpy(self.perm_x[sl]).to(self.x.device)
        iy = torch.from_numpy(self.perm_y[sl]).to(self.y.device)
        return self.x[ix].float() / 127.5 - 1.0, self.y[iy].float() / 127.5 - 1.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "perm_x": torch.from_numpy(self.perm_x),
            "perm_y": torch.from_numpy(self.perm_y),
            "pos": self.pos,
            "epoch": self.epoch,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.rng.bit_generator.state = sd["rng"]
        self.perm_x, self.perm_y = sd["perm_x"].numpy(), sd["perm_y"].numpy()
        self.pos, self.epoch = int(sd["pos"]), int(sd["epoch"])


def d_loss(kind: str, real: Tensor, fake: Tensor) -> Tensor:
    """The references' D loss: (loss on real + loss on fake) / 2."""
    real, fake = real.float(), fake.float()
    if kind == "lsgan":
        return 0.5 * (
            F.mse_loss(real, torch.ones_like(real)) + F.mse_loss(fake, torch.zeros_like(fake))
        )
    if kind in ("nonsaturating", "minimax"):
        return 0.5 * (
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )
    return L.discriminator_loss(kind, real, fake)


def g_loss(kind: str, fake: Tensor) -> Tensor:
    """The references' G adversarial loss (LSGAN: MSE to 1; vanilla: BCE to 1)."""
    fake = fake.float()
    if kind == "lsgan":
        return F.mse_loss(fake, torch.ones_like(fake))
    return L.generator_loss(kind, fake)


def _requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for n in nets:
        n.requires_grad_(flag)


class _Stepper:
    def __init__(self, bundle, s: TranslationSettings, make_opt, batches: PairBatches, autocast):
        self.bundle, self.s, self.batches, self.autocast = bundle, s, batches, autocast
        gens, discs = list(bundle.generators.values()), list(bundle.discriminators.values())
        self.opt_g = make_opt(itertools.chain(*(g.parameters() for g in gens)), "g")
        self.opt_d = make_opt(itertools.chain(*(d.parameters() for d in discs)), "d")
        self.discs = discs

    def sample_net(self) -> nn.Module:
        return self.bundle.generator

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: v.state_dict() for k, v in self.bundle.networks().items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        for k, v in self.bundle.networks().items():
            v.load_state_dict(sd["nets"][k])
        self.opt_g.load_state_dict(sd["opt_g"])
        self.opt_d.load_state_dict(sd["opt_d"])


class CycleGANStepper(_Stepper):
    def __init__(self, bundle, s, make_opt, batches, autocast, gen: torch.Generator | None = None):
        super().__init__(bundle, s, make_opt, batches, autocast)
        pool_gen = torch.Generator(device="cpu").manual_seed(int(gen.initial_seed()) if gen else 0)
        self.pool_gen = pool_gen
        self.pool_a = ImagePool(s.pool_size, pool_gen)
        self.pool_b = ImagePool(s.pool_size, pool_gen)

    def step(self, step: int) -> dict[str, Any]:
        s, nets = self.s, self.bundle.networks()
        g_ab, g_ba, d_a, d_b = nets["G_AB"], nets["G_BA"], nets["D_A"], nets["D_B"]
        a, b = self.batches()
        with self.autocast():
            fake_b, fake_a = g_ab(a), g_ba(b)
            rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
        # generators, with the discriminators frozen
        _requires_grad(self.discs, False)
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            adv_ab, adv_ba = g_loss(s.loss, d_b(fake_b)), g_loss(s.loss, d_a(fake_a))
            cyc_a = F.l1_loss(rec_a.float(), a) * s.lambda_cycle
            cyc_b = F.l1_loss(rec_b.float(), b) * s.lambda_cycle
            idt = torch.zeros((), device=a.device)
            if s.lambda_identity > 0:
                w = s.lambda_cycle * s.lambda_identity
                idt = (F.l1_loss(g_ab(b).float(), b) + F.l1_loss(g_ba(a).float(), a)) * w
            loss_g = adv_ab + adv_ba + cyc_a + cyc_b + idt
        loss_g.backward()
        self.opt_g.step()
        # discriminators, on fakes drawn through the image pools
        _requires_grad(self.discs, True)
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            real_b_out, fake_b_out = d_b(b), d_b(self.pool_b.query(fake_b.detach()))
            real_a_out, fake_a_out = d_a(a), d_a(self.pool_a.query(fake_a.detach()))
            loss_db = d_loss(s.loss, real_b_out, fake_b_out)
            loss_da = d_loss(s.loss, real_a_out, fake_a_out)
        (loss_da + loss_db).backward()
        self.opt_d.step()
        return {
            "losses": {
                "G": loss_g.detach(),
                "D": (loss_da + loss_db).detach(),
                "G_adv": (adv_ab + adv_ba).detach(),
                "cycle": (cyc_a + cyc_b).detach(),
                "identity": idt.detach(),
                "D_A": loss_da.detach(),
                "D_B": loss_db.detach(),
            },
            "d_real": {"D_A": real_a_out.detach(), "D_B": real_b_out.detach()},
            "d_fake": {"D_A": fake_a_out.detach(), "D_B": fake_b_out.detach()},
            "real": b,
            "fake": fake_b.detach().float(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "pool_a": self.pool_a.state_dict(),
            "pool_b": self.pool_b.state_dict(),
            "pool_rng": self.pool_gen.get_state(),
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        super().load_state_dict(sd)
        device = next(self.bundle.generator.parameters()).device
        self.pool_a.load_state_dict(sd["pool_a"], device)
        self.pool_b.load_state_dict(sd["pool_b"], device)
        self.pool_gen.set_state(sd["pool_rng"])


class Pix2PixStepper(_Stepper):
    def step(self, step: int) -> dict[str, Any]:
        s, g, d = self.s, self.bundle.generator, self.bundle.discriminator
        x, y = self.batches()
        with self.autocast():
            fake = g(x)
        self.opt_d.zero_grad(set_to_none=True)
        with self.autocast():
            real_out = d(torch.cat([x, y], 1))
            fake_out = d(torch.cat([x, fake.detach()], 1))
            loss_d = d_loss(s.loss, real_out, fake_out)
        loss_d.backward()
        self.opt_d.step()
        _requires_grad(self.discs, False)
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            adv = g_loss(s.loss, d(torch.cat([x, fake], 1))) * s.lambda_adv
            l1 = F.l1_loss(fake.float(), y) * s.lambda_l1
            loss_g = adv + l1
        loss_g.backward()
        self.opt_g.step()
        _requires_grad(self.discs, True)
        return {
            "losses": {
                "G": loss_g.detach(),
                "D": loss_d.detach(),
                "G_adv": adv.detach(),
                "L1": l1.detach(),
            },
            "d_real": real_out.detach(),
            "d_fake": fake_out.detach(),
            "real": y,
            "fake": fake.detach().float(),
        }


class SRGANStepper(_Stepper):
    def __init__(self, bundle, s, make_opt, batches, autocast, content: Callable[[Tensor], Tensor]):
        super().__init__(bundle, s, make_opt, batches, autocast)
        self.content = content

    def step(self, step: int) -> dict[str, Any]:
        s, g, d = self.s, self.bundle.generator, self.bundle.discriminator
        lr, hr = self.batches()
        with self.autocast():
            sr = g(lr)
        if step < s.pretrain_steps:  # SRResNet: pixel MSE only
            self.opt_g.zero_grad(set_to_none=True)
            mse = F.mse_loss(sr.float(), hr)
            mse.backward()
            self.opt_g.step()
            with torch.no_grad(), self.autocast():  # D's view, for the monitor only
                real_out, fake_out = d(hr), d(sr.detach())
            zero = torch.zeros((), device=hr.device)
            losses = {
                "G": mse.detach(),
                "D": zero,
                "MSE": mse.detach(),
                "content": zero,
                "G_adv": zero,
            }
        else:
            self.opt_d.zero_grad(set_to_none=True)
            with self.autocast():
                real_out, fake_out = d(hr), d(sr.detach())
                loss_d = d_loss(s.loss, real_out, fake_out)
            loss_d.backward()
            self.opt_d.step()
            _requires_grad(self.discs, False)
            self.opt_g.zero_grad(set_to_none=True)
            with self.autocast():
                mse = F.mse_loss(sr.float(), hr)
                content = F.mse_loss(self.content(sr.float()), self.content(hr)) * s.lambda_content
                adv = g_loss(s.loss, d(sr)) * s.lambda_adv
                loss_g = mse + content + adv
            loss_g.backward()
            self.opt_g.step()
            _requires_grad(self.discs, True)
            losses = {
                "G": loss_g.detach(),
                "D": loss_d.detach(),
                "MSE": mse.detach(),
                "content": content.detach(),
                "G_adv": adv.detach(),
            }
        return {
            "losses": losses,
            "d_real": real_out.detach(),
            "d_fake": fake_out.detach(),
            "real": hr,
            "fake": sr.detach().float(),
        }


def glyph_content_features(device: torch.device) -> Callable[[Tensor], Tensor]:
    """The bundled glyph classifier up to its last conv block (``[B, 128, 7, 7]``), frozen."""
    from gandiag.features import load_glyph_classifier

    clf = load_glyph_classifier(device=device)
    trunk = clf.body[:6]  # conv, pool, conv, pool, conv, conv: before global pooling

    def features(x: Tensor) -> Tensor:
        if x.shape[-1] != 28 or x.shape[1] != 1:
            raise ValueError(
                "the SRGAN content loss uses the glyph classifier, which reads 1x28x28 images; "
                f"got {tuple(x.shape[1:])}. Set translation.lambda_content = 0 for other data"
            )
        return trunk(x)

    return features
