"""Held-out outcome scalars of image-to-image models (gandiag.train.translation_eval)."""

import math

import torch

from gandiag.train.translation_eval import _fid_kid, image_corr


def test_image_corr_is_pearson_per_image_averaged():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 1, 8, 8, generator=g) * 2 - 1
    assert math.isclose(image_corr(x, x), 1.0, abs_tol=1e-9)
    # an inversion, at any contrast and offset, is -1; the metric ignores affine level changes
    assert math.isclose(image_corr(0.3 - 0.5 * x, x), -1.0, abs_tol=1e-9)
    # half the images inverted: the mean is 0 (not a run that inverts)
    half = torch.cat([x[:3], -x[3:]])
    assert math.isclose(image_corr(half, x), 0.0, abs_tol=1e-9)
    # against numpy's Pearson on one image
    import numpy as np

    y = torch.rand(1, 1, 8, 8, generator=g)
    want = np.corrcoef(x[0].flatten().numpy(), y[0].flatten().numpy())[0, 1]
    assert math.isclose(image_corr(x[:1], y), float(want), rel_tol=1e-6, abs_tol=1e-9)


def test_image_corr_leaves_out_constant_images():
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    flat = torch.cat([torch.zeros(2, 1, 8, 8), x[2:]])
    assert math.isclose(image_corr(flat, x), 1.0, abs_tol=1e-9)  # only the last two count
    assert math.isnan(image_corr(torch.zeros(2, 1, 8, 8), x[:2]))


def test_kid_subsets_are_smaller_than_the_sets_so_the_spread_is_an_uncertainty(caplog):

    g = torch.Generator().manual_seed(0)
    out = torch.rand(64, 1, 28, 28, generator=g) * 2 - 1
    real = torch.rand(64, 1, 28, 28, generator=g) * 2 - 1
    with caplog.at_level("WARNING"):
        (kid,) = _fid_kid(out, real, ["kid"], step=3)
    assert kid.step == 3
    assert kid.protocol.options["subset_size"] == 32
    assert not kid.protocol.options["identical_subsets"]
    assert math.isfinite(kid.uncertainty) and kid.uncertainty > 0
    assert "covers both whole sets" not in caplog.text


def test_kid_subset_is_half_the_evaluation_at_most_the_anchors_default():
    from gandiag.train.evaluation import kid_subset_size

    assert [kid_subset_size(n) for n in (3, 64, 256, 1000, 5000)] == [2, 32, 128, 500, 1000]
