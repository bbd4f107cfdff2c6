"""Fréchet distance (FID) between Gaussians fitted to two feature sets.

FID = ||mu_r - mu_f||^2 + tr S_r + tr S_f - 2 tr sqrt(S_r S_f).

The slow part everywhere else is the matrix square root: clean-fid calls
``scipy.linalg.sqrtm`` (a Schur decomposition of a non-symmetric matrix, tens of seconds
at d=2048) and torchmetrics calls ``torch.linalg.eigvals`` on the non-symmetric product.
We use tr sqrt(S_r S_f) = sum_i sqrt(lambda_i(F^T S_f F)) for any factor F with
S_r = F F^T: F^T S_f F = F^{-1} (S_r S_f) F is similar to S_r S_f, and it is symmetric
positive semi-definite, so a symmetric eigenvalue solver (values only) gives its spectrum.
F is the Cholesky factor of S_r (a fraction of the cost of an eigendecomposition), or the
symmetric square root from ``eigh`` when S_r is singular (fewer samples than dimensions),
and it is computed once per real set and cached in :class:`FeatureStats`. Eigenvalues that
come out slightly negative through rounding (the matrix is PSD in exact arithmetic) are
clipped to 0, which is what the real part of a complex square root does in torchmetrics
and torch-fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gandiag.metrics._validate import as_features, check_same_dim, warn_if_rank_deficient


@dataclass(eq=False)
class FeatureStats:
    """Mean and covariance (ddof 1, float64) of a feature set, with a factor of the
    covariance cached.

    Build with :func:`feature_stats`; reuse one instance for a fixed real set so repeated
    FIDs against it cost two matrix products and one symmetric eigenvalue solve each.
    """

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    _factor: np.ndarray | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def factor(self) -> np.ndarray:
        """F with ``sigma = F F^T`` (cached): Cholesky, or the PSD square root if singular."""
        if self._factor is None:
            try:
                self._factor = np.linalg.cholesky(self.sigma)
            except np.linalg.LinAlgError:
                lam, vec = np.linalg.eigh(self.sigma)
                self._factor = (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T
        return self._factor

    def to_npz(self, path: Any) -> None:
        """Write clean-fid-style statistics (``mu``, ``sigma``) to ``path``."""
        np.savez(path, mu=self.mu, sigma=self.sigma, n=self.n)

    @classmethod
    def from_npz(cls, path: Any) -> FeatureStats:
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
    """tr sqrt(S_r S_f) via the eigenvalues of the PSD matrix F^T S_f F, S_r = F F^T."""
    f = real.factor()
    m = f.T @ sigma_fake @ f
    lam = np.linalg.eigvalsh((m + m.T) * 0.5)  # symmetrise away rounding before syevd
    return float(np.sqrt(np.clip(lam, 0.0, None)).sum())


def fid_from_stats(real: FeatureStats, fake: FeatureStats) -> float:
    check_same_dim(real.dim, fake.dim)
    diff = real.mu - fake.mu
    tr = float(np.trace(real.sigma) + np.trace(fake.sigma))
    return float(diff @ diff + tr - 2.0 * trace_sqrt_product(real, fake.sigma))


def frechet_distance(real: Any, fake: Any) -> FIDResult:
    """FID between ``real`` and ``fake``: feature arrays ``[N, D]`` or :class:`FeatureStats`.

    Pass the real set as a :class:`FeatureStats` to reuse its cached factor.
    Warns when either set has no more samples than dimensions (singular covariance).
    """
    r, f = _as_stats(real, "real"), _as_stats(fake, "fake")
    check_same_dim(r.dim, f.dim)
    for s, name in ((r, "real"), (f, "fake")):
        if s.n:
            warn_if_rank_deficient(s.n, s.dim, name)
    return FIDResult(fid=fid_from_stats(r, f), num_real=r.n, num_fake=f.n)
