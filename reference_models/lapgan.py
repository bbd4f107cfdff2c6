"""LAPGAN (Denton et al. 2015): a Laplacian pyramid of GANs, 8 -> 16 -> 32 on glyphs.

The layout of witnessai/LAPGAN (mnist) and facebook/eyescream (cifar coarse_to_fine):

* level 0 generates the coarsest image (8x8) from noise, unconditionally;
* level k > 0 is conditional: its generator takes a noise plane and the upsampled coarse
  image ``up(I_{k-1})`` and outputs the band-pass residual ``h_k``, and the image is
  ``up(I_{k-1}) + h_k``; its discriminator scores ``(h_k, up(I_{k-1}))`` (eyescream's
  ``CAddTable(diff, coarse)`` keeps the coarse image as input);
* the levels are trained independently on the real pyramid (coarse = up(down(x)),
  residual = x - coarse), and sampled coarse to fine (``LAPGANGenerator.forward``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def down(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 2)


def up(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


def real_pyramid(x: Tensor, levels: int) -> tuple[list[Tensor], list[Tensor]]:
    """``(coarse inputs up(I_{k-1}) per level (None-free from level 1), residuals)``.

    Returns lists indexed by level: ``images[k]`` is the real image at level k's size,
    ``coarse[k]`` (k >= 1) the upsampled image of level k-1 it is conditioned on.
    """
    images = [x]
    for _ in range(levels - 1):
        images.insert(0, down(images[0]))
    coarse = [torch.zeros(0)] + [up(images[k - 1]) for k in range(1, levels)]
    return images, coarse


class BaseGenerator(nn.Module):
    """Level 0: noise -> 8x8 image (a small DCGAN-style generator, linear output)."""

    def __init__(self, latent_dim: int, channels: int, width: int, size: int) -> None:
        super().__init__()
        self.size, self.width = size, width
        self.fc = nn.Linear(latent_dim, width * (size // 2) ** 2)
        self.net = nn.Sequential(
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, width, 4, 2, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(-1, self.width, self.size // 2, self.size // 2))


class ResidualGenerator(nn.Module):
    """Level k: [noise plane, up(coarse)] -> residual (3 convs, as eyescream's)."""

    def __init__(self, channels: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + 1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
        )

    def forward(self, noise: Tensor, coarse: Tensor) -> Tensor:
        return self.net(torch.cat([noise, coarse], dim=1))


class LevelDiscriminator(nn.Module):
    """Scores an image (level 0) or a (residual, coarse) pair (level k)."""

    def __init__(self, in_channels: int, width: int, size: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Dropout(0.2),
            nn.Flatten(),
            nn.Linear(width * (size // 2) ** 2, 1),
        )

    def forward(self, x: Tensor, coarse: Tensor | None = None) -> Tensor:
        return self.net(x if coarse is None else torch.cat([x, coarse], dim=1))


class LAPGANGenerator(nn.Module):
    """All levels; ``forward(z)`` samples coarse to fine (noise planes drawn per call).

    ``residual_scale`` multiplies every generated residual, in training and in sampling
    alike (0: each level only copies the upsampled level below). It is an attribute, not a
    buffer, so a loaded checkpoint keeps the scale its loop sets.
    """

    def __init__(self, latent_dim: int, image_size: int, channels: int, width: int, levels: int):
        super().__init__()
        base = image_size // 2 ** (levels - 1)
        if base * 2 ** (levels - 1) != image_size or base < 4:
            raise ValueError(
                f"image_size {image_size} must be a power-of-two multiple of a base size >= 4 "
                f"for {levels} levels; use 32 (8/16/32) or 28 with levels=3 (7/14/28)"
            )
        self.latent_dim, self.levels, self.channels = latent_dim, levels, channels
        self.residual_scale = 1.0
        self.sizes = [base * 2**k for k in range(levels)]
        self.nets = nn.ModuleList(
            [BaseGenerator(latent_dim, channels, width, base)]
            + [ResidualGenerator(channels, width) for _ in range(1, levels)]
        )

    def residual(self, level: int, coarse: Tensor, generator: torch.Generator | None = None):
        noise = torch.randn(
            coarse.shape[0], 1, *coarse.shape[2:], device=coarse.device, generator=generator
        )
        return self.residual_scale * self.nets[level](noise, coarse)

    def stages(self) -> dict[str, nn.Module]:
        """Each level's generator, coarsest first (``level0`` draws from noise)."""
        return {f"level{k}": net for k, net in enumerate(self.nets)}

    def forward(self, z: Tensor, return_levels: bool = False):
        img = self.nets[0](z)
        out = [img]
        for k in range(1, self.levels):
            coarse = up(img)
            img = coarse + self.residual(k, coarse)
            out.append(img)
        return out if return_levels else img


class LAPGANDiscriminator(nn.Module):
    def __init__(self, image_size: int, channels: int, width: int, levels: int) -> None:
        super().__init__()
        base = image_size // 2 ** (levels - 1)
        self.nets = nn.ModuleList(
            [LevelDiscriminator(channels, width, base)]
            + [LevelDiscriminator(2 * channels, width, base * 2**k) for k in range(1, levels)]
        )

    def stages(self) -> dict[str, nn.Module]:
        """Each level's discriminator, coarsest first."""
        return {f"level{k}": net for k, net in enumerate(self.nets)}

    def forward(self, x: Tensor) -> Tensor:
        """Score full-size images as the finest level's D does (residual vs its coarse)."""
        coarse = up(down(x))
        return self.nets[-1](x - coarse, coarse)
