"""Fully connected generators and discriminators, for 2-D toy data and flattened images.

The defaults follow the toy-data setups of the Unrolled-GAN, VEEGAN and PacGAN papers
(two hidden layers of 128 ReLU units). Conditioning is by concatenating a one-hot label
(Mirza & Osindero 2014); an auxiliary head on the discriminator's last hidden layer
serves ACGAN (class logits) and InfoGAN (code predictions).
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.reference_models.layers import maybe_spectral_norm


def mlp_layers(
    sizes: list[int], *, activation: str = "relu", spectral_norm: bool = False
) -> nn.Sequential:
    """Linear layers with ``activation`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(maybe_spectral_norm(nn.Linear(a, b), spectral_norm))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    """z ``[B, latent_dim]`` (and labels ``[B]`` when conditional) -> samples ``[B, *data_shape]``.

    ``output="tanh"`` bounds samples to [-1, 1] (images); ``"linear"`` leaves them free
    (2-D points).
    """

    def __init__(
        self,
        latent_dim: int,
        data_shape: tuple[int, ...],
        *,
        hidden: int = 128,
        depth: int = 2,
        num_classes: int = 0,
        output: str = "linear",
    ) -> None:
        super().__init__()
        if output not in ("linear", "tanh"):
            raise ValueError(f"output must be 'linear' or 'tanh', got {output!r}")
        self.latent_dim = latent_dim
        self.data_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.output = output
        out = math.prod(self.data_shape)
        self.net = mlp_layers([latent_dim + num_classes] + [hidden] * depth + [out])

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        h = _with_labels(z, y, self.num_classes)
        x = self.net(h).view(z.shape[0], *self.data_shape)
        return torch.tanh(x) if self.output == "tanh" else x


class MLPDiscriminator(nn.Module):
    """Samples ``[B, *data_shape]`` (and labels when conditional) -> logits ``[B]``.

    ``forward(x, y, return_aux=True)`` also returns the auxiliary head ``[B, aux_dim]``.
    """

    def __init__(
        self,
        data_shape: tuple[int, ...],
        *,
        hidden: int = 128,
        depth: int = 2,
        num_classes: int = 0,
        aux_dim: int = 0,
        spectral_norm: bool = False,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.data_shape = tuple(data_shape)
        self.num_classes = num_classes
        self.aux_dim = aux_dim
        inp = math.prod(self.data_shape) + num_classes
        self.trunk = nn.Sequential(
            mlp_layers(
                [inp] + [hidden] * depth, activation=activation, spectral_norm=spectral_norm
            ),
            nn.ReLU() if activation == "relu" else nn.LeakyReLU(0.2),
        )
        self.head = maybe_spectral_norm(nn.Linear(hidden, 1), spectral_norm)
        self.aux_head = nn.Linear(hidden, aux_dim) if aux_dim else None

    def forward(
        self, x: Tensor, y: Tensor | None = None, return_aux: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        h = self.trunk(_with_labels(x.flatten(1), y, self.num_classes))
        logits = self.head(h).squeeze(1)
        if not return_aux:
            return logits
        if self.aux_head is None:
            raise ValueError("this discriminator has no auxiliary head; build it with aux_dim > 0")
        return logits, self.aux_head(h)


def _with_labels(h: Tensor, y: Tensor | None, num_classes: int) -> Tensor:
    if num_classes == 0:
        if y is not None:
            raise ValueError("labels were passed to an unconditional network; drop them")
        return h
    if y is None:
        raise ValueError(
            f"this network is conditional on {num_classes} classes; pass integer labels y [B]"
        )
    return torch.cat([h, F.one_hot(y.long(), num_classes).to(h.dtype)], dim=1)
