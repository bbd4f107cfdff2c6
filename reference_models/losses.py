"""GAN objectives and regularisers, written once so the trainer and users share them.

Every discriminator loss takes the critic's raw outputs (logits for the probability
losses) on a real and a fake batch and returns a scalar to *minimise*; every
generator loss takes the raw outputs on fakes. The names are the ones a config uses:

============== =========================================== ===============================
name           discriminator                               generator
============== =========================================== ===============================
minimax        BCE(D(x), 1) + BCE(D(G(z)), 0)              E[log(1 - D(G(z)))]  (saturating)
nonsaturating  same as minimax                             -E[log D(G(z))]  (Goodfellow 2014)
lsgan          ½E[(D(x)-1)²] + ½E[D(G(z))²]                ½E[(D(G(z))-1)²]  (Mao et al. 2017)
wasserstein    E[D(G(z))] - E[D(x)]                        -E[D(G(z))]  (Arjovsky et al. 2017)
hinge          E[relu(1-D(x))] + E[relu(1+D(G(z)))]        -E[D(G(z))]  (Lim & Ye; Miyato 2018)
============== =========================================== ===============================

The saturating minimax generator loss is kept on purpose: it is the textbook way to
reproduce vanishing generator gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

GAN_LOSSES = ("minimax", "nonsaturating", "lsgan", "wasserstein", "hinge")

# How gandiag.Monitor(loss=...) should read the critic's outputs for each objective.
_MONITOR_KIND = {
    "minimax": "bce",
    "nonsaturating": "bce",
    "lsgan": "lsgan",
    "wasserstein": "wasserstein",
    "hinge": "hinge",
}


def check_loss(name: str) -> str:
    """Return ``name`` if it is a known GAN objective, else raise listing the valid ones."""
    if name not in GAN_LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; choose one of {', '.join(GAN_LOSSES)}")
    return name


def monitor_loss_kind(name: str) -> str:
    """The ``loss=`` argument of :class:`gandiag.Monitor` matching a GAN objective."""
    return _MONITOR_KIND[check_loss(name)]


def discriminator_loss(name: str, real: Tensor, fake: Tensor, *, real_label: float = 1.0) -> Tensor:
    """Critic loss for objective ``name`` on raw outputs ``real`` and ``fake``.

    ``real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016: 0.9); it
    applies to the probability losses only (minimax, nonsaturating, lsgan) because the
    other objectives have no labels.
    """
    check_loss(name)
    real, fake = real.float(), fake.float()
    if name in ("minimax", "nonsaturating"):
        # BCE-with-logits against a (possibly smoothed) real label; softplus form is stable.
        real_term = F.binary_cross_entropy_with_logits(real, torch.full_like(real, real_label))
        return real_term + F.softplus(fake).mean()
    if name == "lsgan":
        return 0.5 * ((real - real_label) ** 2).mean() + 0.5 * (fake**2).mean()
    if name == "wasserstein":
        return fake.mean() - real.mean()
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()  # hinge


def generator_loss(name: str, fake: Tensor) -> Tensor:
    """Generator loss for objective ``name`` on the critic's raw outputs on fakes."""
    check_loss(name)
    fake = fake.float()
    if name == "minimax":
        # log(1 - sigmoid(l)) = -softplus(l): minimising it saturates when D rejects fakes.
        return -F.softplus(fake).mean()
    if name == "nonsaturating":
        return F.softplus(-fake).mean()
    if name == "lsgan":
        return 0.5 * ((fake - 1.0) ** 2).mean()
    return -fake.mean()  # wasserstein and hinge


def gradient_penalty(
    critic: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    *,
    center: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """WGAN-GP penalty E[(‖∇D(x̂)‖ - center)²] at random interpolates x̂ (Gulrajani et al. 2017).

    Returns the penalty without its weight λ (10 in the paper). ``generator`` seeds the
    interpolation coefficients.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real {tuple(real.shape)} and fake {tuple(fake.shape)} batches must have the same "
            "shape for the gradient penalty; draw as many fakes as reals"
        )
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device, dtype=real.dtype, generator=generator)
    mixed = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return ((norms - center) ** 2).mean()


def r1_penalty(critic: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 penalty E[‖∇ₓD(x)‖²] on real data (Mescheder et al. 2018).

    Returns the mean squared gradient norm; the usual regulariser is ``gamma / 2`` times
    this. The critic's output is summed, so each sample's gradient is its own.
    """
    x = real.detach().requires_grad_(True)
    out = critic(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(1).mean()


def instance_noise(x: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """``x`` plus Gaussian noise of standard deviation ``std`` (Sønderby et al. 2017).

    Applied to both real and fake inputs of the critic so their supports overlap.
    """
    if std <= 0:
        return x
    noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    return x + std * noise


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, exp(logvar)) ‖ N(0, I)) per latent dimension, shape ``[B, D]``."""
    return 0.5 * (mu.float() ** 2 + logvar.float().exp() - 1.0 - logvar.float())
