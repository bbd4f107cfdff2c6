import contextlib
import io

import numpy as np
import pytest
import torch
from prdc import compute_prdc

from gandiag.metrics import _neighbors as nb
from gandiag.metrics import density_coverage, knn_radii, prdc, precision_recall


def _reference(real, fake, k):
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        return compute_prdc(real, fake, k)


def _sets(seed=0, n_r=500, n_f=400, d=24):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_r, d)), rng.normal(size=(n_f, d)) * 1.15 + 0.1


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("block", [64, 2048])
def test_exactly_equal_to_prdc_on_tie_free_data(k, block):
    real, fake = _sets()
    ref = _reference(real, fake, k)
    ours = prdc(real, fake, k_pr=k, k_dc=k, block_size=block)
    assert ours.precision == ref["precision"]
    assert ours.recall == ref["recall"]
    assert ours.density == pytest.approx(ref["density"], rel=1e-15)
    assert ours.coverage == ref["coverage"]
    pr = precision_recall(real, fake, k, block_size=block)
    dc = density_coverage(real, fake, k, block_size=block)
    assert (pr.precision, pr.recall) == (ours.precision, ours.recall)
    assert (dc.density, dc.coverage) == (ours.density, ours.coverage)


def test_large_offset_features_stay_exact():
    # Inception-like features: all positive with a large common mean (float32 cancellation).
    real, fake = _sets(1, d=64)
    real, fake = real + 50.0, fake + 50.0
    ref = _reference(real, fake, 3)
    ours = precision_recall(real, fake, 3, block_size=128)
    assert (ours.precision, ours.recall) == (ref["precision"], ref["recall"])


def test_knn_radii_match_brute_force_and_can_be_reused():
    real, fake = _sets(2, n_r=300)
    d = np.sqrt(((real[:, None] - real[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    brute = np.sort(d, axis=1)[:, 2]
    radii = knn_radii(real, 3, block_size=64)
    np.testing.assert_allclose(radii, brute, rtol=1e-12)
    assert precision_recall(real, fake, 3, real_radii=radii) == precision_recall(real, fake, 3)


def test_collapse_gives_high_precision_low_recall():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(10, 8)) * 10
    real = np.concatenate([c + rng.normal(size=(50, 8)) for c in centres])
    fake = centres[0] + 0.5 * rng.normal(size=(300, 8))  # one mode, inside the data
    res = prdc(real, fake)
    assert res.precision > 0.9 and res.recall < 0.2 and res.coverage < 0.2


def test_ties_follow_the_chosen_convention():
    # fake == real: every fake lies exactly on a real point, distance 0 < radius; make
    # every pair at distance exactly the radius instead with a lattice.
    grid = np.array([[i, j] for i in range(6) for j in range(6)], dtype=float)
    fake = grid + np.array([1.0, 0.0])  # each fake sits at distance exactly 1 from reals
    strict = precision_recall(grid, fake, 1)
    inclusive = precision_recall(grid, fake, 1, inclusive=True)
    assert strict.precision < inclusive.precision == 1.0
    ref = _reference(grid, fake, 1)
    assert strict.precision == ref["precision"]


def test_bad_input():
    real, fake = _sets(4)
    with pytest.raises(ValueError, match="same feature extractor"):
        prdc(real, fake[:, :3])
    with pytest.raises(ValueError, match="at least 6"):
        density_coverage(real[:5], fake, 5)
    with pytest.raises(ValueError, match="real_radii"):
        precision_recall(real, fake, 3, real_radii=np.ones(3))


def test_equidistant_points_take_the_exact_tie_path():
    # Every pair of simplex vertices is at distance sqrt(2): each row has far more tied
    # candidates than are kept, so every radius goes through the full-row recheck.
    x = np.eye(40)
    np.testing.assert_array_equal(knn_radii(x, 3, block_size=16), np.full(40, np.sqrt(2.0)))


@pytest.mark.parametrize("k", [1, 4])
def test_device_resident_and_blockwise_centring_agree(k):
    real, fake = _sets(5, n_r=300, n_f=250, d=16)
    real32, fake32 = real.astype(np.float32) + 30.0, fake.astype(np.float32) + 30.0
    centre = real32.mean(axis=0, dtype=np.float64)
    cpu = torch.device("cpu")
    results = []
    for resident in (False, True):
        pr = nb.prepare(real32, centre, cpu, chunk=64, resident=resident)
        pf = nb.prepare(fake32, centre, cpu, chunk=64, resident=resident)
        assert (pr.resident is not None) == resident
        rr = nb.knn_sq_radii(pr, k, block=32)
        rf = nb.knn_sq_radii(pf, k, block=32)
        (c,), (rec,) = nb.ball_membership(pr, pf, [rr], [rf], block=32)
        results.append((rr, rf, c.count_per_fake, c.any_per_real, rec))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    ref = _reference(real32.astype(np.float64), fake32.astype(np.float64), k)
    assert results[0][2].mean() / k == pytest.approx(ref["density"], rel=1e-12)
