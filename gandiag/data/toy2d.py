"""2-D mixtures of Gaussians with known mode centres, and mode-coverage scoring.

These are the standard mode-collapse testbeds: the ring of 8 Gaussians (radius 2,
σ = 0.02; Metz et al. 2017, Srivastava et al. 2017), the 5x5 grid of 25 (centres at
{-4, -2, 0, 2, 4}², σ = 0.05; Lin et al. 2018) and a spiral, here 20 Gaussians
spaced evenly in arc length along an Archimedean spiral (σ = 0.05) so its modes are
known too.

Scoring follows those papers (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN): each sample is assigned to its
nearest centre; it is *high quality* if within 3σ of it; a mode is covered when at
least one high-quality sample lands on it. Numpy only, so detectors, benchmarks and
reports can score samples without torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gandiag import signals


@dataclass(frozen=True)
class ModeSet:
    """A mixture of isotropic Gaussians with equal weights: ``centers [K, 2]`` and ``sigma``."""

    name: str
    centers: np.ndarray
    sigma: float

    @property
    def num_modes(self) -> int:
        return int(self.centers.shape[0])

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points ``[n, 2]`` float32 and the index of the mode each came from."""
        modes = rng.integers(0, self.num_modes, size=n)
        pts = self.centers[modes] + self.sigma * rng.standard_normal((n, 2))
        return pts.astype(np.float32), modes.astype(np.int64)

    def score(self, samples: np.ndarray, threshold: float = 3.0, min_count: int = 1) -> ModeScore:
        """Mode coverage of ``samples``; see :func:`score_modes`."""
        return score_modes(samples, self, threshold=threshold, min_count=min_count)


def ring(num_modes: int = 8, radius: float = 2.0, sigma: float = 0.02) -> ModeSet:
    """``num_modes`` Gaussians evenly spaced on a circle (no duplicated endpoint)."""
    angles = 2 * math.pi * np.arange(num_modes) / num_modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return ModeSet(f"ring{num_modes}", centers, float(sigma))


def grid(side: int = 5, spacing: float = 2.0, sigma: float = 0.05) -> ModeSet:
    """``side x side`` Gaussians on a square lattice centred on the origin."""
    ticks = (np.arange(side) - (side - 1) / 2) * spacing
    xx, yy = np.meshgrid(ticks, ticks, indexing="xy")
    centers = np.stack([xx.ravel(), yy.ravel()], axis=1)
    return ModeSet(f"grid{side * side}", centers, float(sigma))


def spiral(
    num_modes: int = 20, turns: float = 1.5, radius: float = 2.0, sigma: float = 0.05
) -> ModeSet:
    """``num_modes`` Gaussians evenly spaced in arc length along r = radius·θ/θ_max.

    Starts a quarter turn out so the innermost modes stay well separated.
    """
    theta_max = 2 * math.pi * turns
    theta = np.linspace(0.5 * math.pi, theta_max, 4096)
    r = radius * theta / theta_max
    xy = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))])
    idx = np.searchsorted(arc, np.linspace(0, arc[-1], num_modes))
    return ModeSet("spiral", xy[np.minimum(idx, len(arc) - 1)], float(sigma))


@dataclass(frozen=True)
class ModeScore:
    """Mode coverage of a set of samples against a :class:`ModeSet`."""

    modes_covered: int
    num_modes: int
    hq_share: float
    dominant_mode: int
    dominant_share: float
    counts: tuple[int, ...]  # high-quality samples per mode

    def to_scalars(self) -> dict[str, float]:
        """The ``eval/*`` scalars of :mod:`gandiag.signals`."""
        return {
            signals.EVAL_MODES_COVERED: float(self.modes_covered),
            signals.EVAL_NUM_MODES: float(self.num_modes),
            signals.EVAL_HQ_SHARE: self.hq_share,
            signals.EVAL_DOMINANT_MODE: float(self.dominant_mode),
            signals.EVAL_DOMINANT_SHARE: self.dominant_share,
        }


def score_modes(
    samples: np.ndarray, modes: ModeSet, threshold: float = 3.0, min_count: int = 1
) -> ModeScore:
    """Assign each sample to its nearest centre and count covered modes.

    A sample is high quality when within ``threshold`` σ of its nearest centre; a mode
    is covered when it has at least ``min_count`` high-quality samples. The dominant
    mode is the one most samples are nearest to, and its share is over all finite
    samples (non-finite samples count as low quality and belong to no mode).
    """
    pts = np.asarray(samples, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != modes.centers.shape[1]:
        raise ValueError(f"samples must be [N, {modes.centers.shape[1]}], got {pts.shape}")
    if pts.shape[0] == 0:
        raise ValueError("no samples to score; pass at least one")
    finite = np.isfinite(pts).all(1)
    d2 = ((pts[finite, None, :] - modes.centers[None, :, :]) ** 2).sum(-1)
    nearest = d2.argmin(1)
    hq = np.sqrt(d2[np.arange(len(nearest)), nearest]) <= threshold * modes.sigma
    counts = np.bincount(nearest[hq], minlength=modes.num_modes)
    nearest_counts = np.bincount(nearest, minlength=modes.num_modes)
    n = pts.shape[0]
    return ModeScore(
        modes_covered=int((counts >= min_count).sum()),
        num_modes=modes.num_modes,
        hq_share=float(hq.sum() / n),
        dominant_mode=int(nearest_counts.argmax()),
        dominant_share=float(nearest_counts.max() / n),
        counts=tuple(int(c) for c in counts),
    )
