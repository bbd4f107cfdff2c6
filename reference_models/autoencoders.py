"""Autoencoder family: AE, denoising AE, VAE (MLP and convolutional) and β-VAE.

One :class:`VAE` class covers the variational models: an encoder producing
``(mu, logvar)``, the reparameterised sample, and a decoder whose output is the mean
of a Gaussian likelihood with a fixed standard deviation ``decoder_sigma``. That σ
sets the balance between reconstruction and KL: 0.1 gives a healthy VAE on [-1, 1]
data, while σ = 1 lets the KL term win and the posterior collapse (Lucas et
al. 2019, "Don't Blame the ELBO"). ``beta`` multiplies the KL (Higgins et al. 2017).

:class:`Autoencoder` is the deterministic counterpart; with ``noise_std > 0`` the
trainer corrupts its inputs (Vincent et al. 2008) and it is a denoising autoencoder.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gandiag.reference_models.dcgan import DCGANGenerator, start_size
from gandiag.reference_models.layers import norm_2d
from gandiag.reference_models.losses import gaussian_kl
from gandiag.reference_models.mlp import mlp_layers


def make_encoder(
    arch: str, data_shape: tuple[int, ...], out_dim: int, *, hidden: int, depth: int, width: int
) -> nn.Module:
    """An encoder from data ``[B, *data_shape]`` to ``[B, out_dim]``."""
    if arch == "mlp":
        return nn.Sequential(
            nn.Flatten(), mlp_layers([math.prod(data_shape)] + [hidden] * depth + [out_dim])
        )
    channels, size = data_shape[0], data_shape[-1]
    s0, k = start_size(size)
    layers: list[nn.Module] = []
    c_in, c = channels, width
    for i in range(k):
        layers += [
            nn.Conv2d(c_in, c, 4, 2, 1),
            norm_2d("batch" if i else "none", c),
            nn.LeakyReLU(0.2, True),
        ]
        c_in, c = c, c * 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c_in * s0 * s0, out_dim))


def make_decoder(
    arch: str,
    data_shape: tuple[int, ...],
    latent_dim: int,
    *,
    hidden: int,
    depth: int,
    width: int,
    output: str,
) -> nn.Module:
    """A decoder from ``[B, latent_dim]`` to ``[B, *data_shape]``."""
    if arch == "mlp":
        return _MLPDecoder(latent_dim, data_shape, hidden=hidden, depth=depth, output=output)
    return DCGANGenerator(
        latent_dim, image_size=data_shape[-1], channels=data_shape[0], width=width
    )


class _MLPDecoder(nn.Module):
    def __init__(
        self, latent_dim: int, data_shape: tuple[int, ...], *, hidden: int, depth: int, output: str
    ) -> None:
        super().__init__()
        self.data_shape, self.output = tuple(data_shape), output
        self.net = mlp_layers([latent_dim] + [hidden] * depth + [math.prod(data_shape)])

    def forward(self, z: Tensor) -> Tensor:
        x = self.net(z).view(z.shape[0], *self.data_shape)
        return torch.tanh(x) if self.output == "tanh" else x


class VAE(nn.Module):
    """Variational autoencoder with a Gaussian likelihood of fixed σ (Kingma & Welling 2014).

    ``forward(x)`` returns ``(recon, mu, logvar)``; :meth:`loss_terms` turns them into
    the negative ELBO's reconstruction term and the KL per latent dimension.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        latent_dim: int,
        *,
        decoder_sigma: float = 0.1,
        beta: float = 1.0,
    ) -> None:
        super().__init__()
        if decoder_sigma <= 0:
            raise ValueError(f"decoder_sigma must be positive, got {decoder_sigma}")
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = latent_dim
        self.decoder_sigma = float(decoder_sigma)
        self.beta = float(beta)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def reparameterize(
        self, mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        eps = torch.randn(mu.shape, device=mu.device, dtype=mu.dtype, generator=generator)
        return mu + eps * (0.5 * logvar).exp()

    def forward(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        return self.decode(z), mu, logvar

    def loss_terms(
        self, x: Tensor, recon: Tensor, mu: Tensor, logvar: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``(recon_nll, kl_per_dim)``: the Gaussian NLL summed over data dims (up to a
        constant) averaged over the batch, and the KL of each latent dim averaged over the batch."""
        sq = (x.float() - recon.float()).pow(2).flatten(1).sum(1)
        recon_nll = (sq / (2 * self.decoder_sigma**2)).mean()
        return recon_nll, gaussian_kl(mu, logvar).mean(0)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Decoded draws from the prior N(0, I)."""
        device = device or next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, device=device, generator=generator)
        return self.decode(z)


class Autoencoder(nn.Module):
    """Deterministic autoencoder; ``noise_std > 0`` makes it a denoising autoencoder.

    The corruption is applied by the trainer (:meth:`corrupt`), so ``forward`` is the
    clean reconstruction used at evaluation time.
    """

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, *, noise_std: float = 0.0
    ) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.latent_dim = latent_dim
        self.noise_std = float(noise_std)

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    def corrupt(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``x`` plus Gaussian noise of ``noise_std`` (the denoising AE's training input)."""
        if self.noise_std <= 0:
            return x
        noise = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
        return x + self.noise_std * noise
