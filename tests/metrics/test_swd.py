"""Sliced Wasserstein distance on Laplacian pyramids: invariants (Karras et al. 2018 protocol)."""

import numpy as np
import pytest

from gandiag.metrics.swd import _up, laplacian_pyramid, sliced_wasserstein, swd


def _blobs(n, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    cy, cx = rng.uniform(10, 22, (2, n, 1, 1))
    r = rng.uniform(3, 6, (n, 1, 1))
    img = np.exp(-((yy - cy - shift) ** 2 + (xx - cx) ** 2) / (2 * r**2))
    return (img * 2 - 1)[:, None] + 0.05 * rng.standard_normal((n, 1, 32, 32))


def test_identical_sets_give_zero_and_are_deterministic():
    a = _blobs(32, 0)
    res = swd(a, a, patches_per_image=16)
    assert res.per_level == (0.0, 0.0) and res.resolutions == (32, 16)
    assert swd(a, _blobs(32, 1), patches_per_image=16) == swd(
        a, _blobs(32, 1), patches_per_image=16
    )


def test_separates_shifted_and_noisier_sets_from_a_fresh_draw():
    a, b = _blobs(64, 0), _blobs(64, 1)
    base = swd(a, b, patches_per_image=32)
    shifted = swd(a, _blobs(64, 1, shift=6.0), patches_per_image=32)
    noisy = swd(
        a, b + 0.5 * np.random.default_rng(2).standard_normal(b.shape), patches_per_image=32
    )
    assert shifted.mean > 3 * base.mean
    # white noise lives in the finest band: it moves the 32x32 level far more than 16x16
    assert noisy.per_level[0] > 2 * base.per_level[0]
    assert noisy.per_level[0] / base.per_level[0] > noisy.per_level[1] / base.per_level[1]


def test_pyramid_reconstructs_the_image():
    x = _blobs(4, 3)
    levels = laplacian_pyramid(x, min_resolution=8)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    rec = levels[-1]
    for band in reversed(levels[:-1]):
        rec = _up(rec) + band
    np.testing.assert_allclose(rec, x, atol=1e-10)


def test_sliced_wasserstein_matches_the_1d_distance_along_one_axis():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((500, 1))
    b = a + 0.7  # a translation by 0.7: W1 = 0.7 along the only direction (+-1)
    assert sliced_wasserstein(a, b, dir_repeats=2, dirs_per_repeat=8) == pytest.approx(0.7)


def test_bad_shapes_name_the_fix():
    with pytest.raises(ValueError, match="same shape"):
        swd(_blobs(8, 0), _blobs(9, 0))
    with pytest.raises(ValueError, match="min_resolution"):
        swd(np.zeros((4, 1, 8, 8)), np.zeros((4, 1, 8, 8)))
