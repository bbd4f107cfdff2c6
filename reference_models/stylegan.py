"""StyleGAN-lite (Karras et al. 2019, 2020): a mapping network and a style-modulated synthesis.

The essentials of NVlabs/stylegan2-ada-pytorch (training/networks.py), shrunk for
32x32 glyphs on a CPU:

* mapping network z -> w: pixel norm, ``map_layers`` equalised linear layers whose
  learning rate is multiplied by ``lr_mul`` (0.01 in the paper); a running mean of w
  (``w_avg``) for the truncation trick ``w_avg + psi * (w - w_avg)``;
* synthesis from a learned 4x4 constant: modulated 3x3 convolutions with weight
  demodulation ``w' = s * w / sqrt(sum (s * w)^2 + 1e-8)``, per-pixel noise inputs with a
  learned strength initialised to 0, bias and leaky ReLU; skip-architecture toRGB
  (modulated 1x1, no demodulation) summed over resolutions;
* one w per layer (``num_ws``), so style mixing swaps w at a crossover layer;
* a discriminator with equalised learning rate and minibatch stddev (config-e style,
  without residual connections by default; ``d_architecture="resnet"`` gives the
  reference's residual blocks; ``mbstd_group=0`` drops the minibatch-stddev layer, a
  diagnostic); every hidden layer's leaky ReLU is
  followed by the gain sqrt(2) (``bias_act``'s ``def_gain``), as in the generator, so
  activations keep unit scale through its nine layers (without it they shrink ~0.7x per
  layer, D's input gradient starts ~500x too small and the biases swamp the signal).

Resampling is nearest-neighbour up and 2x2 box down by default; ``resample="fir"`` uses
the reference's [1, 3, 3, 1] low-pass filter (:mod:`gandiag.reference_models.fir`). Neither
option, nor both, changes the loss of diversity this model shows on glyphs
(docs/benchmarks.md, growing_families (d)). The image's bias is one parameter added at the
end by default; ``rgb_bias="per_level"`` gives each toRGB its own, as the reference.
``architecture="orig"`` (the model option ``g_architecture``) keeps only the last toRGB
instead of the reference's default skip sum over resolutions.

``demodulate=False`` gives the un-demodulated (AdaIN-like) synthesis whose feature maps
are prone to the droplet artifacts StyleGAN2 removed.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gandiag.reference_models import fir
from gandiag.reference_models.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    PixelNorm,
    downsample,
    num_levels,
    upsample,
)

#: how the networks resample: StyleGAN2's [1, 3, 3, 1] FIR filter or ProGAN's nearest/box
RESAMPLE = ("fir", "nearest")
#: the discriminator's blocks: stylegan2-ada's residual blocks or plain conv-conv-down
D_ARCHITECTURES = ("resnet", "orig")
#: the image's bias: one per toRGB layer (stylegan2-ada's ``ToRGBLayer.bias``) or one in all
RGB_BIAS = ("per_level", "shared")
#: the generator's output: toRGB at every resolution, upsampled and summed (the reference's
#: default ``"skip"``), or toRGB at the last resolution only (its ``"orig"``)
G_ARCHITECTURES = ("skip", "orig")


def _check(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def _lrelu_gain(x: Tensor) -> Tensor:
    """Leaky ReLU (0.2) times sqrt(2): stylegan2-ada's ``bias_act`` with its default gain."""
    return F.leaky_relu(x, 0.2) * math.sqrt(2.0)


