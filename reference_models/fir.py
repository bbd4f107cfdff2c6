"""2x resampling with StyleGAN2's [1, 3, 3, 1] low-pass FIR filter.

The behaviour of NVlabs/stylegan2-ada-pytorch's ``upfirdn2d.upsample2d`` and
``downsample2d`` with the default ``resample_filter=[1, 3, 3, 1]`` (Karras et al. 2020,
after Zhang 2019, "Making convolutional networks shift-invariant again"): the separable
filter is the outer product of the taps normalised to sum 1; up-sampling inserts zeros,
pads with zeros (2 before, 1 after, for 4 taps) and filters with gain 4 so a constant
keeps its value away from the border; down-sampling pads 1 on each side, filters and
keeps every second pixel. Nearest-neighbour up-sampling and box (2x2 mean) down-sampling,
ProGAN's choice, are the other option of the StyleGAN-lite networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: the filter taps of StyleGAN2's ``resample_filter``
TAPS = (1.0, 3.0, 3.0, 1.0)


def fir_kernel(taps: tuple[float, ...] = TAPS) -> Tensor:
    """The 2-D filter: the outer product of ``taps``, normalised to sum 1."""
    t = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(t, t)
    return k / k.sum()


def _filter(x: Tensor, kernel: Tensor, pad: tuple[int, int, int, int]) -> Tensor:
    c = x.shape[1]
    k = kernel.to(device=x.device, dtype=x.dtype).flip(0, 1)[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(F.pad(x, pad), k, groups=c)


def upsample2d(x: Tensor, kernel: Tensor | None = None) -> Tensor:
    """2x up-sampling: zero insertion, then the FIR filter with gain 4 (``upsample2d``)."""
    kernel = fir_kernel() if kernel is None else kernel
    n, c, h, w = x.shape
    up = torch.zeros(n, c, h, 2, w, 2, dtype=x.dtype, device=x.device)
    up[:, :, :, 0, :, 0] = x
    up = up.reshape(n, c, 2 * h, 2 * w)
    taps = kernel.shape[0]
    before, after = (taps + 1) // 2, (taps - 2) // 2
    return _filter(up, kernel * 4, (before, after, before, after))


def downsample2d(x: Tensor, kernel: Tensor | None = None) -> Tensor:
    """2x down-sampling: the FIR filter, then every second pixel (``downsample2d``)."""
    kernel = fir_kernel() if kernel is None else kernel
    taps = kernel.shape[0]
    before, after = (taps - 1) // 2, (taps - 2) // 2
    return _filter(x, kernel, (before, after, before, after))[:, :, ::2, ::2]
