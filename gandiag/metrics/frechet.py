"""Fréchet distance (FID) between Gaussians fitted to two feature sets.

FID = ||mu_r - mu_f||^2 + tr S_r + tr S_f - 2 tr sqrt(S_r S_f).

The slow part everywhere else is the matrix square root: clean-fid calls
``scipy.linalg.sqrtm`` (a Schur decomposition of a non-symmetric matrix, tens of seconds
at d=2048) and torchmetrics calls ``torch.linalg.eigvals`` on the non-symmetric product.
We use tr sqrt(S_r S_f) = sum_i sqrt(lambda_i(L^T S_f L)) for any factor L with
S_r = L L^T: L^T S_f L = L^{-1} (S_r S_f) L is similar to S_r S_f, and it is symmetric
positive semi-definite, so a symmetric eigenvalue solver (values only) gives its spectrum.
This is LAPACK's reduction of the generalized problem S_f S_r x = lambda x to standard
form: L is the Cholesky factor of S_r, ``?sygst`` forms L^T S_f L in n^3 flops (half of
two general products, as it uses the symmetry of S_f and the triangle of L), and ``?syevd``
gives the eigenvalues. When S_r is singular (fewer samples than dimensions) L is the
symmetric square root from ``eigh`` and the product is formed with general products.
L is computed once per real set and cached in :class:`FeatureStats`. Eigenvalues that
come out slightly negative through rounding (the matrix is PSD in exact arithmetic) are
clipped to 0, which is what the real part of a complex square root does in torchmetrics
and torch-fidelity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dsygst

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
    _triangular: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mu).all() and np.isfinite(self.sigma).all()):
            raise ValueError(
                "feature statistics contain NaN or inf: the features they came from were not "
                "finite; check the extractor's input range and the model's outputs"
            )

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    def factor(self) -> np.ndarray:
        """L with ``sigma = L L^T`` (cached): lower Cholesky, or the PSD square root if
        ``sigma`` is singular (see :attr:`triangular`)."""
        if self._factor is None:
            try:
                lower = scipy.linalg.cholesky(self.sigma, lower=True, check_finite=False)
                self._factor, self._triangular = np.asfortranarray(lower), True
            except np.linalg.LinAlgError:
                lam, vec = np.linalg.eigh(self.sigma)
                root = (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T
                self._factor, self._triangular = root, False
        return self._factor

    @property
    def triangular(self) -> bool:
        """Whether :meth:`factor` is a Cholesky factor (else the symmetric square root)."""
        self.factor()
        return self._triangular

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
    """tr sqrt(S_r S_f) via the eigenvalues of the PSD matrix L^T S_f L, S_r = L L^T."""
    f = real.factor()
    if real.triangular:
        m, info = dsygst(sigma_fake, f, itype=2, lower=1)  # lower triangle of L^T S_f L
        if info != 0:
            raise np.linalg.LinAlgError(f"LAPACK dsygst failed (info={info})")
        lam = scipy.linalg.eigh(
            m, lower=True, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evd"
        )
    else:
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