class MappingNetwork(nn.Module):
    def __init__(self, latent_dim: int, w_dim: int, layers: int = 2, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.norm = PixelNorm()
        dims = [latent_dim] + [w_dim] * layers
        self.layers = nn.ModuleList(
            [EqualizedLinear(a, b, lr_mul=lr_mul) for a, b in itertools.pairwise(dims)]
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor) -> Tensor:
        x = self.norm(z)
        for layer in self.layers:
            x = _lrelu_gain(layer(x))
        return x


class ModulatedConv2d(nn.Module):
    """A convolution whose input channels are scaled per sample by a style (Karras et al. 2020)."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel: int, w_dim: int, *, demodulate: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.affine = EqualizedLinear(w_dim, in_ch, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_ch * kernel * kernel)
        self.demodulate, self.padding = demodulate, kernel // 2

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        n, c, h, wd = x.shape
        s = self.affine(w)  # [N, in]
        weight = self.weight[None] * self.scale * s[:, None, :, None, None]  # [N, out, in, k, k]
        if self.demodulate:
            d = torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4)) + 1e-8)
            weight = weight * d[:, :, None, None, None]
        out_ch = weight.shape[1]
        out = F.conv2d(
            x.reshape(1, n * c, h, wd),
            weight.reshape(n * out_ch, c, *weight.shape[3:]),
            padding=self.padding,
            groups=n,
        )
        return out.reshape(n, out_ch, *out.shape[2:])


class StyleLayer(nn.Module):
    """Modulated conv + noise input (strength starts at 0) + bias + leaky ReLU."""

    def __init__(self, in_ch: int, out_ch: int, w_dim: int, *, demodulate: bool) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, 3, w_dim, demodulate=demodulate)
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_ch))

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        x = self.conv(x, w)
        if noise is not None:
            x = x + noise * self.noise_strength
        return _lrelu_gain(x + self.bias[None, :, None, None])


class SynthesisNetwork(nn.Module):
    def __init__(
        self,
        w_dim: int,
        image_size: int,
        channels: int,
        width: int,
        *,
        demodulate: bool,
        resample: str = "nearest",
        rgb_bias: str = "shared",
        architecture: str = "skip",
    ) -> None:
        super().__init__()
        self.levels = num_levels(image_size)
        self.skip = _check("g_architecture", architecture, G_ARCHITECTURES) == "skip"
        self.upsample = (
            fir.upsample2d if _check("resample", resample, RESAMPLE) == "fir" else upsample
        )
        self.const = nn.Parameter(torch.randn(width, 4, 4))
        self.layers = nn.ModuleList([StyleLayer(width, width, w_dim, demodulate=demodulate)])
        for _ in range(1, self.levels):
            self.layers.append(StyleLayer(width, width, w_dim, demodulate=demodulate))
            self.layers.append(StyleLayer(width, width, w_dim, demodulate=demodulate))
        self.to_rgb = nn.ModuleList(
            [
                ModulatedConv2d(width, channels, 1, w_dim, demodulate=False)
                for _ in range(self.levels if self.skip else 1)
            ]
        )
        # "per_level": each toRGB adds its own bias before the sum, as the reference, so
        # Adam moves the image's offset up to `levels` times faster; "shared": one at the end
        per_level = _check("rgb_bias", rgb_bias, RGB_BIAS) == "per_level"
        self.rgb_bias = nn.Parameter(
            torch.zeros(len(self.to_rgb), channels) if per_level else torch.zeros(channels)
        )
        # one w per conv layer and one per toRGB (toRGB l reads the w of the layer before it)
        self.num_ws = len(self.layers) + 1
        #: mean |activation| per channel of the 8x8 features at the last forward, when
        #: ``record_channels`` is set (the droplet-artifact signal)
        self.record_channels = False
        self.last_channel_means: Tensor | None = None

    def noise_shapes(self, n: int) -> list[tuple[int, int, int, int]]:
        shapes, res = [(n, 1, 4, 4)], 4
        for _ in range(1, self.levels):
            res *= 2
            shapes += [(n, 1, res, res), (n, 1, res, res)]
        return shapes

    def input(self, ws: Tensor) -> Tensor:
        """The 4x4 input of the first layer: the learned constant, the same for every sample."""
        return self.const[None].expand(ws.shape[0], -1, -1, -1)

    def forward(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """Images from per-layer styles ``ws`` ``[N, num_ws, w_dim]``; ``noise`` per layer."""
        n = ws.shape[0]
        if noise is None:
            noise = [torch.randn(s, device=ws.device, dtype=ws.dtype) for s in self.noise_shapes(n)]
        x = self.layers[0](self.input(ws), ws[:, 0], noise[0])
        img = self._rgb(0, x, ws[:, 1]) if self.skip else None
        k = 1
        for level in range(1, self.levels):
            x = self.upsample(x)
            x = self.layers[k](x, ws[:, k], noise[k])
            x = self.layers[k + 1](x, ws[:, k + 1], noise[k + 1])
            if level == 1 and self.record_channels:
                self.last_channel_means = x.detach().abs().mean(dim=(0, 2, 3))
            k += 2
            if img is not None:
                img = self.upsample(img) + self._rgb(level, x, ws[:, min(k, self.num_ws - 1)])
        if img is None:  # "orig": one toRGB, reading the last w as the skip's last toRGB does
            img = self._rgb(0, x, ws[:, self.num_ws - 1])
        return img if self.rgb_bias.dim() == 2 else img + self.rgb_bias[None, :, None, None]

    def _rgb(self, index: int, x: Tensor, w: Tensor) -> Tensor:
        """toRGB number ``index``, with its own bias when the biases are per level."""
        y = self.to_rgb[index](x, w)
        return y + self.rgb_bias[index][None, :, None, None] if self.rgb_bias.dim() == 2 else y


class StyleGANGenerator(nn.Module):
    def __init__(
        self,
        latent_dim: int,
        image_size: int = 32,
        channels: int = 1,
        width: int = 64,
        *,
        w_dim: int = 64,
        map_layers: int = 2,
        map_lr_mul: float = 0.01,
        demodulate: bool = True,
        w_avg_beta: float = 0.995,
        resample: str = "nearest",
        rgb_bias: str = "shared",
        architecture: str = "skip",
    ) -> None:
        super().__init__()
        self.latent_dim, self.image_size, self.w_dim = latent_dim, image_size, w_dim
        self.mapping = MappingNetwork(latent_dim, w_dim, map_layers, map_lr_mul)
        self.synthesis = SynthesisNetwork(
            w_dim,
            image_size,
            channels,
            width,
            demodulate=demodulate,
            resample=resample,
            rgb_bias=rgb_bias,
            architecture=architecture,
        )
        self.num_ws = self.synthesis.num_ws
        self.w_avg_beta = w_avg_beta

    def map(self, z: Tensor, *, psi: float = 1.0, update_avg: bool = False) -> Tensor:
        """``w`` for ``z`` (``[N, w_dim]``); ``psi < 1`` truncates toward the running mean."""
        w = self.mapping(z)
        if update_avg:
            with torch.no_grad():
                self.mapping.w_avg.lerp_(w.detach().mean(0), 1.0 - self.w_avg_beta)
        if psi != 1.0:
            w = self.mapping.w_avg.lerp(w, psi)
        return w

    def broadcast(self, w: Tensor) -> Tensor:
        return w[:, None].expand(-1, self.num_ws, -1)

    @staticmethod
    def mix(ws1: Tensor, ws2: Tensor, crossover: int) -> Tensor:
        """Styles from ``ws1`` before layer ``crossover`` and from ``ws2`` from it on."""
        out = ws1.clone()
        out[:, crossover:] = ws2[:, crossover:]
        return out

    def forward(self, z: Tensor, *, psi: float = 1.0, noise: list[Tensor] | None = None) -> Tensor:
        return self.synthesis(self.broadcast(self.map(z, psi=psi)), noise)


class StyleGANDiscriminator(nn.Module):
    """fromRGB at full resolution, one block per level down to 4x4, then the epilogue
    (minibatch stddev, 3x3 conv, dense, dense to one logit), as stylegan2-ada's
    ``Discriminator``. ``architecture="resnet"`` (the reference's default, used by all its
    configurations) adds to each block a bias-free 1x1 skip convolution of the down-sampled
    input and scales both branches by sqrt(0.5); ``"orig"`` is conv, conv, down-sample."""

    def __init__(
        self,
        image_size: int = 32,
        channels: int = 1,
        width: int = 64,
        *,
        mbstd_group: int = 4,
        architecture: str = "orig",
        resample: str = "nearest",
    ) -> None:
        super().__init__()
        levels = num_levels(image_size)
        self.residual = _check("architecture", architecture, D_ARCHITECTURES) == "resnet"
        self.fir = _check("resample", resample, RESAMPLE) == "fir"
        self.downsample = fir.downsample2d if self.fir else downsample
        self.from_rgb = EqualizedConv2d(channels, width, 1)
        self.blocks = nn.ModuleList(
            [
                nn.ModuleList(
                    [
                        EqualizedConv2d(width, width, 3, padding=1),
                        EqualizedConv2d(width, width, 3, padding=1),
                    ]
                )
                for _ in range(levels - 1)
            ]
        )
        self.skips = nn.ModuleList(
            [EqualizedConv2d(width, width, 1, bias=False) for _ in range(levels - 1)]
            if self.residual
            else []
        )
        # mbstd_group 0 drops the layer (the reference's mbstd_num_channels = 0), a diagnostic
        self.mbstd = MinibatchStddev(mbstd_group) if mbstd_group > 0 else None
        self.final_conv = EqualizedConv2d(width + (self.mbstd is not None), width, 3, padding=1)
        self.final_dense = EqualizedLinear(width * 16, width)
        self.out = EqualizedLinear(width, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = _lrelu_gain(self.from_rgb(x))
        for i, (conv0, conv1) in enumerate(self.blocks):
            y = conv1(_lrelu_gain(conv0(h)))
            # the reference filters before conv1's activation; the box path keeps its order
            y = _lrelu_gain(self.downsample(y)) if self.fir else self.downsample(_lrelu_gain(y))
            if self.residual:
                # the reference's skip (gain sqrt(0.5)) plus conv1's output times sqrt(0.5)
                y = (self.skips[i](self.downsample(h)) + y) * math.sqrt(0.5)
            h = y
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = _lrelu_gain(self.final_conv(h))
        h = _lrelu_gain(self.final_dense(h.flatten(1)))
        return self.out(h)
