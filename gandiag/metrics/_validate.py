"""Input checks shared by the metric functions: one place that says what was wrong and the fix."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def as_features(
    x: Any, name: str, *, min_samples: int = 2, keep_float32: bool = False
) -> np.ndarray:
    """``x`` (numpy array or torch tensor ``[N, D]``) as a float64 numpy array, checked.

    ``keep_float32``: leave float32 input as float32 (no copy), for the memory-bound
    nearest-neighbour metrics, which recompute in float64 only where it matters.
    """
    if hasattr(x, "detach"):  # a torch tensor; avoid importing torch here
        x = x.detach().to("cpu")
        x = (x if keep_float32 and str(x.dtype) == "torch.float32" else x.double()).numpy()
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} features must be a 2-D array [N, D], got shape {arr.shape}; "
            "flatten images with a feature extractor first (gandiag.features.get_extractor)"
        )
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} features must be numeric, got dtype {arr.dtype}")
    if arr.shape[0] < min_samples:
        raise ValueError(
            f"{name} features have {arr.shape[0]} samples but at least {min_samples} are needed; "
            "pass more samples"
        )
    if not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise ValueError(
            f"{name} features contain NaN or Inf in {bad} of {arr.shape[0]} rows; check the "
            "generator's outputs (a diverged model) or drop those samples before scoring"
        )
    return arr


def check_same_dim(real_dim: int, fake_dim: int) -> None:
    if real_dim != fake_dim:
        raise ValueError(
            f"fake features have {fake_dim} dims but real have {real_dim}; "
            "use the same feature extractor for both"
        )


def warn_if_rank_deficient(n: int, dim: int, name: str) -> None:
    """FID's covariance of ``n < dim + 1`` samples is singular: the score is then dominated by
    the sample count, not the model. No anchor library says so; we do."""
    if n <= dim:
        warnings.warn(
            f"{name} set has {n} samples but features have {dim} dims: the covariance is "
            f"rank-deficient and FID is biased upwards; use at least {dim + 1} samples "
            "(10x the dimension is the usual advice) or a lower-dimensional extractor",
            stacklevel=3,
        )


def check_positive_int(value: int, name: str, *, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
