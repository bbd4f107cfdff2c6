"""The SR gains (torchmetrics' PSNR and SSIM) against a float64 reference written from the
definitions: PSNR = 10 log10(L^2 / MSE) over the whole batch; SSIM of Wang et al. (2004),
an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population (co)variances,
averaged over every pixel, channel and image, the image reflected by 5 pixels at its borders
(torchmetrics' convention; scikit-image instead averages only where the window fits)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from agreement import assert_agrees
from scipy.signal import correlate2d
from torch import nn

from gandiag.monitor.translation import TranslationProbe


class Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    return float(10 * np.log10(data_range**2 / np.mean((a - b) ** 2)))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    g = np.exp(-0.5 * (np.arange(11) - 5.0) ** 2 / 1.5**2)
    w = np.outer(g, g) / g.sum() ** 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    maps = []
    for x, y in zip(a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])):
        x, y = np.pad(x, 5, mode="reflect"), np.pad(y, 5, mode="reflect")
        mx, my = correlate2d(x, w, "valid"), correlate2d(y, w, "valid")
        vx = correlate2d(x * x, w, "valid") - mx**2
        vy = correlate2d(y * y, w, "valid") - my**2
        cxy = correlate2d(x * y, w, "valid") - mx * my
        maps.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(maps))


@pytest.mark.parametrize("channels", [1, 3])
def test_sr_gains_agree_with_the_definitions(channels):
    gen = torch.Generator().manual_seed(channels)
    hr = torch.rand(6, channels, 32, 32, generator=gen) * 2 - 1
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    probe = TranslationProbe(lr, hr, paired=True, super_resolution=True)
    noisy = (hr + 0.1 * torch.randn(hr.shape, generator=gen)).clamp(-1, 1)
    got = probe.signals("G", Fn(lambda v: noisy))

    def unit(v: torch.Tensor) -> np.ndarray:
        return ((v.clamp(-1, 1).double() + 1) / 2).numpy()

    t, g, b = unit(hr), unit(noisy), unit(probe.x_ref)
    want_psnr = psnr(g, t) - psnr(b, t)
    want_ssim = ssim(g, t) - ssim(b, t)
    # float32 inside torchmetrics: agreement to 1e-5 of the terms (PSNR ~ 20 dB, SSIM ~ 1)
    assert_agrees(got["translation/G/psnr_gain"], want_psnr, scale=psnr(b, t), rel=1e-5)
    assert_agrees(got["translation/G/ssim_gain"], want_ssim, scale=1.0, rel=1e-5)
    assert abs(want_psnr) > 1 and abs(want_ssim) > 0.05  # not a vacuous comparison
