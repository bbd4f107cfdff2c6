"""Tolerances for agreement with an anchor that stay meaningful near zero.

A Fréchet distance is the difference of terms of size tr(S_r) + tr(S_f) + |mu_r|^2 +
|mu_f|^2: floating-point error in the inputs (float32 features, another summation order)
shows up in the result at that scale, not at the scale of the result. Two implementations
that agree to `rel` of that scale agree; a relative tolerance on a result near zero
(FID 6e-4 from terms of size 1e2) would demand agreement to 1e-12 of the inputs, which
no float32 pipeline gives.
"""

from __future__ import annotations

import numpy as np


def frechet_scale(real: np.ndarray, fake: np.ndarray) -> float:
    """Size of the terms a Fréchet distance between two feature sets is computed from."""
    terms = 0.0
    for feats in (np.asarray(real, np.float64), np.asarray(fake, np.float64)):
        mu = feats.mean(0)
        terms += float(np.trace(np.cov(feats, rowvar=False))) + float(mu @ mu)
    return terms


def assert_agrees(ours: float, ref: float, *, scale: float, rel: float = 1e-6) -> None:
    """|ours - ref| <= rel * max(|ref|, scale): relative far from zero, scaled absolute near it."""
    tol = rel * max(abs(ref), scale)
    assert abs(ours - ref) <= tol, f"{ours!r} vs {ref!r}: |diff| {abs(ours - ref):.3g} > {tol:.3g}"


def kernel_scale(real: np.ndarray, fake: np.ndarray, degree: int = 3) -> float:
    """Size of the kernel values (x.y/d + 1)^degree that KID averages and subtracts."""
    feats = np.concatenate([np.asarray(real, np.float64), np.asarray(fake, np.float64)])
    d = feats.shape[1]
    return float(np.mean(np.abs((feats * feats).sum(1) / d + 1.0) ** degree))
