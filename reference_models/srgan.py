"""SRGAN (Ledig et al. 2017): an SRResNet generator with sub-pixel upsampling and a VGG-style D.

Generator (the paper's Fig. 4, as in tensorlayer/SRGAN and leftthomas/SRGAN): a 9x9 conv
and PReLU, ``n_blocks`` residual blocks (3x3 conv, BN, PReLU, 3x3 conv, BN, skip), a 3x3
conv and BN added to the stem's output (global skip), then one upsampling block per
factor 2 (3x3 conv to 4x channels, PixelShuffle(2), PReLU) and a 9x9 conv with tanh.
The paper has 16 blocks of 64 channels at x4; the glyph default is 3 blocks of 16
channels at x2, from 14 to 28 px (at x4 a 7x7 glyph is no longer legible, for bicubic
upsampling or any network).

Discriminator: 3x3 convolutions with LeakyReLU(0.2) and BN (none on the first), strides
alternating 1 and 2 while the channels double, then a dense layer, LeakyReLU and one
logit (the sigmoid lives in the BCE loss). The paper ends with 512 channels and a 1024
unit dense layer; here ``width`` to ``8*width`` channels and a ``4*width`` dense layer.
"""

from __future__ import annotations

import math

from torch import Tensor, nn


class SRResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class SRResNet(nn.Module):
    """Low-resolution images ``[B, C, s, s]`` -> ``[B, C, scale*s, scale*s]`` in [-1, 1]."""

    def __init__(
        self, channels: int = 1, *, scale: int = 4, width: int = 32, n_blocks: int = 4
    ) -> None:
        super().__init__()
        steps = round(math.log2(scale))
        if scale < 2 or 2**steps != scale:
            raise ValueError(f"scale must be a power of 2 (2, 4, 8), got {scale}")
        self.scale = scale
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 9, padding=4), nn.PReLU(width))
        self.blocks = nn.Sequential(
            *[SRResidualBlock(width) for _ in range(n_blocks)],
            nn.Conv2d(width, width, 3, padding=1),
            nn.BatchNorm2d(width),
        )
        up: list[nn.Module] = []
        for _ in range(steps):
            up += [nn.Conv2d(width, 4 * width, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(width)]
        self.up = nn.Sequential(*up, nn.Conv2d(width, channels, 9, padding=4), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        return self.up(h + self.blocks(h))


class SRDiscriminator(nn.Module):
    """High-resolution images ``[B, C, S, S]`` -> logits ``[B, 1]``."""

    def __init__(self, channels: int = 1, *, width: int = 16, image_size: int = 28) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in, size = channels, image_size
        for i, c in enumerate([width, width, 2 * width, 2 * width, 4 * width, 4 * width]):
            stride = 2 if i % 2 else 1
            layers.append(nn.Conv2d(c_in, c, 3, stride, 1))
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, True))
            c_in, size = c, (size + 2 - 3) // stride + 1
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * size * size, 4 * width),
            nn.LeakyReLU(0.2, True),
            nn.Linear(4 * width, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
