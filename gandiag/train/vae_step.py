"""One autoencoder iteration: VAE / β-VAE (negative ELBO) or AE / denoising AE (MSE)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from gandiag.reference_models import ModelBundle


@dataclass
class VAESettings:
    beta: float
    kl_anneal_steps: int
    free_bits: float
    kl_anneal_start: int = 0


class AutoencoderStepper:
    """Owns the optimiser of a VAE or autoencoder bundle and runs its iterations.

    The VAE minimises ``recon + w(step) * beta * sum_j max(KL_j, free_bits)`` where
    ``w`` rises linearly from 0 to 1 over the ``kl_anneal_steps`` steps from
    ``kl_anneal_start`` (Bowman et al. 2016; a run resumed or forked mid-way anneals from
    where the annealing was switched on, not from step 0) and
    the floor is Kingma et al.'s free bits (applied to the batch-mean KL per dim).
    """

    def __init__(
        self,
        bundle: ModelBundle,
        settings: VAESettings,
        make_optimizer: Callable[[Any, str], torch.optim.Optimizer],
        next_batch: Callable[[], tuple[Tensor, Tensor | None]],
        generator: torch.Generator,
        autocast: Callable[[], contextlib.AbstractContextManager],
    ) -> None:
        self.b, self.s = bundle, settings
        self.model = bundle.model
        self.opt = make_optimizer(self.model.parameters(), "model")
        self.next_batch, self.gen, self.autocast = next_batch, generator, autocast
        self.variational = bundle.kind == "vae"

    def kl_weight(self, step: int) -> float:
        if self.s.kl_anneal_steps <= 0:
            return self.s.beta
        done = max(0, step - self.s.kl_anneal_start)
        return self.s.beta * min(1.0, done / self.s.kl_anneal_steps)

    def step(self, step: int) -> dict[str, Any]:
        x, _ = self.next_batch()
        m = self.model
        with self.autocast():
            if self.variational:
                recon, mu, logvar = m(x, generator=self.gen)
            else:
                mu = m.encode(m.corrupt(x, self.gen))
                recon = m.decode(mu)
                logvar = torch.zeros_like(mu)
        if self.variational:
            nll, kl_dim = m.loss_terms(x, recon, mu, logvar)
            kl = kl_dim.sum()
            kl_term = kl_dim.clamp(min=self.s.free_bits).sum() if self.s.free_bits else kl
            loss = nll + self.kl_weight(step) * kl_term
            losses = {"total": loss.detach(), "recon": nll.detach(), "kl": kl.detach()}
        else:
            loss = (x.float() - recon.float()).pow(2).flatten(1).sum(1).mean()
            losses = {"total": loss.detach(), "recon": loss.detach()}
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {
            "losses": losses,
            "mu": mu.detach().float(),
            "logvar": logvar.detach().float(),
            "inputs": x,
            "recon": recon.detach(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        self.model.load_state_dict(sd["model"])
        self.opt.load_state_dict(sd["opt"])

    def sample_net(self) -> torch.nn.Module:
        return self.model
