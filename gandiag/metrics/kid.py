"""Kernel Inception Distance: unbiased MMD^2 with the cubic polynomial kernel, over subsets.

k(x, y) = (x.y / d + 1)^3; KID = mean over ``num_subsets`` subsets of ``m`` real and ``m``
fake samples (drawn without replacement) of the unbiased MMD^2, as in clean-fid and
torch-fidelity. Differences from them, on purpose:

- subsets come from a seeded :class:`numpy.random.Generator` (clean-fid uses the global
  ``np.random``), or from an explicit ``subsets`` list for exact reproduction;
- kernels are computed and summed in float64 (the anchors sum in float32);
- when the sets are small enough, the three Gram matrices are computed once and the
  subsets index into them, which costs less than recomputing m x m kernels per subset.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from gandiag.metrics._validate import as_features, check_positive_int, check_same_dim

log = logging.getLogger(__name__)

# Largest total number of Gram entries (real-real + fake-fake + real-fake) held in memory.
_MAX_GRAM_ENTRIES = 60_000_000  # ~480 MB of float64


class KIDResult(NamedTuple):
    mean: float
    std: float  # over subsets, ddof 0 (as torch-fidelity); NaN when every subset is the same
    subset_size: int
    num_subsets: int
    #: every subset holds every sample of both sets (subset size reached N): the subsets
    #: are one set drawn many times, their spread is rounding noise, not uncertainty
    identical_subsets: bool = False


def draw_subsets(
    n_real: int, n_fake: int, num_subsets: int, subset_size: int, seed: int | np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded ``(real_idx, fake_idx)`` pairs, each drawn without replacement."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return [
        (
            rng.choice(n_real, subset_size, replace=False),
            rng.choice(n_fake, subset_size, replace=False),
        )
        for _ in range(num_subsets)
    ]


def _mmd2(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m = kxx.shape[0]
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return float((sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid_from_subsets(
    real: np.ndarray, fake: np.ndarray, subsets: Sequence[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Per-subset unbiased MMD^2 values (float64) for explicit index subsets."""
    d = real.shape[1]
    m_sizes = {len(i) for i, _ in subsets} | {len(j) for _, j in subsets}
    n_r, n_f = real.shape[0], fake.shape[0]
    gram_cost = n_r * n_r + n_f * n_f + n_r * n_f
    subset_cost = 3 * sum(len(i) * len(j) for i, j in subsets)
    values = np.empty(len(subsets))
    if gram_cost <= min(subset_cost, _MAX_GRAM_ENTRIES):
        krr = (real @ real.T / d + 1.0) ** 3
        kff = (fake @ fake.T / d + 1.0) ** 3
        krf = (real @ fake.T / d + 1.0) ** 3
        for s, (i, j) in enumerate(subsets):
            values[s] = _mmd2(krr[np.ix_(i, i)], kff[np.ix_(j, j)], krf[np.ix_(i, j)])
        return values
    if len(m_sizes) != 1:
        raise ValueError("real and fake subsets must all have the same size")
    for s, (i, j) in enumerate(subsets):
        x, y = real[i], fake[j]
        values[s] = _mmd2(
            (x @ x.T / d + 1.0) ** 3, (y @ y.T / d + 1.0) ** 3, (x @ y.T / d + 1.0) ** 3
        )
    return values


def kernel_inception_distance(
    real: Any,
    fake: Any,
    num_subsets: int = 100,
    subset_size: int = 1000,
    seed: int | np.random.Generator = 0,
    *,
    subsets: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> KIDResult:
    """KID between feature sets ``[N, D]``; ``.mean`` and ``.std`` over the subsets.

    ``subset_size`` is capped at the smaller set's size (the anchors do the same); pass
    ``subsets`` (a list of ``(real_idx, fake_idx)``) to fix the subsets exactly.
    """
    r, f = as_features(real, "real"), as_features(fake, "fake")
    check_same_dim(r.shape[1], f.shape[1])
    if subsets is None:
        num_subsets = check_positive_int(num_subsets, "num_subsets")
        check_positive_int(subset_size, "subset_size", minimum=2)
        m = min(subset_size, r.shape[0], f.shape[0])
        subsets = draw_subsets(r.shape[0], f.shape[0], num_subsets, m, seed)
    else:
        subsets = [(np.asarray(i), np.asarray(j)) for i, j in subsets]
        if not subsets or any(len(i) != len(j) or len(i) < 2 for i, j in subsets):
            raise ValueError(
                "subsets must be a non-empty list of equal-length index pairs (>= 2 each)"
            )
    values = kid_from_subsets(r, f, subsets)
    size = len(subsets[0][0])
    identical = size >= r.shape[0] and size >= f.shape[0]
    if identical:
        log.warning(
            "KID: the subset size (%d) covers both whole sets (%d real, %d fake), so every "
            "subset is the same set and the spread over subsets is not an uncertainty; std "
            "is reported as NaN. Use more samples than the subset size, or a bootstrap "
            "interval (gandiag.metrics.kid_bootstrap)",
            size,
            r.shape[0],
            f.shape[0],
        )
    return KIDResult(
        mean=float(values.mean()),
        std=math.nan if identical else float(values.std()),
        subset_size=size,
        num_subsets=len(subsets),
        identical_subsets=identical,
    )
