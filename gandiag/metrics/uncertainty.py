"""Beyond the anchors: bootstrap intervals for FID and KID, and FD-infinity.

Bootstrap: resample the fake set (and, with ``resample_real=True``, the real
set) with replacement from a seeded generator and recompute. Resampling only the fakes
keeps the real set's cached covariance factor, so each replicate costs one symmetric
eigenvalue solve; the interval then answers "how much would another draw of samples
from this generator move the score?", which is the question when comparing checkpoints.

FD-infinity (Chong & Forsyth 2020): FID is biased upwards by roughly c / N_fake; fit
FID(N) = FD_inf + c / N on nested seeded subsets and report the intercept.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from gandiag.metrics._validate import as_features, check_positive_int, check_same_dim
from gandiag.metrics.frechet import FeatureStats, feature_stats, fid_from_stats
from gandiag.metrics.kid import draw_subsets, kid_from_subsets


class Interval(NamedTuple):
    low: float
    high: float
    std: float  # std of the replicates
    num_resamples: int
    level: float


def _weighted_stats(x: np.ndarray, counts: np.ndarray) -> FeatureStats:
    n = int(counts.sum())
    mu = counts @ x / n
    xc = x - mu
    sigma = (xc * counts[:, None]).T @ xc / (n - 1)
    return FeatureStats(mu=mu, sigma=sigma, n=n)


def _interval(
    values: np.ndarray, estimate: float, level: float, floor: float = -np.inf
) -> Interval:
    # Resampling with replacement duplicates points, which shifts FID and KID upwards as a
    # smaller sample would; that shift says nothing about the spread. So the interval is the
    # replicates' central quantiles re-centred so their median sits on the estimate: the
    # variability of the score at this sample size, which is what matters when comparing
    # two checkpoints scored with the same N. (For the N -> infinity value, use fd_infinity.)
    alpha = (1.0 - level) / 2.0
    q_lo, q_med, q_hi = np.quantile(values, [alpha, 0.5, 1.0 - alpha])
    return Interval(
        float(max(estimate + q_lo - q_med, floor)),
        float(estimate + q_hi - q_med),
        float(values.std(ddof=1)),
        len(values),
        level,
    )


def fid_bootstrap(
    real: Any,
    fake: Any,
    num_resamples: int = 50,
    *,
    level: float = 0.95,
    seed: int = 0,
    resample_real: bool = False,
) -> Interval:
    """Bootstrap interval of the FID (see module docstring)."""
    num_resamples = check_positive_int(num_resamples, "num_resamples", minimum=2)
    f = as_features(fake, "fake")
    rng = np.random.default_rng(seed)
    if resample_real:
        r = as_features(real, "real")
    else:
        stats_r = real if isinstance(real, FeatureStats) else feature_stats(real)
    check_same_dim(r.shape[1] if resample_real else stats_r.dim, f.shape[1])
    base_r = feature_stats(r) if resample_real else stats_r
    estimate = fid_from_stats(base_r, feature_stats(f, "fake"))
    values = np.empty(num_resamples)
    for b in range(num_resamples):
        counts_f = np.bincount(rng.integers(0, len(f), len(f)), minlength=len(f)).astype(np.float64)
        if resample_real:
            counts_r = np.bincount(rng.integers(0, len(r), len(r)), minlength=len(r)).astype(
                np.float64
            )
            stats_r = _weighted_stats(r, counts_r)
        values[b] = fid_from_stats(stats_r, _weighted_stats(f, counts_f))
    return _interval(values, estimate, level, floor=0.0)  # FID is a squared distance


def kid_bootstrap(
    real: Any,
    fake: Any,
    num_resamples: int = 20,
    *,
    num_subsets: int = 10,
    subset_size: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of the KID: each replicate resamples both sets with
    replacement and averages ``num_subsets`` subset estimates on the resample."""
    num_resamples = check_positive_int(num_resamples, "num_resamples", minimum=2)
    r, f = as_features(real, "real"), as_features(fake, "fake")
    check_same_dim(r.shape[1], f.shape[1])
    rng = np.random.default_rng(seed)
    m = min(subset_size, len(r), len(f))
    estimate = kid_from_subsets(r, f, draw_subsets(len(r), len(f), num_subsets, m, rng)).mean()
    values = np.empty(num_resamples)
    for b in range(num_resamples):
        br = rng.integers(0, len(r), len(r))
        bf = rng.integers(0, len(f), len(f))
        subsets = [(br[i], bf[j]) for i, j in draw_subsets(len(r), len(f), num_subsets, m, rng)]
        values[b] = kid_from_subsets(r, f, subsets).mean()
    return _interval(values, float(estimate), level)


class FDInfResult(NamedTuple):
    fd_inf: float
    slope: float  # c in FID(N) = FD_inf + c / N
    sizes: tuple[int, ...]
    fids: tuple[float, ...]


def fd_infinity(
    real: Any, fake: Any, *, num_points: int = 15, min_size: int | None = None, seed: int = 0
) -> FDInfResult:
    """FD-infinity: the intercept of a least-squares line through (1/N, FID(N)) over
    ``num_points`` fake subset sizes from ``min_size`` (default N/5, at least D+1) to N."""
    f = as_features(fake, "fake")
    stats_r = real if isinstance(real, FeatureStats) else feature_stats(real)
    check_same_dim(stats_r.dim, f.shape[1])
    num_points = check_positive_int(num_points, "num_points", minimum=2)
    n = len(f)
    lo = min_size if min_size is not None else max(n // 5, f.shape[1] + 1)
    if lo >= n:
        raise ValueError(
            f"fd_infinity needs more fake samples than min_size={lo} (at least the feature "
            f"dimension {f.shape[1]} + 1); got {n}: pass more samples or a smaller min_size"
        )
    sizes = np.unique(np.linspace(lo, n, num_points).astype(int))
    perm = np.random.default_rng(seed).permutation(n)
    fids = np.array([fid_from_stats(stats_r, feature_stats(f[perm[:s]], "fake")) for s in sizes])
    slope, intercept = np.polyfit(1.0 / sizes, fids, 1)
    return FDInfResult(
        float(intercept), float(slope), tuple(int(s) for s in sizes), tuple(fids.tolist())
    )
