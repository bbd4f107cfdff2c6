"""PatchGAN discriminator and the weight initialisation of the CycleGAN/pix2pix reference.

Follows ``NLayerDiscriminator`` and ``init_weights`` of junyanz/pytorch-CycleGAN-and-pix2pix
(models/networks.py): 4x4 convolutions, ``n_layers`` of them with stride 2 (the first
without normalisation), then one stride-1 convolution and a stride-1 convolution to one
channel, LeakyReLU(0.2); weights drawn from N(0, ``init_gain``), norm scales from
N(1, ``init_gain``). The receptive field is 16 px for ``n_layers=1``, 34 for 2 and 70 for 3
(the reference default, larger than a whole 28 px glyph), see :func:`receptive_field`.
"""

from __future__ import annotations

from torch import Tensor, nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``"instance"`` (CycleGAN), ``"batch"`` (pix2pix) or ``"none"``."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; choose instance, batch or none")


def receptive_field(n_layers: int) -> int:
    """Receptive field in pixels of a PatchGAN with ``n_layers`` stride-2 convolutions."""
    rf = 1
    for stride in reversed([2] * n_layers + [1, 1]):
        rf = (rf - 1) * stride + 4
    return rf


class PatchGAN(nn.Module):
    """Images ``[B, in_channels, H, W]`` -> a map of patch logits ``[B, 1, h, w]``."""

    def __init__(
        self, in_channels: int, *, width: int = 32, n_layers: int = 1, norm: str = "instance"
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be at least 1, got {n_layers}")
        bias = norm == "instance" or norm == "none"  # the reference: bias only without BN
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, 2, 1),
            nn.LeakyReLU(0.2, True),
        ]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                nn.Conv2d(width * prev, width * mult, 4, 2, 1, bias=bias),
                norm_layer(norm, width * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [
            nn.Conv2d(width * prev, width * mult, 4, 1, 1, bias=bias),
            norm_layer(norm, width * mult),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(width * mult, 1, 4, 1, 1),
        ]
        self.net = nn.Sequential(*layers)
        self.receptive_field = receptive_field(n_layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's ``normal`` init: conv/linear weights N(0, gain), biases 0, norm
    scales N(1, gain). A larger ``gain`` is one of the settings its users report behind
    colour inversion (docs/qa.md of the reference repository)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net
