import warnings

import numpy as np
import pytest
import torch
from agreement import assert_agrees, frechet_scale
from cleanfid.fid import frechet_distance as cleanfid_fd
from torchmetrics.image.fid import _compute_fid as torchmetrics_fd

from gandiag.metrics import (
    FeatureStats,
    fd_infinity,
    feature_stats,
    fid_bootstrap,
    frechet_distance,
)


def _sets(seed=0, n_r=600, n_f=500, d=48):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    real = rng.normal(size=(n_r, d)) @ mix
    fake = (rng.normal(size=(n_f, d)) * 1.2 + 0.3) @ mix
    return real, fake


def test_agrees_with_cleanfid_and_torchmetrics():
    real, fake = _sets()
    ours = frechet_distance(real, fake).fid
    mu1, s1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, s2 = fake.mean(0), np.cov(fake, rowvar=False)
    ref_cf = cleanfid_fd(mu1, s1, mu2, s2)
    t = lambda a: torch.from_numpy(a)
    ref_tm = float(torchmetrics_fd(t(mu1), t(s1), t(mu2), t(s2)))
    assert_agrees(ours, ref_cf, scale=frechet_scale(real, fake))
    assert_agrees(ours, ref_tm, scale=frechet_scale(real, fake))
    assert feature_stats(real).triangular  # the Cholesky + dsygst path was the one tested


def test_identical_sets_give_zero_and_order_does_not_matter():
    real, fake = _sets(1)
    assert abs(frechet_distance(real, real).fid) < 1e-8
    assert frechet_distance(real, fake).fid == pytest.approx(
        frechet_distance(fake, real).fid, rel=1e-9
    )


def test_cached_stats_and_npz_round_trip(tmp_path):
    real, fake = _sets(2)
    stats = feature_stats(real)
    first = frechet_distance(stats, fake).fid
    assert stats._factor is not None  # the covariance factor is cached on the real statistics
    stats.to_npz(tmp_path / "ref.npz")
    loaded = FeatureStats.from_npz(tmp_path / "ref.npz")
    assert loaded.n == stats.n
    assert frechet_distance(loaded, fake).fid == pytest.approx(first, rel=1e-12)
    assert frechet_distance(stats, fake).fid == first


def test_singular_real_covariance_falls_back_to_the_symmetric_root():
    real, fake = _sets(7, n_r=30, n_f=300)  # 30 samples in 48 dims: Cholesky fails
    mu1, s1 = real.mean(0), np.cov(real, rowvar=False)
    mu2, s2 = fake.mean(0), np.cov(fake, rowvar=False)
    t = lambda a: torch.from_numpy(a)
    with pytest.warns(UserWarning, match="rank-deficient"):
        ours = frechet_distance(real, fake).fid
    assert not feature_stats(real).triangular
    ref = float(torchmetrics_fd(t(mu1), t(s1), t(mu2), t(s2)))
    assert_agrees(ours, ref, scale=frechet_scale(real, fake))


def test_torch_inputs_accepted():
    real, fake = _sets(3)
    assert frechet_distance(
        torch.from_numpy(real).float(), torch.from_numpy(fake).float()
    ).fid == pytest.approx(
        frechet_distance(real.astype(np.float32), fake.astype(np.float32)).fid, rel=1e-9
    )


def test_warns_when_fewer_samples_than_dims():
    real, fake = _sets(4, n_r=40, n_f=300)
    with pytest.warns(UserWarning, match="rank-deficient"):
        frechet_distance(real, fake)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frechet_distance(*_sets(4))


@pytest.mark.parametrize(
    "real, fake, match",
    [
        (np.zeros((1, 4)), np.zeros((5, 4)), "at least 2"),
        (np.zeros((5, 4)), np.zeros((5, 3)), "use the same feature extractor"),
        (np.full((5, 4), np.nan), np.zeros((5, 4)), "NaN or Inf"),
        (np.zeros(5), np.zeros((5, 4)), "2-D"),
    ],
)
def test_bad_input(real, fake, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(real, fake)


def test_bad_npz_names_the_keys(tmp_path):
    np.savez(tmp_path / "x.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match="'mu' and 'sigma'"):
        FeatureStats.from_npz(tmp_path / "x.npz")


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate():
    real, fake = _sets(5)
    fid = frechet_distance(real, fake).fid
    a = fid_bootstrap(real, fake, 30, seed=3)
    assert a == fid_bootstrap(real, fake, 30, seed=3)
    assert a.low <= fid <= a.high and a.std > 0
    both = fid_bootstrap(real, fake, 30, seed=3, resample_real=True)
    assert both.low <= fid <= both.high


def test_fd_infinity_removes_the_small_sample_bias():
    # Same distribution: the population distance is 0, and the finite-N FID is biased upwards.
    rng = np.random.default_rng(6)
    real = rng.normal(size=(4000, 16))
    fake = rng.normal(size=(800, 16))
    fid = frechet_distance(real, fake).fid
    res = fd_infinity(real, fake, seed=0)
    assert res.slope > 0
    assert abs(res.fd_inf) < fid / 2


def test_non_finite_statistics_are_refused(tmp_path):
    real, _ = _sets(8)
    stats = feature_stats(real)
    sigma = stats.sigma.copy()
    sigma[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        FeatureStats(stats.mu, sigma, stats.n)
    np.savez(tmp_path / "bad.npz", mu=stats.mu, sigma=sigma)
    with pytest.raises(ValueError, match="NaN or inf"):
        FeatureStats.from_npz(tmp_path / "bad.npz")
