"""Progressive growing of GANs (Karras et al. 2018), small: 4 -> 8 -> 16 -> 32 pixels.

The essentials of tkarras/progressive_growing_of_gans (networks.py, train.py, loss.py):

* equalised learning rate: weights drawn N(0, 1) and scaled at run time by He's constant
  ``gain / sqrt(fan_in)`` (``EqualizedConv2d``, ``EqualizedLinear``), so Adam's step is the
  same for every layer; gain sqrt(2) before every leaky ReLU, 1 on the linear outputs
  (toRGB, D's score) and sqrt(2)/4 on the latent's dense layer, as the reference's
  ``get_weight`` and ``G_paper``/``D_paper`` (without it D's activations shrink ~0.7x
  per layer: its last hidden layer starts ~0.05 of unit scale);
* pixel-wise feature normalisation after every generator convolution (``PixelNorm``);
* a minibatch-standard-deviation feature map in the discriminator's last block;
* a linear toRGB (no tanh: a tanh output is the known cause of collapse during fade-in,
  pengge/PyTorch-progressive_growing_of_gans#10; ``output="tanh"`` reproduces it);
* fade-in: while a new resolution is faded in, the generator's image is
  ``lerp(up(toRGB_prev(h_prev)), toRGB_new(h_new), alpha)`` and the discriminator reads
  ``lerp(fromRGB_prev(down(x)), block_new(fromRGB_new(x)), alpha)``; the trainer blends
  the reals the same way (``fade_reals``).

``level`` counts resolutions: level 0 is 4x4, level ``L`` is ``4 * 2**L``. The networks
keep the current ``level`` and ``alpha`` as buffers, so the plain ``forward`` (used by
the monitor's probes, sample grids and metrics) draws at the current resolution and
upsamples to the full size, and an EMA copy follows the schedule.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: He's gain for a layer followed by a leaky ReLU (the reference's ``get_weight`` default)
HE_GAIN = math.sqrt(2.0)


class EqualizedLinear(nn.Module):
    """Linear layer with run-time He scaling and an optional learning-rate multiplier.

    ``gain`` multiplies the He constant: the reference ProGAN's ``get_weight`` uses
    ``gain / sqrt(fan_in)`` with gain sqrt(2) before a leaky ReLU and 1 for linear outputs;
    StyleGAN2 keeps the constant at ``1 / sqrt(fan_in)`` and puts the sqrt(2) after the
    activation instead (``bias_act``'s gain)."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        bias_init: float = 0.0,
        lr_mul: float = 1.0,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init) / lr_mul))
        self.scale = gain * lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class EqualizedConv2d(nn.Module):
    """Convolution with run-time He scaling (``use_wscale`` in the reference code);
    ``gain`` as :class:`EqualizedLinear`'s."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        *,
        padding: int = 0,
        bias: bool = True,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch)) if bias else None
        self.scale = gain / math.sqrt(in_ch * kernel * kernel)
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS (eps 1e-8, as the reference)."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class MinibatchStddev(nn.Module):
    """Append the mean (over features and pixels) of the std over groups of ``group_size``."""

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = 1  # a batch the group size does not divide: one statistic over the batch
        y = x.reshape(g, -1, c, h, w)
        y = (y - y.mean(0)).pow(2).mean(0).add(1e-8).sqrt().mean(dim=(1, 2, 3))
        y = y.reshape(-1, 1, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, 0.2)


def downsample(x: Tensor) -> Tensor:
    """2x box filter (average pooling), as the reference ``downscale2d``."""
    return F.avg_pool2d(x, 2)


def upsample(x: Tensor) -> Tensor:
    """2x nearest-neighbour, as the reference ``upscale2d``."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def num_levels(image_size: int) -> int:
    """Levels from 4x4 up to ``image_size`` (a power of two >= 8)."""
    levels = round(math.log2(image_size)) - 1
    if image_size < 8 or 4 * 2 ** (levels - 1) != image_size:
        raise ValueError(
            f"progressive growing needs a power-of-two image_size >= 8, got {image_size}; "
            "set data.options.image_size = 32 for glyphs"
        )
    return levels


