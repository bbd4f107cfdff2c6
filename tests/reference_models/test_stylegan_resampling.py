"""StyleGAN-lite's FIR resampling and residual discriminator against the reference's rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gandiag.reference_models import build_model, fir
from gandiag.reference_models.stylegan import StyleGANDiscriminator


def _upfirdn_loop(x: np.ndarray, up: int, down: int, pad: tuple[int, int], gain: float):
    """upfirdn2d written out pixel by pixel, one image ``[H, W]``: insert ``up - 1`` zeros
    after each pixel, zero-pad ``pad`` (before, after), convolve with the normalised
    [1, 3, 3, 1] outer product times ``gain``, keep every ``down``-th pixel."""
    taps = np.array([1.0, 3.0, 3.0, 1.0])
    k = np.outer(taps, taps) / 64.0 * gain
    h, w = x.shape
    z = np.zeros((h * up, w * up))
    z[::up, ::up] = x
    p = np.zeros((h * up + sum(pad), w * up + sum(pad)))
    p[pad[0] : pad[0] + h * up, pad[0] : pad[0] + w * up] = z
    out = np.zeros((p.shape[0] - 3, p.shape[1] - 3))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (p[i : i + 4, j : j + 4] * k[::-1, ::-1]).sum()
    return out[::down, ::down]


def test_fir_upsample_matches_upfirdn2d_written_out():
    x = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    ours = fir.upsample2d(x).numpy()
    assert ours.shape == (2, 3, 10, 12)
    for n in range(2):
        for c in range(3):
            ref = _upfirdn_loop(x[n, c].numpy(), 2, 1, (2, 1), 4.0)
            np.testing.assert_allclose(ours[n, c], ref, rtol=0, atol=1e-12)


def test_fir_downsample_matches_upfirdn2d_written_out():
    x = torch.randn(2, 3, 8, 6, dtype=torch.float64)
    ours = fir.downsample2d(x).numpy()
    assert ours.shape == (2, 3, 4, 3)
    for n in range(2):
        for c in range(3):
            ref = _upfirdn_loop(x[n, c].numpy(), 1, 2, (1, 1), 1.0)
            np.testing.assert_allclose(ours[n, c], ref, rtol=0, atol=1e-12)


def test_fir_resampling_keeps_a_constant_away_from_the_border():
    ones = torch.ones(1, 1, 8, 8)
    assert torch.allclose(fir.upsample2d(ones)[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))
    assert torch.allclose(fir.downsample2d(ones)[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2))


def test_fir_upsample_is_smoother_than_nearest():
    """The point of the filter: no 2x2 blocks. A checkerboard-free ramp up-sampled by FIR
    has no repeated neighbours inside; nearest repeats every pixel."""
    ramp = torch.arange(36.0).reshape(1, 1, 6, 6)
    up = fir.upsample2d(ramp)[0, 0, 2:-2, 2:-2]
    assert bool((up[:, 1:] != up[:, :-1]).all())


@pytest.mark.parametrize("resample", ["fir", "nearest"])
def test_stylegan_networks_build_with_either_resampling(resample):
    b = build_model("stylegan", seed=0, resample=resample)
    with torch.no_grad():
        img = b.generator(torch.randn(4, b.latent_dim))
        out = b.discriminator(img)
    assert img.shape == (4, 1, 32, 32) and out.shape == (4, 1)
    assert torch.isfinite(out).all()


def test_residual_discriminator_adds_a_bias_free_skip_per_block():
    """stylegan2-ada's 'resnet' D: each block's output is (skip(down(x)) + main(x)) *
    sqrt(0.5), the skip a bias-free 1x1 conv; with the main branch's last conv zeroed a
    block passes its down-sampled input through the skip alone."""
    torch.manual_seed(0)
    d = StyleGANDiscriminator(32, 1, 8, architecture="resnet", resample="fir")
    assert len(d.skips) == 3 and all(s.bias is None for s in d.skips)
    h = torch.randn(2, 8, 16, 16)
    block, skip = d.blocks[1], d.skips[1]
    with torch.no_grad():
        block[1].weight.zero_()
        block[1].bias.zero_()
        main = block[1](block[0](h))  # zero
        y = (skip(fir.downsample2d(h)) + fir.downsample2d(main)) * np.sqrt(0.5)
        expected = skip(fir.downsample2d(h)) * np.sqrt(0.5)
    assert torch.allclose(y, expected)


@pytest.mark.parametrize("architecture", ["resnet", "orig"])
def test_stylegan_discriminator_architectures_keep_unit_scale(architecture):
    """The residual blocks' two sqrt(0.5) gains keep the plain D's unit activation scale
    (box down-sampling: FIR filtering shrinks white noise, the test's input, ~3x more)."""
    torch.manual_seed(0)
    d = StyleGANDiscriminator(32, 1, 32, architecture=architecture, resample="nearest")
    seen = {}
    d.final_dense.register_forward_hook(lambda m, i, o: seen.update(rms=o.pow(2).mean().sqrt()))
    with torch.no_grad():
        d(torch.randn(64, 1, 32, 32))
    assert 0.3 < float(seen["rms"]) < 3.0


def test_unknown_resampling_or_architecture_names_the_valid_ones():
    with pytest.raises(ValueError, match="'fir', 'nearest'"):
        build_model("stylegan", seed=0, resample="bilinear")
    with pytest.raises(ValueError, match="'resnet', 'orig'"):
        StyleGANDiscriminator(32, 1, 8, architecture="skip")
