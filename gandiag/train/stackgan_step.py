"""The StackGAN loop (Zhang et al. 2017), trained stage I then stage II as the paper does.

As hanzhanggit/StackGAN-Pytorch code/trainer.py, with steps instead of epochs: stage I
(16 px) trains for ``stage1_steps``; then stage II (32 px) trains on the frozen stage I
(its output detached, its parameters out of the optimiser) with fresh optimisers, until
the end. Each stage is a phase (``stage1``, ``stage2``).

Losses per stage (BCE on logits): the matching-aware discriminator loss
``real/right + (fake/right + real/wrong) / 2``, where the wrong pair is a real image with
another class's condition (the reference shifts the batch's conditions by one; a shifted
class label can equal the true one, so the wrong class is drawn from the other classes);
the discriminators read the class embedding through their own context layer (the authors'
TensorFlow code; StackGAN-Pytorch passes the CA's ``mu`` detached, which leaves D's view of
the condition to the generator's CA); the generator loss is the non-saturating one plus
``kl_weight`` (the reference's ``COEFF.KL = 2``) times the CA's KL, averaged over batch and
dimensions as the reference's ``KL_loss``. Adam 2e-4, betas (0.5, 0.999).

Signals: ``ca/kl`` (KL of the active stage's CA, summed over dimensions, nats per sample),
``ca/sigma_mean`` (its mean sigma; 0 without CA), ``ca/kl_dim/<j>`` and
``ca/condition_nats`` (log of the number of classes) every ``probe_every`` steps, and in
stage II ``level/1/copy_ratio``: the energy of what stage II adds over the
upsampled stage-I image, over the energy the real 32 px image has over its upsampled 16 px
copy (near 0 when stage II only copies stage I).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gandiag import signals as S
from gandiag.reference_models.stackgan import STAGES, down, kl_per_dim, up
from gandiag.train.family import (
    FamilyStepper,
    adversarial_state,
    load_adversarial_state,
)


@dataclass
class StackGANSettings:
    stage1_steps: int = 600
    kl_weight: float = 2.0
    probe_every: int = 10

    def __post_init__(self) -> None:
        if self.stage1_steps < 0:
            raise ValueError(f"stage1_steps must be >= 0, got {self.stage1_steps}")
        if self.kl_weight < 0:
            raise ValueError(f"kl_weight must be >= 0, got {self.kl_weight}")
        if self.probe_every < 1:
            raise ValueError(f"probe_every must be >= 1, got {self.probe_every}")


def _bce(logits: Tensor, target: float) -> Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class StackGANStepper(FamilyStepper):
    Settings = StackGANSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.stage = 0
        self._enter(1)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(vars(self.s))

    def _enter(self, stage: int) -> None:
        """Make ``stage`` the trained one: the generator's buffer and fresh optimisers."""
        if stage == self.stage:
            return
        self.stage = stage
        self.G.stage.fill_(stage)
        self.D.stage.fill_(stage)
        g_params = [*self.G.ca(stage).parameters()]
        g_params += [*(self.G.stage1 if stage == 1 else self.G.stage2).parameters()]
        self.opt_g = self.make_optimizer(g_params, "g")
        self.opt_d = self.make_optimizer(self.D.stage_net(stage).parameters(), "d")

    def _fake(self, z: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """``(image, mu, logvar, stage-I image under stage II)`` of the active stage."""
        if self.stage == 1:
            image, mu, logvar = self.G.sample_stage1(z, y, self.gen)
            return image, mu, logvar, None
        with torch.no_grad():  # stage I is frozen
            s1 = self.G.sample_stage1(z, y, self.gen)[0]
        image, mu, logvar = self.G.sample_stage2(s1, y, self.gen)
        return image, mu, logvar, s1

    def step(self, step: int) -> dict[str, Any]:
        self._enter(1 if step < self.s.stage1_steps else 2)
        x, y = self.next_batch()
        if y is None:
            raise ValueError("stackgan is class-conditional; train it on a labelled dataset")
        k = self.G.num_classes
        offset = torch.randint(1, k, y.shape, device=y.device, generator=self.gen)
        wrong = (y + offset) % k
        real = down(x) if self.stage == 1 else x

        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        z = torch.randn(x.shape[0], self.b.latent_dim, device=x.device, generator=self.gen)
        with torch.no_grad(), self.autocast():
            fake = self._fake(z, y)[0]
        with self.autocast():
            d_real = self.D.score(real, y, self.stage)
            d_wrong = self.D.score(real, wrong, self.stage)
            d_fake = self.D.score(fake, y, self.stage)
        loss_real, loss_fake, loss_wrong = _bce(d_real, 1.0), _bce(d_fake, 0.0), _bce(d_wrong, 0.0)
        loss_d = loss_real + 0.5 * (loss_fake + loss_wrong)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        self.D.requires_grad_(False)
        self.G.requires_grad_(True)
        z = torch.randn(x.shape[0], self.b.latent_dim, device=x.device, generator=self.gen)
        with self.autocast():
            fake_g, mu_g, logvar_g, s1 = self._fake(z, y)
            loss_adv = _bce(self.D.score(fake_g, y, self.stage), 1.0)
        augmented = self.G.ca(self.stage).augment
        kl = kl_per_dim(mu_g.float(), logvar_g.float()) if augmented else None
        loss_g = loss_adv + (self.s.kl_weight * kl.mean() if kl is not None else 0.0)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

        losses = {
            "G": loss_g.detach(),
            "D": loss_d.detach(),
            "G_adv": loss_adv.detach(),
            "D_real": loss_real.detach(),
            "D_fake": loss_fake.detach(),
            "D_wrong": loss_wrong.detach(),
        }
        scalars = self._signals(step, kl, logvar_g, x, fake_g, s1)
        if kl is not None:
            losses["KL"] = kl.detach().mean()
        return {
            "losses": losses,
            "d_real": d_real.detach(),
            "d_fake": d_fake.detach(),
            "real": real,
            "fake": fake.detach(),
            "labels": None,
            "scalars": scalars,
            "phase": (STAGES[self.stage - 1], None),
        }

    @torch.no_grad()
    def _signals(
        self,
        step: int,
        kl: Tensor | None,
        logvar: Tensor,
        x: Tensor,
        fake: Tensor,
        s1: Tensor | None,
    ) -> dict[str, float | Tensor]:
        # tensors, read by the monitor when it flushes: no host sync per step
        out: dict[str, float | Tensor] = {}
        if kl is None:  # no augmentation: c = mu, a point mass (KL undefined, sigma 0)
            out[S.CA_SIGMA_MEAN] = 0.0
        else:
            out[S.CA_KL] = kl.sum()
            out[S.CA_SIGMA_MEAN] = (0.5 * logvar.float()).exp().mean()
            if self.probe_due(step):
                with self.probe_charge():
                    out.update({S.ca_kl_dim(j): kl[j] for j in range(kl.numel())})
                out[S.CA_CONDITION_NATS] = math.log(self.G.num_classes)
        if s1 is not None:
            detail_fake = (fake.float() - up(s1.float())).pow(2).mean()
            detail_real = (x.float() - up(down(x.float()))).pow(2).mean()
            out[S.level_copy_ratio(1)] = detail_fake / (detail_real + 1e-12)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {**adversarial_state(self), "stage": self.stage}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self._enter(int(sd["stage"]))  # the optimisers of that stage, then their state
        load_adversarial_state(self, sd)

    def sample_net(self) -> torch.nn.Module:
        return self.G
