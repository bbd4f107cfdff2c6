"""Fréchet distance (FID) between Gaussians fitted to two feature sets.

FID = ||mu_r - mu_f||^2 + tr S_r + tr S_f - 2 tr sqrt(S_r S_f).

The slow part everywhere else is the matrix square root: clean-fid calls
``scipy.linalg.sqrtm`` (a Schur decomposition of a non-symmetric matrix, tens of seconds
at d=2048) and torchmetrics calls ``torch.linalg.eigvals`` on the non-symmetric product.
We use the identity tr sqrt(S_r S_f) = sum_i sqrt(lambda_i(A S_f A)) with A = S_r^{1/2}:
A S_f A is symmetric positive semi-definite, so one symmetric eigendecomposition (LAPACK
``syevd``) gives its eigenvalues, and A is computed once per real set and cached in
:class:`FeatureStats`. Eigenvalues that come out slightly negative through rounding (the
matrices are PSD in exact arithmetic) are clipped to 0, which is what the real part of a
complex square root does in torchmetrics and torch-fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gandiag.metrics._validate import as_features, check_same_dim, warn_if_rank_deficient


@dataclass(eq=False)
class FeatureStats:
    """Mean and covariance (ddof 1, float64) of a feature set, with its square root cached.

    Build with :func:`feature_stats`; reuse one instance for a fixed real set so repeated
    FIDs against it cost one symmetric eigendecomposition each.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    _sqrt: np.ndarray | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def sqrt_sigma(self) -> np.ndarray:
        """Symmetric PSD square root of ``sigma`` (cached)."""
        if self._sqrt is None:
            lam, vec = np.linalg.eigh(self.sigma)
            self._sqrt = (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T
        return self._sqrt

    def to_npz(self, path: Any) -> None:
        """Write clean-fid-style statistics (``mu``, ``sigma``) to ``path``."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=self.n)

    @classmethod
    def from_npz(cls, path: Any) -> "FeatureStats":
        """Read clean-fid-style ``.npz`` statistics (keys ``mu`` and ``sigma``)."""
        with np.load(path) as z:
            if "mu" not in z or "sigma" not in z:
                raise ValueError(
                    f"{path} has keys {sorted(z.files)} but FID statistics need 'mu' and "
                    "'sigma' (as written by clean-fid or FeatureStats.to_npz)"
                )
            mu, sigma = np.asarray(z["mu"], np.float64), np.asarray(z["sigma"], np.float64)
            n = int(z["n"]) if "n" in z else 0
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(
                f"{path}: mu has shape {mu.shape} and sigma {sigma.shape}; expected [D] and [D, D]"
            )
        return cls(mu=mu, sigma=sigma, n=n)


def feature_stats(features: Any, name: str = "real") -> FeatureStats:
    """:class:`FeatureStats` of ``features`` ``[N, D]`` (float64; covariance divides by N-1)."""
    x = as_features(features, name)
    mu = x.mean(axis=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return FeatureStats(mu=mu, sigma=sigma, n=int(x.shape[0]))


class FIDResult(NamedTuple):
    fid: float
    num_real: int
    num_fake: int


def _as_stats(x: Any, name: str) -> FeatureStats:
    return x if isinstance(x, FeatureStats) else feature_stats(x, name)


def trace_sqrt_product(real: FeatureStats, sigma_fake: np.ndarray) -> float:
    """tr sqrt(S_r S_f) via the eigenvalues of the PSD matrix A S_f A, A = S_r^{1/2}."""
    a = real.sqrt_sigma()
    m = a @ sigma_fake @ a
    lam = np.linalg.eigvalsh((m + m.T) * 0.5)  # symmetrise away rounding before syevd
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def fid_from_stats(real: FeatureStats, fake: FeatureStats) -> float:
    check_same_dim(real.dim, fake.dim)
    diff = real.mu - fake.mu
    tr = float(np.trace(real.sigma) + np.trace(fake.sigma))
    return float(diff @ diff + tr - 2.0 * trace_sqrt_product(real, fake.sigma))


def frechet_distance(real: Any, fake: Any) -> FIDResult:
    """FID between ``real`` and ``fake``: feature arrays ``[N, D]`` or :class:`FeatureStats`.

    Pass the real set as a :class:`FeatureStats` to reuse its cached square root.
    Warns when either set has no more samples than dimensions (singular covariance).
    """
    r, f = _as_stats(real, "real"), _as_stats(fake, "fake")
    check_same_dim(r.dim, f.dim)
    for s, name in ((r, "real"), (f, "fake")):
        if s.n:
            warn_if_rank_deficient(s.n, s.dim, name)
    return FIDResult(fid=fid_from_stats(r, f), num_real=r.n, num_fake=f.n)