class _Schedule(nn.Module):
    """Holds the current ``level`` and fade-in ``alpha`` as buffers (copied by the EMA)."""

    def __init__(self, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.register_buffer("level", torch.tensor(levels - 1, dtype=torch.long))
        self.register_buffer("alpha", torch.tensor(1.0))

    def set_level(self, level: int, alpha: float) -> None:
        if not 0 <= level < self.levels:
            raise ValueError(f"level must be in [0, {self.levels - 1}], got {level}")
        self.level.fill_(int(level))
        self.alpha.fill_(float(alpha))


class ProGANGenerator(_Schedule):
    def __init__(
        self,
        latent_dim: int,
        image_size: int = 32,
        channels: int = 1,
        width: int = 64,
        *,
        pixel_norm: bool = True,
        output: str = "linear",
    ) -> None:
        super().__init__(num_levels(image_size))
        if output not in ("linear", "tanh"):
            raise ValueError(f"output must be 'linear' (the paper's) or 'tanh', got {output!r}")
        self.latent_dim, self.image_size, self.output = latent_dim, image_size, output
        self.norm = PixelNorm() if pixel_norm else nn.Identity()
        # the reference's gains: sqrt(2)/4 on the latent's dense layer ("to match the
        # original Theano implementation"), sqrt(2) before every leaky ReLU, 1 on toRGB
        self.dense = EqualizedLinear(latent_dim, width * 16, gain=HE_GAIN / 4)
        self.width = width
        self.blocks = nn.ModuleList([EqualizedConv2d(width, width, 3, padding=1, gain=HE_GAIN)])
        for _ in range(1, self.levels):
            self.blocks.append(
                nn.ModuleList(
                    [
                        EqualizedConv2d(width, width, 3, padding=1, gain=HE_GAIN),
                        EqualizedConv2d(width, width, 3, padding=1, gain=HE_GAIN),
                    ]
                )
            )
        self.to_rgb = nn.ModuleList(
            [EqualizedConv2d(width, channels, 1) for _ in range(self.levels)]
        )

    def stages(self) -> dict[str, nn.Module]:
        """Each resolution's layers, by phase name (``res4``: the input layers too)."""
        out = {}
        for lv in range(self.levels):
            first = [self.dense] if lv == 0 else []
            out[f"res{4 * 2**lv}"] = nn.ModuleList([*first, self.blocks[lv], self.to_rgb[lv]])
        return out

    def _rgb(self, h: Tensor, level: int) -> Tensor:
        x = self.to_rgb[level](h)
        return torch.tanh(x) if self.output == "tanh" else x

    def forward_at(self, z: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        """Images at resolution ``4 * 2**level``, fading the newest level in by ``alpha``."""
        h = self.norm(_lrelu(self.dense(self.norm(z)).view(-1, self.width, 4, 4)))
        h = self.norm(_lrelu(self.blocks[0](h)))
        prev = h
        for lv in range(1, level + 1):
            prev = h
            h = upsample(h)
            for conv in self.blocks[lv]:
                h = self.norm(_lrelu(conv(h)))
        img = self._rgb(h, level)
        if level > 0 and alpha < 1.0:
            img = torch.lerp(upsample(self._rgb(prev, level - 1)), img, float(alpha))
        return img

    def forward(self, z: Tensor) -> Tensor:
        level = int(self.level)
        img = self.forward_at(z, level, float(self.alpha))
        scale = self.image_size // img.shape[-1]
        return F.interpolate(img, scale_factor=scale, mode="nearest") if scale > 1 else img


class ProGANDiscriminator(_Schedule):
    def __init__(
        self, image_size: int = 32, channels: int = 1, width: int = 64, *, mbstd_group: int = 4
    ) -> None:
        super().__init__(num_levels(image_size))
        self.image_size = image_size
        # gain sqrt(2) before every leaky ReLU, 1 on the output (the reference's D_paper)
        self.from_rgb = nn.ModuleList(
            [EqualizedConv2d(channels, width, 1, gain=HE_GAIN) for _ in range(self.levels)]
        )
        # blocks[L] maps level L features to level L-1 (two convs then 2x downsample)
        self.blocks = nn.ModuleList([nn.Identity()])
        for _ in range(1, self.levels):
            self.blocks.append(
                nn.ModuleList(
                    [
                        EqualizedConv2d(width, width, 3, padding=1, gain=HE_GAIN),
                        EqualizedConv2d(width, width, 3, padding=1, gain=HE_GAIN),
                    ]
                )
            )
        self.mbstd = MinibatchStddev(mbstd_group)
        self.final_conv = EqualizedConv2d(width + 1, width, 3, padding=1, gain=HE_GAIN)
        self.final_dense = EqualizedLinear(width * 16, width, gain=HE_GAIN)
        self.out = EqualizedLinear(width, 1)

    def stages(self) -> dict[str, nn.Module]:
        """Each resolution's layers, by phase name (``res4``: the output layers too)."""
        out = {}
        for lv in range(self.levels):
            last = [self.final_conv, self.final_dense, self.out] if lv == 0 else []
            out[f"res{4 * 2**lv}"] = nn.ModuleList([self.from_rgb[lv], self.blocks[lv], *last])
        return out

    def _block(self, h: Tensor, level: int) -> Tensor:
        for conv in self.blocks[level]:
            h = _lrelu(conv(h))
        return downsample(h)

    def forward_at(self, x: Tensor, level: int, alpha: float = 1.0) -> Tensor:
        h = _lrelu(self.from_rgb[level](x))
        if level > 0:
            h = self._block(h, level)
            if alpha < 1.0:
                skip = _lrelu(self.from_rgb[level - 1](downsample(x)))
                h = torch.lerp(skip, h, float(alpha))
        for lv in range(level - 1, 0, -1):
            h = self._block(h, lv)
        h = _lrelu(self.final_conv(self.mbstd(h)))
        h = _lrelu(self.final_dense(h.flatten(1)))
        return self.out(h)

    def forward(self, x: Tensor) -> Tensor:
        level = int(self.level)
        res = 4 * 2**level
        if x.shape[-1] != res:
            x = F.adaptive_avg_pool2d(x, res)
        return self.forward_at(x, level, float(self.alpha))


def fade_reals(x: Tensor, level: int, alpha: float, levels: int) -> Tensor:
    """Reals at level ``level``'s resolution, blended like the fakes during fade-in.

    The reference's ``process_reals`` ("FadeLOD"): down to the level's resolution, then
    lerp between the 2x box-downsampled-and-upsampled copy and the image itself.
    """
    size = 4 * 2**level
    if x.shape[-1] != size:
        x = F.adaptive_avg_pool2d(x, size)
    if level > 0 and alpha < 1.0:
        x = torch.lerp(upsample(downsample(x)), x, float(alpha))
    return x
