"""DCGAN generator and discriminator (Radford et al. 2016) for square images of 28, 32, 64 px.

The generator projects z to a ``s0 x s0`` map with ``width * 2^(k-1)`` channels and
doubles the resolution ``k`` times with stride-2 transposed convolutions (batch norm and
ReLU between, tanh at the end); the discriminator mirrors it with stride-2
convolutions and LeakyReLU(0.2), no normalisation on its first layer. ``s0`` is the
image size halved while it stays even and above 7: 7 for 28 px, 4 for 32 and 64 px.

Options cover the variants built on this backbone: the critic's normalisation
(``"batch"`` for DCGAN, ``"layer"`` or ``"none"`` for WGAN-GP, whose penalty is per
sample), spectral normalisation (SN-GAN), concatenated label conditioning, and an
auxiliary head (ACGAN, InfoGAN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.reference_models.layers import maybe_spectral_norm, norm_2d


def start_size(image_size: int) -> tuple[int, int]:
    """``(s0, k)``: the base resolution and the number of doublings reaching ``image_size``."""
    s, k = int(image_size), 0
    while s % 2 == 0 and s > 7:
        s //= 2
        k += 1
    if k == 0 or not 3 <= s <= 7:
        raise ValueError(
            f"image_size {image_size} is not supported by the DCGAN backbone; use a size that "
            "halves to 3..7 px, such as 28, 32 or 64"
        )
    return s, k


class DCGANGenerator(nn.Module):
    """z ``[B, latent_dim]`` (and labels ``[B]`` when conditional) -> images ``[B, C, S, S]`` in [-1, 1]."""

    def __init__(
        self,
        latent_dim: int,
        *,
        image_size: int = 32,
        channels: int = 1,
        width: int = 64,
        num_classes: int = 0,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        s0, k = start_size(image_size)
        self.latent_dim, self.num_classes = latent_dim, num_classes
        self.image_size, self.channels = image_size, channels
        c = width * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim + num_classes, c, s0, 1, 0, bias=norm == "none"),
            norm_2d(norm, c),
            nn.ReLU(True),
        ]
        for i in range(k):
            last = i == k - 1
            out = channels if last else c // 2
            layers.append(nn.ConvTranspose2d(c, out, 4, 2, 1, bias=last or norm == "none"))
            if not last:
                layers += [norm_2d(norm, out), nn.ReLU(True)]
            c = out
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError(
                    f"this generator is conditional on {self.num_classes} classes; pass labels y [B]"
                )
            z = torch.cat([z, F.one_hot(y.long(), self.num_classes).to(z.dtype)], 1)
        elif y is not None:
            raise ValueError("labels were passed to an unconditional generator; drop them")
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """Images ``[B, C, S, S]`` (and labels when conditional) -> logits ``[B]``.

    A conditional discriminator sees the one-hot label as ``num_classes`` constant
    extra input planes. ``forward(x, y, return_aux=True)`` also returns the auxiliary
    head ``[B, aux_dim]``.
    """

    def __init__(
        self,
        *,
        image_size: int = 32,
        channels: int = 1,
        width: int = 64,
        num_classes: int = 0,
        aux_dim: int = 0,
        norm: str = "batch",
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        s0, k = start_size(image_size)
        self.num_classes, self.aux_dim = num_classes, aux_dim
        self.image_size, self.channels = image_size, channels
        layers: list[nn.Module] = []
        c_in, c = channels + num_classes, width
        for i in range(k):
            conv = nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0 or norm == "none")
            layers.append(maybe_spectral_norm(conv, spectral_norm))
            if i > 0:
                layers.append(norm_2d(norm, c))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in, c = c, c * 2
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        features = c_in * s0 * s0
        # A linear layer over the flattened s0 x s0 map is DCGAN's final s0 x s0 convolution.
        self.head = maybe_spectral_norm(nn.Linear(features, 1), spectral_norm)
        self.aux_head = nn.Linear(features, aux_dim) if aux_dim else None
        init_dcgan_weights(self)

    def forward(
        self, x: Tensor, y: Tensor | None = None, return_aux: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        if self.num_classes:
            if y is None:
                raise ValueError(
                    f"this discriminator is conditional on {self.num_classes} classes; "
                    "pass labels y [B]"
                )
            planes = F.one_hot(y.long(), self.num_classes).to(x.dtype)[:, :, None, None]
            x = torch.cat([x, planes.expand(-1, -1, x.shape[2], x.shape[3])], 1)
        elif y is not None:
            raise ValueError("labels were passed to an unconditional discriminator; drop them")
        h = self.trunk(x)
        logits = self.head(h).squeeze(1)
        if not return_aux:
            return logits
        if self.aux_head is None:
            raise ValueError("this discriminator has no auxiliary head; build it with aux_dim > 0")
        return logits, self.aux_head(h)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialisation: weights N(0, 0.02), norm scales N(1, 0.02), biases 0.

    Draws from torch's default generator like every ``nn.Module`` constructor;
    :func:`~gandiag.reference_models.build_model` seeds it (``seed=``) without
    disturbing the caller's random state.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            sn = getattr(m, "parametrizations", None)
            w = sn.weight.original if sn is not None else m.weight
            nn.init.normal_(w, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
