"""pix2pix (Isola et al. 2017): a U-Net generator whose only noise is dropout, a conditional PatchGAN.

Follows ``UnetGenerator`` / ``UnetSkipConnectionBlock`` of junyanz/pytorch-CycleGAN-and-pix2pix
(models/networks.py): ``depth`` 4x4 stride-2 convolutions down (LeakyReLU 0.2, batch
norm except on the outermost and innermost), transposed convolutions up (ReLU, batch
norm, tanh at the end), each level's encoder output concatenated to its decoder
input. Dropout 0.5 sits in the decoder of the three levels just outside the innermost,
as in the reference's ``ngf*8`` blocks, and is the generator's only source of noise (the
paper gives it no z). The reference ``unet_256`` has 8 levels at 256 px; here 5 levels
at 32 px: a 28 px image is padded with the background value (-1) to 32 and the output
cropped back. The discriminator is a PatchGAN on ``cat(input, output)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.reference_models.patchgan import norm_layer


class UnetBlock(nn.Module):
    def __init__(
        self,
        outer: int,
        inner: int,
        *,
        in_channels: int | None = None,
        sub: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: str = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        in_channels = outer if in_channels is None else in_channels
        bias = norm != "batch"
        down: list[nn.Module] = [nn.Conv2d(in_channels, inner, 4, 2, 1, bias=bias)]
        if not outermost:
            down.insert(0, nn.LeakyReLU(0.2, True))
        if not (outermost or innermost):
            down.append(norm_layer(norm, inner))
        up_in = inner if innermost else inner * 2
        up: list[nn.Module] = [
            nn.ReLU(True),
            nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=outermost or bias),
        ]
        if outermost:
            up.append(nn.Tanh())
        else:
            up.append(norm_layer(norm, outer))
            if dropout:
                up.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*down, *([sub] if sub is not None else []), *up)

    def forward(self, x: Tensor) -> Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """Images ``[B, C_in, S, S]`` -> ``[B, C_out, S, S]``; sides padded to a multiple of ``2^depth``."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        *,
        width: int = 16,
        depth: int = 5,
        norm: str = "batch",
        dropout: float = 0.5,
        pad_value: float = -1.0,
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"the U-Net needs depth >= 2, got {depth}")
        widths = [min(width * 2**i, width * 8) for i in range(depth)]  # encoder outputs
        block: nn.Module = UnetBlock(widths[-2], widths[-1], innermost=True, norm=norm)
        for level in range(depth - 2, 0, -1):
            near_inner = depth - 1 - level <= 3  # the three levels outside the innermost
            block = UnetBlock(
                widths[level - 1],
                widths[level],
                sub=block,
                norm=norm,
                dropout=dropout if near_inner else 0.0,
            )
        self.net = UnetBlock(
            out_channels, widths[0], in_channels=in_channels, sub=block, outermost=True, norm=norm
        )
        self.depth, self.pad_value = depth, pad_value

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=self.pad_value)
        y = self.net(x)
        if ph or pw:
            y = y[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
        return y
